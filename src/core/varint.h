// Unsigned LEB128 varints, as multiformats uses them
// (https://github.com/multiformats/unsigned-varint): 7 bits a byte, least significant first,
// high bit set on every byte but the last, at most 9 bytes (63 bits), minimal encoding only.
#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "core/error.h"

namespace ob::varint {

/// The longest varint multiformats allows: 9 bytes, values below 2^63.
inline constexpr std::size_t kMaxBytes = 9;

/// Appends the varint encoding of `value` (must be < 2^63) to `out`.
void append(Bytes& out, std::uint64_t value);

/// Number of bytes `append` writes for `value`.
std::size_t encoded_size(std::uint64_t value) noexcept;

/// A decoded varint and how many input bytes it took.
struct Decoded {
  std::uint64_t value;
  std::size_t size;
};

/// Decodes the varint at the start of `in`.
/// Errors (Errc::invalid_argument): empty or truncated input, more than 9 bytes,
/// or a non-minimal encoding (e.g. 0x80 0x00), which multiformats forbids.
Result<Decoded> decode(ByteView in);

}  // namespace ob::varint
