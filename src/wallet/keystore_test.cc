#include "wallet/keystore.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/test_util.h"

namespace ob::wallet {
namespace {

using ob::testing::from_hex;

// The Web3 Secret Storage definition's two test vectors (passphrase "testpassword"). The scrypt
// one has r = 1 with n = 2^18, which RFC 7914 forbids (n < 2^(16 r)) and OpenSSL refuses.
constexpr const char* kWeb3ScryptVector = R"({"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"83dbcc02d8ccb40e466191a123791e0e"},"ciphertext":"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c","kdf":"scrypt","kdfparams":{"dklen":32,"n":262144,"p":8,"r":1,"salt":"ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},"mac":"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3})";
constexpr const char* kPbkdf2Vector = R"({"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2","kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256","salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3})";
constexpr const char* kVectorKey = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
// Written by ethers v6.17 (encryptKeystoreJson, scrypt n = 1024) for key 4c0883a6...3f362318:
// its own spelling "Crypto", its field order.
constexpr const char* kEthersVector = R"({"address":"2c7536e3605d9c16a7a3d7b1898e529396a65c23","id":"2f6d4347-ce9a-4e07-af37-f0362726dc37","version":3,"Crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"9930d3d062e514c76df36a058ef12963"},"ciphertext":"dd441bc9e1171f5f057767530e97c2ed4dbd56acf4ab97dddd5bba4cc4996907","kdf":"scrypt","kdfparams":{"salt":"fb61b9d53c307ff62167021f44f57e375ed560aaefd12376ae5d96e23d0cc354","n":1024,"dklen":32,"p":1,"r":8},"mac":"1501d1d878e8e737b25fa23b485da009ca694f2dbd58bd661818ef327c9c2774"}})";

const ScryptParams kFast{1024, 8, 1};  // a test's cost; the product's default is 2^18

TEST(Keystore, DecryptsPublishedAndEthersFiles) {
  auto key = decrypt_keystore(kPbkdf2Vector, "testpassword");
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(to_hex(key->bytes()), kVectorKey);
  auto ethers = decrypt_keystore(kEthersVector, "ob-test-passphrase");
  ASSERT_TRUE(ethers) << ethers.error().message;
  EXPECT_EQ(to_hex(ethers->bytes()), "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
  EXPECT_EQ(ethers->address().to_checksum(), "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
  auto refused = decrypt_keystore(kWeb3ScryptVector, "testpassword");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::corrupt);
  EXPECT_NE(refused.error().message.find("RFC 7914"), std::string::npos) << refused.error().message;
}

TEST(Keystore, RoundTripsAndNamesItsAddress) {
  auto key = PrivateKey::generate();
  auto text = encrypt_keystore(*key, "correct horse", kFast);
  ASSERT_TRUE(text);
  const nlohmann::json doc = nlohmann::json::parse(*text);
  EXPECT_EQ(doc["version"], 3);
  EXPECT_EQ(doc["address"], key->address().to_lower_hex());
  EXPECT_EQ(doc["crypto"]["kdf"], "scrypt");
  EXPECT_EQ(doc["crypto"]["kdfparams"]["n"], 1024);
  EXPECT_EQ(doc["id"].get<std::string>().size(), 36u);
  EXPECT_EQ(doc["id"].get<std::string>()[14], '4');  // UUID version 4
  auto back = decrypt_keystore(*text, "correct horse");
  ASSERT_TRUE(back);
  EXPECT_EQ(to_hex(back->bytes()), to_hex(key->bytes()));
  EXPECT_EQ(keystore_address(*text).value(), key->address());
}

TEST(Keystore, ProductDefaultIsGethsStandardScrypt) {
  ::unsetenv("OPEN_BUCKET_TEST_SCRYPT_N");
  EXPECT_EQ(default_scrypt_params().n, 262144u);
  EXPECT_EQ(default_scrypt_params().r, 8u);
  EXPECT_EQ(default_scrypt_params().p, 1u);
  ::setenv("OPEN_BUCKET_TEST_SCRYPT_N", "4096", 1);
  EXPECT_EQ(default_scrypt_params().n, 4096u);
  for (const char* ignored : {"1000", "512", "524288", "4096x", ""}) {
    ::setenv("OPEN_BUCKET_TEST_SCRYPT_N", ignored, 1);
    EXPECT_EQ(default_scrypt_params().n, 262144u) << ignored;
  }
  ::unsetenv("OPEN_BUCKET_TEST_SCRYPT_N");
}

TEST(Keystore, ReadsEthersCapitalCrypto) {
  auto key = PrivateKey::generate();
  nlohmann::json doc = nlohmann::json::parse(*encrypt_keystore(*key, "pw", kFast));
  doc["Crypto"] = doc["crypto"];
  doc.erase("crypto");
  auto back = decrypt_keystore(doc.dump(), "pw");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->address(), key->address());
}

