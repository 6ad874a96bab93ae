// The slot store: each slot of a file as two plain files under slots/<file CID>/.
//
//   <i>.blocks  block j of the slot at offset j * block_size: "block j of slot i" is one pread
//   <i>.index   header (24 bytes: magic "OBSLOT01", u32 slot index, u32 block size,
//               u64 block count; little-endian) then block_count block roots of 32 bytes
//
// The index is not trusted on its own: a reader recomputes the slot's Merkle root from the
// index and compares it with the manifest's root (verify_index) before using any entry, and
// checks every block it reads against its entry.
//
// Writes are staged in slots/.staging-* and fsynced before they appear. Two ways to publish:
//   whole file (begin): the staging directory is renamed to slots/<file CID> in one step, so a
//     crash leaves either the whole file or nothing;
//   some slots (begin_slots, a consumer storing its slot): each staged slot's files are renamed
//     into slots/<file CID>/ (created if absent), <i>.blocks before <i>.index. A slot is present
//     exactly when its <i>.index is there, so each slot appears whole or not at all; a crash
//     between the two renames leaves an orphan <i>.blocks, removed at open.
// Stale staging and trash directories, orphan .blocks files and empty file directories are
// removed at open.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "coding/merkle.h"
#include "core/cid.h"
#include "core/error.h"
#include "store/file_io.h"

namespace ob {

/// Reads one slot. Cheap to open; holds two file descriptors.
class SlotReader {
 public:
  std::uint32_t slot_index() const noexcept { return slot_index_; }
  std::uint32_t block_size() const noexcept { return block_size_; }
  std::uint64_t block_count() const noexcept { return block_count_; }

  /// Reads block j into `out` (block_size bytes) with one pread. Errors (invalid_argument)
  /// j out of range or wrong buffer size; (corrupt) the blocks file is short; (io).
  Result<void> read_block(std::uint64_t j, MutableByteView out) const;
  /// Streams the index once and checks that its block roots build `expected_root`, in
  /// O(log n) memory. Errors (corrupt): the index is short or does not match the root; (io).
  Result<void> verify_index(const merkle::Hash& expected_root) const;
  /// The index entry (block root) of block j, read through a 64 KiB window so that sequential
  /// access costs one read per 2048 blocks. Errors (invalid_argument) j out of range; (corrupt, io).
  Result<merkle::Hash> root_at(std::uint64_t j) const;
  /// The Merkle proof of block j inside the slot tree (leaves = the index's block roots), as
  /// merkle::prove would build it over the whole index, but streaming: each sibling is the root
  /// of a run of index entries, built in O(log n) memory; every entry is read at most once
  /// (O(n) hashing). The proof is as good as the index: verify it against the manifest.
  /// Errors (invalid_argument) j out of range; (corrupt) a short index; (io).
  Result<merkle::Proof> prove(std::uint64_t j) const;

 private:
  friend class SlotStore;
  SlotReader() = default;
  std::filesystem::path blocks_path_;
  std::filesystem::path index_path_;
  fileio::Fd blocks_;
  fileio::Fd index_;
  std::uint32_t slot_index_ = 0;
  std::uint32_t block_size_ = 0;
  std::uint64_t block_count_ = 0;
  mutable std::vector<merkle::Hash> window_;  // index entries [window_start_, +window_.size())
  mutable std::uint64_t window_start_ = 0;
};

/// Writes slots of a file into a staging directory; commit() makes them appear (see the top of
/// this file for the two ways). Abandoned (destroyed without commit) staging is removed.
/// Single-threaded.
class SlotSetWriter {
 public:
  ~SlotSetWriter();
  SlotSetWriter(SlotSetWriter&&) noexcept;
  SlotSetWriter& operator=(SlotSetWriter&&) = delete;
  SlotSetWriter(const SlotSetWriter&) = delete;
  SlotSetWriter& operator=(const SlotSetWriter&) = delete;

  /// Appends the next block of slot `slot` (the slot's index in the file, one this writer was
  /// begun with) with its block root. Errors (invalid_argument) wrong size or slot; (io).
  Result<void> append(std::uint32_t slot, ByteView block, const merkle::Hash& root);
  /// Writes the index headers and fsyncs every file and the staging directory, then publishes.
  /// A writer from begin(): renames the staging directory to slots/<file_cid> and fsyncs
  /// slots/. Errors (already_exists) a directory for that file exists; (io).
  /// A writer from begin_slots(): creates slots/<file_cid>/ if absent, moves each slot in
  /// (.blocks, then .index) and fsyncs the directories. Errors (already_exists) one of the slots
  /// is present (checked before anything moves); (io), after which the slots this commit had
  /// already moved in are removed again. Not safe against another writer of the same file
  /// committing at the same time (SlotStore: one writer per file).
  Result<void> commit(const Cid& file_cid);
  /// The slot indices this writer writes, ascending.
  std::vector<std::uint32_t> slots() const;

