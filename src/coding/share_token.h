// Share links (issue 13): a capability to read one file, handed by its owner to anyone, that
// opens the file without the owner's master secret. It carries the file's CID and its file key
// (docs/formats.md "Keys"); whoever holds it can fetch the file's blocks from the network (the
// DHT and the block exchange) and decrypt them. Nothing else of the owner's is in it: other
// files have other keys.
//
//   binary  = "obs" || version (1 byte, 1) || expires_at (u64 big-endian, Unix seconds; 0 = never)
//             || file key (32 bytes) || manifest CID (binary CIDv1, the rest: at most 128 bytes)
//   text    = multibase base58btc: 'z' || base58btc(binary)
//
// The expiry is honoured by Open Bucket nodes, which refuse an expired token; it cannot take the
// key back from someone who kept it (a key once shared is shared: docs/formats.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "coding/crypto.h"
#include "core/cid.h"
#include "core/error.h"

namespace ob {

/// What a share token holds.
struct ShareToken {
  Cid file;                     ///< the file ID: its manifest's CID
  crypto::Key key{};            ///< the file key (AES-256-GCM of its blocks and metadata)
  std::uint64_t expires_at = 0; ///< Unix seconds after which nodes refuse it; 0 = never

  /// Whether the token has expired at `now` (Unix seconds).
  bool expired(std::uint64_t now) const noexcept { return expires_at != 0 && now >= expires_at; }
};

/// The token's text form (above).
std::string encode_share_token(const ShareToken& token);

/// Parses a token's text, before any network call. Errors (invalid_argument): not a share
/// token (wrong multibase, size, magic or version; a CID that is not an Open Bucket file's), in
/// one line that says so.
Result<ShareToken> parse_share_token(std::string_view text);

/// Whether `text` has the shape of a share token (its multibase prefix and magic), so that a
/// command taking "a CID or a token" knows which one it was given.
bool looks_like_share_token(std::string_view text);

}  // namespace ob
