#include "coding/manifest.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "testing/test_util.h"

namespace ob {
namespace {

using ob::testing::from_hex;
using ob::testing::seeded_bytes;

// A minimal protobuf wire writer, so that the tests build encodings without trusting the
// generated code or Manifest::encode.
struct Wire {
  Bytes out;
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
  }
  void tag(std::uint32_t field, std::uint32_t wire_type) { varint((std::uint64_t{field} << 3) | wire_type); }
  void u(std::uint32_t field, std::uint64_t v) {
    tag(field, 0);
    varint(v);
  }
  void bytes(std::uint32_t field, ByteView b) {
    tag(field, 2);
    varint(b.size());
    out.insert(out.end(), b.begin(), b.end());
  }
};

// Every field of the wire format, to build valid and invalid manifests by hand.
struct Fields {
  std::uint64_t version = 1;
  std::uint64_t original_size = 12345;
  std::uint64_t block_size = 65536;
  std::uint64_t segment_size = 1024;
  std::uint64_t k = 4;
  std::uint64_t m = 2;
  std::uint64_t cipher = 1;
  Bytes salt = seeded_bytes(32, 1);
  Bytes nonce = seeded_bytes(12, 2);
  Bytes wrapped_key = seeded_bytes(48, 3);
  std::vector<Bytes> roots;
  Bytes metadata = seeded_bytes(40, 4);
  Bytes extra_key;  // appended raw to the KeyWrap submessage
  Bytes extra;      // appended raw to the message

  Fields() {
    for (std::uint64_t i = 0; i < 6; ++i) roots.push_back(seeded_bytes(32, 10 + i));
  }

  // proto3, deterministic: fields in number order, zero scalars and empty bytes left out.
  Bytes encode() const {
    Wire w;
    auto u = [&](std::uint32_t f, std::uint64_t v) {
      if (v != 0) w.u(f, v);
    };
    u(1, version);
    u(2, original_size);
    u(3, block_size);
    u(4, segment_size);
    u(5, k);
    u(6, m);
    u(7, cipher);
    Wire key;
    if (!salt.empty()) key.bytes(1, salt);
    if (!nonce.empty()) key.bytes(2, nonce);
    if (!wrapped_key.empty()) key.bytes(3, wrapped_key);
    key.out.insert(key.out.end(), extra_key.begin(), extra_key.end());
    w.bytes(8, key.out);
    for (const Bytes& r : roots) w.bytes(9, r);
    if (!metadata.empty()) w.bytes(10, metadata);
    w.out.insert(w.out.end(), extra.begin(), extra.end());
    return w.out;
  }
};

Manifest sample_manifest() {
  Manifest m;
  m.original_size = 12345;
  m.params = {4, 2, 65536};
  m.key = {seeded_bytes(32, 1), seeded_bytes(12, 2), seeded_bytes(48, 3)};
  for (std::uint64_t i = 0; i < 6; ++i) {
    merkle::Hash h;
    const Bytes b = seeded_bytes(32, 10 + i);
    std::copy(b.begin(), b.end(), h.begin());
    m.slot_roots.push_back(h);
  }
  m.encrypted_metadata = seeded_bytes(40, 4);
  return m;
}

bool same_manifest(const Manifest& a, const Manifest& b) {
  return a.original_size == b.original_size && a.params == b.params && a.key.salt == b.key.salt &&
         a.key.nonce == b.key.nonce && a.key.wrapped_key == b.key.wrapped_key &&
         a.slot_roots == b.slot_roots && a.encrypted_metadata == b.encrypted_metadata;
}

void expect_corrupt(ByteView encoded, std::string_view what) {
  auto r = Manifest::decode(encoded);
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_EQ(r.error().code, Errc::corrupt) << what << ": " << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
}

// --- encode / decode -------------------------------------------------------------------------

TEST(ManifestCodec, HandBuiltEncodingDecodes) {
  // Sanity check of the helpers: the hand-built valid encoding decodes.
  auto r = Manifest::decode(Fields{}.encode());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(same_manifest(*r, sample_manifest()));
}

TEST(ManifestCodec, EncodeMatchesTheWireFormat) {
  // Pins field numbers, order and omission rules: a manifest's bytes are its file ID.
  EXPECT_EQ(sample_manifest().encode(), Fields{}.encode());
}

TEST(ManifestCodec, RoundTripKeepsEveryField) {
  Manifest m = sample_manifest();
  m.original_size = 0xfedcba9876ULL;
  m.params = {10, 4, 4096};
  m.slot_roots.clear();
  for (std::uint64_t i = 0; i < 14; ++i) m.slot_roots.push_back(merkle::leaf_hash(seeded_bytes(8, i)));
  m.encrypted_metadata = seeded_bytes(100, 99);
  const Bytes encoded = m.encode();
  auto d = Manifest::decode(encoded);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->original_size, m.original_size);
  EXPECT_EQ(d->params, m.params);
  EXPECT_EQ(d->key.salt, m.key.salt);
  EXPECT_EQ(d->key.nonce, m.key.nonce);
  EXPECT_EQ(d->key.wrapped_key, m.key.wrapped_key);
  EXPECT_EQ(d->slot_roots, m.slot_roots);
  EXPECT_EQ(d->encrypted_metadata, m.encrypted_metadata);
  EXPECT_EQ(d->stripe_count(), m.params.stripe_count(m.original_size));
  EXPECT_EQ(d->encode(), encoded);  // re-encoding is byte-identical: the CID is stable
}

