#include "core/cid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/protocol.h"
#include "core/varint.h"

namespace ob {
namespace {

// Vectors computed independently with python3 (hashlib, base64 and a hand-written base58 decoder).
constexpr std::string_view kHelloWorldRaw =
    "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
constexpr std::string_view kHelloWorldRaw58 = "zb2rhj7crUKTQYRGCRATFaQ6YFLTde2YzdqbbhAASkL9uRDXn";
constexpr std::string_view kHelloWorldSha256 =
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
constexpr std::string_view kV0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
constexpr std::string_view kV0Digest =
    "46d44814b9c5af141c3aaab7c05dc5e844ead5f91f12858b021eba45768b4c0e";
// The same digest as a CIDv1 with codec dag-pb.
constexpr std::string_view kV0AsV1 = "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby";

template <typename T>
void expect_invalid(const Result<T>& r, std::string_view needle) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

Bytes digest_of(std::uint8_t fill) { return Bytes(32, fill); }

// varint(1) || varint(codec) || multihash, built by hand so tests do not trust Cid::to_bytes.
Bytes v1_bytes(std::uint64_t version, std::uint64_t codec, std::uint64_t mh_code, std::size_t len,
               std::uint8_t fill = 0xab) {
  Bytes out;
  varint::append(out, version);
  varint::append(out, codec);
  varint::append(out, mh_code);
  varint::append(out, len);
  out.insert(out.end(), len, fill);
  return out;
}

// ---- Multihash ----

TEST(Multihash, Sha256KnownVector) {
  const Multihash mh = Multihash::sha2_256(as_bytes("hello world"));
  EXPECT_EQ(mh.code(), 0x12u);
  EXPECT_EQ(to_hex(mh.digest()), kHelloWorldSha256);
  EXPECT_EQ(to_hex(mh.encode()), std::string("1220") + std::string(kHelloWorldSha256));
  Bytes out{0xee};
  mh.append_to(out);
  EXPECT_EQ(out.size(), 35u);
  EXPECT_EQ(out[0], 0xee);
  EXPECT_EQ(out[1], 0x12);
}

TEST(Multihash, ParseRoundTrip) {
  const Multihash mh = Multihash::sha2_256(as_bytes("abc"));
  auto parsed = Multihash::parse(mh.encode());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(*parsed, mh);

  auto seg = Multihash::make(protocol::kMultihashSegmentTree, digest_of(7));
  ASSERT_TRUE(seg.has_value());
  const Bytes enc = seg->encode();
  EXPECT_EQ(to_hex(ByteView(enc).first(5)), "8180c00120");  // 4-byte code varint, length 32
  auto seg_parsed = Multihash::parse(enc);
  ASSERT_TRUE(seg_parsed.has_value());
  EXPECT_EQ(*seg_parsed, *seg);
}

TEST(Multihash, ParsePrefixReportsSize) {
  Bytes in = Multihash::sha2_256(as_bytes("x")).encode();
  in.push_back(0x99);
  in.push_back(0x98);
  auto r = Multihash::parse_prefix(in);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->second, 34u);
  expect_invalid(Multihash::parse(in), "2 trailing bytes after multihash");
}

TEST(Multihash, IdentityUpToLimit) {
  auto empty = Multihash::make(protocol::kMultihashIdentity, {});
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->encode(), (Bytes{0x00, 0x00}));
  const Bytes max(127, 0x5a);
  auto big = Multihash::make(protocol::kMultihashIdentity, max);
  ASSERT_TRUE(big.has_value());
  auto parsed = Multihash::parse(big->encode());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, *big);
  expect_invalid(Multihash::make(protocol::kMultihashIdentity, Bytes(128, 0)),
                 "longer than the limit");
}

TEST(Multihash, RejectsWrongDigestLengths) {
  expect_invalid(Multihash::make(protocol::kMultihashSha2_256, Bytes(31, 0)),
                 "sha2-256 multihash digest must be 32 bytes, not 31");
  expect_invalid(Multihash::make(protocol::kMultihashSha2_256, Bytes(33, 0)), "not 33");
  expect_invalid(Multihash::make(protocol::kMultihashSegmentTree, Bytes(16, 0)), "segment-tree");
  expect_invalid(Multihash::make(std::uint64_t{1} << 63, Bytes(4, 0)), "does not fit");
  // The same checks apply when parsing.
  Bytes short_sha{0x12, 0x1f};
  short_sha.insert(short_sha.end(), 31, 0);
  expect_invalid(Multihash::parse(short_sha), "must be 32 bytes");
  Bytes long_len{0x00, 0x80, 0x01};  // identity, declared length 128
  long_len.insert(long_len.end(), 128, 0);
  expect_invalid(Multihash::parse(long_len), "length 128 is longer than the limit");
}

