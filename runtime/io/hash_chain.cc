// The check of a hash chain of lines.
#include "runtime/io/hash_chain.h"

namespace fedtrain {
namespace {

std::string short_hash(const std::string& hex) { return hex.substr(0, 12) + "..."; }

}  // namespace

HashChainCheck::HashChainCheck(std::string genesis, std::string noun, Report report, std::string start_hint)
    : genesis_(std::move(genesis)), noun_(std::move(noun)), start_hint_(std::move(start_hint)), report_(std::move(report)) {
  if (start_hint_.empty()) start_hint_ = "lines removed from the start of the " + noun_ + "?";
}

void HashChainCheck::add(uint64_t line, std::string hash, std::string prev) {
  window_.push_back({line, std::move(hash), std::move(prev)});
  if (window_.size() >= 2) judge(window_.size() - 2);
  if (window_.size() > kWindow) window_.pop_front();
}

void HashChainCheck::finish() {
  if (!window_.empty()) judge(window_.size() - 1);
}

void HashChainCheck::judge(size_t i) {
  const Seen& s = window_[i];
  if (s.prev.empty()) return;  // did not parse: reported as such
  const Seen* next = i + 1 < window_.size() ? &window_[i + 1] : nullptr;
  const std::string want = s.line == 1 ? genesis_ : window_[i - 1].hash;
  if (s.prev == want) return;
  const std::string k = std::to_string(s.line), before = std::to_string(s.line - 1);
  if (next != nullptr && s.prev == next->hash) {
    report_(s.line, "chains to line " + std::to_string(next->line) + ", which comes after it: lines " + k + " and " +
                        std::to_string(next->line) + " are out of order");
    return;
  }
  if (s.line > 1 && s.prev == genesis_) {
    report_(s.line, "starts a new chain (its prev is the genesis value) in the middle of the " + noun_ +
                        ": the lines before it come from another " + noun_ + ", or this line was moved here");
    return;
  }
  for (size_t j = i >= 1 ? i - 1 : 0; j-- > 0;) {
    if (window_[j].hash == s.prev) {
      const uint64_t from = window_[j].line + 1;
      const std::string skipped = from == s.line - 1 ? "line " + before : "lines " + std::to_string(from) + " to " + before;
      report_(s.line, "chains to line " + std::to_string(window_[j].line) + ", skipping " + skipped +
                          ": out of place (moved or inserted)");
      return;
    }
  }
  if (s.line == 1) {
    report_(1, "does not start the chain: its prev is " + short_hash(s.prev) + ", not the genesis value (" +
                   start_hint_ + ")");
    return;
  }
  report_(s.line, "breaks the chain: its prev is " + short_hash(s.prev) + " but line " + before + " hashes to " +
                      short_hash(want) + ": line " + before + " was edited, or lines between " + before + " and " + k +
                      " were removed");
}

}  // namespace fedtrain
