// An unsigned 256-bit integer: Ethereum's word. Balances in wei pass 2^64 at 18.4 ETH, so
// amounts, fees and transaction fields are held as U256. Arithmetic is checked (nullopt on
// overflow) because a wrapped amount is a wrong payment.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace ob::wallet {

class U256 {
 public:
  constexpr U256() = default;
  /// From a 64-bit value (implicit: 21000 and 0 read naturally as U256).
  constexpr U256(std::uint64_t value) : limbs_{value, 0, 0, 0} {}  // NOLINT(google-explicit-constructor)

  /// The largest value, 2^256 - 1.
  static U256 max();
  /// From big-endian bytes, at most 32 (fewer are zero-extended); nullopt when longer.
  static std::optional<U256> from_be_bytes(ByteView bytes);
  /// From decimal digits only (no sign, no spaces); nullopt when empty, not digits or >= 2^256.
  static std::optional<U256> from_decimal(std::string_view digits);
  /// From an Ethereum JSON-RPC QUANTITY ("0x0", "0x1a2b"; leading zeros tolerated).
  /// Errors (invalid_argument): no "0x", no digits, a non-hex digit, more than 256 bits.
  static Result<U256> from_quantity(std::string_view text);

  /// 32 big-endian bytes.
  std::array<std::uint8_t, 32> to_be_bytes() const;
  /// Big-endian bytes without leading zeros; empty for 0 (RLP's integer encoding).
  Bytes to_minimal_be() const;
  /// Decimal digits ("0" for zero).
  std::string to_decimal() const;
  /// A JSON-RPC QUANTITY: "0x" and lower-case hex without leading zeros ("0x0" for zero).
  std::string to_quantity() const;
  /// The value when it fits 64 bits.
  std::optional<std::uint64_t> to_u64() const;
  bool is_zero() const { return limbs_[0] == 0 && limbs_[1] == 0 && limbs_[2] == 0 && limbs_[3] == 0; }

  /// this + other, or nullopt on overflow.
  std::optional<U256> checked_add(const U256& other) const;
  /// this - other, or nullopt when other > this.
  std::optional<U256> checked_sub(const U256& other) const;
  /// this * other, or nullopt on overflow.
  std::optional<U256> checked_mul(const U256& other) const;
  /// Divides in place by `divisor` (> 0) and returns the remainder.
  std::uint32_t divmod(std::uint32_t divisor);

  friend bool operator==(const U256&, const U256&) = default;
  friend std::strong_ordering operator<=>(const U256& a, const U256& b);

 private:
  std::array<std::uint64_t, 4> limbs_{};  // little-endian: limbs_[0] is the lowest 64 bits
};

}  // namespace ob::wallet
