#include "node/consumer/cwatcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <spdlog/spdlog.h>

#include "coding/manifest.h"
#include "coding/merkle.h"

namespace ob::consumer {
namespace {

constexpr std::uint32_t kRootMask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
                                    IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t kFileDirMask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                       IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

/// The slot a file name in a file directory belongs to: "<i>.blocks" or "<i>.index".
std::optional<std::uint32_t> slot_of_name(std::string_view name) {
  std::string_view stem;
  if (name.ends_with(".blocks")) {
    stem = name.substr(0, name.size() - 7);
  } else if (name.ends_with(".index")) {
    stem = name.substr(0, name.size() - 6);
  } else {
    return std::nullopt;
  }
  std::uint32_t slot = 0;
  const auto [end, ec] = std::from_chars(stem.data(), stem.data() + stem.size(), slot);
  if (ec != std::errc() || end != stem.data() + stem.size() || stem.empty()) return std::nullopt;
  return slot;
}

}  // namespace

Result<void> check_slot(const SlotStore& slots, const BlockStore& blocks, const SlotRef& ref, bool full) {
  auto encoded = blocks.get(ref.file);
  if (!encoded) {
    if (encoded.error().code == Errc::not_found) return fail(Errc::not_found, "the manifest is gone");
    return std::unexpected(encoded.error());
  }
  OB_TRY(const Manifest manifest, Manifest::decode(*encoded));
  if (ref.slot >= manifest.params.n()) {
    return fail(Errc::invalid_argument, "slot ", ref.slot, " is out of range: the file has ", manifest.params.n());
  }
  OB_TRY(const SlotReader reader, slots.open_slot(ref.file, ref.slot));
  if (reader.block_size() != manifest.params.block_size || reader.block_count() != manifest.stripe_count()) {
    return fail(Errc::corrupt, "its index says ", reader.block_count(), " blocks of ", reader.block_size(),
                " bytes; the manifest says ", manifest.stripe_count(), " of ", manifest.params.block_size);
  }
  OB_TRY_VOID(reader.verify_index(manifest.slot_roots[ref.slot]));
  if (!full) return {};
  Bytes block(reader.block_size());
  for (std::uint64_t j = 0; j < reader.block_count(); ++j) {
    OB_TRY_VOID(reader.read_block(j, block));
    OB_TRY(const merkle::Hash expected, reader.root_at(j));
    if (merkle::block_root(block) != expected) return fail(Errc::corrupt, "block ", j, " does not match its index");
  }
  return {};
}

CWatcher::CWatcher(std::shared_ptr<const SlotStore> slots, const BlockStore& blocks, CWatcherHooks hooks,
                   CWatcherOptions options, fileio::Fd inotify, fileio::Fd wake)
    : slots_(std::move(slots)),
      blocks_(blocks),
      hooks_(std::move(hooks)),
      options_(options),
      inotify_(std::move(inotify)),
      wake_(std::move(wake)) {}

Result<std::unique_ptr<CWatcher>> CWatcher::start(std::shared_ptr<const SlotStore> slots, const BlockStore& blocks,
                                                  CWatcherHooks hooks, CWatcherOptions options) {
  fileio::Fd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify) return std::unexpected(fileio::errno_error("cannot start inotify for", slots->dir(), errno));
  fileio::Fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake) return std::unexpected(fileio::errno_error("cannot create an eventfd for", slots->dir(), errno));
  std::unique_ptr<CWatcher> watcher(
      new CWatcher(std::move(slots), blocks, std::move(hooks), options, std::move(inotify), std::move(wake)));
  watcher->root_wd_ = ::inotify_add_watch(watcher->inotify_.get(), watcher->slots_->dir().c_str(), kRootMask);
  if (watcher->root_wd_ < 0) return std::unexpected(fileio::errno_error("cannot watch", watcher->slots_->dir(), errno));
  // File directories already there; one created later is watched when its IN_CREATE arrives
  // (the consumer's own first slot of a file: nothing to check in it yet).
  for (const Cid& file : watcher->slots_->list()) watcher->watch_file_dir(file.to_string());
  watcher->next_scan_ = Clock::now();
  watcher->thread_ = std::thread([w = watcher.get()] { w->run(); });
  return watcher;
}