TEST(Multihash, RejectsMalformed) {
  expect_invalid(Multihash::parse({}), "multihash code: varint is empty");
  expect_invalid(Multihash::parse(Bytes{0x12}), "multihash length: varint is empty");
  expect_invalid(Multihash::parse(Bytes{0x92}), "truncated");
  expect_invalid(Multihash::parse(Bytes{0x92, 0x00, 0x20}), "minimal");
  Bytes truncated{0x12, 0x20};
  truncated.insert(truncated.end(), 31, 0);
  expect_invalid(Multihash::parse(truncated), "digest length 32 but only 31 bytes follow");
  // A huge declared length must be refused, not allocated or wrapped.
  Bytes huge{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  expect_invalid(Multihash::parse(huge), "longer than the limit");
}

// ---- CID ----

TEST(Cid, RawSha256KnownVector) {
  const Cid cid = Cid::raw_sha256(as_bytes("hello world"));
  EXPECT_EQ(cid.version(), 1u);
  EXPECT_EQ(cid.codec(), 0x55u);
  EXPECT_EQ(cid.to_string(), kHelloWorldRaw);
  EXPECT_EQ(cid.to_string(multibase::Base::base32), kHelloWorldRaw);
  EXPECT_EQ(cid.to_string(multibase::Base::base58btc), kHelloWorldRaw58);
  EXPECT_EQ(to_hex(cid.to_bytes()), std::string("01551220") + std::string(kHelloWorldSha256));
}

TEST(Cid, ParseV1RoundTrips) {
  auto cid = Cid::parse(kHelloWorldRaw);
  ASSERT_TRUE(cid.has_value()) << cid.error().message;
  EXPECT_EQ(cid->version(), 1u);
  EXPECT_EQ(cid->codec(), 0x55u);
  EXPECT_EQ(cid->hash().code(), 0x12u);
  EXPECT_EQ(to_hex(cid->hash().digest()), kHelloWorldSha256);
  EXPECT_EQ(cid->to_string(), kHelloWorldRaw);
  EXPECT_EQ(*cid, Cid::raw_sha256(as_bytes("hello world")));

  auto from58 = Cid::parse(kHelloWorldRaw58);
  ASSERT_TRUE(from58.has_value()) << from58.error().message;
  EXPECT_EQ(*from58, *cid);

  auto from_bin = Cid::from_bytes(cid->to_bytes());
  ASSERT_TRUE(from_bin.has_value());
  EXPECT_EQ(*from_bin, *cid);
}

TEST(Cid, ParseV0) {
  auto cid = Cid::parse(kV0);
  ASSERT_TRUE(cid.has_value()) << cid.error().message;
  EXPECT_EQ(cid->version(), 0u);
  EXPECT_EQ(cid->codec(), 0x70u);
  EXPECT_EQ(cid->hash().code(), 0x12u);
  EXPECT_EQ(to_hex(cid->hash().digest()), kV0Digest);
  EXPECT_EQ(cid->to_string(), kV0);
  // CIDv0 has no multibase form: asking for one still yields "Qm...".
  EXPECT_EQ(cid->to_string(multibase::Base::base32), kV0);

  const Bytes bin = cid->to_bytes();
  EXPECT_EQ(to_hex(bin), std::string("1220") + std::string(kV0Digest));
  auto from_bin = Cid::from_bytes(bin);
  ASSERT_TRUE(from_bin.has_value());
  EXPECT_EQ(from_bin->version(), 0u);
  EXPECT_EQ(*from_bin, *cid);

  // The same hash as a CIDv1 is a different CID with a different text.
  const Cid v1 = Cid::v1(protocol::kCodecDagPb, cid->hash());
  EXPECT_EQ(v1.to_string(), kV0AsV1);
  EXPECT_NE(v1, *cid);
  auto v1_parsed = Cid::parse(kV0AsV1);
  ASSERT_TRUE(v1_parsed.has_value());
  EXPECT_EQ(*v1_parsed, v1);
}

TEST(Cid, OtherCodecsAndHashes) {
  auto seg = Multihash::make(protocol::kMultihashSegmentTree, digest_of(0x11));
  ASSERT_TRUE(seg.has_value());
  const Cid manifest = Cid::v1(protocol::kCodecManifest, *seg);
  const Bytes bin = manifest.to_bytes();
  EXPECT_EQ(bin.size(), 1u + 4 + 4 + 1 + 32);
  EXPECT_EQ(to_hex(ByteView(bin).first(10)), "018080c0018180c00120");
  auto parsed = Cid::parse(manifest.to_string());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->codec(), protocol::kCodecManifest);
  EXPECT_EQ(parsed->hash().code(), protocol::kMultihashSegmentTree);
  EXPECT_EQ(*parsed, manifest);

  // The largest identity multihash still fits the text limit in both bases.
  auto ident = Multihash::make(protocol::kMultihashIdentity, Bytes(127, 0xff));
  ASSERT_TRUE(ident.has_value());
  const Cid inline_cid = Cid::v1(protocol::kCodecRaw, *ident);
  for (auto base : {multibase::Base::base32, multibase::Base::base58btc}) {
    const std::string text = inline_cid.to_string(base);
    EXPECT_LE(text.size(), protocol::kMaxCidSize);
    auto back = Cid::parse(text);
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, inline_cid);
  }
}

