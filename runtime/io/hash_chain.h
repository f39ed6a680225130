// The check of a hash chain of lines (egress log, ledger): each line carries the SHA-256 of the line before it.
//
// Each line is judged once the next one is known, so that a problem is named
// by what it most likely is: two lines out of order (a line chains to its
// successor), a line moved or inserted (it chains to one further back), a new
// chain started in the middle, lines removed from the start, or a line edited
// or lines removed (the prev matches nothing seen).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

namespace fedtrain {

class HashChainCheck {
 public:
  using Report = std::function<void(uint64_t line, std::string what)>;
  // `genesis` is the hex prev of line 1; `noun` names the file in messages
  // ("log", "ledger"); `start_hint` says what a line 1 that does not chain to
  // the genesis value may mean (default: lines removed from the start).
  HashChainCheck(std::string genesis, std::string noun, Report report, std::string start_hint = "");

  // A complete line (1-based number): its hash (hex, of its bytes and '\n';
  // empty if unknown) and its prev (empty if the line did not parse).
  void add(uint64_t line, std::string hash, std::string prev);
  // After the last line.
  void finish();

 private:
  struct Seen {
    uint64_t line;
    std::string hash, prev;
  };
  static constexpr size_t kWindow = 16;  // lines kept to find where a misplaced line chains to

  void judge(size_t i);

  std::string genesis_, noun_, start_hint_;
  Report report_;
  std::deque<Seen> window_;
};

}  // namespace fedtrain
