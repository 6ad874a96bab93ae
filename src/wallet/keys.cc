#include "wallet/keys.h"

#include <openssl/crypto.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cctype>

#include "coding/crypto.h"

namespace ob::wallet {
namespace {

/// One context for the process, randomised once against side channels (libsecp256k1 allows
/// concurrent use of a context by every call but randomize and destroy).
const secp256k1_context* context() {
  static secp256k1_context* const ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    std::array<std::uint8_t, 32> seed{};
    // Randomisation only blinds against side channels; signing is correct without it.
    if (crypto::random_bytes(seed) && secp256k1_context_randomize(c, seed.data()) != 1) seed.fill(0);
    OPENSSL_cleanse(seed.data(), seed.size());
    return c;
  }();
  return ctx;
}

}  // namespace

Result<Address> Address::parse(std::string_view text) {
  const std::string shown(text.substr(0, 64));
  if (text.size() != 42 || !(text.starts_with("0x") || text.starts_with("0X"))) {
    return fail(Errc::invalid_argument, "'", shown, "' is not an Ethereum address (0x and 40 hex digits)");
  }
  const std::string_view hex = text.substr(2);
  Bytes20 bytes{};
  bool has_lower = false;
  bool has_upper = false;
  for (std::size_t i = 0; i < 40; ++i) {
    const int v = hex_digit_value(hex[i]);
    if (v < 0) return fail(Errc::invalid_argument, "'", shown, "' is not an Ethereum address (0x and 40 hex digits)");
    bytes[i / 2] = static_cast<std::uint8_t>(bytes[i / 2] | (i % 2 == 0 ? v << 4 : v));
    has_lower = has_lower || std::islower(static_cast<unsigned char>(hex[i]));
    has_upper = has_upper || std::isupper(static_cast<unsigned char>(hex[i]));
  }
  const Address address(bytes);
  if (has_lower && has_upper && address.to_checksum().substr(2) != hex) {
    return fail(Errc::invalid_argument, "address ", shown, " has a wrong EIP-55 checksum (a typo?)");
  }
  return address;
}

std::string Address::to_checksum() const {
  // EIP-55: hex digit i is upper case when nibble i of Keccak-256(lower-case hex) is >= 8.
  const std::string lower = to_lower_hex();
  const Hash32 hash = keccak256(as_bytes(lower));
  std::string out = "0x";
  for (std::size_t i = 0; i < lower.size(); ++i) {
    const int nibble = (i % 2 == 0) ? hash[i / 2] >> 4 : hash[i / 2] & 0x0f;
    out.push_back(nibble >= 8 ? static_cast<char>(std::toupper(static_cast<unsigned char>(lower[i]))) : lower[i]);
  }
  return out;
}

std::string Address::to_lower_hex() const { return to_hex(bytes_); }

Result<PrivateKey> PrivateKey::from_bytes(ByteView bytes) {
  if (bytes.size() != 32) return fail(Errc::invalid_argument, "a private key is 32 bytes, not ", bytes.size());
  std::array<std::uint8_t, 32> key{};
  std::copy(bytes.begin(), bytes.end(), key.begin());
  if (secp256k1_ec_seckey_verify(context(), key.data()) != 1) {
    OPENSSL_cleanse(key.data(), key.size());
    return fail(Errc::invalid_argument, "not a valid secp256k1 private key (zero, or not below the curve order)");
  }
  PrivateKey out(key);
  OPENSSL_cleanse(key.data(), key.size());
  return out;
}

Result<PrivateKey> PrivateKey::generate() {
  std::array<std::uint8_t, 32> key{};
  // A random 256-bit number is at or above the order with probability ~2^-128; draw again then.
  for (int attempt = 0; attempt < 8; ++attempt) {
    OB_TRY_VOID(crypto::random_bytes(key));
    auto made = from_bytes(key);
    OPENSSL_cleanse(key.data(), key.size());
    if (made) return made;
  }
  return fail(Errc::crypto, "the random generator gave no valid private key");
}

PrivateKey::~PrivateKey() { OPENSSL_cleanse(key_.data(), key_.size()); }

