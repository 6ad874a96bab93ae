// The producer's file index (issue 13; docs/formats.md "The file index"): the list of its files
// in the network, kept as an ordinary Open Bucket file so that the owner's mnemonic alone brings
// it back on a new machine. This header holds the format (no I/O): the keys derived from the
// master secret, and the sealed bytes of one version.
//
//   index key = HKDF-SHA256(ikm = master secret, salt = "", info = "open-bucket/v1/index-key")
//   locator   = HKDF-SHA256(ikm = master secret, salt = "", info = "open-bucket/v1/index-locator")
//   sealed    = version (1 byte, 1) || nonce (12 random bytes) || AES-256-GCM(index key, nonce,
//               aad = "open-bucket/v1/index", FileIndex protobuf, manifest.proto) || tag (16 bytes)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coding/crypto.h"
#include "core/error.h"
#include "discovery/dht.h"

namespace ob::producer {

/// One file of the index: what `producer ls` shows of it and what a download needs to find it.
struct IndexEntry {
  std::string file_id;            ///< manifest CID, base32
  std::string path;               ///< remote path
  std::uint64_t size = 0;         ///< plaintext bytes
  std::string md5;                ///< hex MD5 of the plaintext
  std::string tier = "free";      ///< "free", "basic", "premium"
  std::uint32_t k = 0;            ///< data slots
  std::uint32_t m = 0;            ///< parity slots
  std::uint32_t availability = 0; ///< desired availability
  std::string request_id;         ///< paid tiers: storage request on chain, decimal; "" for Free
  std::uint64_t created_unix = 0; ///< first registered, Unix seconds; 0 unknown

  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

/// The index key and the locator of an owner's index, derived from its master secret.
struct IndexKeys {
  crypto::Key key{};
  discovery::IndexLocator locator{};
};
/// Derives IndexKeys from `master_secret` (labels above). Errors (crypto).
Result<IndexKeys> derive_index_keys(ByteView master_secret);

/// The most entries one index holds, and the largest sealed index read back.
inline constexpr std::size_t kMaxIndexEntries = 1'000'000;
inline constexpr std::size_t kMaxSealedIndexBytes = 512ull << 20;

/// One version of the index, serialized and sealed under `key`. Errors (invalid_argument): over
/// kMaxIndexEntries; (crypto).
Result<Bytes> seal_index(const std::vector<IndexEntry>& entries, const crypto::Key& key);
/// The entries of a sealed index. Errors (corrupt): not sealed under `key` (another owner's
/// index, or tampered with), an unknown version, or not a FileIndex; (invalid_argument): over
/// the size limits.
Result<std::vector<IndexEntry>> open_index(ByteView sealed, const crypto::Key& key);

}  // namespace ob::producer
