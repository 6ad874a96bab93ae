#include "node/producer/producer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <unordered_map>
#include <spdlog/spdlog.h>

#include "core/cid.h"
#include "exchange/fetcher.h"
#include "node/engine.h"
#include "node/network.h"
#include "node/producer/md5.h"
#include "node/startup.h"
#include "store/file_io.h"
#include "wallet/wallet_store.h"

namespace ob::producer {
namespace {

namespace fs = std::filesystem;
namespace pb = openbucket::tracker::v1;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxFileIdBytes = 256;     // proto/tracker.proto limits
constexpr std::size_t kMaxPathBytes = 4096;

/// A regular file's size and modification time; nullopt when it is not one (or is gone).
struct FileStat {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
};
std::optional<FileStat> stat_regular(const fs::path& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStat{static_cast<std::uint64_t>(st.st_size),
                  static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

/// Whether `path` is `prefix` or under it (relative '/' paths).
bool under(const std::string& path, const std::string& prefix) {
  return path == prefix || (path.size() > prefix.size() && path.starts_with(prefix) && path[prefix.size()] == '/');
}

/// A remote path without its leading '/', for comparisons.
std::string_view trimmed(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  return path;
}

std::string remote_status_name(pb::FileStatus status) {
  switch (status) {
    case pb::STATUS_UPLOADING:
      return "UPLOADING";
    case pb::STATUS_UPLOADED:
      return "UPLOADED";
    case pb::STATUS_DEGRADED:
      return "DEGRADED";
    case pb::STATUS_LOST:
      return "LOST";
    case pb::STATUS_REMOVING:
      return "REMOVING";
    default:
      return "UNKNOWN";
  }
}

/// A remote path a user may give: non-empty, at most 4096 bytes, no control characters, no
/// ".." component.
bool valid_remote_path(std::string_view path) {
  if (trimmed(path).empty() || path.size() > kMaxPathBytes) return false;
  if (std::ranges::any_of(path, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) return false;
  for (const auto& part : fs::path(std::string(path))) {
    if (part == "..") return false;
  }
  return true;
}

/// `path` with a leading "~/" replaced by $HOME.
std::optional<fs::path> expand_home(const std::string& path) {
  if (path == "~" || path.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') return std::nullopt;
    return fs::path(home) / path.substr(std::min<std::size_t>(2, path.size()));
  }
  return fs::path(path);
}

/// Whether this process may list, read and write in `dir`.
bool usable_directory(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && ::access(dir.c_str(), R_OK | W_OK | X_OK) == 0;
}

/// The name a download is written under: the remote path's last component, or the file ID when
/// that is not a plain name (never lets a name steer the write out of the destination).
std::string download_name(const std::string& remote_path, const std::string& file_id) {
  const std::string name = fs::path(std::string(trimmed(remote_path))).filename().string();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) return file_id;
  return name;
}

/// "name", else "stem (2).ext", "stem (3).ext", ...: a name in `dir` that is not taken.
fs::path free_name(const fs::path& dir, const fs::path& name) {
  std::error_code ec;
  fs::path candidate = dir / name;
  for (int i = 2; fs::exists(fs::symlink_status(candidate, ec)); ++i) {
    candidate = dir / (name.stem().string() + " (" + std::to_string(i) + ")" + name.extension().string());
  }
  return candidate;
}

/// A source over an open file that also feeds `md5`, and gives up when `cancel` is set.
ByteSource hashing_source(int fd, const fs::path& path, Md5& md5, const std::atomic<bool>& cancel) {
  return [fd, path, &md5, &cancel](MutableByteView out) -> Result<std::size_t> {
    if (cancel.load()) return fail(Errc::io, "the producer is stopping");
    for (;;) {
      const ssize_t n = ::read(fd, out.data(), out.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(fileio::errno_error("cannot read", path, errno));
      }
      OB_TRY_VOID(md5.update(ByteView(out.data(), static_cast<std::size_t>(n))));
      return static_cast<std::size_t>(n);
    }
  };
}

/// Moves every entry of `from` into `to` (rename; copy and delete across filesystems). On
/// failure moves back what it moved and returns the error. Errors (already_exists): `to`
/// already has an entry of the same name (checked before anything moves); (io).
Result<void> move_entries(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::exists(from, ec)) return {};
  std::vector<fs::path> names;
  for (auto it = fs::directory_iterator(from, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename());
  }
  if (ec) return fail(Errc::io, "cannot list ", from.string(), ": ", ec.message());
  for (const fs::path& name : names) {
    if (fs::exists(fs::symlink_status(to / name, ec))) {
      return fail(Errc::already_exists, "cannot move ", (from / name).string(), ": ", (to / name).string(),
                  " already exists");
    }
  }
  const auto move_one = [](const fs::path& source, const fs::path& target) -> Result<void> {
    std::error_code move_ec;
    fs::rename(source, target, move_ec);
    if (!move_ec) return {};
    if (move_ec != std::errc::cross_device_link) {
      return fail(Errc::io, "cannot move ", source.string(), " to ", target.string(), ": ", move_ec.message());
    }
    fs::copy(source, target, fs::copy_options::recursive | fs::copy_options::copy_symlinks, move_ec);
    if (move_ec) {
      std::error_code ignored;
      fs::remove_all(target, ignored);
      return fail(Errc::io, "cannot copy ", source.string(), " to ", target.string(), ": ", move_ec.message());
    }
    fs::remove_all(source, move_ec);
    if (move_ec) return fail(Errc::io, "cannot remove ", source.string(), " after copying it: ", move_ec.message());
    return {};
  };
  std::vector<fs::path> moved;
  for (const fs::path& name : names) {
    auto ok = move_one(from / name, to / name);
    if (!ok) {
      for (auto it = moved.rbegin(); it != moved.rend(); ++it) {
        if (auto back = move_one(to / *it, from / *it); !back) {
          spdlog::error("producer: rolling back the directory move: {}", back.error().message);
        }
      }
      return ok;
    }
    moved.push_back(name);
  }
  (void)fileio::sync_dir(to);
  (void)fileio::sync_dir(from);
  return {};
}

/// The config.toml on disk (other roles may have saved theirs since we read it), else `fallback`.
NodeConfig fresh_config(const fs::path& home_dir, const NodeConfig& fallback) {
  auto bytes = fileio::read_file(home_dir / "config.toml", 1024 * 1024);
  if (!bytes) return fallback;
  auto config = NodeConfig::from_toml(as_chars(*bytes));
  return config ? *config : fallback;
}

/// The entries of `files` by file ID (those with one), so a listing looks each row up once
/// instead of scanning the list for it. The pointers live as long as `files` is unchanged.
std::unordered_map<std::string_view, const LocalFile*> index_by_id(const std::vector<LocalFile>& files) {
  std::unordered_map<std::string_view, const LocalFile*> by_id;
  by_id.reserve(files.size());
  for (const LocalFile& f : files) {
    if (!f.file_id.empty()) by_id.emplace(f.file_id, &f);
  }
  return by_id;
}

}  // namespace

// --- options ---------------------------------------------------------------------------------

Result<CodingChoice> choose_coding(const UploadOptions& options, const CodingParams& defaults,
                                   std::uint32_t default_availability) {
  constexpr std::uint32_t kMax = protocol::kMaxSlots;
  if (options.k && (*options.k == 0 || *options.k > kMax)) return fail(Errc::invalid_argument, "Invalid k: from 1 to ", kMax);
  if (options.m && *options.m >= kMax) return fail(Errc::invalid_argument, "Invalid m: from 0 to ", kMax - 1);
  if (options.availability && (*options.availability == 0 || *options.availability > kMax)) {
    return fail(Errc::invalid_argument, "Invalid availability: a number from 1 to ", kMax);
  }
  if (default_availability == 0 || default_availability > kMax) {
    return fail(Errc::invalid_argument, "Invalid defaultAvailability: a number from 1 to ", kMax);
  }
  CodingChoice choice;
  choice.params = defaults;
  if (options.k || options.m) {
    if (options.k) choice.params.k = *options.k;
    if (options.m) choice.params.m = *options.m;
    choice.availability = options.availability.value_or(choice.params.m + 1);
  } else if (options.availability) {
    choice.params.k = 1;
    choice.params.m = *options.availability - 1;
    choice.availability = *options.availability;
  } else {
    choice.params.m = default_availability - 1;
    choice.availability = default_availability;
  }
  if (choice.availability > choice.params.m + 1) {
    return fail(Errc::invalid_argument, "Invalid availability: ", choice.availability, " needs at least ",
                choice.availability - 1, " parity slots, but m = ", choice.params.m);
  }
  OB_TRY_VOID(choice.params.validate());
  return choice;
}

namespace {
std::string tier_name(pb::Tier tier) {
  switch (tier) {
    case pb::TIER_BASIC: return "basic";
    case pb::TIER_PREMIUM: return "premium";
    default: return "free";
  }
}
}  // namespace

IndexEntry entry_of(const pb::FileInfo& f) {
  return IndexEntry{f.file_id(), f.path(),         f.size(),       f.hash(),       tier_name(f.tier()),
                    f.k(),       f.m(),            f.availability(), f.request_id(), f.created_unix()};
}

Result<pb::Tier> parse_tier(std::string_view name) {
  std::string lower(name);
  std::ranges::transform(lower, lower.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  if (lower == "free") return pb::TIER_FREE;
  if (lower == "basic") return pb::TIER_BASIC;
  if (lower == "premium") return pb::TIER_PREMIUM;
  return fail(Errc::invalid_argument, "Invalid tier: '", name, "' is not free, basic or premium");
}

// --- construction and lifecycle ---------------------------------------------------------------

Result<std::unique_ptr<Producer>> Producer::open(const Home& home, Engine& engine, Network* network,
                                                 std::optional<tracker::TrackerClient> tracker,
                                                 ProducerOptions options) {
  const fs::path file = home.dir() / "state" / "producer.json";
  auto state = load_state(file);
  if (!state) {
    if (state.error().code != Errc::corrupt) return std::unexpected(state.error());
    // A damaged list must not keep the daemon down: keep it for inspection, start afresh (the
    // worker's scan and the tracker's list rebuild what matters).
    spdlog::error("producer: {}; moved aside to producer.json.corrupt", state.error().message);
    std::error_code ec;
    fs::rename(file, fs::path(file).replace_extension(".json.corrupt"), ec);
    if (ec) return fail(Errc::io, "cannot move the damaged ", file.string(), " aside: ", ec.message());
    state = ProducerState{};
  }
  std::unique_ptr<Producer> producer(new Producer(home, engine, network, std::move(tracker), options, std::move(*state)));
  producer->remove_download_leftovers();
  return producer;
}

void Producer::remove_download_leftovers() {
  std::lock_guard lock(mutex_);
  if (state_.download_dirs.empty()) return;
  const std::set<std::string> dirs(state_.download_dirs.begin(), state_.download_dirs.end());
  for (const std::string& dir : dirs) {
    // A directory gone or unreadable since: nothing of ours to remove there that we could reach.
    if (auto removed = fileio::remove_leftovers(dir, fileio::is_temporary_name); removed && *removed > 0) {
      spdlog::info("producer: removed {} temporary file(s) an interrupted download left in {}", *removed, dir);
    }
  }
  state_.download_dirs.clear();
  if (auto saved = save_locked(); !saved) spdlog::error("producer: {}", saved.error().message);
}

Producer::Producer(const Home& home, Engine& engine, Network* network, std::optional<tracker::TrackerClient> tracker,
                   ProducerOptions options, ProducerState state)
    : home_(home),
      engine_(engine),
      network_(network),
      tracker_(std::move(tracker)),
      options_(options),
      state_file_(home.dir() / "state" / "producer.json"),
      config_(home.config()),
      state_(std::move(state)) {}

Producer::~Producer() { shutdown(); }

bool Producer::was_started() const {
  std::lock_guard lock(mutex_);
  return state_.started;
}

bool Producer::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

fs::path Producer::directory_locked() const {
  return config_.producer_directory.empty() ? home_.dir() / "produce" : fs::path(config_.producer_directory);
}

fs::path Producer::directory() const {
  std::lock_guard lock(mutex_);
  return directory_locked();
}

Result<void> Producer::save_locked() { return save_state(state_file_, state_); }

Result<bool> Producer::start() {
  std::lock_guard life(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (running_) return false;
  }
  if (!tracker_) {
    return fail(Errc::invalid_argument,
                "the producer needs a tracker: set [tracker] address in config.toml (open-bucket init --tracker "
                "PEERID@host:port --force)");
  }
  OB_TRY_VOID(start_threads());
  std::lock_guard lock(mutex_);
  state_.started = true;
  if (auto saved = save_locked(); !saved) {
    spdlog::error("producer: {}", saved.error().message);
  }
  return true;
}

Result<bool> Producer::stop() {
  std::lock_guard life(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (!running_) return false;
  }
  stop_threads();
  std::lock_guard lock(mutex_);
  state_.started = false;
  OB_TRY_VOID(save_locked());
  return true;
}

void Producer::shutdown() {
  std::vector<Download> downloads;
  {
    std::lock_guard life(lifecycle_mutex_);
    bool running = false;
    {
      std::lock_guard lock(mutex_);
      running = running_;
    }
    if (running) stop_threads();
    std::lock_guard lock(mutex_);
    downloads.swap(downloads_);
  }
  for (Download& d : downloads) d.thread.join();
}

Result<void> Producer::start_threads() {
  fs::path dir;
  {
    std::lock_guard lock(mutex_);
    dir = directory_locked();
  }
  if (auto made = fileio::create_private_directories(dir); !made) {
    return fail(Errc::io, "cannot create the Producer directory: ", made.error().message);
  }
  // What a crash left of a copy into the directory (upload) or a download into it: never a
  // user's file, and never to be uploaded. Live ones (a download running meanwhile) are kept.
  if (auto removed = fileio::remove_leftovers(dir, fileio::is_temporary_name, /*recursive=*/true); !removed) {
    spdlog::warn("producer: {}", removed.error().message);
  } else if (*removed > 0) {
    spdlog::info("producer: removed {} temporary file(s) an interrupted copy or download left in {}", *removed,
                 dir.string());
  }
  OB_TRY(watcher_, PWatcher::start(dir, [this](const std::string& path, Change change) {
           {
             std::lock_guard lock(mutex_);
             if (change == Change::rescan) {
               rescan_ = true;
             } else {
               events_.emplace_back(path, change);
             }
           }
           wake_.notify_all();
         }));
  {
    std::lock_guard lock(mutex_);
    running_ = true;
    stopping_ = false;
    rescan_ = true;  // the scan at start
    cancel_ = false;
    // Every upload in progress is registered again: the tracker learns this node's current
    // address, and a registration a crash interrupted is completed (RegisterFile is idempotent).
    for (LocalFile& f : state_.files) f.registered = false;
  }
  worker_ = std::thread([this] { worker(); });
  spdlog::info("producer: started on {}", dir.string());
  return {};
}

void Producer::stop_threads() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cancel_ = true;
  }
  wake_.notify_all();
  if (watcher_) watcher_->stop();
  watcher_.reset();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
  events_.clear();
  spdlog::info("producer: stopped");
}

void Producer::worker() {
  auto next_poll = Clock::now();
  for (;;) {
    std::deque<std::pair<std::string, Change>> events;
    bool rescan = false;
    {
      std::unique_lock lock(mutex_);
      // Sleep until an event, the next poll, or the next retry of a failed upload.
      auto due = next_poll;
      for (const LocalFile& f : state_.files) {
        if (f.present && f.status == LocalStatus::pending) due = std::min(due, ready_at(f));
      }
      if (state_.index.dirty && index_due_) due = std::min(due, *index_due_);
      wake_.wait_until(lock, due, [&] { return stopping_ || rescan_ || !events_.empty(); });
      if (stopping_) return;
      events.swap(events_);
      rescan = std::exchange(rescan_, false);
    }
    if (rescan) scan();
    for (const auto& [path, change] : events) {
      if (change == Change::written) {
        note_written(path);
      } else {
        note_removed(path);
      }
    }
    if (Clock::now() >= next_poll) {
      std::lock_guard uploads(upload_mutex_);
      poll_tracker();
      next_poll = Clock::now() + options_.poll_interval;
    }
    {
      std::lock_guard uploads(upload_mutex_);
      index_step();
    }
    upload_next_pending();
  }
}

// --- the local list ---------------------------------------------------------------------------

LocalFile* Producer::find_present(const std::string& path) {
  for (LocalFile& f : state_.files) {
    if (f.present && f.path == path) return &f;
  }
  return nullptr;
}

LocalFile& Producer::add_pending_locked(const std::string& path, std::uint64_t size, std::int64_t mtime_ns) {
  LocalFile entry;
  entry.path = path;
  entry.size = size;
  entry.mtime_ns = mtime_ns;
  state_.files.push_back(std::move(entry));
  return state_.files.back();
}

void Producer::note_written(const std::string& path, bool save) {
  fs::path dir;
  {
    std::lock_guard lock(mutex_);
    dir = directory_locked();
  }
  const auto st = stat_regular(dir / path);
  if (!st) return;  // gone again, or not a regular file: a removal event follows if it matters
  std::lock_guard lock(mutex_);
  LocalFile* entry = find_present(path);
  if (entry != nullptr && entry->size == st->size && entry->mtime_ns == st->mtime_ns) return;
  if (entry == nullptr) {
    add_pending_locked(path, st->size, st->mtime_ns);
  } else if (entry->status == LocalStatus::pending) {
    entry->size = st->size;
    entry->mtime_ns = st->mtime_ns;
    entry->md5.clear();
    entry->error.clear();
    retry_after_.erase(path);
  } else {
    // A changed file is a new file; the old version stays in the network, and keeps uploading
    // if it has not finished (its encoded copy holds all of it).
    LocalFile fresh;
    fresh.availability = entry->availability;
    fresh.k = entry->k;
    fresh.m = entry->m;
    fresh.tier = entry->tier;
    if (entry->status == LocalStatus::uploading) {
      entry->present = false;
    } else {
      std::erase_if(state_.files, [&](const LocalFile& f) { return &f == entry; });
    }
    LocalFile& added = add_pending_locked(path, st->size, st->mtime_ns);
    added.availability = fresh.availability;
    added.k = fresh.k;
    added.m = fresh.m;
    added.tier = fresh.tier;
  }
  if (save) {
    if (auto saved = save_locked(); !saved) spdlog::error("producer: {}", saved.error().message);
  }
  wake_.notify_all();
}

void Producer::note_removed(const std::string& path) {
  std::lock_guard lock(mutex_);
  std::error_code ec;
  // A stale event (the path was re-created since): the written event that follows handles it.
  if (stat_regular(directory_locked() / path)) return;
  bool changed = false;
  for (auto it = state_.files.begin(); it != state_.files.end();) {
    if (!it->present || !under(it->path, path) || stat_regular(directory_locked() / it->path)) {
      ++it;
      continue;
    }
    changed = true;
    if (it->status == LocalStatus::uploading) {
      // Deleted before it was completely uploaded: the encoded copy keeps uploading.
      it->present = false;
      ++it;
    } else {
      // PENDING: nothing left to upload. UPLOADED: seed 000 — deleted locally, kept in the network.
      retry_after_.erase(it->path);
      it = state_.files.erase(it);
    }
  }
  if (changed) {
    if (auto saved = save_locked(); !saved) spdlog::error("producer: {}", saved.error().message);
  }
}

void Producer::scan() {
  fs::path dir;
  {
    std::lock_guard lock(mutex_);
    dir = directory_locked();
  }
  std::set<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
    if (fileio::is_temporary_name(it->path().filename().string())) continue;
    found.insert(it->path().lexically_relative(dir).generic_string());
  }
  if (ec) spdlog::warn("producer: scanning {}: {}", dir.string(), ec.message());
  for (const std::string& path : found) note_written(path, /*save=*/false);
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mutex_);
    if (auto saved = save_locked(); !saved) spdlog::error("producer: {}", saved.error().message);
    for (const LocalFile& f : state_.files) {
      if (f.present && !found.contains(f.path)) gone.push_back(f.path);
    }
  }
  for (const std::string& path : gone) note_removed(path);
}

