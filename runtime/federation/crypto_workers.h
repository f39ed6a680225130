// Crypto threads: worker threads that do the secure ring's CPU work beside the ring's own thread.
//
// The ring's thread keeps every transport call (MPI is initialised FUNNELED)
// and hands the rest to these threads, chunk by chunk: quantise and mask,
// seal, the egress log's hash, open, fold, dequantise (encrypted_ring.cc).
// One thread submits tasks and takes their results, in any order; a task
// runs on one worker, which passes its `lane` (0 .. lanes()-1, one task at a
// time per lane) so that it can use state of its own (AES contexts, mask
// streams). With 0 threads, submit() runs the task at once on the caller's
// thread, lane 0: the ring then works as it did before there were threads.
//
// How many (federation.crypto_threads = auto): the CPUs this process may run
// on (sched_getaffinity) minus the ranks of this site on the leader's node
// (they train; the leader itself is one of them), at least 0, at most 8.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fedtrain {

inline constexpr int kMaxCryptoThreads = 8;

// The auto value: CPUs of this process's affinity mask minus `site_ranks_on_node`, clamped to [0, kMaxCryptoThreads].
int auto_crypto_threads(int site_ranks_on_node);
// CPUs in this process's affinity mask (sched_getaffinity; 1 if it cannot be read).
int affinity_cpus();

class CryptoWorkers {
 public:
  using Task = std::function<void(int lane)>;

  explicit CryptoWorkers(int threads);
  ~CryptoWorkers();  // waits for the tasks under way, drops queued ones, joins
  CryptoWorkers(const CryptoWorkers&) = delete;
  CryptoWorkers& operator=(const CryptoWorkers&) = delete;

  int threads() const { return static_cast<int>(threads_.size()); }
  int lanes() const { return threads() > 0 ? threads() : 1; }

  // The calls below: from the submitting thread only.
  // Queues `task`, known by `id` (with no threads: runs it now).
  void submit(size_t id, Task task);
  // Appends the ids of the tasks finished since the last call to `out`. If a
  // task threw, waits for every other task, then rethrows the first exception.
  void take_done(std::vector<size_t>& out);
  // Tasks submitted whose ids take_done has not returned yet.
  size_t pending() const { return pending_; }
  // Blocks until a task finished whose id take_done has not returned, or `max_seconds` passed.
  void wait_done(double max_seconds);
  // Waits for every pending task and forgets them and their exceptions (a ring that is unwinding).
  void drain();
  // Called on the worker right after each task finished (e.g. Transport::wake).
  // Replacing it waits until no worker is inside the old one.
  void set_on_done(std::function<void()> on_done);

 private:
  void work(int lane);

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::pair<size_t, Task>> queue_;
  std::vector<size_t> done_;
  std::exception_ptr error_;
  std::function<void()> on_done_;
  int in_on_done_ = 0;
  bool stop_ = false;
  size_t pending_ = 0;
};

}  // namespace fedtrain
