#include "coding/stripe.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace ob {

namespace {
constexpr std::size_t kAlignment = 64;  // a cache line; ISA-L's and AES-NI's loads prefer it
}

void StripeBuffer::FreeDeleter::operator()(std::uint8_t* p) const noexcept { std::free(p); }

StripeBuffer::StripeBuffer(std::size_t n, std::size_t block_size) : n_(n), block_size_(block_size) {
  // block_size is a multiple of 1 KiB (CodingParams::validate), so every block stays aligned.
  void* p = std::aligned_alloc(kAlignment, n * block_size);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, n * block_size);
  data_.reset(static_cast<std::uint8_t*>(p));
}

// ---------------------------------------------------------------------------------------------

StripeEncoder::StripeEncoder(const CodingParams& params, crypto::Aead aead, ErasureCoder coder)
    : params_(params),
      aead_(std::move(aead)),
      coder_(std::move(coder)),
      buffer_(params.n(), params.block_size),
      roots_(params.n()) {}

Result<StripeEncoder> StripeEncoder::make(const CodingParams& params, const crypto::Key& file_key) {
  OB_TRY_VOID(params.validate());
  OB_TRY(crypto::Aead aead, crypto::Aead::make(file_key));
  OB_TRY(ErasureCoder coder, ErasureCoder::make(params.k, params.m));
  return StripeEncoder(params, std::move(aead), std::move(coder));
}

Result<void> StripeEncoder::encode(std::uint64_t stripe) {
  const std::size_t chunk = params_.chunk_size();
  std::uint8_t* data_ptrs[protocol::kMaxSlots];
  std::uint8_t* parity_ptrs[protocol::kMaxSlots];
  for (std::size_t d = 0; d < params_.k; ++d) {
    MutableByteView block = buffer_.block(d);
    OB_TRY_VOID(aead_.seal(crypto::block_nonce(stripe * params_.k + d), {}, block.first(chunk),
                           block.first(chunk), block.subspan(chunk)));
    data_ptrs[d] = block.data();
  }
  for (std::size_t p = 0; p < params_.m; ++p) parity_ptrs[p] = buffer_.block(params_.k + p).data();
  coder_.encode({data_ptrs, params_.k}, {parity_ptrs, params_.m}, params_.block_size);
  for (std::size_t i = 0; i < params_.n(); ++i) roots_[i] = merkle::block_root(buffer_.block(i));
  return {};
}

// ---------------------------------------------------------------------------------------------

StripeDecoder::StripeDecoder(const CodingParams& params, crypto::Aead aead, ErasureCoder coder)
    : params_(params),
      aead_(std::move(aead)),
      coder_(std::move(coder)),
      buffer_(params.n(), params.block_size),
      blocks_(params.n()),
      present_(new bool[params.n()]()) {
  reset();
}

Result<StripeDecoder> StripeDecoder::make(const CodingParams& params, const crypto::Key& file_key) {
  OB_TRY_VOID(params.validate());
  OB_TRY(crypto::Aead aead, crypto::Aead::make(file_key));
  OB_TRY(ErasureCoder coder, ErasureCoder::make(params.k, params.m));
  return StripeDecoder(params, std::move(aead), std::move(coder));
}

void StripeDecoder::reset() noexcept {
  for (std::size_t i = 0; i < params_.n(); ++i) blocks_[i] = buffer_.block(i).data();
  std::fill(present_.get(), present_.get() + params_.n(), false);
  present_count_ = 0;
}

void StripeDecoder::use_blocks(std::span<std::uint8_t* const> places) noexcept {
  if (places.size() != params_.n()) return;
  std::copy(places.begin(), places.end(), blocks_.begin());
}

bool StripeDecoder::accept(std::size_t i, const merkle::Hash& expected_root) {
  if (i >= params_.n() || present_[i]) return false;
  if (merkle::block_root(block(i)) != expected_root) return false;
  return accept_checked(i);
}

bool StripeDecoder::accept_checked(std::size_t i) noexcept {
  if (i >= params_.n() || present_[i]) return false;
  present_[i] = true;
  ++present_count_;
  return true;
}

Result<bool> StripeDecoder::decode(std::uint64_t stripe) {
  if (!enough()) {
    return fail(Errc::unrecoverable, "stripe ", stripe, ": only ", present_count_, " of ",
                params_.n(), " blocks are intact, need ", params_.k);
  }
  bool data_missing = false;
  for (std::size_t d = 0; d < params_.k; ++d) data_missing |= !present_[d];
  if (data_missing) {
    OB_TRY_VOID(coder_.decode(blocks_, {present_.get(), params_.n()}, params_.block_size));
  }
  const std::size_t chunk = params_.chunk_size();
  for (std::size_t d = 0; d < params_.k; ++d) {
    MutableByteView block = this->block(d);
    if (auto ok = aead_.open(crypto::block_nonce(stripe * params_.k + d), {}, block.first(chunk),
                             block.subspan(chunk), block.first(chunk));
        !ok) {
      return std::unexpected(prefixed(ok.error(), "stripe " + std::to_string(stripe) +
                                                      ", data block " + std::to_string(d)));
    }
  }
  return data_missing;
}

}  // namespace ob
