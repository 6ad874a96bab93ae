#include "wallet/mnemonic.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "testing/test_util.h"

namespace ob::wallet {
namespace {

using ob::testing::from_hex;

struct Vector {
  const char* entropy;
  const char* words;
  const char* seed;  // with passphrase "TREZOR"
};

// BIP-39's published English vectors (python-mnemonic's vectors.json), checked once more
// against python3-mnemonic when they were copied here.
const Vector kVectors[] = {
    {"00000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
     "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"},
    {"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
     "legal winner thank year wave sausage worth useful legal winner thank yellow",
     "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607"},
    {"80808080808080808080808080808080",
     "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
     "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8"},
    {"ffffffffffffffffffffffffffffffff",
     "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
     "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069"},
    {"000000000000000000000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon agent",
     "035895f2f481b1b0f01fcf8c289c794660b289981a78f8106447707fdd9666ca06da5a9a565181599b79f53b844d8a71dd9f439c52a3d7b3e8a79c906ac845fa"},
    {"808080808080808080808080808080808080808080808080",
     "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter always",
     "107d7c02a5aa6f38c58083ff74f04c607c2d2c0ecc55501dadd72d025b751bc27fe913ffb796f841c49b1d33b610cf0e91d3aa239027f5e99fe4ce9e5088cd65"},
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
     "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"},
    {"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
     "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title",
     "bc09fca1804f7e69da93c2f2028eb238c227f2e9dda30cd63699232578480a4021b146ad717fbb7e451ce9eb835f43620bf5c514db0f8add49f5d121449d3e87"},
    {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
     "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote",
     "dd48c104698c30cfe2b6142103248622fb7bb0ff692eebb00089b32d22484e1613912f0a5b694407be899ffd31ed3992c456cdf60f5d4564b8ba3f05a69890ad"},
    {"77c2b00716cec7213839159e404db50d",
     "jelly better achieve collect unaware mountain thought cargo oxygen act hood bridge",
     "b5b6d0127db1a9d2226af0c3346031d77af31e918dba64287a1b44b8ebf63cdd52676f672a290aae502472cf2d602c051f3e6f18055e84e4c43897fc4e51a6ff"},
    {"b63a9c59a6e641f288ebc103017f1da9f8290b3da6bdef7b",
     "renew stay biology evidence goat welcome casual join adapt armor shuffle fault little machine walk stumble urge swap",
     "9248d83e06f4cd98debf5b6f010542760df925ce46cf38a1bdb4e4de7d21f5c39366941c69e1bdbf2966e0f6e6dbece898a0e2f0a4c2b3e640953dfe8b7bbdc5"},
    {"3e141609b97933b66a060dcddc71fad1d91677db872031e85f4c015c5e7e8982",
     "dignity pass list indicate nasty swamp pool script soccer toe leaf photo multiply desk host tomato cradle drill spread actor shine dismiss champion exotic",
     "ff7f3184df8696d8bef94b6c03114dbee0ef89ff938712301d27ed8336ca89ef9635da20af07d4175f2bf5f3de130f39c9d9e8dd0472489c19b1a020a940da67"},
    {"18ab19a9f54a9274f03e5209a2ac8a91",
     "board flee heavy tunnel powder denial science ski answer betray cargo cat",
     "6eff1bb21562918509c73cb990260db07c0ce34ff0e3cc4a8cb3276129fbcb300bddfe005831350efd633909f476c45c88253276d9fd0df6ef48609e8bb7dca8"},
};

TEST(Mnemonic, PublishedVectors) {
  for (const Vector& v : kVectors) {
    auto from_entropy = Mnemonic::from_entropy(from_hex(v.entropy));
    ASSERT_TRUE(from_entropy) << v.entropy;
    EXPECT_EQ(from_entropy->phrase(), v.words);
    auto parsed = Mnemonic::parse(v.words);
    ASSERT_TRUE(parsed) << v.words << ": " << parsed.error().message;
    EXPECT_EQ(to_hex(parsed->entropy()), v.entropy);
    auto seed = parsed->seed("TREZOR");
    ASSERT_TRUE(seed);
    EXPECT_EQ(to_hex(*seed), v.seed);
  }
}

TEST(Mnemonic, SeedWithoutPassphrase) {
  auto m = Mnemonic::parse("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about");
  ASSERT_TRUE(m);
  EXPECT_EQ(to_hex(m->seed().value()),
            "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4");
}

TEST(Mnemonic, WordListIsBip39English) {
  const auto words = bip39_english_words();
  ASSERT_EQ(words.size(), 2048u);
  EXPECT_EQ(words.front(), "abandon");
  EXPECT_EQ(words[1], "ability");
  EXPECT_EQ(words.back(), "zoo");
  EXPECT_TRUE(std::ranges::is_sorted(words));
}

TEST(Mnemonic, ParseNormalisesSpacingAndCase) {
  auto m = Mnemonic::parse("  Abandon abandon\tabandon abandon abandon abandon\nabandon abandon abandon abandon abandon ABOUT\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->phrase(), "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about");
  EXPECT_EQ(m->size(), 12u);
}

TEST(Mnemonic, RefusesBadMnemonicsWithTheReason) {
  const auto message = [](std::string_view text) {
    auto m = Mnemonic::parse(text);
    EXPECT_FALSE(m) << text;
    return m ? std::string() : m.error().message;
  };
  // Twelve valid words whose checksum is wrong (the last should be "about").
  EXPECT_NE(message("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon")
                .find("checksum"),
            std::string::npos);
  EXPECT_NE(message("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abuot")
                .find("word 12 ('abuot') is not in the BIP-39 English list"),
            std::string::npos);
  EXPECT_NE(message("abandon abandon abandon").find("not 3"), std::string::npos);
  EXPECT_NE(message("").find("not 0"), std::string::npos);
  EXPECT_NE(message(std::string(30 * 8, 'a')).find("not 1"), std::string::npos);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "abandon ";
  EXPECT_NE(message(many).find("more than 24"), std::string::npos);
}

TEST(Mnemonic, GeneratesValidMnemonicsOfTheAskedLength) {
  for (std::size_t words : {12u, 24u}) {
    auto m = Mnemonic::generate(words);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->size(), words);
    EXPECT_TRUE(Mnemonic::parse(m->phrase()));
  }
  EXPECT_NE(Mnemonic::generate(12)->phrase(), Mnemonic::generate(12)->phrase());
  EXPECT_FALSE(Mnemonic::generate(13));
}

TEST(Mnemonic, RefusesNonAsciiPassphrase) {
  auto m = Mnemonic::generate(12);
  EXPECT_FALSE(m->seed("caf\xc3\xa9"));
}

}  // namespace
}  // namespace ob::wallet
