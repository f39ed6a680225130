// RAII for MPI: the MPI session (init/finalize) and owned communicators.
#pragma once

#include <mpi.h>

#include <utility>

namespace fedtrain {

// MPI_Init_thread / MPI_Finalize. Construct once in main, before anything that
// communicates, and let it outlive every Comm.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

// A communicator handle. Owned handles are freed on destruction; MPI_COMM_NULL
// stands for "not a member" (a non-leader's leaders_comm).
class Comm {
 public:
  Comm() = default;
  static Comm borrow(MPI_Comm c) { return Comm(c, false); }
  static Comm own(MPI_Comm c) { return Comm(c, c != MPI_COMM_NULL); }
  ~Comm() { reset(); }
  Comm(Comm&& o) noexcept : comm_(std::exchange(o.comm_, MPI_COMM_NULL)), owned_(std::exchange(o.owned_, false)) {}
  Comm& operator=(Comm&& o) noexcept {
    if (this != &o) {
      reset();
      comm_ = std::exchange(o.comm_, MPI_COMM_NULL);
      owned_ = std::exchange(o.owned_, false);
    }
    return *this;
  }
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  MPI_Comm get() const { return comm_; }
  bool valid() const { return comm_ != MPI_COMM_NULL; }
  int rank() const;
  int size() const;
  // MPI_Comm_split; color MPI_UNDEFINED gives an invalid Comm.
  Comm split(int color, int key) const;

 private:
  Comm(MPI_Comm c, bool owned) : comm_(c), owned_(owned) {}
  void reset();
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
};

}  // namespace fedtrain
