// Point-to-point byte messages among the site leaders: the only traffic that crosses site borders.
//
// The narrow interface the encrypted exchange is written against (as gloo's
// algorithms see only a "pair"): nonblocking send and receive of byte
// buffers, and waiting for them. The MPI implementation runs over
// leaders_comm; tests wrap it to tamper with what is sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "runtime/topology/comm.h"

namespace fedtrain {

class Transport {
 public:
  using Handle = int64_t;  // one pending send or receive
  static constexpr size_t kTooLong = SIZE_MAX;

  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // `bytes` must stay valid and unchanged until the handle completes.
  virtual Handle isend(int peer, int tag, std::span<const uint8_t> bytes) = 0;
  // Receives at most buffer.size() bytes.
  virtual Handle irecv(int peer, int tag, std::span<uint8_t> buffer) = 0;
  // Blocks until the handle completes; returns the bytes received (0 for a
  // send), or kTooLong when the message did not fit the receive buffer.
  virtual size_t wait(Handle h) = 0;
  // Nonblocking: true (and the bytes received) if the handle has completed, which frees it.
  virtual bool test(Handle h, size_t* bytes) = 0;
  // Completes whichever of `handles` finishes first (skipping ones already
  // taken, marked -1), marks it -1 and returns its index; `bytes` gets the size received.
  virtual size_t wait_any(std::span<Handle> handles, size_t* bytes) = 0;

  // Waking a wait from another thread, for a caller whose helper threads
  // finish work it waits for too (the secure ring's crypto threads). Only a
  // transport whose waits sleep on something another thread can signal can
  // do it (TCP: its condition variable); MPI cannot (a thread that is not the
  // one that called MPI_Init_thread FUNNELED must not call MPI), and its
  // caller polls with test() instead.
  static constexpr size_t kWoken = SIZE_MAX;
  virtual bool can_wake() const { return false; }
  // Any thread, where can_wake(): the wait_any_or_woken under way, else the next one, returns kWoken.
  virtual void wake() {}
  // wait_any, but it also returns kWoken (completing nothing) after a wake().
  // Where !can_wake() it is wait_any.
  virtual size_t wait_any_or_woken(std::span<Handle> handles, size_t* bytes) { return wait_any(handles, bytes); }
};

// MPI point-to-point over `comm` (which must outlive the result).
std::unique_ptr<Transport> make_mpi_transport(const Comm& comm);

// A Transport that passes everything to another; override what you change.
class TransportDecorator : public Transport {
 public:
  explicit TransportDecorator(Transport& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override { return inner_.isend(peer, tag, bytes); }
  Handle irecv(int peer, int tag, std::span<uint8_t> buffer) override { return inner_.irecv(peer, tag, buffer); }
  size_t wait(Handle h) override { return inner_.wait(h); }
  bool test(Handle h, size_t* bytes) override { return inner_.test(h, bytes); }
  size_t wait_any(std::span<Handle> handles, size_t* bytes) override { return inner_.wait_any(handles, bytes); }
  bool can_wake() const override { return inner_.can_wake(); }
  void wake() override { inner_.wake(); }
  size_t wait_any_or_woken(std::span<Handle> handles, size_t* bytes) override {
    return inner_.wait_any_or_woken(handles, bytes);
  }

 protected:
  Transport& inner_;
};

}  // namespace fedtrain
