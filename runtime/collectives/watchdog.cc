// Turns a site collective that does not return within the timeout into a clear error.
#include "runtime/collectives/watchdog.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/core/log.h"

namespace fedtrain {

std::string overdue_message(const std::string& what, const std::string& where, double timeout_s) {
  std::ostringstream out;
  out << what << " on " << where << " did not return within site.collective_timeout_s = " << timeout_s
      << " s: another rank of the site died, hangs or cannot be reached (see its log); the job stops instead of "
         "hanging. Raise site.collective_timeout_s if the site's steps are legitimately that slow";
  return out.str();
}

Watchdog::Watchdog(double timeout_s, std::string where, Handler on_overdue)
    : timeout_s_(timeout_s), where_(std::move(where)), on_overdue_(std::move(on_overdue)) {
  if (timeout_s_ > 0) thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Watchdog::Guard Watchdog::arm(const char* what) {
  if (timeout_s_ <= 0) return Guard(nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    ++generation_;
    what_ = what;
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s_));
  }
  cv_.notify_all();
  return Guard(this);
}

void Watchdog::disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
}

void Watchdog::watch() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t fired = 0;  // the generation already reported
  while (!stop_) {
    if (!armed_ || generation_ == fired) {
      cv_.wait(lock);
      continue;
    }
    const uint64_t generation = generation_;
    const auto deadline = deadline_;
    if (cv_.wait_until(lock, deadline, [&] { return stop_ || !armed_ || generation_ != generation; })) continue;
    fired = generation;
    const std::string message = overdue_message(what_, where_, timeout_s_);
    lock.unlock();
    on_overdue_(message);
    lock.lock();
  }
}

void Watchdog::exit_on_overdue(const std::string& message) {
  log_error(message);
  std::fflush(nullptr);
  std::_Exit(kExitRuntime);  // the main thread is blocked inside MPI: nothing else can end this process
}

}  // namespace fedtrain
