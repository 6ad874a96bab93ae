// What a mount shows (issue 13): the producer's files by their remote paths (seed 000's
// `path`), the directories those paths imply, directories made in the mount and not yet
// holding a file (kept in memory only), and files being written into the mount. Pure: no I/O,
// so the FUSE side (mount/mount_fs.h) and the tests share it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ob::mount {

/// A file as the producer's listing (GET /v1/producer/files) gives it.
struct RemoteEntry {
  std::string id;            ///< file ID (a CID); empty while the file is not encoded yet
  std::string path;          ///< remote path, e.g. "photos/2024/a.jpg" ("/" in front ignored)
  std::uint64_t size = 0;    ///< plaintext bytes
  std::string status;        ///< PENDING, UPLOADING, UPLOADED, ...
};

/// One name in the tree.
struct Node {
  bool directory = false;
  std::string id;          ///< the file's ID; empty for directories and files still written
  std::uint64_t size = 0;  ///< plaintext bytes (files)
  std::int64_t mtime = 0;  ///< Unix seconds
};

/// A remote path as the mount's path: components split on '/', empty ones dropped. nullopt
/// for a path the mount cannot show: empty, or with a "." or ".." component.
std::optional<std::vector<std::string>> split_path(std::string_view path);

/// The tree of one listing. Not thread-safe (the mount's FUSE loop is single-threaded).
class FileTree {
 public:
  /// Replaces the remote files with `entries`; a path the mount cannot show (split_path) or a
  /// file under another file's name is left out. `now` (Unix seconds) is the mtime of a file
  /// this tree has not seen before: the listing has no times, and a file's ID never changes,
  /// so it keeps the time it first appeared. Directories made with make_directory() that
  /// now hold a file are implied by it from then on.
  void update(const std::vector<RemoteEntry>& entries, std::int64_t now);
  /// The node at `path` ("/" is the root directory); nullopt when nothing is there.
  std::optional<Node> lookup(std::string_view path) const;
  /// The names in directory `path`, sorted; nullopt when `path` is not a directory.
  std::optional<std::vector<std::string>> list(std::string_view path) const;
  /// Makes an empty directory (memory only). False when the parent is not a directory or the
  /// name is taken.
  bool make_directory(std::string_view path, std::int64_t now);
  /// Removes an empty directory made with make_directory(). Errors as errno values: ENOENT,
  /// ENOTDIR, ENOTEMPTY (it holds a name), EBUSY (implied by a remote file's path).
  int remove_directory(std::string_view path);
  /// Shows a file being written into the mount at `path` with `size` bytes, until the
  /// listing has it (or forget_written). False when the parent is not a directory or the
  /// name is taken by something else.
  bool set_written(std::string_view path, std::uint64_t size, std::int64_t now);
  void forget_written(std::string_view path);

 private:
  static std::string key(const std::vector<std::string>& parts);
  bool is_directory(const std::string& key) const;
  std::map<std::string, Node> files_;          // remote files by normalised path ("a/b")
  std::map<std::string, Node> written_;        // files being written into the mount
  std::set<std::string> implied_;              // directories implied by files' paths
  std::map<std::string, std::int64_t> made_;   // directories made in the mount: mtime
  std::map<std::string, std::int64_t> first_seen_;  // file ID -> Unix seconds
  std::int64_t listed_at_ = 0;
};

}  // namespace ob::mount
