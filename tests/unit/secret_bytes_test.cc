// Memory that holds secrets wipes itself: SecretBytes in place, SecretBuffer before its heap block is freed.
//
// A plain memset in a destructor is a dead store to the compiler (the object ends right after; GCC's
// -flifetime-dse removes it), so these tests fail for a wipe the optimiser may drop, not only for a
// missing one. This executable replaces operator delete[] to look at a SecretBuffer's block before
// it is freed; that is why it is a test file of its own.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "runtime/crypto/key_schedule.h"
#include "runtime/crypto/secret_bytes.h"
#include "runtime/crypto/x25519.h"

namespace {

// The heap block operator delete[] should copy out before freeing it, and the copy.
const void* g_watched = nullptr;
std::vector<unsigned char> g_seen;  // reserved beforehand: no allocation inside operator delete[]
size_t g_watched_bytes = 0;

void look_then_free(void* p) noexcept {
  if (p != nullptr && p == g_watched) {
    g_seen.assign(static_cast<unsigned char*>(p), static_cast<unsigned char*>(p) + g_watched_bytes);
    g_watched = nullptr;
  }
  std::free(p);
}

}  // namespace

void* operator new[](size_t bytes) {
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
void operator delete[](void* p) noexcept { look_then_free(p); }
void operator delete[](void* p, size_t) noexcept { look_then_free(p); }

namespace fedtrain {
namespace {

bool all_zero(const unsigned char* p, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i)
    if (p[i] != 0) return false;
  return true;
}

TEST(SecretBytes, ItsDestructorZeroesItsBytesInPlace) {
  using Key = SecretBytes<32>;
  alignas(Key) unsigned char storage[sizeof(Key)];
  Key* key = new (storage) Key{};
  for (size_t i = 0; i < key->size(); ++i) (*key)[i] = static_cast<uint8_t>(0xa0 + i);
  ASSERT_EQ(storage[0], 0xa0);  // the bytes live in `storage`
  ASSERT_EQ(storage[31], 0xa0 + 31);
  key->~Key();
  EXPECT_TRUE(all_zero(storage, sizeof storage));
}

TEST(SecretBytes, ACopyWipesItselfTooAndTheOriginalKeepsItsValue) {
  using Key = SecretBytes<32>;
  const Key original{7, 8, 9};
  alignas(Key) unsigned char storage[sizeof(Key)];
  Key* copy = new (storage) Key(original);
  EXPECT_TRUE(*copy == original);
  copy->~Key();
  EXPECT_TRUE(all_zero(storage, sizeof storage));
  EXPECT_EQ(original[0], 7);
  EXPECT_EQ(original[2], 9);
  EXPECT_EQ(original[3], 0);  // a brace list sets the first bytes, the rest are zero
}

TEST(SecretBytes, ComparesByValue) {
  SecretBytes<32> a{}, b{};
  EXPECT_TRUE(a == b);
  b[31] = 1;
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a != b);
}

TEST(SecretBytes, EveryKeyTypeOfFedtrainIsOne) {
  EXPECT_TRUE((std::is_same_v<Key256, SecretBytes<32>>));        // root and derived keys
  EXPECT_TRUE((std::is_same_v<SharedSecret, SecretBytes<32>>));  // X25519 results
}

TEST(SecretBuffer, ItsBlockIsZeroWhenItIsFreed) {
  g_seen.reserve(4096 * sizeof(uint32_t));
  {
    SecretBuffer<uint32_t> ks(4096);
    for (size_t i = 0; i < ks.size(); ++i) ks[i] = 0x5a5a5a5au;
    g_watched = ks.data();
    g_watched_bytes = ks.size() * sizeof(uint32_t);
  }
  ASSERT_EQ(g_watched, nullptr) << "the block was not freed through operator delete[]";
  ASSERT_EQ(g_seen.size(), 4096 * sizeof(uint32_t));
  EXPECT_TRUE(all_zero(g_seen.data(), g_seen.size()));
}

TEST(SecretBuffer, StartsZeroed) {
  SecretBuffer<char> b(100);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_TRUE(all_zero(reinterpret_cast<const unsigned char*>(b.data()), b.size()));
}

}  // namespace
}  // namespace fedtrain