std::vector<LocalFile> Producer::list_local() const {
  std::lock_guard lock(mutex_);
  std::vector<LocalFile> files;
  for (const LocalFile& f : state_.files) {
    if (f.present) files.push_back(f);
  }
  std::ranges::sort(files, {}, &LocalFile::path);
  return files;
}

// --- tracker calls ----------------------------------------------------------------------------

Result<tracker::TrackerClient*> Producer::tracker_client() {
  if (!tracker_) {
    return fail(Errc::invalid_argument, "no tracker is configured: set [tracker] address in config.toml");
  }
  return &*tracker_;
}

Result<std::vector<pb::FileInfo>> Producer::tracker_list(const std::string& file_id) {
  OB_TRY(tracker::TrackerClient * client, tracker_client());
  pb::ListFilesRequest request;
  request.set_file_id(file_id);
  pb::ListFilesReply reply;
  auto context = tracker::call_context(options_.tracker_timeout);
  const grpc::Status status = client->producer().ListFiles(context.get(), request, &reply);
  if (!status.ok()) return std::unexpected(tracker::call_error("listing files on the tracker", status));
  return std::vector<pb::FileInfo>(reply.files().begin(), reply.files().end());
}

Result<pb::FileInfo> Producer::find_remote(const FileRef& file) {
  const auto missing = [&] { return fail(Errc::not_found, "File `", file.label(), "` not exists"); };
  {
    std::lock_guard lock(mutex_);
    if (is_index_version_locked(file.file_id)) return missing();  // not the user's to rm, edit or share
  }
  if (!file.file_id.empty()) {
    if (file.file_id.size() > kMaxFileIdBytes || !Cid::parse(file.file_id)) return missing();
    auto files = tracker_list(file.file_id);
    if (!files) return files.error().code == Errc::not_found ? missing() : std::unexpected(files.error());
    for (const pb::FileInfo& f : *files) {
      if (f.file_id() == file.file_id) return f;
    }
    return missing();
  }
  if (trimmed(file.path).empty() || file.path.size() > kMaxPathBytes) return missing();
  OB_TRY(std::vector<pb::FileInfo> files, tracker_list(""));
  for (const pb::FileInfo& f : files) {
    if (trimmed(f.path()) == trimmed(file.path)) return f;
  }
  return missing();
}

