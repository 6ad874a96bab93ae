#include "mount/read_cache.h"

#include <algorithm>

namespace ob::mount {

std::shared_ptr<const Bytes> ReadCache::get(const std::string& id, std::uint64_t index) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.index == index && e.id == id; });
  if (it == entries_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it);
  return entries_.front().bytes;
}

void ReadCache::put(const std::string& id, std::uint64_t index, std::shared_ptr<const Bytes> bytes) {
  std::erase_if(entries_, [&](const Entry& e) { return e.index == index && e.id == id; });
  entries_.push_front(Entry{id, index, std::move(bytes)});
  while (entries_.size() > capacity_) entries_.pop_back();
}

void ReadCache::forget(const std::string& id) {
  std::erase_if(entries_, [&](const Entry& e) { return e.id == id; });
}

}  // namespace ob::mount
