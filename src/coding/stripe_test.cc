#include "coding/stripe.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "coding/block.h"
#include "coding/erasure.h"
#include "core/protocol.h"

namespace ob {
namespace {

crypto::Key test_key(std::uint8_t seed) {
  crypto::Key key;
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return key;
}

void fill_random(MutableByteView out, std::mt19937_64& rng) {
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
}

// One encoded stripe, copied out of the encoder.
struct Encoded {
  std::uint64_t index = 0;
  std::vector<Bytes> plaintext;  // k chunks
  std::vector<Bytes> blocks;     // n blocks
  std::vector<merkle::Hash> roots;
};

Encoded encode_stripe(StripeEncoder& enc, std::uint64_t stripe, std::mt19937_64& rng) {
  const CodingParams& p = enc.params();
  Encoded e;
  e.index = stripe;
  for (std::size_t d = 0; d < p.k; ++d) {
    MutableByteView pt = enc.plaintext(d);
    EXPECT_EQ(pt.size(), p.chunk_size());
    fill_random(pt, rng);
    e.plaintext.emplace_back(pt.begin(), pt.end());
  }
  auto ok = enc.encode(stripe);
  EXPECT_TRUE(ok.has_value()) << ok.error().message;
  for (std::size_t i = 0; i < p.n(); ++i) {
    e.blocks.emplace_back(enc.block(i).begin(), enc.block(i).end());
    e.roots.push_back(enc.root(i));
  }
  return e;
}

// Loads every block not in `dropped` into the decoder (dropped ones get garbage and are not
// offered), decodes and compares. Returns a description of the first failure, or "".
std::string decode_without(StripeDecoder& dec, const Encoded& e, const std::vector<std::size_t>& dropped) {
  const CodingParams& p = dec.params();
  dec.reset();
  for (std::size_t i = 0; i < p.n(); ++i) {
    MutableByteView b = dec.block(i);
    if (std::find(dropped.begin(), dropped.end(), i) != dropped.end()) {
      std::memset(b.data(), 0xa5, b.size());  // stale bytes: a rebuild must overwrite them
      continue;
    }
    std::copy(e.blocks[i].begin(), e.blocks[i].end(), b.begin());
    if (!dec.accept(i, e.roots[i])) return "accept rejected intact block " + std::to_string(i);
  }
  if (dec.present_count() != p.n() - dropped.size()) return "present count";
  auto r = dec.decode(e.index);
  if (!r) return "decode failed: " + r.error().message;
  const bool data_dropped =
      std::any_of(dropped.begin(), dropped.end(), [&](std::size_t i) { return i < p.k; });
  if (*r != data_dropped) return "rebuilt flag";
  for (std::size_t d = 0; d < p.k; ++d) {
    const ByteView pt = dec.plaintext(d);
    if (pt.size() != p.chunk_size()) return "plaintext size";
    if (!std::ranges::equal(pt, e.plaintext[d])) return "plaintext of data block " + std::to_string(d);
  }
  return "";
}

// All subsets of {0..n-1} of size <= max_size.
void subsets(std::size_t n, std::size_t max_size, std::size_t start, std::vector<std::size_t>& cur,
             std::vector<std::vector<std::size_t>>& out) {
  out.push_back(cur);
  if (cur.size() == max_size) return;
  for (std::size_t i = start; i < n; ++i) {
    cur.push_back(i);
    subsets(n, max_size, i + 1, cur, out);
    cur.pop_back();
  }
}

struct Shape {
  std::uint32_t k, m, block_size;
};

class StripeRoundTrip : public ::testing::TestWithParam<Shape> {};

TEST_P(StripeRoundTrip, DecodesAfterLosingAnyMBlocks) {
  const Shape s = GetParam();
  const CodingParams p{s.k, s.m, s.block_size};
  auto enc = StripeEncoder::make(p, test_key(1));
  auto dec = StripeDecoder::make(p, test_key(1));
  ASSERT_TRUE(enc && dec);
  std::mt19937_64 rng(s.k * 1000 + s.m + s.block_size);

  // Two stripes, the second at a non-zero index, so that nonces depend on the stripe.
  std::vector<Encoded> stripes;
  stripes.push_back(encode_stripe(*enc, 0, rng));
  stripes.push_back(encode_stripe(*enc, 7, rng));

  std::vector<std::vector<std::size_t>> patterns;
  std::vector<std::size_t> cur;
  subsets(p.n(), p.m, 0, cur, patterns);
  if (patterns.size() > 60) {
    // Sample: keep the empty pattern, every single loss, the all-data-lost-first pattern and a
    // deterministic random sample of the rest.
    std::vector<std::vector<std::size_t>> sample;
    std::vector<std::vector<std::size_t>> rest;
    for (auto& pat : patterns) (pat.size() <= 1 ? sample : rest).push_back(pat);
    std::shuffle(rest.begin(), rest.end(), rng);
    rest.resize(40);
    std::vector<std::size_t> first_m;
    for (std::size_t i = 0; i < p.m; ++i) first_m.push_back(i);
    sample.push_back(first_m);
    std::vector<std::size_t> last_m;  // every parity lost
    for (std::size_t i = p.k; i < p.n(); ++i) last_m.push_back(i);
    sample.push_back(last_m);
    sample.insert(sample.end(), rest.begin(), rest.end());
    patterns = std::move(sample);
  }
  for (const Encoded& e : stripes) {
    for (const auto& pat : patterns) {
      const std::string err = decode_without(*dec, e, pat);
      std::string name;
      for (std::size_t i : pat) name += std::to_string(i) + " ";
      ASSERT_EQ(err, "") << "stripe " << e.index << ", dropped {" << name << "}";
    }
  }
}

TEST_P(StripeRoundTrip, MoreThanMLostIsUnrecoverable) {
  const Shape s = GetParam();
  const CodingParams p{s.k, s.m, s.block_size};
  auto enc = StripeEncoder::make(p, test_key(2));
  auto dec = StripeDecoder::make(p, test_key(2));
  ASSERT_TRUE(enc && dec);
  std::mt19937_64 rng(5);
  const Encoded e = encode_stripe(*enc, 3, rng);
  // Keep only k - 1 blocks: the last ones (parity first), then the first ones.
  for (bool from_end : {true, false}) {
    dec->reset();
    std::size_t kept = 0;
    for (std::size_t c = 0; c + 1 < p.k; ++c) {
      const std::size_t i = from_end ? p.n() - 1 - c : c;
      std::copy(e.blocks[i].begin(), e.blocks[i].end(), dec->block(i).begin());
      ASSERT_TRUE(dec->accept(i, e.roots[i]));
      ++kept;
    }
    EXPECT_EQ(dec->present_count(), kept);
    EXPECT_FALSE(dec->enough());
    auto r = dec->decode(3);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::unrecoverable);
  }
}

TEST_P(StripeRoundTrip, EncoderRootsAreBlockRoots) {
  const Shape s = GetParam();
  const CodingParams p{s.k, s.m, s.block_size};
  auto enc = StripeEncoder::make(p, test_key(3));
  ASSERT_TRUE(enc.has_value());
  std::mt19937_64 rng(6);
  const Encoded e = encode_stripe(*enc, 0, rng);
  for (std::size_t i = 0; i < p.n(); ++i) {
    EXPECT_EQ(e.roots[i], merkle::block_root(e.blocks[i])) << i;
    EXPECT_EQ(e.blocks[i].size(), s.block_size);
  }
}

INSTANTIATE_TEST_SUITE_P(Stripe, StripeRoundTrip,
                         ::testing::Values(Shape{1, 2, 4096}, Shape{1, 2, 65536}, Shape{4, 2, 4096},
                                           Shape{4, 2, 65536}, Shape{10, 4, 4096},
                                           Shape{10, 4, 65536}),
                         [](const ::testing::TestParamInfo<Shape>& param_info) {
                           return "k" + std::to_string(param_info.param.k) + "m" +
                                  std::to_string(param_info.param.m) + "b" +
                                  std::to_string(param_info.param.block_size);
                         });

class StripeCoding : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = StripeEncoder::make(params, key);
    auto d = StripeDecoder::make(params, key);
    ASSERT_TRUE(e && d);
    enc.emplace(std::move(*e));
    dec.emplace(std::move(*d));
    std::mt19937_64 rng(42);
    encoded = encode_stripe(*enc, 2, rng);
  }

  void load_all() {
    dec->reset();
    for (std::size_t i = 0; i < params.n(); ++i) {
      std::copy(encoded.blocks[i].begin(), encoded.blocks[i].end(), dec->block(i).begin());
      ASSERT_TRUE(dec->accept(i, encoded.roots[i])) << i;
    }
  }

  const CodingParams params{4, 2, 4096};
  const crypto::Key key = test_key(9);
  std::optional<StripeEncoder> enc;
  std::optional<StripeDecoder> dec;
  Encoded encoded;
};

