// The egress log of a site: one line per message that left the site, appended by its leader.
//
//   {"round":3,"attempt":0,"phase":"reduce-scatter","to":"de","bytes":1048652,"sha256":"9f2c..."}
//
// The bytes are the whole message as sent (header, nonce, ciphertext, tag);
// the hash is SHA-256 of those bytes, so a site operator can match the log
// against a capture of the site's outgoing traffic. The round table's
// egress column is the sum of these logs over the sites.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace fedtrain {

class EgressLog {
 public:
  // Appends to `path` (created with its directory). Throws Error if it cannot.
  explicit EgressLog(const std::string& path);
  ~EgressLog();
  EgressLog(const EgressLog&) = delete;
  EgressLog& operator=(const EgressLog&) = delete;

  void record(uint64_t round, uint64_t attempt, const char* phase, const std::string& to,
              std::span<const uint8_t> message);
  uint64_t total_bytes() const { return total_bytes_; }
  double hash_seconds() const { return hash_seconds_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t total_bytes_ = 0;
  double hash_seconds_ = 0.0;
};

}  // namespace fedtrain
