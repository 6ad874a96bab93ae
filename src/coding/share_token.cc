#include "coding/share_token.h"

#include <algorithm>

#include "core/multibase.h"
#include "core/protocol.h"

namespace ob {
namespace {

constexpr std::string_view kMagic = "obs";
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeader = kMagic.size() + 1 + 8;  // magic, version, expires_at
constexpr std::size_t kMaxCidBytes = 128;
/// The text of the longest token, with room: base58 grows bytes by log(256)/log(58) < 1.37.
constexpr std::size_t kMaxText = 1 + (kHeader + sizeof(crypto::Key) + kMaxCidBytes) * 137 / 100 + 2;

Result<Bytes> token_bytes(std::string_view text) {
  if (text.empty() || text.size() > kMaxText || text.front() != static_cast<char>(multibase::Base::base58btc)) {
    return fail(Errc::invalid_argument, "not a share token");
  }
  auto bytes = multibase::decode(text);
  if (!bytes || bytes->size() < kHeader + sizeof(crypto::Key) + 1 ||
      !std::equal(kMagic.begin(), kMagic.end(), bytes->begin())) {
    return fail(Errc::invalid_argument, "not a share token");
  }
  return std::move(*bytes);
}

}  // namespace

std::string encode_share_token(const ShareToken& token) {
  Bytes out(kMagic.begin(), kMagic.end());
  out.push_back(kVersion);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(token.expires_at >> shift));
  out.insert(out.end(), token.key.begin(), token.key.end());
  const Bytes cid = token.file.to_bytes();
  out.insert(out.end(), cid.begin(), cid.end());
  return multibase::encode(multibase::Base::base58btc, out);
}

bool looks_like_share_token(std::string_view text) { return token_bytes(text).has_value(); }

Result<ShareToken> parse_share_token(std::string_view text) {
  OB_TRY(Bytes bytes, token_bytes(text));
  if (bytes[kMagic.size()] != kVersion) {
    return fail(Errc::invalid_argument, "a share token of version ", int{bytes[kMagic.size()]},
                ", which this node does not know (it knows version ", int{kVersion}, ")");
  }
  ShareToken token{Cid::raw_sha256({}), {}, 0};
  for (std::size_t i = kMagic.size() + 1; i < kHeader; ++i) token.expires_at = (token.expires_at << 8) | bytes[i];
  std::copy_n(bytes.begin() + kHeader, token.key.size(), token.key.begin());
  const ByteView cid_bytes = ByteView(bytes).subspan(kHeader + token.key.size());
  Result<Cid> cid = fail(Errc::invalid_argument, "too long");
  if (cid_bytes.size() <= kMaxCidBytes) cid = Cid::from_bytes(cid_bytes);
  if (!cid || cid->codec() != protocol::kCodecManifest) {
    return fail(Errc::invalid_argument, "a share token whose file ID is not an Open Bucket file's");
  }
  token.file = std::move(*cid);
  return token;
}

}  // namespace ob
