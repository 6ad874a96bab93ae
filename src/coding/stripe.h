// One stripe at a time through the encode and decode pipelines. All work happens in place in
// one aligned buffer of n * block_size bytes, so the data path makes no copies: the caller reads
// plaintext straight into the data blocks, encode() encrypts them in place, computes the parity
// blocks and hashes every block once; the caller then writes block i of the buffer to slot i.
//
//   data block d of stripe s : AES-256-GCM(file key, nonce = block_nonce(s * k + d),
//                               plaintext chunk of block_size - 16 bytes) || 16-byte tag
//   parity blocks            : Reed-Solomon (Cauchy) over the k encrypted data blocks
//   block identity           : merkle::block_root over the block's 1 KiB segments
// Encrypting before erasure coding lets consumers verify and repair slots without any key.
// The last stripe's missing plaintext is zeros; retrieval cuts at the manifest's original size.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "coding/crypto.h"
#include "coding/erasure.h"
#include "coding/manifest.h"
#include "coding/merkle.h"

namespace ob {

/// A stripe's memory: n blocks of block_size bytes, 64-byte aligned for ISA-L and AES.
class StripeBuffer {
 public:
  StripeBuffer(std::size_t n, std::size_t block_size);
  std::size_t n() const noexcept { return n_; }
  std::size_t block_size() const noexcept { return block_size_; }
  MutableByteView block(std::size_t i) noexcept { return {data_.get() + i * block_size_, block_size_}; }
  ByteView block(std::size_t i) const noexcept { return {data_.get() + i * block_size_, block_size_}; }

 private:
  struct FreeDeleter {
    void operator()(std::uint8_t* p) const noexcept;
  };
  std::size_t n_;
  std::size_t block_size_;
  std::unique_ptr<std::uint8_t, FreeDeleter> data_;
};

/// Encodes stripes of one file. Not thread-safe; one per thread.
class StripeEncoder {
 public:
  /// Errors: invalid params (invalid_argument); the cipher could not be set up (crypto).
  static Result<StripeEncoder> make(const CodingParams& params, const crypto::Key& file_key);

  const CodingParams& params() const noexcept { return params_; }
  /// Where the caller puts the plaintext of data block d (chunk_size bytes; zero-fill the rest).
  MutableByteView plaintext(std::size_t d) noexcept {
    return buffer_.block(d).first(params_.chunk_size());
  }
  /// Encrypts the data blocks in place as stripe `stripe`, computes parity and every block root.
  /// Errors (crypto): the cipher failed.
  Result<void> encode(std::uint64_t stripe);
  /// Block i (0..n-1) of the encoded stripe.
  ByteView block(std::size_t i) const noexcept { return buffer_.block(i); }
  /// Block root of block i of the encoded stripe.
  const merkle::Hash& root(std::size_t i) const noexcept { return roots_[i]; }

 private:
  StripeEncoder(const CodingParams& params, crypto::Aead aead, ErasureCoder coder);
  CodingParams params_;
  crypto::Aead aead_;
  ErasureCoder coder_;
  StripeBuffer buffer_;
  std::vector<merkle::Hash> roots_;
};

/// Decodes stripes of one file: the caller fills the blocks it has, offers each for
/// verification, and decode() rebuilds what is missing and decrypts. Not thread-safe.
class StripeDecoder {
 public:
  /// Errors: invalid params (invalid_argument); the cipher could not be set up (crypto).
  static Result<StripeDecoder> make(const CodingParams& params, const crypto::Key& file_key);

  const CodingParams& params() const noexcept { return params_; }
  /// Forgets every block of the previous stripe, and any places given to use_blocks().
  void reset() noexcept;
  /// Decodes this stripe in the caller's memory instead of the decoder's own: `places` are n
  /// blocks of block_size bytes (the network fetcher's window holds the stripe already), which
  /// decode() rebuilds and decrypts in place, and plaintext() then points into. They must stay
  /// valid until the next reset(). Ignored unless it has n places.
  void use_blocks(std::span<std::uint8_t* const> places) noexcept;
  /// Where the caller reads block i (block_size bytes) before calling accept(i, ...).
  MutableByteView block(std::size_t i) noexcept { return {blocks_[i], params_.block_size}; }
  /// Checks block i against its expected root (from the slot's verified index) and counts it as
  /// present when it matches. Returns false, and leaves it absent, when it does not.
  bool accept(std::size_t i, const merkle::Hash& expected_root);
  /// Counts block i as present without hashing it again: for a block its source has already
  /// checked against its root (the network fetcher checks each block on arrival). Returns false
  /// when i >= n or block i is present already.
  bool accept_checked(std::size_t i) noexcept;
  /// How many blocks have been accepted since reset().
  std::size_t present_count() const noexcept { return present_count_; }
  /// True once at least k blocks are present.
  bool enough() const noexcept { return present_count_ >= params_.k; }
  /// Rebuilds absent data blocks and decrypts all k in place as stripe `stripe`. Returns whether
  /// any data block had to be rebuilt from parity. Errors (unrecoverable): fewer than k blocks present; (corrupt): a data block failed
  /// authentication — not possible for blocks that passed accept() unless the manifest's roots
  /// are themselves wrong; (crypto).
  Result<bool> decode(std::uint64_t stripe);
  /// The plaintext of data block d after decode() (chunk_size bytes).
  ByteView plaintext(std::size_t d) const noexcept { return {blocks_[d], params_.chunk_size()}; }

 private:
  StripeDecoder(const CodingParams& params, crypto::Aead aead, ErasureCoder coder);
  CodingParams params_;
  crypto::Aead aead_;
  ErasureCoder coder_;
  StripeBuffer buffer_;
  std::vector<std::uint8_t*> blocks_;  // n places: buffer_'s, or the caller's (use_blocks)
  std::unique_ptr<bool[]> present_;  // n flags; std::vector<bool> cannot be a span
  std::size_t present_count_ = 0;
};

}  // namespace ob
