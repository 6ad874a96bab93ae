#include "chain/transaction.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace ob::chain {
namespace {

using ob::testing::from_hex;
using wallet::U256;

const char* kJunkKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

// Signed by ethers v6.17 (Wallet.signTransaction) with the same key and fields: an independent
// implementation of EIP-1559 encoding and RFC 6979 signing gives the same bytes.
const char* kEthersTransfer =
    "02f874827a6907843b9aca0084773594008252089470997970c51812dc3a010c7d01b50e0d17dc79c88814d1120d7b16000080c001a063552550"
    "67e064e6d4789c2127a4f9b8a6c80173d317686f49a549e22126f70ea031bd5bea4f7978afba24e4369c9f286deaef306d18d50c5b18a56e86ae"
    "23044e";
const char* kEthersCreate =
    "02f85401808064830186a08080856001600155c080a01f89fad913a2d6999c7b9ac1d536b791f353e817f16d55f4fd185a3d17498827a06a0189"
    "654dd3850d9a1ad9f60aee108e5db2cca75abed5b9f5c2e9f20d568490";

TEST(Eip1559, SignsExactlyAsEthers) {
  auto key = wallet::PrivateKey::from_bytes(from_hex(kJunkKey));
  Eip1559Transaction tx;
  tx.chain_id = 31337;
  tx.nonce = 7;
  tx.max_priority_fee_per_gas = 1000000000;
  tx.max_fee_per_gas = 2000000000;
  tx.gas_limit = 21000;
  tx.to = *wallet::Address::parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  tx.value = 1500000000000000000ull;
  EXPECT_EQ(to_hex(tx.signing_hash()), "af52317ba4216446c6fdf06f1ab7fd9fa5bdcbe78fad38b68745ed4ec1e10d35");
  auto signed_tx = tx.sign(*key);
  ASSERT_TRUE(signed_tx);
  EXPECT_EQ(to_hex(signed_tx->raw), kEthersTransfer);
  EXPECT_EQ(to_hex(signed_tx->hash), "8bb3b37b6499e10359157b528b0ed0ad52a0b6d9ab1b521a0ea95ec72eeee9fb");

  Eip1559Transaction create;
  create.chain_id = 1;
  create.max_fee_per_gas = 100;
  create.gas_limit = 100000;
  create.data = from_hex("6001600155");
  EXPECT_EQ(to_hex(create.sign(*key)->raw), kEthersCreate);
}

TEST(Eip1559, DecodesASignedTransactionAndItsSender) {
  auto decoded = decode_signed_transaction(from_hex(kEthersTransfer));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->from.to_checksum(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_EQ(decoded->tx.chain_id, 31337u);
  EXPECT_EQ(decoded->tx.nonce, 7u);
  EXPECT_EQ(decoded->tx.gas_limit, 21000u);
  EXPECT_EQ(decoded->tx.value, U256(1500000000000000000ull));
  EXPECT_EQ(decoded->tx.to->to_checksum(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
  EXPECT_EQ(to_hex(decoded->hash), "8bb3b37b6499e10359157b528b0ed0ad52a0b6d9ab1b521a0ea95ec72eeee9fb");
  auto create = decode_signed_transaction(from_hex(kEthersCreate));
  ASSERT_TRUE(create);
  EXPECT_FALSE(create->tx.to);
  EXPECT_EQ(to_hex(create->tx.data), "6001600155");
}

TEST(Eip1559, RefusesOtherTransactions) {
  Bytes legacy = from_hex(kEthersTransfer);
  legacy[0] = 0x01;
  EXPECT_FALSE(decode_signed_transaction(legacy));
  Bytes cut = from_hex(kEthersTransfer);
  cut.pop_back();
  EXPECT_FALSE(decode_signed_transaction(cut));
  EXPECT_FALSE(decode_signed_transaction({}));
}

TEST(Eip1559, MaxCostIsValuePlusGasAtMaxFee) {
  Eip1559Transaction tx;
  tx.value = 1000;
  tx.gas_limit = 21000;
  tx.max_fee_per_gas = 3;
  EXPECT_EQ(tx.max_cost(), U256(1000 + 63000));
  tx.max_fee_per_gas = U256::max();
  EXPECT_FALSE(tx.max_cost());
}

}  // namespace
}  // namespace ob::chain
