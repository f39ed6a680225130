// Point-to-point byte messages over an MPI communicator (MPI_Isend / MPI_Irecv).
#include <climits>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/core/check.h"
#include "runtime/topology/mpi_check.h"

namespace fedtrain {
namespace {

class MpiTransport final : public Transport {
 public:
  explicit MpiTransport(const Comm& comm) : comm_(comm.get()), rank_(comm.rank()), size_(comm.size()) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override {
    FT_CHECK(bytes.size() <= INT_MAX, "message of " << bytes.size() << " bytes");
    Handle h = slot();
    MPI_CHECK(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, peer, tag, comm_, &reqs_[h]));
    return h;
  }

  Handle irecv(int peer, int tag, std::span<uint8_t> buffer) override {
    FT_CHECK(buffer.size() <= INT_MAX, "message of " << buffer.size() << " bytes");
    Handle h = slot();
    MPI_CHECK(MPI_Irecv(buffer.data(), static_cast<int>(buffer.size()), MPI_BYTE, peer, tag, comm_, &reqs_[h]));
    return h;
  }

  size_t wait(Handle h) override {
    MPI_Status st;
    const int rc = MPI_Wait(&reqs_[h], &st);
    free_.push_back(h);
    return received(rc, st);
  }

  bool test(Handle h, size_t* bytes) override {
    MPI_Status st;
    int done = 0;
    const int rc = MPI_Test(&reqs_[h], &done, &st);
    if (!done && rc == MPI_SUCCESS) return false;
    free_.push_back(h);
    const size_t n = received(rc, st);
    if (bytes != nullptr) *bytes = n;
    return true;
  }

  size_t wait_any(std::span<Handle> handles, size_t* bytes) override {
    std::vector<MPI_Request> pending(handles.size(), MPI_REQUEST_NULL);
    for (size_t i = 0; i < handles.size(); ++i)
      if (handles[i] >= 0) pending[i] = reqs_[handles[i]];
    int index = MPI_UNDEFINED;
    MPI_Status st;
    const int rc = MPI_Waitany(static_cast<int>(pending.size()), pending.data(), &index, &st);
    FT_CHECK(index != MPI_UNDEFINED || rc != MPI_SUCCESS, "wait_any with nothing pending");
    reqs_[handles[index]] = MPI_REQUEST_NULL;
    free_.push_back(handles[index]);
    handles[index] = -1;
    const size_t n = received(rc, st);
    if (bytes != nullptr) *bytes = n;
    return static_cast<size_t>(index);
  }

 private:
  Handle slot() {
    if (!free_.empty()) {
      Handle h = free_.back();
      free_.pop_back();
      return h;
    }
    reqs_.push_back(MPI_REQUEST_NULL);
    return static_cast<Handle>(reqs_.size() - 1);
  }
  // A message longer than its buffer is what a peer (or an attacker) can
  // cause: reported as kTooLong for the caller to reject, not as an MPI failure.
  static size_t received(int rc, const MPI_Status& st) {
    if (rc == MPI_ERR_TRUNCATE || (rc == MPI_ERR_IN_STATUS && st.MPI_ERROR == MPI_ERR_TRUNCATE)) return kTooLong;
    if (rc != MPI_SUCCESS) detail::mpi_failed(rc, "MPI_Wait", __FILE__, __LINE__);
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    return count > 0 ? static_cast<size_t>(count) : 0;
  }

  MPI_Comm comm_;
  int rank_, size_;
  std::vector<MPI_Request> reqs_;
  std::vector<Handle> free_;
};

}  // namespace

std::unique_ptr<Transport> make_mpi_transport(const Comm& comm) { return std::make_unique<MpiTransport>(comm); }

}  // namespace fedtrain
