#include "tracker/tracker_service.h"

#include "tracker/market_placer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "core/metrics.h"
#include "discovery/dht.h"
#include "core/protocol.h"
#include "exchange/fetcher.h"
#include "wallet/keys.h"

namespace ob::tracker {

namespace pb = openbucket::tracker::v1;

namespace {

// The limits of proto/tracker.proto's header comment.
constexpr std::size_t kMaxFileIdBytes = 256;
constexpr std::size_t kMaxManifestBytes = protocol::kMaxManifestSize;
constexpr std::size_t kMaxPathBytes = 4096;
constexpr std::size_t kMaxHashBytes = 64;
constexpr int kMaxAddresses = 16;
constexpr std::size_t kMaxAddressBytes = 256;
constexpr int kMaxReports = 1024;
constexpr int kMaxHeldPerPage = 1024;
constexpr int kMaxOrders = 256;
constexpr std::size_t kMaxDetailBytes = 1024;
/// Orders stop being added to a HeartbeatReply past this size (the message limit is 1 MiB);
/// the rest come with the next heartbeat.
constexpr std::size_t kOrderBytesBudget = 768 * 1024;
/// A storage request ID in decimal: a uint256 has at most 78 digits.
constexpr std::size_t kMaxRequestIdBytes = 78;
/// Addresses given per consumer source in a STORE order (each consumer may register 16).
constexpr int kAddressesPerSource = 4;
/// Consumers challenged at once in a round (one thread each; one consumer's challenges go in turn).
constexpr std::size_t kParallelChallenges = 8;
constexpr std::uint64_t kMaxInteger = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
/// Largest slot accepted: 1 PiB, so that sums of slots stay far below 2^63.
constexpr std::uint64_t kMaxSlotBytes = std::uint64_t{1} << 50;

// Nice points (docs/tracker.md): weights and priors.
constexpr double kUptimeWeight = 0.4;
constexpr double kThroughputWeight = 0.3;
constexpr double kFreeWeight = 0.3;
constexpr double kUptimePriorMs = 10 * 60 * 1000.0;  ///< a newcomer counts as 10 minutes seen online
constexpr double kThroughputHalfBps = 10e6;          ///< throughput scoring 0.5 (10 MB/s)
constexpr double kUnknownThroughputScore = 0.5;

/// A message part for a status: text as is, numbers in decimal.
template <typename... Parts>
grpc::Status invalid(Parts&&... parts) {
  std::string message;
  (message.append(to_message_part(std::forward<Parts>(parts))), ...);
  return {grpc::StatusCode::INVALID_ARGUMENT, std::move(message)};
}

/// A database failure as a status: logged here, INTERNAL to the caller.
grpc::Status internal_status(const Error& error) {
  spdlog::error("tracker: {}", error.message);
  return {grpc::StatusCode::INTERNAL, "tracker: " + error.message};
}

#define TRACKER_TRY_IMPL(tmp, decl, expr)              \
  auto tmp = (expr);                                   \
  if (!tmp) return internal_status(tmp.error());       \
  decl = std::move(tmp).value()
/// OB_TRY for functions returning grpc::Status.
#define TRACKER_TRY(decl, expr) TRACKER_TRY_IMPL(OB_CONCAT(tracker_try_, __LINE__), decl, expr)
#define TRACKER_TRY_VOID(expr)                                  \
  do {                                                          \
    auto tracker_try_void_ = (expr);                            \
    if (!tracker_try_void_) return internal_status(tracker_try_void_.error()); \
  } while (0)

bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

/// Checks a text field: at most `max` bytes, no control characters. Empty when fine.
std::string check_text(std::string_view field, std::string_view value, std::size_t max) {
  if (value.size() > max) {
    return std::string(field) + " of " + std::to_string(value.size()) + " bytes exceeds " + std::to_string(max);
  }
  if (has_control_characters(value)) return std::string(field) + " contains control characters";
  return {};
}

/// Checks one "host:port" address. Empty when fine.
std::string check_address(std::string_view field, std::string_view address) {
  if (address.empty() || address.size() > kMaxAddressBytes) {
    return std::string(field) + " must be host:port of at most " + std::to_string(kMaxAddressBytes) + " bytes";
  }
  if (has_control_characters(address) || address.find(' ') != std::string_view::npos) {
    return std::string(field) + " '" + std::string(address) + "' contains spaces or control characters";
  }
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size() || address.size() - colon - 1 > 5) {
    return std::string(field) + " '" + std::string(address) + "' must be host:port";
  }
  std::uint32_t port = 0;
  for (const char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9') return std::string(field) + " '" + std::string(address) + "' has a bad port";
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return std::string(field) + " '" + std::string(address) + "' has a bad port";
  return {};
}

std::string check_addresses(std::string_view field, const google::protobuf::RepeatedPtrField<std::string>& addresses) {
  if (addresses.size() > kMaxAddresses) {
    return std::string(field) + ": " + std::to_string(addresses.size()) + " addresses exceed " +
           std::to_string(kMaxAddresses);
  }
  for (const std::string& address : addresses) {
    if (std::string error = check_address(field, address); !error.empty()) return error;
  }
  return {};
}

std::string check_file_id(std::string_view file_id) {
  if (file_id.empty()) return "file_id is empty";
  return check_text("file_id", file_id, kMaxFileIdBytes);
}

std::string check_integer(std::string_view field, std::uint64_t value) {
  if (value > kMaxInteger) return std::string(field) + " " + std::to_string(value) + " is too large";
  return {};
}

std::string check_availability(std::uint32_t availability, std::uint32_t m) {
  if (availability < 1 || availability > m + 1) {
    return "availability " + std::to_string(availability) + " is out of range 1.." + std::to_string(m + 1) +
           " (m + 1 for m = " + std::to_string(m) + ")";
  }
  return {};
}

std::uint64_t slot_deadline_ms(const TrackerSettings& settings, const FileRow& file) {
  const std::uint64_t rate = std::max<std::uint64_t>(settings.store_min_bytes_per_second, 1);
  return static_cast<std::uint64_t>(settings.store_timeout.count()) + file.slot_bytes() * 1000 / rate;
}

pb::PeerAddress peer_address(const std::string& peer_id, const std::vector<std::string>& addresses, int max) {
  pb::PeerAddress out;
  out.set_peer_id(peer_id);
  for (const std::string& address : addresses) {
    if (out.addresses_size() >= max) break;
    out.add_addresses(address);
  }
  return out;
}

}  // namespace

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Auditor network_auditor(net::TlsIdentity tls, std::chrono::milliseconds deadline) {
  return [tls = std::move(tls), deadline](const net::PeerId& consumer, const std::vector<std::string>& addresses,
                                          const Cid& file, const Manifest& manifest, std::uint32_t slot,
                                          std::uint64_t block) -> Result<void> {
    Result<void> last = fail(Errc::io, "consumer ", consumer.to_string(), " has no address");
    for (const std::string& address : addresses) {
      const exchange::PeerClient client = exchange::PeerClient::connect(consumer, address, tls);
      last = exchange::audit_slot(client, file, manifest, slot, block, deadline);
      if (last || last.error().code != Errc::io) return last;
    }
    return last;
  };
}

std::uint64_t free_bytes(const ConsumerRow& consumer, const ConsumerLoad& load) {
  const auto capacity = static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.capacity, 0));
  const auto used = std::max(static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.used, 0)), load.held_bytes);
  const std::uint64_t taken = used + load.assigned_bytes;
  std::uint64_t free = taken >= capacity ? 0 : capacity - taken;
  if (consumer.free_reported >= 0) {
    // What its disk really has left: a consumer's limit may promise more than its file system holds.
    const auto disk = static_cast<std::uint64_t>(consumer.free_reported);
    free = std::min(free, disk > load.assigned_bytes ? disk - load.assigned_bytes : 0);
  }
  return free;
}

double nice_points(const ConsumerRow& consumer, const ConsumerLoad& load, std::int64_t now_ms) {
  const auto passed = static_cast<double>(std::max<std::int64_t>(consumer.audits_passed, 0));
  const auto failed = static_cast<double>(std::max<std::int64_t>(consumer.audits_failed, 0));
  const double audit = (passed + 1.0) / (passed + failed + 2.0);

  const auto tracked = static_cast<double>(std::max<std::int64_t>(now_ms - consumer.first_seen_ms, 0));
  const auto online = static_cast<double>(std::max<std::int64_t>(consumer.online_ms, 0));
  const double uptime = std::clamp((online + kUptimePriorMs) / (tracked + kUptimePriorMs), 0.0, 1.0);

  double throughput = kUnknownThroughputScore;
  if (consumer.bytes_transferred > 0 && consumer.millis_transferred > 0) {
    const double rate = static_cast<double>(consumer.bytes_transferred) * 1000.0 /
                        static_cast<double>(consumer.millis_transferred);
    throughput = rate / (rate + kThroughputHalfBps);
  }

  const double free =
      consumer.capacity > 0
          ? static_cast<double>(free_bytes(consumer, load)) / static_cast<double>(consumer.capacity)
          : 0.0;
  return 100.0 * audit * (kUptimeWeight * uptime + kThroughputWeight * throughput + kFreeWeight * free);
}

// --- Tracker -----------------------------------------------------------------------------------

struct Tracker::Pool {
  std::vector<ConsumerRow> consumers;
  std::map<std::string, ConsumerLoad> loads;
};