Result<void> Producer::register_file(const std::string& file_id) {
  OB_TRY(tracker::TrackerClient * client, tracker_client());
  OB_TRY(Cid cid, Cid::parse(file_id));
  LocalFile entry;
  {
    std::lock_guard lock(mutex_);
    const auto it = std::ranges::find(state_.files, file_id, &LocalFile::file_id);
    if (it == state_.files.end()) return fail(Errc::not_found, "file ", file_id, " is not being uploaded");
    entry = *it;
  }
  OB_TRY(Bytes manifest, engine_.blocks().get(cid));
  OB_TRY(pb::Tier tier, parse_tier(entry.tier));
  OB_TRY(Manifest decoded, Manifest::decode(manifest));
  pb::RegisterFileRequest request;
  if (entry.request) {
    // A paid tier: the escrow is paid before the tracker places anything.
    if (entry.request->phase == RequestPhase::unpaid) {
      auto paid = pay_for(entry, decoded, cid);
      std::lock_guard lock(mutex_);
      const auto it = std::ranges::find(state_.files, file_id, &LocalFile::file_id);
      if (!paid) {
        if (it != state_.files.end() && it->request) {
          it->request->error = paid.error().message;
          it->error = "storage request: " + paid.error().message;
          (void)save_locked();
        }
        return std::unexpected(paid.error());
      }
      if (it != state_.files.end()) it->request = *paid;
      keys_.erase(entry.path);
      entry.request = std::move(*paid);
      OB_TRY_VOID(save_locked());
      spdlog::info("producer: {} paid for: storage request {}", entry.path, entry.request->request_id);
    }
    request.set_request_id(entry.request->request_id);
  }
  request.set_manifest(std::string(as_chars(manifest)));
  // A paid tier places all n slots: the request pays for them and proofs need them (docs/market.md).
  request.set_availability(entry.availability != 0 && !entry.request ? entry.availability : decoded.params.m + 1);
  request.set_tier(tier);
  request.set_path(entry.path);
  request.set_size(decoded.original_size);
  request.set_hash(entry.md5);
  if (network_ != nullptr) request.add_source_addresses(network_->p2p_address());
  pb::RegisterFileReply reply;
  auto context = tracker::call_context(options_.tracker_timeout);
  const grpc::Status status = client->market().RegisterFile(context.get(), request, &reply);
  std::lock_guard lock(mutex_);
  for (LocalFile& f : state_.files) {
    if (f.file_id != file_id) continue;
    f.registered = status.ok();
    f.error = status.ok() ? "" : tracker::call_error("registering with the tracker", status).message;
  }
  if (!status.ok()) return std::unexpected(tracker::call_error("registering " + entry.path + " with the tracker", status));
  if (reply.file_id() != file_id) {
    spdlog::warn("producer: the tracker registered {} as {}", file_id, reply.file_id());
  }
  spdlog::info("producer: {} registered as {}", entry.path, file_id);
  if (!entry.index) {
    index_put_locked(IndexEntry{file_id, entry.path, decoded.original_size, entry.md5, entry.tier, decoded.params.k,
                                decoded.params.m, request.availability(), request.request_id(), 0});
  }
  return save_locked();
}

// --- uploads ----------------------------------------------------------------------------------

Result<std::pair<StorageRequest, std::shared_ptr<const wallet::PrivateKey>>> Producer::prepare_request(
    const UploadOptions& options) {
  StorageRequest request;
  request.tier = options.tier;
  for (char& c : request.tier) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!options.duration) {
    return fail(Errc::invalid_argument, "Invalid duration: a ", request.tier, "-tier upload needs one (e.g. 30d)");
  }
  request.duration = *options.duration;
  if (options.price) {
    const auto price = wallet::U256::from_decimal(*options.price);
    if (!price) return fail(Errc::invalid_argument, "Invalid price: '", *options.price, "' is not a number of wei");
    request.price = *price;
  } else {
    request.price = kDefaultPrice;
  }
  request.account = options.account;
  // The ask's own checks (duration, price), before anything is copied or charged.
  Manifest probe;
  probe.params.k = 1;
  probe.params.block_size = 1024;
  probe.slot_roots.resize(1);
  OB_TRY_VOID(make_ask(probe, as_bytes(std::string_view("probe")), request, wallet::Address{}));
  const wallet::WalletStore wallet(home_.dir());
  OB_TRY(const wallet::Account account, wallet.find_or_default(options.account));
  OB_TRY(wallet::PrivateKey key, wallet.unlock(account, options.passphrase));
  request.account = account.address.to_checksum();
  return std::pair(std::move(request), std::make_shared<const wallet::PrivateKey>(std::move(key)));
}

