#include "core/multihash.h"

#include "core/protocol.h"
#include "core/sha256.h"
#include "core/varint.h"

namespace ob {
namespace {

// One byte of length varint, and the most any digest we use or accept needs.
constexpr std::size_t kMaxDigestSize = 127;
constexpr std::uint64_t kMaxCode = (std::uint64_t{1} << 63) - 1;

}  // namespace

Result<Multihash> Multihash::make(std::uint64_t code, ByteView digest) {
  if (code > kMaxCode) {
    return fail(Errc::invalid_argument, "multihash code ", code, " does not fit a varint");
  }
  if (digest.size() > kMaxDigestSize) {
    return fail(Errc::invalid_argument, "multihash digest of ", digest.size(),
                " bytes is longer than the limit of ", kMaxDigestSize);
  }
  if ((code == protocol::kMultihashSha2_256 || code == protocol::kMultihashSegmentTree) &&
      digest.size() != protocol::kSha256Size) {
    return fail(Errc::invalid_argument,
                code == protocol::kMultihashSha2_256 ? "sha2-256" : "segment-tree",
                " multihash digest must be ", protocol::kSha256Size, " bytes, not ", digest.size());
  }
  return Multihash(code, Bytes(digest.begin(), digest.end()));
}

Multihash Multihash::sha2_256(ByteView data) {
  const Sha256Digest digest = Sha256::hash(data);
  return Multihash(protocol::kMultihashSha2_256, Bytes(digest.begin(), digest.end()));
}

Result<Multihash> Multihash::parse(ByteView in) {
  OB_TRY(auto parsed, parse_prefix(in));
  if (parsed.second != in.size()) {
    return fail(Errc::invalid_argument, in.size() - parsed.second,
                " trailing bytes after multihash");
  }
  return std::move(parsed.first);
}

Result<std::pair<Multihash, std::size_t>> Multihash::parse_prefix(ByteView in) {
  auto code = varint::decode(in);
  if (!code) return std::unexpected(prefixed(std::move(code).error(), "multihash code"));
  auto length = varint::decode(in.subspan(code->size));
  if (!length) return std::unexpected(prefixed(std::move(length).error(), "multihash length"));
  const std::size_t header = code->size + length->size;
  // Compare before converting: a huge declared length must not wrap or drive allocation.
  if (length->value > kMaxDigestSize) {
    return fail(Errc::invalid_argument, "multihash digest length ", length->value,
                " is longer than the limit of ", kMaxDigestSize);
  }
  const auto digest_size = static_cast<std::size_t>(length->value);
  if (in.size() - header < digest_size) {
    return fail(Errc::invalid_argument, "multihash is truncated: digest length ", digest_size,
                " but only ", in.size() - header, " bytes follow");
  }
  OB_TRY(auto hash, make(code->value, in.subspan(header, digest_size)));
  return std::pair<Multihash, std::size_t>(std::move(hash), header + digest_size);
}

Bytes Multihash::encode() const {
  Bytes out;
  out.reserve(varint::encoded_size(code_) + 1 + digest_.size());
  append_to(out);
  return out;
}

void Multihash::append_to(Bytes& out) const {
  varint::append(out, code_);
  varint::append(out, digest_.size());
  out.insert(out.end(), digest_.begin(), digest_.end());
}

}  // namespace ob
