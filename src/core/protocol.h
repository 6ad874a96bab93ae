// The constants that define Open Bucket's formats, in one place.
// Each says where it is specified; docs/formats.md describes the formats they belong to.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ob::protocol {

// --- multicodec codes (https://github.com/multiformats/multicodec/blob/master/table.csv) ---
inline constexpr std::uint64_t kCodecRaw = 0x55;     ///< raw bytes, as `ipfs add --cid-version=1 --raw-leaves`
inline constexpr std::uint64_t kCodecDagPb = 0x70;   ///< MerkleDAG protobuf (CIDv0's implicit codec)
/// Open Bucket manifest (coding/manifest.proto). From multicodec's private-use range 0x300000-0x3fffff.
inline constexpr std::uint64_t kCodecManifest = 0x300000;

// --- multihash codes ---
inline constexpr std::uint64_t kMultihashIdentity = 0x00;
inline constexpr std::uint64_t kMultihashSha2_256 = 0x12;  ///< digest 32 bytes
/// Open Bucket segment-tree hash: the root of the SHA-256 Merkle tree over a block's 1 KiB segments
/// (coding/merkle.h). Used as a slot block's identity so each stored byte is hashed once, not twice
/// (DESIGN.md "Hash each byte as few times as you can"). Private-use range; digest 32 bytes.
inline constexpr std::uint64_t kMultihashSegmentTree = 0x300001;
inline constexpr std::size_t kSha256Size = 32;

// --- blocks, segments, stripes ---
/// Merkle leaf size: a proof carries one segment, small enough for on-chain verification later.
inline constexpr std::size_t kSegmentSize = 1024;
inline constexpr std::size_t kDefaultBlockSize = 64 * 1024;
inline constexpr std::size_t kMinBlockSize = 4 * 1024;
inline constexpr std::size_t kMaxBlockSize = 4 * 1024 * 1024;
/// GF(2^8) Reed-Solomon with a Cauchy matrix supports k + m <= 255 rows here (ISA-L's limit is 256;
/// we keep one spare so slot indices fit a byte with room for a sentinel).
inline constexpr std::size_t kMaxSlots = 255;
/// One stripe (n blocks) is held in memory while encoding or decoding; this bounds it.
inline constexpr std::size_t kMaxStripeBytes = 64 * 1024 * 1024;

// --- encryption (AES-256-GCM, NIST SP 800-38D) ---
inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kMasterSecretSize = 32;
/// Salt of the per-file key derivation (HKDF, RFC 5869); random per file.
inline constexpr std::size_t kFileKeySaltSize = 32;

// --- parsing limits for untrusted input ---
/// A manifest is O(slots): 255 roots of 32 bytes plus small fields fit well within this.
inline constexpr std::size_t kMaxManifestSize = 64 * 1024;
inline constexpr std::size_t kMaxFileNameSize = 4096;
/// Longest CID text or binary we accept (identity multihashes are refused above this).
inline constexpr std::size_t kMaxCidSize = 256;

}  // namespace ob::protocol
