#include "coding/erasure.h"

#include <isa-l/erasure_code.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "core/protocol.h"

namespace ob {
namespace {

// ec_encode_data takes an int length. Reed-Solomon works byte by byte, so a longer stripe is
// coded in pieces at any offset with the same result; 1 GiB keeps each piece a multiple of the
// SIMD width and far below INT_MAX.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;

using Pointers = std::array<unsigned char*, protocol::kMaxSlots>;

// Runs ec_encode_data (ISA-L erasure_code.h): dst[r] = sum over c of tables-row r, col c * src[c].
// ISA-L's signature takes non-const source pointers but only reads through them.
void run(std::size_t len, std::size_t k, std::size_t rows, unsigned char* tables,
         const Pointers& src, const Pointers& dst) {
  Pointers s;
  Pointers d;
  for (std::size_t off = 0; off < len; off += kMaxPiece) {
    const std::size_t piece = std::min(len - off, kMaxPiece);
    for (std::size_t i = 0; i < k; ++i) s[i] = src[i] + off;
    for (std::size_t i = 0; i < rows; ++i) d[i] = dst[i] + off;
    ec_encode_data(static_cast<int>(piece), static_cast<int>(k), static_cast<int>(rows), tables,
                   s.data(), d.data());
  }
}

}  // namespace

struct ErasureCoder::DecodeCache {
  std::vector<std::uint8_t> present;  // the pattern `tables` was built for; empty: none yet
  std::vector<std::uint8_t> sources;  // the first k present positions
  std::vector<std::uint8_t> targets;  // the absent positions, in order
  std::vector<std::uint8_t> tables;   // ec_init_tables of the targets.size() x k decode rows
};

ErasureCoder::ErasureCoder(std::size_t k, std::size_t m)
    : k_(k), m_(m), cache_(std::make_unique<DecodeCache>()) {}

ErasureCoder::ErasureCoder(ErasureCoder&&) noexcept = default;
ErasureCoder& ErasureCoder::operator=(ErasureCoder&&) noexcept = default;
ErasureCoder::~ErasureCoder() = default;

Result<ErasureCoder> ErasureCoder::make(std::size_t k, std::size_t m) {
  if (k < 1)
    return fail(Errc::invalid_argument, "erasure coding needs k >= 1 data blocks, got ", k);
  if (k > protocol::kMaxSlots || m > protocol::kMaxSlots || k + m > protocol::kMaxSlots) {
    return fail(Errc::invalid_argument, "k + m = ", k, " + ", m, " exceeds the maximum of ",
                protocol::kMaxSlots, " slots");
  }
  ErasureCoder coder(k, m);
  const std::size_t n = k + m;
  coder.encode_matrix_.resize(n * k);
  // Top k rows identity, then row i col j = 1 / (i xor j) in GF(2^8) (ISA-L ec_base.c). Every
  // k x k submatrix is invertible because the x_i = i and y_j = j are distinct for n <= 256.
  gf_gen_cauchy1_matrix(coder.encode_matrix_.data(), static_cast<int>(n), static_cast<int>(k));
  if (k == 1) {
    // 1 / (i xor 0) is not 1 for i > 1; replication needs the all-ones parity rows, which keep
    // every 1 x 1 submatrix invertible and make parity a byte-identical copy of the data.
    std::fill(coder.encode_matrix_.begin() + 1, coder.encode_matrix_.end(), std::uint8_t{1});
  }
  if (m > 0) {
    coder.encode_tables_.resize(32 * k * m);
    ec_init_tables(static_cast<int>(k), static_cast<int>(m), coder.encode_matrix_.data() + k * k,
                   coder.encode_tables_.data());
  }
  return coder;
}

void ErasureCoder::encode(std::span<const std::uint8_t* const> data,
                          std::span<std::uint8_t* const> parity, std::size_t len) const {
  // A void interface: wrong span sizes are a caller bug; write nothing rather than read or
  // write out of bounds.
  if (data.size() != k_ || parity.size() != m_ || m_ == 0 || len == 0) return;
  if (k_ == 1) {
    for (std::uint8_t* p : parity) std::memcpy(p, data[0], len);
    return;
  }
  Pointers src;
  Pointers dst;
  for (std::size_t i = 0; i < k_; ++i) src[i] = const_cast<unsigned char*>(data[i]);
  for (std::size_t i = 0; i < m_; ++i) dst[i] = parity[i];
  // encode_tables_ is never written by ec_encode_data; the const_cast only meets its C signature.
  run(len, k_, m_, const_cast<unsigned char*>(encode_tables_.data()), src, dst);
}

Result<void> ErasureCoder::decode(std::span<std::uint8_t* const> blocks,
                                  std::span<const bool> present, std::size_t len) {
  const std::size_t n = k_ + m_;
  if (blocks.size() != n || present.size() != n) {
    return fail(Errc::invalid_argument, "erasure decode of a ", n, "-block stripe got ",
                blocks.size(), " blocks and ", present.size(), " presence flags");
  }
  const auto have = static_cast<std::size_t>(std::count(present.begin(), present.end(), true));
  if (have < k_) {
    return fail(Errc::unrecoverable, "only ", have, " of ", n, " blocks present, need ", k_);
  }
  if (have == n || len == 0) return {};

  if (k_ == 1) {
    const std::size_t from =
        static_cast<std::size_t>(std::find(present.begin(), present.end(), true) - present.begin());
    for (std::size_t i = 0; i < n; ++i) {
      if (!present[i]) std::memcpy(blocks[i], blocks[from], len);
    }
    return {};
  }

  if (!cache_) cache_ = std::make_unique<DecodeCache>();  // moved-from coders have none
  DecodeCache& c = *cache_;
  const bool hit =
      c.present.size() == n && std::equal(present.begin(), present.end(), c.present.begin(),
                                          [](bool p, std::uint8_t q) { return p == (q != 0); });
  if (!hit) {
    c.present.assign(present.begin(), present.end());
    c.sources.clear();
    c.targets.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (present[i] && c.sources.size() < k_) c.sources.push_back(static_cast<std::uint8_t>(i));
      if (!present[i]) c.targets.push_back(static_cast<std::uint8_t>(i));
    }
    // The sources satisfy s = B d, with B the encode rows at the source positions, so d = B^-1 s
    // and any block e = E_e d = (E_e B^-1) s. Data rows of E are unit vectors, so an absent data
    // block's row is just row e of B^-1.
    std::vector<std::uint8_t> b(k_ * k_);
    std::vector<std::uint8_t> inv(k_ * k_);
    for (std::size_t r = 0; r < k_; ++r) {
      std::memcpy(&b[r * k_], &encode_matrix_[c.sources[r] * k_], k_);
    }
    if (gf_invert_matrix(b.data(), inv.data(), static_cast<int>(k_)) != 0) {
      c.present.clear();
      return fail(Errc::internal, "erasure decode: singular ", k_, "x", k_,
                  " Cauchy submatrix (cannot happen for k + m <= 256)");
    }
    std::vector<std::uint8_t> rows(c.targets.size() * k_);
    for (std::size_t t = 0; t < c.targets.size(); ++t) {
      const std::size_t e = c.targets[t];
      std::uint8_t* row = &rows[t * k_];
      if (e < k_) {
        std::memcpy(row, &inv[e * k_], k_);
        continue;
      }
      const std::uint8_t* enc = &encode_matrix_[e * k_];
      for (std::size_t j = 0; j < k_; ++j) {
        std::uint8_t acc = 0;
        for (std::size_t x = 0; x < k_; ++x) acc ^= gf_mul(enc[x], inv[x * k_ + j]);
        row[j] = acc;
      }
    }
    c.tables.resize(32 * k_ * c.targets.size());
    ec_init_tables(static_cast<int>(k_), static_cast<int>(c.targets.size()), rows.data(),
                   c.tables.data());
  }

  Pointers src;
  Pointers dst;
  for (std::size_t i = 0; i < k_; ++i) src[i] = blocks[c.sources[i]];
  for (std::size_t i = 0; i < c.targets.size(); ++i) dst[i] = blocks[c.targets[i]];
  run(len, k_, c.targets.size(), c.tables.data(), src, dst);
  return {};
}

}  // namespace ob
