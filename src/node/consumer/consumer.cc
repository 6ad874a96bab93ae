#include "node/consumer/consumer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <set>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "coding/manifest.h"
#include "core/metrics.h"
#include "core/protocol.h"
#include "core/units.h"
#include "node/engine.h"
#include "node/network.h"
#include "node/startup.h"
#include "store/file_io.h"
#include "wallet/wallet_store.h"

namespace ob::consumer {
namespace {

namespace fs = std::filesystem;
namespace tv1 = openbucket::tracker::v1;

/// Reports kept while the tracker is unreachable; older ones are dropped beyond this (the
/// tracker's audits find what they said).
constexpr std::size_t kMaxPendingReports = 10000;
/// proto/tracker.proto limits.
constexpr std::size_t kMaxReportsPerCall = 1024;
constexpr std::size_t kMaxDetailBytes = 1024;
constexpr std::size_t kMaxOrdersPerReply = 256;
constexpr std::size_t kMaxHeldPerPage = 1024;
constexpr std::size_t kMaxOrdersPerReconcile = kMaxHeldPerPage;
constexpr std::size_t kMaxAddresses = 16;
constexpr std::size_t kMaxAddressBytes = 256;
/// Orders waiting for a worker; more are ignored until the queue drains (the tracker sends
/// them again).
constexpr std::size_t kMaxQueuedOrders = 1024;

fs::path state_file(const fs::path& home_dir) { return home_dir / "state" / "consumer.json"; }
fs::path market_slots_file(const fs::path& home_dir) { return home_dir / "state" / "market_slots.json"; }
/// How often the filled slots' challenges are looked at (periods are many blocks long).
constexpr std::chrono::seconds kProveInterval{1};

/// `text` cut to `max` bytes at a UTF-8 character boundary.
std::string truncate_utf8(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

const char* state_name(int state) {
  switch (state) {
    case tv1::SlotReport::STORED: return "STORED";
    case tv1::SlotReport::DELETED: return "DELETED";
    case tv1::SlotReport::FAILED: return "FAILED";
    case tv1::SlotReport::GIVEN_UP: return "GIVEN_UP";
    default: return "UNKNOWN";
  }
}

std::optional<int> state_from_name(const std::string& name) {
  for (int state : {tv1::SlotReport::STORED, tv1::SlotReport::DELETED, tv1::SlotReport::FAILED,
                    tv1::SlotReport::GIVEN_UP}) {
    if (name == state_name(state)) return state;
  }
  return std::nullopt;
}

/// Counts every outcome reported to the tracker, by state (GET /metrics).
void count_report(int state) {
  static metrics::Counter& stored = metrics::counter("ob_consumer_slots_stored_total", "Slots stored on tracker orders.");
  static metrics::Counter& deleted = metrics::counter("ob_consumer_slots_deleted_total", "Slots deleted on tracker orders.");
  static metrics::Counter& failed = metrics::counter("ob_consumer_slot_orders_failed_total", "Tracker orders that failed.");
  static metrics::Counter& given_up =
      metrics::counter("ob_consumer_slots_given_up_total", "Slots given up (changed on disk, over the limit, gone).");
  switch (state) {
    case tv1::SlotReport::STORED: stored.add(); break;
    case tv1::SlotReport::DELETED: deleted.add(); break;
    case tv1::SlotReport::FAILED: failed.add(); break;
    case tv1::SlotReport::GIVEN_UP: given_up.add(); break;
    default: break;
  }
}

PendingReport make_report(const SlotRef& ref, int state, std::string detail) {
  count_report(state);
  return PendingReport{ref.file.to_string(), ref.slot, state, truncate_utf8(std::move(detail), kMaxDetailBytes), 0, 0,
                       tv1::SlotReport::REASON_UNSPECIFIED};
}

/// Bytes an unprivileged writer may still use on the file system holding `dir`; nullopt when
/// it cannot be read.
std::optional<std::uint64_t> file_system_free(const fs::path& dir) {
  struct statvfs st{};
  if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

std::int64_t mtime_ns(const fs::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

/// Whether `inner` is `outer` or inside it (both absolute and normal).
bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

fs::path normal_dir(fs::path path) {
  path = path.lexically_normal();
  if (!path.has_filename() && path != path.root_path()) path = path.parent_path();
  return path;
}

/// A directory the consumer may use: see Consumer::configure.
struct UsableDir {
  fs::path path;
  std::optional<fs::path> created_top;  // the topmost directory created for it: removed on rollback
};

Result<UsableDir> usable_directory(const std::string& text, const Home& home, const fs::path& producer_dir) {
  const auto invalid = [](auto&&... why) { return fail(Errc::invalid_argument, "Invalid directory: ", why...); };
  if (text.empty()) return invalid("empty");
  if (text.size() > 4096 || text.find('\0') != std::string::npos) return invalid("not a path");
  fs::path path;
  if (text == "~" || text.starts_with("~/")) {
    const char* home_env = std::getenv("HOME");
    if (home_env == nullptr || home_env[0] != '/') return invalid("$HOME is not set, so ~ means nothing");
    path = fs::path(home_env) / text.substr(text == "~" ? 1 : 2);
  } else {
    path = text;
  }
  if (!path.is_absolute()) return invalid(text, " is not an absolute path");
  path = normal_dir(path);
  const fs::path home_dir = normal_dir(fs::absolute(home.dir()));
  for (const fs::path& store : {home_dir / "blocks", home_dir / "slots", home_dir / "keys", home_dir / "state"}) {
    if (within(path, store) || within(store, path)) return invalid(path.string(), " overlaps the node's ", store.string());
  }
  if (within(path, producer_dir) || within(producer_dir, path)) {
    return invalid(path.string(), " overlaps the Producer directory ", producer_dir.string());
  }
  UsableDir dir{path, std::nullopt};
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    // Remember the topmost directory made here, so that a rollback removes all it made.
    fs::path top = path;
    while (top.parent_path() != top && !fs::exists(top.parent_path(), ec)) top = top.parent_path();
    fs::create_directories(path, ec);
    if (ec) return invalid("cannot create ", path.string(), ": ", ec.message());
    dir.created_top = top;
  }
  if (!fs::is_directory(path, ec)) return invalid(path.string(), " is not a directory");
  if (::access(path.c_str(), R_OK | W_OK | X_OK) != 0) return invalid("no read and write permission on ", path.string());
  // access() says yes to root on a read-only file system: try for real.
  const fs::path probe = path / (".ob-probe-" + fileio::random_suffix());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return invalid("cannot write in ", path.string());
  ::close(fd);
  ::unlink(probe.c_str());
  return dir;
}

/// Removes `dir` and its parents up to and including `top` while they are empty.
void remove_created(fs::path dir, const fs::path& top) {
  std::error_code ec;
  while (within(dir, top) && dir != dir.root_path() && fs::is_empty(dir, ec) && !ec) {
    if (!fs::remove(dir, ec) || ec) return;
    if (dir == top) return;
    dir = dir.parent_path();
  }
}

/// Copies the directory `from` to `to` (which must not exist), fsyncing every file and `to`.
Result<void> copy_dir_durably(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directory(to, ec);
  if (ec) return fail(Errc::io, "cannot create ", to.string(), ": ", ec.message());
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    const fs::path target = to / entry.path().filename();
    if (entry.is_directory(ec)) {
      OB_TRY_VOID(copy_dir_durably(entry.path(), target));
      continue;
    }
    fs::copy_file(entry.path(), target, fs::copy_options::none, ec);
    if (ec) return fail(Errc::io, "cannot copy ", entry.path().string(), " to ", target.string(), ": ", ec.message());
    // Keep the times: CWatcher compares a slot's blocks and index modification times.
    struct stat st{};
    if (::stat(entry.path().c_str(), &st) == 0) {
      const timespec times[2] = {st.st_atim, st.st_mtim};
      ::utimensat(AT_FDCWD, target.c_str(), times, 0);
    }
    OB_TRY(fileio::Fd fd, fileio::open_fd(target, O_RDONLY));
    OB_TRY_VOID(fileio::sync_fd(fd.get(), target));
  }
  if (ec) return fail(Errc::io, "cannot read ", from.string(), ": ", ec.message());
  return fileio::sync_dir(to);
}

/// Moves directory `from` to `to`, refusing to replace anything there: one rename on the same
/// file system; else a durable copy under a temporary name, renamed into place, then the
/// original removed. Errors (already_exists, io).
Result<void> move_dir(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    OB_TRY_VOID(fileio::sync_dir(to.parent_path()));
    return fileio::sync_dir(from.parent_path());
  }
  if (errno == EEXIST) return fail(Errc::already_exists, to.string(), " already exists");
  if (errno != EXDEV) return std::unexpected(fileio::errno_error("cannot move to", to, errno));
  const fs::path tmp = to.parent_path() / (".moving-" + fileio::random_suffix());
  auto copied = copy_dir_durably(from, tmp);
  if (copied && ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    copied = errno == EEXIST ? fail(Errc::already_exists, to.string(), " already exists")
                             : std::unexpected(fileio::errno_error("cannot move to", to, errno));
  }
  std::error_code ec;
  if (!copied) {
    fs::remove_all(tmp, ec);
    return copied;
  }
  OB_TRY_VOID(fileio::sync_dir(to.parent_path()));
  fs::remove_all(from, ec);
  if (ec) spdlog::warn("consumer: moved {} but cannot remove the original: {}", from.string(), ec.message());
  return fileio::sync_dir(from.parent_path());
}

Result<NodeConfig> read_config(const fs::path& home_dir) {
  OB_TRY(Bytes text, fileio::read_file(home_dir / "config.toml", 1024 * 1024));
  return NodeConfig::from_toml(as_chars(text));
}

}  // namespace

// --- creation and state -----------------------------------------------------------------------

Consumer::Consumer(const Home& home, Engine& engine, Network& network, std::optional<tracker::TrackerClient> tracker,
                   NodeConfig config, ConsumerOptions options)
    : home_(home),
      engine_(engine),
      network_(network),
      tracker_(std::move(tracker)),
      options_(std::move(options)),
      config_(std::move(config)),
      interval_(options_.heartbeat_interval) {
  if (!options_.update_startup) options_.update_startup = update_startup_unit;
  if (options_.workers == 0) options_.workers = 1;
}

Result<std::unique_ptr<Consumer>> Consumer::create(const Home& home, Engine& engine, Network& network,
                                                   std::optional<tracker::TrackerClient> tracker, NodeConfig config,
                                                   ConsumerOptions options) {
  std::unique_ptr<Consumer> consumer(
      new Consumer(home, engine, network, std::move(tracker), std::move(config), std::move(options)));
  OB_TRY(consumer->host_, MarketHost::open(market_slots_file(home.dir()), consumer->config_.chain_rpc,
                                           consumer->market_hooks()));
  // Unsent reports of an earlier run.
  auto state = fileio::read_file(state_file(home.dir()), 64 * 1024 * 1024);
  if (state) {
    const nlohmann::json json = nlohmann::json::parse(as_chars(*state), nullptr, false);
    if (!json.is_object()) return fail(Errc::corrupt, state_file(home.dir()).string(), " is not JSON");
    if (const auto reports = json.find("reports"); reports != json.end() && reports->is_array()) {
      // Our own file, but read defensively: an entry of the wrong shape is skipped.
      const auto text = [](const nlohmann::json& r, const char* key) {
        const auto it = r.find(key);
        return it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      const auto number = [](const nlohmann::json& r, const char* key, std::uint64_t max) {
        const auto it = r.find(key);
        return it != r.end() && it->is_number_unsigned() ? std::min(it->get<std::uint64_t>(), max) : 0;
      };
      for (const auto& r : *reports) {
        if (!r.is_object()) continue;
        const auto state_value = state_from_name(text(r, "state"));
        if (!state_value || text(r, "fileId").empty()) continue;
        consumer->pending_.push_back(PendingReport{
            text(r, "fileId"), static_cast<std::uint32_t>(number(r, "slot", UINT32_MAX)), *state_value,
            truncate_utf8(text(r, "detail"), kMaxDetailBytes), number(r, "bytes", UINT64_MAX),
            static_cast<std::uint32_t>(number(r, "millis", UINT32_MAX)),
            text(r, "reason") == "NO_SPACE" ? tv1::SlotReport::NO_SPACE : tv1::SlotReport::REASON_UNSPECIFIED});
      }
    }
  } else if (state.error().code != Errc::not_found) {
    return std::unexpected(state.error());
  }
  std::error_code ec;
  if (fs::is_directory(consumer->directory_locked(), ec)) {
    OB_TRY(SlotStore store, SlotStore::open(consumer->directory_locked()));
    auto shared = std::make_shared<SlotStore>(std::move(store));
    OB_TRY_VOID(consumer->load_held(shared));
    consumer->store_ = std::move(shared);
  }
  return consumer;
}

Consumer::~Consumer() { shutdown(); }

bool Consumer::was_started(const fs::path& home_dir) {
  auto state = fileio::read_file(state_file(home_dir), 64 * 1024 * 1024);
  if (!state) return false;
  const nlohmann::json json = nlohmann::json::parse(as_chars(*state), nullptr, false);
  if (!json.is_object()) return false;
  const auto started = json.find("started");
  return started != json.end() && started->is_boolean() && started->get<bool>();
}

Result<void> Consumer::forget_started(const fs::path& home_dir) {
  const fs::path file = state_file(home_dir);
  auto state = fileio::read_file(file, 64 * 1024 * 1024);
  if (!state) return state.error().code == Errc::not_found ? Result<void>() : std::unexpected(state.error());
  nlohmann::json json = nlohmann::json::parse(as_chars(*state), nullptr, false);
  if (!json.is_object()) return fail(Errc::corrupt, file.string(), " is not JSON");
  json["started"] = false;
  const std::string text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return fileio::write_file_atomic(file, as_bytes(text), 0600);
}

fs::path Consumer::directory_locked() const {
  return config_.consumer_directory.empty() ? home_.dir() / "consume" : fs::path(config_.consumer_directory);
}

fs::path Consumer::directory() const {
  std::lock_guard lock(mutex_);
  return directory_locked();
}

Result<void> Consumer::load_held(const std::shared_ptr<SlotStore>& store) {
  std::map<SlotRef, Held> held;
  for (const Cid& file : store->list()) {
    for (std::uint32_t slot : store->slots_of(file)) {
      const fs::path index = store->dir() / file.to_string() / (std::to_string(slot) + ".index");
      held.insert_or_assign(SlotRef{file, slot}, Held{store->slot_bytes(file, slot), mtime_ns(index)});
    }
  }
  std::lock_guard lock(mutex_);
  held_ = std::move(held);
  return {};
}

Result<void> Consumer::persist_locked() {
  nlohmann::json reports = nlohmann::json::array();
  for (const PendingReport& r : pending_) {
    nlohmann::json report{{"fileId", r.file_id}, {"slot", r.slot},   {"state", state_name(r.state)},
                          {"detail", r.detail},  {"bytes", r.bytes}, {"millis", r.millis}};
    if (r.reason == tv1::SlotReport::NO_SPACE) report["reason"] = "NO_SPACE";
    reports.push_back(std::move(report));
  }
  const std::string text =
      nlohmann::json{{"started", started_}, {"reports", std::move(reports)}}.dump(-1, ' ', false,
                                                                                nlohmann::json::error_handler_t::replace) +
      "\n";
  std::error_code ec;
  fs::create_directories(state_file(home_.dir()).parent_path(), ec);
  if (ec) return fail(Errc::io, "cannot create ", state_file(home_.dir()).parent_path().string(), ": ", ec.message());
  return fileio::write_file_atomic(state_file(home_.dir()), as_bytes(text), 0600);
}

// --- start and stop ---------------------------------------------------------------------------

Result<bool> Consumer::start() {
  std::lock_guard control(control_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (started_) return true;
  }
  if (!tracker_) return fail(Errc::invalid_argument, "no tracker configured: set [tracker] address in config.toml");
  // Opened afresh: the directory may have been created, emptied or changed while stopped.
  OB_TRY(SlotStore opened, SlotStore::open(directory()));
  auto store = std::make_shared<SlotStore>(std::move(opened));
  std::map<SlotRef, Held> before;
  {
    std::lock_guard lock(mutex_);
    before = held_;
  }
  OB_TRY_VOID(load_held(store));
  {
    std::lock_guard lock(mutex_);
    store_ = store;
    // Slots that vanished while the consumer was stopped are given up like any other: those it
    // held before a `consumer stop`, and the paid slots it filled (market_slots.json), which
    // also tells after a restart of the daemon (held_ starts empty), so they are freed on chain.
    std::set<SlotRef> vanished;
    for (const auto& [ref, held] : before) vanished.insert(ref);
    for (const FilledSlot& filled : host_->slots()) {
      auto file = Cid::parse(filled.file_id);
      if (file && !filled.release) vanished.insert(SlotRef{*file, filled.slot});
    }
    for (const SlotRef& ref : vanished) {
      if (held_.contains(ref)) continue;
      pending_.push_back(make_report(ref, tv1::SlotReport::GIVEN_UP, "gone from the Consumer directory while stopped"));
      host_->release(ref.file.to_string(), ref.slot);
      spdlog::warn("consumer: slot {} of {} is gone from {}; giving it up", ref.slot, ref.file.to_string(),
                   store->dir().string());
    }
  }
  OB_TRY_VOID(start_watcher());
  Result<void> saved;
  {
    std::lock_guard lock(mutex_);
    started_ = true;
    saved = persist_locked();
    if (!saved) started_ = false;
  }
  if (!saved) {
    watcher_->stop();  // not under mutex_: its thread may be waiting for it in a hook
    watcher_.reset();
    return std::unexpected(saved.error());
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
    paused_ = false;
    registered_ = false;
    tracker_down_ = false;
    interval_ = options_.heartbeat_interval;
  }
  network_.set_consumer_slots(store);
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
  for (unsigned i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  host_->start(kProveInterval);
  spdlog::info("consumer started: {} (limit {}), tracker {}", store->dir().string(),
               format_size(status().limit_bytes), tracker_->address().to_string());
  return false;
}

Result<void> Consumer::start_watcher() {
  std::shared_ptr<SlotStore> store;
  {
    std::lock_guard lock(mutex_);
    store = store_;
  }
  CWatcherHooks hooks{
      [this] { return held_refs(); },
      [this](const SlotRef& ref) { return should_check(ref); },
      [this](const SlotRef& ref, const std::string& reason) { give_up(ref, "modified on disk: " + reason); },
  };
  OB_TRY(watcher_, CWatcher::start(store, engine_.blocks(), std::move(hooks), options_.watcher));
  return {};
}

void Consumer::halt() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  heartbeat_cv_.notify_all();
  files_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  host_->stop();
  if (watcher_) {
    watcher_->stop();
    watcher_.reset();
  }
  network_.set_consumer_slots(nullptr);
  {
    std::lock_guard lock(mutex_);
    // STOREs not carried out: say so, so that the tracker places them elsewhere (a DELETE
    // comes again with a later heartbeat).
    for (const Order& order : queue_) {
      if (order.store) pending_.push_back(make_report(order.ref, tv1::SlotReport::FAILED, "the consumer stopped"));
    }
    queue_.clear();
    queued_.clear();
    started_ = false;
    registered_ = false;
    if (tracker_down_) return;  // what is left is sent after the next start
  }
  flush_reports();  // one try; what is left is sent after the next start
}

bool Consumer::stop() {
  std::lock_guard control(control_mutex_);
  bool was = false;
  {
    std::lock_guard lock(mutex_);
    was = started_;
  }
  if (was) halt();
  std::lock_guard lock(mutex_);
  if (auto saved = persist_locked(); !saved) spdlog::error("consumer: {}", saved.error().message);
  if (was) spdlog::info("consumer stopped");
  return was;
}

void Consumer::shutdown() {
  std::lock_guard control(control_mutex_);
  bool was = false;
  {
    std::lock_guard lock(mutex_);
    was = started_;
  }
  if (!was) return;
  halt();
  std::lock_guard lock(mutex_);
  started_ = true;  // what the state file says: a restarted daemon starts it again
  if (auto saved = persist_locked(); !saved) spdlog::error("consumer: {}", saved.error().message);
  started_ = false;
}

// --- the tracker ------------------------------------------------------------------------------

std::uint64_t Consumer::used_locked() const {
  std::uint64_t used = reserved_;
  for (const auto& [ref, held] : held_) used += held.bytes;
  return used;
}

void Consumer::heartbeat_loop() {
  auto next_beat = Clock::now();
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (Clock::now() >= next_beat) {
      bool registered = false;
      {
        std::lock_guard lock(mutex_);
        registered = registered_;
      }
      if (!registered) register_once();
      heartbeat_once();
      reconcile_once();
      std::lock_guard lock(mutex_);
      next_beat = Clock::now() + interval_;
    }
    flush_reports();
    std::unique_lock lock(mutex_);
    heartbeat_cv_.wait_until(lock, next_beat, [this] { return stopping_ || reports_waiting_; });
    reports_waiting_ = false;
  }
}

Consumer::Space Consumer::space() const {
  Space space;
  fs::path dir;
  {
    std::lock_guard lock(mutex_);
    space.capacity = config_.consumer_limit_bytes;
    space.used = used_locked();
    dir = store_ ? store_->dir() : directory_locked();
  }
  space.free = space.capacity > space.used ? space.capacity - space.used : 0;
  // A limit may promise more than the disk holds: the tracker must not count on the difference.
  if (const auto disk = file_system_free(dir)) space.free = std::min(space.free, *disk);
  return space;
}

void Consumer::register_once() {
  tv1::RegisterConsumerRequest request;
  request.add_addresses(network_.p2p_address());
  const Space now = space();
  request.set_capacity_bytes(now.capacity);
  request.set_used_bytes(now.used);
  request.set_free_bytes(now.free);
  {
    // The market's terms: with them the tracker may place paid-tier slots here.
    std::lock_guard lock(mutex_);
    request.set_account(config_.consumer_account);
    request.set_price(config_.consumer_price_wei);
  }
  tv1::RegisterConsumerReply reply;
  auto context = tracker::call_context(options_.tracker_deadline);
  const grpc::Status status = tracker_->consumer().RegisterConsumer(context.get(), request, &reply);
  std::lock_guard lock(mutex_);
  if (!status.ok()) {
    if (!tracker_down_) {
      spdlog::warn("consumer: {}; trying again every {} ms",
                   tracker::call_error("registering with the tracker", status).message, interval_.count());
      tracker_down_ = true;
    }
    return;
  }
  registered_ = true;
  reconcile_wanted_ = true;  // the tracker may have lost track of what we hold
  host_->set_market(reply.has_market() ? std::optional(MarketAddress{reply.market().chain_id(), reply.market().address()})
                                       : std::nullopt);
  if (tracker_down_) spdlog::info("consumer: the tracker is reachable again");
  tracker_down_ = false;
  if (reply.heartbeat_interval_ms() > 0) {
    interval_ = std::clamp(std::chrono::milliseconds(reply.heartbeat_interval_ms()), std::chrono::milliseconds(50),
                           std::chrono::milliseconds(std::chrono::minutes(10)));
  }
  spdlog::info("consumer: registered with the tracker {} (heartbeat every {} ms)", tracker_->address().to_string(),
               interval_.count());
}

void Consumer::heartbeat_once() {
  {
    std::lock_guard lock(mutex_);
    if (!registered_) return;
  }
  tv1::HeartbeatRequest request;
  const Space now = space();
  request.set_capacity_bytes(now.capacity);
  request.set_used_bytes(now.used);
  request.set_free_bytes(now.free);
  tv1::HeartbeatReply reply;
  auto context = tracker::call_context(options_.tracker_deadline);
  const grpc::Status status = tracker_->consumer().Heartbeat(context.get(), request, &reply);
  if (!status.ok()) {
    std::lock_guard lock(mutex_);
    if (!tracker_down_) {
      spdlog::warn("consumer: {}; trying again every {} ms", tracker::call_error("heartbeat", status).message,
                   interval_.count());
      tracker_down_ = true;
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (tracker_down_) spdlog::info("consumer: the tracker is reachable again");
    tracker_down_ = false;
    if (!reply.registered()) {
      registered_ = false;
      spdlog::info("consumer: the tracker does not know this consumer; registering again");
    }
    if (reply.reconcile()) reconcile_wanted_ = true;
  }
  if (!reply.registered()) {
    register_once();
    return;
  }
  accept_orders(reply.orders(), kMaxOrdersPerReply);
}

void Consumer::reconcile_once() {
  std::vector<SlotRef> held;
  {
    std::lock_guard lock(mutex_);
    if (!registered_ || !reconcile_wanted_) return;
    reconcile_wanted_ = false;
    for (const auto& [ref, h] : held_) held.push_back(ref);
  }
  std::size_t adopted = 0, deletes = 0;
  // At least one page, empty when nothing is held: the tracker asks again on every heartbeat
  // until a listing arrives.
  for (std::size_t from = 0; from == 0 || from < held.size(); from += kMaxHeldPerPage) {
    tv1::ReconcileSlotsRequest request;
    for (std::size_t i = from; i < std::min(held.size(), from + kMaxHeldPerPage); ++i) {
      tv1::HeldSlot* slot = request.add_slots();
      slot->set_file_id(held[i].file.to_string());
      slot->set_slot(held[i].slot);
    }
    tv1::ReconcileSlotsReply reply;
    auto context = tracker::call_context(options_.tracker_deadline);
    const grpc::Status status = tracker_->consumer().ReconcileSlots(context.get(), request, &reply);
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      spdlog::debug("consumer: the tracker does not take a list of the slots held");
      return;
    }
    if (!status.ok()) {
      std::lock_guard lock(mutex_);
      reconcile_wanted_ = true;  // the next heartbeat tries again
      spdlog::warn("consumer: {}", tracker::call_error("listing the slots held to the tracker", status).message);
      return;
    }
    adopted += reply.adopted();
    deletes += static_cast<std::size_t>(reply.orders_size());
    accept_orders(reply.orders(), kMaxOrdersPerReconcile);
  }
  if (adopted > 0 || deletes > 0) {
    spdlog::info("consumer: listed {} slot(s) to the tracker: {} taken as ours, {} to delete", held.size(), adopted,
                 deletes);
  }
}

void Consumer::accept_orders(const google::protobuf::RepeatedPtrField<tv1::SlotOrder>& orders, std::size_t max) {
  std::size_t seen = 0;
  for (const tv1::SlotOrder& o : orders) {
    if (++seen > max) break;
    const bool store = o.kind() == tv1::SlotOrder::STORE;
    if (!store && o.kind() != tv1::SlotOrder::DELETE) continue;
    auto file = Cid::parse(o.file_id());
    if (!file) {
      spdlog::warn("consumer: ignoring an order with a bad file ID: {}", file.error().message);
      continue;
    }
    const SlotRef ref{*file, o.slot()};
    if (o.slot() >= protocol::kMaxSlots) {
      queue_report(make_report(ref, tv1::SlotReport::FAILED, "slot " + std::to_string(o.slot()) + " is out of range"));
      continue;
    }
    Order order{store, ref, {}, o.request_id(), Bytes(o.permit().begin(), o.permit().end())};
    for (const tv1::PeerAddress& source : o.sources()) {
      auto peer = net::PeerId::parse(source.peer_id());
      if (!peer || *peer == network_.peer_id()) continue;
      Source s{*peer, {}};
      for (const std::string& address : source.addresses()) {
        if (s.addresses.size() < kMaxAddresses && !address.empty() && address.size() <= kMaxAddressBytes) {
          s.addresses.push_back(address);
        }
      }
      if (!s.addresses.empty() && order.sources.size() < 64) order.sources.push_back(std::move(s));
    }
    std::lock_guard lock(mutex_);
    if (queued_.contains({ref, store}) || queue_.size() >= kMaxQueuedOrders) continue;
    queued_.insert({ref, store});
    queue_.push_back(std::move(order));
  }
  work_cv_.notify_all();
}

void Consumer::queue_report(PendingReport report) {
  spdlog::info("consumer: slot {} of {}: {}{}{}", report.slot, report.file_id, state_name(report.state),
               report.detail.empty() ? "" : ": ", report.detail);
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(report));
  if (pending_.size() > kMaxPendingReports) {
    spdlog::warn("consumer: {} reports are waiting for the tracker; dropping the oldest", pending_.size());
    pending_.erase(pending_.begin());
  }
  if (auto saved = persist_locked(); !saved) spdlog::error("consumer: {}", saved.error().message);
  reports_waiting_ = true;
  heartbeat_cv_.notify_all();
}

