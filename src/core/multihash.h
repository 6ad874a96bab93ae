// Multihash (https://github.com/multiformats/multihash): varint(code) || varint(length) || digest.
#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "core/error.h"

namespace ob {

/// A self-describing hash: which function made the digest, and the digest.
class Multihash {
 public:
  /// Builds a multihash from a code and a digest. Errors (invalid_argument): a digest longer than
  /// 127 bytes, or a known code (sha2-256, segment tree) with a digest that is not 32 bytes.
  static Result<Multihash> make(std::uint64_t code, ByteView digest);

  /// SHA-256 of `data`, as a sha2-256 multihash (code 0x12).
  static Multihash sha2_256(ByteView data);

  /// Parses a whole multihash; trailing bytes are an error (use parse_prefix to allow them).
  /// Errors (invalid_argument): malformed varints, a length that does not match the bytes, or
  /// what `make` refuses.
  static Result<Multihash> parse(ByteView in);

  /// Parses a multihash at the start of `in`; returns it and how many bytes it took.
  static Result<std::pair<Multihash, std::size_t>> parse_prefix(ByteView in);

  std::uint64_t code() const noexcept { return code_; }
  ByteView digest() const noexcept { return digest_; }
  /// The binary encoding: varint(code) || varint(len) || digest.
  Bytes encode() const;
  /// Appends the binary encoding to `out`.
  void append_to(Bytes& out) const;

  friend bool operator==(const Multihash&, const Multihash&) = default;

 private:
  Multihash(std::uint64_t code, Bytes digest) : code_(code), digest_(std::move(digest)) {}
  std::uint64_t code_;
  Bytes digest_;
};

}  // namespace ob
