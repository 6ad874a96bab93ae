#include "core/cid.h"

#include <algorithm>
#include <array>

#include "core/protocol.h"
#include "core/varint.h"

namespace ob {
namespace {

constexpr std::size_t kCidV0Size = 34;      // 0x12 0x20 + 32-byte sha2-256 digest
constexpr std::size_t kCidV0TextSize = 46;  // base58btc of those 34 bytes, "Qm..."

// Binary form built on the stack, so ordering and hashing (used by sorted listings and hash
// maps) do not allocate. Sized for four 10-byte varints plus the largest digest Multihash allows.
struct Encoded {
  std::array<std::uint8_t, 4 * 10 + 127> bytes;
  std::size_t size = 0;

  void put_varint(std::uint64_t value) {
    while (value >= 0x80) {
      bytes[size++] = static_cast<std::uint8_t>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    bytes[size++] = static_cast<std::uint8_t>(value);
  }
  ByteView view() const { return ByteView(bytes.data(), size); }
};

Encoded encode(const Cid& cid) {
  Encoded out;
  if (cid.version() != 0) {
    out.put_varint(cid.version());
    out.put_varint(cid.codec());
  }
  out.put_varint(cid.hash().code());
  const ByteView digest = cid.hash().digest();
  out.put_varint(digest.size());
  std::copy(digest.begin(), digest.end(),
            out.bytes.begin() + static_cast<std::ptrdiff_t>(out.size));
  out.size += digest.size();
  return out;
}

}  // namespace

Cid Cid::v1(std::uint64_t codec, Multihash hash) { return Cid(1, codec, std::move(hash)); }

Cid Cid::raw_sha256(ByteView data) {
  return Cid(1, protocol::kCodecRaw, Multihash::sha2_256(data));
}

Result<Cid> Cid::parse(std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_argument, "CID text is empty");
  if (text.size() > protocol::kMaxCidSize) {
    return fail(Errc::invalid_argument, "CID text of ", text.size(),
                " characters is longer than the limit of ", protocol::kMaxCidSize);
  }
  if (text.size() == kCidV0TextSize && text.starts_with("Qm")) {
    OB_TRY(auto bytes, multibase::decode_base58btc(text));
    // Any 46-character "Qm" string decodes to 34 bytes starting 0x12 0x20; check anyway rather
    // than rely on that arithmetic for untrusted input.
    if (bytes.size() != kCidV0Size || bytes[0] != protocol::kMultihashSha2_256 || bytes[1] != 32) {
      return fail(Errc::invalid_argument, "CIDv0 text does not decode to a sha2-256 multihash");
    }
    OB_TRY(auto hash, Multihash::parse(bytes));
    return Cid(0, protocol::kCodecDagPb, std::move(hash));
  }
  auto bytes = multibase::decode(text);
  if (!bytes) return std::unexpected(prefixed(std::move(bytes).error(), "CID"));
  // The CID spec forbids multibase-encoded CIDv0: it would not round-trip to the same text.
  if (!bytes->empty() && (*bytes)[0] == protocol::kMultihashSha2_256) {
    return fail(Errc::invalid_argument, "CIDv0 cannot be multibase-encoded");
  }
  return from_bytes(*bytes);
}

Result<Cid> Cid::from_bytes(ByteView in) {
  if (in.empty()) return fail(Errc::invalid_argument, "CID is empty");
  if (in.size() > protocol::kMaxCidSize) {
    return fail(Errc::invalid_argument, "CID of ", in.size(), " bytes is longer than the limit of ",
                protocol::kMaxCidSize);
  }
  if (in.size() == kCidV0Size && in[0] == protocol::kMultihashSha2_256 && in[1] == 32) {
    OB_TRY(auto hash, Multihash::parse(in));
    return Cid(0, protocol::kCodecDagPb, std::move(hash));
  }
  auto version = varint::decode(in);
  if (!version) return std::unexpected(prefixed(std::move(version).error(), "CID version"));
  if (version->value == protocol::kMultihashSha2_256) {
    return fail(Errc::invalid_argument, "CIDv0 must be exactly ", kCidV0Size,
                " bytes (0x12 0x20 and a 32-byte digest), not ", in.size());
  }
  // An explicit version 0 is not CIDv0 (which has no version field) and would not round-trip.
  if (version->value != 1) {
    return fail(Errc::invalid_argument, "unsupported CID version ", version->value);
  }
  std::size_t pos = version->size;
  auto codec = varint::decode(in.subspan(pos));
  if (!codec) return std::unexpected(prefixed(std::move(codec).error(), "CID codec"));
  pos += codec->size;
  auto hash = Multihash::parse_prefix(in.subspan(pos));
  if (!hash) return std::unexpected(prefixed(std::move(hash).error(), "CID"));
  pos += hash->second;
  if (pos != in.size()) {
    return fail(Errc::invalid_argument, in.size() - pos, " trailing bytes after CID");
  }
  return Cid(1, codec->value, std::move(hash->first));
}

Bytes Cid::to_bytes() const {
  const Encoded e = encode(*this);
  return Bytes(e.bytes.begin(), e.bytes.begin() + static_cast<std::ptrdiff_t>(e.size));
}

std::string Cid::to_string() const {
  if (version_ == 0) return multibase::encode_base58btc(encode(*this).view());
  return multibase::encode(multibase::Base::base32, encode(*this).view());
}

// CIDv0 has no multibase prefix, so its only text form is base58btc "Qm..." whatever is asked
// (as go-cid's Encode does); converting it to v1 silently would change its identity.
std::string Cid::to_string(multibase::Base base) const {
  if (version_ == 0) return to_string();
  return multibase::encode(base, encode(*this).view());
}

std::strong_ordering operator<=>(const Cid& a, const Cid& b) {
  const Encoded ea = encode(a);
  const Encoded eb = encode(b);
  const ByteView va = ea.view();
  const ByteView vb = eb.view();
  return std::lexicographical_compare_three_way(va.begin(), va.end(), vb.begin(), vb.end());
}

}  // namespace ob

std::size_t std::hash<ob::Cid>::operator()(const ob::Cid& cid) const noexcept {
  const auto e = ob::encode(cid);
  return std::hash<std::string_view>{}(ob::as_chars(e.view()));
}