TEST(Cid, RejectsEmpty) {
  expect_invalid(Cid::parse(""), "empty");
  expect_invalid(Cid::from_bytes({}), "empty");
  expect_invalid(Cid::parse("b"), "");
}

TEST(Cid, RejectsOverLongInput) {
  const std::string text = "b" + std::string(protocol::kMaxCidSize, 'a');
  expect_invalid(Cid::parse(text), "longer than the limit of 256");
  expect_invalid(Cid::from_bytes(Bytes(protocol::kMaxCidSize + 1, 0x01)), "longer than the limit");
}

TEST(Cid, RejectsUnsupportedVersions) {
  const Bytes v2 = v1_bytes(2, 0x55, 0x12, 32);
  expect_invalid(Cid::from_bytes(v2), "unsupported CID version 2");
  expect_invalid(Cid::parse(multibase::encode(multibase::Base::base32, v2)),
                 "unsupported CID version 2");
  const Bytes v3 = v1_bytes(3, 0x55, 0x12, 32);
  expect_invalid(Cid::from_bytes(v3), "unsupported CID version 3");
  // CIDv0 has no version field; an explicit 0 is not a valid encoding.
  const Bytes v0_explicit = v1_bytes(0, 0x70, 0x12, 32);
  expect_invalid(Cid::from_bytes(v0_explicit), "unsupported CID version 0");
}

TEST(Cid, RejectsMultibaseCidV0) {
  auto v0 = Cid::parse(kV0);
  ASSERT_TRUE(v0.has_value());
  const Bytes bin = v0->to_bytes();
  expect_invalid(Cid::parse(multibase::encode(multibase::Base::base32, bin)),
                 "CIDv0 cannot be multibase");
  expect_invalid(Cid::parse(multibase::encode(multibase::Base::base58btc, bin)),
                 "CIDv0 cannot be multibase");
}

TEST(Cid, RejectsTrailingBytes) {
  Bytes bin = Cid::raw_sha256(as_bytes("hello world")).to_bytes();
  bin.push_back(0x00);
  expect_invalid(Cid::from_bytes(bin), "1 trailing bytes after CID");
  expect_invalid(Cid::parse(multibase::encode(multibase::Base::base32, bin)), "trailing bytes");
  // A sha2-256 multihash followed by more bytes is not a 34-byte CIDv0.
  Bytes v0 = Multihash::sha2_256(as_bytes("x")).encode();
  v0.push_back(0x01);
  expect_invalid(Cid::from_bytes(v0), "CIDv0 must be exactly 34 bytes");
}

TEST(Cid, RejectsMalformedBinary) {
  expect_invalid(Cid::from_bytes(Bytes{0x01}), "CID codec: varint is empty");
  expect_invalid(Cid::from_bytes(Bytes{0x01, 0x55}), "multihash code");
  expect_invalid(Cid::from_bytes(Bytes{0x81}), "CID version: varint is truncated");
  expect_invalid(Cid::from_bytes(Bytes{0x81, 0x00, 0x55, 0x00, 0x00}), "minimal");
  Bytes non_minimal_codec{0x01, 0xd5, 0x00, 0x00, 0x00};
  expect_invalid(Cid::from_bytes(non_minimal_codec), "CID codec: varint is not minimally encoded");
  expect_invalid(Cid::from_bytes(v1_bytes(1, 0x55, 0x12, 31)), "must be 32 bytes, not 31");
  Bytes truncated = v1_bytes(1, 0x55, 0x12, 32);
  truncated.pop_back();
  expect_invalid(Cid::from_bytes(truncated), "truncated");
  Bytes short_v0 = Multihash::sha2_256(as_bytes("x")).encode();
  short_v0.pop_back();
  expect_invalid(Cid::from_bytes(short_v0), "CIDv0 must be exactly 34 bytes");
}

