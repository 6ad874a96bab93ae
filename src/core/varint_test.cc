#include "core/varint.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

namespace ob {
namespace {

Bytes encode(std::uint64_t value) {
  Bytes out;
  varint::append(out, value);
  return out;
}

TEST(Varint, KnownEncodings) {
  EXPECT_EQ(encode(0), (Bytes{0x00}));
  EXPECT_EQ(encode(1), (Bytes{0x01}));
  EXPECT_EQ(encode(127), (Bytes{0x7f}));
  EXPECT_EQ(encode(128), (Bytes{0x80, 0x01}));
  EXPECT_EQ(encode(255), (Bytes{0xff, 0x01}));
  EXPECT_EQ(encode(300), (Bytes{0xac, 0x02}));
  EXPECT_EQ(encode(16383), (Bytes{0xff, 0x7f}));
  EXPECT_EQ(encode(16384), (Bytes{0x80, 0x80, 0x01}));
  EXPECT_EQ(encode(0x300001), (Bytes{0x81, 0x80, 0xc0, 0x01}));
  EXPECT_EQ(encode((std::uint64_t{1} << 63) - 1),
            (Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}));
}

TEST(Varint, BoundariesRoundTripAndSizesAgree) {
  const std::uint64_t max = (std::uint64_t{1} << 63) - 1;
  const std::uint64_t values[] = {0,
                                  1,
                                  127,
                                  128,
                                  16383,
                                  16384,
                                  2097151,
                                  2097152,
                                  268435455,
                                  268435456,
                                  1u << 31,
                                  max - 1,
                                  max,
                                  std::uint64_t{1} << 56,
                                  (std::uint64_t{1} << 56) - 1};
  const std::size_t sizes[] = {1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 9, 9, 9, 8};
  for (std::size_t i = 0; i < std::size(values); ++i) {
    const Bytes enc = encode(values[i]);
    EXPECT_EQ(enc.size(), sizes[i]) << values[i];
    EXPECT_EQ(varint::encoded_size(values[i]), enc.size()) << values[i];
    auto dec = varint::decode(enc);
    ASSERT_TRUE(dec.has_value()) << values[i] << ": " << dec.error().message;
    EXPECT_EQ(dec->value, values[i]);
    EXPECT_EQ(dec->size, enc.size());
  }
}

TEST(Varint, RandomRoundTripWithTrailingBytes) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t value = rng() >> (1 + rng() % 63);
    Bytes enc = encode(value);
    const std::size_t size = enc.size();
    ASSERT_EQ(varint::encoded_size(value), size);
    enc.push_back(0xaa);  // decode must stop at the varint's end
    enc.push_back(0x01);
    auto dec = varint::decode(enc);
    ASSERT_TRUE(dec.has_value()) << dec.error().message;
    EXPECT_EQ(dec->value, value);
    EXPECT_EQ(dec->size, size);
  }
}

TEST(Varint, AppendAppends) {
  Bytes out{0x42};
  varint::append(out, 300);
  EXPECT_EQ(out, (Bytes{0x42, 0xac, 0x02}));
}

TEST(Varint, RejectsEmpty) {
  auto r = varint::decode({});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

TEST(Varint, RejectsTruncated) {
  for (const Bytes& in : {Bytes{0x80}, Bytes{0xff, 0xff}, Bytes{0x81, 0x80, 0xc0},
                          Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}) {
    auto r = varint::decode(in);
    ASSERT_FALSE(r.has_value()) << to_hex(in);
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
  }
}

TEST(Varint, RejectsNonMinimal) {
  for (const Bytes& in : {Bytes{0x80, 0x00}, Bytes{0x81, 0x00}, Bytes{0xff, 0x80, 0x00},
                          Bytes{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}}) {
    auto r = varint::decode(in);
    ASSERT_FALSE(r.has_value()) << to_hex(in);
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("minimal"), std::string::npos) << r.error().message;
  }
  // A single zero byte is the minimal encoding of 0.
  auto zero = varint::decode(Bytes{0x00});
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->value, 0u);
}

TEST(Varint, RejectsTenBytes) {
  // 2^63 needs 10 bytes; multiformats caps varints at 9.
  const Bytes ten{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  auto r = varint::decode(ten);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("longer than 9"), std::string::npos) << r.error().message;
  // Nine continuation bytes are too long even before the input ends.
  auto nine = varint::decode(Bytes(9, 0xff));
  ASSERT_FALSE(nine.has_value());
  EXPECT_NE(nine.error().message.find("longer than 9"), std::string::npos);
}

TEST(Varint, DecodesOnlyWhatItNeeds) {
  const Bytes in{0x05, 0x80};  // trailing junk after a complete varint is the caller's business
  auto r = varint::decode(in);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, 5u);
  EXPECT_EQ(r->size, 1u);
}

}  // namespace
}  // namespace ob
