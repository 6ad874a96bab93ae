// Block identities: which CID a block of bytes has, and whether bytes match a CID.
//   raw blocks put by users:  CIDv1(raw, sha2-256(bytes))               (IPFS-compatible)
//   slot blocks:              CIDv1(raw, segment-tree multihash 0x300001 of merkle::block_root)
//   manifests:                CIDv1(0x300000, sha2-256(bytes))
#pragma once

#include "coding/merkle.h"
#include "core/cid.h"

namespace ob {

/// The CID of a slot block whose merkle::block_root is `root`.
Cid slot_block_cid(const merkle::Hash& root);

/// Checks that `data` hashes to `cid`'s multihash (sha2-256, segment tree, or identity).
/// Errors (corrupt): the digest differs; (invalid_argument): an unsupported hash function or a
/// segment-tree block whose size is not a non-zero multiple of the segment size.
Result<void> check_block(const Cid& cid, ByteView data);

}  // namespace ob