TEST(Cid, RejectsBadText) {
  expect_invalid(Cid::parse("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5E"),
                 "invalid base32 character 'E' at position 58");
  expect_invalid(Cid::parse("BAFKREIFZJUT3TE2NHYEKKLSS27NH3K72YSCO7Y32KOAO5EEI66WOF36N5E"),
                 "unsupported multibase prefix 'B'");
  expect_invalid(Cid::parse("fafkreifzjut3te2nhyekklss"), "unsupported multibase prefix 'f'");
  expect_invalid(Cid::parse("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e="),
                 "padding");
  expect_invalid(Cid::parse("bafkrei1zjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
                 "'1' at position 7");
  // A 46-character "Qm" string with a character outside base58.
  expect_invalid(Cid::parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff50"),
                 "'0' at position 45");
  // A "Qm" string of the wrong length is not CIDv0 and 'Q' is no multibase prefix.
  expect_invalid(Cid::parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5"),
                 "unsupported multibase prefix 'Q'");
  expect_invalid(Cid::parse("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5"), "");
}

TEST(Cid, EveryTruncationFails) {
  for (const Bytes& bin :
       {Cid::raw_sha256(as_bytes("a")).to_bytes(), Cid::parse(kV0)->to_bytes()}) {
    for (std::size_t n = 0; n < bin.size(); ++n) {
      EXPECT_FALSE(Cid::from_bytes(ByteView(bin).first(n)).has_value()) << n;
    }
  }
}

TEST(Cid, MutationsFailOrRoundTrip) {
  // Whatever a mutated CID parses as, it must encode back to exactly the bytes it came from.
  std::mt19937 rng(1);
  const Bytes good = v1_bytes(1, protocol::kCodecManifest, protocol::kMultihashSegmentTree, 32);
  for (int i = 0; i < 5000; ++i) {
    Bytes bin = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) bin[rng() % bin.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0) bin.resize(rng() % bin.size());
    auto cid = Cid::from_bytes(bin);
    if (cid) {
      ASSERT_EQ(cid->to_bytes(), bin) << to_hex(bin);
      auto text = Cid::parse(cid->to_string());
      ASSERT_TRUE(text.has_value()) << text.error().message;
      ASSERT_EQ(*text, *cid);
    }
  }
}

TEST(Cid, RandomTextNeverCrashes) {
  std::mt19937 rng(2);
  using namespace std::literals;
  const std::string_view alphabet =
      "bzQm123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ=\0\xff"sv;
  for (int i = 0; i < 5000; ++i) {
    std::string text(rng() % 80, ' ');
    for (auto& c : text) c = alphabet[rng() % alphabet.size()];
    if (i % 2 == 0 && !text.empty()) text[0] = 'b';
    auto cid = Cid::parse(text);
    if (cid) {
      auto again = Cid::parse(cid->to_string());
      ASSERT_TRUE(again.has_value());
      ASSERT_EQ(*again, *cid);
    }
  }
}

TEST(Cid, OrderingIsByBinaryForm) {
  std::vector<Cid> cids;
  for (int i = 0; i < 50; ++i) {
    cids.push_back(Cid::raw_sha256(as_bytes(std::to_string(i))));
    cids.push_back(
        Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes(std::to_string(i)))));
  }
  cids.push_back(*Cid::parse(kV0));
  cids.push_back(Cid::v1(0x00, *Multihash::make(protocol::kMultihashIdentity, {})));
  std::sort(cids.begin(), cids.end());
  for (std::size_t i = 1; i < cids.size(); ++i) {
    EXPECT_LT(cids[i - 1].to_bytes(), cids[i].to_bytes());
    EXPECT_TRUE(cids[i - 1] < cids[i]);
    EXPECT_FALSE(cids[i] < cids[i - 1]);
  }
  // v0 starts with 0x12, every v1 with 0x01: v0 sorts last.
  EXPECT_EQ(cids.back().version(), 0u);
  EXPECT_EQ(cids.front().codec(), 0x00u);
  const Cid a = Cid::raw_sha256(as_bytes("a"));
  EXPECT_EQ(a <=> Cid::raw_sha256(as_bytes("a")), std::strong_ordering::equal);
}

TEST(Cid, Hashing) {
  std::unordered_set<Cid> set;
  for (int i = 0; i < 100; ++i) set.insert(Cid::raw_sha256(as_bytes(std::to_string(i % 40))));
  EXPECT_EQ(set.size(), 40u);
  EXPECT_TRUE(set.contains(*Cid::parse(Cid::raw_sha256(as_bytes("7")).to_string())));
  const std::hash<Cid> h;
  EXPECT_EQ(h(Cid::raw_sha256(as_bytes("q"))),
            h(*Cid::parse(Cid::raw_sha256(as_bytes("q")).to_string())));
  // Same digest, different codec or version: different CIDs, (almost surely) different hashes.
  const Cid v0 = *Cid::parse(kV0);
  const Cid v1 = Cid::v1(protocol::kCodecDagPb, v0.hash());
  EXPECT_NE(h(v0), h(v1));
}

}  // namespace
}  // namespace ob
