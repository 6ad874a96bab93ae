#include "core/multibase.h"

#include <array>
#include <cstdio>

namespace ob::multibase {
namespace {

constexpr std::string_view kBase32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view kBase58Alphabet =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

constexpr std::int8_t kInvalid = -1;

// Reverse lookup tables, built at compile time so decoding is one load per character.
constexpr std::array<std::int8_t, 256> reverse(std::string_view alphabet) {
  std::array<std::int8_t, 256> table{};
  table.fill(kInvalid);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<std::uint8_t>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}
constexpr auto kBase32Reverse = reverse(kBase32Alphabet);
constexpr auto kBase58Reverse = reverse(kBase58Alphabet);

// Untrusted text may hold control or non-ASCII bytes; quoting them raw would garble the message.
std::string describe(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) return std::string("'") + c + "'";
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "0x%02x", byte);
  return std::string("byte ") + buf.data();
}

}  // namespace

std::string encode_base32(ByteView in) {
  std::string out;
  out.reserve((in.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t byte : in) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32Alphabet[(buffer >> bits) & 0x1f]);
    }
    buffer &= (1u << bits) - 1;  // keep only unconsumed bits so the buffer never overflows
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

namespace {

// `offset` is where `in` starts in the text the user gave, so error positions point into that
// text (past the multibase prefix) rather than into the body.
Result<Bytes> decode_base32_at(std::string_view in, std::size_t offset) {
  // Unpadded base32 groups 8 characters per 5 bytes; a final group of 1, 3 or 6 characters
  // cannot come from any whole number of bytes.
  const std::size_t tail = in.size() % 8;
  Bytes out;
  out.reserve(in.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const std::int8_t v = kBase32Reverse[static_cast<std::uint8_t>(c)];
    if (v == kInvalid) {
      if (c == '=') {
        return fail(Errc::invalid_argument, "base32 padding '=' at position ", offset + i,
                    " is not allowed (multibase base32 is unpadded)");
      }
      if (c >= 'A' && c <= 'Z') {
        return fail(Errc::invalid_argument, "invalid base32 character '", c, "' at position ",
                    offset + i, " (multibase 'b' is lower case)");
      }
      return fail(Errc::invalid_argument, "invalid base32 character ", describe(c), " at position ",
                  offset + i);
    }
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
      buffer &= (1u << bits) - 1;
    }
  }
  if (tail == 1 || tail == 3 || tail == 6) {
    return fail(Errc::invalid_argument, "invalid base32 length ", in.size(), " (a final group of ",
                tail, " characters is impossible)");
  }
  // Leftover bits must be zero, or two different texts would decode to the same bytes.
  if (buffer != 0) {
    return fail(Errc::invalid_argument, "base32 text has non-zero trailing bits");
  }
  return out;
}

}  // namespace

Result<Bytes> decode_base32(std::string_view in) { return decode_base32_at(in, 0); }

std::string encode_base58btc(ByteView in) {
  std::size_t zeros = 0;
  while (zeros < in.size() && in[zeros] == 0) ++zeros;
  // Big-endian base-58 digits, least significant last; log(256)/log(58) < 1.38.
  std::vector<std::uint8_t> digits((in.size() - zeros) * 138 / 100 + 1, 0);
  std::size_t used = 0;  // digits in use, counted from the end
  for (std::size_t i = zeros; i < in.size(); ++i) {
    std::uint32_t carry = in[i];
    std::size_t j = 0;
    for (auto it = digits.rbegin(); (carry != 0 || j < used) && it != digits.rend(); ++it, ++j) {
      carry += 256u * *it;
      *it = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    used = j;
  }
  std::string out(zeros, '1');
  out.reserve(zeros + used);
  for (std::size_t i = digits.size() - used; i < digits.size(); ++i) {
    out.push_back(kBase58Alphabet[digits[i]]);
  }
  return out;
}

namespace {

Result<Bytes> decode_base58btc_at(std::string_view in, std::size_t offset) {
  std::size_t ones = 0;
  while (ones < in.size() && in[ones] == '1') ++ones;
  // log(58)/log(256) < 0.733.
  Bytes bytes((in.size() - ones) * 733 / 1000 + 1, 0);
  std::size_t used = 0;
  for (std::size_t i = ones; i < in.size(); ++i) {
    const std::int8_t v = kBase58Reverse[static_cast<std::uint8_t>(in[i])];
    if (v == kInvalid) {
      return fail(Errc::invalid_argument, "invalid base58btc character ", describe(in[i]),
                  " at position ", offset + i);
    }
    std::uint32_t carry = static_cast<std::uint32_t>(v);
    std::size_t j = 0;
    for (auto it = bytes.rbegin(); (carry != 0 || j < used) && it != bytes.rend(); ++it, ++j) {
      carry += 58u * *it;
      *it = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    used = j;
  }
  Bytes out(ones, 0);
  out.insert(out.end(), bytes.end() - static_cast<std::ptrdiff_t>(used), bytes.end());
  return out;
}

}  // namespace

Result<Bytes> decode_base58btc(std::string_view in) { return decode_base58btc_at(in, 0); }

std::string encode(Base base, ByteView in) {
  std::string body = base == Base::base32 ? encode_base32(in) : encode_base58btc(in);
  body.insert(body.begin(), static_cast<char>(base));
  return body;
}

Result<Bytes> decode(std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_argument, "multibase text is empty");
  const std::string_view body = text.substr(1);
  switch (text.front()) {
    case static_cast<char>(Base::base32):
      return decode_base32_at(body, 1);
    case static_cast<char>(Base::base58btc):
      return decode_base58btc_at(body, 1);
    default:
      return fail(Errc::invalid_argument, "unsupported multibase prefix ", describe(text.front()),
                  " (supported: 'b' base32, 'z' base58btc)");
  }
}

}  // namespace ob::multibase
