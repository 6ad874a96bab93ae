// The local block store: blocks keyed by CID in RocksDB, with a byte quota.
//
// Every put verifies the bytes against the CID first, so the store never holds a block that
// does not match its name. A put and the quota counter change in one WriteBatch; with
// `sync` set (the default) the batch is fsynced through RocksDB's write-ahead log before put
// returns, so an acknowledged block survives a crash or power loss.
//
// Keys: 'b' || CID bytes -> block bytes;  'q' "used" -> 8-byte little-endian byte count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/cid.h"
#include "core/error.h"

namespace rocksdb {
class DB;
}

namespace ob {

/// Thread-safe. Open one per directory.
class BlockStore {
 public:
  struct Options {
    std::uint64_t quota_bytes = 0;  ///< 0 = unlimited
    bool sync = true;               ///< fsync the WAL on every write
  };

  /// Opens (creating if needed) the store in `dir`. Errors (io): RocksDB could not open it
  /// (another process holds its lock, permissions, corruption).
  static Result<std::unique_ptr<BlockStore>> open(const std::filesystem::path& dir, Options options);
  ~BlockStore();
  BlockStore(const BlockStore&) = delete;
  BlockStore& operator=(const BlockStore&) = delete;

  /// Stores `data` under `cid`. Storing a block already present is a no-op.
  /// Errors: (corrupt) data does not match cid; (invalid_argument) unsupported hash;
  /// (quota_exceeded) the block would push usage past the quota; (io).
  Result<void> put(const Cid& cid, ByteView data);
  /// The block's bytes. Errors (not_found); (io).
  Result<Bytes> get(const Cid& cid) const;
  /// Whether the block is present. Errors (io).
  Result<bool> has(const Cid& cid) const;
  /// Removes the block; returns whether it was there. Errors (io).
  Result<bool> remove(const Cid& cid);
  /// All CIDs, sorted by binary form; only those with `codec` if given. Errors (io).
  Result<std::vector<Cid>> list(std::optional<std::uint64_t> codec = std::nullopt) const;

  /// Bytes of block data stored (keys and RocksDB overhead excluded).
  std::uint64_t used_bytes() const;
  std::uint64_t quota_bytes() const noexcept { return options_.quota_bytes; }

 private:
  BlockStore(std::unique_ptr<rocksdb::DB> db, Options options, std::uint64_t used);
  std::unique_ptr<rocksdb::DB> db_;
  Options options_;
  mutable std::mutex mutex_;  // serialises read-modify-write of the used counter
  std::uint64_t used_;
};

}  // namespace ob
