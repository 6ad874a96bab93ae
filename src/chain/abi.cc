#include "chain/abi.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "wallet/keccak.h"

namespace ob::chain::abi {
namespace {

using wallet::Address;
using wallet::U256;

constexpr std::size_t kWord = 32;
constexpr int kMaxDepth = 8;  // StorageMarket's deepest is 2 (a tuple holding bytes32[])

// ---- type text ----------------------------------------------------------------------------

Result<unsigned> parse_number(std::string_view digits, std::string_view whole) {
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || digits[0] == '0') {
    return fail(Errc::invalid_argument, "not an ABI type: ", whole);
  }
  return n;
}

class TypeParser {
 public:
  explicit TypeParser(std::string_view text) : text_(text) {}

  Result<Type> parse_all() {
    OB_TRY(Type type, parse_type(0));
    if (pos_ != text_.size()) return bad();
    return type;
  }

  /// A comma-separated list up to (not including) `close`; empty allowed.
  Result<std::vector<Type>> parse_list(int depth, char close) {
    std::vector<Type> types;
    if (peek() == close) return types;
    for (;;) {
      OB_TRY(Type t, parse_type(depth));
      types.push_back(std::move(t));
      if (peek() != ',') break;
      ++pos_;
    }
    if (peek() != close) return bad();
    return types;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

 private:
  std::unexpected<Error> bad() const { return fail(Errc::invalid_argument, "not an ABI type: ", text_); }

  Result<Type> parse_type(int depth) {
    if (depth > kMaxDepth) return fail(Errc::invalid_argument, "ABI type nested deeper than ", kMaxDepth, ": ", text_);
    Type type;
    if (peek() == '(') {
      ++pos_;
      type.kind = Type::Kind::tuple;
      OB_TRY(type.components, parse_list(depth + 1, ')'));
      ++pos_;
    } else {
      const std::size_t start = pos_;
      while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) != 0)) ++pos_;
      OB_TRY(type, elementary(text_.substr(start, pos_ - start)));
    }
    while (peek() == '[') {
      const std::size_t close = text_.find(']', pos_);
      if (close == std::string_view::npos) return bad();
      Type array;
      array.kind = Type::Kind::array;
      if (close > pos_ + 1) {
        OB_TRY(unsigned n, parse_number(text_.substr(pos_ + 1, close - pos_ - 1), text_));
        array.length = n;
      }
      array.components.push_back(std::move(type));
      type = std::move(array);
      pos_ = close + 1;
      if (++depth > kMaxDepth) return fail(Errc::invalid_argument, "ABI type nested deeper than ", kMaxDepth, ": ", text_);
    }
    return type;
  }

  Result<Type> elementary(std::string_view word) const {
    Type type;
    if (word == "address") {
      type.kind = Type::Kind::address;
    } else if (word == "bool") {
      type.kind = Type::Kind::boolean;
    } else if (word == "bytes") {
      type.kind = Type::Kind::bytes;
    } else if (word == "string") {
      type.kind = Type::Kind::string;
    } else if (word.starts_with("uint")) {
      type.kind = Type::Kind::uint;
      OB_TRY(type.size, parse_number(word.substr(4), text_));
      if (type.size % 8 != 0 || type.size > 256) return bad();
    } else if (word.starts_with("bytes")) {
      type.kind = Type::Kind::fixed_bytes;
      OB_TRY(type.size, parse_number(word.substr(5), text_));
      if (type.size > 32) return bad();
    } else {
      return bad();  // int<N> and fixed-point types: StorageMarket uses none
    }
    return type;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---- encoding -----------------------------------------------------------------------------

void append_word(Bytes& out, ByteView right_aligned) {
  out.insert(out.end(), kWord - right_aligned.size(), 0);
  out.insert(out.end(), right_aligned.begin(), right_aligned.end());
}

void append_u64(Bytes& out, std::uint64_t n) {
  const auto word = U256(n).to_be_bytes();
  out.insert(out.end(), word.begin(), word.end());
}

void append_padded(Bytes& out, ByteView bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
  out.insert(out.end(), (kWord - bytes.size() % kWord) % kWord, 0);
}

Result<Bytes> encode_tuple(std::span<const Type> types, std::span<const Value> values, int depth);

Result<const Value::List*> list_of(const Type& type, const Value& value) {
  OB_TRY(const Value::List* list, value.as_list());
  if (type.kind == Type::Kind::tuple && list->size() != type.components.size()) {
    return fail(Errc::invalid_argument, "ABI value for ", type.canonical(), " has ", list->size(), " parts, not ",
                type.components.size());
  }
  if (type.kind == Type::Kind::array && type.length && list->size() != *type.length) {
    return fail(Errc::invalid_argument, "ABI value for ", type.canonical(), " has ", list->size(), " elements");
  }
  return list;
}

/// The encoding of one value as it stands alone (a static value's head; a dynamic one's tail).
Result<Bytes> encode_value(const Type& type, const Value& value, int depth) {
  Bytes out;
  switch (type.kind) {
    case Type::Kind::uint: {
      OB_TRY(U256 n, value.as_uint());
      const auto word = n.to_be_bytes();
      // The top 256 - size bits must be zero.
      for (std::size_t i = 0; i < (256 - type.size) / 8; ++i) {
        if (word[i] != 0) return fail(Errc::invalid_argument, "ABI value too large for ", type.canonical());
      }
      out.assign(word.begin(), word.end());
      return out;
    }
    case Type::Kind::address: {
      OB_TRY(Address a, value.as_address());
      append_word(out, a.bytes());
      return out;
    }
    case Type::Kind::boolean: {
      OB_TRY(bool b, value.as_bool());
      append_u64(out, b ? 1 : 0);
      return out;
    }
    case Type::Kind::fixed_bytes: {
      OB_TRY(Bytes b, value.as_bytes());
      if (b.size() != type.size) {
        return fail(Errc::invalid_argument, "ABI value for ", type.canonical(), " has ", b.size(), " bytes");
      }
      append_padded(out, b);
      return out;
    }
    case Type::Kind::bytes:
    case Type::Kind::string: {
      OB_TRY(Bytes b, value.as_bytes());
      append_u64(out, b.size());
      append_padded(out, b);
      return out;
    }
    case Type::Kind::tuple: {
      OB_TRY(const Value::List* list, list_of(type, value));
      return encode_tuple(type.components, *list, depth + 1);
    }
    case Type::Kind::array: {
      OB_TRY(const Value::List* list, list_of(type, value));
      const std::vector<Type> element_types(list->size(), type.components[0]);
      OB_TRY(Bytes body, encode_tuple(element_types, *list, depth + 1));
      if (!type.length) append_u64(out, list->size());
      out.insert(out.end(), body.begin(), body.end());
      return out;
    }
  }
  return fail(Errc::internal, "unknown ABI type kind");
}

Result<Bytes> encode_tuple(std::span<const Type> types, std::span<const Value> values, int depth) {
  if (depth > 2 * kMaxDepth) return fail(Errc::invalid_argument, "ABI value nested too deeply");
  if (types.size() != values.size()) {
    return fail(Errc::invalid_argument, "ABI encoding: ", values.size(), " values for ", types.size(), " types");
  }
  std::uint64_t head_size = 0;
  for (const Type& t : types) head_size += t.head_size();
  Bytes head;
  Bytes tail;
  for (std::size_t i = 0; i < types.size(); ++i) {
    OB_TRY(Bytes encoded, encode_value(types[i], values[i], depth));
    if (types[i].is_dynamic()) {
      append_u64(head, head_size + tail.size());
      tail.insert(tail.end(), encoded.begin(), encoded.end());
    } else {
      head.insert(head.end(), encoded.begin(), encoded.end());
    }
  }
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// ---- decoding -----------------------------------------------------------------------------

std::unexpected<Error> malformed(std::string_view why) {
  return fail(Errc::invalid_argument, "malformed ABI data: ", why);
}

/// A word at `at` of `data` as a length or offset: must fit and be at most data.size().
Result<std::uint64_t> read_size(ByteView data, std::uint64_t at) {
  if (at > data.size() || data.size() - at < kWord) return malformed("truncated");
  const auto n = U256::from_be_bytes(data.subspan(at, kWord));
  const auto small = n ? n->to_u64() : std::nullopt;
  if (!small || *small > data.size()) return malformed("an offset or length points past the end");
  return *small;
}

Result<std::vector<Value>> decode_tuple(std::span<const Type> types, ByteView data, std::uint64_t base, int depth);

/// Decodes one value whose encoding begins at `at` (its head for a static type, its tail for a
/// dynamic one).
Result<Value> decode_value(const Type& type, ByteView data, std::uint64_t at, int depth) {
  if (at > data.size()) return malformed("an offset points past the end");
  const auto word = [&]() -> Result<ByteView> {
    if (data.size() - at < kWord) return malformed("truncated");
    return data.subspan(at, kWord);
  };
  switch (type.kind) {
    case Type::Kind::uint: {
      OB_TRY(ByteView w, word());
      for (std::size_t i = 0; i < (256 - type.size) / 8; ++i) {
        if (w[i] != 0) return malformed("a " + type.canonical() + " wider than its type");
      }
      return Value(*U256::from_be_bytes(w));
    }
    case Type::Kind::address: {
      OB_TRY(ByteView w, word());
      if (std::any_of(w.begin(), w.begin() + 12, [](std::uint8_t b) { return b != 0; })) {
        return malformed("an address with high bits set");
      }
      Address::Bytes20 bytes{};
      std::copy(w.begin() + 12, w.end(), bytes.begin());
      return Value(Address(bytes));
    }
    case Type::Kind::boolean: {
      OB_TRY(ByteView w, word());
      const auto n = U256::from_be_bytes(w);
      if (!(*n == U256(0)) && !(*n == U256(1))) return malformed("a bool other than 0 or 1");
      return Value(*n == U256(1));
    }
    case Type::Kind::fixed_bytes: {
      OB_TRY(ByteView w, word());
      if (std::any_of(w.begin() + type.size, w.end(), [](std::uint8_t b) { return b != 0; })) {
        return malformed("a " + type.canonical() + " with non-zero padding");
      }
      return Value(Bytes(w.begin(), w.begin() + type.size));
    }
    case Type::Kind::bytes:
    case Type::Kind::string: {
      OB_TRY(std::uint64_t length, read_size(data, at));
      const std::uint64_t start = at + kWord;
      if (data.size() - start < length) return malformed("bytes past the end");
      return Value(Bytes(data.begin() + start, data.begin() + start + length));
    }
    case Type::Kind::tuple: {
      OB_TRY(std::vector<Value> parts, decode_tuple(type.components, data, at, depth + 1));
      return Value(std::move(parts));
    }
    case Type::Kind::array: {
      std::uint64_t count = 0;
      std::uint64_t base = at;
      if (type.length) {
        count = *type.length;
      } else {
        OB_TRY(count, read_size(data, at));
        base = at + kWord;
      }
      // Every element has a head of at least a word: a count the data cannot hold is a lie
      // (and would otherwise allocate without bound).
      // (An empty tuple's head is empty; count it as a word, refusing only arrays of nothing.)
      const std::uint64_t element_head = std::max<std::uint64_t>(type.components[0].head_size(), kWord);
      if (base > data.size() || count > (data.size() - base) / element_head) return malformed("array past the end");
      const std::vector<Type> element_types(count, type.components[0]);
      OB_TRY(std::vector<Value> elements, decode_tuple(element_types, data, base, depth + 1));
      return Value(std::move(elements));
    }
  }
  return fail(Errc::internal, "unknown ABI type kind");
}

Result<std::vector<Value>> decode_tuple(std::span<const Type> types, ByteView data, std::uint64_t base, int depth) {
  if (depth > 2 * kMaxDepth) return malformed("nested too deeply");
  std::vector<Value> values;
  values.reserve(types.size());
  std::uint64_t head = base;
  for (const Type& t : types) {
    std::uint64_t at = head;
    if (t.is_dynamic()) {
      OB_TRY(std::uint64_t offset, read_size(data, head));
      if (offset > data.size() - base) return malformed("an offset points past the end");
      at = base + offset;
    }
    OB_TRY(Value v, decode_value(t, data, at, depth));
    values.push_back(std::move(v));
    head += t.head_size();
  }
  return values;
}

std::unexpected<Error> wrong_kind(std::string_view expected) {
  return fail(Errc::invalid_argument, "ABI value is not ", expected);
}

}  // namespace

Result<Type> Type::parse(std::string_view text) { return TypeParser(text).parse_all(); }

std::string Type::canonical() const {
  switch (kind) {
    case Kind::uint: return "uint" + std::to_string(size);
    case Kind::address: return "address";
    case Kind::boolean: return "bool";
    case Kind::fixed_bytes: return "bytes" + std::to_string(size);
    case Kind::bytes: return "bytes";
    case Kind::string: return "string";
    case Kind::tuple: {
      std::string text = "(";
      for (std::size_t i = 0; i < components.size(); ++i) {
        if (i > 0) text += ',';
        text += components[i].canonical();
      }
      return text + ")";
    }
    case Kind::array:
      return components[0].canonical() + "[" + (length ? std::to_string(*length) : "") + "]";
  }
  return "?";
}

bool Type::is_dynamic() const {
  switch (kind) {
    case Kind::bytes:
    case Kind::string: return true;
    case Kind::tuple: return std::any_of(components.begin(), components.end(), [](const Type& t) { return t.is_dynamic(); });
    case Kind::array: return !length || components[0].is_dynamic();
    default: return false;
  }
}

std::uint64_t Type::head_size() const {
  if (is_dynamic()) return kWord;
  if (kind == Kind::tuple) {
    std::uint64_t total = 0;
    for (const Type& t : components) total += t.head_size();
    return total;
  }
  if (kind == Kind::array) return *length * components[0].head_size();
  return kWord;
}

Result<U256> Value::as_uint() const {
  if (const auto* x = std::get_if<U256>(&v)) return *x;
  return wrong_kind("a uint");
}

Result<std::uint64_t> Value::as_u64() const {
  OB_TRY(U256 x, as_uint());
  const auto small = x.to_u64();
  if (!small) return fail(Errc::invalid_argument, "ABI value ", x.to_decimal(), " does not fit 64 bits");
  return *small;
}

Result<Address> Value::as_address() const {
  if (const auto* x = std::get_if<Address>(&v)) return *x;
  return wrong_kind("an address");
}

Result<bool> Value::as_bool() const {
  if (const auto* x = std::get_if<bool>(&v)) return *x;
  return wrong_kind("a bool");
}

Result<Bytes> Value::as_bytes() const {
  if (const auto* x = std::get_if<Bytes>(&v)) return *x;
  return wrong_kind("bytes");
}

Result<const Value::List*> Value::as_list() const {
  if (const auto* x = std::get_if<List>(&v)) return x;
  return wrong_kind("a tuple or an array");
}

Result<Bytes> encode(std::span<const Type> types, std::span<const Value> values) {
  return encode_tuple(types, values, 0);
}

Result<std::vector<Value>> decode(std::span<const Type> types, ByteView data) {
  return decode_tuple(types, data, 0, 0);
}

std::array<std::uint8_t, 4> selector(std::string_view signature) {
  const wallet::Hash32 hash = wallet::keccak256(as_bytes(signature));
  return {hash[0], hash[1], hash[2], hash[3]};
}

Result<Function> Function::parse(std::string_view signature) {
  const std::size_t open = signature.find('(');
  if (open == 0 || open == std::string_view::npos || !signature.ends_with(')')) {
    return fail(Errc::invalid_argument, "not a function signature: ", signature);
  }
  Function fn;
  fn.name = std::string(signature.substr(0, open));
  if (!std::all_of(fn.name.begin(), fn.name.end(),
                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; })) {
    return fail(Errc::invalid_argument, "not a function signature: ", signature);
  }
  // The parameter list is a tuple type.
  OB_TRY(Type params, Type::parse(signature.substr(open)));
  if (params.kind != Type::Kind::tuple) return fail(Errc::invalid_argument, "not a function signature: ", signature);
  fn.inputs = std::move(params.components);
  return fn;
}

std::string Function::signature() const {
  Type params;
  params.kind = Type::Kind::tuple;
  params.components = inputs;
  return name + params.canonical();
}

Result<Bytes> Function::encode_call(std::span<const Value> args) const {
  OB_TRY(Bytes encoded, encode(inputs, args));
  const auto sel = selector();
  Bytes data(sel.begin(), sel.end());
  data.insert(data.end(), encoded.begin(), encoded.end());
  return data;
}

}  // namespace ob::chain::abi
