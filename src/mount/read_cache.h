// The mount's read cache (issue 13): the last windows of file bytes read from the daemon,
// least recently used out first. A window is kWindowBytes of plaintext at a multiple of that
// size: a 4 KiB read falls in one, and the daemon decodes only the stripe it lies in (two when
// it straddles a stripe boundary: a quarter of the windows with the default k = 4 and 64 KiB
// blocks, whose stripes hold 262080 bytes). A larger window would always straddle two of them.
// The daemon keeps the last stripe it decoded, so a sequential reader (cp, sha256sum) asking
// window after window makes it fetch each stripe once, read ahead as a stream.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "core/bytes.h"

namespace ob::mount {

/// Bytes of one cached window.
inline constexpr std::uint64_t kWindowBytes = 64 * 1024;
/// Windows kept: 8 MiB at most.
inline constexpr std::size_t kCachedWindows = 128;

/// Not thread-safe.
class ReadCache {
 public:
  explicit ReadCache(std::size_t capacity = kCachedWindows) : capacity_(capacity) {}
  /// Window `index` of file `id` (bytes [index * kWindowBytes, ...), shorter at the end of the
  /// file), or nullptr when not cached. Marks it most recently used.
  std::shared_ptr<const Bytes> get(const std::string& id, std::uint64_t index);
  /// Keeps a window, dropping the least recently used beyond the capacity.
  void put(const std::string& id, std::uint64_t index, std::shared_ptr<const Bytes> bytes);
  /// Drops every window of `id` (a removed file).
  void forget(const std::string& id);
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::string id;
    std::uint64_t index;
    std::shared_ptr<const Bytes> bytes;
  };
  std::size_t capacity_;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace ob::mount
