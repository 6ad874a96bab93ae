#include "coding/erasure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace ob {
namespace {

using Block = std::vector<std::uint8_t>;

// A stripe of n owned blocks plus the pointer arrays the coder takes.
struct Stripe {
  std::vector<Block> blocks;

  Stripe(std::size_t n, std::size_t len) : blocks(n, Block(len)) {}

  std::vector<const std::uint8_t*> data(std::size_t k) const {
    std::vector<const std::uint8_t*> p;
    for (std::size_t i = 0; i < k; ++i) p.push_back(blocks[i].data());
    return p;
  }
  std::vector<std::uint8_t*> parity(std::size_t k) {
    std::vector<std::uint8_t*> p;
    for (std::size_t i = k; i < blocks.size(); ++i) p.push_back(blocks[i].data());
    return p;
  }
  std::vector<std::uint8_t*> all() {
    std::vector<std::uint8_t*> p;
    for (auto& b : blocks) p.push_back(b.data());
    return p;
  }
};

// k random data blocks, parity encoded.
Stripe encoded(ErasureCoder& coder, std::size_t len, std::uint32_t seed) {
  Stripe s(coder.n(), len);
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < coder.k(); ++i) {
    for (auto& byte : s.blocks[i]) byte = static_cast<std::uint8_t>(rng());
  }
  const auto data = s.data(coder.k());
  const auto parity = s.parity(coder.k());
  coder.encode(data, parity, len);
  return s;
}

// Overwrites the blocks in `lost` (bit i: block i) with garbage, decodes, returns the result.
Result<void> lose_and_decode(ErasureCoder& coder, Stripe& s, std::uint64_t lost) {
  const std::size_t n = coder.n();
  std::unique_ptr<bool[]> present(new bool[n]);
  for (std::size_t i = 0; i < n; ++i) {
    present[i] = ((lost >> i) & 1) == 0;
    if (!present[i]) std::fill(s.blocks[i].begin(), s.blocks[i].end(), std::uint8_t{0xA5});
  }
  const auto ptrs = s.all();
  return coder.decode(ptrs, std::span<const bool>(present.get(), n), s.blocks[0].size());
}

// Reference GF(2^8) with ISA-L's polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d).
std::uint8_t ref_mul(std::uint8_t a, std::uint8_t b) {
  unsigned r = 0;
  unsigned x = a;
  for (unsigned y = b; y != 0; y >>= 1) {
    if ((y & 1) != 0) r ^= x;
    x <<= 1;
    if ((x & 0x100) != 0) x ^= 0x11d;
  }
  return static_cast<std::uint8_t>(r);
}
std::uint8_t ref_inv(std::uint8_t a) {
  for (unsigned b = 1; b < 256; ++b) {
    if (ref_mul(a, static_cast<std::uint8_t>(b)) == 1) return static_cast<std::uint8_t>(b);
  }
  return 0;
}

TEST(ErasureMake, ValidatesParameters) {
  EXPECT_EQ(ErasureCoder::make(0, 2).error().code, Errc::invalid_argument);
  EXPECT_EQ(ErasureCoder::make(200, 56).error().code, Errc::invalid_argument);
  EXPECT_EQ(ErasureCoder::make(1, 255).error().code, Errc::invalid_argument);
  EXPECT_EQ(ErasureCoder::make(256, 0).error().code, Errc::invalid_argument);
  EXPECT_EQ(ErasureCoder::make(SIZE_MAX, 2).error().code, Errc::invalid_argument);
  EXPECT_EQ(ErasureCoder::make(2, SIZE_MAX).error().code, Errc::invalid_argument);
  auto ok = ErasureCoder::make(200, 55);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->k(), 200u);
  EXPECT_EQ(ok->m(), 55u);
  EXPECT_EQ(ok->n(), 255u);
  EXPECT_TRUE(ErasureCoder::make(1, 0).has_value());
}

