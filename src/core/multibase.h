// Multibase text encodings (https://github.com/multiformats/multibase): a one-character prefix
// names the base. We support base32 lower-case without padding ('b', RFC 4648 alphabet) and
// base58btc ('z', Bitcoin alphabet).
#pragma once

#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace ob::multibase {

enum class Base : char {
  base32 = 'b',     ///< RFC 4648 base32, lower case, no padding
  base58btc = 'z',  ///< Bitcoin's base58 alphabet
};

/// Base32 lower-case, no padding, no prefix. `encode_base32(as_bytes("f")) == "my"`.
std::string encode_base32(ByteView in);
/// Inverse of encode_base32. Errors (invalid_argument): a character outside the lower-case
/// alphabet, padding, or an impossible length / non-zero trailing bits.
Result<Bytes> decode_base32(std::string_view in);

/// Base58btc, no prefix; leading zero bytes become leading '1's.
std::string encode_base58btc(ByteView in);
/// Inverse of encode_base58btc. Errors (invalid_argument): a character outside the alphabet.
Result<Bytes> decode_base58btc(std::string_view in);

/// Prefix + encoding: `encode(Base::base32, bytes)` starts with 'b'.
std::string encode(Base base, ByteView in);
/// Decodes text with a multibase prefix ('b' or 'z'). Errors (invalid_argument): empty text,
/// an unsupported prefix, or a body invalid for its base.
Result<Bytes> decode(std::string_view text);

}  // namespace ob::multibase
