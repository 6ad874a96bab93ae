#include "mount/tree.h"

#include <cerrno>

namespace ob::mount {

std::optional<std::vector<std::string>> split_path(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (part.empty()) continue;
    if (part == "." || part == "..") return std::nullopt;
    parts.emplace_back(part);
  }
  return parts;
}

std::string FileTree::key(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

namespace {

// The key of the directory holding `key` ("" for the root's children).
std::string parent_of(const std::string& key) {
  const std::size_t slash = key.rfind('/');
  return slash == std::string::npos ? std::string{} : key.substr(0, slash);
}

std::string name_of(const std::string& key) {
  const std::size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

}  // namespace

bool FileTree::is_directory(const std::string& key) const {
  return key.empty() || implied_.contains(key) || made_.contains(key);
}

void FileTree::update(const std::vector<RemoteEntry>& entries, std::int64_t now) {
  listed_at_ = now;
  files_.clear();
  implied_.clear();
  for (const RemoteEntry& e : entries) {
    auto parts = split_path(e.path);
    if (!parts || parts->empty()) continue;
    const std::string k = key(*parts);
    auto [seen, fresh] = first_seen_.try_emplace(e.id.empty() ? "path:" + k : e.id, now);
    (void)fresh;
    files_[k] = Node{false, e.id, e.size, seen->second};
    for (std::string dir = parent_of(k); !dir.empty(); dir = parent_of(dir)) implied_.insert(dir);
  }
  // A file whose name is also a directory's (another file's path goes through it) is hidden:
  // the directory wins, so that everything under it stays reachable.
  std::erase_if(files_, [&](const auto& f) { return implied_.contains(f.first); });
  for (const auto& [k, node] : files_) written_.erase(k);  // the listing has it now
  for (const std::string& dir : implied_) made_.erase(dir);
}

std::optional<Node> FileTree::lookup(std::string_view path) const {
  auto parts = split_path(path);
  if (!parts) return std::nullopt;
  const std::string k = key(*parts);
  if (auto it = written_.find(k); it != written_.end()) return it->second;
  if (auto it = files_.find(k); it != files_.end()) return it->second;
  if (auto it = made_.find(k); it != made_.end()) return Node{true, {}, 0, it->second};
  if (is_directory(k)) return Node{true, {}, 0, listed_at_};
  return std::nullopt;
}

std::optional<std::vector<std::string>> FileTree::list(std::string_view path) const {
  auto parts = split_path(path);
  if (!parts) return std::nullopt;
  const std::string dir = key(*parts);
  if (!is_directory(dir)) return std::nullopt;
  std::set<std::string> names;
  const auto add = [&](const std::string& k) {
    if (parent_of(k) == dir && k != dir) names.insert(name_of(k));
  };
  for (const auto& [k, node] : files_) add(k);
  for (const auto& [k, node] : written_) add(k);
  for (const std::string& k : implied_) add(k);
  for (const auto& [k, mtime] : made_) add(k);
  return std::vector<std::string>(names.begin(), names.end());
}

bool FileTree::make_directory(std::string_view path, std::int64_t now) {
  auto parts = split_path(path);
  if (!parts || parts->empty()) return false;
  const std::string k = key(*parts);
  if (!is_directory(parent_of(k)) || lookup(path)) return false;
  made_[k] = now;
  return true;
}

int FileTree::remove_directory(std::string_view path) {
  auto parts = split_path(path);
  if (!parts || parts->empty()) return EBUSY;
  const std::string k = key(*parts);
  auto node = lookup(path);
  if (!node) return ENOENT;
  if (!node->directory) return ENOTDIR;
  if (auto names = list(path); names && !names->empty()) return ENOTEMPTY;
  if (!made_.contains(k)) return EBUSY;
  made_.erase(k);
  return 0;
}

bool FileTree::set_written(std::string_view path, std::uint64_t size, std::int64_t now) {
  auto parts = split_path(path);
  if (!parts || parts->empty()) return false;
  const std::string k = key(*parts);
  if (!is_directory(parent_of(k))) return false;
  if (auto it = written_.find(k); it != written_.end()) {
    it->second.size = size;
    it->second.mtime = now;
    return true;
  }
  if (files_.contains(k) || is_directory(k)) return false;
  written_[k] = Node{false, {}, size, now};
  return true;
}

void FileTree::forget_written(std::string_view path) {
  if (auto parts = split_path(path)) written_.erase(key(*parts));
}

}  // namespace ob::mount
