// Ethereum keys: secp256k1 private keys (libsecp256k1), their addresses (the last 20 bytes of
// Keccak-256 of the uncompressed public key), EIP-55 checksummed address text
// (https://eips.ethereum.org/EIPS/eip-55), and recoverable ECDSA signatures over 32-byte
// digests (RFC 6979 nonces, low s, as Ethereum requires since EIP-2).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"
#include "wallet/keccak.h"

namespace ob::wallet {

/// A 20-byte Ethereum address.
class Address {
 public:
  using Bytes20 = std::array<std::uint8_t, 20>;
  Address() = default;
  explicit Address(const Bytes20& bytes) : bytes_(bytes) {}

  /// Parses "0x" followed by 40 hex digits. Mixed case must be the EIP-55 checksum; all lower
  /// or all upper case carries none and is accepted as is. Errors (invalid_argument): "not an
  /// Ethereum address (0x and 40 hex digits)"; "...has a wrong EIP-55 checksum (a typo?)".
  static Result<Address> parse(std::string_view text);

  /// EIP-55 text: "0x" and mixed-case hex.
  std::string to_checksum() const;
  /// 40 lower-case hex digits without "0x" (keystore "address", keystore file names).
  std::string to_lower_hex() const;
  const Bytes20& bytes() const noexcept { return bytes_; }

  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;

 private:
  Bytes20 bytes_{};
};

/// A recoverable secp256k1 signature: r, s (low) and the parity of R's y coordinate (0 or 1).
struct Signature {
  std::array<std::uint8_t, 32> r{};
  std::array<std::uint8_t, 32> s{};
  std::uint8_t y_parity = 0;
};

/// A secp256k1 private key. Movable, not copyable; wiped from memory on destruction.
class PrivateKey {
 public:
  /// From 32 big-endian bytes. Errors (invalid_argument): not 32 bytes, zero, or not below the
  /// curve order.
  static Result<PrivateKey> from_bytes(ByteView bytes);
  /// A fresh random key (OpenSSL's CSPRNG). Errors (crypto).
  static Result<PrivateKey> generate();

  ~PrivateKey();
  PrivateKey(PrivateKey&& other) noexcept;
  PrivateKey& operator=(PrivateKey&& other) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  /// The 32 secret bytes.
  ByteView bytes() const noexcept { return key_; }
  /// The SEC1 compressed public key (33 bytes: 02/03 and x), as BIP-32 hashes it.
  std::array<std::uint8_t, 33> compressed_public_key() const;
  /// The key's Ethereum address.
  Address address() const;
  /// This key plus `tweak` (32 big-endian bytes) modulo the curve order (BIP-32's child key).
  /// Errors (invalid_argument): the tweak is not below the order, or the sum is zero.
  Result<PrivateKey> plus(ByteView tweak) const;
  /// Signs a 32-byte digest (deterministic RFC 6979 nonce; s is always low). Errors (crypto):
  /// the library refused (not expected for a valid key).
  Result<Signature> sign(const Hash32& digest) const;

 private:
  explicit PrivateKey(const std::array<std::uint8_t, 32>& key) : key_(key) {}
  std::array<std::uint8_t, 32> key_{};
};

/// The address whose key made `signature` over `digest`. Errors (invalid_argument): the
/// signature is malformed or recovers no key.
Result<Address> recover_signer(const Hash32& digest, const Signature& signature);

/// The address of an uncompressed SEC1 public key (65 bytes, 0x04 || x || y).
Address address_of_public_key(ByteView uncompressed);

}  // namespace ob::wallet
