// NCCL collectives on GPU memory inside a site. The one file in fedtrain that includes nccl.h.
//
// The communicator is non-blocking (ncclConfig_t.blocking = 0): any NCCL call
// may return ncclInProgress, and then the communicator's state must be polled
// (ncclCommGetAsyncError) until it leaves ncclInProgress before the next NCCL
// call or the next kernel on the stream. settle() does that, bounded by the
// collective timeout, so neither creation nor an enqueue can hang for ever.
// ncclCommAbort and ncclCommDestroy block.
#include "runtime/collectives/nccl_collectives.h"

#include <nccl.h>

#include <chrono>
#include <thread>

#include "runtime/collectives/watchdog.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/topology/mpi_check.h"

namespace fedtrain {
namespace {

// NCCL's description of its last error, or "".
std::string last_error(ncclComm_t comm) {
  const char* text = ncclGetLastError(comm);
  return text != nullptr ? text : "";
}

// NCCL_CHECK(call): for calls before a communicator exists.
[[noreturn]] void nccl_failed(ncclResult_t rc, const char* call, const std::string& where, const char* file, int line) {
  throw Error(std::string(call) + " failed on " + where + ": " + ncclGetErrorString(rc) + " (" +
              last_error(nullptr) + ") at " + file + ":" + std::to_string(line));
}

#define NCCL_CHECK(call, where)                                                           \
  do {                                                                                    \
    ncclResult_t nccl_check_rc_ = (call);                                                 \
    if (nccl_check_rc_ != ncclSuccess) nccl_failed(nccl_check_rc_, #call, where, __FILE__, __LINE__); \
  } while (0)

class NcclCollectivesImpl final : public NcclCollectives {
 public:
  NcclCollectivesImpl(const Comm& site_comm, cudaStream_t stream, double timeout_s, std::string where)
      : stream_(stream), timeout_s_(timeout_s), where_(std::move(where)), rank_(site_comm.rank()),
        size_(site_comm.size()) {
    // 1. The unique id, from site rank 0 to every rank.
    ncclUniqueId id{};
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id), where_);
    MPI_CHECK(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, site_comm.get()));
    // 2. A non-blocking communicator on the current device, polled until ready.
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    const ncclResult_t rc = ncclCommInitRankConfig(&comm_, size_, id, rank_, &config);
    if (comm_ == nullptr) nccl_failed(rc, "ncclCommInitRankConfig", where_, __FILE__, __LINE__);
    settle(rc, "ncclCommInitRankConfig (creating the site's NCCL communicator)");
  }

  ~NcclCollectivesImpl() override {
    if (comm_ == nullptr) return;
    // A clean shutdown: flush (non-blocking, polled), then free. If that fails or
    // takes too long, abort: a destructor must neither hang nor throw.
    bool clean = true;
    try {
      settle(ncclCommFinalize(comm_), "ncclCommFinalize");
    } catch (const Error& e) {
      log_warn(std::string("closing the NCCL communicator: ") + e.what());
      clean = false;
    }
    if (comm_ == nullptr) return;  // settle() aborted it
    const ncclResult_t rc = clean ? ncclCommDestroy(comm_) : ncclCommAbort(comm_);
    if (rc != ncclSuccess)
      log_warn(std::string(clean ? "ncclCommDestroy" : "ncclCommAbort") + " failed on " + where_ + ": " +
               ncclGetErrorString(rc));
    comm_ = nullptr;
  }

  const char* name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_sum(std::span<float> data) override {
    settle(ncclAllReduce(data.data(), data.data(), data.size(), ncclFloat, ncclSum, live(), stream_), "ncclAllReduce");
  }
  void allreduce_sum(std::span<double> data) override {
    settle(ncclAllReduce(data.data(), data.data(), data.size(), ncclDouble, ncclSum, live(), stream_), "ncclAllReduce");
  }
  void broadcast(std::span<float> data, int root) override {
    settle(ncclBroadcast(data.data(), data.data(), data.size(), ncclFloat, root, live(), stream_), "ncclBroadcast");
  }
  void allgather(std::span<const uint8_t> mine, std::span<uint8_t> all) override {
    FT_CHECK(all.size() == mine.size() * static_cast<size_t>(size_));
    settle(ncclAllGather(mine.data(), all.data(), mine.size(), ncclUint8, live(), stream_), "ncclAllGather");
  }

  void check_async_error() override {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t rc = ncclCommGetAsyncError(live(), &state);
    if (rc != ncclSuccess) fail(rc, "ncclCommGetAsyncError");
    if (state != ncclSuccess && state != ncclInProgress) fail(state, "the site's NCCL communicator (asynchronous error)");
  }

  void abort() override {
    if (comm_ == nullptr) return;
    const ncclResult_t rc = ncclCommAbort(comm_);
    comm_ = nullptr;
    if (rc != ncclSuccess) log_warn(std::string("ncclCommAbort failed on ") + where_ + ": " + ncclGetErrorString(rc));
  }

 private:
  ncclComm_t live() const {
    if (comm_ == nullptr)
      throw Error("the NCCL communicator of " + where_ + " was aborted after an earlier error; it cannot be used again");
    return comm_;
  }

  // Aborts, then throws an Error naming the call, the site and NCCL's last error.
  [[noreturn]] void fail(ncclResult_t rc, const std::string& what) {
    std::string message = what + " failed on " + where_ + ": " + ncclGetErrorString(rc);
    const std::string last = last_error(comm_);
    if (!last.empty()) message += " (" + last + ")";
    abort();
    throw Error(message);
  }

  // Waits out ncclInProgress (polling the communicator's state), then checks the result.
  void settle(ncclResult_t rc, const char* what) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    int polls = 0;
    while (rc == ncclInProgress) {
      if (timeout_s_ > 0 && std::chrono::duration<double>(Clock::now() - start).count() > timeout_s_) {
        abort();
        throw Error(overdue_message(what, where_, timeout_s_));
      }
      if (++polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
      const ncclResult_t q = ncclCommGetAsyncError(comm_, &rc);
      if (q != ncclSuccess) fail(q, "ncclCommGetAsyncError");
    }
    if (rc != ncclSuccess) fail(rc, what);
  }

  cudaStream_t stream_;
  double timeout_s_;
  std::string where_;
  int rank_, size_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<NcclCollectives> make_nccl_collectives(const Comm& site_comm, cudaStream_t stream, double timeout_s,
                                                       const std::string& where) {
  return std::make_unique<NcclCollectivesImpl>(site_comm, stream, timeout_s, where);
}

}  // namespace fedtrain