void Consumer::flush_reports() {
  if (!tracker_) return;
  std::lock_guard flush(flush_mutex_);
  for (;;) {
    tv1::ReportSlotsRequest request;
    std::size_t count = 0;
    {
      std::lock_guard lock(mutex_);
      count = std::min(pending_.size(), kMaxReportsPerCall);
      for (std::size_t i = 0; i < count; ++i) {
        const PendingReport& r = pending_[i];
        tv1::SlotReport* report = request.add_reports();
        report->set_file_id(r.file_id);
        report->set_slot(r.slot);
        report->set_state(static_cast<tv1::SlotReport::State>(r.state));
        report->set_detail(r.detail);
        report->set_bytes(r.bytes);
        report->set_millis(r.millis);
        report->set_reason(static_cast<tv1::SlotReport::Reason>(r.reason));
      }
    }
    if (count == 0) return;
    tv1::ReportSlotsReply reply;
    auto context = tracker::call_context(options_.tracker_deadline);
    const grpc::Status status = tracker_->consumer().ReportSlots(context.get(), request, &reply);
    std::lock_guard lock(mutex_);
    if (!status.ok()) {
      if (!tracker_down_) {
        spdlog::warn("consumer: {}; they are sent again with the next heartbeat",
                     tracker::call_error("sending slot reports", status).message);
      }
      return;
    }
    // Only this function removes reports, and only from the front: these are the ones sent.
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(count));
    if (auto saved = persist_locked(); !saved) spdlog::error("consumer: {}", saved.error().message);
  }
}