Result<StorageRequest> Producer::pay_for(const LocalFile& entry, const Manifest& manifest, const Cid& file) {
  std::shared_ptr<const wallet::PrivateKey> key;
  {
    std::lock_guard lock(mutex_);
    if (const auto it = keys_.find(entry.path); it != keys_.end()) key = it->second;
  }
  if (!key) {
    return fail(Errc::invalid_argument, "the account paying for ", entry.path,
                " is locked: upload it again with its passphrase");
  }
  std::lock_guard market_lock(market_mutex_);
  OB_TRY(auto* opened, market_locked());
  const Bytes cid = file.to_bytes();
  StorageRequest request = *entry.request;
  OB_TRY(const market::StorageAsk ask, make_ask(manifest, cid, request, opened->second));
  if (auto sent = open_request(request, opened->first, *key, ask, cid); !sent) {
    market_.reset();
    return std::unexpected(sent.error());
  }
  return request;
}

Result<std::pair<market::MarketClient, wallet::Address>*> Producer::market_locked() {
  if (!market_) {
    OB_TRY(auto opened, open_market());
    market_.emplace(std::move(opened));
  }
  return &*market_;
}

Result<std::pair<market::MarketClient, wallet::Address>> Producer::open_market() {
  NodeConfig config;
  {
    std::lock_guard lock(mutex_);
    config = config_;
  }
  OB_TRY(tracker::TrackerClient * client, tracker_client());
  pb::GetMarketReply reply;
  auto context = tracker::call_context(options_.tracker_timeout);
  if (const grpc::Status status = client->market().GetMarket(context.get(), pb::GetMarketRequest(), &reply);
      !status.ok()) {
    return std::unexpected(tracker::call_error("asking the tracker for its market", status));
  }
  if (!reply.has_market()) {
    return fail(Errc::invalid_argument, "the tracker runs no storage market: upload with --tier free");
  }
  if (config.chain_id != 0 && config.chain_id != reply.market().chain_id()) {
    return fail(Errc::invalid_argument, "the tracker's market is on chain ", reply.market().chain_id(),
                "; this node's [chain] chain_id is ", config.chain_id);
  }
  chain::ChainSettings settings;
  settings.rpc = config.chain_rpc;
  settings.chain_id = reply.market().chain_id();  // the node must be on the tracker's chain
  OB_TRY(chain::ChainClient chain, chain::ChainClient::connect(settings));
  OB_TRY(const wallet::Address address, wallet::Address::parse(reply.market().address()));
  OB_TRY(const wallet::Address placer, wallet::Address::parse(reply.market().placer()));
  OB_TRY(market::MarketClient market, market::MarketClient::open(std::move(chain), address));
  return std::pair(std::move(market), placer);
}

void Producer::refresh_requests(const std::vector<RemoteFile>& rows) {
  std::vector<std::string> waiting;  // file IDs whose request was paid, not yet seen started
  {
    std::lock_guard lock(mutex_);
    const auto by_id = index_by_id(state_.files);
    for (const RemoteFile& row : rows) {
      const auto it = by_id.find(row.id);
      if (it != by_id.end() && it->second->request && it->second->request->phase == RequestPhase::requested &&
          row.status == "UPLOADED") {
        waiting.push_back(row.id);
      }
    }
  }
  if (waiting.empty()) return;
  std::lock_guard market_lock(market_mutex_);
  auto opened = market_locked();
  if (!opened) {
    spdlog::warn("producer: cannot read the storage requests: {}", opened.error().message);
    return;
  }
  for (const std::string& file_id : waiting) {
    std::string request_id;
    {
      std::lock_guard lock(mutex_);
      const auto it = std::ranges::find(state_.files, file_id, &LocalFile::file_id);
      if (it == state_.files.end() || !it->request) continue;
      request_id = it->request->request_id;
    }
    const auto id = wallet::U256::from_decimal(request_id);
    if (!id) continue;
    auto state = (*opened)->first.request_state(*id);
    if (!state) {
      spdlog::warn("producer: storage request {}: {}", request_id, state.error().message);
      market_.reset();
      return;
    }
    if (*state == market::RequestState::New) continue;
    const RequestPhase next = *state == market::RequestState::Started ? RequestPhase::started : RequestPhase::failed;
    std::lock_guard lock(mutex_);
    const auto it = std::ranges::find(state_.files, file_id, &LocalFile::file_id);
    if (it == state_.files.end() || !it->request || !it->request->advance(next)) continue;
    if (next == RequestPhase::failed) {
      it->request->error = std::string("the chain says the request is ") + std::string(market::to_string(*state));
    }
    if (auto saved = save_locked(); !saved) spdlog::error("producer: {}", saved.error().message);
  }
}

void Producer::read_requests(std::vector<RemoteFile>& rows) {
  if (std::ranges::none_of(rows, [](const RemoteFile& r) { return !r.request_id.empty(); })) return;
  std::lock_guard market_lock(market_mutex_);
  const auto now = Clock::now();
  std::erase_if(chain_views_, [&](const auto& entry) { return now - entry.second.read_at > kChainViewTtl; });
  for (RemoteFile& row : rows) {
    if (row.request_id.empty()) continue;
    auto view = chain_views_.find(row.request_id);
    if (view == chain_views_.end()) {
      auto read = read_request_locked(row.request_id);
      if (!read) {
        spdlog::warn("producer: cannot read storage request {}: {}", row.request_id, read.error().message);
        market_.reset();
        return;
      }
      view = chain_views_.emplace(row.request_id, std::move(*read)).first;
    }
    row.escrow_left = view->second.escrow_left;
    row.slot_hosts = view->second.slot_hosts;
  }
}

Result<Producer::ChainView> Producer::read_request_locked(const std::string& request_id) {
  const auto id = wallet::U256::from_decimal(request_id);
  if (!id) return fail(Errc::corrupt, "not a storage request ID: ", request_id);
  OB_TRY(auto* opened, market_locked());
  market::MarketClient& market = opened->first;
  OB_TRY(market::Request request, market.get_request(*id));
  ChainView view{Clock::now(), request.escrow.to_decimal(), {}};
  view.slot_hosts.reserve(request.n);
  for (std::uint8_t i = 0; i < request.n; ++i) {
    OB_TRY(market::Slot slot, market.get_slot(*id, i));
    view.slot_hosts.push_back(slot.state == market::SlotState::Filled ? slot.host.to_checksum() : std::string());
  }
  return view;
}

