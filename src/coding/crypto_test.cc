#include "coding/crypto.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "testing/test_util.h"

namespace ob::crypto {
namespace {

using ob::testing::from_hex;
using ob::testing::seeded_bytes;

// Known answers computed independently with python3 (hmac/hashlib for HKDF, the `cryptography`
// package's AESGCM for AES-256-GCM), except the RFC 5869 and GCM-spec vectors quoted from them.

Key key_of(std::uint8_t first) {
  Key key;
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(first + i);
  return key;
}

// --- HKDF ------------------------------------------------------------------------------------

TEST(CryptoHkdf, Rfc5869TestCase1) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = from_hex("000102030405060708090a0b0c");
  const Bytes info_bytes = from_hex("f0f1f2f3f4f5f6f7f8f9");
  const std::string info(as_chars(info_bytes));
  const auto key = hkdf_sha256(ikm, salt, info);
  ASSERT_TRUE(key.has_value()) << key.error().message;
  EXPECT_EQ(to_hex(*key), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
}

TEST(CryptoHkdf, Rfc5869TestCase3EmptySaltAndInfo) {
  // Exercises the "empty salt is left out" path: RFC 5869 then uses HashLen zero bytes.
  const Bytes ikm(22, 0x0b);
  const auto key = hkdf_sha256(ikm, {}, "");
  ASSERT_TRUE(key.has_value()) << key.error().message;
  EXPECT_EQ(to_hex(*key), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
}

TEST(CryptoHkdf, EmptySaltEqualsZeroSalt) {
  const Bytes ikm = seeded_bytes(32, 1);
  const auto a = hkdf_sha256(ikm, {}, "label");
  const auto b = hkdf_sha256(ikm, Bytes(32, 0), "label");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(CryptoHkdf, InfoSaltAndIkmAllMatter) {
  const Bytes ikm = seeded_bytes(32, 2);
  const Bytes salt = seeded_bytes(32, 3);
  const Key base = hkdf_sha256(ikm, salt, "a").value();
  EXPECT_EQ(base, hkdf_sha256(ikm, salt, "a").value());  // deterministic
  EXPECT_NE(base, hkdf_sha256(ikm, salt, "b").value());
  Bytes salt2 = salt;
  salt2[31] ^= 1;
  EXPECT_NE(base, hkdf_sha256(ikm, salt2, "a").value());
  Bytes ikm2 = ikm;
  ikm2[0] ^= 1;
  EXPECT_NE(base, hkdf_sha256(ikm2, salt, "a").value());
}

TEST(CryptoDerive, WrapAndFileKeysMatchTheDocumentedDerivation) {
  Bytes master(32);
  for (std::size_t i = 0; i < master.size(); ++i) master[i] = static_cast<std::uint8_t>(i);
  const Bytes salt(32, 0xaa);
  const auto wrap = derive_wrap_key(master);
  const auto file = derive_file_key(master, salt);
  ASSERT_TRUE(wrap && file);
  EXPECT_EQ(to_hex(*wrap), "2b2dd5551ea500952a11034b9c5f5b3e11c0f5026e3875a77a395306c02d13fa");
  EXPECT_EQ(to_hex(*file), "195e250e1882b00673b8bc1c0f09697e70f3c27cb1ec4a6ed18c0feea645574a");
  EXPECT_EQ(*wrap, hkdf_sha256(master, {}, "open-bucket/v1/wrap-key").value());
  EXPECT_EQ(*file, hkdf_sha256(master, salt, "open-bucket/v1/file-key").value());
}

TEST(CryptoDerive, DifferentSaltsGiveDifferentFileKeys) {
  const Bytes master = seeded_bytes(32, 4);
  std::set<Key> keys;
  for (std::uint64_t s = 0; s < 16; ++s) {
    keys.insert(derive_file_key(master, seeded_bytes(32, 100 + s)).value());
  }
  EXPECT_EQ(keys.size(), 16u);
  // Same salt, same key: a file key is recoverable from the manifest's salt.
  const Bytes salt = seeded_bytes(32, 5);
  EXPECT_EQ(derive_file_key(master, salt).value(), derive_file_key(master, salt).value());
  // Another owner's master secret with the same salt gives another key.
  EXPECT_NE(derive_file_key(master, salt).value(),
            derive_file_key(seeded_bytes(32, 6), salt).value());
}

TEST(CryptoDerive, WrapKeyDiffersFromFileKeys) {
  const Bytes master = seeded_bytes(32, 7);
  const Key wrap = derive_wrap_key(master).value();
  EXPECT_NE(wrap, derive_file_key(master, seeded_bytes(32, 8)).value());
  // Even with the wrap key's own (empty) salt the labels keep them apart.
  EXPECT_NE(wrap, derive_file_key(master, {}).value());
  EXPECT_NE(wrap, derive_file_key(master, Bytes(32, 0)).value());
}

TEST(CryptoRandom, FillsAndDiffers) {
  Bytes a(64, 0);
  Bytes b(64, 0);
  ASSERT_TRUE(random_bytes(a).has_value());
  ASSERT_TRUE(random_bytes(b).has_value());
  EXPECT_NE(a, b);
  EXPECT_NE(a, Bytes(64, 0));
}

// --- nonces ----------------------------------------------------------------------------------

TEST(CryptoNonce, BlockNonceIsFourZerosThenBigEndianIndex) {
  EXPECT_EQ(to_hex(block_nonce(0)), "000000000000000000000000");
  EXPECT_EQ(to_hex(block_nonce(1)), "000000000000000000000001");
  EXPECT_EQ(to_hex(block_nonce(0x0102030405060708ULL)), "000000000102030405060708");
  EXPECT_EQ(to_hex(block_nonce(0x100)), "000000000000000000000100");
  EXPECT_EQ(to_hex(block_nonce(UINT64_MAX)), "00000000ffffffffffffffff");
}

TEST(CryptoNonce, BlockNoncesAreDistinct) {
  std::set<Nonce> seen;
  for (std::uint64_t i = 0; i < 1000; ++i) seen.insert(block_nonce(i));
  for (int shift = 16; shift < 64; shift += 8) seen.insert(block_nonce(std::uint64_t{1} << shift));
  EXPECT_EQ(seen.size(), 1000u + 6u);
}

TEST(CryptoNonce, MetadataNonceIsOutsideTheBlockRange) {
  EXPECT_EQ(to_hex(metadata_nonce()), "ffffffff0000000000000000");
  for (std::uint64_t i : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0xffffffff},
                          std::uint64_t{0xffffffff00000000ULL}, UINT64_MAX}) {
    EXPECT_NE(metadata_nonce(), block_nonce(i)) << i;
  }
}

// --- AES-256-GCM -----------------------------------------------------------------------------

TEST(CryptoAead, GcmSpecTestCases13And14) {
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14.
  Aead aead = Aead::make(Key{}).value();
  Bytes tag(16);
  Bytes empty_out;
  ASSERT_TRUE(aead.seal(Nonce{}, {}, Bytes{}, empty_out, tag).has_value());
  EXPECT_EQ(to_hex(tag), "530f8afbc74536b9a963b4f1c4cb738b");

  const Bytes zeros(16, 0);
  Bytes out(16);
  ASSERT_TRUE(aead.seal(Nonce{}, {}, zeros, out, tag).has_value());
  EXPECT_EQ(to_hex(out), "cea7403d4d606b6e074ec5d3baf39d18");
  EXPECT_EQ(to_hex(tag), "d0d1c8a799996bf0265b98b5d48ab919");

  Bytes back(16, 0xee);
  ASSERT_TRUE(aead.open(Nonce{}, {}, out, tag, back).has_value());
  EXPECT_EQ(back, zeros);
  // Empty plaintext authenticates too (sealed metadata of an unnamed file is empty).
  EXPECT_TRUE(aead.open(Nonce{}, {}, Bytes{}, from_hex("530f8afbc74536b9a963b4f1c4cb738b"),
                        empty_out)
                  .has_value());
}

TEST(CryptoAead, KnownAnswerWithAadAndBlockNonce) {
  Aead aead = Aead::make(key_of(0)).value();
  const std::string_view text = "Open Bucket";
  Bytes out(text.size());
  Bytes tag(16);
  ASSERT_TRUE(aead.seal(block_nonce(0x0102030405060708ULL), as_bytes("hello"), as_bytes(text), out,
                        tag)
                  .has_value());
  EXPECT_EQ(to_hex(out) + to_hex(tag),
            "4b210060fda37cfd68fa89c9a2d8e5f49c0a0e4e2c077356e44376");
}

class CryptoAeadTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    plaintext = seeded_bytes(1000, 11);
    aad = seeded_bytes(40, 12);
    ciphertext.resize(plaintext.size());
    tag.resize(protocol::kTagSize);
    Aead aead = Aead::make(key).value();
    ASSERT_TRUE(aead.seal(nonce, aad, plaintext, ciphertext, tag).has_value());
  }

