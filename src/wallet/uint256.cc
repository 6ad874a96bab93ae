#include "wallet/uint256.h"

namespace ob::wallet {
namespace {

__extension__ typedef unsigned __int128 Uint128;  // g++'s; -Wpedantic knows it is an extension

}  // namespace

U256 U256::max() {
  U256 v;
  v.limbs_ = {~0ull, ~0ull, ~0ull, ~0ull};
  return v;
}

std::optional<U256> U256::from_be_bytes(ByteView bytes) {
  if (bytes.size() > 32) return std::nullopt;
  U256 v;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::size_t bit = 8 * (bytes.size() - 1 - i);  // position of this byte's lowest bit
    v.limbs_[bit / 64] |= static_cast<std::uint64_t>(bytes[i]) << (bit % 64);
  }
  return v;
}

std::optional<U256> U256::from_decimal(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  U256 v;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    auto next = v.checked_mul(10);
    if (!next) return std::nullopt;
    next = next->checked_add(static_cast<std::uint64_t>(c - '0'));
    if (!next) return std::nullopt;
    v = *next;
  }
  return v;
}

Result<U256> U256::from_quantity(std::string_view text) {
  if (!text.starts_with("0x") && !text.starts_with("0X")) {
    return fail(Errc::invalid_argument, "'", text.substr(0, 80), "' is not a hex quantity (0x...)");
  }
  std::string_view digits = text.substr(2);
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 64) {
    return fail(Errc::invalid_argument, "'", text.substr(0, 80), "' is not a 256-bit hex quantity");
  }
  U256 v;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    const int d = hex_digit_value(digits[digits.size() - 1 - i]);
    if (d < 0) return fail(Errc::invalid_argument, "'", text.substr(0, 80), "' is not a hex quantity");
    v.limbs_[i / 16] |= static_cast<std::uint64_t>(d) << (4 * (i % 16));
  }
  return v;
}

std::array<std::uint8_t, 32> U256::to_be_bytes() const {
  std::array<std::uint8_t, 32> out{};
  for (std::size_t i = 0; i < 32; ++i) {
    const std::size_t bit = 8 * (31 - i);
    out[i] = static_cast<std::uint8_t>(limbs_[bit / 64] >> (bit % 64));
  }
  return out;
}

Bytes U256::to_minimal_be() const {
  const auto full = to_be_bytes();
  std::size_t first = 0;
  while (first < full.size() && full[first] == 0) ++first;
  return Bytes(full.begin() + static_cast<std::ptrdiff_t>(first), full.end());
}

std::string U256::to_decimal() const {
  if (is_zero()) return "0";
  U256 v = *this;
  std::string reversed;
  while (!v.is_zero()) reversed.push_back(static_cast<char>('0' + v.divmod(10)));
  return std::string(reversed.rbegin(), reversed.rend());
}

std::string U256::to_quantity() const {
  const std::string hex = to_hex(to_minimal_be());
  if (hex.empty()) return "0x0";
  return "0x" + (hex.front() == '0' ? hex.substr(1) : hex);
}

std::optional<std::uint64_t> U256::to_u64() const {
  if (limbs_[1] != 0 || limbs_[2] != 0 || limbs_[3] != 0) return std::nullopt;
  return limbs_[0];
}

std::optional<U256> U256::checked_add(const U256& other) const {
  U256 out;
  Uint128 carry = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const Uint128 sum = static_cast<Uint128>(limbs_[i]) + other.limbs_[i] + carry;
    out.limbs_[i] = static_cast<std::uint64_t>(sum);
    carry = sum >> 64;
  }
  if (carry != 0) return std::nullopt;
  return out;
}

std::optional<U256> U256::checked_sub(const U256& other) const {
  if (*this < other) return std::nullopt;
  U256 out;
  std::uint64_t borrow = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const std::uint64_t a = limbs_[i];
    const std::uint64_t b = other.limbs_[i];
    out.limbs_[i] = a - b - borrow;
    borrow = (a < b || (a == b && borrow != 0)) ? 1 : 0;
  }
  return out;
}

std::optional<U256> U256::checked_mul(const U256& other) const {
  // Schoolbook over 64-bit limbs into 8 limbs; any bit above 256 is an overflow.
  std::array<std::uint64_t, 8> wide{};
  for (std::size_t i = 0; i < 4; ++i) {
    Uint128 carry = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const Uint128 cell = static_cast<Uint128>(limbs_[i]) * other.limbs_[j] + wide[i + j] + carry;
      wide[i + j] = static_cast<std::uint64_t>(cell);
      carry = cell >> 64;
    }
    wide[i + 4] = static_cast<std::uint64_t>(carry);
  }
  for (std::size_t i = 4; i < 8; ++i) {
    if (wide[i] != 0) return std::nullopt;
  }
  U256 out;
  for (std::size_t i = 0; i < 4; ++i) out.limbs_[i] = wide[i];
  return out;
}

std::uint32_t U256::divmod(std::uint32_t divisor) {
  Uint128 rest = 0;
  for (std::size_t i = 4; i-- > 0;) {
    const Uint128 cur = (rest << 64) | limbs_[i];
    limbs_[i] = static_cast<std::uint64_t>(cur / divisor);
    rest = cur % divisor;
  }
  return static_cast<std::uint32_t>(rest);
}

std::strong_ordering operator<=>(const U256& a, const U256& b) {
  for (std::size_t i = 4; i-- > 0;) {
    if (a.limbs_[i] != b.limbs_[i]) return a.limbs_[i] <=> b.limbs_[i];
  }
  return std::strong_ordering::equal;
}

}  // namespace ob::wallet
