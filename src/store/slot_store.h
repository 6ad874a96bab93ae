// The slot store: each slot of a file as two plain files under slots/<file CID>/.
//
//   <i>.blocks  block j of the slot at offset j * block_size: "block j of slot i" is one pread
//   <i>.index   header (24 bytes: magic "OBSLOT01", u32 slot index, u32 block size,
//               u64 block count; little-endian) then block_count block roots of 32 bytes
//
// The index is not trusted on its own: a reader recomputes the slot's Merkle root from the
// index and compares it with the manifest's root (verify_index) before using any entry, and
// checks every block it reads against its entry. A new file's slots are written into a staging
// directory (slots/.staging-*), fsynced, and renamed to slots/<file CID> in one step, so a crash
// leaves either the whole file or nothing (stale staging directories are removed at open).
#pragma once

#include <cstdint>
#include <filesystem>
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

/// Writes the n slots of a new file into a staging directory; commit() makes them appear.
/// Abandoned (destroyed without commit) staging is removed.
class SlotSetWriter {
 public:
  ~SlotSetWriter();
  SlotSetWriter(SlotSetWriter&&) noexcept;
  SlotSetWriter& operator=(SlotSetWriter&&) = delete;
  SlotSetWriter(const SlotSetWriter&) = delete;
  SlotSetWriter& operator=(const SlotSetWriter&) = delete;

  /// Appends the next block of slot i with its block root. Errors (invalid_argument) wrong size
  /// or slot; (io).
  Result<void> append(std::uint32_t slot, ByteView block, const merkle::Hash& root);
  /// Writes the index headers, fsyncs every file and the staging directory, then renames it to
  /// slots/<file_cid> and fsyncs slots/. Errors (already_exists) that file is stored; (io).
  Result<void> commit(const Cid& file_cid);

 private:
  friend class SlotStore;
  struct Slot {
    fileio::Fd blocks;
    fileio::Fd index;
    Bytes index_buffer;  // roots waiting to be written, flushed in 64 KiB batches
    std::uint64_t count = 0;
  };
  SlotSetWriter(std::filesystem::path root, std::filesystem::path staging, std::uint32_t block_size)
      : root_(std::move(root)), staging_(std::move(staging)), block_size_(block_size) {}
  Result<void> flush_index(std::uint32_t slot);
  std::filesystem::path root_;
  std::filesystem::path staging_;
  std::uint32_t block_size_;
  std::vector<Slot> slots_;
  bool committed_ = false;
};

/// The directory of all stored slots. Thread-compatible: one writer per file at a time.
class SlotStore {
 public:
  /// Opens (creating) `dir` and removes staging left by a crash. Errors (io).
  static Result<SlotStore> open(const std::filesystem::path& dir);

  /// Starts writing the n slots of a new file. Errors (io).
  Result<SlotSetWriter> begin(std::uint32_t n, std::uint32_t block_size);
  /// Opens slot `i` of `file`. Errors (not_found) the slot is absent; (corrupt) bad index header
  /// or a blocks file whose size disagrees with it; (io).
  Result<SlotReader> open_slot(const Cid& file, std::uint32_t i) const;
  /// Whether any slot of `file` is stored.
  bool has_file(const Cid& file) const;
  /// CIDs of all files with a slot directory. Entries that are not CIDs are skipped.
  std::vector<Cid> list() const;
  /// Deletes all slots of `file`: renamed out of the way first, so it vanishes in one step.
  /// Returns whether anything was there. Errors (io).
  Result<bool> remove(const Cid& file);
  /// Bytes of slot data held for `file` (blocks files; indexes excluded).
  std::uint64_t file_bytes(const Cid& file) const;

  /// Test aid: deletes slot i of `file` (corrupt = false) or flips one byte in its middle block
  /// (corrupt = true), so that verification and reconstruction can be watched.
  /// Errors (not_found) no such slot; (io).
  Result<void> damage(const Cid& file, std::uint32_t i, bool corrupt);

  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  explicit SlotStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path file_dir(const Cid& file) const { return dir_ / file.to_string(); }
  std::filesystem::path dir_;
};

}  // namespace ob
