#include "core/varint.h"

namespace ob::varint {

// Values >= 2^63 are outside the spec; callers guarantee they never pass one. Were one to slip
// through, it is written as plain 10-byte LEB128 (and encoded_size agrees), which decode rejects,
// so the mistake surfaces as a parse error rather than as memory corruption.
void append(Bytes& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

std::size_t encoded_size(std::uint64_t value) noexcept {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

Result<Decoded> decode(ByteView in) {
  if (in.empty()) return fail(Errc::invalid_argument, "varint is empty");
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i == kMaxBytes) break;
    const std::uint8_t byte = in[i];
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      // A zero final byte after others adds nothing: the same value has a shorter encoding.
      if (byte == 0 && i > 0) {
        return fail(Errc::invalid_argument, "varint is not minimally encoded (", i + 1,
                    " bytes with a zero final byte)");
      }
      return Decoded{value, i + 1};
    }
  }
  if (in.size() >= kMaxBytes) {
    return fail(Errc::invalid_argument, "varint is longer than ", kMaxBytes, " bytes");
  }
  return fail(Errc::invalid_argument, "varint is truncated after ", in.size(), " bytes");
}

}  // namespace ob::varint