namespace {

/// What the tracker knows of one file, for judging the slots a consumer says it holds.
struct FileView {
  std::optional<FileRow> file;       ///< nullopt: unknown
  std::vector<SlotRow> rows;         ///< its slot rows
  std::set<std::string> avoided;     ///< consumers avoided for it
  std::set<std::string> discarding;  ///< consumers with a deletion of one of its slots pending
};

Result<FileView> view_file(TrackerDb& db, const std::string& file_id) {
  FileView view;
  OB_TRY(view.file, db.file(file_id));
  if (!view.file) return view;
  OB_TRY(view.rows, db.slots_of_file(file_id));
  OB_TRY(view.avoided, db.avoided(file_id));
  OB_TRY(view.discarding, db.discarding(file_id));
  return view;
}

/// What to do with a slot a consumer says it holds (ReconcileSlots, or a STORED report on a
/// slot that is not its assignment).
enum class HeldVerdict {
  keep,            ///< its assignment, already reported: nothing to do
  adopt_assigned,  ///< its assignment, not yet reported: it holds it, so it is verified now
  adopt_unplaced,  ///< nobody holds the slot and the consumer may: it becomes its assignment
  discard,         ///< the tracker wants it gone from there
};

HeldVerdict judge_held(const FileView& view, const std::string& consumer, std::uint32_t slot) {
  const std::optional<FileRow>& file = view.file;
  if (!file || file->removing || slot >= file->placed_slots() || file->owner == consumer) {
    return HeldVerdict::discard;
  }
  for (const SlotRow& row : view.rows) {
    if (row.slot == slot) {
      if (row.consumer != consumer) return HeldVerdict::discard;  // the slot lives elsewhere
      return row.state == SlotState::assigned ? HeldVerdict::adopt_assigned : HeldVerdict::keep;
    }
    if (row.consumer == consumer) return HeldVerdict::discard;  // one slot of a file per consumer
  }
  // Unplaced. A consumer that failed the file, or is to delete a slot of it, gets nothing of it back
  // this way: its copy is suspect.
  if (view.avoided.contains(consumer) || view.discarding.contains(consumer)) return HeldVerdict::discard;
  return HeldVerdict::adopt_unplaced;
}

}  // namespace

Tracker::Tracker(std::unique_ptr<TrackerDb> db, TrackerSettings settings)
    : settings_(std::move(settings)), db_(std::move(db)), rng_(std::random_device{}()) {
  if (!settings_.clock) settings_.clock = system_now_ms;
}

Result<std::unique_ptr<Tracker>> Tracker::open(const std::filesystem::path& db_path, TrackerSettings settings) {
  OB_TRY(std::unique_ptr<TrackerDb> db, TrackerDb::open(db_path));
  std::unique_ptr<Tracker> tracker(new Tracker(std::move(db), std::move(settings)));
  // Consumers could not call, nor be challenged, while we were down: give them a fresh start.
  const std::int64_t now_ms = tracker->now();
  TrackerDb& store = *tracker->db_;
  const std::int64_t audit_interval_ms = tracker->settings_.audit_interval.count();
  const Result<void> fresh = store.transaction([&]() -> Result<void> {
    OB_TRY_VOID(store.touch_online_consumers(now_ms));
    return store.restart_challenges(now_ms, audit_interval_ms);
  });
  if (!fresh) return std::unexpected(fresh.error());
  return tracker;
}

void Tracker::set_challenge_listener(std::function<void()> listener) { challenge_listener_ = std::move(listener); }

void Tracker::wake_challenges() {
  if (challenge_listener_) challenge_listener_();
}

ChallengeTimes Tracker::challenge_times() const {
  return ChallengeTimes{settings_.audit_interval.count(), settings_.heartbeat_interval.count()};
}

std::int64_t Tracker::online_gap(const ConsumerRow& consumer, std::int64_t now_ms) const {
  return std::clamp<std::int64_t>(now_ms - consumer.last_seen_ms, 0, settings_.offline_after.count());
}

Result<Tracker::Pool> Tracker::load_pool() {
  Pool pool;
  OB_TRY(pool.consumers, db_->consumers());
  OB_TRY(pool.loads, db_->consumer_loads());
  return pool;
}

Result<std::optional<Transition>> Tracker::apply_event(SlotRow row, SlotEvent event, std::int64_t now_ms) {
  const SlotState from = row.state;
  const std::optional<Transition> t = apply(row, event, now_ms, challenge_times());
  if (!t) {
    spdlog::debug("slot {} of {} on {}: {} ignored while {}", row.slot, row.file_id, row.consumer, event_name(event),
                  state_name(from));
    return t;
  }
  if (t->removed) {
    OB_TRY_VOID(db_->delete_slot(row.file_id, row.slot));
  } else {
    OB_TRY_VOID(db_->update_slot(row));
  }
  if (t->avoid) OB_TRY_VOID(db_->add_avoid(row.file_id, row.consumer));
  if (t->discard) OB_TRY_VOID(db_->add_discard(row.file_id, row.slot, row.consumer));
  if (from != row.state || t->removed) {
    spdlog::debug("slot {} of {} on {}: {} -> {} ({})", row.slot, row.file_id, row.consumer, state_name(from),
                  t->removed ? "removed" : state_name(row.state), event_name(event));
  }
  return t;
}

Result<std::uint32_t> Tracker::place_missing(const FileRow& file, Pool& pool, std::int64_t now_ms) {
  if (file.removing) return 0u;
  OB_TRY(std::vector<SlotRow> rows, db_->slots_of_file(file.file_id));
  std::set<std::uint32_t> taken;
  std::set<std::string> holders;
  for (const SlotRow& row : rows) {
    taken.insert(row.slot);
    holders.insert(row.consumer);
  }
  std::vector<std::uint32_t> missing;
  for (std::uint32_t slot = 0; slot < file.placed_slots(); ++slot) {
    if (!taken.contains(slot)) missing.push_back(slot);
  }
  if (missing.empty()) return 0u;
  OB_TRY(std::set<std::string> avoid, db_->avoided(file.file_id));
  // A consumer still to delete a slot of this file gets none until it confirms: a STORE could
  // otherwise meet the bad copy it was told to drop.
  OB_TRY(std::set<std::string> discarding, db_->discarding(file.file_id));
  const std::uint64_t need = file.slot_bytes();
  std::uint32_t placed_count = 0;
  for (const std::uint32_t slot : missing) {
    const ConsumerRow* best = nullptr;
    bool best_avoided = true;
    double best_score = -1;
    std::uint32_t best_slots = 0;
    for (const ConsumerRow& consumer : pool.consumers) {
      if (!consumer.online || consumer.peer_id == file.owner || holders.contains(consumer.peer_id)) continue;
      if (consumer.no_space_free >= 0 || discarding.contains(consumer.peer_id)) continue;
      // A paid-tier slot goes to a consumer that fills from an account at the request's price or less.
      if (!file.request_id.empty() && (consumer.account.empty() || consumer.price <= 0 || consumer.price > file.price)) {
        continue;
      }
      const ConsumerLoad& load = pool.loads[consumer.peer_id];
      if (free_bytes(consumer, load) < need) continue;
      const bool avoided = avoid.contains(consumer.peer_id);
      const double score = nice_points(consumer, load, now_ms);
      // Not avoided beats avoided; then more nice points; then fewer slots (spreads load).
      const bool better = best == nullptr || (best_avoided && !avoided) ||
                          (best_avoided == avoided &&
                           (score > best_score || (score == best_score && load.slots < best_slots)));
      if (better) {
        best = &consumer;
        best_avoided = avoided;
        best_score = score;
        best_slots = load.slots;
      }
    }
    if (best == nullptr) break;  // the maintenance loop tries again when consumers join
    OB_TRY_VOID(db_->insert_slot(placed(file.file_id, slot, best->peer_id, now_ms)));
    holders.insert(best->peer_id);
    ConsumerLoad& load = pool.loads[best->peer_id];
    load.assigned_bytes += need;
    load.slots += 1;
    ++placed_count;
    spdlog::info("placed slot {} of {} on {} ({:.1f} nice points)", slot, file.file_id, best->peer_id, best_score);
  }
  if (placed_count < missing.size()) {
    spdlog::debug("{}: {} of {} missing slots have no consumer yet", file.file_id, missing.size() - placed_count,
                  missing.size());
  }
  return placed_count;
}

Result<void> Tracker::retire_slots(const std::string& file_id, std::uint32_t from_slot) {
  OB_TRY(std::vector<SlotRow> rows, db_->slots_of_file(file_id));
  const std::int64_t now_ms = now();
  for (const SlotRow& row : rows) {
    if (row.slot < from_slot) continue;
    OB_TRY(std::optional<ConsumerRow> consumer, db_->consumer(row.consumer));
    // A consumer offline has nobody to confirm a deletion: its row goes at once.
    const SlotEvent event = consumer && consumer->online ? SlotEvent::retired : SlotEvent::consumer_offline;
    OB_TRY(std::optional<Transition> t, apply_event(row, event, now_ms));
    (void)t;
  }
  return {};
}

Result<void> Tracker::settle_file(const std::string& file_id) {
  OB_TRY(std::optional<FileRow> file, db_->file(file_id));
  if (!file) return {};
  if (file->removing) {
    OB_TRY(std::vector<SlotRow> rows, db_->slots_of_file(file_id));
    if (rows.empty()) {
      OB_TRY_VOID(db_->delete_file(file_id));
      spdlog::info("file {} removed: every consumer confirmed", file_id);
    }
    return {};
  }
  if (!file->uploaded_once) {
    OB_TRY(std::uint32_t stored, db_->stored_online(file_id));
    if (stored >= file->k && stored - file->k + 1 >= file->availability) {
      file->uploaded_once = true;
      OB_TRY_VOID(db_->put_file(*file));
      spdlog::info("file {} uploaded: availability {}", file_id, stored - file->k + 1);
    }
  }
  return {};
}