TEST(ManifestCodec, ZeroSizeFileRoundTrips) {
  Manifest m = sample_manifest();
  m.original_size = 0;  // proto3 omits the field; it must still decode as 0
  auto d = Manifest::decode(m.encode());
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->original_size, 0u);
  EXPECT_EQ(d->stripe_count(), 1u);
}

TEST(ManifestCodec, EncodeIsDeterministic) {
  EXPECT_EQ(sample_manifest().encode(), sample_manifest().encode());
}

TEST(ManifestCid, CodecVersionAndDigest) {
  const Bytes encoded = sample_manifest().encode();
  const Cid cid = Manifest::cid_of(encoded);
  EXPECT_EQ(cid.version(), 1u);
  EXPECT_EQ(cid.codec(), 0x300000u);
  EXPECT_EQ(cid.codec(), protocol::kCodecManifest);
  EXPECT_EQ(cid.hash().code(), protocol::kMultihashSha2_256);
  const Sha256Digest digest = Sha256::hash(encoded);
  EXPECT_TRUE(std::ranges::equal(cid.hash().digest(), digest));
  EXPECT_EQ(Manifest::cid_of(encoded), cid);
}

TEST(ManifestCid, ChangesWhenAnyByteChanges) {
  const Bytes encoded = sample_manifest().encode();
  const Cid cid = Manifest::cid_of(encoded);
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    Bytes b = encoded;
    b[i] ^= 0x01;
    EXPECT_NE(Manifest::cid_of(b), cid) << "byte " << i;
  }
  Bytes longer = encoded;
  longer.push_back(0);
  EXPECT_NE(Manifest::cid_of(longer), cid);
  EXPECT_NE(Manifest::cid_of(ByteView(encoded).first(encoded.size() - 1)), cid);
}

TEST(ManifestCid, EverySingleByteFlipFailsOrChangesTheCid) {
  const Bytes encoded = sample_manifest().encode();
  const Cid cid = Manifest::cid_of(encoded);
  const Manifest original = Manifest::decode(encoded).value();
  std::size_t decoded = 0;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
      Bytes b = encoded;
      b[i] ^= mask;
      auto r = Manifest::decode(b);
      if (!r) {
        EXPECT_EQ(r.error().code, Errc::corrupt) << "byte " << i << ": " << r.error().message;
        continue;
      }
      ++decoded;
      EXPECT_NE(Manifest::cid_of(b), cid) << "byte " << i;
      // An accepted flip never yields the original manifest under another ID.
      EXPECT_FALSE(same_manifest(*r, original)) << "byte " << i << " mask " << int{mask};
    }
  }
  // The loop did exercise accepted flips (in salt, roots, metadata...), not only rejections.
  EXPECT_GT(decoded, 100u);
}

