// PWatcher (seed 000): watches the local Producer directory, subdirectories included, and tells
// the producer which paths changed. Linux inotify:
//   IN_CLOSE_WRITE, IN_MOVED_TO          a file was written or moved in      -> written
//   IN_DELETE, IN_MOVED_FROM             a file (or directory) went away      -> removed
//   IN_CREATE / IN_MOVED_TO of a dir     the new directory is watched too, and every file
//                                        already inside it is reported        -> written
//   IN_Q_OVERFLOW, a failed watch        events were lost                     -> rescan
// Paths are relative to the watched directory, with '/' separators. The producer checks every
// report against the disk (stat, MD5), so a spurious or repeated report is harmless; a missing
// one is what `rescan` exists for. Temporary files of atomic writes (fileio::AtomicFile's, see
// fileio::is_temporary_name) are not reported.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"

namespace ob::producer {

/// What happened to a path.
enum class Change {
  written,  ///< a regular file was created, written or moved in (or may have been)
  removed,  ///< the path is gone: a file, or a directory with everything under it
  rescan,   ///< events were lost: compare the whole directory (the path is empty)
};

/// Watches one directory tree. The callback runs on the watcher's own thread, one call at a
/// time; it must be quick (queue the path) and must not call stop().
class PWatcher {
 public:
  using Callback = std::function<void(const std::string& relative_path, Change change)>;

  /// Watches `dir` (which must exist) and every directory under it. Reports nothing about the
  /// files already there: the caller scans after start. Errors (io): inotify is unavailable or
  /// out of watches (fs.inotify.max_user_watches), `dir` cannot be watched.
  static Result<std::unique_ptr<PWatcher>> start(const std::filesystem::path& dir, Callback callback);
  /// Stops and joins the thread.
  ~PWatcher();
  PWatcher(const PWatcher&) = delete;
  PWatcher& operator=(const PWatcher&) = delete;

  /// Stops watching and joins the thread. Idempotent.
  void stop();
  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  PWatcher(std::filesystem::path dir, Callback callback, int inotify_fd, int stop_fd);
  /// Adds a watch on `relative` (a directory) and its subdirectories; with `report`, reports
  /// every regular file found under it as written. Returns false if some watch failed.
  bool watch_tree(const std::string& relative, bool report);
  void run();
  void handle(int wd, std::uint32_t mask, const std::string& name);

  std::filesystem::path dir_;
  Callback callback_;
  int inotify_fd_;
  int stop_fd_;  // eventfd: written by stop() to wake the thread
  std::map<int, std::string> watches_;  // watch descriptor -> relative directory ("" = root); watcher thread only
  std::mutex stop_mutex_;               // serialises stop()
  std::thread thread_;
};

}  // namespace ob::producer