Result<void> Tracker::settle_and_place(const std::set<std::string>& file_ids, std::int64_t now_ms) {
  if (file_ids.empty()) return {};
  OB_TRY(Pool pool, load_pool());
  for (const std::string& file_id : file_ids) {
    OB_TRY_VOID(settle_file(file_id));
    OB_TRY(std::optional<FileRow> file, db_->file(file_id));
    if (file) {
      OB_TRY(std::uint32_t placed_count, place_missing(*file, pool, now_ms));
      (void)placed_count;
    }
  }
  return {};
}

Result<pb::FileInfo> Tracker::file_info(const FileRow& file) {
  OB_TRY(std::uint32_t stored, db_->stored_online(file.file_id));
  const std::uint32_t actual = stored >= file.k ? stored - file.k + 1 : 0;
  pb::FileInfo info;
  info.set_file_id(file.file_id);
  info.set_path(file.path);
  info.set_size(file.size);
  info.set_hash(file.hash);
  info.set_tier(static_cast<pb::Tier>(file.tier));
  info.set_request_id(file.request_id);
  info.set_k(file.k);
  info.set_m(file.m);
  info.set_availability(file.availability);
  info.set_actual_availability(actual);
  info.set_slots_stored(stored);
  info.set_created_unix(static_cast<std::uint64_t>(std::max<std::int64_t>(file.created_ms, 0) / 1000));
  if (file.removing) {
    info.set_status(pb::STATUS_REMOVING);
  } else if (actual >= file.availability) {
    info.set_status(pb::STATUS_UPLOADED);
  } else if (!file.uploaded_once) {
    info.set_status(pb::STATUS_UPLOADING);
  } else if (actual == 0) {
    info.set_status(pb::STATUS_LOST);
  } else {
    info.set_status(pb::STATUS_DEGRADED);
  }
  return info;
}

Result<pb::ConsumerInfo> Tracker::consumer_info(const ConsumerRow& consumer,
                                                const std::map<std::string, ConsumerLoad>& loads,
                                                std::int64_t now_ms) {
  const auto it = loads.find(consumer.peer_id);
  const ConsumerLoad load = it == loads.end() ? ConsumerLoad{} : it->second;
  pb::ConsumerInfo info;
  *info.mutable_consumer() = peer_address(consumer.peer_id, consumer.addresses, kMaxAddresses);
  info.set_online(consumer.online);
  info.set_capacity_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.capacity, 0)));
  info.set_used_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.used, 0)));
  info.set_slots(load.slots);
  info.set_audits_passed(static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.audits_passed, 0)));
  info.set_audits_failed(static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.audits_failed, 0)));
  info.set_nice_points(nice_points(consumer, load, now_ms));
  info.set_last_seen_unix(static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.last_seen_ms, 0) / 1000));
  info.set_account(consumer.account);
  info.set_price(static_cast<std::uint64_t>(std::max<std::int64_t>(consumer.price, 0)));
  return info;
}

Result<std::vector<pb::PeerAddress>> Tracker::sources_of(const FileRow& file, const std::string& for_consumer) {
  OB_TRY(std::vector<SlotRow> rows, db_->slots_of_file(file.file_id));
  std::vector<pb::PeerAddress> holders;
  std::uint32_t stored_online = 0;
  for (const SlotRow& row : rows) {
    if (!counts(row.state)) continue;  // an unproven slot is no source
    OB_TRY(std::optional<ConsumerRow> consumer, db_->consumer(row.consumer));
    if (!consumer || !consumer->online) continue;
    ++stored_online;
    if (row.consumer != for_consumer) {
      holders.push_back(peer_address(consumer->peer_id, consumer->addresses, kAddressesPerSource));
    }
  }
  std::vector<pb::PeerAddress> out;
  // The producer while the upload is under way, and whenever proven slots alone cannot rebuild.
  if ((!file.uploaded_once || stored_online < file.k) && !file.sources.empty()) {
    out.push_back(peer_address(file.owner, file.sources, kMaxAddresses));
  }
  out.insert(out.end(), std::make_move_iterator(holders.begin()), std::make_move_iterator(holders.end()));
  return out;
}

// --- Market ------------------------------------------------------------------------------------

namespace {
void set_market_info(const MarketSettings& settings, pb::MarketInfo& info) {
  info.set_chain_id(settings.chain_id);
  info.set_address(settings.address);
  info.set_placer(settings.placer);
}
}  // namespace

grpc::Status Tracker::register_file(const net::PeerId& caller, const pb::RegisterFileRequest& request,
                                    pb::RegisterFileReply* reply) {
  if (request.manifest().size() > kMaxManifestBytes) {
    return invalid("manifest of ", request.manifest().size(), " bytes exceeds ", kMaxManifestBytes);
  }
  if (!pb::Tier_IsValid(request.tier())) return invalid("unknown tier ", request.tier());
  for (const std::string& error : {check_text("path", request.path(), kMaxPathBytes),
                                   check_text("hash", request.hash(), kMaxHashBytes),
                                   check_addresses("source_addresses", request.source_addresses()),
                                   check_integer("size", request.size())}) {
    if (!error.empty()) return invalid(error);
  }
  const ByteView encoded = as_bytes(request.manifest());
  auto manifest = Manifest::decode(encoded);
  if (!manifest) return invalid("manifest: ", manifest.error().message);
  if (std::string error = check_availability(request.availability(), manifest->params.m); !error.empty()) {
    return invalid(error);
  }
  // Slot sizes are summed in 64-bit arithmetic (placement, the database): keep them far from overflow.
  if (manifest->original_size > kMaxInteger ||
      manifest->stripe_count() > kMaxSlotBytes / (std::uint64_t{manifest->params.block_size} + 32)) {
    return invalid("a file of ", manifest->original_size, " bytes is too large for this tracker");
  }
  const std::string file_id = Manifest::cid_of(encoded).to_string();
  const std::string owner = caller.to_string();
  // A paid-tier file comes with its storage request, checked on chain before anything is
  // stored (and without the lock: the chain may be slow).
  std::optional<CheckedRequest> paid;
  if (!request.request_id().empty()) {
    if (request.request_id().size() > kMaxRequestIdBytes) {
      return invalid("request_id of ", request.request_id().size(), " bytes exceeds ", kMaxRequestIdBytes);
    }
    if (request.tier() == pb::TIER_FREE) return invalid("a Free-tier file has no storage request");
    if (!settings_.placer) {
      return {grpc::StatusCode::FAILED_PRECONDITION, "this tracker runs no storage market (no --chain-rpc)"};
    }
    // The request pays for n slots and proofs climb a dataset tree of n leaves: all are placed.
    if (request.availability() != manifest->params.m + 1) {
      return invalid("a paid-tier file places all its ", manifest->params.k + manifest->params.m,
                     " slots: availability must be m + 1 = ", manifest->params.m + 1);
    }
    std::optional<FileRow> placed;
    {
      std::lock_guard lock(mutex_);
      TRACKER_TRY(placed, db_->file(file_id));
    }
    // A producer resuming (after a restart) a file placed for this request: checked already,
    // and the request may have started since.
    const bool resumed = placed && placed->owner == owner && placed->request_id == request.request_id();
    auto checked = resumed ? Result<CheckedRequest>(CheckedRequest{placed->request_id, placed->price})
                           : settings_.placer->check_request(request.request_id(), *manifest, encoded);
    if (!checked) {
      if (checked.error().code == Errc::invalid_argument) return invalid(checked.error().message);
      return {grpc::StatusCode::UNAVAILABLE, "the storage market cannot be read: " + checked.error().message};
    }
    paid = std::move(*checked);
  }

  std::lock_guard lock(mutex_);
  const std::int64_t now_ms = now();
  TRACKER_TRY(std::optional<FileRow> existing, db_->file(file_id));
  const bool known = existing.has_value();
  if (existing && existing->owner != owner) {
    return {grpc::StatusCode::PERMISSION_DENIED, "file " + file_id + " belongs to another producer"};
  }
  if (existing && paid && !existing->request_id.empty() && existing->request_id != paid->request_id) {
    return invalid("file ", file_id, " is placed for storage request ", existing->request_id, ", not ",
                   paid->request_id);
  }
  FileRow file;
  if (known) {
    // A producer resuming: new source addresses; a file being removed is wanted again.
    file = std::move(*existing);
    file.sources.assign(request.source_addresses().begin(), request.source_addresses().end());
    if (file.removing) {
      file.removing = false;
      file.uploaded_once = false;
    }
  } else {
    file.file_id = file_id;
    file.owner = owner;
    file.manifest.assign(encoded.begin(), encoded.end());
    file.k = manifest->params.k;
    file.m = manifest->params.m;
    file.block_size = manifest->params.block_size;
    file.blocks_per_slot = manifest->stripe_count();
    file.availability = request.availability();
    file.tier = request.tier();
    file.path = request.path();
    file.size = request.size() != 0 ? request.size() : manifest->original_size;
    file.hash = request.hash();
    file.sources.assign(request.source_addresses().begin(), request.source_addresses().end());
    file.created_ms = now_ms;
  }
  if (paid) {
    file.request_id = paid->request_id;
    file.price = paid->price;
    file.tier = request.tier();
    file.availability = request.availability();
  }
  TRACKER_TRY_VOID(db_->transaction([&]() -> Result<void> {
    OB_TRY_VOID(db_->put_file(file));
    OB_TRY(Pool pool, load_pool());
    OB_TRY(std::uint32_t placed, place_missing(file, pool, now_ms));
    (void)placed;
    return {};
  }));
  spdlog::info("{} file {} of {} (k {}, m {}, availability {})", known ? "re-registered" : "registered", file_id,
               owner, file.k, file.m, file.availability);
  reply->set_file_id(file_id);
  TRACKER_TRY(*reply->mutable_file(), file_info(file));
  return grpc::Status::OK;
}