std::vector<PendingReport> Consumer::pending_reports() const {
  std::lock_guard lock(mutex_);
  return pending_;
}

// --- orders -----------------------------------------------------------------------------------

void Consumer::worker_loop() {
  for (;;) {
    std::optional<Order> next;
    bool writes = true;
    {
      std::unique_lock lock(mutex_);
      auto runnable = queue_.end();
      work_cv_.wait(lock, [&] {
        if (stopping_) return true;
        if (paused_) return false;
        runnable = std::find_if(queue_.begin(), queue_.end(),
                                [&](const Order& o) { return !busy_files_.contains(o.ref.file); });
        return runnable != queue_.end();
      });
      if (stopping_) return;
      next.emplace(std::move(*runnable));
      queue_.erase(runnable);
      busy_files_.insert(next->ref.file);
      // A STORE of a slot held already ("already stored") writes nothing; CWatcher must keep
      // checking it (issue 15: the tracker re-sent STORE after a failed audit, and each one
      // hid the damaged slot for quiet_grace). busy_files_ keeps CWatcher away meanwhile.
      writes = !(next->store && held_.contains(next->ref));
    }
    const Order& order = *next;
    PendingReport report = execute(order);
    if (order.store && !order.request_id.empty() && report.state == tv1::SlotReport::STORED) {
      report = fill_paid(order, std::move(report));
    }
    unlock_file(order.ref, writes);
    {
      std::lock_guard lock(mutex_);
      queued_.erase({order.ref, order.store});
    }
    queue_report(std::move(report));
  }
}

