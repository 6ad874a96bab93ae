// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface, with a reusable context so that the
// many small hashes of a Merkle tree (1 KiB leaves, 64-byte nodes) do not pay set-up costs.
#pragma once

#include <array>
#include <cstdint>

#include "core/bytes.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace ob {

/// A SHA-256 digest, 32 bytes.
using Sha256Digest = std::array<std::uint8_t, 32>;

/// Incremental SHA-256. Not thread-safe; make one per thread. Movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  /// Adds bytes to the running hash.
  void update(ByteView data);
  /// Returns the digest of everything added since the last finish (or construction) and resets.
  Sha256Digest finish();

  /// One-shot SHA-256 of `data`, using a per-thread context.
  static Sha256Digest hash(ByteView data);
  /// One-shot SHA-256 of `prefix || a || b` (domain-separated Merkle hashing), per-thread context.
  static Sha256Digest hash_prefixed(std::uint8_t prefix, ByteView a, ByteView b = {});

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace ob