grpc::Status Tracker::check_holders(const net::PeerId&, const pb::CheckHoldersRequest& request,
                                    pb::CheckHoldersReply* reply) {
  if (std::string error = check_file_id(request.file_id()); !error.empty()) return invalid(error);
  std::lock_guard lock(mutex_);
  TRACKER_TRY(std::optional<FileRow> file, db_->file(request.file_id()));
  if (!file || file->removing) return {grpc::StatusCode::NOT_FOUND, "file " + request.file_id() + " not found"};
  TRACKER_TRY(std::vector<SlotRow> rows, db_->slots_of_file(file->file_id));
  for (const SlotRow& row : rows) {
    if (row.state == SlotState::deleting) continue;
    TRACKER_TRY(std::optional<ConsumerRow> consumer, db_->consumer(row.consumer));
    if (!consumer || !consumer->online) continue;
    pb::SlotHolder* holder = reply->add_holders();
    holder->set_slot(row.slot);
    *holder->mutable_consumer() = peer_address(consumer->peer_id, consumer->addresses, kMaxAddresses);
    holder->set_stored(counts(row.state));
  }
  return grpc::Status::OK;
}

grpc::Status Tracker::get_market(pb::GetMarketReply* reply) {
  if (settings_.market) set_market_info(*settings_.market, *reply->mutable_market());
  return grpc::Status::OK;
}

Result<std::vector<std::string>> Tracker::paid_requests() {
  std::lock_guard lock(mutex_);
  OB_TRY(std::vector<FileRow> files, db_->files(""));
  std::vector<std::string> out;
  for (const FileRow& file : files) {
    if (!file.request_id.empty() && !file.removing) out.push_back(file.request_id);
  }
  return out;
}

void Tracker::settle_holder_claims() {
  std::vector<HolderClaim> claims;
  {
    std::lock_guard lock(mutex_);
    claims.swap(holder_claims_);
  }
  if (claims.empty() || !settings_.placer) return;
  std::vector<std::pair<HolderClaim, bool>> settled;  // the claim, and whether the chain has it the host
  std::vector<HolderClaim> retry;
  for (HolderClaim& claim : claims) {
    auto host = settings_.placer->host_now(claim.request_id, claim.slot);
    if (!host) {
      spdlog::warn("slot {} of {} claimed by {}: the chain cannot say who hosts it: {}", claim.slot, claim.file_id,
                   claim.consumer, host.error().message);
      if (++claim.attempts < kClaimAttempts) retry.push_back(std::move(claim));
      continue;
    }
    const auto account = wallet::Address::parse(claim.account);
    const bool hosts = host->has_value() && account && **host == *account;
    settled.emplace_back(std::move(claim), hosts);
  }
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    for (HolderClaim& claim : retry) holder_claims_.push_back(std::move(claim));
    const std::int64_t now_ms = now();
    const Result<void> done = db_->transaction([&]() -> Result<void> {
      std::set<std::string> touched;
      for (const auto& [claim, hosts] : settled) {
        OB_TRY(std::optional<ConsumerRow> consumer, db_->consumer(claim.consumer));
        if (!consumer) continue;
        OB_TRY(FileView view, view_file(*db_, claim.file_id));
        const auto row = std::ranges::find(view.rows, claim.slot, &SlotRow::slot);
        const bool other_slot = std::ranges::any_of(
            view.rows, [&](const SlotRow& r) { return r.consumer == claim.consumer && r.slot != claim.slot; });
        if (!hosts || !view.file || view.file->removing || other_slot) {
          consumer->needs_reconcile = true;  // its listing gets it a DELETE
          OB_TRY_VOID(db_->put_consumer(*consumer));
          spdlog::info("slot {} of {}: {} does not host it on chain: it will be told to delete it", claim.slot,
                       claim.file_id, claim.consumer);
          continue;
        }
        if (row != view.rows.end() && row->consumer == claim.consumer) continue;  // its own already
        if (row != view.rows.end()) {
          OB_TRY_VOID(db_->delete_slot(claim.file_id, claim.slot));
          spdlog::info("slot {} of {}: the assignment to {} is dropped", claim.slot, claim.file_id, row->consumer);
        }
        OB_TRY_VOID(db_->insert_slot(adopted(claim.file_id, claim.slot, claim.consumer, now_ms)));
        touched.insert(claim.file_id);
        wake = true;
        spdlog::info("slot {} of {} is hosted on chain by {} ({}): adopted, to be verified", claim.slot,
                     claim.file_id, claim.consumer, claim.account);
      }
      return settle_and_place(touched, now_ms);
    });
    if (!done) spdlog::error("settling the claims on slots: {}", done.error().message);
  }
  if (wake) wake_challenges();
}

// --- Producer ----------------------------------------------------------------------------------

grpc::Status Tracker::list_files(const net::PeerId& caller, const pb::ListFilesRequest& request,
                                 pb::ListFilesReply* reply) {
  if (!request.file_id().empty()) {
    if (std::string error = check_file_id(request.file_id()); !error.empty()) return invalid(error);
  }
  const std::string owner = caller.to_string();
  std::lock_guard lock(mutex_);
  if (!request.file_id().empty()) {
    TRACKER_TRY(std::optional<FileRow> file, db_->file(request.file_id()));
    if (!file || file->owner != owner) {
      return {grpc::StatusCode::NOT_FOUND, "file " + request.file_id() + " not found"};
    }
    pb::FileInfo* info = reply->add_files();
    TRACKER_TRY(*info, file_info(*file));
    info->set_manifest(std::string(as_chars(file->manifest)));  // one file: its manifest too
    return grpc::Status::OK;
  }
  TRACKER_TRY(std::vector<FileRow> files, db_->files(owner));
  for (const FileRow& file : files) {
    TRACKER_TRY(*reply->add_files(), file_info(file));
  }
  return grpc::Status::OK;
}

grpc::Status Tracker::remove_file(const net::PeerId& caller, const pb::RemoveFileRequest& request,
                                  pb::RemoveFileReply* reply) {
  if (std::string error = check_file_id(request.file_id()); !error.empty()) return invalid(error);
  std::lock_guard lock(mutex_);
  TRACKER_TRY(std::optional<FileRow> file, db_->file(request.file_id()));
  if (!file || file->owner != caller.to_string()) {
    return {grpc::StatusCode::NOT_FOUND, "file " + request.file_id() + " not found"};
  }
  file->removing = true;
  TRACKER_TRY_VOID(db_->transaction([&]() -> Result<void> {
    OB_TRY_VOID(db_->put_file(*file));
    OB_TRY_VOID(retire_slots(file->file_id, 0));
    return {};
  }));
  TRACKER_TRY(*reply->mutable_file(), file_info(*file));
  TRACKER_TRY_VOID(settle_file(file->file_id));  // gone at once when no consumer holds a slot
  spdlog::info("file {} removing", file->file_id);
  return grpc::Status::OK;
}

grpc::Status Tracker::confirm_download(const net::PeerId& caller, const pb::ConfirmDownloadRequest& request,
                                       pb::ConfirmDownloadReply* reply) {
  if (std::string error = check_file_id(request.file_id()); !error.empty()) return invalid(error);
  std::string request_id;
  {
    std::lock_guard lock(mutex_);
    TRACKER_TRY(std::optional<FileRow> file, db_->file(request.file_id()));
    if (!file || file->owner != caller.to_string()) {
      return {grpc::StatusCode::NOT_FOUND, "file " + request.file_id() + " not found"};
    }
    request_id = file->request_id;
  }
  if (request_id.empty()) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "file " + request.file_id() + " is Free tier: nobody is paid"};
  }
  if (!settings_.placer) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "this tracker runs no storage market (no --chain-rpc)"};
  }
  Result<chain::Receipt> receipt = settings_.placer->confirm_download(request_id);
  if (!receipt) {
    const auto code = receipt.error().code == Errc::io ? grpc::StatusCode::UNAVAILABLE
                                                       : grpc::StatusCode::INVALID_ARGUMENT;
    return {code, "confirmDownload of storage request " + request_id + ": " + receipt.error().message};
  }
  reply->set_request_id(request_id);
  reply->set_transaction(chain::to_data(receipt->hash));
  spdlog::info("file {}: download confirmed, storage request {} settled (gas {})", request.file_id(), request_id,
               receipt->gas_used);
  return grpc::Status::OK;
}

grpc::Status Tracker::put_index_record(const net::PeerId& caller, const pb::PutIndexRecordRequest& request,
                                       pb::PutIndexRecordReply* reply) {
  discovery::IndexLocator locator;
  if (request.locator().size() != locator.size()) return invalid("an index locator is ", locator.size(), " bytes");
  std::copy(request.locator().begin(), request.locator().end(), locator.begin());
  const ByteView signed_record = as_bytes(request.record());
  auto record = discovery::IndexRecord::verify(signed_record, caller, locator);
  if (!record) return invalid("index record: ", record.error().message);
  std::lock_guard lock(mutex_);
  TRACKER_TRY(std::optional<IndexRecordRow> kept, db_->index_record(as_bytes(request.locator())));
  if (kept && kept->owner != caller.to_string()) {
    return {grpc::StatusCode::PERMISSION_DENIED, "this index locator belongs to another peer"};
  }
  if (kept && (record->sequence < kept->sequence ||
               (record->sequence == kept->sequence && !std::ranges::equal(kept->record, signed_record)))) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "stale index record: sequence " + std::to_string(record->sequence) +
                                                       ", the tracker keeps " + std::to_string(kept->sequence)};
  }
  TRACKER_TRY_VOID(db_->put_index_record(IndexRecordRow{Bytes(locator.begin(), locator.end()), caller.to_string(),
                                                        record->sequence, Bytes(signed_record.begin(), signed_record.end())}));
  reply->set_sequence(record->sequence);
  return grpc::Status::OK;
}

