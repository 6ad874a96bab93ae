#include "chain/rlp.h"

namespace ob::chain::rlp {
namespace {

constexpr std::size_t kMaxDepth = 16;

/// The header of a string (offset 0x80) or list (offset 0xc0) with a payload of `size` bytes.
void put_header(Bytes& out, std::uint8_t offset, std::size_t size) {
  if (size <= 55) {
    out.push_back(static_cast<std::uint8_t>(offset + size));
    return;
  }
  Bytes length;
  for (std::size_t n = size; n != 0; n >>= 8) length.insert(length.begin(), static_cast<std::uint8_t>(n));
  out.push_back(static_cast<std::uint8_t>(offset + 55 + length.size()));
  out.insert(out.end(), length.begin(), length.end());
}

struct Reader {
  ByteView in;
  std::size_t pos = 0;

  Result<Item> item(std::size_t depth) {
    if (pos >= in.size()) return fail(Errc::invalid_argument, "RLP: truncated");
    const std::uint8_t first = in[pos++];
    if (first < 0x80) return Item{false, Bytes{first}, {}};
    const bool list = first >= 0xc0;
    const std::uint8_t base = list ? 0xc0 : 0x80;
    std::size_t size = 0;
    if (first - base <= 55) {
      size = first - base;
    } else {
      const std::size_t length_size = first - base - 55;
      if (length_size > 8 || in.size() - pos < length_size) return fail(Errc::invalid_argument, "RLP: truncated length");
      if (in[pos] == 0) return fail(Errc::invalid_argument, "RLP: length with a leading zero");
      for (std::size_t i = 0; i < length_size; ++i) {
        if (size > (SIZE_MAX >> 8)) return fail(Errc::invalid_argument, "RLP: length too large");
        size = size << 8 | in[pos++];
      }
      if (size <= 55) return fail(Errc::invalid_argument, "RLP: long form for a short payload");
    }
    if (in.size() - pos < size) return fail(Errc::invalid_argument, "RLP: payload truncated");
    if (!list) {
      if (size == 1 && in[pos] < 0x80) return fail(Errc::invalid_argument, "RLP: single byte below 0x80 wrapped");
      Item out{false, Bytes(in.begin() + static_cast<std::ptrdiff_t>(pos), in.begin() + static_cast<std::ptrdiff_t>(pos + size)), {}};
      pos += size;
      return out;
    }
    if (depth >= kMaxDepth) return fail(Errc::invalid_argument, "RLP: lists nested deeper than ", kMaxDepth);
    const std::size_t end = pos + size;
    Item out{true, {}, {}};
    Reader inner{in.first(end), pos};
    while (inner.pos < end) {
      OB_TRY(Item child, inner.item(depth + 1));
      out.items.push_back(std::move(child));
    }
    pos = end;
    return out;
  }
};

}  // namespace

Bytes encode_bytes(ByteView bytes) {
  if (bytes.size() == 1 && bytes[0] < 0x80) return Bytes{bytes[0]};
  Bytes out;
  out.reserve(bytes.size() + 9);
  put_header(out, 0x80, bytes.size());
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

Bytes encode_uint(const wallet::U256& value) { return encode_bytes(value.to_minimal_be()); }

Bytes encode_list(std::span<const Bytes> encoded_items) {
  std::size_t size = 0;
  for (const Bytes& item : encoded_items) size += item.size();
  Bytes out;
  out.reserve(size + 9);
  put_header(out, 0xc0, size);
  for (const Bytes& item : encoded_items) out.insert(out.end(), item.begin(), item.end());
  return out;
}

Result<Item> decode(ByteView encoded) {
  Reader reader{encoded};
  OB_TRY(Item item, reader.item(0));
  if (reader.pos != encoded.size()) return fail(Errc::invalid_argument, "RLP: ", encoded.size() - reader.pos, " trailing bytes");
  return item;
}

Result<wallet::U256> decode_uint(const Item& item) {
  if (item.is_list) return fail(Errc::invalid_argument, "RLP: a list where an integer belongs");
  if (!item.bytes.empty() && item.bytes[0] == 0) return fail(Errc::invalid_argument, "RLP: integer with a leading zero");
  auto value = wallet::U256::from_be_bytes(item.bytes);
  if (!value) return fail(Errc::invalid_argument, "RLP: integer longer than 32 bytes");
  return *value;
}

}  // namespace ob::chain::rlp
