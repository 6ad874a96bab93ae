// The tracker's logic (docs/tracker.md) and its gRPC services (proto/tracker.proto): the Market,
// Producer and Consumer services over one Tracker, which keeps every consumer, file and slot
// assignment in the TrackerDb, places slots by nice points, turns silent consumers offline,
// proves every slot a consumer reports stored before it counts, audits, and repairs. Slot rows
// change state only through the lifecycle of slot_lifecycle.h.
//
// Every request is untrusted: fields are checked against the proto's limits before anything is
// read or stored (INVALID_ARGUMENT with a message naming the field), and a refused request
// changes nothing. The caller is the peer ID of its TLS client certificate, never a field.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "coding/manifest.h"
#include "core/cid.h"
#include "core/error.h"
#include "core/metrics.h"
#include "net/identity.h"
#include "net/tls.h"
#include "proto/tracker.grpc.pb.h"
#include "tracker/slot_lifecycle.h"
#include "tracker/tracker_db.h"

namespace ob::tracker {

class MarketPlacer;

/// Unix time in milliseconds; tests substitute a fake clock.
using Clock = std::function<std::int64_t()>;

/// The system clock as a Clock.
std::int64_t system_now_ms();

/// How the tracker behaves (docs/tracker.md "Flags").
/// The storage market a tracker runs with (`tracker --chain-rpc`), as it tells consumers at
/// registration (RegisterConsumerReply.market).
struct MarketSettings {
  std::uint64_t chain_id = 0;
  std::string address;  ///< StorageMarket's address, EIP-55
  std::string placer;   ///< the tracker's account, EIP-55
};

struct TrackerSettings {
  /// Interval told to consumers (RegisterConsumerReply.heartbeat_interval_ms).
  std::chrono::milliseconds heartbeat_interval{5000};
  /// A consumer silent this long goes offline and loses its slot assignments.
  std::chrono::milliseconds offline_after{15000};
  /// An assigned slot not reported stored within store_timeout plus its bytes at
  /// store_min_bytes_per_second is taken back and placed elsewhere.
  std::chrono::milliseconds store_timeout{120'000};
  std::uint64_t store_min_bytes_per_second = 1024 * 1024;
  /// A proven slot is challenged again at most this long after its last proof (oldest first);
  /// 0 = no audits (slots are still proven once before they count).
  std::chrono::milliseconds audit_interval{60'000};
  /// A slot whose consumer owes an answer for longer than this stops counting, is placed
  /// elsewhere and its consumer told to delete it: a verifying slot owes one from its STORED
  /// report, a stored slot from its first unanswered challenge. Unanswered challenges are
  /// retried every heartbeat_interval.
  std::chrono::milliseconds unanswered_after{15'000};
  /// Challenges per round at most (verifying slots first, then stored ones, longest due first).
  std::uint32_t challenges_per_round = 256;
  /// Deadline of one challenge call.
  std::chrono::milliseconds audit_deadline{10'000};
  /// Empty: the system clock.
  Clock clock;
  /// The market on chain; none: the Free tier only.
  std::optional<MarketSettings> market;
  /// The tracker's account on that market (checks requests, signs fill permits, validates);
  /// set exactly when `market` is. Shared with the validator thread.
  std::shared_ptr<MarketPlacer> placer;
};

/// One audit: asks `consumer` (at one of `addresses`) to prove block `block` of slot `slot` of
/// file `file` (exchange::audit_slot). Errors as audit_slot: (corrupt) a wrong proof,
/// (not_found) the consumer does not hold it, (io) unreachable; anything else does not count.
using Auditor = std::function<Result<void>(const net::PeerId& consumer, const std::vector<std::string>& addresses,
                                           const Cid& file, const Manifest& manifest, std::uint32_t slot,
                                           std::uint64_t block)>;

/// The real auditor: exchange::audit_slot over TLS presenting `tls`, trying each address in
/// turn while the previous one was unreachable.
Auditor network_auditor(net::TlsIdentity tls, std::chrono::milliseconds deadline);

/// A consumer's nice points, 0..100 (docs/tracker.md "Nice points"): audit score (Laplace prior)
/// times a weighted sum of uptime ratio, measured throughput and free capacity fraction.
/// `load` is what its slot rows take; `now_ms` the current time.
double nice_points(const ConsumerRow& consumer, const ConsumerLoad& load, std::int64_t now_ms);

/// Free bytes of a consumer for placement: capacity minus the larger of its reported use and
/// the slots it holds, minus the slots assigned to it and not yet stored; no more than the free
/// bytes it reported (its file system's) minus those assigned slots; 0 when negative.
std::uint64_t free_bytes(const ConsumerRow& consumer, const ConsumerLoad& load);

/// What one round of challenges (verifications and audits) did.
struct AuditRound {
  std::uint32_t passed = 0;
  std::uint32_t failed = 0;      ///< counted as failures (corrupt, not_found, io)
  std::uint32_t verified = 0;    ///< slots proven for the first time: they count from now on
  std::uint32_t dropped = 0;     ///< slot rows removed for a wrong proof or a missing slot
  std::uint32_t unanswered = 0;  ///< challenges without an answer (io): retried, then lost
  std::uint32_t skipped = 0;     ///< challenges that could not be run (counted against nobody)
  bool more = false;             ///< more slots were due than one round takes
};

/// The tracker's state and workflows. Thread-safe: one mutex serialises every database access;
/// challenges release it while they wait for consumers.
class Tracker {
 public:
  /// Opens (or creates) the database at `db_path`. Consumers online at the last stop get one
  /// offline_after from now to call again. Errors as TrackerDb::open.
  static Result<std::unique_ptr<Tracker>> open(const std::filesystem::path& db_path, TrackerSettings settings);

  // --- Market ---
  grpc::Status register_file(const net::PeerId& caller, const openbucket::tracker::v1::RegisterFileRequest& request,
                             openbucket::tracker::v1::RegisterFileReply* reply);
  grpc::Status check_holders(const net::PeerId& caller, const openbucket::tracker::v1::CheckHoldersRequest& request,
                             openbucket::tracker::v1::CheckHoldersReply* reply);
  /// The market of the paid tiers (empty reply without one).
  grpc::Status get_market(openbucket::tracker::v1::GetMarketReply* reply);
  // --- Producer ---
  grpc::Status list_files(const net::PeerId& caller, const openbucket::tracker::v1::ListFilesRequest& request,
                          openbucket::tracker::v1::ListFilesReply* reply);
  grpc::Status remove_file(const net::PeerId& caller, const openbucket::tracker::v1::RemoveFileRequest& request,
                           openbucket::tracker::v1::RemoveFileReply* reply);
  grpc::Status edit_file(const net::PeerId& caller, const openbucket::tracker::v1::EditFileRequest& request,
                         openbucket::tracker::v1::EditFileReply* reply);
  /// confirmDownload of the storage request of the caller's paid-tier file, from the placer's
  /// account (the chain call runs outside the tracker's lock).
  grpc::Status confirm_download(const net::PeerId& caller,
                                const openbucket::tracker::v1::ConfirmDownloadRequest& request,
                                openbucket::tracker::v1::ConfirmDownloadReply* reply);
  /// Keeps the caller's newest file index record (docs/formats.md "The file index"): verified
  /// against the caller's peer ID and the locator; a lower sequence, or a locator another peer
  /// put, is refused and changes nothing.
  grpc::Status put_index_record(const net::PeerId& caller, const openbucket::tracker::v1::PutIndexRecordRequest& request,
                                openbucket::tracker::v1::PutIndexRecordReply* reply);
  /// The record under a locator, for the peer that put it only (NOT_FOUND for anyone else).
  grpc::Status get_index_record(const net::PeerId& caller, const openbucket::tracker::v1::GetIndexRecordRequest& request,
                                openbucket::tracker::v1::GetIndexRecordReply* reply);
  // --- Consumer ---
  grpc::Status register_consumer(const net::PeerId& caller,
                                 const openbucket::tracker::v1::RegisterConsumerRequest& request,
                                 openbucket::tracker::v1::RegisterConsumerReply* reply);
  grpc::Status heartbeat(const net::PeerId& caller, const openbucket::tracker::v1::HeartbeatRequest& request,
                         openbucket::tracker::v1::HeartbeatReply* reply);
  grpc::Status report_slots(const net::PeerId& caller, const openbucket::tracker::v1::ReportSlotsRequest& request,
                            openbucket::tracker::v1::ReportSlotsReply* reply);
  grpc::Status reconcile_slots(const net::PeerId& caller, const openbucket::tracker::v1::ReconcileSlotsRequest& request,
                               openbucket::tracker::v1::ReconcileSlotsReply* reply);
  grpc::Status consumer_status(const net::PeerId& caller, openbucket::tracker::v1::ConsumerStatusReply* reply);
  grpc::Status list_consumers(openbucket::tracker::v1::ListConsumersReply* reply);

  /// The storage requests of the paid-tier files not being removed (decimal IDs): what the
  /// validator watches. Errors (io): the database.
  Result<std::vector<std::string>> paid_requests();

  /// Settles the claims of consumers that reported storing a paid-tier slot the tracker had
  /// given to another. Two fill permits of one round are both valid on chain when the slot's
  /// assignment moved while the first consumer was still filling (its first try failed, a
  /// repeated order made it try again), so the first to fill wins: the chain decides. The
  /// consumer whose account hosts the slot on chain gets the slot's row (adopted, verifying;
  /// the other assignment is dropped) instead of being told to delete what it is paid and
  /// slashed for; any other claimant is told to delete its copy. The chain is read without
  /// the lock; a claim it cannot settle now is tried again next call, kClaimAttempts times.
  /// Called by the validator thread (and tests). Database errors are logged.
  void settle_holder_claims();
  static constexpr int kClaimAttempts = 5;

  /// Gauges for the tracker's GET /metrics: consumers known and online, slots stored on
  /// online consumers, files by status. Errors (io): the database.
  Result<std::vector<metrics::Gauge>> gauges();

  /// One maintenance pass (docs/tracker.md "Repair"): silent consumers go offline and lose their
  /// slots; assignments past their deadline are taken back; slots unanswered for longer than
  /// unanswered_after are lost; removed files whose slots are all gone disappear; missing slots
  /// are placed, higher tiers first. Errors (io): the database.
  Result<void> maintain();
  /// One round of challenges (docs/tracker.md "Verification and audits"): up to
  /// settings.challenges_per_round slots of online consumers that are due, verifying ones
  /// first, each asked for a random block and its Merkle path through `auditor` (called
  /// without the lock held; consumers in parallel, one consumer's challenges in turn, stopping
  /// at its first unanswered one). Errors (io): the database.
  Result<AuditRound> audit_round(const Auditor& auditor);
  /// Calls `listener` (without the lock held) whenever slots become due for a challenge at once
  /// (a STORED report, an adopted slot): the server wakes its challenge thread with it.
  void set_challenge_listener(std::function<void()> listener);

  const TrackerSettings& settings() const noexcept { return settings_; }

 private:
  Tracker(std::unique_ptr<TrackerDb> db, TrackerSettings settings);
  std::int64_t now() const { return settings_.clock(); }
  /// Online time to credit an online consumer calling at `now_ms`: the gap since its last call,
  /// at most offline_after.
  std::int64_t online_gap(const ConsumerRow& consumer, std::int64_t now_ms) const;

  /// Every consumer and what its rows take: loaded once per operation, updated as it places.
  struct Pool;
  Result<Pool> load_pool();
  /// Places missing slots 0..n'-1 of `file` (not removing) on the best consumers of `pool`.
  /// Returns how many were placed. Caller holds mutex_ and an open transaction.
  Result<std::uint32_t> place_missing(const FileRow& file, Pool& pool, std::int64_t now_ms);
  /// Marks slots >= `from_slot` of a file deleting; rows of offline consumers are dropped.
  Result<void> retire_slots(const std::string& file_id, std::uint32_t from_slot);
  /// Applies `event` to `row` (slot_lifecycle.h) and writes what it says: the row changed or
  /// removed, the consumer avoided for the file, a deletion to order. Returns the transition
  /// (nullopt: the event meant nothing in the row's state). Caller holds mutex_.
  Result<std::optional<Transition>> apply_event(SlotRow row, SlotEvent event, std::int64_t now_ms);
  /// The challenge schedule of settings_.
  ChallengeTimes challenge_times() const;
  /// Calls the challenge listener, if any. Caller does not hold mutex_.
  void wake_challenges();
  /// Deletes the file if it is removing and no rows remain; sets uploaded_once when reached.
  Result<void> settle_file(const std::string& file_id);
  /// settle_file, then place_missing, for each of `file_ids` (whose slots just changed).
  /// Caller holds mutex_ and an open transaction.
  Result<void> settle_and_place(const std::set<std::string>& file_ids, std::int64_t now_ms);
  /// Signs the fill permit of every paid-tier STORE order of `reply` for the consumer's
  /// `account`; an order whose permit cannot be made now is left out. Caller does not hold mutex_.
  void add_fill_permits(const std::string& account, openbucket::tracker::v1::HeartbeatReply& reply);
  /// The FileInfo of `file` as it stands.
  Result<openbucket::tracker::v1::FileInfo> file_info(const FileRow& file);
  Result<openbucket::tracker::v1::ConsumerInfo> consumer_info(const ConsumerRow& consumer,
                                                              const std::map<std::string, ConsumerLoad>& loads,
                                                              std::int64_t now_ms);
  /// The STORE order sources of a file: the producer while it may still be needed, and every
  /// online consumer holding a stored slot other than `for_consumer`.
  Result<std::vector<openbucket::tracker::v1::PeerAddress>> sources_of(const FileRow& file,
                                                                       const std::string& for_consumer);

  /// A consumer's report of a paid-tier slot it stored but is not assigned (settle_holder_claims).
  struct HolderClaim {
    std::string file_id;
    std::uint32_t slot = 0;
    std::string consumer;    ///< peer ID
    std::string account;     ///< its market account, EIP-55
    std::string request_id;  ///< decimal
    int attempts = 0;        ///< chain reads that failed so far
  };

  TrackerSettings settings_;
  std::function<void()> challenge_listener_;  ///< set before serving; read-only afterwards
  std::vector<HolderClaim> holder_claims_;  ///< guarded by mutex_
  std::mutex mutex_;                ///< guards db_, rng_ and holder_claims_
  std::unique_ptr<TrackerDb> db_;
  std::mt19937_64 rng_;
};

/// gRPC adapter of Market: authenticates the caller and calls the Tracker.
class MarketService final : public openbucket::tracker::v1::Market::Service {
 public:
  explicit MarketService(Tracker& tracker) : tracker_(tracker) {}
  grpc::Status RegisterFile(grpc::ServerContext* context, const openbucket::tracker::v1::RegisterFileRequest* request,
                            openbucket::tracker::v1::RegisterFileReply* reply) override;
  grpc::Status CheckHolders(grpc::ServerContext* context, const openbucket::tracker::v1::CheckHoldersRequest* request,
                            openbucket::tracker::v1::CheckHoldersReply* reply) override;
  grpc::Status GetMarket(grpc::ServerContext* context, const openbucket::tracker::v1::GetMarketRequest* request,
                         openbucket::tracker::v1::GetMarketReply* reply) override;

 private:
  Tracker& tracker_;
};

/// gRPC adapter of Producer.
class ProducerService final : public openbucket::tracker::v1::Producer::Service {
 public:
  explicit ProducerService(Tracker& tracker) : tracker_(tracker) {}
  grpc::Status ListFiles(grpc::ServerContext* context, const openbucket::tracker::v1::ListFilesRequest* request,
                         openbucket::tracker::v1::ListFilesReply* reply) override;
  grpc::Status RemoveFile(grpc::ServerContext* context, const openbucket::tracker::v1::RemoveFileRequest* request,
                          openbucket::tracker::v1::RemoveFileReply* reply) override;
  grpc::Status EditFile(grpc::ServerContext* context, const openbucket::tracker::v1::EditFileRequest* request,
                        openbucket::tracker::v1::EditFileReply* reply) override;
  grpc::Status ConfirmDownload(grpc::ServerContext* context,
                               const openbucket::tracker::v1::ConfirmDownloadRequest* request,
                               openbucket::tracker::v1::ConfirmDownloadReply* reply) override;
  grpc::Status PutIndexRecord(grpc::ServerContext* context, const openbucket::tracker::v1::PutIndexRecordRequest* request,
                              openbucket::tracker::v1::PutIndexRecordReply* reply) override;
  grpc::Status GetIndexRecord(grpc::ServerContext* context, const openbucket::tracker::v1::GetIndexRecordRequest* request,
                              openbucket::tracker::v1::GetIndexRecordReply* reply) override;

 private:
  Tracker& tracker_;
};

/// gRPC adapter of Consumer.
class ConsumerService final : public openbucket::tracker::v1::Consumer::Service {
 public:
  explicit ConsumerService(Tracker& tracker) : tracker_(tracker) {}
  grpc::Status RegisterConsumer(grpc::ServerContext* context,
                                const openbucket::tracker::v1::RegisterConsumerRequest* request,
                                openbucket::tracker::v1::RegisterConsumerReply* reply) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const openbucket::tracker::v1::HeartbeatRequest* request,
                         openbucket::tracker::v1::HeartbeatReply* reply) override;
  grpc::Status ReportSlots(grpc::ServerContext* context, const openbucket::tracker::v1::ReportSlotsRequest* request,
                           openbucket::tracker::v1::ReportSlotsReply* reply) override;
  grpc::Status ReconcileSlots(grpc::ServerContext* context,
                              const openbucket::tracker::v1::ReconcileSlotsRequest* request,
                              openbucket::tracker::v1::ReconcileSlotsReply* reply) override;
  grpc::Status Status(grpc::ServerContext* context, const openbucket::tracker::v1::ConsumerStatusRequest* request,
                      openbucket::tracker::v1::ConsumerStatusReply* reply) override;
  grpc::Status ListConsumers(grpc::ServerContext* context, const openbucket::tracker::v1::ListConsumersRequest* request,
                             openbucket::tracker::v1::ListConsumersReply* reply) override;

 private:
  Tracker& tracker_;
};

}  // namespace ob::tracker