grpc::Status Tracker::get_index_record(const net::PeerId& caller, const pb::GetIndexRecordRequest& request,
                                       pb::GetIndexRecordReply* reply) {
  if (request.locator().size() != discovery::IndexLocator{}.size()) return invalid("an index locator is 32 bytes");
  std::lock_guard lock(mutex_);
  TRACKER_TRY(std::optional<IndexRecordRow> kept, db_->index_record(as_bytes(request.locator())));
  // Another peer's record is not told apart from none: the locator is all a stranger has.
  if (!kept || kept->owner != caller.to_string()) return {grpc::StatusCode::NOT_FOUND, "no index record"};
  reply->set_record(std::string(as_chars(kept->record)));
  return grpc::Status::OK;
}

grpc::Status Tracker::edit_file(const net::PeerId& caller, const pb::EditFileRequest& request,
                                pb::EditFileReply* reply) {
  if (std::string error = check_file_id(request.file_id()); !error.empty()) return invalid(error);
  if (request.has_path()) {
    if (std::string error = check_text("path", request.path(), kMaxPathBytes); !error.empty()) return invalid(error);
  }
  std::lock_guard lock(mutex_);
  TRACKER_TRY(std::optional<FileRow> file, db_->file(request.file_id()));
  if (!file || file->owner != caller.to_string()) {
    return {grpc::StatusCode::NOT_FOUND, "file " + request.file_id() + " not found"};
  }
  if (file->removing) {
    return {grpc::StatusCode::FAILED_PRECONDITION, "file " + file->file_id + " is being removed"};
  }
  if (request.has_availability()) {
    if (std::string error = check_availability(request.availability(), file->m); !error.empty()) {
      return invalid(error);
    }
    if (!file->request_id.empty() && request.availability() != file->availability) {
      return invalid("a paid-tier file keeps all its slots: its storage request pays for them");
    }
  }
  const std::uint32_t old_availability = file->availability;
  if (request.has_path()) file->path = request.path();
  if (request.has_availability()) file->availability = request.availability();
  const std::int64_t now_ms = now();
  TRACKER_TRY_VOID(db_->transaction([&]() -> Result<void> {
    OB_TRY_VOID(db_->put_file(*file));
    if (file->availability < old_availability) {
      OB_TRY_VOID(retire_slots(file->file_id, file->placed_slots()));
    } else if (file->availability > old_availability) {
      OB_TRY(Pool pool, load_pool());
      OB_TRY(std::uint32_t placed, place_missing(*file, pool, now_ms));
      (void)placed;
    }
    return {};
  }));
  spdlog::info("file {} edited (availability {} -> {})", file->file_id, old_availability, file->availability);
  TRACKER_TRY(*reply->mutable_file(), file_info(*file));
  return grpc::Status::OK;
}

// --- Consumer ----------------------------------------------------------------------------------

namespace {

/// Takes a consumer's word on its space: capacity, use and (if it says) free bytes. A consumer
/// that refused a STORE for want of space is back in placement once it reports more free bytes
/// than its lowest since.
void note_space(ConsumerRow& consumer, std::uint64_t capacity, std::uint64_t used, std::optional<std::uint64_t> free) {
  consumer.capacity = static_cast<std::int64_t>(capacity);
  consumer.used = static_cast<std::int64_t>(used);
  consumer.free_reported = free ? static_cast<std::int64_t>(*free) : -1;
  if (consumer.no_space_free < 0) return;
  const std::int64_t now_free = consumer.free_said();
  if (now_free > consumer.no_space_free) {
    spdlog::info("consumer {} reports {} free bytes: back in placement", consumer.peer_id, now_free);
    consumer.no_space_free = -1;
  } else {
    consumer.no_space_free = now_free;
  }
}

pb::SlotOrder delete_order(const std::string& file_id, std::uint32_t slot) {
  pb::SlotOrder order;
  order.set_kind(pb::SlotOrder::DELETE);
  order.set_file_id(file_id);
  order.set_slot(slot);
  return order;
}

}  // namespace

grpc::Status Tracker::register_consumer(const net::PeerId& caller, const pb::RegisterConsumerRequest& request,
                                        pb::RegisterConsumerReply* reply) {
  if (request.addresses().empty()) return invalid("addresses: a consumer needs at least one address");
  for (const std::string& error :
       {check_addresses("addresses", request.addresses()), check_integer("capacity_bytes", request.capacity_bytes()),
        check_integer("used_bytes", request.used_bytes()), check_integer("price", request.price()),
        check_integer("free_bytes", request.free_bytes())}) {
    if (!error.empty()) return invalid(error);
  }
  std::string account;
  if (!request.account().empty()) {
    auto address = wallet::Address::parse(request.account());
    if (!address) return invalid("account: " + address.error().message);
    account = address->to_checksum();
  }
  std::lock_guard lock(mutex_);
  const std::int64_t now_ms = now();
  TRACKER_TRY(std::optional<ConsumerRow> existing, db_->consumer(caller.to_string()));
  ConsumerRow row;
  if (existing) {
    row = std::move(*existing);
    if (row.online) row.online_ms += online_gap(row, now_ms);
  } else {
    row.peer_id = caller.to_string();
    row.first_seen_ms = now_ms;
  }
  row.addresses.assign(request.addresses().begin(), request.addresses().end());
  note_space(row, request.capacity_bytes(), request.used_bytes(),
             request.has_free_bytes() ? std::optional(request.free_bytes()) : std::nullopt);
  row.price = static_cast<std::int64_t>(request.price());
  row.account = std::move(account);
  row.last_seen_ms = now_ms;
  row.online = true;
  row.needs_reconcile = false;  // a registered consumer lists its slots (ReconcileSlots) next
  TRACKER_TRY_VOID(db_->put_consumer(row));
  spdlog::info("consumer {} registered at {} ({} of {} bytes used, {} free)", row.peer_id, row.addresses.front(),
               row.used, row.capacity, row.free_said());
  reply->set_heartbeat_interval_ms(static_cast<std::uint32_t>(settings_.heartbeat_interval.count()));
  if (settings_.market) set_market_info(*settings_.market, *reply->mutable_market());
  return grpc::Status::OK;
}

grpc::Status Tracker::heartbeat(const net::PeerId& caller, const pb::HeartbeatRequest& request,
                                pb::HeartbeatReply* reply) {
  for (const std::string& error :
       {check_integer("capacity_bytes", request.capacity_bytes()), check_integer("used_bytes", request.used_bytes()),
        check_integer("free_bytes", request.free_bytes())}) {
    if (!error.empty()) return invalid(error);
  }
  std::unique_lock lock(mutex_);
  const std::int64_t now_ms = now();
  TRACKER_TRY(std::optional<ConsumerRow> consumer, db_->consumer(caller.to_string()));
  if (!consumer) {
    reply->set_registered(false);
    return grpc::Status::OK;
  }
  reply->set_registered(true);
  if (consumer->online) {
    consumer->online_ms += online_gap(*consumer, now_ms);
  } else {
    spdlog::info("consumer {} is back online", consumer->peer_id);
  }
  consumer->online = true;
  consumer->last_seen_ms = now_ms;
  note_space(*consumer, request.capacity_bytes(), request.used_bytes(),
             request.has_free_bytes() ? std::optional(request.free_bytes()) : std::nullopt);
  // Asked on every heartbeat until a listing arrives (reconcile_slots clears the flag): a reply
  // lost on its way must not lose the request with it.
  reply->set_reconcile(consumer->needs_reconcile);
  TRACKER_TRY_VOID(db_->put_consumer(*consumer));

  std::size_t bytes = 0;
  const auto add = [&](pb::SlotOrder order) {
    if (reply->orders_size() >= kMaxOrders) return false;
    const std::size_t size = order.ByteSizeLong();
    if (bytes + size > kOrderBytesBudget && reply->orders_size() > 0) return false;
    bytes += size;
    *reply->add_orders() = std::move(order);
    return true;
  };
  // Deletions outside the rows first: a consumer carries out a file's orders in the order given.
  TRACKER_TRY(auto discards, db_->discards_of(consumer->peer_id));
  for (const auto& [file_id, slot] : discards) {
    if (!add(delete_order(file_id, slot))) return grpc::Status::OK;
  }
  TRACKER_TRY(std::vector<SlotRow> rows, db_->slots_of_consumer(consumer->peer_id));
  // Per file: its sources, and its storage request (paid tiers).
  std::map<std::string, std::pair<std::vector<pb::PeerAddress>, std::string>> files;
  for (const SlotRow& row : rows) {
    if (row.state == SlotState::deleting) {
      if (!add(delete_order(row.file_id, row.slot))) break;
      continue;
    }
    if (row.state != SlotState::assigned) continue;
    pb::SlotOrder order;
    order.set_kind(pb::SlotOrder::STORE);
    order.set_file_id(row.file_id);
    order.set_slot(row.slot);
    auto it = files.find(row.file_id);
    if (it == files.end()) {
      TRACKER_TRY(std::optional<FileRow> file, db_->file(row.file_id));
      if (!file) continue;
      TRACKER_TRY(std::vector<pb::PeerAddress> peers, sources_of(*file, consumer->peer_id));
      it = files.emplace(row.file_id, std::pair(std::move(peers), file->request_id)).first;
    }
    for (const pb::PeerAddress& peer : it->second.first) *order.add_sources() = peer;
    order.set_request_id(it->second.second);
    if (!add(std::move(order))) break;
  }
  lock.unlock();
  add_fill_permits(consumer->account, *reply);
  return grpc::Status::OK;
}