  Result<void> open_with(const Key& k, const Nonce& n, ByteView a, ByteView c, ByteView t) {
    Aead aead = Aead::make(k).value();
    out.assign(c.size(), 0);
    return aead.open(n, a, c, t, out);
  }

  const Key key = key_of(7);
  const Nonce nonce = block_nonce(42);
  Bytes plaintext, aad, ciphertext, tag, out;
};

TEST_F(CryptoAeadTamper, RoundTrip) {
  EXPECT_NE(ciphertext, plaintext);
  auto ok = open_with(key, nonce, aad, ciphertext, tag);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(out, plaintext);
}

TEST_F(CryptoAeadTamper, InPlaceRoundTrip) {
  Aead aead = Aead::make(key).value();
  Bytes buf = plaintext;
  Bytes t(16);
  ASSERT_TRUE(aead.seal(nonce, aad, buf, buf, t).has_value());
  EXPECT_EQ(buf, ciphertext);  // same nonce, same key: same output as out-of-place
  EXPECT_EQ(t, tag);
  ASSERT_TRUE(aead.open(nonce, aad, buf, t, buf).has_value());
  EXPECT_EQ(buf, plaintext);
}

TEST_F(CryptoAeadTamper, ContextIsReusableAcrossCalls) {
  // The context is reused: a failed open must not poison the next good one.
  Aead aead = Aead::make(key).value();
  Bytes bad_tag = tag;
  bad_tag[0] ^= 1;
  Bytes buf(ciphertext.size());
  EXPECT_FALSE(aead.open(nonce, aad, ciphertext, bad_tag, buf).has_value());
  ASSERT_TRUE(aead.open(nonce, aad, ciphertext, tag, buf).has_value());
  EXPECT_EQ(buf, plaintext);
  Bytes c2(plaintext.size());
  Bytes t2(16);
  ASSERT_TRUE(aead.seal(nonce, aad, plaintext, c2, t2).has_value());
  EXPECT_EQ(c2, ciphertext);
  EXPECT_EQ(t2, tag);
}