CWatcher::~CWatcher() { stop(); }

void CWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void CWatcher::scan_soon() {
  {
    std::lock_guard lock(mutex_);
    scan_requested_ = true;
  }
  wake();
}

std::uint64_t CWatcher::damage_found() const {
  std::lock_guard lock(mutex_);
  return damage_found_;
}

void CWatcher::wake() {
  const std::uint64_t one = 1;
  // A full counter (never, in practice) still leaves the thread readable: nothing to do.
  [[maybe_unused]] const ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

void CWatcher::watch_file_dir(const std::string& name) {
  auto cid = Cid::parse(name);
  if (!cid) return;
  const std::filesystem::path dir = slots_->dir() / name;
  const int wd = ::inotify_add_watch(inotify_.get(), dir.c_str(), kFileDirMask);
  if (wd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return;  // gone again (the consumer's own removal)
    if (!warned_watch_limit_) {
      spdlog::warn("consumer: cannot watch {} ({}); changes there are found by the periodic scan", dir.string(),
                   std::strerror(errno));
      warned_watch_limit_ = true;
    }
    return;
  }
  dir_wds_.insert_or_assign(wd, std::move(*cid));
}

void CWatcher::run() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (scan_requested_) {
        scan_requested_ = false;
        next_scan_ = Clock::now();
      }
    }
    if (Clock::now() >= next_scan_) {
      scan();
      next_scan_ = Clock::now() + options_.scan_interval;
    }
    run_due_checks();

    Clock::time_point until = next_scan_;
    for (const auto& [ref, due] : due_) until = std::min(until, due.when);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    const int timeout = static_cast<int>(std::clamp<std::int64_t>(wait.count() + 1, 0, 60'000));
    pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
      spdlog::error("consumer: the watcher's poll failed ({}); scanning periodically only", std::strerror(errno));
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout));
      continue;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = ::read(wake_.get(), &count, sizeof count);
    }
    if ((fds[0].revents & POLLIN) != 0) read_events();
  }
}

void CWatcher::read_events() {
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(inotify_.get(), buffer, sizeof buffer);
    if (n <= 0) return;  // EAGAIN: drained
    for (ssize_t offset = 0; offset < n;) {
      inotify_event event;
      std::memcpy(&event, buffer + offset, sizeof event);
      const char* name_start = buffer + offset + sizeof(inotify_event);
      const std::string name = event.len > 0 ? std::string(name_start, ::strnlen(name_start, event.len)) : std::string();
      on_event(event.wd, event.mask, name);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event.len);
    }
  }
}

