// CWatcher (seed 000): the consumer's integrity watcher. Slots in the Consumer directory must
// not be modified; when one is modified, truncated, deleted or moved away by anyone but the
// consumer itself, the consumer gives it up so that the tracker has it stored elsewhere.
//
// How it sees changes: inotify on the Consumer directory (file directories appearing and
// vanishing) and on each file directory in it (slot files modified, truncated, deleted, moved,
// replaced, their attributes changed). An event names a slot (<i>.blocks, <i>.index); after it
// settles (no new event on that slot for `settle`), the slot is checked fully: its index
// against the manifest's slot root, every block against its index entry. The consumer's own
// writes land by rename from staging and its own deletions are announced to it: the hooks'
// should_check() says to leave such a slot alone.
//
// Since inotify can overflow (or run out of watches), a slow periodic scan is the safety net:
// at start and every `scan_interval` each held slot is opened and its index checked against the
// slot root, and the slot is checked fully when its blocks file's size or modification time
// differs from when it was last seen good, or, for a slot not seen before (after a restart),
// when its blocks file is newer than its index (a slot's index is written after its blocks).
// Checking every byte of a large store every few minutes would cost more than it finds; the
// tracker's audits sample the rest.
#pragma once

#include <chrono>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cid.h"
#include "core/error.h"
#include "store/block_store.h"
#include "store/slot_store.h"
#include "store/file_io.h"

namespace ob::consumer {

/// One slot of one file.
struct SlotRef {
  Cid file;
  std::uint32_t slot = 0;
  friend bool operator==(const SlotRef&, const SlotRef&) = default;
  friend std::strong_ordering operator<=>(const SlotRef& a, const SlotRef& b) {
    if (auto c = a.file <=> b.file; c != 0) return c;
    return a.slot <=> b.slot;
  }
};

/// Checks slot `ref` as stored in `slots` against the file's manifest in `blocks`: the slot is
/// present, its shape (block size, block count) is the manifest's, its index builds the
/// manifest's slot root, and with `full` every block matches its index entry (reads the whole
/// slot, one block of memory). Errors (not_found): the slot or the manifest is gone; (corrupt):
/// it does not match; (invalid_argument): the slot is out of the manifest's range; (io): it
/// could not be read (not proof of damage).
Result<void> check_slot(const SlotStore& slots, const BlockStore& blocks, const SlotRef& ref, bool full);

/// Whether the watcher may check a slot now (CWatcherHooks::should_check).
enum class CheckVerdict {
  check,  ///< a held slot that the consumer leaves alone: check it
  skip,   ///< not a slot the consumer holds: nothing to check
  later,  ///< the consumer itself is writing or removing it, or has just done so
};

/// What the watcher asks of its consumer; called on the watcher's thread, never under its lock.
struct CWatcherHooks {
  /// The slots the consumer holds now, sorted.
  std::function<std::vector<SlotRef>()> held;
  /// Whether `ref` may be checked now. A slot answered `later` after an event that the
  /// consumer's own work does not cause (a modification, a deletion, a move away, a change of
  /// attributes) is asked again after `settle`; after an event its own commits cause (a file
  /// created or moved in) it is left alone.
  std::function<CheckVerdict(const SlotRef&)> should_check;
  /// `ref` is damaged or gone (`reason` says how): the consumer gives it up.
  std::function<void(const SlotRef&, const std::string& reason)> damaged;
};

/// Timing of the watcher.
struct CWatcherOptions {
  /// How often every held slot is looked at even without an event.
  std::chrono::milliseconds scan_interval{std::chrono::minutes(10)};
  /// How long a slot must be quiet after an event before it is checked (a writer in progress
  /// produces many events; one check suffices).
  std::chrono::milliseconds settle{300};
};

/// The watcher of one Consumer directory: one thread, started by start() and joined by stop().
/// Thread-safe.
class CWatcher {
 public:
  /// Watches `slots`' directory and the file directories in it, and scans once at start.
  /// `blocks` (the manifests) must outlive the watcher. Errors (io): inotify cannot be set up
  /// on the directory itself (a file directory that cannot be watched only logs a warning:
  /// the periodic scan covers it).
  static Result<std::unique_ptr<CWatcher>> start(std::shared_ptr<const SlotStore> slots, const BlockStore& blocks,
                                                 CWatcherHooks hooks, CWatcherOptions options = {});
  /// Stops and joins the thread. Idempotent.
  void stop();
  /// Asks for a scan of every held slot now (as the periodic one), e.g. after the consumer
  /// found something odd; returns at once.
  void scan_soon();
  /// How many checks found damage so far (for logs and tests).
  std::uint64_t damage_found() const;
  ~CWatcher();
  CWatcher(const CWatcher&) = delete;
  CWatcher& operator=(const CWatcher&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  /// When a slot's blocks file was last seen good.
  struct Seen {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;        // of the blocks file
    std::int64_t index_mtime_ns = 0;  // of the index file
  };

  CWatcher(std::shared_ptr<const SlotStore> slots, const BlockStore& blocks, CWatcherHooks hooks,
           CWatcherOptions options, fileio::Fd inotify, fileio::Fd wake);
  void run();
  void watch_file_dir(const std::string& name);
  void read_events();
  void on_event(int wd, std::uint32_t mask, const std::string& name);
  /// When to check a slot, and whether anything but the consumer's own commits touched it.
  struct Due {
    Clock::time_point when;
    bool foreign = false;
  };
  void schedule(const SlotRef& ref, bool foreign);
  void schedule_file(const Cid& file);
  void run_due_checks();
  void scan();
  void check(const SlotRef& ref, bool full);
  std::optional<Seen> stat_blocks(const SlotRef& ref) const;
  void wake();

  std::shared_ptr<const SlotStore> slots_;
  const BlockStore& blocks_;
  CWatcherHooks hooks_;
  CWatcherOptions options_;
  fileio::Fd inotify_;
  fileio::Fd wake_;  // eventfd: stop() and scan_soon() wake the thread
  int root_wd_ = -1;
  bool warned_watch_limit_ = false;
  // Only the thread touches these.
  std::map<int, Cid> dir_wds_;                // watch -> the file directory it watches
  std::map<SlotRef, Due> due_;                // slots to check
  std::map<SlotRef, Seen> seen_;              // last seen good
  Clock::time_point next_scan_;

  mutable std::mutex mutex_;  // guards stopping_, scan_requested_, damage_found_
  bool stopping_ = false;
  bool scan_requested_ = false;
  std::uint64_t damage_found_ = 0;
  std::thread thread_;
};

}  // namespace ob::consumer
