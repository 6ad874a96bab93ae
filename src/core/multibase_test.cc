#include "core/multibase.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>

namespace ob {
namespace {

using multibase::Base;

Bytes bytes_of(std::string_view s) {
  const ByteView v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

void expect_invalid(const Result<Bytes>& r, std::string_view needle) {
  ASSERT_FALSE(r.has_value()) << "decoded to " << to_hex(*r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(MultibaseBase32, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "my"},
      {"fo", "mzxq"},
      {"foo", "mzxw6"},
      {"foob", "mzxw6yq"},
      {"fooba", "mzxw6ytb"},
      {"foobar", "mzxw6ytboi"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(multibase::encode_base32(as_bytes(plain)), encoded) << plain;
    auto dec = multibase::decode_base32(encoded);
    ASSERT_TRUE(dec.has_value()) << encoded << ": " << dec.error().message;
    EXPECT_EQ(*dec, bytes_of(plain)) << encoded;
  }
}

TEST(MultibaseBase32, AllByteValues) {
  Bytes all(256);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  const std::string text = multibase::encode_base32(all);
  EXPECT_EQ(text.size(), (256 * 8 + 4) / 5);
  EXPECT_EQ(text.substr(0, 8), "aaaqeaye");  // 00 01 02 03 04
  auto dec = multibase::decode_base32(text);
  ASSERT_TRUE(dec.has_value());
  EXPECT_EQ(*dec, all);
}

TEST(MultibaseBase32, RejectsBadCharacters) {
  expect_invalid(multibase::decode_base32("mzxw1"), "invalid base32 character '1' at position 4");
  expect_invalid(multibase::decode_base32("mz xq"), "' ' at position 2");
  expect_invalid(multibase::decode_base32(std::string("mz\0q", 4)), "byte 0x00 at position 2");
  expect_invalid(multibase::decode_base32("mz\xffq"), "byte 0xff at position 2");
}

TEST(MultibaseBase32, RejectsUpperCase) {
  expect_invalid(multibase::decode_base32("MZXW6"), "invalid base32 character 'M' at position 0");
  expect_invalid(multibase::decode_base32("mzXq"), "'X' at position 2");
}

TEST(MultibaseBase32, RejectsPadding) {
  expect_invalid(multibase::decode_base32("my======"), "padding");
  expect_invalid(multibase::decode_base32("my="), "position 2");
}

TEST(MultibaseBase32, RejectsImpossibleLengths) {
  expect_invalid(multibase::decode_base32("m"), "length");
  expect_invalid(multibase::decode_base32("mzx"), "length");
  expect_invalid(multibase::decode_base32("mzxw6y"), "length");
  expect_invalid(multibase::decode_base32("mzxw6ytbm"), "length");
}

TEST(MultibaseBase32, RejectsNonZeroTrailingBits) {
  // "my" is 'f'; "mz" carries the same byte with a stray low bit set.
  expect_invalid(multibase::decode_base32("mz"), "trailing bits");
  expect_invalid(multibase::decode_base32("mzxr"), "trailing bits");
}

TEST(MultibaseBase58, KnownVectors) {
  const std::pair<Bytes, std::string_view> vectors[] = {
      {Bytes{}, ""},
      {bytes_of("hello world"), "StV1DL6CwTryKyV"},
      {Bytes{0x00}, "1"},
      {Bytes{0x00, 0x00}, "11"},
      {Bytes{0x00, 0x00, 0x01}, "112"},
      {Bytes{0x00, 0x00, 0x00, 0x28, 0x7f, 0xb4, 0xcd}, "111233QC4"},
      {Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "4HUtbHhN2TkpR"},
      {Bytes{57}, "z"},
      {Bytes{58}, "21"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(multibase::encode_base58btc(plain), encoded) << to_hex(plain);
    auto dec = multibase::decode_base58btc(encoded);
    ASSERT_TRUE(dec.has_value()) << encoded << ": " << dec.error().message;
    EXPECT_EQ(*dec, plain) << encoded;
  }
}

TEST(MultibaseBase58, RejectsBadCharacters) {
  // 0, O, I and l are left out of the alphabet on purpose.
  expect_invalid(multibase::decode_base58btc("StV0DL"),
                 "invalid base58btc character '0' at position 3");
  expect_invalid(multibase::decode_base58btc("OStV"), "'O' at position 0");
  expect_invalid(multibase::decode_base58btc("1I"), "'I' at position 1");
  expect_invalid(multibase::decode_base58btc("Stl"), "'l' at position 2");
  expect_invalid(multibase::decode_base58btc("St+V"), "'+' at position 2");
  expect_invalid(multibase::decode_base58btc("St\nV"), "byte 0x0a at position 2");
}

TEST(Multibase, RandomRoundTrips) {
  std::mt19937 rng(7);
  for (std::size_t len = 0; len <= 300; ++len) {
    for (int rep = 0; rep < 3; ++rep) {
      Bytes data(len);
      for (auto& b : data) b = static_cast<std::uint8_t>(rng());
      // Leading zeros exercise base58's '1' handling.
      if (rep == 1 && len > 0) data[0] = 0;
      if (rep == 2 && len > 2) data[0] = data[1] = data[2] = 0;
      for (Base base : {Base::base32, Base::base58btc}) {
        const std::string text = multibase::encode(base, data);
        ASSERT_EQ(text.front(), static_cast<char>(base));
        auto dec = multibase::decode(text);
        ASSERT_TRUE(dec.has_value()) << text << ": " << dec.error().message;
        ASSERT_EQ(*dec, data) << "len " << len << " base " << static_cast<char>(base);
      }
    }
  }
}

TEST(Multibase, AllZeroInputs) {
  for (std::size_t len = 0; len < 40; ++len) {
    const Bytes zeros(len, 0);
    EXPECT_EQ(multibase::encode_base58btc(zeros), std::string(len, '1'));
    auto dec = multibase::decode_base58btc(std::string(len, '1'));
    ASSERT_TRUE(dec.has_value());
    EXPECT_EQ(*dec, zeros);
    auto dec32 = multibase::decode_base32(multibase::encode_base32(zeros));
    ASSERT_TRUE(dec32.has_value());
    EXPECT_EQ(*dec32, zeros);
  }
}

TEST(Multibase, PrefixedEncodeDecode) {
  EXPECT_EQ(multibase::encode(Base::base32, as_bytes("foobar")), "bmzxw6ytboi");
  EXPECT_EQ(multibase::encode(Base::base58btc, as_bytes("hello world")), "zStV1DL6CwTryKyV");
  auto a = multibase::decode("bmzxw6ytboi");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, bytes_of("foobar"));
  auto b = multibase::decode("zStV1DL6CwTryKyV");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*b, bytes_of("hello world"));
  auto empty_body = multibase::decode("b");
  ASSERT_TRUE(empty_body.has_value());
  EXPECT_TRUE(empty_body->empty());
}

TEST(Multibase, RejectsEmptyAndUnsupportedPrefixes) {
  expect_invalid(multibase::decode(""), "empty");
  expect_invalid(multibase::decode("f666f6f"), "unsupported multibase prefix 'f'");
  expect_invalid(multibase::decode("BMZXW6YTBOI"), "unsupported multibase prefix 'B'");
  expect_invalid(multibase::decode("mZm9v"), "unsupported multibase prefix 'm'");
  expect_invalid(multibase::decode("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"),
                 "unsupported multibase prefix 'Q'");
}

TEST(Multibase, RejectsBadBodies) {
  expect_invalid(multibase::decode("bMZXW6"), "'M' at position 1");
  expect_invalid(multibase::decode("zStV0"), "'0' at position 4");
  expect_invalid(multibase::decode("bmy=="), "padding");
  expect_invalid(multibase::decode("zStV0"), "'0'");
}

}  // namespace
}  // namespace ob