void CWatcher::on_event(int wd, std::uint32_t mask, const std::string& name) {
  if ((mask & IN_Q_OVERFLOW) != 0) {
    spdlog::warn("consumer: inotify queue overflowed; scanning every slot");
    next_scan_ = Clock::now();
    return;
  }
  if (wd == root_wd_) {
    if ((mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) {
      spdlog::warn("consumer: the Consumer directory {} was moved or deleted", slots_->dir().string());
      next_scan_ = Clock::now();
      return;
    }
    auto file = Cid::parse(name);
    if (!file || (mask & IN_ISDIR) == 0) return;
    if ((mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
      watch_file_dir(name);  // a new directory holds no slot of ours yet, or replaced one:
    }                        // the slots held there were deleted or moved away first
    schedule_file(*file);
    return;
  }
  const auto dir = dir_wds_.find(wd);
  if (dir == dir_wds_.end()) return;
  if ((mask & IN_IGNORED) != 0) {
    dir_wds_.erase(dir);
    return;
  }
  if ((mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
    const Cid file = dir->second;
    // A moved directory keeps its watch; stop following it out of the Consumer directory.
    if ((mask & IN_MOVE_SELF) != 0) {
      ::inotify_rm_watch(inotify_.get(), wd);
      dir_wds_.erase(dir);
    }
    schedule_file(file);
    return;
  }
  // The consumer's commits only create files and move them in.
  const bool foreign = (mask & (IN_CREATE | IN_MOVED_TO)) == 0;
  if (const auto slot = slot_of_name(name)) schedule(SlotRef{dir->second, *slot}, foreign);
}

void CWatcher::schedule(const SlotRef& ref, bool foreign) {
  Due& due = due_[ref];
  due.when = Clock::now() + options_.settle;
  due.foreign = due.foreign || foreign;
}

void CWatcher::schedule_file(const Cid& file) {
  for (const SlotRef& ref : hooks_.held()) {
    if (ref.file == file) schedule(ref, /*foreign=*/true);
  }
}

void CWatcher::run_due_checks() {
  const auto now = Clock::now();
  std::vector<std::pair<SlotRef, bool>> ready;
  for (auto it = due_.begin(); it != due_.end();) {
    if (it->second.when <= now) {
      ready.emplace_back(it->first, it->second.foreign);
      it = due_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [ref, foreign] : ready) {
    switch (hooks_.should_check(ref)) {
      case CheckVerdict::check: check(ref, /*full=*/true); break;
      case CheckVerdict::later:
        if (foreign) schedule(ref, true);
        break;
      case CheckVerdict::skip: break;
    }
  }
}

std::optional<CWatcher::Seen> CWatcher::stat_blocks(const SlotRef& ref) const {
  const std::filesystem::path dir = slots_->dir() / ref.file.to_string();
  struct stat blocks{};
  struct stat index{};
  if (::stat((dir / (std::to_string(ref.slot) + ".blocks")).c_str(), &blocks) != 0) return std::nullopt;
  const auto ns = [](const timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec; };
  Seen seen{static_cast<std::uint64_t>(blocks.st_size), ns(blocks.st_mtim), 0};
  if (::stat((dir / (std::to_string(ref.slot) + ".index")).c_str(), &index) == 0) seen.index_mtime_ns = ns(index.st_mtim);
  return seen;
}

void CWatcher::scan() {
  const std::vector<SlotRef> held = hooks_.held();
  // Forget slots no longer held.
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (std::binary_search(held.begin(), held.end(), it->first)) {
      ++it;
    } else {
      it = seen_.erase(it);
    }
  }
  for (const SlotRef& ref : held) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    // A slot the consumer is busy with keeps what was last seen good: the next scan compares.
    if (hooks_.should_check(ref) != CheckVerdict::check) continue;
    const auto known = seen_.find(ref);
    const auto now = stat_blocks(ref);
    // Not seen before (the first scan after a start): a slot's index is written after its
    // blocks, so blocks modified later than the index were changed by someone else.
    const bool changed = known != seen_.end()
                             ? !now || now->size != known->second.size || now->mtime_ns != known->second.mtime_ns
                             : !now || now->mtime_ns > now->index_mtime_ns;
    check(ref, /*full=*/changed);
  }
}

void CWatcher::check(const SlotRef& ref, bool full) {
  const std::optional<Seen> before = stat_blocks(ref);
  auto ok = check_slot(*slots_, blocks_, ref, full);
  if (ok) {
    if (before) seen_.insert_or_assign(ref, *before);
    return;
  }
  if (ok.error().code == Errc::io) {
    spdlog::warn("consumer: cannot check slot {} of {}: {}; trying again at the next scan", ref.slot,
                 ref.file.to_string(), ok.error().message);
    return;
  }
  seen_.erase(ref);
  // The consumer may have started removing or storing it meanwhile: then it is not damage.
  if (hooks_.should_check(ref) != CheckVerdict::check) return;
  {
    std::lock_guard lock(mutex_);
    ++damage_found_;
  }
  spdlog::warn("consumer: slot {} of {} was changed on disk: {}", ref.slot, ref.file.to_string(), ok.error().message);
  hooks_.damaged(ref, ok.error().message);
}

}  // namespace ob::consumer