// --- decode rejections -----------------------------------------------------------------------

TEST(ManifestDecode, RejectsOversizedInput) {
  Manifest m = sample_manifest();
  // Find metadata sizes giving an encoding of exactly 64 KiB and one byte more.
  std::optional<Bytes> at_limit;
  std::optional<Bytes> over_limit;
  for (std::size_t meta = 65000; meta < 65536 && !(at_limit && over_limit); ++meta) {
    m.encrypted_metadata.assign(meta, 0x5c);
    Bytes e = m.encode();
    if (e.size() == protocol::kMaxManifestSize) at_limit = e;
    if (e.size() == protocol::kMaxManifestSize + 1) over_limit = e;
  }
  ASSERT_TRUE(at_limit && over_limit);
  EXPECT_TRUE(Manifest::decode(*at_limit).has_value());
  expect_corrupt(*over_limit, "64 KiB + 1");
  m.encrypted_metadata.assign(200000, 0x5c);
  expect_corrupt(m.encode(), "200 KB");
}

TEST(ManifestDecode, RejectsGarbage) {
  expect_corrupt(Bytes(10, 0xff), "0xff * 10");
  expect_corrupt(seeded_bytes(300, 77), "random bytes");
  expect_corrupt(Bytes{}, "empty input (version 0)");
  // A valid encoding cut short inside a length-delimited field.
  const Bytes valid = Fields{}.encode();
  expect_corrupt(ByteView(valid).first(valid.size() - 5), "truncated");
  // A length prefix pointing past the end.
  Wire w;
  w.u(1, 1);
  w.tag(10, 2);
  w.varint(1000);
  w.out.push_back(0);
  expect_corrupt(w.out, "overlong length");
}

TEST(ManifestDecode, RejectsWrongVersion) {
  for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{2}, std::uint64_t{0xffffffff}}) {
    Fields f;
    f.version = v;
    expect_corrupt(f.encode(), "version " + std::to_string(v));
  }
}

TEST(ManifestDecode, RejectsWrongCipher) {
  for (std::uint64_t c : {std::uint64_t{0}, std::uint64_t{2}, std::uint64_t{77}}) {
    Fields f;
    f.cipher = c;
    expect_corrupt(f.encode(), "cipher " + std::to_string(c));
  }
}

TEST(ManifestDecode, RejectsWrongSegmentSize) {
  for (std::uint64_t s : {std::uint64_t{0}, std::uint64_t{512}, std::uint64_t{2048}}) {
    Fields f;
    f.segment_size = s;
    expect_corrupt(f.encode(), "segment size " + std::to_string(s));
  }
}

TEST(ManifestDecode, RejectsBadCodingParameters) {
  {
    Fields f;
    f.k = 0;
    f.roots.resize(2);
    expect_corrupt(f.encode(), "k = 0");
  }
  {
    Fields f;
    f.k = 200;
    f.m = 56;
    f.block_size = 4096;
    f.roots.assign(256, Bytes(32, 1));
    expect_corrupt(f.encode(), "k + m = 256");
    f.m = 55;
    f.roots.assign(255, Bytes(32, 1));
    EXPECT_TRUE(Manifest::decode(f.encode()).has_value()) << "k + m = 255 is allowed";
  }
  {
    // k + m overflowing 32 bits must not wrap round to a small n.
    Fields f;
    f.k = 0xffffffff;
    f.m = 2;
    f.roots.resize(1);
    expect_corrupt(f.encode(), "k + m wrapping 2^32");
  }
  for (std::uint64_t bs : {std::uint64_t{0}, std::uint64_t{1024}, std::uint64_t{3072},
                           std::uint64_t{4095}, std::uint64_t{4097}, std::uint64_t{4096 + 512},
                           std::uint64_t{4 * 1024 * 1024 + 1024}, std::uint64_t{0xffffffff}}) {
    Fields f;
    f.block_size = bs;
    expect_corrupt(f.encode(), "block size " + std::to_string(bs));
  }
  {
    Fields f;  // a stripe of 17 blocks of 4 MiB is over the 64 MiB limit
    f.k = 16;
    f.m = 1;
    f.block_size = 4 * 1024 * 1024;
    f.roots.assign(17, Bytes(32, 2));
    expect_corrupt(f.encode(), "68 MiB stripe");
  }
}

