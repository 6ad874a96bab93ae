// The manifest of a stored file (proto/manifest.proto, docs/formats.md): coding parameters,
// sizes, the wrapped file key, the per-slot Merkle roots and the encrypted name and type.
// Its CID — codec 0x300000, sha2-256 of the encoded bytes — is the file ID.
//
// Manifests arrive from disk and, later, from peers: decode() treats its input as hostile and
// checks every field and every limit before anything else reads them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coding/crypto.h"
#include "coding/merkle.h"
#include "core/bytes.h"
#include "core/cid.h"
#include "core/error.h"

namespace ob {

/// How a file is cut and coded: k data + m parity blocks per stripe, blocks of block_size bytes.
struct CodingParams {
  std::uint32_t k = 4;
  std::uint32_t m = 2;
  std::uint32_t block_size = static_cast<std::uint32_t>(protocol::kDefaultBlockSize);

  /// Checks the parameters. Errors (invalid_argument), each naming the bad value:
  /// k < 1; k + m > 255; block_size outside 4 KiB..4 MiB or not a multiple of the 1 KiB segment;
  /// a stripe (k + m blocks) larger than protocol::kMaxStripeBytes (it is held in memory).
  Result<void> validate() const;

  std::uint32_t n() const noexcept { return k + m; }
  /// Plaintext bytes per data block: the block minus its AES-GCM tag.
  std::size_t chunk_size() const noexcept { return block_size - protocol::kTagSize; }
  /// Plaintext bytes per stripe.
  std::uint64_t stripe_plaintext_size() const noexcept { return std::uint64_t{k} * chunk_size(); }
  /// Stripes for a file of `size` bytes; at least one, so every slot holds a block.
  std::uint64_t stripe_count(std::uint64_t size) const noexcept;

  friend bool operator==(const CodingParams&, const CodingParams&) = default;
};

/// The file key wrapped for its owner (see coding/crypto.h for the derivations).
struct KeyWrap {
  Bytes salt;         ///< 32 bytes: HKDF salt of the file key
  Bytes nonce;        ///< 12 bytes: nonce of the wrap
  Bytes wrapped_key;  ///< 32 + 16 bytes: file key under the wrap key, then the tag
};

/// A file's plaintext name and type, kept encrypted inside the manifest.
struct FileMetadata {
  std::string name;
  std::string mime_type;
};

/// The decoded, validated manifest.
struct Manifest {
  static constexpr std::uint32_t kVersion = 1;

  std::uint64_t original_size = 0;  ///< plaintext bytes
  CodingParams params;
  KeyWrap key;
  std::vector<merkle::Hash> slot_roots;  ///< n roots, slot order
  Bytes encrypted_metadata;              ///< FileMetadata under the file key, then the tag

  std::uint64_t stripe_count() const noexcept { return params.stripe_count(original_size); }

  /// The protobuf encoding. Deterministic for a given manifest.
  Bytes encode() const;
  /// Parses and validates an encoded manifest. Errors (corrupt), each saying which rule failed:
  /// larger than 64 KiB, not protobuf, unknown fields, unsupported version or cipher, invalid
  /// coding parameters, wrong key or root sizes, a root count other than k + m, a size whose
  /// stripes would not fit 63 bits, any encoding other than the one encode() produces.
  static Result<Manifest> decode(ByteView encoded);
  /// The file ID: CIDv1(codec 0x300000, sha2-256(encoded)).
  static Cid cid_of(ByteView encoded);
};

/// A fresh file key for a new file: random salt, HKDF from the master secret, wrapped under the
/// wrap key with a random nonce (AAD = salt). Returns the key and its wrap. Errors (crypto).
Result<std::pair<crypto::Key, KeyWrap>> new_file_key(ByteView master_secret);

/// Recovers a file key from its wrap. Errors (corrupt): the wrap does not authenticate under this
/// master secret — a different owner's file or a damaged manifest; (crypto).
Result<crypto::Key> unwrap_file_key(ByteView master_secret, const KeyWrap& wrap);

/// Encrypts a file's name and type under its key (metadata nonce, see coding/crypto.h).
Result<Bytes> seal_metadata(const crypto::Key& file_key, const FileMetadata& metadata);
/// Decrypts and parses what seal_metadata produced. Errors (corrupt): tag mismatch or bad format.
Result<FileMetadata> open_metadata(const crypto::Key& file_key, ByteView sealed);

}  // namespace ob