void Consumer::lock_file(const Cid& file) {
  std::unique_lock lock(mutex_);
  files_cv_.wait(lock, [&] { return !busy_files_.contains(file); });
  busy_files_.insert(file);
}

void Consumer::unlock_file(const SlotRef& ref, bool changed) {
  {
    std::lock_guard lock(mutex_);
    busy_files_.erase(ref.file);
    // CWatcher leaves the slot alone a little longer: its events of our change may still come.
    if (changed) quiet_.insert_or_assign(ref, Clock::now() + options_.quiet_grace);
    const auto now = Clock::now();
    std::erase_if(quiet_, [&](const auto& entry) { return entry.second < now; });
  }
  files_cv_.notify_all();
  work_cv_.notify_all();
}

PendingReport Consumer::execute(const Order& order) {
  std::shared_lock store_lock(store_mutex_);
  return order.store ? execute_store(order) : execute_delete(order);
}

Result<Bytes> Consumer::manifest_for(const Cid& file, const std::vector<exchange::PeerClient>& peers) {
  if (auto local = engine_.blocks().get(file)) return std::move(*local);
  std::string errors;
  for (const exchange::PeerClient& peer : peers) {
    openbucket::p2p::v1::ManifestRequest request;
    const Bytes cid_bytes = file.to_bytes();
    request.set_file_cid(std::string(as_chars(cid_bytes)));
    openbucket::p2p::v1::ManifestReply reply;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.fetch.deadline);
    const grpc::Status status = peer.stub().GetManifest(&context, request, &reply);
    if (!status.ok()) {
      errors += "; " + peer.address() + ": " + status.error_message();
      continue;
    }
    const Bytes manifest(reply.manifest().begin(), reply.manifest().end());
    if (manifest.size() > protocol::kMaxManifestSize || Manifest::cid_of(manifest) != file || !Manifest::decode(manifest)) {
      errors += "; " + peer.address() + ": sent a manifest that is not the file's";
      continue;
    }
    OB_TRY_VOID(engine_.blocks().put(file, manifest));
    return manifest;
  }
  return fail(Errc::not_found, "no source gave the manifest", errors);
}

