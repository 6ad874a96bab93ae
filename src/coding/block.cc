#include "coding/block.h"

#include <algorithm>

namespace ob {

Cid slot_block_cid(const merkle::Hash& root) {
  // make() cannot fail for a 32-byte digest of a known code.
  return Cid::v1(protocol::kCodecRaw, *Multihash::make(protocol::kMultihashSegmentTree, root));
}

Result<void> check_block(const Cid& cid, ByteView data) {
  const Multihash& mh = cid.hash();
  switch (mh.code()) {
    case protocol::kMultihashSha2_256: {
      const Sha256Digest digest = Sha256::hash(data);
      if (std::ranges::equal(digest, mh.digest())) return {};
      break;
    }
    case protocol::kMultihashSegmentTree: {
      if (data.empty() || data.size() % protocol::kSegmentSize != 0) {
        return fail(Errc::invalid_argument, "a segment-tree block must be a non-zero multiple of ",
                    protocol::kSegmentSize, " bytes (got ", data.size(), ")");
      }
      const merkle::Hash root = merkle::block_root(data);
      if (std::ranges::equal(root, mh.digest())) return {};
      break;
    }
    case protocol::kMultihashIdentity:
      if (std::ranges::equal(data, mh.digest())) return {};
      break;
    default:
      return fail(Errc::invalid_argument, "unsupported multihash code 0x", to_hex(Bytes{
          static_cast<std::uint8_t>(mh.code() >> 8), static_cast<std::uint8_t>(mh.code())}));
  }
  return fail(Errc::corrupt, "block does not match its CID ", cid.to_string());
}

}  // namespace ob