void Tracker::add_fill_permits(const std::string& account, pb::HeartbeatReply& reply) {
  // Signed from the slot's round on chain, outside the lock; an order whose permit cannot be
  // made now is left out of this reply and comes again with a later heartbeat. That is how a
  // repaired slot waits for the chain to free it (MarketPlacer: "not yet", logged at debug
  // level since it recurs with every heartbeat until the lost host is removed).
  auto* orders = reply.mutable_orders();
  for (int i = 0; i < orders->size();) {
    pb::SlotOrder& order = orders->at(i);
    if (order.kind() != pb::SlotOrder::STORE || order.request_id().empty()) {
      ++i;
      continue;
    }
    Result<Bytes> permit = settings_.placer && !account.empty()
                               ? settings_.placer->fill_permit(order.request_id(), order.slot(), account)
                               : fail(Errc::invalid_argument, "no market or no account");
    if (permit) {
      order.set_permit(std::string(as_chars(*permit)));
      ++i;
    } else {
      spdlog::log(permit.error().code == Errc::not_found ? spdlog::level::debug : spdlog::level::warn,
                  "no fill permit for slot {} of {} (request {}): {}", order.slot(), order.file_id(),
                  order.request_id(), permit.error().message);
      orders->erase(orders->begin() + i);
    }
  }
}

grpc::Status Tracker::report_slots(const net::PeerId& caller, const pb::ReportSlotsRequest& request,
                                   pb::ReportSlotsReply*) {
  if (request.reports_size() > kMaxReports) {
    return invalid(request.reports_size(), " reports exceed ", kMaxReports, " in one call");
  }
  for (const pb::SlotReport& report : request.reports()) {
    if (std::string error = check_file_id(report.file_id()); !error.empty()) return invalid(error);
    if (report.detail().size() > kMaxDetailBytes) {
      return invalid("detail of ", report.detail().size(), " bytes exceeds ", kMaxDetailBytes);
    }
    if (!pb::SlotReport::State_IsValid(report.state())) return invalid("unknown report state ", report.state());
    if (!pb::SlotReport::Reason_IsValid(report.reason())) return invalid("unknown report reason ", report.reason());
    if (report.bytes() > kMaxInteger) return invalid("bytes ", report.bytes(), " is too large");
  }
  const std::string peer = caller.to_string();
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now_ms = now();
    TRACKER_TRY(std::optional<ConsumerRow> consumer, db_->consumer(peer));
    if (!consumer) return {grpc::StatusCode::NOT_FOUND, "consumer " + peer + " is not registered"};
    std::set<std::string> touched;
    TRACKER_TRY_VOID(db_->transaction([&]() -> Result<void> {
      for (const pb::SlotReport& report : request.reports()) {
        const pb::SlotReport::State state = report.state();
        if (state == pb::SlotReport::DELETED) {
          // Whatever ordered it (a row being deleted, or a discard), it is done.
          OB_TRY_VOID(db_->delete_discard(report.file_id(), report.slot(), peer));
          touched.insert(report.file_id());
        }
        if (state == pb::SlotReport::FAILED && report.reason() == pb::SlotReport::NO_SPACE &&
            consumer->no_space_free < 0) {
          consumer->no_space_free = consumer->free_said();
          spdlog::warn("consumer {} is out of space ({}): no new slot until it reports more than {} free bytes",
                       peer, report.detail(), consumer->no_space_free);
        }
        OB_TRY(std::vector<SlotRow> rows, db_->slots_of_file(report.file_id()));
        const auto row =
            std::find_if(rows.begin(), rows.end(), [&](const SlotRow& r) { return r.slot == report.slot(); });
        if (row == rows.end() || row->consumer != peer) {
          if (state != pb::SlotReport::STORED) {
            spdlog::debug("{}: stale report on slot {} of {} ignored", peer, report.slot(), report.file_id());
            continue;
          }
          // It stored a slot it is not (or no longer) assigned, e.g. after its assignment timed out.
          OB_TRY(FileView view, view_file(*db_, report.file_id()));
          // A paid-tier slot is stored only once filled on chain: the chain says whose it is.
          if (settings_.placer && !consumer->account.empty() && view.file && !view.file->request_id.empty() &&
              !view.file->removing && report.slot() < view.file->placed_slots()) {
            const bool queued = std::ranges::any_of(holder_claims_, [&](const HolderClaim& c) {
              return c.file_id == report.file_id() && c.slot == report.slot() && c.consumer == peer;
            });
            if (!queued) {
              holder_claims_.push_back(
                  {report.file_id(), report.slot(), peer, consumer->account, view.file->request_id, 0});
            }
            spdlog::info("slot {} of {} reported stored by {}, which is not its holder: the chain decides whose it is",
                         report.slot(), report.file_id(), peer);
            continue;
          }
          const HeldVerdict verdict = judge_held(view, peer, report.slot());
          if (verdict == HeldVerdict::adopt_unplaced) {
            OB_TRY_VOID(db_->insert_slot(adopted(report.file_id(), report.slot(), peer, now_ms)));
            touched.insert(report.file_id());
            wake = true;
            spdlog::info("slot {} of {} reported stored late by {}: adopted, to be verified", report.slot(),
                         report.file_id(), peer);
          } else {
            consumer->needs_reconcile = true;  // its listing gets it a DELETE
            spdlog::info("slot {} of {} reported stored by {}, which is not its holder: it will be told to delete it",
                         report.slot(), report.file_id(), peer);
          }
          continue;
        }
        touched.insert(row->file_id);
        const SlotEvent event = state == pb::SlotReport::STORED    ? SlotEvent::stored_reported
                                : state == pb::SlotReport::DELETED ? SlotEvent::deleted_reported
                                                                   : SlotEvent::failed_reported;
        OB_TRY(std::optional<Transition> t, apply_event(*row, event, now_ms));
        if (!t) continue;
        if (state == pb::SlotReport::STORED) {
          wake = true;
          if (report.bytes() > 0 && report.millis() > 0) {
            consumer->bytes_transferred = static_cast<std::int64_t>(std::min<std::uint64_t>(
                static_cast<std::uint64_t>(consumer->bytes_transferred) + report.bytes(), kMaxInteger));
            consumer->millis_transferred += report.millis();
          }
          spdlog::info("slot {} of {} reported stored by {}: verifying", row->slot, row->file_id, peer);
        } else if (state == pb::SlotReport::DELETED) {
          spdlog::info("slot {} of {} deleted from {}", row->slot, row->file_id, peer);
        } else {
          spdlog::warn("slot {} of {} ({}) {} by {}: {}", row->slot, row->file_id, state_name(row->state),
                       state == pb::SlotReport::FAILED ? "failed" : "given up", peer, report.detail());
        }
      }
      OB_TRY_VOID(db_->put_consumer(*consumer));
      return settle_and_place(touched, now_ms);
    }));
  }
  if (wake) wake_challenges();
  return grpc::Status::OK;
}

grpc::Status Tracker::reconcile_slots(const net::PeerId& caller, const pb::ReconcileSlotsRequest& request,
                                      pb::ReconcileSlotsReply* reply) {
  if (request.slots_size() > kMaxHeldPerPage) {
    return invalid(request.slots_size(), " slots exceed ", kMaxHeldPerPage, " in one call");
  }
  for (const pb::HeldSlot& held : request.slots()) {
    if (std::string error = check_file_id(held.file_id()); !error.empty()) return invalid(error);
  }
  const std::string peer = caller.to_string();
  std::uint32_t adopted_count = 0;
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now_ms = now();
    TRACKER_TRY(std::optional<ConsumerRow> consumer, db_->consumer(peer));
    if (!consumer) return {grpc::StatusCode::NOT_FOUND, "consumer " + peer + " is not registered"};
    std::map<std::string, FileView> views;
    std::set<std::pair<std::string, std::uint32_t>> seen;
    TRACKER_TRY_VOID(db_->transaction([&]() -> Result<void> {
      if (consumer->needs_reconcile) {  // the request reached the consumer: its listing is here
        consumer->needs_reconcile = false;
        OB_TRY_VOID(db_->put_consumer(*consumer));
      }
      for (const pb::HeldSlot& held : request.slots()) {
        if (!seen.emplace(held.file_id(), held.slot()).second) continue;  // listed twice
        auto it = views.find(held.file_id());
        if (it == views.end()) {
          OB_TRY(FileView view, view_file(*db_, held.file_id()));
          it = views.emplace(held.file_id(), std::move(view)).first;
        }
        FileView& view = it->second;
        switch (judge_held(view, peer, held.slot())) {
          case HeldVerdict::keep: break;
          case HeldVerdict::adopt_assigned: {
            auto row = std::find_if(view.rows.begin(), view.rows.end(),
                                    [&](const SlotRow& r) { return r.slot == held.slot(); });
            OB_TRY(std::optional<Transition> t, apply_event(*row, SlotEvent::held_listed, now_ms));
            if (t) {
              row->state = SlotState::verifying;
              ++adopted_count;
            }
            break;
          }
          case HeldVerdict::adopt_unplaced: {
            SlotRow row = adopted(held.file_id(), held.slot(), peer, now_ms);
            OB_TRY_VOID(db_->insert_slot(row));
            view.rows.push_back(std::move(row));
            ++adopted_count;
            break;
          }
          case HeldVerdict::discard: *reply->add_orders() = delete_order(held.file_id(), held.slot()); break;
        }
      }
      return {};
    }));
  }
  reply->set_adopted(adopted_count);
  if (adopted_count > 0 || reply->orders_size() > 0) {
    spdlog::info("consumer {} listed {} slot(s): {} adopted (to be verified), {} to delete", peer,
                 request.slots_size(), adopted_count, reply->orders_size());
  }
  if (adopted_count > 0) wake_challenges();
  return grpc::Status::OK;
}

