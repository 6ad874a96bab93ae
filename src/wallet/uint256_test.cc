#include "wallet/uint256.h"

#include <gtest/gtest.h>

namespace ob::wallet {
namespace {

const char* kMax = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

TEST(U256, DecimalRoundTripsAcrossLimbs) {
  for (const char* text : {"0", "1", "18446744073709551615", "18446744073709551616", "1500000000000000000000", kMax}) {
    auto v = U256::from_decimal(text);
    ASSERT_TRUE(v) << text;
    EXPECT_EQ(v->to_decimal(), text);
  }
  EXPECT_EQ(U256::from_decimal(kMax), U256::max());
}

TEST(U256, RefusesBadDecimal) {
  EXPECT_FALSE(U256::from_decimal(""));
  EXPECT_FALSE(U256::from_decimal("12a"));
  EXPECT_FALSE(U256::from_decimal("-1"));
  // 2^256 is one too many.
  EXPECT_FALSE(U256::from_decimal("115792089237316195423570985008687907853269984665640564039457584007913129639936"));
}

TEST(U256, QuantitiesAreCanonicalHex) {
  EXPECT_EQ(U256(0).to_quantity(), "0x0");
  EXPECT_EQ(U256(0x400).to_quantity(), "0x400");
  EXPECT_EQ(U256(21000).to_quantity(), "0x5208");
  EXPECT_EQ(U256::from_quantity("0x0").value(), U256(0));
  EXPECT_EQ(U256::from_quantity("0x00ff").value(), U256(255));
  EXPECT_EQ(U256::from_quantity("0xDE0B6B3A7640000").value(), U256(1000000000000000000ull));
  EXPECT_EQ(U256::max().to_quantity(), "0x" + std::string(64, 'f'));
  EXPECT_FALSE(U256::from_quantity("12"));
  EXPECT_FALSE(U256::from_quantity("0x"));
  EXPECT_FALSE(U256::from_quantity("0xg"));
  EXPECT_FALSE(U256::from_quantity("0x1" + std::string(64, '0')));
}

TEST(U256, BytesAreBigEndianAndMinimal) {
  const U256 v(0x0102);
  EXPECT_EQ(to_hex(v.to_minimal_be()), "0102");
  EXPECT_TRUE(U256(0).to_minimal_be().empty());
  const Bytes be{0x01, 0x02};
  EXPECT_EQ(U256::from_be_bytes(be), v);
  EXPECT_FALSE(U256::from_be_bytes(Bytes(33, 1)));
  const auto full = U256::max().to_be_bytes();
  EXPECT_EQ(U256::from_be_bytes(full), U256::max());
}

TEST(U256, ArithmeticIsChecked) {
  const U256 big = *U256::from_decimal("18446744073709551616");  // 2^64
  EXPECT_EQ(U256(~0ull).checked_add(1), big);
  EXPECT_EQ(big.checked_sub(1), U256(~0ull));
  EXPECT_EQ(big.checked_mul(big)->to_decimal(), "340282366920938463463374607431768211456");  // 2^128
  EXPECT_FALSE(U256::max().checked_add(1));
  EXPECT_FALSE(U256(1).checked_sub(2));
  EXPECT_FALSE(U256::max().checked_mul(2));
  EXPECT_LT(U256(5), big);
  U256 n(1234567);
  EXPECT_EQ(n.divmod(10), 7u);
  EXPECT_EQ(n, U256(123456));
}

}  // namespace
}  // namespace ob::wallet