TEST_F(StripeCoding, DataBlocksAreTheDocumentedCiphertext) {
  // data block d of stripe s = AES-256-GCM(key, block_nonce(s * k + d), chunk) || tag
  crypto::Aead aead = crypto::Aead::make(key).value();
  for (std::size_t d = 0; d < params.k; ++d) {
    const ByteView block(encoded.blocks[d]);
    Bytes plain(params.chunk_size());
    auto ok = aead.open(crypto::block_nonce(2 * params.k + d), {}, block.first(params.chunk_size()),
                        block.subspan(params.chunk_size()), plain);
    ASSERT_TRUE(ok.has_value()) << d << ": " << ok.error().message;
    EXPECT_EQ(plain, encoded.plaintext[d]);
    EXPECT_FALSE(std::ranges::equal(block.first(params.chunk_size()), encoded.plaintext[d]));
  }
}

TEST_F(StripeCoding, ParityIsReedSolomonOverTheCiphertext) {
  ErasureCoder coder = ErasureCoder::make(params.k, params.m).value();
  std::vector<const std::uint8_t*> data;
  for (std::size_t d = 0; d < params.k; ++d) data.push_back(encoded.blocks[d].data());
  std::vector<Bytes> parity(params.m, Bytes(params.block_size));
  std::vector<std::uint8_t*> parity_ptrs;
  for (auto& b : parity) parity_ptrs.push_back(b.data());
  coder.encode(data, parity_ptrs, params.block_size);
  for (std::size_t p = 0; p < params.m; ++p) EXPECT_EQ(parity[p], encoded.blocks[params.k + p]) << p;
}

