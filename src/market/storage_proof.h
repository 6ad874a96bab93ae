// Proofs of storage as StorageMarket.sol checks them (docs/market.md "Proofs"): one 1 KiB
// segment of a slot and its Merkle path up to the file's dataset root, in three parts, bottom-up:
//   the segment inside its block   (leaves: the block's segments)
//   the block inside its slot      (leaves: the slot's block roots, in stripe order)
//   the slot inside the dataset    (leaves: the manifest's n slot roots, in slot order)
// The leaf count of each level comes from the manifest (on chain: from the storage request),
// never from the prover. Segment `s` of a slot is segment s % (B / 1024) of block s / (B / 1024).
#pragma once

#include <cstdint>
#include <vector>

#include "coding/manifest.h"
#include "coding/merkle.h"
#include "core/bytes.h"
#include "core/error.h"
#include "store/slot_store.h"

namespace ob::market {

/// The shape of a file's dataset tree, from its manifest.
struct DatasetShape {
  std::uint32_t slots = 0;               ///< n
  std::uint64_t blocks_per_slot = 0;     ///< the file's stripes
  std::uint64_t segments_per_block = 0;  ///< block size / 1024

  static DatasetShape of(const Manifest& manifest);
  /// Segments (1 KiB) in one slot.
  std::uint64_t segments_per_slot() const noexcept { return blocks_per_slot * segments_per_block; }
};

/// One segment of one slot and its path to the dataset root.
struct StorageProof {
  std::uint32_t slot = 0;
  std::uint64_t segment = 0;  ///< the segment's index in the slot, 0-based
  Bytes data;                 ///< the segment: protocol::kSegmentSize bytes
  merkle::Proof in_block;     ///< the segment among its block's segments
  merkle::Proof in_slot;      ///< the block among the slot's blocks
  merkle::Proof in_dataset;   ///< the slot among the file's slots

  /// The siblings of all three parts, bottom-up: the `path` StorageMarket.sol takes.
  std::vector<merkle::Hash> path() const;
};

/// Builds the proof of `segment` of the slot `slot` holds. Reads one block (checked against the
/// slot's index entry) and streams the slot's index once for the block's path; the block's path
/// is checked against the manifest's slot root, so a proof is never built from a damaged slot.
/// Errors (invalid_argument): the slot is not one of the manifest's, its block size or block
/// count disagree with the manifest, segment >= segments per slot; (corrupt): the block or the
/// index does not match the manifest; (io).
Result<StorageProof> prove_segment(const Manifest& manifest, const SlotReader& slot, std::uint64_t segment);

/// True when `proof` shows its segment at proof.segment of slot proof.slot under `dataset_root`
/// for a dataset of `shape`: the check StorageMarket.sol makes, for a prover's own test before it
/// spends gas. The leaf counts and indices come from `shape` and proof.slot / proof.segment; the
/// ones inside the proof's parts must agree with them.
bool verify_segment(const merkle::Hash& dataset_root, const DatasetShape& shape, const StorageProof& proof);

}  // namespace ob::market
