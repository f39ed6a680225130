// What the fuzz targets share: a file that holds the input, for readers that take a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace fedtrain::fuzz {

// A file in a private folder of /dev/shm (memory; TMPDIR or /tmp where /dev/shm is missing),
// removed at exit. One per target, reused: each input replaces its whole content. (Not a memfd:
// HDF5 resolves the real path of what it opens, and /proc/self/fd/N of a memfd has none.)
class InputFile {
 public:
  explicit InputFile(const char* name);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  // Replaces the content with `bytes` and returns the path to open.
  const std::string& hold(const uint8_t* data, size_t bytes);
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string path_;
};

// Prints why an input was rejected (the Error's text) when FEDTRAIN_FUZZ_VERBOSE is set, as when
// replaying one file to see where it stops: FEDTRAIN_FUZZ_VERBOSE=1 fuzz_checkpoint FILE.
void rejected(const char* target, const std::exception& e);

// Makes the child processes that the code under test forks (runtime/io/child_process.h) end as
// they would outside libFuzzer: libFuzzer's crash handling (its signal handlers and ASan's death
// callback, which would write the child's input as a crasher of the fuzzer and end it with
// libFuzzer's exit code) is undone in every child (pthread_atfork), so a child that crashes is
// killed by its signal, or ends with its sanitizer report's exit code, and the target sees what
// fedtrain sees. Call once, from the targets whose code forks.
void plain_children();

// A fresh directory under /dev/shm (or TMPDIR, or /tmp), removed with everything in it at exit.
std::string temp_dir(const char* prefix);

}  // namespace fedtrain::fuzz
