#include "node/producer/file_index.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace ob::producer {
namespace {

std::vector<IndexEntry> sample() {
  return {IndexEntry{"bafyone", "docs/a.txt", 0, "d41d8cd98f00b204e9800998ecf8427e", "free", 1, 2, 3, "", 1700000000},
          IndexEntry{"bafytwo", "video/b.mp4", 20'000'000, "9e107d9d372bb6826bd81d3542a419d6", "basic", 4, 2, 3,
                     "115792089237316195423570985008687907853269984665640564039457584007913129639935", 1700000001}};
}

TEST(FileIndex, SealedIndexOpensToTheSameEntries) {
  const auto keys = derive_index_keys(ob::testing::seeded_bytes(32, 1));
  ASSERT_TRUE(keys);
  for (const auto& entries : {sample(), std::vector<IndexEntry>{}}) {
    auto sealed = seal_index(entries, keys->key);
    ASSERT_TRUE(sealed) << sealed.error().message;
    auto back = open_index(*sealed, keys->key);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, entries);
  }
}

TEST(FileIndex, KeysAreTheSecretsAndApart) {
  const auto a = derive_index_keys(ob::testing::seeded_bytes(32, 1));
  const auto again = derive_index_keys(ob::testing::seeded_bytes(32, 1));
  const auto b = derive_index_keys(ob::testing::seeded_bytes(32, 2));
  ASSERT_TRUE(a && again && b);
  EXPECT_EQ(a->key, again->key);
  EXPECT_EQ(a->locator, again->locator);
  EXPECT_NE(a->key, b->key);
  EXPECT_NE(a->locator, b->locator);
  // The locator is published; it must not be (or reveal) the key.
  EXPECT_FALSE(std::equal(a->key.begin(), a->key.end(), a->locator.begin()));
}

TEST(FileIndex, AnotherOwnersKeyOrTamperingIsRefused) {
  const auto a = derive_index_keys(ob::testing::seeded_bytes(32, 1));
  const auto b = derive_index_keys(ob::testing::seeded_bytes(32, 2));
  ASSERT_TRUE(a && b);
  auto sealed = seal_index(sample(), a->key);
  ASSERT_TRUE(sealed);
  auto wrong = open_index(*sealed, b->key);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::corrupt);
  for (std::size_t i = 0; i < sealed->size(); i += 5) {
    Bytes tampered = *sealed;
    tampered[i] ^= 0x40;
    EXPECT_FALSE(open_index(tampered, a->key)) << "byte " << i;
  }
  EXPECT_FALSE(open_index(ByteView(sealed->data(), 10), a->key));
  EXPECT_FALSE(open_index({}, a->key));
}

}  // namespace
}  // namespace ob::producer
