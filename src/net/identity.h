// A node's identity: an Ed25519 key pair (RFC 8032) and the peer ID derived from it.
//
// Peer IDs follow libp2p's spec (libp2p/specs peer-ids/peer-ids.md) for Ed25519 keys:
//   public key protobuf  PublicKey{ Type = Ed25519 (1), Data = 32-byte key }
//                        = 08 01 12 20 || key                              (36 bytes)
//   peer ID              identity multihash of those bytes (00 24 || ...)  (38 bytes)
//   text                 base58btc, no multibase prefix: "12D3KooW..."
// so our peers can be named, and later dialled, by libp2p tooling.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace ob::net {

inline constexpr std::size_t kEd25519PublicKeySize = 32;
inline constexpr std::size_t kEd25519SeedSize = 32;
inline constexpr std::size_t kEd25519SignatureSize = 64;

using PublicKey = std::array<std::uint8_t, kEd25519PublicKeySize>;
using Signature = std::array<std::uint8_t, kEd25519SignatureSize>;

/// A libp2p peer ID of an Ed25519 key. Value type; compares by bytes.
class PeerId {
 public:
  /// The peer ID of an Ed25519 public key.
  static PeerId from_public_key(const PublicKey& key);
  /// Parses "12D3KooW..." text. Errors (invalid_argument): not base58btc, not an identity
  /// multihash of an Ed25519 PublicKey protobuf (other key types are refused), or trailing bytes.
  static Result<PeerId> parse(std::string_view text);

  /// The Ed25519 public key this ID names (the ID embeds it: no lookup needed to verify).
  const PublicKey& public_key() const noexcept { return key_; }
  /// The binary peer ID: the identity multihash (38 bytes).
  Bytes to_bytes() const;
  /// base58btc text, "12D3KooW...".
  std::string to_string() const;

  friend bool operator==(const PeerId&, const PeerId&) = default;
  friend auto operator<=>(const PeerId&, const PeerId&) = default;

 private:
  explicit PeerId(const PublicKey& key) : key_(key) {}
  PublicKey key_;
};

/// Verifies an Ed25519 signature. False for any mismatch or malformed key.
bool verify_signature(const PublicKey& key, ByteView message, const Signature& signature);

/// This node's key pair. Movable, not copyable; the private key never leaves the object
/// except through the key file.
class Identity {
 public:
  /// Loads the 32-byte private seed from `key_file`, or creates it (mode 0600, durably) when
  /// absent. Errors (corrupt): the file is not 32 bytes or readable by others; (io, crypto).
  static Result<Identity> load_or_create(const std::filesystem::path& key_file);
  /// An identity from a known seed (tests). Errors (crypto).
  static Result<Identity> from_seed(ByteView seed);

  ~Identity();
  Identity(Identity&& other) noexcept;
  Identity& operator=(Identity&& other) noexcept;
  Identity(const Identity&) = delete;
  Identity& operator=(const Identity&) = delete;

  const PeerId& peer_id() const noexcept { return peer_id_; }
  const PublicKey& public_key() const noexcept { return peer_id_.public_key(); }
  /// Ed25519 signature of `message`. Errors (crypto).
  Result<Signature> sign(ByteView message) const;
  /// The OpenSSL key, for building TLS certificates (borrowed; owned by this Identity).
  EVP_PKEY* evp_key() const noexcept { return key_; }

 private:
  Identity(EVP_PKEY* key, const PublicKey& public_key) : key_(key), peer_id_(PeerId::from_public_key(public_key)) {}
  EVP_PKEY* key_;
  PeerId peer_id_;
};

}  // namespace ob::net
