// Byte buffers and views used across Open Bucket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ob {

/// An owned, growable byte buffer.
using Bytes = std::vector<std::uint8_t>;
/// A read-only view of bytes owned elsewhere.
using ByteView = std::span<const std::uint8_t>;
/// A writable view of bytes owned elsewhere.
using MutableByteView = std::span<std::uint8_t>;

/// Views the bytes of a string (no copy).
inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy).
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Lower-case hexadecimal of `b`, two characters a byte.
std::string to_hex(ByteView b);

/// The value of one hexadecimal digit (either case), or -1 for any other character.
int hex_digit_value(char c) noexcept;

/// The bytes of hexadecimal text (either case, an even number of digits, no prefix); nullopt
/// when the text is not that.
std::optional<Bytes> from_hex(std::string_view hex);

/// Compares two byte ranges in time independent of where they differ (for tags and MACs).
bool constant_time_equal(ByteView a, ByteView b) noexcept;

}  // namespace ob