TEST(ManifestDecode, RejectsSizesWhoseOffsetsOverflow) {
  Fields f;
  f.k = 1;
  f.m = 0;
  f.block_size = 4096;
  f.roots.resize(1);
  f.original_size = std::numeric_limits<std::uint64_t>::max();
  expect_corrupt(f.encode(), "2^64 - 1 bytes");
  f.original_size = std::uint64_t{1} << 50;  // large but fine
  EXPECT_TRUE(Manifest::decode(f.encode()).has_value());
}

TEST(ManifestDecode, RejectsWrongRootCount) {
  for (std::size_t count : {std::size_t{0}, std::size_t{5}, std::size_t{7}}) {
    Fields f;
    f.roots.resize(count, Bytes(32, 3));
    expect_corrupt(f.encode(), std::to_string(count) + " roots for n = 6");
  }
}

TEST(ManifestDecode, RejectsRootsOfTheWrongSize) {
  for (std::size_t size : {std::size_t{0}, std::size_t{31}, std::size_t{33}, std::size_t{64}}) {
    Fields f;
    f.roots[3] = Bytes(size, 4);
    expect_corrupt(f.encode(), "root of " + std::to_string(size) + " bytes");
  }
}

TEST(ManifestDecode, RejectsWrongKeyWrapSizes) {
  const auto check = [](auto mutate, std::string_view what) {
    Fields f;
    mutate(f);
    expect_corrupt(f.encode(), what);
  };
  check([](Fields& f) { f.salt.resize(31); }, "salt 31");
  check([](Fields& f) { f.salt.resize(33); }, "salt 33");
  check([](Fields& f) { f.salt.clear(); }, "no salt");
  check([](Fields& f) { f.nonce.resize(11); }, "nonce 11");
  check([](Fields& f) { f.nonce.resize(16); }, "nonce 16");
  check([](Fields& f) { f.wrapped_key.resize(32); }, "wrapped key without tag");
  check([](Fields& f) { f.wrapped_key.resize(49); }, "wrapped key 49");
  {
    // No key submessage at all.
    Wire w;
    w.u(1, 1);
    w.u(2, 10);
    w.u(3, 65536);
    w.u(4, 1024);
    w.u(5, 4);
    w.u(6, 2);
    w.u(7, 1);
    for (int i = 0; i < 6; ++i) w.bytes(9, Bytes(32, 5));
    w.bytes(10, Bytes(16, 6));
    expect_corrupt(w.out, "no key");
  }
}

TEST(ManifestDecode, RejectsUnknownFields) {
  {
    Fields f;
    Wire w;
    w.u(11, 1);  // an unknown varint field appended to a valid encoding
    f.extra = w.out;
    expect_corrupt(f.encode(), "unknown field 11");
  }
  {
    Fields f;
    Wire w;
    w.bytes(1000, Bytes(4, 7));  // unknown length-delimited field
    f.extra = w.out;
    expect_corrupt(f.encode(), "unknown field 1000");
  }
  {
    Fields f;
    Wire w;
    w.u(4, 9);  // unknown field inside the KeyWrap submessage
    f.extra_key = w.out;
    expect_corrupt(f.encode(), "unknown key field");
  }
  {
    Fields f;
    Wire w;
    w.tag(1, 5);  // field 1 (version) with the wrong wire type (fixed32) goes to unknown fields
    for (int i = 0; i < 4; ++i) w.out.push_back(1);
    f.extra = w.out;
    expect_corrupt(f.encode(), "known field, wrong wire type");
  }
  // Sanity: the same construction without the extra bytes is accepted.
  EXPECT_TRUE(Manifest::decode(Fields{}.encode()).has_value());
}

