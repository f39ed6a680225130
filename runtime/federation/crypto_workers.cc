// Crypto threads: worker threads that do the secure ring's CPU work beside the ring's own thread.
#include "runtime/federation/crypto_workers.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

#include "runtime/core/check.h"

namespace fedtrain {

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

int auto_crypto_threads(int site_ranks_on_node) {
  return std::clamp(affinity_cpus() - site_ranks_on_node, 0, kMaxCryptoThreads);
}

CryptoWorkers::CryptoWorkers(int threads) {
  FT_CHECK(threads >= 0 && threads <= 64, "crypto threads " << threads);
  for (int lane = 0; lane < threads; ++lane) threads_.emplace_back([this, lane] { work(lane); });
}

CryptoWorkers::~CryptoWorkers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void CryptoWorkers::work(int lane) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto [id, task] = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::exception_ptr error;
    try {
      task(lane);
    } catch (...) {
      error = std::current_exception();
    }
    task = nullptr;  // what it holds goes before its completion is told
    lock.lock();
    done_.push_back(id);
    if (error && !error_) error_ = error;
    std::function<void()> on_done = on_done_;
    ++in_on_done_;
    lock.unlock();
    done_cv_.notify_all();
    if (on_done) on_done();
    lock.lock();
    if (--in_on_done_ == 0) done_cv_.notify_all();
  }
}

void CryptoWorkers::submit(size_t id, Task task) {
  ++pending_;
  if (threads_.empty()) {
    try {
      task(0);
    } catch (...) {
      if (!error_) error_ = std::current_exception();
    }
    done_.push_back(id);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(id, std::move(task));
  }
  work_cv_.notify_one();
}

void CryptoWorkers::take_done(std::vector<size_t>& out) {
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    FT_CHECK(done_.size() <= pending_);
    pending_ -= done_.size();
    out.insert(out.end(), done_.begin(), done_.end());
    done_.clear();
    std::swap(error, error_);
  }
  if (error) {
    drain();
    std::rethrow_exception(error);
  }
}

void CryptoWorkers::wait_done(double max_seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait_for(lock, std::chrono::duration<double>(max_seconds), [&] { return !done_.empty(); });
}

void CryptoWorkers::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return done_.size() == pending_; });
  pending_ = 0;
  done_.clear();
  error_ = nullptr;
}

void CryptoWorkers::set_on_done(std::function<void()> on_done) {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return in_on_done_ == 0; });
  on_done_ = std::move(on_done);
}

}  // namespace fedtrain