PendingReport Consumer::execute_store(const Order& order) {
  const SlotRef& ref = order.ref;
  const auto start = Clock::now();
  std::shared_ptr<SlotStore> store;
  {
    std::lock_guard lock(mutex_);
    if (held_.contains(ref)) return make_report(ref, tv1::SlotReport::STORED, "already stored");
    store = store_;
  }
  if (!store) return make_report(ref, tv1::SlotReport::FAILED, "the Consumer directory is not open");
  std::vector<exchange::PeerClient> peers;
  for (const Source& source : order.sources) {
    for (const std::string& address : source.addresses) {
      peers.push_back(exchange::PeerClient::connect(source.peer, address, network_.tls()));
    }
  }
  if (peers.empty()) return make_report(ref, tv1::SlotReport::FAILED, "the order names no usable source");

  auto had_manifest = engine_.blocks().has(ref.file);
  const bool manifest_was_here = had_manifest && *had_manifest;
  const auto failed = [&](const std::string& why) {
    if (!manifest_was_here) maybe_drop_manifest(ref.file);
    return make_report(ref, tv1::SlotReport::FAILED, why);
  };
  // Refused for want of space: said so, so that the tracker stops offering slots until we have more.
  const auto no_space = [&](const std::string& why) {
    PendingReport report = failed(why);
    report.reason = tv1::SlotReport::NO_SPACE;
    return report;
  };
  auto encoded = manifest_for(ref.file, peers);
  if (!encoded) return failed(encoded.error().message);
  auto manifest = Manifest::decode(*encoded);
  if (!manifest) return failed(manifest.error().message);
  if (ref.slot >= manifest->params.n()) {
    return failed("slot " + std::to_string(ref.slot) + " is out of range: the file has " +
                  std::to_string(manifest->params.n()));
  }
  const std::uint64_t need = manifest->stripe_count() * manifest->params.block_size;
  std::optional<std::string> over_limit;
  {
    std::lock_guard lock(mutex_);
    const std::uint64_t used = used_locked();
    if (used + need > config_.consumer_limit_bytes) {
      over_limit = "over limit: the slot needs " + format_size(need) + "; " + format_size(used) + " of " +
                   format_size(config_.consumer_limit_bytes) + " used";
    } else {
      reserved_ += need;
    }
  }
  if (over_limit) return no_space(*over_limit);
  const auto disk_full = [&]() -> std::optional<std::string> {
    const auto disk = file_system_free(store->dir());
    if (!disk || *disk >= need) return std::nullopt;
    return "disk full: the slot needs " + format_size(need) + "; " + format_size(*disk) + " free on the file system of " +
           store->dir().string();
  };
  if (auto full = disk_full()) {
    {
      std::lock_guard lock(mutex_);
      reserved_ -= need;
    }
    return no_space(*full);
  }
  const std::uint32_t wanted[] = {ref.slot};
  auto fetched = exchange::fetch_slots(ref.file, wanted, peers, engine_.blocks(), *store, options_.fetch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  {
    std::lock_guard lock(mutex_);
    reserved_ -= need;
  }
  if (!fetched) {
    // Another transfer may have taken the room meanwhile: a write failing for space says so.
    if (fetched.error().message.find(std::strerror(ENOSPC)) != std::string::npos) {
      return no_space(fetched.error().message);
    }
    if (auto full = disk_full()) return no_space(*full + ": " + fetched.error().message);
    return failed(fetched.error().message);
  }
  std::lock_guard lock(mutex_);
  const fs::path index = store->dir() / ref.file.to_string() / (std::to_string(ref.slot) + ".index");
  held_.insert_or_assign(ref, Held{store->slot_bytes(ref.file, ref.slot), mtime_ns(index)});
  // Seed 004: a node provides what it stores; a slot is part of the file, so any node (a share
  // link's reader) finds this consumer among the file's providers in the DHT.
  if (auto announced = network_.announce(ref.file); !announced) {
    spdlog::warn("consumer: announcing {} in the DHT: {}", ref.file.to_string(), announced.error().message);
  }
  PendingReport report = make_report(ref, tv1::SlotReport::STORED, "");
  report.bytes = fetched->bytes_received;
  report.millis = static_cast<std::uint32_t>(std::clamp<std::int64_t>(millis, 0, UINT32_MAX));
  return report;
}

PendingReport Consumer::execute_delete(const Order& order) {
  const SlotRef& ref = order.ref;
  std::shared_ptr<SlotStore> store;
  {
    std::lock_guard lock(mutex_);
    store = store_;
  }
  if (store) {
    auto removed = store->remove_slot(ref.file, ref.slot);
    if (!removed) return make_report(ref, tv1::SlotReport::FAILED, removed.error().message);
  }
  {
    std::lock_guard lock(mutex_);
    held_.erase(ref);
  }
  host_->forget(ref.file.to_string(), ref.slot);
  maybe_drop_manifest(ref.file);
  return make_report(ref, tv1::SlotReport::DELETED, "");
}

PendingReport Consumer::fill_paid(const Order& order, PendingReport stored) {
  const std::string file_id = order.ref.file.to_string();
  if (host_->filled(file_id, order.ref.slot)) return stored;
  auto filled = host_->fill(file_id, order.ref.slot, order.request_id, order.permit);
  if (filled) return stored;
  // Not filled, not paid for: the slot goes, and the tracker places it elsewhere.
  const std::string why = "cannot fill slot " + std::to_string(order.ref.slot) + " of storage request " +
                          order.request_id + ": " + filled.error().message;
  std::shared_lock store_lock(store_mutex_);
  PendingReport dropped = execute_delete(order);
  if (dropped.state != tv1::SlotReport::DELETED) spdlog::warn("consumer: {}", dropped.detail);
  return make_report(order.ref, tv1::SlotReport::FAILED, why);
}

Result<Earnings> Consumer::earnings() { return host_->earnings(); }

Result<market::Withdrawal> Consumer::withdraw() { return host_->withdraw(); }

MarketHostHooks Consumer::market_hooks() {
  MarketHostHooks hooks;
  hooks.unlock = [this]() -> Result<wallet::PrivateKey> {
    std::string account;
    {
      std::lock_guard lock(mutex_);
      account = config_.consumer_account;
    }
    const char* passphrase = std::getenv("OPEN_BUCKET_PASSWORD");
    if (passphrase == nullptr) {
      return fail(Errc::invalid_argument,
                  "the consumer's account is locked: start the daemon with $OPEN_BUCKET_PASSWORD set to its passphrase");
    }
    const wallet::WalletStore wallet(home_.dir());
    OB_TRY(const wallet::Account found, wallet.find_or_default(account));
    return wallet.unlock(found, passphrase);
  };
  hooks.prove = [this](const std::string& file_id, std::uint32_t slot,
                       std::uint64_t segment) -> Result<market::StorageProof> {
    OB_TRY(const Cid file, Cid::parse(file_id));
    std::shared_lock store_lock(store_mutex_);
    std::shared_ptr<SlotStore> store;
    {
      std::lock_guard lock(mutex_);
      store = store_;
    }
    if (!store) return fail(Errc::not_found, "the Consumer directory is not open");
    OB_TRY(const Bytes encoded, engine_.blocks().get(file));
    OB_TRY(const Manifest manifest, Manifest::decode(encoded));
    OB_TRY(const SlotReader reader, store->open_slot(file, slot));
    return market::prove_segment(manifest, reader, segment);
  };
  return hooks;
}

void Consumer::maybe_drop_manifest(const Cid& file) {
  // Called by the thread that holds `file` busy: no slot of it is being stored meanwhile.
  std::shared_ptr<SlotStore> store;
  {
    std::lock_guard lock(mutex_);
    store = store_;
  }
  if (store && !store->slots_of(file).empty()) return;
  if (engine_.slots().has_file(file)) return;  // the node's own file (or a copy it fetched)
  if (auto removed = engine_.blocks().remove(file); !removed) {
    spdlog::warn("consumer: cannot remove the manifest of {}: {}", file.to_string(), removed.error().message);
  }
}

bool Consumer::give_up(const SlotRef& ref, const std::string& reason) {
  std::shared_lock store_lock(store_mutex_);
  lock_file(ref.file);
  std::shared_ptr<SlotStore> store;
  {
    std::lock_guard lock(mutex_);
    quiet_.insert_or_assign(ref, Clock::time_point::max());
    if (!held_.contains(ref)) {
      store = nullptr;
    } else {
      store = store_;
      held_.erase(ref);
    }
  }
  bool gave_up = false;
  if (store) {
    // What is left of it goes: it is no longer ours to serve.
    if (auto removed = store->remove_slot(ref.file, ref.slot); !removed) {
      spdlog::error("consumer: cannot remove slot {} of {}: {}", ref.slot, ref.file.to_string(), removed.error().message);
    }
    maybe_drop_manifest(ref.file);
    gave_up = true;
  }
  unlock_file(ref, /*changed=*/true);
  if (gave_up) {
    host_->release(ref.file.to_string(), ref.slot);  // seed 000's contract termination of a paid slot
    queue_report(make_report(ref, tv1::SlotReport::GIVEN_UP, reason));
  }
  return gave_up;
}

void Consumer::enforce_limit() {
  for (;;) {
    std::optional<SlotRef> newest;
    std::uint64_t limit = 0;
    {
      std::lock_guard lock(mutex_);
      limit = config_.consumer_limit_bytes;
      if (used_locked() <= limit || held_.empty()) return;
      auto it = std::max_element(held_.begin(), held_.end(), [](const auto& a, const auto& b) {
        return a.second.stored_ns != b.second.stored_ns ? a.second.stored_ns < b.second.stored_ns : a.first < b.first;
      });
      newest = it->first;
    }
    give_up(*newest, "over limit: the consumer's limit was lowered to " + format_size(limit));
  }
}

// --- CWatcher's view --------------------------------------------------------------------------

std::vector<SlotRef> Consumer::held_refs() const {
  std::lock_guard lock(mutex_);
  std::vector<SlotRef> refs;
  refs.reserve(held_.size());
  for (const auto& [ref, held] : held_) refs.push_back(ref);
  return refs;
}

CheckVerdict Consumer::should_check(const SlotRef& ref) const {
  std::lock_guard lock(mutex_);
  if (!held_.contains(ref)) return CheckVerdict::skip;
  if (busy_files_.contains(ref.file)) return CheckVerdict::later;
  const auto quiet = quiet_.find(ref);
  return quiet == quiet_.end() || quiet->second < Clock::now() ? CheckVerdict::check : CheckVerdict::later;
}

// --- status and config ------------------------------------------------------------------------

ConsumerStatus Consumer::status() const {
  std::lock_guard lock(mutex_);
  ConsumerStatus status;
  status.started = started_;
  status.registered = registered_;
  status.directory = directory_locked();
  status.limit_bytes = config_.consumer_limit_bytes;
  status.account = config_.consumer_account;
  status.price_wei = config_.consumer_price_wei;
  for (const auto& [ref, held] : held_) {
    status.slots.push_back(HeldSlot{ref.file, ref.slot, held.bytes});
    status.used_bytes += held.bytes;
  }
  return status;
}

Result<void> Consumer::configure(const ConsumerChange& change) {
  std::lock_guard control(control_mutex_);
  fs::path old_dir;
  bool running = false;
  {
    std::lock_guard lock(mutex_);
    old_dir = normal_dir(directory_locked());
    running = started_;
  }
  // The file as it is now: the producer may have changed its section since the daemon started.
  OB_TRY(NodeConfig disk_before, read_config(home_.dir()));
  const fs::path producer_dir = normal_dir(fs::absolute(
      disk_before.producer_directory.empty() ? home_.dir() / "produce" : fs::path(disk_before.producer_directory)));

  // 1. Validate (creating the new directory if missing).
  std::optional<UsableDir> new_dir;
  if (change.directory) {
    OB_TRY(UsableDir dir, usable_directory(*change.directory, home_, producer_dir));
    if (dir.path != old_dir) new_dir = std::move(dir);
  }
  NodeConfig disk_after = disk_before;
  if (new_dir) disk_after.consumer_directory = new_dir->path.string();
  if (change.limit_bytes) disk_after.consumer_limit_bytes = *change.limit_bytes;
  if (change.start_on_startup) disk_after.consumer_start_on_startup = *change.start_on_startup;
  if (change.account) disk_after.consumer_account = *change.account;
  if (change.price_wei) disk_after.consumer_price_wei = *change.price_wei;

  // 2. Move the slots: nothing else touches the directory meanwhile.
  std::vector<std::string> moved;
  std::optional<SlotStore> new_store;
  const auto undo_moves = [&] {
    for (auto it = moved.rbegin(); it != moved.rend(); ++it) {
      if (auto back = move_dir(new_dir->path / *it, old_dir / *it); !back) {
        spdlog::error("consumer: cannot move {} back to {}: {}", *it, old_dir.string(), back.error().message);
      }
    }
    moved.clear();
    if (new_dir->created_top) remove_created(new_dir->path, *new_dir->created_top);
  };
  std::unique_lock<std::shared_mutex> exclusive;
  if (new_dir) {
    if (running && watcher_) {
      watcher_->stop();  // before taking the lock: a give-up in progress needs it shared
      watcher_.reset();
    }
    {
      std::lock_guard lock(mutex_);
      paused_ = true;
    }
    exclusive = std::unique_lock(store_mutex_);
    if (running) network_.set_consumer_slots(nullptr);
    Result<void> ok;
    std::error_code ec;
    if (fs::is_directory(old_dir, ec)) {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(old_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (Cid::parse(name) && entry.is_directory(ec)) files.push_back(name);
      }
      if (ec) ok = fail(Errc::io, "cannot read ", old_dir.string(), ": ", ec.message());
      for (const std::string& name : files) {
        if (!ok) break;
        ok = move_dir(old_dir / name, new_dir->path / name);
        if (ok) {
          moved.push_back(name);
        } else if (ok.error().code == Errc::already_exists) {
          ok = fail(Errc::already_exists, "the new directory already holds slots of ", name);
        }
      }
    }
    if (ok) {
      auto opened = SlotStore::open(new_dir->path);
      if (opened) {
        new_store.emplace(std::move(*opened));
      } else {
        ok = std::unexpected(opened.error());
      }
    }
    if (!ok) {
      undo_moves();
      std::shared_ptr<SlotStore> store;
      {
        std::lock_guard lock(mutex_);
        paused_ = false;
        store = store_;
      }
      exclusive.unlock();
      work_cv_.notify_all();
      if (running && store) {
        network_.set_consumer_slots(store);
        if (auto watching = start_watcher(); !watching) spdlog::error("consumer: {}", watching.error().message);
      }
      return std::unexpected(prefixed(ok.error(), "cannot move the slots"));
    }
  }

  // 3. The startup unit, then config.toml; each undone if a later step fails.
  const bool wanted_before = disk_before.producer_start_on_startup || disk_before.consumer_start_on_startup;
  const bool wanted_after = disk_after.producer_start_on_startup || disk_after.consumer_start_on_startup;
  Result<void> ok;
  bool unit_changed = false;
  if (change.start_on_startup && wanted_after != wanted_before) {
    ok = options_.update_startup(home_.dir(), wanted_after);
    unit_changed = static_cast<bool>(ok);
    if (!ok) ok = std::unexpected(prefixed(ok.error(), "cannot change the startup unit"));
  } else if (change.start_on_startup && wanted_after) {
    ok = options_.update_startup(home_.dir(), true);  // rewrite it: the executable may have moved
    if (!ok) ok = std::unexpected(prefixed(ok.error(), "cannot write the startup unit"));
  }
  if (ok) {
    ok = save_config(home_.dir(), disk_after);
    if (!ok && unit_changed) {
      if (auto back = options_.update_startup(home_.dir(), wanted_before); !back) {
        spdlog::error("consumer: cannot restore the startup unit: {}", back.error().message);
      }
    }
  }

  // 4. Commit in memory, or undo the move.
  std::shared_ptr<SlotStore> store;
  {
    std::lock_guard lock(mutex_);
    if (ok) {
      config_.consumer_directory = disk_after.consumer_directory;
      config_.consumer_limit_bytes = disk_after.consumer_limit_bytes;
      config_.consumer_start_on_startup = disk_after.consumer_start_on_startup;
      // New market terms reach the tracker with a new registration at the next heartbeat.
      if (config_.consumer_account != disk_after.consumer_account ||
          config_.consumer_price_wei != disk_after.consumer_price_wei) {
        registered_ = false;
      }
      config_.consumer_account = disk_after.consumer_account;
      config_.consumer_price_wei = disk_after.consumer_price_wei;
      if (new_store) store_ = std::make_shared<SlotStore>(std::move(*new_store));
    }
    store = store_;
  }
  if (!ok && new_dir) undo_moves();
  if (new_dir) {
    {
      std::lock_guard lock(mutex_);
      paused_ = false;
    }
    exclusive.unlock();
    work_cv_.notify_all();
    if (running && store) {
      network_.set_consumer_slots(store);
      if (auto watching = start_watcher(); !watching) spdlog::error("consumer: {}", watching.error().message);
    }
  }
  if (!ok) return ok;
  if (new_dir) spdlog::info("consumer: slots moved to {}", new_dir->path.string());
  // 5. A lower limit gives up slots until what is held fits.
  enforce_limit();
  return {};
}

}  // namespace ob::consumer