// One manifest, one encoding, one file ID: every other encoding protobuf would accept is refused.
TEST(ManifestDecode, RejectsNonCanonicalEncodings) {
  Fields duplicated;
  Wire again;
  again.u(1, 1);  // a second `version` field: protobuf keeps the last, the bytes differ
  duplicated.extra = again.out;
  expect_corrupt(duplicated.encode(), "duplicated field");

  Fields wide;
  wide.k = (std::uint64_t{1} << 32) + 4;  // protobuf truncates to 4
  expect_corrupt(wide.encode(), "64-bit varint in a 32-bit field");

  Fields explicit_zero;
  explicit_zero.m = 0;
  explicit_zero.roots.resize(4);
  Bytes encoded = explicit_zero.encode();
  Wire zero;
  zero.u(6, 0);  // proto3 omits zero scalars; writing one is another encoding of the same value
  encoded.insert(encoded.end(), zero.out.begin(), zero.out.end());
  ASSERT_TRUE(Manifest::decode(explicit_zero.encode()).has_value());
  expect_corrupt(encoded, "explicit zero field");
}

TEST(ManifestDecode, RejectsMetadataShorterThanItsTag) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{15}}) {
    Fields f;
    f.metadata = Bytes(size, 8);
    expect_corrupt(f.encode(), "metadata of " + std::to_string(size));
  }
  Fields f;
  f.metadata = Bytes(16, 8);
  EXPECT_TRUE(Manifest::decode(f.encode()).has_value()) << "16 bytes: an empty name and type";
}

// --- file keys -------------------------------------------------------------------------------

TEST(ManifestKey, NewFileKeyUnwrapsWithTheSameMasterSecret) {
  const Bytes master = seeded_bytes(32, 20);
  auto made = new_file_key(master);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  const auto& [key, wrap] = *made;
  EXPECT_EQ(wrap.salt.size(), protocol::kFileKeySaltSize);
  EXPECT_EQ(wrap.nonce.size(), protocol::kNonceSize);
  EXPECT_EQ(wrap.wrapped_key.size(), protocol::kKeySize + protocol::kTagSize);
  // The key is the documented derivation from the salt, and the wrap does not hold it in clear.
  EXPECT_EQ(key, crypto::derive_file_key(master, wrap.salt).value());
  EXPECT_FALSE(std::ranges::equal(ByteView(wrap.wrapped_key).first(32), key));
  auto back = unwrap_file_key(master, wrap);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, key);
}

TEST(ManifestKey, EachNewFileGetsItsOwnKeySaltAndNonce) {
  const Bytes master = seeded_bytes(32, 21);
  auto a = new_file_key(master).value();
  auto b = new_file_key(master).value();
  EXPECT_NE(a.first, b.first);
  EXPECT_NE(a.second.salt, b.second.salt);
  EXPECT_NE(a.second.nonce, b.second.nonce);
}

TEST(ManifestKey, UnwrapsAnIndependentlyBuiltWrap) {
  // Built with python3's `cryptography` AESGCM: wrap key = HKDF(master, "", wrap label),
  // AAD = "open-bucket/v1/key-wrap" || salt.
  KeyWrap wrap;
  wrap.salt.resize(32);
  for (std::size_t i = 0; i < 32; ++i) wrap.salt[i] = static_cast<std::uint8_t>(100 + i);
  wrap.nonce.resize(12);
  for (std::size_t i = 0; i < 12; ++i) wrap.nonce[i] = static_cast<std::uint8_t>(i);
  wrap.wrapped_key = from_hex(
      "2a1764fac121dd637537c336eeecccc070379a9f44b4356df6f1815548b4ce9817d7207cfea4fff63057b4be53"
      "9f4d2f");
  auto key = unwrap_file_key(Bytes(32, 0x42), wrap);
  ASSERT_TRUE(key.has_value()) << key.error().message;
  EXPECT_EQ(to_hex(*key), "b8ac2fddd5abb148091a3919ae39cfbe462fadf6d53c2c778dc2f1d05bca148f");
}