grpc::Status Tracker::consumer_status(const net::PeerId& caller, pb::ConsumerStatusReply* reply) {
  std::lock_guard lock(mutex_);
  TRACKER_TRY(std::optional<ConsumerRow> consumer, db_->consumer(caller.to_string()));
  if (!consumer) return {grpc::StatusCode::NOT_FOUND, "consumer " + caller.to_string() + " is not registered"};
  TRACKER_TRY(auto loads, db_->consumer_loads());
  TRACKER_TRY(*reply->mutable_info(), consumer_info(*consumer, loads, now()));
  return grpc::Status::OK;
}

grpc::Status Tracker::list_consumers(pb::ListConsumersReply* reply) {
  std::lock_guard lock(mutex_);
  TRACKER_TRY(std::vector<ConsumerRow> consumers, db_->consumers());
  TRACKER_TRY(auto loads, db_->consumer_loads());
  const std::int64_t now_ms = now();
  for (const ConsumerRow& consumer : consumers) {
    TRACKER_TRY(*reply->add_consumers(), consumer_info(consumer, loads, now_ms));
  }
  return grpc::Status::OK;
}

Result<std::vector<metrics::Gauge>> Tracker::gauges() {
  std::lock_guard lock(mutex_);
  OB_TRY(std::vector<ConsumerRow> consumers, db_->consumers());
  OB_TRY(std::vector<FileRow> files, db_->files());
  double online = 0;
  for (const ConsumerRow& consumer : consumers) online += consumer.online ? 1 : 0;
  std::map<std::string, double> by_status;
  for (const char* name : {"UPLOADING", "UPLOADED", "DEGRADED", "LOST", "REMOVING"}) by_status[name] = 0;
  double slots_stored = 0;
  for (const FileRow& file : files) {
    OB_TRY(pb::FileInfo info, file_info(file));
    slots_stored += info.slots_stored();
    std::string name = pb::FileStatus_Name(info.status());
    if (name.starts_with("STATUS_")) name.erase(0, 7);
    ++by_status[name];
  }
  std::vector<metrics::Gauge> gauges{
      {"ob_tracker_consumers", "Consumers the tracker knows.", static_cast<double>(consumers.size()), {}},
      {"ob_tracker_consumers_online", "Consumers heard from within offline_after.", online, {}},
      {"ob_tracker_slots_stored", "Slots stored on online consumers, over all files.", slots_stored, {}}};
  for (const auto& [name, count] : by_status) {
    gauges.push_back({"ob_tracker_files", "Files by status.", count, {{"status", name}}});
  }
  return gauges;
}

// --- maintenance and audits ----------------------------------------------------------------------

Result<void> Tracker::maintain() {
  std::lock_guard lock(mutex_);
  const std::int64_t now_ms = now();
  std::uint64_t lost_offline = 0, lost_unanswered = 0, placed_total = 0;
  const Result<void> applied = db_->transaction([&]() -> Result<void> {
    // 1. Silent consumers go offline and lose their slots; when they are back they list what
    //    they hold, and what is not theirs any more is deleted.
    OB_TRY(std::vector<ConsumerRow> consumers, db_->consumers());
    for (ConsumerRow& consumer : consumers) {
      if (!consumer.online || now_ms - consumer.last_seen_ms <= settings_.offline_after.count()) continue;
      consumer.online = false;
      consumer.needs_reconcile = true;
      OB_TRY_VOID(db_->put_consumer(consumer));
      OB_TRY(std::vector<SlotRow> rows, db_->slots_of_consumer(consumer.peer_id));
      for (const SlotRow& row : rows) {
        OB_TRY(std::optional<Transition> t, apply_event(row, SlotEvent::consumer_offline, now_ms));
        (void)t;
      }
      OB_TRY_VOID(db_->delete_discards_of(consumer.peer_id));
      spdlog::warn("consumer {} silent for {} ms: offline, {} slot(s) to repair", consumer.peer_id,
                   now_ms - consumer.last_seen_ms, rows.size());
      lost_offline += rows.size();
    }
    // 2. Assignments past their deadline are taken back; slots whose consumer has not answered
    //    a challenge for too long stop counting.
    OB_TRY(std::vector<FileRow> files, db_->files());
    std::map<std::string, const FileRow*> by_id;
    for (const FileRow& file : files) by_id.emplace(file.file_id, &file);
    OB_TRY(std::vector<SlotRow> rows, db_->all_slots());
    for (const SlotRow& row : rows) {
      const auto it = by_id.find(row.file_id);
      if (it == by_id.end()) continue;
      if (row.state == SlotState::assigned &&
          now_ms - row.assigned_ms > static_cast<std::int64_t>(slot_deadline_ms(settings_, *it->second))) {
        OB_TRY(std::optional<Transition> t, apply_event(row, SlotEvent::store_timed_out, now_ms));
        if (t) {
          spdlog::warn("slot {} of {} not stored by {} in time: placing it elsewhere", row.slot, row.file_id,
                       row.consumer);
        }
      } else if (unanswered_too_long(row, now_ms, settings_.unanswered_after.count())) {
        OB_TRY(std::optional<Transition> t, apply_event(row, SlotEvent::unanswered_too_long, now_ms));
        if (t) {
          ++lost_unanswered;
          spdlog::warn("slot {} of {} ({}) on {}: no proof for {} ms: it no longer counts, placing it elsewhere",
                       row.slot, row.file_id, state_name(row.state), row.consumer, now_ms - row.unanswered_since_ms);
        }
      }
    }
    // 3. Removed files without rows disappear; uploads that reached their availability are marked.
    for (const FileRow& file : files) {
      if (file.removing || !file.uploaded_once) OB_TRY_VOID(settle_file(file.file_id));
    }
    // 4. Missing slots are placed, higher tiers first (files() orders them so).
    OB_TRY(Pool pool, load_pool());
    for (const FileRow& file : files) {
      if (file.removing) continue;
      OB_TRY(std::uint32_t placed_count, place_missing(file, pool, now_ms));
      placed_total += placed_count;
    }
    return {};
  });
  if (!applied) return applied;
  // Counted once the transaction has committed.
  static metrics::Counter& lost = metrics::counter("ob_tracker_slots_lost_offline_total",
                                                   "Slots lost because their consumer went offline (repaired elsewhere).");
  static metrics::Counter& unanswered = metrics::counter(
      "ob_tracker_slots_dropped_unanswered_total",
      "Slots that stopped counting because their consumer answered no challenge for too long (repaired elsewhere).");
  static metrics::Counter& placed = metrics::counter("ob_tracker_slots_placed_total",
                                                     "Slots placed on consumers: new uploads, repairs and raised availability.");
  lost.add(lost_offline);
  unanswered.add(lost_unanswered);
  placed.add(placed_total);
  return {};
}

namespace {

/// One challenge of a round, read under the lock and run without it.
struct Challenge {
  SlotRow row;
  std::vector<std::string> addresses;
  std::shared_ptr<const Manifest> manifest;  ///< null: the stored manifest does not parse
  std::optional<Cid> file;
  std::optional<net::PeerId> consumer;
  std::uint64_t block = 0;
  /// nullopt: not run (an earlier challenge of the same consumer went unanswered).
  std::optional<Result<void>> outcome;
};

/// Runs `auditor` on every challenge: consumers in parallel (at most kParallelChallenges at
/// once), one consumer's challenges in turn, stopping at its first unanswered one so that an
/// unreachable consumer costs one deadline a round.
void run_challenges(std::vector<Challenge>& challenges, const Auditor& auditor) {
  std::map<std::string, std::vector<std::size_t>> by_consumer;
  for (std::size_t i = 0; i < challenges.size(); ++i) by_consumer[challenges[i].row.consumer].push_back(i);
  std::vector<const std::vector<std::size_t>*> groups;
  for (const auto& [consumer, indices] : by_consumer) groups.push_back(&indices);
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t g = next++; g < groups.size(); g = next++) {
      for (const std::size_t i : *groups[g]) {
        Challenge& c = challenges[i];
        if (!c.manifest || !c.file || !c.consumer) {
          c.outcome = fail(Errc::internal, "its stored peer ID, file ID or manifest does not parse");
          continue;
        }
        try {
          c.outcome = auditor(*c.consumer, c.addresses, *c.file, *c.manifest, c.row.slot, c.block);
        } catch (const std::exception& e) {
          c.outcome = fail(Errc::internal, "the challenge threw: ", e.what());
        }
        if (!*c.outcome && c.outcome->error().code == Errc::io) break;
      }
    }
  };
  const std::size_t threads = std::min(groups.size(), kParallelChallenges);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
}

}  // namespace