Result<std::string> Producer::upload_locked(const std::string& path) {
  fs::path dir;
  LocalFile entry;
  NodeConfig config;
  {
    std::lock_guard lock(mutex_);
    dir = directory_locked();
    config = config_;
    const LocalFile* found = find_present(path);
    if (found == nullptr) return fail(Errc::not_found, "File ", path, " is no longer in the Producer directory");
    if (found->status != LocalStatus::pending) return found->file_id;
    entry = *found;
  }
  const fs::path file = dir / path;
  const auto before = stat_regular(file);
  if (!before) return fail(Errc::not_found, "File ", path, " is no longer in the Producer directory");
  OB_TRY(FileDigest digest, md5_file(file));

  // Seed 000 "Start Producer": a file the tracker already has (same MD5) is not uploaded again.
  OB_TRY(std::vector<pb::FileInfo> remote, tracker_list(""));
  for (const pb::FileInfo& f : remote) {
    if (f.hash() != digest.md5 || f.status() == pb::STATUS_REMOVING) continue;
    std::lock_guard lock(mutex_);
    LocalFile* e = find_present(path);
    if (e == nullptr) return fail(Errc::not_found, "File ", path, " is no longer in the Producer directory");
    if (e->status != LocalStatus::pending) return e->file_id;
    e->md5 = digest.md5;
    e->size = before->size;
    e->mtime_ns = before->mtime_ns;
    e->file_id = f.file_id();
    e->status = f.status() == pb::STATUS_UPLOADING ? LocalStatus::uploading : LocalStatus::uploaded;
    e->registered = true;
    e->error.clear();
    // An encoded copy of it that was moved or renamed locally: one entry is enough.
    std::erase_if(state_.files, [&](const LocalFile& other) { return !other.present && other.file_id == f.file_id(); });
    index_put_locked(entry_of(f));
    OB_TRY_VOID(save_locked());
    spdlog::info("producer: {} is already in the network as {}", path, f.file_id());
    return f.file_id();
  }

  UploadOptions requested;
  if (entry.availability != 0) requested.availability = entry.availability;
  if (entry.k != 0) requested.k = entry.k;
  if (entry.m != 0) requested.m = entry.m;
  requested.tier = entry.tier;
  OB_TRY(CodingChoice choice, choose_coding(requested, config.coding, config.default_availability));
  OB_TRY_VOID(parse_tier(entry.tier));

  // Encode, hashing again on the way: the MD5 registered is the one of the bytes encoded.
  OB_TRY(fileio::Fd fd, fileio::open_fd(file, O_RDONLY));
  OB_TRY(Md5 md5, Md5::create());
  OB_TRY(Cid cid, engine_.store(hashing_source(fd.get(), file, md5, cancel_), FileMetadata{path, ""}, choice.params));
  const std::string file_id = cid.to_string();
  OB_TRY(std::string encoded_md5, md5.finish_hex());
  const auto after = stat_regular(file);
  if (encoded_md5 != digest.md5 || !after || after->size != before->size || after->mtime_ns != before->mtime_ns) {
    (void)engine_.remove(cid);
    return fail(Errc::io, "File ", path, " changed while it was being encoded; it is uploaded again");
  }
  {
    std::lock_guard lock(mutex_);
    LocalFile* e = find_present(path);
    if (e == nullptr || e->status != LocalStatus::pending || e->size != before->size || e->mtime_ns != before->mtime_ns) {
      // Deleted or replaced meanwhile: what was encoded still goes up (see producer.h).
      LocalFile detached = entry;
      detached.present = false;
      state_.files.push_back(std::move(detached));
      e = &state_.files.back();
    }
    e->md5 = digest.md5;
    e->size = before->size;
    e->mtime_ns = before->mtime_ns;
    e->file_id = file_id;
    e->status = LocalStatus::uploading;
    e->availability = choice.availability;
    e->registered = false;
    e->error.clear();
    retry_after_.erase(path);
    // Recorded before registering: a crash from here on resumes with RegisterFile.
    OB_TRY_VOID(save_locked());
  }
  spdlog::info("producer: {} encoded as {} (k={}, m={}, availability {})", path, file_id, choice.params.k,
               choice.params.m, choice.availability);
  OB_TRY_VOID(register_file(file_id));
  return file_id;
}

Clock::time_point Producer::ready_at(const LocalFile& file) const {
  const auto now = Clock::now();
  auto ready = Clock::time_point::min();  // ready now, unless one of these says later
  if (const auto retry = retry_after_.find(file.path); retry != retry_after_.end()) ready = std::max(ready, retry->second);
  const auto modified = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(file.mtime_ns)));
  const auto age = std::chrono::system_clock::now() - modified;
  if (age < options_.settle_time) {
    ready = std::max(ready, now + std::chrono::duration_cast<Clock::duration>(options_.settle_time - age));
  }
  return ready;
}

void Producer::upload_next_pending() {
  std::string path;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    for (const LocalFile& f : state_.files) {
      if (!f.present || f.status != LocalStatus::pending || ready_at(f) > now) continue;
      path = f.path;
      break;
    }
  }
  if (path.empty()) return;
  // Looked at again: a file still being written changed since it was noted, without an event
  // (inotify reports a copy only when it is closed), and must settle first.
  note_written(path);
  {
    std::lock_guard lock(mutex_);
    const LocalFile* e = find_present(path);
    if (e == nullptr || e->status != LocalStatus::pending || ready_at(*e) > Clock::now()) return;
  }
  std::lock_guard uploads(upload_mutex_);
  auto result = upload_locked(path);
  if (result) return;
  std::lock_guard lock(mutex_);
  if (cancel_) return;  // stopping: not the file's fault
  spdlog::warn("producer: uploading {}: {}", path, result.error().message);
  retry_after_[path] = Clock::now() + options_.retry_interval;
  if (LocalFile* e = find_present(path); e != nullptr && e->status == LocalStatus::pending) {
    e->error = result.error().message;
    (void)save_locked();
  }
}

void Producer::drop_encoded_copy(const std::string& file_id) {
  auto cid = Cid::parse(file_id);
  if (!cid) return;
  if (auto removed = engine_.remove(*cid); !removed && removed.error().code != Errc::not_found) {
    spdlog::warn("producer: cannot drop the encoded copy of {}: {}", file_id, removed.error().message);
  }
}

void Producer::poll_tracker() {
  std::vector<std::string> uploading;
  {
    std::lock_guard lock(mutex_);
    for (const LocalFile& f : state_.files) {
      if (f.status == LocalStatus::uploading) uploading.push_back(f.file_id);
    }
  }
  if (uploading.empty()) return;
  auto remote = tracker_list("");
  if (!remote) {
    spdlog::warn("producer: {}", remote.error().message);
    return;
  }
  std::map<std::string, const pb::FileInfo*> by_id;
  for (const pb::FileInfo& f : *remote) by_id[f.file_id()] = &f;
  for (const std::string& file_id : uploading) {
    const auto it = by_id.find(file_id);
    const auto cid = Cid::parse(file_id);
    if (!cid) continue;
    bool registered = false;
    {
      std::lock_guard lock(mutex_);
      const auto e = std::ranges::find(state_.files, file_id, &LocalFile::file_id);
      if (e == state_.files.end()) continue;
      registered = e->registered;
    }
    if (it != by_id.end() && it->second->status() == pb::STATUS_UPLOADED) {
      // Checked and dropped under one lock: a download pins the file before it looks for it.
      std::lock_guard lock(mutex_);
      if (pinned_.contains(file_id)) continue;  // a download reads it: next poll
      drop_encoded_copy(file_id);
      for (LocalFile& f : state_.files) {
        if (f.file_id == file_id) f.status = LocalStatus::uploaded;
      }
      std::erase_if(state_.files, [&](const LocalFile& f) { return f.file_id == file_id && !f.present; });
      (void)save_locked();
      spdlog::info("producer: {} is UPLOADED; dropped its local encoded copy", file_id);
      continue;
    }
    if (it != by_id.end() && registered) continue;  // still uploading
    if (it == by_id.end() && registered) {
      // Registered, then gone from the tracker: removed (from another machine). A copy still in
      // the Producer directory is uploaded again, as any new file there.
      drop_encoded_copy(file_id);
      std::lock_guard lock(mutex_);
      requeue_locked(file_id);
      continue;
    }
    // Not registered since start: resume (RegisterFile is idempotent), if the copy survived.
    auto has = engine_.has(*cid);
    if (has && *has) {
      if (auto ok = register_file(file_id); !ok) spdlog::warn("producer: {}", ok.error().message);
      continue;
    }
    if (it != by_id.end()) continue;  // the tracker has it; consumers rebuild from each other
    std::lock_guard lock(mutex_);
    requeue_locked(file_id);
  }
}

void Producer::requeue_locked(const std::string& file_id) {
  if (state_.index.uploading == file_id) {
    // A version of the index the tracker lost, or whose encoded copy is gone: build another.
    state_.index.uploading.clear();
    state_.index.dirty = true;
    index_due_ = Clock::now();
  }
  std::erase_if(state_.files, [&](const LocalFile& f) { return f.file_id == file_id && !f.present; });
  for (LocalFile& f : state_.files) {
    if (f.file_id != file_id) continue;
    f.file_id.clear();
    f.status = LocalStatus::pending;
  }
  (void)save_locked();
}

