#include "wallet/keccak.h"

#include <gtest/gtest.h>

namespace ob::wallet {
namespace {

TEST(Keccak256, KnownDigests) {
  // The empty string's digest is the one the yellow paper names (KEC("")), as in every empty
  // account's code hash; it differs from SHA3-256("") (a7ffc6f8...).
  EXPECT_EQ(to_hex(keccak256(ByteView{})), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(to_hex(keccak256(as_bytes("abc"))), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // The selector of ERC-20 transfer(address,uint256) is its first 4 bytes: a9059cbb.
  EXPECT_EQ(to_hex(keccak256(as_bytes("transfer(address,uint256)"))).substr(0, 8), "a9059cbb");
}

TEST(Keccak256, TwoPartsHashLikeTheirConcatenation) {
  EXPECT_EQ(keccak256(as_bytes("hello "), as_bytes("world")), keccak256(as_bytes("hello world")));
}

}  // namespace
}  // namespace ob::wallet