Result<AuditRound> Tracker::audit_round(const Auditor& auditor) {
  AuditRound round;
  std::vector<Challenge> challenges;
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now_ms = now();
    const std::uint32_t limit = std::max<std::uint32_t>(settings_.challenges_per_round, 1);
    OB_TRY(std::vector<SlotRow> due, db_->due_slots(now_ms, limit));
    round.more = due.size() >= limit;
    std::map<std::string, std::shared_ptr<const Manifest>> manifests;
    std::map<std::string, std::vector<std::string>> addresses;
    for (SlotRow& row : due) {
      auto m = manifests.find(row.file_id);
      if (m == manifests.end()) {
        OB_TRY(std::optional<FileRow> file, db_->file(row.file_id));
        std::shared_ptr<const Manifest> manifest;
        if (file) {
          if (auto decoded = Manifest::decode(file->manifest); decoded && decoded->stripe_count() > 0) {
            manifest = std::make_shared<const Manifest>(std::move(*decoded));
          }
        }
        m = manifests.emplace(row.file_id, std::move(manifest)).first;
      }
      auto a = addresses.find(row.consumer);
      if (a == addresses.end()) {
        OB_TRY(std::optional<ConsumerRow> consumer, db_->consumer(row.consumer));
        a = addresses.emplace(row.consumer, consumer ? consumer->addresses : std::vector<std::string>{}).first;
      }
      Challenge c;
      c.addresses = a->second;
      c.manifest = m->second;
      if (auto cid = Cid::parse(row.file_id)) c.file = *cid;
      if (auto peer = net::PeerId::parse(row.consumer)) c.consumer = *peer;
      if (c.manifest) {
        c.block = std::uniform_int_distribution<std::uint64_t>(0, c.manifest->stripe_count() - 1)(rng_);
      }
      c.row = std::move(row);
      challenges.push_back(std::move(c));
    }
  }
  if (challenges.empty()) return round;
  run_challenges(challenges, auditor);

  {
    std::lock_guard lock(mutex_);
    const std::int64_t now_ms = now();
    const Result<void> applied = db_->transaction([&]() -> Result<void> {
      std::set<std::string> touched;
      std::map<std::string, ConsumerRow> consumers;
      for (const Challenge& c : challenges) {
        if (!c.outcome) continue;  // not run: still due, next round
        const Result<void>& outcome = *c.outcome;
        SlotEvent event = SlotEvent::proof_passed;
        if (!outcome) {
          switch (outcome.error().code) {
            case Errc::corrupt:
            case Errc::not_found: event = SlotEvent::proof_failed; break;
            case Errc::io: event = SlotEvent::proof_unanswered; break;
            default: event = SlotEvent::proof_skipped; break;
          }
          const auto log = event == SlotEvent::proof_skipped ? spdlog::level::err : spdlog::level::warn;
          spdlog::log(log, "challenge of slot {} of {} (block {}) on {}: {}", c.row.slot, c.row.file_id, c.block,
                      c.row.consumer, outcome.error().message);
        }
        if (event == SlotEvent::proof_skipped) {
          ++round.skipped;
        } else {
          auto it = consumers.find(c.row.consumer);
          if (it == consumers.end()) {
            OB_TRY(std::optional<ConsumerRow> consumer, db_->consumer(c.row.consumer));
            if (consumer) it = consumers.emplace(c.row.consumer, std::move(*consumer)).first;
          }
          if (it != consumers.end()) ++(event == SlotEvent::proof_passed ? it->second.audits_passed
                                                                          : it->second.audits_failed);
          ++(event == SlotEvent::proof_passed ? round.passed : round.failed);
          if (event == SlotEvent::proof_unanswered) ++round.unanswered;
        }
        // The row as it is now: it may have changed while the challenge ran.
        OB_TRY(std::vector<SlotRow> rows, db_->slots_of_file(c.row.file_id));
        const auto row = std::find_if(rows.begin(), rows.end(), [&](const SlotRow& r) {
          return r.slot == c.row.slot && r.consumer == c.row.consumer;
        });
        if (row == rows.end()) continue;
        const SlotState before = row->state;
        OB_TRY(std::optional<Transition> t, apply_event(*row, event, now_ms));
        if (!t) continue;
        if (t->removed) {
          ++round.dropped;
          touched.insert(c.row.file_id);
          spdlog::warn("slot {} of {} failed its challenge on {}: placing it elsewhere, the consumer is told to delete it",
                       c.row.slot, c.row.file_id, c.row.consumer);
        } else if (before == SlotState::verifying && event == SlotEvent::proof_passed) {
          ++round.verified;
          touched.insert(c.row.file_id);
          spdlog::info("slot {} of {} proven on {}: it counts", c.row.slot, c.row.file_id, c.row.consumer);
        }
      }
      for (const auto& [peer, consumer] : consumers) OB_TRY_VOID(db_->put_consumer(consumer));
      return settle_and_place(touched, now_ms);
    });
    if (!applied) return std::unexpected(applied.error());
  }
  static metrics::Counter& passed = metrics::counter("ob_tracker_audits_passed_total", "Challenges whose proof checked.");
  static metrics::Counter& failed = metrics::counter(
      "ob_tracker_audits_failed_total", "Challenges that failed (wrong or missing block, unreachable).");
  static metrics::Counter& verified =
      metrics::counter("ob_tracker_slots_verified_total", "Slots reported stored and then proven: they count from then on.");
  static metrics::Counter& dropped = metrics::counter(
      "ob_tracker_slots_dropped_by_audit_total", "Slots taken from a consumer after a wrong proof or a missing slot.");
  passed.add(round.passed);
  failed.add(round.failed);
  verified.add(round.verified);
  dropped.add(round.dropped);
  return round;
}

// --- gRPC adapters -------------------------------------------------------------------------------

namespace {

/// Runs `body` with the authenticated caller; no exception leaves a gRPC handler.
template <typename Body>
grpc::Status as_caller(grpc::ServerContext* context, Body&& body) {
  try {
    auto caller = net::caller_peer_id(*context);
    if (!caller) return {grpc::StatusCode::UNAUTHENTICATED, caller.error().message};
    return body(*caller);
  } catch (const std::exception& e) {
    spdlog::error("tracker: {}", e.what());
    return {grpc::StatusCode::INTERNAL, std::string("tracker: ") + e.what()};
  }
}

}  // namespace

grpc::Status MarketService::RegisterFile(grpc::ServerContext* context, const pb::RegisterFileRequest* request,
                                         pb::RegisterFileReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.register_file(caller, *request, reply); });
}

grpc::Status MarketService::GetMarket(grpc::ServerContext*, const pb::GetMarketRequest*, pb::GetMarketReply* reply) {
  return tracker_.get_market(reply);
}

grpc::Status MarketService::CheckHolders(grpc::ServerContext* context, const pb::CheckHoldersRequest* request,
                                         pb::CheckHoldersReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.check_holders(caller, *request, reply); });
}

grpc::Status ProducerService::ListFiles(grpc::ServerContext* context, const pb::ListFilesRequest* request,
                                        pb::ListFilesReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.list_files(caller, *request, reply); });
}

grpc::Status ProducerService::RemoveFile(grpc::ServerContext* context, const pb::RemoveFileRequest* request,
                                         pb::RemoveFileReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.remove_file(caller, *request, reply); });
}

grpc::Status ProducerService::EditFile(grpc::ServerContext* context, const pb::EditFileRequest* request,
                                       pb::EditFileReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.edit_file(caller, *request, reply); });
}

grpc::Status ProducerService::ConfirmDownload(grpc::ServerContext* context, const pb::ConfirmDownloadRequest* request,
                                              pb::ConfirmDownloadReply* reply) {
  return as_caller(context,
                   [&](const net::PeerId& caller) { return tracker_.confirm_download(caller, *request, reply); });
}

grpc::Status ProducerService::PutIndexRecord(grpc::ServerContext* context, const pb::PutIndexRecordRequest* request,
                                             pb::PutIndexRecordReply* reply) {
  return as_caller(context,
                   [&](const net::PeerId& caller) { return tracker_.put_index_record(caller, *request, reply); });
}

grpc::Status ProducerService::GetIndexRecord(grpc::ServerContext* context, const pb::GetIndexRecordRequest* request,
                                             pb::GetIndexRecordReply* reply) {
  return as_caller(context,
                   [&](const net::PeerId& caller) { return tracker_.get_index_record(caller, *request, reply); });
}

grpc::Status ConsumerService::RegisterConsumer(grpc::ServerContext* context, const pb::RegisterConsumerRequest* request,
                                               pb::RegisterConsumerReply* reply) {
  return as_caller(context,
                   [&](const net::PeerId& caller) { return tracker_.register_consumer(caller, *request, reply); });
}

grpc::Status ConsumerService::Heartbeat(grpc::ServerContext* context, const pb::HeartbeatRequest* request,
                                        pb::HeartbeatReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.heartbeat(caller, *request, reply); });
}

grpc::Status ConsumerService::ReportSlots(grpc::ServerContext* context, const pb::ReportSlotsRequest* request,
                                          pb::ReportSlotsReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.report_slots(caller, *request, reply); });
}

grpc::Status ConsumerService::ReconcileSlots(grpc::ServerContext* context, const pb::ReconcileSlotsRequest* request,
                                             pb::ReconcileSlotsReply* reply) {
  return as_caller(context,
                   [&](const net::PeerId& caller) { return tracker_.reconcile_slots(caller, *request, reply); });
}

grpc::Status ConsumerService::Status(grpc::ServerContext* context, const pb::ConsumerStatusRequest*,
                                     pb::ConsumerStatusReply* reply) {
  return as_caller(context, [&](const net::PeerId& caller) { return tracker_.consumer_status(caller, reply); });
}

grpc::Status ConsumerService::ListConsumers(grpc::ServerContext* context, const pb::ListConsumersRequest*,
                                            pb::ListConsumersReply* reply) {
  return as_caller(context, [&](const net::PeerId&) { return tracker_.list_consumers(reply); });
}

}  // namespace ob::tracker
