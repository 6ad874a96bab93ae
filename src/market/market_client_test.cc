#include "market/market_client.h"

#include <gtest/gtest.h>

#include <string_view>

namespace ob::market {
namespace {

#include "chain/abi_fixtures.inc"

using wallet::Address;
using wallet::U256;

Bytes hex(std::string_view text) {
  if (text.starts_with("0x")) text.remove_prefix(2);
  return *from_hex(text);
}

// Expected digests and signatures come from ethers v6's TypedDataEncoder and SigningKey
// (tests/js/abi_fixtures.mjs -> src/chain/abi_fixtures.inc).
TEST(MarketClientTest, FillPermitDigestAndSignatureMatchEthers) {
  const Address market = *Address::parse("0x5FbDB2315678afecb367f032d93F642f64180aa3");
  const Address host = *Address::parse("0x00000000000000000000000000000000deadbeef");
  const wallet::Hash32 digest = fill_permit_digest(31337, market, U256(3), 1, host, 2);
  EXPECT_EQ(Bytes(digest.begin(), digest.end()), hex(k_fill_permit_digest));
  // Any other field changes it.
  EXPECT_NE(fill_permit_digest(31337, market, U256(3), 1, host, 3), digest);
  EXPECT_NE(fill_permit_digest(1, market, U256(3), 1, host, 2), digest);

  const auto placer = wallet::PrivateKey::from_bytes(Bytes(32, 0x01));
  ASSERT_TRUE(placer);
  const auto permit = sign_fill_permit(*placer, digest);
  ASSERT_TRUE(permit);
  EXPECT_EQ(*permit, hex(k_fill_permit_signature));
  EXPECT_TRUE(permit->back() == 27 || permit->back() == 28);
}

TEST(MarketClientTest, DescribesTheContractsCustomErrors) {
  EXPECT_EQ(describe_revert(hex(k_escrow_mismatch_error)), "EscrowMismatch(expected: 100, sent: 99)");
  // Enum arguments read as the contract's names.
  Bytes slot_not_free;
  const auto sel = chain::abi::selector("SlotNotFree(uint8)");
  slot_not_free.assign(sel.begin(), sel.end());
  const auto word = U256(1).to_be_bytes();
  slot_not_free.insert(slot_not_free.end(), word.begin(), word.end());
  EXPECT_EQ(describe_revert(slot_not_free), "SlotNotFree(state: Filled)");
  const auto no_args = chain::abi::selector("NotChosenByPlacer()");
  EXPECT_EQ(describe_revert(Bytes(no_args.begin(), no_args.end())), "NotChosenByPlacer()");
  // Solidity's Error(string), and what is none of those.
  Bytes error_string{0x08, 0xc3, 0x79, 0xa0};
  const Bytes encoded = *chain::abi::encode(std::vector<chain::abi::Type>{*chain::abi::Type::parse("string")},
                                            std::vector<chain::abi::Value>{Bytes{'n', 'o'}});
  error_string.insert(error_string.end(), encoded.begin(), encoded.end());
  EXPECT_EQ(describe_revert(error_string), "no");
  EXPECT_EQ(describe_revert({}), "reverted without a reason");
  EXPECT_EQ(describe_revert(Bytes{1, 2, 3, 4, 5}), "reverted with 0x0102030405");
  // A known selector with arguments that do not decode is shown raw, not trusted.
  EXPECT_EQ(describe_revert(Bytes(sel.begin(), sel.end())), "reverted with 0x" + to_hex(Bytes(sel.begin(), sel.end())));
}

TEST(MarketClientTest, EscrowIsComputedAsTheContractDoes) {
  StorageAsk ask;
  ask.n = 6;
  ask.slot_size = 131072;
  ask.duration = 2592000;
  ask.price_per_byte_second = 1000;
  ask.collateral_per_byte = 7;
  EXPECT_EQ(ask.escrow()->to_decimal(), "2038431744000000");  // 6 * 131072 * 2592000 * 1000
  EXPECT_EQ(*ask.slot_collateral(), U256(917504));
  ask.price_per_byte_second = U256::max();
  EXPECT_FALSE(ask.escrow());
}

TEST(MarketClientTest, StateNames) {
  EXPECT_EQ(to_string(RequestState::Started), "Started");
  EXPECT_EQ(to_string(SlotState::Repair), "Repair");
  EXPECT_EQ(to_string(static_cast<RequestState>(9)), "unknown");
}

}  // namespace
}  // namespace ob::market