TEST_F(CryptoAeadTamper, FlippedCiphertextBitIsCorrupt) {
  for (std::size_t pos : {std::size_t{0}, std::size_t{499}, ciphertext.size() - 1}) {
    for (int bit : {0, 7}) {
      Bytes c = ciphertext;
      c[pos] ^= static_cast<std::uint8_t>(1u << bit);
      auto r = open_with(key, nonce, aad, c, tag);
      ASSERT_FALSE(r.has_value()) << pos;
      EXPECT_EQ(r.error().code, Errc::corrupt);
    }
  }
}

TEST_F(CryptoAeadTamper, FlippedTagBitIsCorrupt) {
  for (std::size_t pos = 0; pos < tag.size(); ++pos) {
    Bytes t = tag;
    t[pos] ^= 0x80;
    auto r = open_with(key, nonce, aad, ciphertext, t);
    ASSERT_FALSE(r.has_value()) << pos;
    EXPECT_EQ(r.error().code, Errc::corrupt);
  }
}

TEST_F(CryptoAeadTamper, FlippedAadBitIsCorrupt) {
  for (std::size_t pos : {std::size_t{0}, aad.size() - 1}) {
    Bytes a = aad;
    a[pos] ^= 1;
    auto r = open_with(key, nonce, a, ciphertext, tag);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::corrupt);
  }
  // Dropping the AAD altogether is also detected.
  auto r = open_with(key, nonce, {}, ciphertext, tag);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST_F(CryptoAeadTamper, FlippedNonceBitIsCorrupt) {
  for (std::size_t pos = 0; pos < nonce.size(); ++pos) {
    Nonce n = nonce;
    n[pos] ^= 1;
    auto r = open_with(key, n, aad, ciphertext, tag);
    ASSERT_FALSE(r.has_value()) << pos;
    EXPECT_EQ(r.error().code, Errc::corrupt);
  }
}

