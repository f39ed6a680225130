// Turns a site collective that does not return within site.collective_timeout_s into a clear error.
//
// Inside a site every rank runs the same steps, so a gradient all-reduce waits
// at most for the slowest rank's step. One that waits far longer means a rank
// died, hangs or lost its network: without a watchdog the job would hang
// until the batch system kills it, saying nothing.
//
//   Watchdog dog(timeout_s, "site de");
//   { auto guard = dog.arm("gradient all-reduce"); site.allreduce_sum(grads); }
//
// A background thread watches the deadline of the armed call. A blocked MPI
// call cannot be interrupted, so when it is overdue the handler runs on that
// thread; the default handler logs the error and ends the process with exit
// code 1, and the launcher (mpirun, srun) then stops the other ranks. GPU
// waits poll instead and throw the same message (see overdue_message).
// Collectives whose waiting is legitimately unbounded (a site's broadcast of
// the global model waits for the other sites) are not armed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace fedtrain {

// "gradient all-reduce on site de did not return within site.collective_timeout_s = 2 s: ..."
std::string overdue_message(const std::string& what, const std::string& where, double timeout_s);

class Watchdog {
 public:
  using Handler = std::function<void(const std::string& message)>;
  // timeout_s 0 disables the watchdog (no thread). `where` names the site.
  Watchdog(double timeout_s, std::string where, Handler on_overdue = exit_on_overdue);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Disarms on destruction.
  class [[nodiscard]] Guard {
   public:
    explicit Guard(Watchdog* dog) : dog_(dog) {}
    ~Guard() {
      if (dog_ != nullptr) dog_->disarm();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    Watchdog* dog_;
  };
  // Starts the clock for one call; `what` must outlive the guard (a string literal).
  Guard arm(const char* what);

  double timeout_s() const { return timeout_s_; }
  const std::string& where() const { return where_; }

  // Logs the message as an error and ends the process with exit code 1.
  [[noreturn]] static void exit_on_overdue(const std::string& message);

 private:
  void disarm();
  void watch();

  const double timeout_s_;
  const std::string where_;
  const Handler on_overdue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  uint64_t generation_ = 0;  // one per arm(): a deadline belongs to one call
  const char* what_ = "";
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

}  // namespace fedtrain