// The parity bytes are a storage format: they must be the documented Cauchy code, computed here
// with an independent GF(2^8): parity row i (k <= i < n), column j = 1 / (i xor j).
TEST(ErasureEncode, MatchesReferenceCauchyCode) {
  for (auto [k, m] : {std::pair<std::size_t, std::size_t>{4, 2}, {10, 4}, {2, 3}}) {
    auto coder = ErasureCoder::make(k, m).value();
    Stripe s = encoded(coder, 77, 5);
    for (std::size_t i = k; i < k + m; ++i) {
      for (std::size_t byte = 0; byte < 77; ++byte) {
        std::uint8_t want = 0;
        for (std::size_t j = 0; j < k; ++j) {
          want ^= ref_mul(ref_inv(static_cast<std::uint8_t>(i ^ j)), s.blocks[j][byte]);
        }
        ASSERT_EQ(s.blocks[i][byte], want) << "k=" << k << " parity " << i << " byte " << byte;
      }
    }
  }
}

TEST(ErasureEncode, ReplicationParityEqualsData) {
  for (std::size_t m : {1u, 2u, 5u}) {
    auto coder = ErasureCoder::make(1, m).value();
    Stripe s = encoded(coder, 1000, 9);
    for (std::size_t i = 1; i <= m; ++i) EXPECT_EQ(s.blocks[i], s.blocks[0]) << m << "/" << i;
  }
}

TEST(ErasureEncode, WrongSpanSizesWriteNothing) {
  auto coder = ErasureCoder::make(4, 2).value();
  Stripe s(6, 64);
  const auto data = s.data(3);  // one short
  const auto parity = s.parity(4);
  s.blocks[4].assign(64, 0x11);
  coder.encode(data, parity, 64);
  EXPECT_EQ(s.blocks[4], Block(64, 0x11));
}

// Every loss pattern of up to m blocks (data and parity) is repaired byte-identically; every
// pattern of m + 1 is reported unrecoverable.
TEST(ErasureDecode, EveryRecoverableLossPattern) {
  const std::vector<std::pair<std::size_t, std::size_t>> configs = {
      {1, 2}, {4, 2}, {10, 4}, {3, 0}, {2, 3}};
  for (auto [k, m] : configs) {
    auto coder = ErasureCoder::make(k, m).value();
    const std::size_t n = k + m;
    const std::size_t len = 333;  // not a multiple of the SIMD width: exercises the tails
    const Stripe original = encoded(coder, len, static_cast<std::uint32_t>(k * 31 + m));
    std::size_t repaired = 0;
    std::size_t refused = 0;
    for (std::uint64_t lost = 0; lost < (std::uint64_t{1} << n); ++lost) {
      const auto count = static_cast<std::size_t>(std::popcount(lost));
      if (count > m + 1) continue;
      Stripe s = original;
      auto r = lose_and_decode(coder, s, lost);
      if (count <= m) {
        ASSERT_TRUE(r.has_value())
            << "k=" << k << " m=" << m << " lost=" << lost << ": " << r.error().message;
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ(s.blocks[i], original.blocks[i])
              << "k=" << k << " m=" << m << " lost=" << lost << " block " << i;
        }
        ++repaired;
      } else {
        ASSERT_FALSE(r.has_value()) << "k=" << k << " m=" << m << " lost=" << lost;
        EXPECT_EQ(r.error().code, Errc::unrecoverable);
        ++refused;
      }
    }
    EXPECT_GT(repaired, 0u);
    EXPECT_GT(refused, 0u);
  }
}

TEST(ErasureDecode, UnrecoverableMessage) {
  auto coder = ErasureCoder::make(4, 2).value();
  Stripe s = encoded(coder, 64, 1);
  auto r = lose_and_decode(coder, s, 0b010101);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::unrecoverable);
  EXPECT_EQ(r.error().message, "only 3 of 6 blocks present, need 4");
}

