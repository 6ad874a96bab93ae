// Systematic Reed-Solomon erasure coding over GF(2^8) with ISA-L and a Cauchy matrix.
//
// A stripe is n = k + m equal-length blocks: k data blocks (positions 0..k-1, unchanged) and
// m parity blocks (positions k..n-1). Any k of the n blocks rebuild all of them: the Cauchy
// construction (ISA-L gf_gen_cauchy1_matrix) keeps every k x k submatrix invertible for n <= 256.
// k = 1 is plain replication: every parity block is a copy of the data block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/error.h"

namespace ob {

/// Encodes and decodes stripes for one (k, m). Immutable after construction except for an
/// internal cache of decode tables for the last erasure pattern; not thread-safe (one per thread).
class ErasureCoder {
 public:
  /// Errors (invalid_argument): k < 1, or k + m > protocol::kMaxSlots (255).
  static Result<ErasureCoder> make(std::size_t k, std::size_t m);

  ErasureCoder(ErasureCoder&&) noexcept;
  ErasureCoder& operator=(ErasureCoder&&) noexcept;
  ~ErasureCoder();

  std::size_t k() const noexcept { return k_; }
  std::size_t m() const noexcept { return m_; }
  std::size_t n() const noexcept { return k_ + m_; }

  /// Computes the m parity blocks from the k data blocks, each `len` bytes.
  /// `data` has k pointers, `parity` has m pointers to caller-owned buffers of `len` bytes.
  void encode(std::span<const std::uint8_t* const> data, std::span<std::uint8_t* const> parity,
              std::size_t len) const;

  /// Rebuilds the blocks whose `present` flag is false from the others.
  /// `blocks` has n pointers to `len`-byte buffers in stripe order; `present` has n flags.
  /// Every absent block is written (data and parity alike); present blocks are only read.
  /// Errors (unrecoverable): fewer than k blocks present. (invalid_argument): wrong span sizes.
  Result<void> decode(std::span<std::uint8_t* const> blocks, std::span<const bool> present,
                      std::size_t len);

 private:
  ErasureCoder(std::size_t k, std::size_t m);
  struct DecodeCache;
  std::size_t k_;
  std::size_t m_;
  std::vector<std::uint8_t> encode_matrix_;  // n x k, top k rows identity
  std::vector<std::uint8_t> encode_tables_;  // ISA-L expanded tables for the parity rows
  std::unique_ptr<DecodeCache> cache_;       // tables for the last erasure pattern
};

}  // namespace ob