Result<std::string> Producer::upload(const fs::path& path, const UploadOptions& options) {
  const auto invalid = [&](std::string_view why) {
    return fail(Errc::invalid_argument, "Invalid path: ", path.string(), " ", why);
  };
  if (!path.is_absolute()) return invalid("is not an absolute path");
  std::error_code ec;
  const fs::path source = fs::canonical(path, ec);
  if (ec || !fs::is_regular_file(source, ec)) return invalid("is not a regular file");
  if (::access(source.c_str(), R_OK) != 0) return invalid("is not readable");
  {  // the options are checked before anything is copied
    NodeConfig config;
    {
      std::lock_guard lock(mutex_);
      config = config_;
    }
    OB_TRY_VOID(choose_coding(options, config.coding, config.default_availability));
    OB_TRY_VOID(parse_tier(options.tier));
  }
  std::optional<std::pair<StorageRequest, std::shared_ptr<const wallet::PrivateKey>>> paid;
  if (options.tier != "free") {
    OB_TRY(paid, prepare_request(options));
  }
  // Seed 000 upload step 1: start the producer unless it runs.
  OB_TRY_VOID(start());
  const fs::path dir = fs::canonical(directory(), ec);
  if (ec) return fail(Errc::io, "cannot open the Producer directory: ", ec.message());

  std::lock_guard uploads(upload_mutex_);
  std::string relative;
  const fs::path inside = source.lexically_relative(dir);
  if (!inside.empty() && *inside.begin() != ".." && inside != ".") {
    relative = inside.generic_string();
    note_written(relative);
  } else {
    // Seed 000 upload step 2: copy it in, unless a file with the same MD5 is there. The source
    // is read once for its MD5 (through the one descriptor the copy uses, so a file swapped in
    // under the same name meanwhile cannot mix in); the copy itself is a clone or a kernel copy
    // where the file systems allow (AtomicFile::copy_from), never a second pass through here.
    OB_TRY(fileio::Fd in, fileio::open_fd(source, O_RDONLY));
    struct stat before{};
    if (::fstat(in.get(), &before) != 0) return std::unexpected(fileio::errno_error("cannot stat", source, errno));
    OB_TRY(FileDigest digest, md5_fd(in.get(), source));
    std::vector<std::string> unhashed;
    {
      std::lock_guard lock(mutex_);
      for (const LocalFile& f : state_.files) {
        if (!f.present) continue;
        if (f.md5 == digest.md5) relative = f.path;
        if (f.md5.empty() && f.size == digest.size) unhashed.push_back(f.path);
      }
    }
    for (auto it = unhashed.begin(); relative.empty() && it != unhashed.end(); ++it) {
      if (auto other = md5_file(dir / *it); other && other->md5 == digest.md5) relative = *it;
    }
    if (relative.empty()) {
      const fs::path target = free_name(dir, source.filename());
      // The copy is no more open than the source (a private file stays private); this user
      // keeps read access, which encoding it needs.
      const unsigned mode = (static_cast<unsigned>(before.st_mode) & 0777u) | S_IRUSR;
      OB_TRY(fileio::AtomicFile out, fileio::AtomicFile::create(target, mode));
      OB_TRY(fileio::AtomicFile::CopyMethod method, out.copy_from(in.get(), source));
      // A write to the source since it was hashed changes its size, mtime or ctime (ns on the
      // file systems we run on): then the copy may not be what the MD5 names.
      struct stat after{};
      if (::fstat(in.get(), &after) != 0) return std::unexpected(fileio::errno_error("cannot stat", source, errno));
      const auto same_time = [](const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; };
      if (after.st_size != before.st_size || static_cast<std::uint64_t>(after.st_size) != digest.size ||
          !same_time(after.st_mtim, before.st_mtim) || !same_time(after.st_ctim, before.st_ctim)) {
        return fail(Errc::io, "File ", path.string(), " changed while it was being copied");
      }
      OB_TRY_VOID(out.commit());
      relative = target.lexically_relative(dir).generic_string();
      spdlog::info("producer: copied {} into the Producer directory as {} ({})", source.string(), relative,
                   fileio::to_string(method));
    }
    note_written(relative);
  }
  {
    std::lock_guard lock(mutex_);
    LocalFile* e = find_present(relative);
    if (e == nullptr) return fail(Errc::not_found, "File ", relative, " is no longer in the Producer directory");
    if (e->status == LocalStatus::pending) {
      e->availability = options.availability.value_or(0);
      e->k = options.k.value_or(0);
      e->m = options.m.value_or(0);
      e->tier = options.tier;
      e->error.clear();
      e->request.reset();
      if (paid) e->request = paid->first;
    }
    // Also for a file encoded already whose request is still Unpaid: a restart forgot its key,
    // and the worker's next registration pays with this one.
    if (paid && e->request && e->request->phase == RequestPhase::unpaid) {
      keys_[relative] = paid->second;
    }
    if (e->status == LocalStatus::pending) {
      retry_after_.erase(relative);
      OB_TRY_VOID(save_locked());
    }
  }
  auto id = upload_locked(relative);
  if (!id) {
    std::lock_guard lock(mutex_);
    retry_after_[relative] = Clock::now() + options_.retry_interval;
    if (LocalFile* e = find_present(relative); e != nullptr && e->status == LocalStatus::pending) {
      e->error = id.error().message;
      (void)save_locked();
    }
  }
  return id;
}

// --- listing ----------------------------------------------------------------------------------

