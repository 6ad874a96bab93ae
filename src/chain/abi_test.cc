#include "chain/abi.h"

#include <gtest/gtest.h>

#include <string_view>

namespace ob::chain::abi {
namespace {

#include "chain/abi_fixtures.inc"

using wallet::Address;
using wallet::U256;

std::vector<Type> types_of(std::initializer_list<std::string_view> texts) {
  std::vector<Type> types;
  for (std::string_view t : texts) types.push_back(*Type::parse(t));
  return types;
}

Bytes hex(std::string_view text) {
  if (text.starts_with("0x")) text.remove_prefix(2);
  return *from_hex(text);
}

Bytes repeat(std::uint8_t byte, std::size_t n) { return Bytes(n, byte); }

const Address kAddr = *Address::parse("0x00000000000000000000000000000000deadbeef");

Value::List storage_ask() {
  return {hex("01551220" + std::string(64, 'a')), repeat(0x11, 32), std::uint64_t{6}, std::uint64_t{4},
          std::uint64_t{65536}, std::uint64_t{131072}, std::uint64_t{2592000}, std::uint64_t{3600},
          std::uint64_t{1000}, std::uint64_t{2000}, std::uint64_t{4}, kAddr};
}

// Expected bytes come from ethers v6 (tests/js/abi_fixtures.mjs -> abi_fixtures.inc).
TEST(AbiTest, StaticWordsMatchEthers) {
  const auto types = types_of({"uint8", "uint256", "uint96", "bool", "address"});
  const std::vector<Value> values{std::uint64_t{255}, U256::max(), std::uint64_t{12345}, true, kAddr};
  EXPECT_EQ(*encode(types, values), hex(k_static_words));
  const auto decoded = decode(types, hex(k_static_words));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*(*decoded)[1].as_uint(), U256::max());
  EXPECT_EQ(*(*decoded)[4].as_address(), kAddr);
  EXPECT_TRUE(*(*decoded)[3].as_bool());
}

TEST(AbiTest, BytesMatchEthers) {
  const auto types = types_of({"bytes32", "bytes", "bytes"});
  const std::vector<Value> values{repeat(0x11, 32), repeat(0xab, 33), Bytes{}};
  EXPECT_EQ(*encode(types, values), hex(k_bytes_dynamic));
  const auto decoded = decode(types, hex(k_bytes_dynamic));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*(*decoded)[1].as_bytes(), repeat(0xab, 33));
  EXPECT_TRUE((*decoded)[2].as_bytes()->empty());
}

TEST(AbiTest, ArraysMatchEthers) {
  const auto types = types_of({"bytes32[]", "uint64[2]"});
  const std::vector<Value> values{Value::List{repeat(0x11, 32), repeat(0x22, 32)},
                                  Value::List{std::uint64_t{7}, std::uint64_t{8}}};
  EXPECT_EQ(*encode(types, values), hex(k_arrays));
  const auto decoded = decode(types, hex(k_arrays));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ((*(*decoded)[0].as_list())->size(), 2u);
  EXPECT_EQ(*(**(*decoded)[1].as_list())[1].as_u64(), 8u);
}

TEST(AbiTest, DynamicArrayOfDynamicTuplesMatchesEthers) {
  const auto types = types_of({"(uint64,bytes,bytes32[])[]"});
  const std::vector<Value> values{Value::List{
      Value::List{std::uint64_t{1}, Bytes{1, 2}, Value::List{repeat(0x11, 32)}},
      Value::List{std::uint64_t{2}, Bytes{}, Value::List{}},
  }};
  EXPECT_EQ(*encode(types, values), hex(k_nested));
  const auto decoded = decode(types, hex(k_nested));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*encode(types, *decoded), hex(k_nested));
}

TEST(AbiTest, CallsMatchEthers) {
  const auto request = Function::parse(
      "requestStorage(bytes32,(bytes,bytes32,uint8,uint8,uint32,uint64,uint64,uint64,uint96,uint96,uint16,address))");
  ASSERT_TRUE(request) << request.error().message;
  const std::vector<Value> args{repeat(0x05, 32), storage_ask()};
  EXPECT_EQ(*request->encode_call(args), hex(k_request_storage_call));

  const auto fill = Function::parse("fillSlot(uint256,uint256,bytes,(uint64,bytes,bytes32[]))");
  ASSERT_TRUE(fill);
  const std::vector<Value> fill_args{
      std::uint64_t{3}, std::uint64_t{1}, repeat(0x77, 65),
      Value::List{std::uint64_t{9}, repeat(0x5a, 1024), Value::List{repeat(0x11, 32), repeat(0x33, 32)}}};
  EXPECT_EQ(*fill->encode_call(fill_args), hex(k_fill_slot_call));

  EXPECT_EQ(*Function::parse("withdraw()")->encode_call({}), hex(k_withdraw_call));
  const auto sel = selector("EscrowMismatch(uint256,uint256)");
  const Bytes error = hex(k_escrow_mismatch_error);
  EXPECT_EQ(Bytes(sel.begin(), sel.end()), Bytes(error.begin(), error.begin() + 4));
}

