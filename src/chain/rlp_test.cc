#include "chain/rlp.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace ob::chain::rlp {
namespace {

using ob::testing::from_hex;
using wallet::U256;

Bytes str(std::string_view s) { return encode_bytes(as_bytes(s)); }

// The examples of the Ethereum wiki's RLP page (and the yellow paper's appendix B).
TEST(Rlp, WikiExamples) {
  EXPECT_EQ(to_hex(str("dog")), "83646f67");
  const std::vector<Bytes> cat_dog{str("cat"), str("dog")};
  EXPECT_EQ(to_hex(encode_list(cat_dog)), "c88363617483646f67");
  EXPECT_EQ(to_hex(str("")), "80");
  EXPECT_EQ(to_hex(encode_list({})), "c0");
  EXPECT_EQ(to_hex(encode_uint(0)), "80");
  EXPECT_EQ(to_hex(encode_bytes(Bytes{0x00})), "00");
  EXPECT_EQ(to_hex(encode_uint(15)), "0f");
  EXPECT_EQ(to_hex(encode_uint(1024)), "820400");
  // The set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ].
  const Bytes empty = encode_list({});
  const Bytes one = encode_list(std::vector<Bytes>{empty});
  const Bytes two = encode_list(std::vector<Bytes>{empty, one});
  EXPECT_EQ(to_hex(encode_list(std::vector<Bytes>{empty, one, two})), "c7c0c1c0c3c0c1c0");
  EXPECT_EQ(to_hex(str("Lorem ipsum dolor sit amet, consectetur adipisicing elit")),
            "b8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e6720656c6974");
}

TEST(Rlp, DecodesWhatItEncodes) {
  const std::vector<Bytes> items{str("cat"), encode_uint(1024), encode_bytes(Bytes(100, 7)),
                                 encode_list(std::vector<Bytes>{str("dog")})};
  auto item = decode(encode_list(items));
  ASSERT_TRUE(item);
  ASSERT_TRUE(item->is_list);
  ASSERT_EQ(item->items.size(), 4u);
  EXPECT_EQ(std::string(as_chars(item->items[0].bytes)), "cat");
  EXPECT_EQ(decode_uint(item->items[1]).value(), U256(1024));
  EXPECT_EQ(item->items[2].bytes, Bytes(100, 7));
  EXPECT_TRUE(item->items[3].is_list);
}

TEST(Rlp, RefusesNonCanonicalAndTruncatedInput) {
  for (const char* bad : {"", "81", "8100" /* 0x00 must not be wrapped */, "817f", "b800", "b80100",
                          "c1", "c28100", "83646f", "83646f6700" /* trailing */, "b90000", "f800"}) {
    EXPECT_FALSE(decode(from_hex(bad))) << bad;
  }
  // 17 nested lists.
  Bytes deep = encode_list({});
  for (int i = 0; i < 17; ++i) deep = encode_list(std::vector<Bytes>{deep});
  EXPECT_FALSE(decode(deep));
  EXPECT_FALSE(decode_uint(Item{false, Bytes{0, 1}, {}}));
  EXPECT_FALSE(decode_uint(Item{false, Bytes(33, 1), {}}));
}

}  // namespace
}  // namespace ob::chain::rlp