Result<std::vector<RemoteFile>> Producer::list() {
  OB_TRY(std::vector<pb::FileInfo> remote, tracker_list(""));
  {
    // The file index's own versions are the producer's business, not files of the user's.
    std::lock_guard lock(mutex_);
    std::erase_if(remote, [&](const pb::FileInfo& f) { return is_index_version_locked(f.file_id()); });
  }
  std::vector<RemoteFile> rows;
  std::set<std::string> known;
  for (const pb::FileInfo& f : remote) {
    known.insert(f.file_id());
    RemoteFile row{f.file_id(), f.path(), f.size(), remote_status_name(f.status()), f.actual_availability(),
                   f.availability(), f.hash(), f.k(), f.slots_stored(), "", "", "", "", "", {}};
    row.tier = tier_name(f.tier());
    row.request_id = f.request_id();
    rows.push_back(std::move(row));
  }
  refresh_requests(rows);
  read_requests(rows);
  std::lock_guard lock(mutex_);
  const auto by_id = index_by_id(state_.files);
  for (RemoteFile& row : rows) {
    const auto it = by_id.find(row.id);
    if (it != by_id.end() && it->second->request) row.request_state = to_string(it->second->request->phase);
  }
  for (const LocalFile& f : state_.files) {
    if (f.status == LocalStatus::uploaded || f.index || known.contains(f.file_id)) continue;
    // Not on the tracker yet: waiting to be encoded, or encoded and waiting to be registered.
    RemoteFile row{f.file_id, f.path, f.size, std::string(status_name(LocalStatus::pending)), 0,
                   f.availability != 0 ? f.availability : config_.default_availability, f.md5, 0, 0, "", "", "", "", "", {}};
    row.tier = f.tier;
    row.error = f.error;
    if (f.request) {
      row.request_id = f.request->request_id;
      row.request_state = to_string(f.request->phase);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// --- download ---------------------------------------------------------------------------------

Result<void> Producer::download(const FileRef& file, const fs::path& destination, bool wait) {
  if (!destination.is_absolute() || !usable_directory(destination)) {
    return fail(Errc::invalid_argument, "Invalid destination: ", destination.string(),
                " is not a directory this daemon can read and write");
  }
  OB_TRY(pb::FileInfo info, find_remote(file));
  if (wait) return run_download(info, destination);
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(mutex_);
  // Finished transfers are joined here, the rest at shutdown.
  for (auto it = downloads_.begin(); it != downloads_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = downloads_.erase(it);
    } else {
      ++it;
    }
  }
  downloads_.push_back({std::thread([this, info, destination, done] {
                          if (auto ok = run_download(info, destination); !ok) {
                            spdlog::error("producer: downloading {}: {}", info.file_id(), ok.error().message);
                          }
                          done->store(true);
                        }),
                        done});
  return {};
}

std::vector<DownloadProgress> Producer::downloads() const {
  std::lock_guard lock(mutex_);
  std::vector<DownloadProgress> out;
  for (const auto& transfer : transfers_) out.push_back(*transfer);
  return out;
}

Result<ShareToken> Producer::share(const FileRef& file, std::uint64_t expires_at) {
  OB_TRY(pb::FileInfo found, find_remote(file));
  // The manifest comes with a listing of one file only: found by ID it is here already, by
  // path the file is listed once more by its ID.
  if (found.manifest().empty()) {
    OB_TRY(std::vector<pb::FileInfo> one, tracker_list(found.file_id()));
    if (one.size() != 1) return fail(Errc::not_found, "File `", file.label(), "` not exists");
    found = std::move(one.front());
  }
  OB_TRY(Cid cid, Cid::parse(found.file_id()));
  const ByteView manifest_bytes = as_bytes(found.manifest());
  if (Manifest::cid_of(manifest_bytes) != cid) {
    return fail(Errc::corrupt, "the tracker's manifest of ", found.file_id(), " is another file's");
  }
  OB_TRY(Manifest manifest, Manifest::decode(manifest_bytes));
  auto key = unwrap_file_key(home_.master_secret(), manifest.key);
  if (!key) return fail(Errc::corrupt, "file ", found.file_id(), " was not put by this node's owner");
  return ShareToken{std::move(cid), *key, expires_at};
}

Result<FileReader> Producer::open_from_consumers(const pb::FileInfo& info) {
  if (network_ == nullptr) return fail(Errc::invalid_argument, "this node has no block exchange to fetch with");
  OB_TRY(tracker::TrackerClient * client, tracker_client());
  OB_TRY(Cid cid, Cid::parse(info.file_id()));
  OB_TRY(std::vector<exchange::PeerClient> peers,
         tracker::holder_clients(*client, info.file_id(), network_->tls(), options_.tracker_timeout));
  return network_->open_reader(cid, peers);
}

Result<void> Producer::run_download(const pb::FileInfo& info, const fs::path& destination) {
  OB_TRY(Cid cid, Cid::parse(info.file_id()));
  {
    // Pinned before looking: the status poll does not drop a pinned file's encoded copy.
    std::lock_guard lock(mutex_);
    pinned_.insert(info.file_id());
  }
  struct Unpin {
    Producer* self;
    std::string id;
    ~Unpin() {
      std::lock_guard lock(self->mutex_);
      self->pinned_.erase(self->pinned_.find(id));
    }
  } unpin{this, info.file_id()};
  OB_TRY(bool was_local, engine_.has(cid));
  // Not here: read from the consumers, decoded in memory, nothing stored (Network::open_reader).
  OB_TRY(FileReader reader, was_local ? engine_.begin_retrieve(cid) : open_from_consumers(info));

  const fs::path target = destination / download_name(info.path(), info.file_id());
  // Recorded before the temporary file exists: a crash from here on is cleaned up at the next
  // start (remove_download_leftovers).
  {
    std::lock_guard lock(mutex_);
    state_.download_dirs.push_back(destination.string());
    if (auto saved = save_locked(); !saved) {
      state_.download_dirs.pop_back();
      return std::unexpected(saved.error());
    }
  }
  struct Forget {
    Producer* self;
    std::string dir;
    ~Forget() {
      std::lock_guard lock(self->mutex_);
      auto& dirs = self->state_.download_dirs;
      if (const auto it = std::ranges::find(dirs, dir); it != dirs.end()) dirs.erase(it);
      // A save that fails leaves the record: that only costs a sweep at the next start.
      (void)self->save_locked();
    }
  } forget{this, destination.string()};
  OB_TRY(fileio::AtomicFile out, fileio::AtomicFile::create(target, 0644));
  OB_TRY(Md5 md5, Md5::create());
  // Shown by downloads() while it runs; `bytes` is written under mutex_ as stripes land.
  auto progress = std::make_shared<DownloadProgress>(
      DownloadProgress{info.file_id(), info.path(), destination, info.size(), 0});
  {
    std::lock_guard lock(mutex_);
    transfers_.push_back(progress);
  }
  struct Untrack {
    Producer* self;
    std::shared_ptr<DownloadProgress> progress;
    ~Untrack() {
      std::lock_guard lock(self->mutex_);
      self->transfers_.remove(progress);
    }
  } untrack{this, progress};
  const ByteSink sink = [&](ByteView data) -> Result<void> {
    OB_TRY_VOID(md5.update(data));
    OB_TRY_VOID(out.write(data));
    std::lock_guard lock(mutex_);
    progress->bytes += data.size();
    return {};
  };
  while (!reader.done()) OB_TRY_VOID(reader.read_stripe(sink));
  OB_TRY(std::string hash, md5.finish_hex());
  if (!info.hash().empty() && hash != info.hash()) {
    return fail(Errc::corrupt, "MD5 mismatch: ", info.file_id(), " decoded to ", hash, " but was registered as ",
                info.hash(), "; nothing was written");
  }
  OB_TRY_VOID(out.commit());
  spdlog::info("producer: downloaded {} to {}", info.file_id(), target.string());
  if (!info.request_id().empty()) confirm_download(info);
  return {};
}

void Producer::confirm_download(const pb::FileInfo& info) {
  // Seed 000: after a download the tracker pays the consumers from the file's contract. The
  // download has succeeded whatever happens here: a failure is only logged.
  auto client = tracker_client();
  if (!client) {
    spdlog::warn("producer: cannot confirm the download of {}: {}", info.file_id(), client.error().message);
    return;
  }
  pb::ConfirmDownloadRequest request;
  request.set_file_id(info.file_id());
  pb::ConfirmDownloadReply reply;
  // The tracker waits for the transaction's receipt: a deadline of a few blocks.
  auto context = tracker::call_context(kConfirmDownloadTimeout);
  const grpc::Status status = (*client)->producer().ConfirmDownload(context.get(), request, &reply);
  if (!status.ok()) {
    spdlog::warn("producer: the tracker did not pay the consumers of {} (storage request {}): {}", info.file_id(),
                 info.request_id(), tracker::call_error("confirming the download", status).message);
    return;
  }
  spdlog::info("producer: download of {} confirmed: storage request {} paid its consumers (transaction {})",
               info.file_id(), reply.request_id(), reply.transaction());
}

// --- remove and edit --------------------------------------------------------------------------

Result<void> Producer::end_request(const FileRef& file, const std::string& file_id, const std::string& request_id,
                                   const RemoveOptions& options) {
  const auto not_removed = [&](const Error& why) {
    return fail(why.code, "File `", file.label(), "` is not removed: its storage request ", request_id, " ",
                why.message);
  };
  const auto id = wallet::U256::from_decimal(request_id);
  if (!id || id->is_zero()) return not_removed(Error{Errc::corrupt, "is not a request ID"});
  std::lock_guard market_lock(market_mutex_);
  auto opened = market_locked();
  if (!opened) return not_removed(Error{opened.error().code, "cannot be read: " + opened.error().message});
  market::MarketClient& market = (*opened)->first;
  auto request = market.get_request(*id);
  auto now = request ? market.request_state(*id) : Result<market::RequestState>(std::unexpected(request.error()));
  if (!now) {
    market_.reset();
    return not_removed(Error{now.error().code, "cannot be read: " + now.error().message});
  }
  const RemovalStep step = removal_step(request->state, *now);
  if (step == RemovalStep::none) return {};
  const std::string client = request->client.to_checksum();
  if (options.passphrase.empty()) {
    if (step == RemovalStep::close) {  // over by time: nothing is billed any more
      spdlog::info("producer: storage request {} of {} is {}; without a passphrase it is left for anyone to close",
                   request_id, file.label(), market::to_string(*now));
      return {};
    }
    return not_removed(Error{Errc::invalid_argument,
                             "still runs and bills: cancelling it needs the passphrase of its account " + client +
                                 " (--password-file or $OPEN_BUCKET_PASSWORD)"});
  }
  const wallet::WalletStore wallet(home_.dir());
  auto account = options.account.empty() ? wallet.find(client) : wallet.find(options.account);
  if (!account) return not_removed(account.error());
  if (step == RemovalStep::cancel && account->address != request->client) {
    return not_removed(Error{Errc::invalid_argument,
                             "was opened by " + client + ", not by " + account->address.to_checksum()});
  }
  auto key = wallet.unlock(*account, options.passphrase);
  if (!key) return not_removed(key.error());
  auto sent = step == RemovalStep::cancel ? market.cancel(*key, *id) : market.close(*key, *id);
  if (!sent) {
    if (sent.error().code != Errc::invalid_argument) market_.reset();  // a refusal is not the client's fault
    return not_removed(Error{sent.error().code, "could not be ended: " + sent.error().message});
  }
  spdlog::info("producer: storage request {} of {} {} on chain (gas {})", request_id, file.label(),
               step == RemovalStep::cancel ? "cancelled" : "closed", sent->gas_used);
  std::lock_guard lock(mutex_);
  for (LocalFile& f : state_.files) {
    if (!file_id.empty() && f.file_id == file_id && f.request) (void)f.request->advance(RequestPhase::cancelled);
  }
  return save_locked();
}

Result<void> Producer::remove(const FileRef& file, const RemoveOptions& options) {
  auto info = find_remote(file);
  if (!info && info.error().code != Errc::not_found) return std::unexpected(info.error());
  std::vector<fs::path> local_files;
  std::string file_id;
  std::string request_id = info ? info->request_id() : "";
  {
    std::lock_guard lock(mutex_);
    const fs::path dir = directory_locked();
    if (info) {
      file_id = info->file_id();
    } else {
      // Not on the tracker: a local file not registered yet (PENDING) can still be removed.
      for (const LocalFile& f : state_.files) {
        if ((!file.file_id.empty() && f.file_id == file.file_id) ||
            (file.file_id.empty() && f.present && trimmed(f.path) == trimmed(file.path))) {
          file_id = f.file_id;
          if (file_id.empty()) local_files.push_back(dir / f.path);
          break;
        }
      }
      if (file_id.empty() && local_files.empty()) return std::unexpected(info.error());
    }
    if (!file_id.empty()) {
      for (const LocalFile& f : state_.files) {
        if (f.file_id == file_id && f.present) local_files.push_back(dir / f.path);
        // A paid file the tracker never registered may have paid already.
        if (f.file_id == file_id && request_id.empty() && f.request) request_id = f.request->request_id;
      }
    }
  }
  // Never out of the network while its contract still runs and bills: the chain goes first.
  if (!request_id.empty()) OB_TRY_VOID(end_request(file, file_id, request_id, options));
  if (info) {
    OB_TRY(tracker::TrackerClient * client, tracker_client());
    pb::RemoveFileRequest request;
    request.set_file_id(file_id);
    pb::RemoveFileReply reply;
    auto context = tracker::call_context(options_.tracker_timeout);
    const grpc::Status status = client->producer().RemoveFile(context.get(), request, &reply);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) return fail(Errc::not_found, "File `", file.label(), "` not exists");
    if (!status.ok()) return std::unexpected(tracker::call_error("removing " + file.label() + " on the tracker", status));
  }
  // The tracker accepted: now the local file (seed 000 step 2) and any encoded copy.
  {
    std::lock_guard lock(mutex_);
    std::erase_if(state_.files, [&](const LocalFile& f) {
      return (!file_id.empty() && f.file_id == file_id) ||
             (file_id.empty() && f.present && trimmed(f.path) == trimmed(file.path));
    });
    if (!file_id.empty()) index_erase_locked(file_id);
    OB_TRY_VOID(save_locked());
  }
  for (const fs::path& path : local_files) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec) return fail(Errc::io, "File `", file.label(), "` is being removed, but ", path.string(), ": ", ec.message());
  }
  if (!file_id.empty()) drop_encoded_copy(file_id);
  if (!info) return {};

  // Seed 000 step 6: done when the tracker has heard from every consumer (it then forgets it).
  const auto deadline = Clock::now() + options_.remove_timeout;
  for (;;) {
    auto files = tracker_list(file_id);
    if (!files && files.error().code == Errc::not_found) return {};
    if (files && std::ranges::none_of(*files, [&](const pb::FileInfo& f) { return f.file_id() == file_id; })) return {};
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // Name the consumers still holding a slot, if the tracker says.
  std::string waiting;
  OB_TRY(tracker::TrackerClient * client, tracker_client());
  pb::CheckHoldersRequest request;
  request.set_file_id(file_id);
  pb::CheckHoldersReply reply;
  auto context = tracker::call_context(options_.tracker_timeout);
  if (client->market().CheckHolders(context.get(), request, &reply).ok()) {
    std::set<std::string> peers;
    for (const pb::SlotHolder& h : reply.holders()) peers.insert(h.consumer().peer_id());
    for (const std::string& peer : peers) waiting += (waiting.empty() ? "" : ", ") + peer;
  }
  return fail(Errc::io, "File `", file.label(), "` is being removed, but consumers have not confirmed within ",
              options_.remove_timeout.count() / 1000, " s", waiting.empty() ? "" : ": ", waiting,
              " (the tracker keeps asking them)");
}

