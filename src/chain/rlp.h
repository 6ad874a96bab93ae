// Recursive Length Prefix, Ethereum's serialisation (yellow paper, appendix B): the bytes that
// transactions are signed and sent as. An item is a byte string or a list of items:
//
//   one byte < 0x80            itself
//   string of 0..55 bytes      0x80 + length, bytes
//   longer string              0xb7 + length of the length, length (big-endian), bytes
//   list, payload 0..55 bytes  0xc0 + length, the items' encodings
//   longer list                0xf7 + length of the length, length, the items' encodings
// Integers are byte strings: big-endian without leading zeros (0 is the empty string).
#pragma once

#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "wallet/uint256.h"

namespace ob::chain::rlp {

/// The encoding of a byte string.
Bytes encode_bytes(ByteView bytes);
/// The encoding of an unsigned integer (minimal big-endian; 0 is 0x80).
Bytes encode_uint(const wallet::U256& value);
/// The encoding of a list, from its items' encodings.
Bytes encode_list(std::span<const Bytes> encoded_items);

/// A decoded item: a byte string, or a list of items.
struct Item {
  bool is_list = false;
  Bytes bytes;              ///< when a string
  std::vector<Item> items;  ///< when a list
};

/// Decodes exactly one item filling all of `encoded`. Only canonical encodings are accepted
/// (as Ethereum nodes require): a single byte below 0x80 not wrapped, no leading zeros in
/// lengths, long forms only above 55 bytes. Errors (invalid_argument): truncated, trailing
/// bytes, non-canonical, nested deeper than 16 lists.
Result<Item> decode(ByteView encoded);

/// An item's bytes read as an unsigned integer. Errors (invalid_argument): a list, more than 32
/// bytes, or a leading zero byte (non-canonical).
Result<wallet::U256> decode_uint(const Item& item);

}  // namespace ob::chain::rlp
