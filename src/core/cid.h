// Content identifiers (https://github.com/multiformats/cid).
//   CIDv1 binary: varint(1) || varint(codec) || multihash; text: multibase, base32 'b...' by default.
//   CIDv0: a bare sha2-256 multihash (0x12 0x20 + 32 bytes), codec dag-pb, text base58btc "Qm...".
// A one-block file stored raw has the same CID as `ipfs add --cid-version=1`:
//   "hello world" -> bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"
#include "core/multibase.h"
#include "core/multihash.h"

namespace ob {

/// A content identifier: version, content codec and multihash. Immutable value type.
class Cid {
 public:
  /// A CIDv1. `codec` must be below 2^63 (every multicodec code is).
  static Cid v1(std::uint64_t codec, Multihash hash);
  /// The CIDv1 of a raw block: codec raw (0x55), sha2-256 of `data`.
  static Cid raw_sha256(ByteView data);

  /// Parses text: CIDv1 in any supported multibase ('b' base32, 'z' base58btc) or a CIDv0
  /// ("Qm...", 46 base58btc characters). Errors (invalid_argument): empty or over-long text,
  /// bad multibase, version other than 0/1, malformed varints or multihash, trailing bytes.
  static Result<Cid> parse(std::string_view text);
  /// Parses the binary form (CIDv1 bytes, or a 34-byte CIDv0 multihash). Same errors as parse.
  static Result<Cid> from_bytes(ByteView in);

  std::uint64_t version() const noexcept { return version_; }
  std::uint64_t codec() const noexcept { return codec_; }
  const Multihash& hash() const noexcept { return hash_; }

  /// Binary form: for v1 varint(1) || varint(codec) || multihash; for v0 the multihash.
  Bytes to_bytes() const;
  /// Text form: v1 as multibase base32 ('b...'), v0 as base58btc ("Qm...").
  std::string to_string() const;
  /// v1 text in another base.
  std::string to_string(multibase::Base base) const;

  friend bool operator==(const Cid&, const Cid&) = default;
  /// Orders by binary form (stable, used for sorted listings).
  friend std::strong_ordering operator<=>(const Cid& a, const Cid& b);

 private:
  Cid(std::uint64_t version, std::uint64_t codec, Multihash hash)
      : version_(version), codec_(codec), hash_(std::move(hash)) {}
  std::uint64_t version_;
  std::uint64_t codec_;
  Multihash hash_;
};

}  // namespace ob

template <>
struct std::hash<ob::Cid> {
  std::size_t operator()(const ob::Cid& cid) const noexcept;
};
