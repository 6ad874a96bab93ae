// The Solidity contract ABI (https://docs.soliditylang.org/en/latest/abi-spec.html), for the
// types StorageMarket.sol uses: uint<N>, address, bool, bytes<N>, bytes, string, tuples and
// arrays (T[] and T[k]). Every value is encoded as a tuple of its parts:
//
//   head(static)  = the value itself, in 32-byte words (uintN/address/bool: left-padded;
//                   bytesN: right-padded; a static tuple or T[k]: its parts in order)
//   head(dynamic) = one word: the offset of its tail from the start of the enclosing tuple
//   tail(bytes)   = a length word, then the bytes right-padded to a whole word
//   tail(T[])     = a length word, then the elements encoded as a tuple
//
// A call's data is the function's selector (the first 4 bytes of Keccak-256 of its canonical
// signature, e.g. "withdraw()") followed by its arguments encoded as one tuple.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "wallet/keys.h"
#include "wallet/uint256.h"

namespace ob::chain::abi {

/// A type: parsed from its canonical text ("uint256", "(bytes,bytes32[])[2]").
struct Type {
  enum class Kind { uint, address, boolean, fixed_bytes, bytes, string, tuple, array };
  Kind kind = Kind::uint;
  unsigned size = 256;                    ///< bits of a uint (8..256), bytes of a fixed_bytes (1..32)
  std::vector<Type> components;           ///< a tuple's parts; an array's element type (one)
  std::optional<std::uint64_t> length;    ///< a fixed-length array's length; none for T[]

  /// Parses canonical type text. Errors (invalid_argument): anything else, e.g. "uint7",
  /// "bytes33", unbalanced parentheses, nesting deeper than 8.
  static Result<Type> parse(std::string_view text);
  /// The canonical text, as in signatures.
  std::string canonical() const;
  /// Whether its encoding has a tail (bytes, string, T[], or anything containing one).
  bool is_dynamic() const;
  /// Bytes of its head inside an enclosing tuple: 32 when dynamic, else its whole encoding.
  std::uint64_t head_size() const;
};

/// A value of some Type: uint -> U256; address -> Address; bool -> bool; bytesN, bytes and
/// string -> Bytes; tuple and array -> a list of values.
struct Value {
  using List = std::vector<Value>;
  std::variant<wallet::U256, wallet::Address, bool, Bytes, List> v;

  Value() = default;
  Value(wallet::U256 x) : v(x) {}                  // NOLINT(google-explicit-constructor)
  Value(std::uint64_t x) : v(wallet::U256(x)) {}   // NOLINT(google-explicit-constructor)
  Value(const wallet::Address& x) : v(x) {}        // NOLINT(google-explicit-constructor)
  Value(bool x) : v(x) {}                          // NOLINT(google-explicit-constructor)
  Value(Bytes x) : v(std::move(x)) {}              // NOLINT(google-explicit-constructor)
  Value(List x) : v(std::move(x)) {}               // NOLINT(google-explicit-constructor)

  /// The alternative, or an error (invalid_argument) naming what was expected.
  Result<wallet::U256> as_uint() const;
  Result<std::uint64_t> as_u64() const;  ///< a uint that fits 64 bits
  Result<wallet::Address> as_address() const;
  Result<bool> as_bool() const;
  Result<Bytes> as_bytes() const;
  Result<const List*> as_list() const;
};

/// Encodes `values` as the tuple of `types` (a call's arguments, a constructor's). Errors
/// (invalid_argument): a count or kind mismatch, a uint wider than its type, bytesN of the
/// wrong length, a fixed array of the wrong length.
Result<Bytes> encode(std::span<const Type> types, std::span<const Value> values);

/// Decodes `data` as the tuple of `types` (a call's return data, an event's data). Strict, as
/// Solidity's own decoder: every offset and length inside `data`, uints within their width,
/// bool 0 or 1, address and padding bits zero. Errors (invalid_argument): anything else.
Result<std::vector<Value>> decode(std::span<const Type> types, ByteView data);

/// The first 4 bytes of Keccak-256 of a signature: a function's selector or an error's.
std::array<std::uint8_t, 4> selector(std::string_view signature);

/// A function (or an error, or an event): its name and parameter types, from a signature.
struct Function {
  std::string name;
  std::vector<Type> inputs;

  /// Parses "name(type,type,...)" (canonical types, no spaces). Errors (invalid_argument).
  static Result<Function> parse(std::string_view signature);
  /// "name(canonical types)".
  std::string signature() const;
  std::array<std::uint8_t, 4> selector() const { return abi::selector(signature()); }
  /// The selector followed by the encoded arguments: a call's data.
  Result<Bytes> encode_call(std::span<const Value> args) const;
};

}  // namespace ob::chain::abi
