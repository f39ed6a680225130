// Text batches: training windows of a rank (disjoint parts, seeded, resumable) and validation windows (the protocol of eval_set.h).
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "runtime/core/error.h"
#include "runtime/data/token_windows.h"
#include "runtime/site/eval_set.h"

namespace fedtrain {
namespace {

std::vector<uint8_t> counting_text(size_t n) {
  std::vector<uint8_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<uint8_t>(i % 251);
  return t;
}

// The offset of a window of counting_text within the text (its first byte, unique mod 251 in a small text).
size_t offset_of(const uint8_t* w) { return w[0]; }

TEST(TokenWindows, RanksDrawContiguousWindowsFromDisjointParts) {
  const auto text = counting_text(240);  // below 251: every byte value names its offset
  const int T = 7;
  std::set<size_t> seen[2];
  for (int rank = 0; rank < 2; ++rank) {
    TokenWindowSource src(text, T, rank, 2, 42, "test text");
    EXPECT_EQ(src.bytes(), 120u);
    for (int step = 0; step < 50; ++step) {
      const Batch b = src.next(4);
      ASSERT_EQ(b.size, 4);
      ASSERT_EQ(b.context, T);
      for (int i = 0; i < 4; ++i) {
        const uint8_t* w = b.tokens + i * (T + 1);
        for (int t = 1; t <= T; ++t) ASSERT_EQ(w[t], w[0] + t) << "a window is T+1 consecutive bytes";
        const size_t start = offset_of(w);
        ASSERT_GE(start, rank * 120u);
        ASSERT_LE(start + T + 1, (rank + 1) * 120u) << "window crosses into the other rank's part";
        seen[rank].insert(start);
      }
    }
  }
  EXPECT_GT(seen[0].size(), 60u) << "windows should cover the part, not repeat a few offsets";
}

TEST(TokenWindows, APositionResumesTheSameWindows) {
  const auto text = counting_text(5000);
  TokenWindowSource a(text, 16, 0, 1, 7, "t"), b(text, 16, 0, 1, 7, "t"), other_seed(text, 16, 0, 1, 8, "t");
  a.next(5);
  const BatchSource::Position p = a.position();
  EXPECT_EQ(p.cursor, 5u);
  const Batch next_a = a.next(3);
  const std::vector<uint8_t> want(next_a.tokens, next_a.tokens + 3 * 17);
  b.seek(p);
  const Batch next_b = b.next(3);
  EXPECT_EQ(std::vector<uint8_t>(next_b.tokens, next_b.tokens + 3 * 17), want);
  other_seed.seek(p);
  const Batch next_o = other_seed.next(3);
  EXPECT_NE(std::vector<uint8_t>(next_o.tokens, next_o.tokens + 3 * 17), want);
  EXPECT_THROW(b.seek({1, 0}), Error);
}

TEST(TokenWindows, APartShorterThanOneWindowIsAnError) {
  const auto text = counting_text(30);
  try {
    TokenWindowSource src(text, 16, 0, 2, 1, "site es's training text");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("site es's training text holds 30 bytes: 2 ranks get 15 each"),
              std::string::npos)
        << e.what();
  }
}

TEST(TextEvalSet, WindowsStartAtZeroStepByTAndDropThePartialOne) {
  // 23 bytes, T = 5: windows [0,5], [5,10], [10,15], [15,20]; bytes 21, 22 are left out.
  const auto val = counting_text(23);
  const int T = 5;
  std::vector<size_t> starts;
  size_t predictions = 0;
  for (int rank = 0; rank < 3; ++rank) {
    auto set = make_text_eval_set(val, T, rank, 3, 2, "val");
    for (size_t i = 0; i < set->batches(); ++i) {
      const Batch b = set->batch(i);
      for (int w = 0; w < b.size; ++w) {
        const uint8_t* win = b.tokens + w * (T + 1);
        for (int t = 1; t <= T; ++t) ASSERT_EQ(win[t], win[0] + t);
        starts.push_back(win[0]);
        predictions += T;
      }
    }
  }
  EXPECT_EQ(starts, (std::vector<size_t>{0, 5, 10, 15})) << "every rank's share, in rank order";
  EXPECT_EQ(predictions, 20u);
}

TEST(TextEvalSet, AContextLongerThanTheValidationTextIsAConfigError) {
  const auto val = counting_text(10);
  try {
    make_text_eval_set(val, 16, 0, 1, 4, "site de's validation text");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("site de's validation text holds 10 bytes, fewer than one window"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fedtrain