PrivateKey::PrivateKey(PrivateKey&& other) noexcept : key_(other.key_) {
  OPENSSL_cleanse(other.key_.data(), other.key_.size());
}

PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    OPENSSL_cleanse(other.key_.data(), other.key_.size());
  }
  return *this;
}

std::array<std::uint8_t, 33> PrivateKey::compressed_public_key() const {
  secp256k1_pubkey pub;
  std::array<std::uint8_t, 33> out{};
  // Cannot fail: the key was verified when it was made.
  if (secp256k1_ec_pubkey_create(context(), &pub, key_.data()) == 1) {
    std::size_t size = out.size();
    secp256k1_ec_pubkey_serialize(context(), out.data(), &size, &pub, SECP256K1_EC_COMPRESSED);
  }
  return out;
}

Address address_of_public_key(ByteView uncompressed) {
  const Hash32 hash = keccak256(uncompressed.subspan(1));  // without the 0x04 prefix
  Address::Bytes20 bytes{};
  std::copy(hash.begin() + 12, hash.end(), bytes.begin());
  return Address(bytes);
}

Address PrivateKey::address() const {
  secp256k1_pubkey pub;
  std::array<std::uint8_t, 65> uncompressed{};
  if (secp256k1_ec_pubkey_create(context(), &pub, key_.data()) == 1) {
    std::size_t size = uncompressed.size();
    secp256k1_ec_pubkey_serialize(context(), uncompressed.data(), &size, &pub, SECP256K1_EC_UNCOMPRESSED);
  }
  return address_of_public_key(uncompressed);
}

Result<PrivateKey> PrivateKey::plus(ByteView tweak) const {
  if (tweak.size() != 32) return fail(Errc::invalid_argument, "a key tweak is 32 bytes");
  std::array<std::uint8_t, 32> sum = key_;
  if (secp256k1_ec_seckey_tweak_add(context(), sum.data(), tweak.data()) != 1) {
    OPENSSL_cleanse(sum.data(), sum.size());
    return fail(Errc::invalid_argument, "the tweak is not below the curve order, or the sum is zero");
  }
  PrivateKey out(sum);
  OPENSSL_cleanse(sum.data(), sum.size());
  return out;
}

Result<Signature> PrivateKey::sign(const Hash32& digest) const {
  secp256k1_ecdsa_recoverable_signature sig;
  if (secp256k1_ecdsa_sign_recoverable(context(), &sig, digest.data(), key_.data(), nullptr, nullptr) != 1) {
    return fail(Errc::crypto, "secp256k1 signing failed");
  }
  std::array<std::uint8_t, 64> compact{};
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(context(), compact.data(), &recid, &sig);
  Signature out;
  std::copy(compact.begin(), compact.begin() + 32, out.r.begin());
  std::copy(compact.begin() + 32, compact.end(), out.s.begin());
  out.y_parity = static_cast<std::uint8_t>(recid);
  return out;
}

Result<Address> recover_signer(const Hash32& digest, const Signature& signature) {
  if (signature.y_parity > 1) return fail(Errc::invalid_argument, "signature y parity must be 0 or 1");
  std::array<std::uint8_t, 64> compact{};
  std::copy(signature.r.begin(), signature.r.end(), compact.begin());
  std::copy(signature.s.begin(), signature.s.end(), compact.begin() + 32);
  secp256k1_ecdsa_recoverable_signature sig;
  secp256k1_pubkey pub;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(context(), &sig, compact.data(), signature.y_parity) != 1 ||
      secp256k1_ecdsa_recover(context(), &pub, &sig, digest.data()) != 1) {
    return fail(Errc::invalid_argument, "the signature recovers no public key");
  }
  std::array<std::uint8_t, 65> uncompressed{};
  std::size_t size = uncompressed.size();
  secp256k1_ec_pubkey_serialize(context(), uncompressed.data(), &size, &pub, SECP256K1_EC_UNCOMPRESSED);
  return address_of_public_key(uncompressed);
}

}  // namespace ob::wallet