Result<market::Withdrawal> Producer::withdraw(const std::string& account, const std::string& passphrase) {
  const wallet::WalletStore wallet(home_.dir());
  OB_TRY(const wallet::Account found, wallet.find_or_default(account));
  OB_TRY(const wallet::PrivateKey key, wallet.unlock(found, passphrase));
  std::lock_guard market_lock(market_mutex_);
  OB_TRY(auto* opened, market_locked());
  auto paid = market::withdraw_balance(opened->first, key);
  if (!paid && paid.error().code != Errc::invalid_argument) market_.reset();
  if (paid) spdlog::info("producer: {} (gas {})", paid->summary(), paid->receipt.gas_used);
  return paid;
}

Result<void> Producer::edit(const std::string& file_id, const std::optional<std::string>& path,
                            std::optional<std::uint32_t> availability) {
  if (path && !valid_remote_path(*path)) return fail(Errc::invalid_argument, "Invalid path");
  if (availability && *availability == 0) return fail(Errc::invalid_argument, "Invalid availability: at least 1");
  if (!path && !availability) return fail(Errc::invalid_argument, "Nothing to change: give a path or an availability");
  OB_TRY(pb::FileInfo info, find_remote(FileRef{file_id, ""}));
  if (availability && *availability > info.m() + 1) {
    return fail(Errc::invalid_argument, "Invalid availability: file `", file_id, "` is coded with ", info.m(),
                " parity slots, so its availability is at most ", info.m() + 1);
  }
  OB_TRY(tracker::TrackerClient * client, tracker_client());
  pb::EditFileRequest request;
  request.set_file_id(file_id);
  if (path) request.set_path(*path);
  if (availability) request.set_availability(*availability);
  pb::EditFileReply reply;
  auto context = tracker::call_context(options_.tracker_timeout);
  const grpc::Status status = client->producer().EditFile(context.get(), request, &reply);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return fail(Errc::not_found, "File `", file_id, "` not exists");
  if (!status.ok()) return std::unexpected(tracker::call_error("editing " + file_id + " on the tracker", status));
  std::lock_guard lock(mutex_);
  if (availability) {
    for (LocalFile& f : state_.files) {
      if (f.file_id == file_id) f.availability = *availability;
    }
  }
  if (reply.has_file()) index_put_locked(entry_of(reply.file()));
  (void)save_locked();
  return {};
}

// --- configuration ----------------------------------------------------------------------------

Result<void> Producer::configure(const ConfigChange& change) {
  std::lock_guard life(lifecycle_mutex_);
  // Validate everything before changing anything.
  std::optional<fs::path> new_dir;
  std::optional<fs::path> created;  // the directory this call created, removed again on failure
  const auto undo_create = [&] {
    std::error_code ignored;
    if (created) fs::remove(*created, ignored);  // only if (still) empty
  };
  if (change.directory) {
    const auto expanded = expand_home(*change.directory);
    if (!expanded || !expanded->is_absolute() || change.directory->size() > kMaxPathBytes) {
      return fail(Errc::invalid_argument, "Invalid directory");
    }
    std::error_code ec;
    if (!fs::exists(*expanded, ec)) {
      auto made = fileio::create_private_directories(*expanded);
      if (!made) return fail(Errc::invalid_argument, "Invalid directory");
      if (*made) created = *expanded;
    }
    if (usable_directory(*expanded)) new_dir = fs::canonical(*expanded, ec);
    if (!new_dir || ec) {
      undo_create();
      return fail(Errc::invalid_argument, "Invalid directory");
    }
  }
  if (change.default_availability &&
      (*change.default_availability == 0 || *change.default_availability > protocol::kMaxSlots)) {
    undo_create();
    return fail(Errc::invalid_argument, "Invalid defaultAvailability");
  }
  NodeConfig old_config;
  fs::path old_dir;
  bool was_running = false;
  {
    std::lock_guard lock(mutex_);
    old_config = config_;
    old_dir = directory_locked();
    was_running = running_;
  }
  std::error_code ec;
  const fs::path old_canonical = fs::weakly_canonical(old_dir, ec);
  const bool moving = new_dir && *new_dir != old_canonical;
  if (moving) {
    const std::string a = old_canonical.generic_string(), b = new_dir->generic_string();
    if (under(a, b) || under(b, a)) {
      undo_create();
      return fail(Errc::invalid_argument, "Invalid directory: ", b, " and the current ", a, " are inside one another");
    }
  }

  // Apply: files, then config.toml, then the startup unit; each failure undoes the earlier steps.
  // The worker is stopped before upload_mutex_ is taken: it may be waiting for that mutex.
  const bool pause = moving && was_running;
  if (pause) stop_threads();
  std::lock_guard uploads(upload_mutex_);  // an upload from a request finishes first
  const auto restart = [&] {
    if (!pause) return;
    if (auto ok = start_threads(); !ok) spdlog::error("producer: cannot restart: {}", ok.error().message);
  };
  if (moving) {
    if (auto moved = move_entries(old_dir, *new_dir); !moved) {
      undo_create();
      restart();
      return fail(Errc::io, "cannot move the Producer directory (nothing changed): ", moved.error().message);
    }
  }
  const auto move_back = [&] {
    if (!moving) return;
    if (auto back = move_entries(*new_dir, old_dir); !back) {
      spdlog::error("producer: cannot move files back to {}: {}", old_dir.string(), back.error().message);
    }
    undo_create();
  };
  const NodeConfig on_disk = fresh_config(home_.dir(), old_config);
  NodeConfig updated = on_disk;
  if (new_dir) updated.producer_directory = new_dir->string();
  if (change.default_availability) updated.default_availability = *change.default_availability;
  if (change.start_on_startup) updated.producer_start_on_startup = *change.start_on_startup;
  if (auto saved = save_config(home_.dir(), updated); !saved) {
    move_back();
    restart();
    return fail(Errc::io, "cannot save config.toml (nothing changed): ", saved.error().message);
  }
  if (change.start_on_startup && *change.start_on_startup != on_disk.producer_start_on_startup) {
    const bool wanted = updated.producer_start_on_startup || updated.consumer_start_on_startup;
    if (auto unit = update_startup_unit(home_.dir(), wanted); !unit) {
      if (auto restored = save_config(home_.dir(), on_disk); !restored) {
        spdlog::error("producer: cannot restore config.toml: {}", restored.error().message);
      }
      move_back();
      restart();
      return fail(Errc::io, "cannot change the startup unit (nothing changed): ", unit.error().message);
    }
  }
  {
    std::lock_guard lock(mutex_);
    config_.producer_directory = updated.producer_directory;
    config_.default_availability = updated.default_availability;
    config_.producer_start_on_startup = updated.producer_start_on_startup;
  }
  restart();
  return {};
}

}  // namespace ob::producer