TEST(ManifestKey, UnwrapWithAnotherMasterSecretIsCorrupt) {
  const auto made = new_file_key(seeded_bytes(32, 22)).value();
  auto r = unwrap_file_key(seeded_bytes(32, 23), made.second);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST(ManifestKey, TamperedWrapIsCorrupt) {
  const Bytes master = seeded_bytes(32, 24);
  const KeyWrap wrap = new_file_key(master).value().second;
  const auto expect_bad = [&](KeyWrap w, std::string_view what) {
    auto r = unwrap_file_key(master, w);
    ASSERT_FALSE(r.has_value()) << what;
    EXPECT_EQ(r.error().code, Errc::corrupt) << what;
  };
  KeyWrap w = wrap;
  w.salt[0] ^= 1;  // the salt is bound as AAD
  expect_bad(w, "salt");
  w = wrap;
  w.nonce[11] ^= 1;
  expect_bad(w, "nonce");
  w = wrap;
  w.wrapped_key[0] ^= 1;
  expect_bad(w, "key");
  w = wrap;
  w.wrapped_key[47] ^= 1;
  expect_bad(w, "tag");
  w = wrap;
  w.nonce.resize(11);
  expect_bad(w, "short nonce");
  w = wrap;
  w.wrapped_key.resize(32);
  expect_bad(w, "missing tag");
  w = wrap;
  w.wrapped_key.push_back(0);
  expect_bad(w, "long wrapped key");
}

// --- metadata --------------------------------------------------------------------------------

TEST(ManifestMetadata, SealOpenRoundTrip) {
  const crypto::Key key = crypto::derive_file_key(seeded_bytes(32, 30), seeded_bytes(32, 31)).value();
  for (const FileMetadata& md :
       {FileMetadata{"report.pdf", "application/pdf"}, FileMetadata{"", ""},
        FileMetadata{"caf\xc3\xa9 \xe2\x98\x95.txt", "text/plain; charset=utf-8"},
        FileMetadata{std::string(4096, 'n'), "x"}}) {
    auto sealed = seal_metadata(key, md);
    ASSERT_TRUE(sealed.has_value()) << sealed.error().message;
    EXPECT_GE(sealed->size(), protocol::kTagSize + md.name.size() + md.mime_type.size());
    if (!md.name.empty()) {
      // The name does not appear in clear.
      const std::string s(as_chars(*sealed));
      EXPECT_EQ(s.find(md.name), std::string::npos);
    }
    auto opened = open_metadata(key, *sealed);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    EXPECT_EQ(opened->name, md.name);
    EXPECT_EQ(opened->mime_type, md.mime_type);
  }
}

TEST(ManifestMetadata, KnownAnswer) {
  crypto::Key key;
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  // python3: AESGCM(key).encrypt(ff*4 || 00*8, FileMetadata pb, b"open-bucket/v1/metadata")
  const Bytes expected = from_hex(
      "938acbe14cfedab5bd477660355ba2b33130c4e032dcef24229854b09ab2b39c1c2c1a");
  auto sealed = seal_metadata(key, {"a.txt", "text/plain"});
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(to_hex(*sealed), to_hex(expected));
  auto opened = open_metadata(key, expected);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->name, "a.txt");
  EXPECT_EQ(opened->mime_type, "text/plain");
}

