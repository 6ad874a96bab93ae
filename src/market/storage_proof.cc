#include "market/storage_proof.h"

#include <optional>

#include "core/protocol.h"

namespace ob::market {

DatasetShape DatasetShape::of(const Manifest& manifest) {
  return {manifest.params.n(), manifest.stripe_count(), manifest.params.block_size / protocol::kSegmentSize};
}

std::vector<merkle::Hash> StorageProof::path() const {
  std::vector<merkle::Hash> out;
  out.reserve(in_block.siblings.size() + in_slot.siblings.size() + in_dataset.siblings.size());
  for (const merkle::Proof* part : {&in_block, &in_slot, &in_dataset}) {
    out.insert(out.end(), part->siblings.begin(), part->siblings.end());
  }
  return out;
}

Result<StorageProof> prove_segment(const Manifest& manifest, const SlotReader& slot, std::uint64_t segment) {
  const DatasetShape shape = DatasetShape::of(manifest);
  const std::uint32_t index = slot.slot_index();
  if (index >= shape.slots || manifest.slot_roots.size() != shape.slots) {
    return fail(Errc::invalid_argument, "slot ", index, " is not one of the file's ", shape.slots, " slots");
  }
  if (slot.block_size() != manifest.params.block_size || slot.block_count() != shape.blocks_per_slot) {
    return fail(Errc::invalid_argument, "slot ", index, " has ", slot.block_count(), " blocks of ", slot.block_size(),
                " bytes; the manifest says ", shape.blocks_per_slot, " of ", manifest.params.block_size);
  }
  if (segment >= shape.segments_per_slot()) {
    return fail(Errc::invalid_argument, "segment ", segment, " is past the end of the slot (",
                shape.segments_per_slot(), " segments)");
  }
  const std::uint64_t block = segment / shape.segments_per_block;
  const std::uint64_t in_block = segment % shape.segments_per_block;

  Bytes data(manifest.params.block_size);
  OB_TRY_VOID(slot.read_block(block, data));
  std::vector<merkle::Hash> leaves;
  leaves.reserve(static_cast<std::size_t>(shape.segments_per_block));
  for (std::size_t off = 0; off < data.size(); off += protocol::kSegmentSize) {
    leaves.push_back(merkle::leaf_hash(ByteView(data).subspan(off, protocol::kSegmentSize)));
  }
  OB_TRY(const merkle::Hash block_root, merkle::root(leaves));
  OB_TRY(const merkle::Hash indexed_root, slot.root_at(block));
  if (block_root != indexed_root) {
    return fail(Errc::corrupt, "block ", block, " of slot ", index, " does not match its root in the slot index");
  }

  StorageProof proof;
  proof.slot = index;
  proof.segment = segment;
  OB_TRY(proof.in_block, merkle::prove(leaves, in_block));
  OB_TRY(proof.in_slot, slot.prove(block));
  if (!merkle::verify(manifest.slot_roots[index], block_root, proof.in_slot)) {
    return fail(Errc::corrupt, "slot ", index, " index does not match the manifest's slot root");
  }
  OB_TRY(proof.in_dataset, merkle::prove(manifest.slot_roots, index));
  const auto first = data.begin() + static_cast<std::ptrdiff_t>(in_block * protocol::kSegmentSize);
  proof.data.assign(first, first + static_cast<std::ptrdiff_t>(protocol::kSegmentSize));
  return proof;
}

bool verify_segment(const merkle::Hash& dataset_root, const DatasetShape& shape, const StorageProof& proof) {
  if (shape.segments_per_block == 0 || proof.data.size() != protocol::kSegmentSize ||
      proof.segment >= shape.segments_per_slot()) {
    return false;
  }
  // Each part's position and leaf count must be the ones the shape gives, not the prover's.
  const bool placed = proof.in_block.index == proof.segment % shape.segments_per_block &&
                      proof.in_block.leaf_count == shape.segments_per_block &&
                      proof.in_slot.index == proof.segment / shape.segments_per_block &&
                      proof.in_slot.leaf_count == shape.blocks_per_slot && proof.in_dataset.index == proof.slot &&
                      proof.in_dataset.leaf_count == shape.slots;
  if (!placed) return false;
  const std::optional<merkle::Hash> block_root = merkle::root_from_proof(merkle::leaf_hash(proof.data), proof.in_block);
  if (!block_root) return false;
  const std::optional<merkle::Hash> slot_root = merkle::root_from_proof(*block_root, proof.in_slot);
  return slot_root && merkle::verify(dataset_root, *slot_root, proof.in_dataset);
}

}  // namespace ob::market
