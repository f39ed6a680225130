// Reading an HDF5 file from elsewhere (a data shard, a checkpoint to compare or sample from) in a
// child process first, so that a file on which libhdf5 crashes is an error naming it instead of
// the end of the process (of every rank, for a shard).
//
// libhdf5 1.10.8, Debian 12's, dies on some malformed files before fedtrain can check anything
// (docs/security.md, "Files that crash libhdf5"). So every read of a training, validation or test
// file (runtime/federation/site_files.h; a checkpoint in `fedtrain ledger verify` and
// `fedtrain generate`) runs twice, step by step:
//   1. in a forked child (runtime/io/child_process.h), the very reader the caller passes, on the
//      same rows: same calls, same memory state (a copy of this process); its result is dropped;
//   2. the child killed by a signal (or ended by a sanitizer report): an Error naming the file,
//      what happened ("libhdf5 crashed reading it: killed by signal 11") and what to do;
//      the reader threw an Error in the child: the same Error (text, exit code) thrown here, this
//      process never having touched the file;
//   3. only after a clean child: the same reader here, whose result the caller keeps.
// Cost: one fork, and the file read twice (the second time mostly from the page cache).
// The reader must not use MPI (the child has none).
#pragma once

#include <functional>
#include <string>

namespace fedtrain {

// Steps 1 and 2: runs `read` in a child; throws as above. `what` names the file in messages
// ("site es's training data 'data/train-es.h5'"), `what_to_do` ends the message of a crash
// ("make it again with 'fedtrain data fashion-mnist ...', or put back a good copy").
void check_in_child(const std::string& what, const std::string& what_to_do, const std::function<void()>& read);

// All three steps: returns what `read` returns, read here after a clean read in a child.
template <class Read>
auto read_guarded(const std::string& what, const std::string& what_to_do, Read&& read) -> decltype(read()) {
  check_in_child(what, what_to_do, [&] { (void)read(); });
  return read();
}

}  // namespace fedtrain