TEST(Keystore, WrongPassphraseAndTamperingFailTheMac) {
  auto key = PrivateKey::generate();
  const std::string text = *encrypt_keystore(*key, "right", kFast);
  auto wrong = decrypt_keystore(text, "wrong");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::invalid_argument);
  EXPECT_NE(wrong.error().message.find("wrong passphrase"), std::string::npos);

  nlohmann::json doc = nlohmann::json::parse(text);
  std::string ciphertext = doc["crypto"]["ciphertext"];
  ciphertext[0] = ciphertext[0] == '0' ? '1' : '0';
  doc["crypto"]["ciphertext"] = ciphertext;
  auto tampered = decrypt_keystore(doc.dump(), "right");
  ASSERT_FALSE(tampered);
  EXPECT_NE(tampered.error().message.find("MAC does not match"), std::string::npos);
}

TEST(Keystore, RefusesMalformedFilesWithoutCrashing) {
  auto key = PrivateKey::generate();
  const nlohmann::json good = nlohmann::json::parse(*encrypt_keystore(*key, "pw", kFast));
  std::vector<std::string> bad = {"", "not json", "[]", "{}", R"({"version":3})"};
  const auto with = [&](const char* pointer, nlohmann::json value) {
    nlohmann::json doc = good;
    doc[nlohmann::json::json_pointer(pointer)] = std::move(value);
    bad.push_back(doc.dump());
  };
  with("/version", 2);
  with("/version", "3");
  with("/crypto/cipher", "aes-256-gcm");
  with("/crypto/kdf", "argon2");
  with("/crypto/kdfparams/n", 1000);                 // not a power of two
  with("/crypto/kdfparams/n", 1ull << 30);           // 128 GiB of memory
  with("/crypto/kdfparams/r", 0);
  with("/crypto/kdfparams/p", 1000);
  with("/crypto/kdfparams/dklen", 16);
  with("/crypto/kdfparams/salt", 5);
  with("/crypto/cipherparams/iv", "00");
  with("/crypto/ciphertext", "zz");
  with("/crypto/mac", nullptr);
  with("/crypto/cipherparams", "iv");
  for (const std::string& text : bad) {
    auto key_back = decrypt_keystore(text, "pw");
    ASSERT_FALSE(key_back) << text;
    EXPECT_EQ(key_back.error().code, Errc::corrupt) << text << ": " << key_back.error().message;
  }
}

TEST(Keystore, RefusesAKeyThatIsNotItsAddress) {
  auto key = PrivateKey::generate();
  auto other = PrivateKey::generate();
  nlohmann::json doc = nlohmann::json::parse(*encrypt_keystore(*key, "pw", kFast));
  doc["address"] = other->address().to_lower_hex();
  auto back = decrypt_keystore(doc.dump(), "pw");
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, Errc::corrupt);
}

TEST(Keystore, RefusesAnEmptyPassphraseForNewFiles) {
  auto key = PrivateKey::generate();
  EXPECT_FALSE(encrypt_keystore(*key, "", kFast));
}

TEST(Keystore, GethFileNames) {
  const auto address = *Address::parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1764697980)) + std::chrono::nanoseconds(123456789);
  EXPECT_EQ(keystore_file_name(address, when), "UTC--2025-12-02T17-53-00.123456789Z--f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
}

}  // namespace
}  // namespace ob::wallet