TEST_F(StripeCoding, AcceptRejectsACorruptedBlock) {
  dec->reset();
  for (std::size_t i = 0; i < params.n(); ++i) {
    std::copy(encoded.blocks[i].begin(), encoded.blocks[i].end(), dec->block(i).begin());
  }
  dec->block(1)[100] ^= 0x01;
  EXPECT_FALSE(dec->accept(1, encoded.roots[1]));
  EXPECT_EQ(dec->present_count(), 0u);
  // A good block offered with another block's root is rejected too.
  EXPECT_FALSE(dec->accept(0, encoded.roots[2]));
  EXPECT_EQ(dec->present_count(), 0u);
  // The rest is accepted; the corrupted block stays absent and is rebuilt.
  for (std::size_t i : {0u, 2u, 3u, 4u, 5u}) EXPECT_TRUE(dec->accept(i, encoded.roots[i])) << i;
  EXPECT_EQ(dec->present_count(), 5u);
  auto r = dec->decode(2);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(*r);
  EXPECT_TRUE(std::ranges::equal(dec->plaintext(1), encoded.plaintext[1]));
}

TEST_F(StripeCoding, AcceptIgnoresDuplicatesAndOutOfRange) {
  load_all();
  EXPECT_EQ(dec->present_count(), params.n());
  EXPECT_FALSE(dec->accept(0, encoded.roots[0]));  // already present: not counted twice
  EXPECT_EQ(dec->present_count(), params.n());
  EXPECT_FALSE(dec->accept(params.n(), encoded.roots[0]));
  EXPECT_EQ(dec->present_count(), params.n());
  dec->reset();
  EXPECT_EQ(dec->present_count(), 0u);
  EXPECT_FALSE(dec->enough());
}