 private:
  friend class SlotStore;
  struct Slot {
    std::uint32_t index = 0;  // the slot's position in the file
    fileio::Fd blocks;
    fileio::Fd index_file;
    Bytes index_buffer;  // roots waiting to be written, flushed in 64 KiB batches
    std::uint64_t count = 0;
  };
  SlotSetWriter(std::filesystem::path root, std::filesystem::path staging, std::uint32_t block_size,
                bool whole_file)
      : root_(std::move(root)), staging_(std::move(staging)), block_size_(block_size), whole_file_(whole_file) {}
  Result<void> open_slots(std::span<const std::uint32_t> indices);
  Slot* find(std::uint32_t slot);
  Result<void> flush_index(Slot& slot);
  Result<void> seal();
  Result<void> publish_file(const Cid& file_cid);
  Result<void> publish_slots(const Cid& file_cid);
  std::filesystem::path root_;
  std::filesystem::path staging_;
  std::uint32_t block_size_;
  bool whole_file_;
  std::vector<Slot> slots_;  // ascending by index
  bool committed_ = false;
};

/// The directory of all stored slots. Any number of readers (const members) may run
/// concurrently with each other and with writers; a reader that opened a slot keeps reading it
/// even if it is removed meanwhile. Writers (begin/begin_slots + commit, remove, remove_slot,
/// damage): one per file at a time.
class SlotStore {
 public:
  /// Opens `dir` (creating it and missing parents with mode 0700: slots are nobody else's
  /// business; the directories it makes inside are 0700 too) and removes what a crash left:
  /// staging and trash directories, orphan <i>.blocks files without their <i>.index, empty file
  /// directories. Errors (io).
  static Result<SlotStore> open(const std::filesystem::path& dir);

  /// Starts writing all n slots of a new file (published together by renaming one directory).
  /// Errors (io).
  Result<SlotSetWriter> begin(std::uint32_t n, std::uint32_t block_size);
  /// Starts writing only slots `indices` of a file, which may already have other slots here
  /// (published one by one into its directory). Errors (invalid_argument) no index, an index
  /// repeated or >= 255; (io).
  Result<SlotSetWriter> begin_slots(std::span<const std::uint32_t> indices, std::uint32_t block_size);
  /// Opens slot `i` of `file`. Errors (not_found) the slot is absent; (corrupt) bad index header
  /// or a blocks file whose size disagrees with it; (io).
  Result<SlotReader> open_slot(const Cid& file, std::uint32_t i) const;
  /// Whether `file` has a slot directory here: any slot stored (or, briefly, a partial commit
  /// or remove_slot under way). Cheap: one stat.
  bool has_file(const Cid& file) const;
  /// CIDs of all files with a slot directory. Entries that are not CIDs are skipped.
  std::vector<Cid> list() const;
  /// Deletes all slots of `file`: renamed out of the way first, so it vanishes in one step.
  /// Returns whether anything was there. Errors (io).
  Result<bool> remove(const Cid& file);
  /// Bytes of slot data held for `file` (blocks files; indexes excluded).
  std::uint64_t file_bytes(const Cid& file) const;
  /// The slots of `file` present here (their .index exists), ascending; empty if none. Files in
  /// the directory that are not slots are ignored.
  std::vector<std::uint32_t> slots_of(const Cid& file) const;
  /// Bytes of slot data (the .blocks file) of slot i of `file`; 0 if that slot is not present.
  std::uint64_t slot_bytes(const Cid& file, std::uint32_t i) const;
  /// Deletes slot i of `file`: its .index first (so it is absent from then on), then its
  /// .blocks, then the file's directory if it is empty now, fsyncing the directories. Returns
  /// whether the slot was present. Errors (io).
  Result<bool> remove_slot(const Cid& file, std::uint32_t i);

  /// Test aid: deletes slot i of `file` (corrupt = false) or flips one byte in its middle block
  /// (corrupt = true), so that verification and reconstruction can be watched.
  /// Errors (not_found) no such slot; (io).
  Result<void> damage(const Cid& file, std::uint32_t i, bool corrupt);

  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  explicit SlotStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<SlotSetWriter> start_writer(std::span<const std::uint32_t> indices, std::uint32_t block_size,
                                     bool whole_file);
  std::filesystem::path file_dir(const Cid& file) const { return dir_ / file.to_string(); }
  std::filesystem::path dir_;
};

}  // namespace ob
