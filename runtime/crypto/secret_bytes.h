// Memory that holds secrets (keys, shared secrets, key files, mask keystreams) and wipes itself when it ends.
//
// The wipe is OPENSSL_cleanse, which the compiler cannot drop as a dead store
// (a memset just before free or the end of a scope may be). Every copy of a
// SecretBytes is itself a SecretBytes and wipes itself too; memory that
// OpenSSL holds (EVP_PKEY, cipher and KDF contexts) OpenSSL wipes when it is
// freed. Bytes that left these types (a std::string, a std::vector, a register)
// are not covered: keep secrets in them from the start.
#pragma once

#include <openssl/crypto.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace fedtrain {

// N secret bytes by value, zero unless given (`SecretBytes<32>{}`, `SecretBytes<32>{1}` sets byte 0).
// An aggregate, so that it converts from a brace list as the std::array it replaces did.
template <size_t N>
struct SecretBytes {
  std::array<uint8_t, N> bytes{};

  ~SecretBytes() { OPENSSL_cleanse(bytes.data(), N); }

  uint8_t* data() { return bytes.data(); }
  const uint8_t* data() const { return bytes.data(); }
  static constexpr size_t size() { return N; }
  uint8_t& operator[](size_t i) { return bytes[i]; }
  uint8_t operator[](size_t i) const { return bytes[i]; }
  // In constant time: how long a comparison takes says nothing about where two keys differ.
  friend bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return CRYPTO_memcmp(a.bytes.data(), b.bytes.data(), N) == 0;
  }
};

// `count` secret elements on the heap, zeroed, of a fixed size; not copyable (one owner, one wipe).
template <typename T>
class SecretBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "a SecretBuffer holds plain bytes");

 public:
  explicit SecretBuffer(size_t count) : data_(std::make_unique<T[]>(count)), count_(count) {}
  ~SecretBuffer() {
    if (data_) OPENSSL_cleanse(data_.get(), count_ * sizeof(T));
  }
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return count_; }  // elements
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  std::unique_ptr<T[]> data_;
  size_t count_;
};

}  // namespace fedtrain