TEST(ManifestMetadata, TamperingIsCorrupt) {
  const crypto::Key key = crypto::derive_file_key(seeded_bytes(32, 32), seeded_bytes(32, 33)).value();
  const Bytes sealed = seal_metadata(key, {"secret-name.bin", "application/octet-stream"}).value();
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    Bytes b = sealed;
    b[i] ^= 0x04;
    auto r = open_metadata(key, b);
    ASSERT_FALSE(r.has_value()) << "byte " << i;
    EXPECT_EQ(r.error().code, Errc::corrupt) << "byte " << i;
  }
  crypto::Key other = key;
  other[0] ^= 1;
  auto r = open_metadata(other, sealed);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  r = open_metadata(key, ByteView(sealed).first(15));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
  r = open_metadata(key, ByteView(sealed).first(sealed.size() - 1));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

// --- coding parameters -----------------------------------------------------------------------

void expect_invalid(const CodingParams& p, std::string_view what) {
  auto r = p.validate();
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_EQ(r.error().code, Errc::invalid_argument) << what;
}

TEST(ManifestParams, ValidateAcceptsGoodParameters) {
  EXPECT_TRUE(CodingParams{}.validate().has_value());
  EXPECT_TRUE((CodingParams{1, 0, 4096}.validate().has_value()));
  EXPECT_TRUE((CodingParams{1, 254, 4096}.validate().has_value()));
  EXPECT_TRUE((CodingParams{10, 4, 5120}.validate().has_value()));  // any multiple of 1 KiB
  EXPECT_TRUE((CodingParams{4, 2, 4 * 1024 * 1024}.validate().has_value()));
  // Exactly 64 MiB per stripe is allowed.
  EXPECT_TRUE((CodingParams{15, 1, 4 * 1024 * 1024}.validate().has_value()));
  EXPECT_TRUE((CodingParams{200, 55, 263168}.validate().has_value()));  // 255 * 257 KiB < 64 MiB
}

TEST(ManifestParams, ValidateRejectsBadParameters) {
  expect_invalid({0, 2, 65536}, "k = 0");
  expect_invalid({250, 6, 4096}, "k + m = 256");
  expect_invalid({1, 255, 4096}, "k + m = 256 with k = 1");
  expect_invalid({0xffffffffu, 1, 4096}, "k + m wrapping 2^32");
  expect_invalid({4, 0xffffffffu, 4096}, "m huge");
  expect_invalid({4, 2, 0}, "block size 0");
  expect_invalid({4, 2, 3072}, "block size below 4 KiB");
  expect_invalid({4, 2, 4095}, "block size 4095");
  expect_invalid({4, 2, 4096 + 512}, "not a multiple of 1 KiB");
  expect_invalid({4, 2, 4 * 1024 * 1024 + 1024}, "above 4 MiB");
  expect_invalid({16, 1, 4 * 1024 * 1024}, "stripe 68 MiB");
  expect_invalid({200, 55, 264192}, "stripe just over 64 MiB");
}

TEST(ManifestParams, DerivedSizes) {
  const CodingParams p{4, 2, 4096};
  EXPECT_EQ(p.n(), 6u);
  EXPECT_EQ(p.chunk_size(), 4096u - 16u);
  EXPECT_EQ(p.stripe_plaintext_size(), 4u * 4080u);
}

TEST(ManifestParams, StripeCount) {
  const CodingParams p{4, 2, 4096};
  const std::uint64_t s = p.stripe_plaintext_size();
  EXPECT_EQ(p.stripe_count(0), 1u);
  EXPECT_EQ(p.stripe_count(1), 1u);
  EXPECT_EQ(p.stripe_count(s - 1), 1u);
  EXPECT_EQ(p.stripe_count(s), 1u);
  EXPECT_EQ(p.stripe_count(s + 1), 2u);
  EXPECT_EQ(p.stripe_count(2 * s), 2u);
  EXPECT_EQ(p.stripe_count(2 * s + 1), 3u);
  EXPECT_EQ(p.stripe_count(1000 * s), 1000u);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(p.stripe_count(max), max / s + (max % s != 0 ? 1 : 0));
  const CodingParams one{1, 0, 4096};
  EXPECT_EQ(one.stripe_count(4080), 1u);
  EXPECT_EQ(one.stripe_count(4081), 2u);
}

}  // namespace
}  // namespace ob
