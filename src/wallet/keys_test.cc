#include "wallet/keys.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace ob::wallet {
namespace {

using ob::testing::from_hex;

// anvil's and hardhat's first development account: "test test ... junk" at m/44'/60'/0'/0/0.
constexpr const char* kJunkKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr const char* kJunkAddress = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

TEST(Address, Eip55Examples) {
  // The examples of EIP-55 itself: all caps, all lower, and mixed.
  for (const char* text : {"0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                           "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
                           "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                           "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    auto address = Address::parse(text);
    ASSERT_TRUE(address) << text;
  }
  for (const char* mixed : {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    EXPECT_EQ(Address::parse(mixed)->to_checksum(), mixed);
  }
  // An all-lower address gets its checksum when printed.
  EXPECT_EQ(Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")->to_checksum(),
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
}

TEST(Address, RefusesAWrongChecksumAndMalformedText) {
  // One letter's case flipped.
  auto typo = Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("wrong EIP-55 checksum"), std::string::npos);
  for (const char* bad : {"", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
                          "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", "0xgaAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}) {
    auto parsed = Address::parse(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("not an Ethereum address"), std::string::npos);
  }
}

TEST(PrivateKey, AddressOfAKnownKey) {
  auto key = PrivateKey::from_bytes(from_hex(kJunkKey));
  ASSERT_TRUE(key);
  EXPECT_EQ(key->address().to_checksum(), kJunkAddress);
  EXPECT_EQ(to_hex(key->compressed_public_key()), "038318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed75");
}

TEST(PrivateKey, RefusesInvalidKeys) {
  EXPECT_FALSE(PrivateKey::from_bytes(Bytes(32, 0)));
  EXPECT_FALSE(PrivateKey::from_bytes(Bytes(31, 1)));
  // The curve order n itself.
  EXPECT_FALSE(PrivateKey::from_bytes(from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")));
  EXPECT_TRUE(PrivateKey::from_bytes(from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140")));
}

TEST(PrivateKey, SignaturesRecoverTheSignerAndAreLowS) {
  auto key = PrivateKey::from_bytes(from_hex(kJunkKey));
  const Hash32 digest = keccak256(as_bytes("a message"));
  auto sig = key->sign(digest);
  ASSERT_TRUE(sig);
  EXPECT_EQ(recover_signer(digest, *sig).value(), key->address());
  // Deterministic (RFC 6979): the same digest gives the same signature.
  EXPECT_EQ(key->sign(digest)->r, sig->r);
  // s <= n/2 (EIP-2): its top byte is at most 0x7f.
  EXPECT_LE(sig->s[0], 0x7f);
  // Another digest recovers another address.
  EXPECT_NE(recover_signer(keccak256(as_bytes("another")), *sig).value(), key->address());
  Signature broken = *sig;
  broken.y_parity = 2;
  EXPECT_FALSE(recover_signer(digest, broken));
}

TEST(PrivateKey, GeneratedKeysDiffer) {
  auto a = PrivateKey::generate();
  auto b = PrivateKey::generate();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->address(), b->address());
}

}  // namespace
}  // namespace ob::wallet