TEST(ErasureDecode, WrongSpanSizes) {
  auto coder = ErasureCoder::make(4, 2).value();
  Stripe s(6, 64);
  auto ptrs = s.all();
  bool present[6] = {true, true, true, true, true, false};
  EXPECT_EQ(coder.decode(std::span(ptrs).first(5), present, 64).error().code,
            Errc::invalid_argument);
  EXPECT_EQ(coder.decode(ptrs, std::span<const bool>(present).first(5), 64).error().code,
            Errc::invalid_argument);
  ptrs.push_back(ptrs[0]);
  EXPECT_EQ(coder.decode(ptrs, present, 64).error().code, Errc::invalid_argument);
}

TEST(ErasureDecode, CacheFollowsAlternatingPatterns) {
  auto coder = ErasureCoder::make(10, 4).value();
  const std::uint64_t a = 0b0000'0000'1001'01;  // data blocks 0, 2 and 5
  const std::uint64_t b = 0b1100'0000'0000'11;  // data 0, 1 and parity 12, 13
  const std::uint64_t patterns[] = {a, b, a, a, b, 0b1, a};
  std::uint32_t seed = 100;
  for (std::uint64_t lost : patterns) {
    const Stripe original = encoded(coder, 4096 + 3, seed++);  // fresh data every time
    Stripe s = original;
    ASSERT_TRUE(lose_and_decode(coder, s, lost).has_value());
    for (std::size_t i = 0; i < coder.n(); ++i)
      ASSERT_EQ(s.blocks[i], original.blocks[i]) << lost << "/" << i;
  }
}

TEST(ErasureDecode, OddLengths) {
  for (std::size_t len :
       {std::size_t{1}, std::size_t{31}, std::size_t{33}, std::size_t{65536 + 7}}) {
    for (auto [k, m] : {std::pair<std::size_t, std::size_t>{4, 2}, {10, 4}, {1, 2}}) {
      auto coder = ErasureCoder::make(k, m).value();
      const Stripe original = encoded(coder, len, static_cast<std::uint32_t>(len));
      const std::uint64_t n = k + m;
      // Single losses, the last m blocks, the first m blocks.
      std::vector<std::uint64_t> patterns;
      for (std::size_t i = 0; i < n; ++i) patterns.push_back(std::uint64_t{1} << i);
      patterns.push_back(((std::uint64_t{1} << m) - 1) << k);
      patterns.push_back((std::uint64_t{1} << m) - 1);
      for (std::uint64_t lost : patterns) {
        Stripe s = original;
        ASSERT_TRUE(lose_and_decode(coder, s, lost).has_value());
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_EQ(s.blocks[i], original.blocks[i])
              << "len " << len << " k=" << k << " lost " << lost;
        }
      }
    }
  }
}

TEST(ErasureDecode, WidestStripe) {
  // 255 rows, 127 of them lost: a large Cauchy submatrix must still invert.
  auto coder = ErasureCoder::make(128, 127).value();
  const Stripe original = encoded(coder, 40, 7);
  Stripe s = original;
  const std::size_t n = coder.n();
  std::unique_ptr<bool[]> present(new bool[n]);
  for (std::size_t i = 0; i < n; ++i) {
    present[i] = i % 2 == 1 || i >= 254;  // lose every even block but the last
    if (!present[i]) std::fill(s.blocks[i].begin(), s.blocks[i].end(), std::uint8_t{0});
  }
  const auto ptrs = s.all();
  ASSERT_TRUE(coder.decode(ptrs, std::span<const bool>(present.get(), n), 40).has_value());
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(s.blocks[i], original.blocks[i]) << i;
}

TEST(ErasureDecode, MovedCoderStillWorks) {
  auto first = ErasureCoder::make(4, 2).value();
  ErasureCoder coder = std::move(first);
  const Stripe original = encoded(coder, 100, 3);
  Stripe s = original;
  ASSERT_TRUE(lose_and_decode(coder, s, 0b100001).has_value());
  EXPECT_EQ(s.blocks, original.blocks);
}

}  // namespace
}  // namespace ob
