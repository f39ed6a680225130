// The egress log of a site.
#include "runtime/federation/egress_log.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "runtime/core/error.h"
#include "runtime/crypto/sha256.h"

namespace fedtrain {

EgressLog::EgressLog(const std::string& path) : path_(path) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  f_ = std::fopen(path.c_str(), "a");
  if (f_ == nullptr)
    throw Error("cannot open egress log '" + path + "': " + std::strerror(errno) + "; set [site.NAME] egress_log");
}

EgressLog::~EgressLog() {
  if (f_ != nullptr) std::fclose(f_);
}

void EgressLog::record(uint64_t round, uint64_t attempt, const char* phase, const std::string& to,
                       std::span<const uint8_t> message) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string hex = to_hex(sha256(message.data(), message.size()));
  hash_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(f_, "{\"round\":%llu,\"attempt\":%llu,\"phase\":\"%s\",\"to\":\"%s\",\"bytes\":%zu,\"sha256\":\"%s\"}\n",
               static_cast<unsigned long long>(round), static_cast<unsigned long long>(attempt), phase, to.c_str(),
               message.size(), hex.c_str());
  if (std::fflush(f_) != 0) throw Error("cannot write egress log '" + path_ + "': " + std::strerror(errno));
  total_bytes_ += message.size();
}

}  // namespace fedtrain