TEST_F(StripeCoding, WrongStripeIndexFailsAuthentication) {
  load_all();
  auto r = dec->decode(3);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt) << r.error().message;

  // Same with a rebuilt data block.
  dec->reset();
  for (std::size_t i = 1; i < params.n(); ++i) {
    std::copy(encoded.blocks[i].begin(), encoded.blocks[i].end(), dec->block(i).begin());
    ASSERT_TRUE(dec->accept(i, encoded.roots[i]));
  }
  r = dec->decode(0);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);

  load_all();
  r = dec->decode(2);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(*r);
}

TEST_F(StripeCoding, SwappedDataBlocksFailAuthentication) {
  // Nonces bind the position within the stripe: blocks 0 and 1 swapped (with their roots, as a
  // lying index would give) do not decrypt.
  dec->reset();
  for (std::size_t i = 0; i < params.n(); ++i) {
    const std::size_t src = i == 0 ? 1 : i == 1 ? 0 : i;
    std::copy(encoded.blocks[src].begin(), encoded.blocks[src].end(), dec->block(i).begin());
    ASSERT_TRUE(dec->accept(i, encoded.roots[src]));
  }
  auto r = dec->decode(2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST_F(StripeCoding, AnotherKeyFailsAuthentication) {
  auto other = StripeDecoder::make(params, test_key(10));
  ASSERT_TRUE(other.has_value());
  for (std::size_t i = 0; i < params.n(); ++i) {
    std::copy(encoded.blocks[i].begin(), encoded.blocks[i].end(), other->block(i).begin());
    ASSERT_TRUE(other->accept(i, encoded.roots[i]));  // roots need no key
  }
  auto r = other->decode(2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST_F(StripeCoding, SameInputSameOutput) {
  // Deterministic: re-encoding the same plaintext as the same stripe gives the same blocks,
  // and as another stripe gives different ciphertext.
  for (std::size_t d = 0; d < params.k; ++d) {
    std::copy(encoded.plaintext[d].begin(), encoded.plaintext[d].end(), enc->plaintext(d).begin());
  }
  ASSERT_TRUE(enc->encode(2).has_value());
  for (std::size_t i = 0; i < params.n(); ++i) {
    EXPECT_TRUE(std::ranges::equal(enc->block(i), encoded.blocks[i])) << i;
  }
  for (std::size_t d = 0; d < params.k; ++d) {
    std::copy(encoded.plaintext[d].begin(), encoded.plaintext[d].end(), enc->plaintext(d).begin());
  }
  ASSERT_TRUE(enc->encode(5).has_value());
  EXPECT_FALSE(std::ranges::equal(enc->block(0), encoded.blocks[0]));
}

TEST(StripeReplication, KOneParityBlocksEqualTheDataBlock) {
  const CodingParams p{1, 3, 4096};
  auto enc = StripeEncoder::make(p, test_key(4));
  ASSERT_TRUE(enc.has_value());
  std::mt19937_64 rng(8);
  const Encoded e = encode_stripe(*enc, 0, rng);
  for (std::size_t i = 1; i < p.n(); ++i) {
    EXPECT_EQ(e.blocks[i], e.blocks[0]) << i;
    EXPECT_EQ(e.roots[i], e.roots[0]) << i;
  }
}

TEST(StripeMake, RejectsInvalidParams) {
  for (const CodingParams& p : {CodingParams{0, 2, 4096}, CodingParams{4, 2, 4095},
                                CodingParams{250, 10, 4096}, CodingParams{16, 1, 4 * 1024 * 1024}}) {
    auto e = StripeEncoder::make(p, test_key(0));
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().code, Errc::invalid_argument);
    auto d = StripeDecoder::make(p, test_key(0));
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error().code, Errc::invalid_argument);
  }
}

TEST(StripeMake, NoParityStillRoundTrips) {
  const CodingParams p{3, 0, 4096};
  auto enc = StripeEncoder::make(p, test_key(5));
  auto dec = StripeDecoder::make(p, test_key(5));
  ASSERT_TRUE(enc && dec);
  std::mt19937_64 rng(9);
  const Encoded e = encode_stripe(*enc, 11, rng);
  EXPECT_EQ(decode_without(*dec, e, {}), "");
  // Any loss is unrecoverable without parity.
  dec->reset();
  for (std::size_t i = 1; i < p.n(); ++i) {
    std::copy(e.blocks[i].begin(), e.blocks[i].end(), dec->block(i).begin());
    ASSERT_TRUE(dec->accept(i, e.roots[i]));
  }
  auto r = dec->decode(11);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::unrecoverable);
}

// --- block CIDs (coding/block.h) -------------------------------------------------------------

Bytes pattern_block(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return out;
}

TEST(StripeBlockCid, SlotBlockCidShape) {
  const Bytes block = pattern_block(4096, 1);
  const merkle::Hash root = merkle::block_root(block);
  const Cid cid = slot_block_cid(root);
  EXPECT_EQ(cid.version(), 1u);
  EXPECT_EQ(cid.codec(), protocol::kCodecRaw);
  EXPECT_EQ(cid.hash().code(), protocol::kMultihashSegmentTree);
  EXPECT_TRUE(std::ranges::equal(cid.hash().digest(), root));
  // Not the sha2-256 CID of the same bytes.
  EXPECT_NE(cid, Cid::raw_sha256(block));
}

TEST(StripeBlockCid, CheckBlockAcceptsGoodAndRejectsFlippedSlotBlocks) {
  const Bytes block = pattern_block(8192, 2);
  const Cid cid = slot_block_cid(merkle::block_root(block));
  EXPECT_TRUE(check_block(cid, block).has_value());
  for (std::size_t pos : {std::size_t{0}, std::size_t{1023}, std::size_t{1024}, std::size_t{8191}}) {
    Bytes b = block;
    b[pos] ^= 0x10;
    auto r = check_block(cid, b);
    ASSERT_FALSE(r.has_value()) << pos;
    EXPECT_EQ(r.error().code, Errc::corrupt) << pos;
  }
  // A block that is a prefix of the right one is a different tree.
  auto r = check_block(cid, ByteView(block).first(4096));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST(StripeBlockCid, CheckBlockRejectsBadSlotBlockSizes) {
  const Bytes block = pattern_block(4096, 3);
  const Cid cid = slot_block_cid(merkle::block_root(block));
  for (std::size_t size : {std::size_t{0}, std::size_t{1000}, std::size_t{4095}}) {
    auto r = check_block(cid, ByteView(block).first(size));
    ASSERT_FALSE(r.has_value()) << size;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << size;
  }
}

TEST(StripeBlockCid, CheckBlockRawSha256) {
  const std::string_view text = "hello world";
  const Cid cid = Cid::raw_sha256(as_bytes(text));
  EXPECT_EQ(cid.to_string(), "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
  EXPECT_TRUE(check_block(cid, as_bytes(text)).has_value());
  auto r = check_block(cid, as_bytes("hello worle"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  r = check_block(cid, as_bytes("hello world!"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  // Empty data has a CID too.
  EXPECT_TRUE(check_block(Cid::raw_sha256({}), {}).has_value());
  // A manifest CID (codec 0x300000, sha2-256) is checked the same way.
  const Bytes m = pattern_block(300, 4);
  EXPECT_TRUE(check_block(Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(m)), m).has_value());
}

TEST(StripeBlockCid, CheckBlockIdentity) {
  const Cid cid = Cid::v1(protocol::kCodecRaw,
                          Multihash::make(protocol::kMultihashIdentity, as_bytes("abc")).value());
  EXPECT_TRUE(check_block(cid, as_bytes("abc")).has_value());
  auto r = check_block(cid, as_bytes("abd"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  r = check_block(cid, as_bytes("ab"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST(StripeBlockCid, UnsupportedMultihashIsInvalidArgument) {
  const Bytes data = pattern_block(64, 5);
  // sha2-512 (0x13) and blake2b-256 (0xb220): valid multihashes this node does not verify.
  for (const auto& [code, len] : {std::pair<std::uint64_t, std::size_t>{0x13, 64},
                                  std::pair<std::uint64_t, std::size_t>{0xb220, 32}}) {
    auto mh = Multihash::make(code, Bytes(len, 0x11));
    ASSERT_TRUE(mh.has_value()) << mh.error().message;
    auto r = check_block(Cid::v1(protocol::kCodecRaw, *mh), data);
    ASSERT_FALSE(r.has_value()) << code;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << code;
  }
}

}  // namespace
}  // namespace ob