TEST(AbiTest, TypesRoundTripTheirCanonicalText) {
  for (std::string_view t : {"uint8", "bytes32", "address", "bool", "bytes", "string", "uint256[]", "bytes32[3][]",
                             "(uint64,bytes,bytes32[])", "()", "(uint8,(address,bool)[2])[]"}) {
    const auto type = Type::parse(t);
    ASSERT_TRUE(type) << t << ": " << type.error().message;
    EXPECT_EQ(type->canonical(), t);
  }
  EXPECT_EQ(Type::parse("(uint256,bytes)")->head_size(), 32u);
  EXPECT_EQ(Type::parse("(uint256,bytes32)")->head_size(), 64u);
}

TEST(AbiTest, RefusesBadTypeText) {
  for (std::string_view t : {"", "uint7", "uint264", "uint", "bytes33", "bytes0", "int256", "(uint8", "uint8)", "uint8[",
                             "uint8[01]", "(uint8,)", "address payable", "((((((((((uint8))))))))))"}) {
    EXPECT_FALSE(Type::parse(t)) << t;
  }
  EXPECT_FALSE(Function::parse("f"));
  EXPECT_FALSE(Function::parse("(uint8)"));
  EXPECT_FALSE(Function::parse("f(uint8"));
}

TEST(AbiTest, RefusesValuesThatDoNotFitTheirType) {
  EXPECT_FALSE(encode(types_of({"uint8"}), std::vector<Value>{std::uint64_t{256}}));
  EXPECT_FALSE(encode(types_of({"bytes32"}), std::vector<Value>{repeat(1, 31)}));
  EXPECT_FALSE(encode(types_of({"uint64[2]"}), std::vector<Value>{Value::List{std::uint64_t{1}}}));
  EXPECT_FALSE(encode(types_of({"(uint8,bool)"}), std::vector<Value>{Value::List{std::uint64_t{1}}}));
  EXPECT_FALSE(encode(types_of({"address"}), std::vector<Value>{true}));
  EXPECT_FALSE(encode(types_of({"uint8", "uint8"}), std::vector<Value>{std::uint64_t{1}}));
}

TEST(AbiTest, RefusesMalformedData) {
  const auto bytes_type = types_of({"bytes"});
  // Truncated words, an offset past the end, a length past the end.
  EXPECT_FALSE(decode(bytes_type, Bytes(31, 0)));
  Bytes offset_past = *encode(types_of({"uint256"}), std::vector<Value>{std::uint64_t{4096}});
  EXPECT_FALSE(decode(bytes_type, offset_past));
  Bytes good = *encode(bytes_type, std::vector<Value>{repeat(9, 40)});
  Bytes long_length = good;
  long_length[63] = 200;
  EXPECT_FALSE(decode(bytes_type, long_length));
  // An array whose count the data cannot hold is refused before anything is allocated.
  Bytes huge_array = *encode(types_of({"uint256", "uint256"}), std::vector<Value>{std::uint64_t{32}, std::uint64_t{0}});
  std::fill(huge_array.begin() + 32, huge_array.begin() + 56, 0xff);
  EXPECT_FALSE(decode(types_of({"bytes32[]"}), huge_array));
  // Dirty high bits: a bool of 2, a uint8 of 256, an address with high bytes.
  EXPECT_FALSE(decode(types_of({"bool"}), *encode(types_of({"uint256"}), std::vector<Value>{std::uint64_t{2}})));
  EXPECT_FALSE(decode(types_of({"uint8"}), *encode(types_of({"uint256"}), std::vector<Value>{std::uint64_t{256}})));
  Bytes dirty_address = *encode(types_of({"address"}), std::vector<Value>{kAddr});
  dirty_address[0] = 1;
  EXPECT_FALSE(decode(types_of({"address"}), dirty_address));
  Bytes dirty_bytes4(32, 0);
  dirty_bytes4[5] = 1;
  EXPECT_FALSE(decode(types_of({"bytes4"}), dirty_bytes4));
}

}  // namespace
}  // namespace ob::chain::abi
