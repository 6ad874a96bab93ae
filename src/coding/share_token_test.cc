#include "coding/share_token.h"

#include <gtest/gtest.h>

#include "core/multibase.h"
#include "core/multihash.h"
#include "core/protocol.h"

namespace ob {
namespace {

ShareToken sample(std::uint64_t expires_at = 0) {
  crypto::Key key;
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  const Bytes manifest = {1, 2, 3};
  return ShareToken{Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(manifest)), key, expires_at};
}

TEST(ShareTokenTest, RoundTripsThroughItsText) {
  for (const std::uint64_t expires : {std::uint64_t{0}, std::uint64_t{1'800'000'000}, ~std::uint64_t{0}}) {
    const ShareToken token = sample(expires);
    const std::string text = encode_share_token(token);
    EXPECT_EQ(text.front(), 'z');
    EXPECT_TRUE(looks_like_share_token(text));
    auto parsed = parse_share_token(text);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->file, token.file);
    EXPECT_EQ(parsed->key, token.key);
    EXPECT_EQ(parsed->expires_at, expires);
  }
}

TEST(ShareTokenTest, ExpiresAtItsTimeAndNeverWithoutOne) {
  EXPECT_FALSE(sample(0).expired(~std::uint64_t{0}));
  EXPECT_FALSE(sample(100).expired(99));
  EXPECT_TRUE(sample(100).expired(100));
}

/// The binary form of `token` with `edit` applied, as text.
template <typename Edit>
std::string edited(const ShareToken& token, Edit edit) {
  auto bytes = multibase::decode(encode_share_token(token));
  EXPECT_TRUE(bytes);
  edit(*bytes);
  return multibase::encode(multibase::Base::base58btc, *bytes);
}

TEST(ShareTokenTest, RefusesEveryOtherShapeBeforeAnyNetworkCall) {
  const ShareToken token = sample();
  const std::string good = encode_share_token(token);
  const std::vector<std::string> bad = {
      "",
      "z",
      token.file.to_string(),                              // a file ID is not a token
      token.file.to_string(multibase::Base::base58btc),    // nor in base58btc
      "b" + good.substr(1),                                // another multibase
      good.substr(0, good.size() - 20),                    // cut short: the CID breaks
      good + "0",                                          // '0' is outside base58
      edited(token, [](Bytes& b) { b[0] = 'x'; }),         // another magic
      edited(token, [](Bytes& b) { b.resize(3 + 1 + 8 + 32); }),  // no CID
      edited(token, [](Bytes& b) { b.push_back(0); }),     // trailing byte after the CID
      std::string(4096, 'z'),                              // far too long
  };
  for (const std::string& text : bad) {
    auto parsed = parse_share_token(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().code, Errc::invalid_argument) << text;
  }
  // Another version: said so. A raw block's CID: not a file's.
  auto v2 = parse_share_token(edited(token, [](Bytes& b) { b[3] = 2; }));
  ASSERT_FALSE(v2);
  EXPECT_NE(v2.error().message.find("version 2"), std::string::npos) << v2.error().message;
  ShareToken raw = token;
  raw.file = Cid::raw_sha256(Bytes{1});
  auto not_a_file = parse_share_token(encode_share_token(raw));
  ASSERT_FALSE(not_a_file);
  EXPECT_NE(not_a_file.error().message.find("not an Open Bucket file"), std::string::npos);
}

}  // namespace
}  // namespace ob