TEST_F(CryptoAeadTamper, WrongKeyIsCorrupt) {
  Key k = key;
  k[31] ^= 1;
  auto r = open_with(k, nonce, aad, ciphertext, tag);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST_F(CryptoAeadTamper, TruncatedCiphertextIsCorrupt) {
  const ByteView c(ciphertext);
  auto r = open_with(key, nonce, aad, c.first(c.size() - 1), tag);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::corrupt);
}

TEST(CryptoAead, SizeMismatchesAreInvalidArgument) {
  Aead aead = Aead::make(key_of(1)).value();
  const Bytes plain(32, 1);
  Bytes out(31);
  Bytes tag(16);
  auto r = aead.seal(block_nonce(0), {}, plain, out, tag);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);

  Bytes out32(32);
  Bytes short_tag(15);
  r = aead.seal(block_nonce(0), {}, plain, out32, short_tag);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);

  ASSERT_TRUE(aead.seal(block_nonce(0), {}, plain, out32, tag).has_value());
  r = aead.open(block_nonce(0), {}, out32, ByteView(tag).first(15), out32);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  r = aead.open(block_nonce(0), {}, out32, tag, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

TEST(CryptoAead, DistinctNoncesGiveDistinctCiphertexts) {
  Aead aead = Aead::make(key_of(3)).value();
  const Bytes plain(64, 0x5a);
  Bytes c0(64), c1(64), cm(64), tag(16);
  ASSERT_TRUE(aead.seal(block_nonce(0), {}, plain, c0, tag).has_value());
  ASSERT_TRUE(aead.seal(block_nonce(1), {}, plain, c1, tag).has_value());
  ASSERT_TRUE(aead.seal(metadata_nonce(), {}, plain, cm, tag).has_value());
  EXPECT_NE(c0, c1);
  EXPECT_NE(c0, cm);
  EXPECT_NE(c1, cm);
}

TEST(CryptoAead, MovedAeadKeepsWorking) {
  Aead a = Aead::make(key_of(9)).value();
  Aead b = std::move(a);
  const Bytes plain(20, 3);
  Bytes c(20), tag(16), back(20);
  ASSERT_TRUE(b.seal(block_nonce(5), {}, plain, c, tag).has_value());
  Aead d = Aead::make(key_of(10)).value();
  d = std::move(b);  // d now holds key 9
  ASSERT_TRUE(d.open(block_nonce(5), {}, c, tag, back).has_value());
  EXPECT_EQ(back, plain);
}

}  // namespace
}  // namespace ob::crypto
