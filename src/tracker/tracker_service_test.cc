// The tracker end to end over gRPC: a real TLS server on 127.0.0.1:0, producers and consumers as
// clients with their own identities, a fake clock, and maintenance and audits driven by hand
// (one test runs the real threads).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "exchange/exchange_service.h"
#include "exchange/fetcher.h"
#include "node/engine.h"
#include "testing/test_util.h"
#include "tracker/tracker.h"
#include "discovery/dht.h"
#include "tracker/tracker_client.h"

namespace ob::tracker {
namespace {

namespace pb = openbucket::tracker::v1;
using ob::testing::seeded_bytes;

constexpr std::int64_t kStart = 1'700'000'000'000;
constexpr std::uint64_t kGB = 1'000'000'000;

/// An encoded manifest with k + m random roots; `seed` makes it unique.
Bytes make_manifest(std::uint32_t k, std::uint32_t m, std::uint64_t seed, std::uint64_t size = 1'000'000) {
  Manifest manifest;
  manifest.original_size = size;
  manifest.params = {k, m, 65536};
  manifest.key = {seeded_bytes(32, seed), seeded_bytes(12, seed + 1), seeded_bytes(48, seed + 2)};
  for (std::uint32_t i = 0; i < k + m; ++i) {
    merkle::Hash root;
    const Bytes b = seeded_bytes(32, seed * 1000 + i);
    std::copy(b.begin(), b.end(), root.begin());
    manifest.slot_roots.push_back(root);
  }
  manifest.encrypted_metadata = seeded_bytes(40, seed + 3);
  return manifest.encode();
}

/// A client of the tracker with its own identity.
struct Peer {
  net::Identity identity;
  net::TlsIdentity tls;
  TrackerClient client;
  std::string id() const { return identity.peer_id().to_string(); }
};

class TrackerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void TearDown() override { server_.reset(); }

  void start(std::chrono::milliseconds repair_tick = std::chrono::milliseconds(0), Clock clock = {}) {
    TrackerServerConfig config;
    config.listen = "127.0.0.1:0";
    config.db = dir_.path() / "tracker.db";
    config.settings.heartbeat_interval = std::chrono::milliseconds(1000);
    config.settings.offline_after = std::chrono::milliseconds(3000);
    config.settings.audit_interval = std::chrono::milliseconds(kAuditIntervalMs);
    config.settings.unanswered_after = std::chrono::milliseconds(kUnansweredAfterMs);
    config.settings.challenges_per_round = challenges_per_round_;
    config.settings.clock = clock ? clock : Clock([this] { return now_.load(); });
    config.settings.market = market_;
    config.repair_tick = repair_tick;
    config.challenge_tick = std::chrono::milliseconds(0);  // rounds are run by hand
    auto server = TrackerServer::start(std::move(config), tracker_tls_);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    address_ = TrackerAddress{tracker_identity_.peer_id(), "127.0.0.1:" + std::to_string(server_->port())};
  }
  void restart() {
    server_.reset();
    start();
  }

  Peer& peer(std::uint64_t seed) {
    auto it = peers_.find(seed);
    if (it == peers_.end()) {
      auto identity = net::Identity::from_seed(seeded_bytes(32, 1000 + seed));
      EXPECT_TRUE(identity);
      auto tls = net::make_tls_identity(*identity);
      EXPECT_TRUE(tls);
      TrackerClient client = TrackerClient::connect(address_, *tls);
      it = peers_.emplace(seed, std::make_unique<Peer>(Peer{std::move(*identity), *tls, client})).first;
    }
    return *it->second;
  }
  /// Clients must follow the server after a restart (new port).
  void reconnect() {
    for (auto& [seed, p] : peers_) p->client = TrackerClient::connect(address_, p->tls);
  }

  grpc::Status register_consumer(Peer& p, std::uint64_t capacity = 10 * kGB, std::uint64_t used = 0,
                                 std::optional<std::uint64_t> free = std::nullopt) {
    pb::RegisterConsumerRequest request;
    request.add_addresses("127.0.0.1:" + std::to_string(4000 + peers_.size()));
    request.set_capacity_bytes(capacity);
    request.set_used_bytes(used);
    if (free) request.set_free_bytes(*free);
    pb::RegisterConsumerReply reply;
    grpc::Status status = p.client.consumer().RegisterConsumer(call_context().get(), request, &reply);
    if (status.ok()) {
      EXPECT_EQ(reply.heartbeat_interval_ms(), 1000u);
      EXPECT_EQ(reply.has_market(), market_.has_value());
      last_market_ = reply.market();
    }
    return status;
  }
  pb::HeartbeatReply heartbeat(Peer& p, std::uint64_t capacity = 10 * kGB, std::uint64_t used = 0,
                               std::optional<std::uint64_t> free = std::nullopt) {
    pb::HeartbeatRequest request;
    request.set_capacity_bytes(capacity);
    request.set_used_bytes(used);
    if (free) request.set_free_bytes(*free);
    pb::HeartbeatReply reply;
    const grpc::Status status = p.client.consumer().Heartbeat(call_context().get(), request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply;
  }
  grpc::Status report(Peer& p, const std::string& file_id, std::uint32_t slot, pb::SlotReport::State state,
                      pb::SlotReport::Reason reason = pb::SlotReport::REASON_UNSPECIFIED) {
    pb::ReportSlotsRequest request;
    pb::SlotReport* r = request.add_reports();
    r->set_file_id(file_id);
    r->set_slot(slot);
    r->set_state(state);
    r->set_reason(reason);
    r->set_bytes(1'000'000);
    r->set_millis(100);
    pb::ReportSlotsReply reply;
    return p.client.consumer().ReportSlots(call_context().get(), request, &reply);
  }
  grpc::Status register_file(Peer& p, const Bytes& manifest, std::uint32_t availability, pb::RegisterFileReply* reply,
                             pb::Tier tier = pb::TIER_FREE, const std::string& path = "/docs/a.txt") {
    pb::RegisterFileRequest request;
    request.set_manifest(std::string(as_chars(manifest)));
    request.set_availability(availability);
    request.set_tier(tier);
    request.set_path(path);
    request.set_size(1'000'000);
    request.set_hash("d41d8cd98f00b204e9800998ecf8427e");
    request.add_source_addresses("127.0.0.1:5555");
    return p.client.market().RegisterFile(call_context().get(), request, reply);
  }
  std::string register_ok(Peer& p, const Bytes& manifest, std::uint32_t availability,
                          pb::Tier tier = pb::TIER_FREE) {
    pb::RegisterFileReply reply;
    const grpc::Status status = register_file(p, manifest, availability, &reply, tier);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(reply.file_id(), Manifest::cid_of(manifest).to_string());
    return reply.file_id();
  }
  Result<pb::FileInfo> file_info(Peer& p, const std::string& id) {
    pb::ListFilesRequest request;
    request.set_file_id(id);
    pb::ListFilesReply reply;
    const grpc::Status status = p.client.producer().ListFiles(call_context().get(), request, &reply);
    if (!status.ok()) return std::unexpected(call_error("ListFiles", status));
    EXPECT_EQ(reply.files_size(), 1);
    return reply.files(0);
  }
  std::map<std::string, pb::ConsumerInfo> consumers() {
    pb::ListConsumersReply reply;
    EXPECT_TRUE(peer(999).client.consumer().ListConsumers(call_context().get(), {}, &reply).ok());
    std::map<std::string, pb::ConsumerInfo> out;
    for (const auto& c : reply.consumers()) out[c.consumer().peer_id()] = c;
    return out;
  }
  /// Every registered consumer's heartbeat at the current time: its STORE orders, by consumer.
  std::map<std::string, std::vector<pb::SlotOrder>> orders(const std::vector<std::uint64_t>& seeds) {
    std::map<std::string, std::vector<pb::SlotOrder>> out;
    for (const std::uint64_t s : seeds) {
      const pb::HeartbeatReply reply = heartbeat(peer(s));
      for (const auto& order : reply.orders()) out[peer(s).id()].push_back(order);
    }
    return out;
  }
  /// Heartbeats from all of `seeds` and reports every STORE order stored; then, unless `prove`
  /// is false, a round of challenges that every consumer answers.
  void store_all(const std::vector<std::uint64_t>& seeds, bool prove = true) {
    for (const std::uint64_t s : seeds) {
      const pb::HeartbeatReply reply = heartbeat(peer(s));
      for (const auto& order : reply.orders()) {
        if (order.kind() == pb::SlotOrder::STORE) {
          EXPECT_TRUE(report(peer(s), order.file_id(), order.slot(), pb::SlotReport::STORED).ok());
        }
      }
    }
    if (prove) prove_all();
  }
  /// One round of challenges through `auditor`.
  AuditRound challenge(const Auditor& auditor) {
    auto round = server_->tracker().audit_round(auditor);
    EXPECT_TRUE(round) << round.error().message;
    return round ? *round : AuditRound{};
  }
  /// One round of challenges that every consumer answers with a good proof.
  AuditRound prove_all() {
    return challenge([](const net::PeerId&, const std::vector<std::string>&, const Cid&, const Manifest&,
                        std::uint32_t, std::uint64_t) -> Result<void> { return {}; });
  }
  /// A file's holders as CheckHolders says: slot -> (consumer, stored).
  std::map<std::uint32_t, std::pair<std::string, bool>> holders_of(Peer& asker, const std::string& id) {
    pb::CheckHoldersRequest check;
    check.set_file_id(id);
    pb::CheckHoldersReply reply;
    EXPECT_TRUE(asker.client.market().CheckHolders(call_context().get(), check, &reply).ok());
    std::map<std::uint32_t, std::pair<std::string, bool>> out;
    for (const auto& h : reply.holders()) out[h.slot()] = {h.consumer().peer_id(), h.stored()};
    return out;
  }
  /// The consumer's ReconcileSlots over `held` (file ID, slot) pairs.
  grpc::Status reconcile(Peer& p, const std::vector<std::pair<std::string, std::uint32_t>>& held,
                         pb::ReconcileSlotsReply* reply) {
    pb::ReconcileSlotsRequest request;
    for (const auto& [file_id, slot] : held) {
      pb::HeldSlot* h = request.add_slots();
      h->set_file_id(file_id);
      h->set_slot(slot);
    }
    return p.client.consumer().ReconcileSlots(call_context().get(), request, reply);
  }
  void advance(std::int64_t ms) { now_ += ms; }
  /// Time passes beyond the store timeout (2 minutes plus a slot's bytes at 1 MiB/s) while
  /// `seeds` keep heartbeating and the maintenance pass runs.
  void outlast_store_timeout(const std::vector<std::uint64_t>& seeds) {
    for (int i = 0; i < 50; ++i) {
      advance(2500);
      orders(seeds);
      maintain();
    }
  }
  void maintain() {
    auto ok = server_->tracker().maintain();
    ASSERT_TRUE(ok) << ok.error().message;
  }

  static constexpr std::int64_t kAuditIntervalMs = 10'000;
  static constexpr std::int64_t kUnansweredAfterMs = 5'000;
  std::uint32_t challenges_per_round_ = 256;
  ob::testing::TempDir dir_{"ob-tracker-test"};
  std::atomic<std::int64_t> now_{kStart};
  net::Identity tracker_identity_ = std::move(*net::Identity::from_seed(seeded_bytes(32, 77)));
  net::TlsIdentity tracker_tls_ = *net::make_tls_identity(tracker_identity_);
  std::unique_ptr<TrackerServer> server_;
  TrackerAddress address_{tracker_identity_.peer_id(), ""};
  std::optional<MarketSettings> market_;  ///< told to consumers at registration
  pb::MarketInfo last_market_;             ///< what the last registration was told
  std::map<std::uint64_t, std::unique_ptr<Peer>> peers_;
};

std::vector<std::uint64_t> seeds(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t s = from; s <= to; ++s) out.push_back(s);
  return out;
}

TEST_F(TrackerServiceTest, RegistrationHeartbeatOrdersAndUpload) {
  // An unknown consumer is told to register.
  EXPECT_FALSE(heartbeat(peer(1)).registered());
  for (const auto s : seeds(1, 6)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(4, 2, 1), 3);  // n' = 6

  const auto first = orders(seeds(1, 6));
  std::set<std::uint32_t> slots;
  for (const auto& [consumer, list] : first) {
    ASSERT_EQ(list.size(), 1u) << consumer;
    const pb::SlotOrder& order = list[0];
    EXPECT_EQ(order.kind(), pb::SlotOrder::STORE);
    EXPECT_EQ(order.file_id(), id);
    slots.insert(order.slot());
    // While uploading, the producer is the source.
    ASSERT_GE(order.sources_size(), 1);
    EXPECT_EQ(order.sources(0).peer_id(), producer.id());
    EXPECT_EQ(order.sources(0).addresses(0), "127.0.0.1:5555");
  }
  EXPECT_EQ(slots, (std::set<std::uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADING);

  // Orders repeat until reported; reported slots make the file UPLOADED.
  EXPECT_EQ(heartbeat(peer(1)).orders_size(), 1);
  store_all(seeds(1, 6));
  auto info = file_info(producer, id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status(), pb::STATUS_UPLOADED);
  EXPECT_EQ(info->actual_availability(), 3u);
  EXPECT_EQ(info->slots_stored(), 6u);
  EXPECT_EQ(info->path(), "/docs/a.txt");
  EXPECT_EQ(info->hash(), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(heartbeat(peer(1)).orders_size(), 0);

  pb::CheckHoldersRequest check;
  check.set_file_id(id);
  pb::CheckHoldersReply holders;
  ASSERT_TRUE(producer.client.market().CheckHolders(call_context().get(), check, &holders).ok());
  EXPECT_EQ(holders.holders_size(), 6);
  for (const auto& h : holders.holders()) EXPECT_TRUE(h.stored());

  pb::ConsumerStatusReply status;
  ASSERT_TRUE(peer(1).client.consumer().Status(call_context().get(), {}, &status).ok());
  EXPECT_EQ(status.info().slots(), 1u);
  EXPECT_TRUE(status.info().online());
  EXPECT_GT(status.info().nice_points(), 0);
  const grpc::Status unknown = peer(50).client.consumer().Status(call_context().get(), {}, &status);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);

  // A listing of one file carries its manifest (a share link's key is unwrapped from it); a
  // listing of all files does not.
  const auto one = file_info(producer, id);
  ASSERT_TRUE(one);
  EXPECT_EQ(Bytes(one->manifest().begin(), one->manifest().end()), make_manifest(4, 2, 1));
  pb::ListFilesReply all;
  ASSERT_TRUE(producer.client.producer().ListFiles(call_context().get(), {}, &all).ok());
  ASSERT_EQ(all.files_size(), 1);
  EXPECT_TRUE(all.files(0).manifest().empty());

  // Re-registering is idempotent: same ID, nothing placed twice.
  EXPECT_EQ(register_ok(producer, make_manifest(4, 2, 1), 3), id);
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADED);
  EXPECT_EQ(heartbeat(peer(2)).orders_size(), 0);
}

TEST_F(TrackerServiceTest, RegistrationTellsConsumersTheMarketOnlyWhenThereIsOne) {
  ASSERT_TRUE(register_consumer(peer(1)).ok());  // no chain: the reply has no market
  market_ = MarketSettings{31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                           "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"};
  restart();
  reconnect();
  ASSERT_TRUE(register_consumer(peer(1)).ok());
  EXPECT_EQ(last_market_.chain_id(), 31337u);
  EXPECT_EQ(last_market_.address(), market_->address);
  EXPECT_EQ(last_market_.placer(), market_->placer);
}

TEST_F(TrackerServiceTest, AStorageRequestNeedsAPaidTierAndATrackerWithAMarket) {
  Peer& producer = peer(100);
  const Bytes manifest = make_manifest(2, 2, 40);
  const auto with_request = [&](pb::Tier tier) {
    pb::RegisterFileRequest request;
    request.set_manifest(std::string(as_chars(manifest)));
    request.set_availability(3);
    request.set_tier(tier);
    request.set_request_id("1");
    pb::RegisterFileReply reply;
    return producer.client.market().RegisterFile(call_context().get(), request, &reply);
  };
  const grpc::Status free = with_request(pb::TIER_FREE);
  EXPECT_EQ(free.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(free.error_message(), "a Free-tier file has no storage request");
  const grpc::Status no_market = with_request(pb::TIER_BASIC);
  EXPECT_EQ(no_market.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(no_market.error_message(), "this tracker runs no storage market (no --chain-rpc)");
  // Refused: nothing stored.
  EXPECT_FALSE(file_info(producer, Manifest::cid_of(manifest).to_string()));
  pb::GetMarketReply market;
  ASSERT_TRUE(producer.client.market().GetMarket(call_context().get(), {}, &market).ok());
  EXPECT_FALSE(market.has_market());
}

TEST_F(TrackerServiceTest, ConfirmDownloadPaysOnlyForTheCallersPaidFile) {
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& owner = peer(100);
  const std::string id = register_ok(owner, make_manifest(1, 2, 9), 2);
  const auto confirm = [&](Peer& caller, const std::string& file_id) {
    pb::ConfirmDownloadRequest request;
    request.set_file_id(file_id);
    pb::ConfirmDownloadReply reply;
    return caller.client.producer().ConfirmDownload(call_context().get(), request, &reply);
  };
  const grpc::Status other = confirm(peer(101), id);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND);
  const grpc::Status free = confirm(owner, id);
  EXPECT_EQ(free.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(free.error_message(), "file " + id + " is Free tier: nobody is paid");
  EXPECT_EQ(confirm(owner, "not a CID").error_code(), grpc::StatusCode::NOT_FOUND);
}

// The file index record (issue 13): kept for its owner only, never rolled back, and never
// taken from a peer that did not sign it; it survives a restart.
TEST_F(TrackerServiceTest, IndexRecordsAreTheOwnersAndNeverRolledBack) {
  Peer& owner = peer(100);
  Peer& stranger = peer(101);
  discovery::IndexLocator locator;
  locator.fill(0xa7);  // bytes over 0x7f: compared as bytes, never as (signed) chars
  const std::string locator_bytes(locator.begin(), locator.end());
  const auto signed_by = [&](const Peer& signer, std::uint64_t sequence) {
    const Cid cid = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes(std::to_string(sequence))));
    auto record = discovery::IndexRecord{locator, sequence, cid.to_string(), 1700000000}.sign(signer.identity);
    EXPECT_TRUE(record);
    return std::string(as_chars(*record));
  };
  const auto put = [&](Peer& caller, const std::string& record) {
    pb::PutIndexRecordRequest request;
    request.set_locator(locator_bytes);
    request.set_record(record);
    pb::PutIndexRecordReply reply;
    return caller.client.producer().PutIndexRecord(call_context().get(), request, &reply);
  };
  const auto get = [&](Peer& caller, std::string* record) {
    pb::GetIndexRecordRequest request;
    request.set_locator(locator_bytes);
    pb::GetIndexRecordReply reply;
    const grpc::Status status = caller.client.producer().GetIndexRecord(call_context().get(), request, &reply);
    *record = reply.record();
    return status;
  };
  std::string kept;
  EXPECT_EQ(get(owner, &kept).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(put(owner, signed_by(owner, 2)).ok());
  EXPECT_TRUE(put(owner, signed_by(owner, 2)).ok());  // a retry of the same record
  EXPECT_EQ(put(owner, signed_by(owner, 1)).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  // Someone else's record, or the owner's record sent by someone else.
  EXPECT_EQ(put(stranger, signed_by(stranger, 9)).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(put(stranger, signed_by(owner, 9)).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string tampered = signed_by(owner, 3);
  tampered[tampered.size() / 2] ^= 1;
  EXPECT_EQ(put(owner, tampered).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(get(owner, &kept).ok());
  EXPECT_EQ(kept, signed_by(owner, 2));
  EXPECT_EQ(get(stranger, &kept).error_code(), grpc::StatusCode::NOT_FOUND);

  ASSERT_TRUE(put(owner, signed_by(owner, 3)).ok());
  restart();
  reconnect();
  ASSERT_TRUE(get(owner, &kept).ok());
  EXPECT_EQ(kept, signed_by(owner, 3));
}

TEST_F(TrackerServiceTest, AConsumersAccountAndPriceAreKeptAndABadAccountIsRefused) {
  const auto registered = [&](const std::string& account, std::uint64_t price) {
    pb::RegisterConsumerRequest request;
    request.add_addresses("127.0.0.1:4001");
    request.set_capacity_bytes(10 * kGB);
    request.set_price(price);
    request.set_account(account);
    pb::RegisterConsumerReply reply;
    return peer(1).client.consumer().RegisterConsumer(call_context().get(), request, &reply);
  };
  // Any spelling of an address is kept in its EIP-55 form.
  ASSERT_TRUE(registered("0x8ba1f109551bd432803012645ac136ddd64dba72", 5).ok());
  const std::string id = peer(1).id();
  EXPECT_EQ(consumers()[id].account(), "0x8ba1f109551bD432803012645Ac136ddd64DBA72");
  EXPECT_EQ(consumers()[id].price(), 5u);
  // Not an address: refused, and the registration before it stands.
  const grpc::Status bad = registered("0x1234", 9);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("account"), std::string::npos) << bad.error_message();
  EXPECT_EQ(consumers()[id].account(), "0x8ba1f109551bD432803012645Ac136ddd64DBA72");
  EXPECT_EQ(consumers()[id].price(), 5u);
  // No account: out of the market again.
  ASSERT_TRUE(registered("", 0).ok());
  EXPECT_EQ(consumers()[id].account(), "");
  EXPECT_EQ(consumers()[id].price(), 0u);
}

TEST_F(TrackerServiceTest, PlacementSpreadsSlotsAndPlacesTheRestWhenConsumersJoin) {
  Peer& producer = peer(100);
  // The producer is a consumer too: it never gets a slot of its own file.
  ASSERT_TRUE(register_consumer(producer).ok());
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  const std::string id = register_ok(producer, make_manifest(4, 2, 2), 3);  // needs 6 consumers
  EXPECT_EQ(heartbeat(producer).orders_size(), 0);
  auto first = orders(seeds(1, 3));
  for (const auto& [consumer, list] : first) EXPECT_EQ(list.size(), 1u) << consumer;
  EXPECT_EQ(first.size(), 3u);

  for (const auto s : seeds(4, 7)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  maintain();
  const auto all = orders(seeds(1, 7));
  std::set<std::uint32_t> slots;
  std::size_t total = 0;
  for (const auto& [consumer, list] : all) {
    EXPECT_EQ(list.size(), 1u) << "two slots of one file on " << consumer;
    for (const auto& order : list) slots.insert(order.slot());
    total += list.size();
  }
  EXPECT_EQ(total, 6u);
  EXPECT_EQ(slots.size(), 6u);
  EXPECT_EQ(heartbeat(producer).orders_size(), 0);
}

TEST_F(TrackerServiceTest, PlacementPrefersMoreNicePointsAndSkipsFullConsumers) {
  // Same history; nice points differ by free capacity. Consumer 4 is too full for a slot.
  ASSERT_TRUE(register_consumer(peer(1), 10 * kGB, 9 * kGB).ok());
  ASSERT_TRUE(register_consumer(peer(2), 10 * kGB, 0).ok());
  ASSERT_TRUE(register_consumer(peer(3), 10 * kGB, 5 * kGB).ok());
  ASSERT_TRUE(register_consumer(peer(4), 10 * kGB, 10 * kGB - 1000).ok());
  auto listed = consumers();
  EXPECT_GT(listed[peer(2).id()].nice_points(), listed[peer(3).id()].nice_points());
  EXPECT_GT(listed[peer(3).id()].nice_points(), listed[peer(1).id()].nice_points());

  Peer& producer = peer(100);
  const std::string one = register_ok(producer, make_manifest(1, 3, 3), 1);  // one slot
  EXPECT_EQ(heartbeat(peer(2)).orders_size(), 1);
  EXPECT_EQ(heartbeat(peer(1)).orders_size() + heartbeat(peer(3)).orders_size(), 0);
  const std::string three = register_ok(producer, make_manifest(1, 3, 4), 4);  // four copies, three fit
  EXPECT_EQ(heartbeat(peer(4)).orders_size(), 0);
  EXPECT_EQ(heartbeat(peer(1)).orders_size(), 1);
  EXPECT_EQ(file_info(producer, three)->status(), pb::STATUS_UPLOADING);
  (void)one;

}

TEST_F(TrackerServiceTest, AConsumerThatFailsAuditsLosesItsLead) {
  ASSERT_TRUE(register_consumer(peer(1)).ok());
  ASSERT_TRUE(register_consumer(peer(2)).ok());
  Peer& producer = peer(100);
  register_ok(producer, make_manifest(1, 1, 14), 2);  // a copy on each
  store_all(seeds(1, 2));
  advance(kAuditIntervalMs);  // due for their next audit
  auto listed = consumers();
  const double even = listed[peer(1).id()].nice_points();
  EXPECT_DOUBLE_EQ(even, listed[peer(2).id()].nice_points());
  auto round = server_->tracker().audit_round(
      [&](const net::PeerId& consumer, const std::vector<std::string>&, const Cid&, const Manifest&, std::uint32_t,
          std::uint64_t) -> Result<void> {
        if (consumer == peer(1).identity.peer_id()) return fail(Errc::io, "unreachable");
        return {};
      });
  ASSERT_TRUE(round);
  EXPECT_EQ(round->failed, 1u);
  EXPECT_EQ(round->passed, 1u);
  listed = consumers();
  EXPECT_LT(listed[peer(1).id()].nice_points(), even);
  EXPECT_GT(listed[peer(2).id()].nice_points(), even);
  // The next one-slot file goes to the consumer that passed.
  const std::string next = register_ok(producer, make_manifest(1, 1, 15), 1);
  EXPECT_EQ(heartbeat(peer(2)).orders_size(), 1);
  EXPECT_EQ(heartbeat(peer(1)).orders_size(), 0);
  (void)next;
}

TEST_F(TrackerServiceTest, ASilentConsumerGoesOfflineAndItsSlotIsRepairedFromTheOthers) {
  for (const auto s : seeds(1, 6)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(4, 2, 5), 3);
  store_all(seeds(1, 6));
  ASSERT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADED);

  // A spare consumer joins; consumer 1 stops calling.
  ASSERT_TRUE(register_consumer(peer(7)).ok());
  pb::CheckHoldersRequest check;
  check.set_file_id(id);
  pb::CheckHoldersReply before;
  ASSERT_TRUE(producer.client.market().CheckHolders(call_context().get(), check, &before).ok());
  std::uint32_t lost_slot = 0;
  for (const auto& h : before.holders()) {
    if (h.consumer().peer_id() == peer(1).id()) lost_slot = h.slot();
  }
  advance(2000);
  for (const auto s : seeds(2, 7)) heartbeat(peer(s));
  maintain();
  EXPECT_TRUE(consumers()[peer(1).id()].online());  // 2 s < offline_after
  advance(2000);
  for (const auto s : seeds(2, 7)) heartbeat(peer(s));
  maintain();
  auto listed = consumers();
  EXPECT_FALSE(listed[peer(1).id()].online());
  EXPECT_EQ(listed[peer(1).id()].slots(), 0u);
  auto info = file_info(producer, id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status(), pb::STATUS_DEGRADED);
  EXPECT_EQ(info->actual_availability(), 2u);

  // The spare gets the lost slot, with the five remaining holders as sources (not the producer:
  // the upload is done and k holders remain).
  const pb::HeartbeatReply reply = heartbeat(peer(7));
  ASSERT_EQ(reply.orders_size(), 1);
  EXPECT_EQ(reply.orders(0).slot(), lost_slot);
  std::set<std::string> sources;
  for (const auto& s : reply.orders(0).sources()) sources.insert(s.peer_id());
  std::set<std::string> expected;
  for (const auto s : seeds(2, 6)) expected.insert(peer(s).id());
  EXPECT_EQ(sources, expected);
  ASSERT_TRUE(report(peer(7), id, lost_slot, pb::SlotReport::STORED).ok());
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_DEGRADED);  // not proven yet
  EXPECT_EQ(prove_all().verified, 1u);
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADED);

  // The lost consumer comes back: online again, without the slot it lost.
  EXPECT_TRUE(heartbeat(peer(1)).registered());
  EXPECT_TRUE(consumers()[peer(1).id()].online());
  EXPECT_EQ(heartbeat(peer(1)).orders_size(), 0);
}

TEST_F(TrackerServiceTest, StatusGoesUploadingUploadedDegradedLost) {
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(2, 1, 6), 2);  // n' = 3
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADING);
  store_all(seeds(1, 2));
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADING);  // actual 1 < 2
  store_all({3});
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADED);

  advance(4000);
  for (const auto s : seeds(2, 3)) heartbeat(peer(s));
  maintain();
  auto info = file_info(producer, id);
  EXPECT_EQ(info->status(), pb::STATUS_DEGRADED);
  EXPECT_EQ(info->actual_availability(), 1u);
  // The consumer returns and is given the missing slot, sourced from the two holders.
  ASSERT_TRUE(register_consumer(peer(1)).ok());
  maintain();
  const pb::HeartbeatReply repair = heartbeat(peer(1));
  ASSERT_EQ(repair.orders_size(), 1);
  std::set<std::string> sources;
  for (const auto& source : repair.orders(0).sources()) sources.insert(source.peer_id());
  EXPECT_EQ(sources, (std::set<std::string>{peer(2).id(), peer(3).id()}));
  advance(4000);
  heartbeat(peer(3));
  maintain();
  info = file_info(producer, id);
  EXPECT_EQ(info->status(), pb::STATUS_LOST);
  EXPECT_EQ(info->actual_availability(), 0u);
  EXPECT_EQ(info->slots_stored(), 1u);
}

TEST_F(TrackerServiceTest, RemovalDeletesFromConsumersThenForgetsTheFile) {
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(1, 2, 7), 3);
  store_all(seeds(1, 3));
  pb::RemoveFileRequest remove;
  remove.set_file_id(id);
  pb::RemoveFileReply removed;
  ASSERT_TRUE(producer.client.producer().RemoveFile(call_context().get(), remove, &removed).ok());
  EXPECT_EQ(removed.file().status(), pb::STATUS_REMOVING);
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_REMOVING);
  // Removing is idempotent.
  ASSERT_TRUE(producer.client.producer().RemoveFile(call_context().get(), remove, &removed).ok());

  for (const auto s : seeds(1, 2)) {
    const pb::HeartbeatReply reply = heartbeat(peer(s));
    ASSERT_EQ(reply.orders_size(), 1);
    EXPECT_EQ(reply.orders(0).kind(), pb::SlotOrder::DELETE);
    EXPECT_EQ(reply.orders(0).file_id(), id);
    ASSERT_TRUE(report(peer(s), id, reply.orders(0).slot(), pb::SlotReport::DELETED).ok());
  }
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_REMOVING);
  maintain();
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_REMOVING);  // consumer 3 has not confirmed
  // Consumer 3 goes silent: its row is dropped and the file disappears.
  advance(4000);
  for (const auto s : seeds(1, 2)) heartbeat(peer(s));
  maintain();
  auto gone = file_info(producer, id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, Errc::not_found);
  pb::CheckHoldersRequest check;
  check.set_file_id(id);
  pb::CheckHoldersReply holders;
  EXPECT_EQ(producer.client.market().CheckHolders(call_context().get(), check, &holders).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(TrackerServiceTest, EditChangesPathAndAvailability) {
  for (const auto s : seeds(1, 4)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(2, 2, 8), 3);  // n' = 4
  store_all(seeds(1, 4));
  EXPECT_EQ(file_info(producer, id)->actual_availability(), 3u);

  pb::EditFileRequest edit;
  edit.set_file_id(id);
  edit.set_availability(2);
  edit.set_path("/moved.txt");
  pb::EditFileReply edited;
  ASSERT_TRUE(producer.client.producer().EditFile(call_context().get(), edit, &edited).ok());
  EXPECT_EQ(edited.file().path(), "/moved.txt");
  EXPECT_EQ(edited.file().availability(), 2u);
  // The highest slot (3) is ordered deleted.
  std::vector<std::pair<std::string, pb::SlotOrder>> deletes;
  for (const auto s : seeds(1, 4)) {
    const pb::HeartbeatReply reply = heartbeat(peer(s));
    for (const auto& order : reply.orders()) deletes.emplace_back(peer(s).id(), order);
  }
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0].second.kind(), pb::SlotOrder::DELETE);
  EXPECT_EQ(deletes[0].second.slot(), 3u);
  for (const auto s : seeds(1, 4)) {
    if (peer(s).id() == deletes[0].first) {
      ASSERT_TRUE(report(peer(s), id, 3, pb::SlotReport::DELETED).ok());
    }
  }
  auto info = file_info(producer, id);
  EXPECT_EQ(info->status(), pb::STATUS_UPLOADED);
  EXPECT_EQ(info->actual_availability(), 2u);

  // Out of range: refused, nothing changes.
  edit.clear_path();
  edit.set_availability(4);
  EXPECT_EQ(producer.client.producer().EditFile(call_context().get(), edit, &edited).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(file_info(producer, id)->availability(), 2u);
  // Raising places the slot again.
  edit.set_availability(3);
  ASSERT_TRUE(producer.client.producer().EditFile(call_context().get(), edit, &edited).ok());
  int stores = 0;
  for (const auto s : seeds(1, 4)) {
    const pb::HeartbeatReply reply = heartbeat(peer(s));
    for (const auto& order : reply.orders()) {
      EXPECT_EQ(order.kind(), pb::SlotOrder::STORE);
      EXPECT_EQ(order.slot(), 3u);
      ++stores;
    }
  }
  EXPECT_EQ(stores, 1);
  EXPECT_EQ(file_info(producer, id)->path(), "/moved.txt");
}

TEST_F(TrackerServiceTest, AnotherProducerCannotTouchAFile) {
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& owner = peer(100);
  Peer& other = peer(101);
  const Bytes manifest = make_manifest(1, 2, 9);
  const std::string id = register_ok(owner, manifest, 2);

  pb::RegisterFileReply registered;
  EXPECT_EQ(register_file(other, manifest, 3, &registered).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto info = file_info(other, id);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, Errc::not_found);
  pb::RemoveFileRequest remove;
  remove.set_file_id(id);
  pb::RemoveFileReply removed;
  EXPECT_EQ(other.client.producer().RemoveFile(call_context().get(), remove, &removed).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pb::EditFileRequest edit;
  edit.set_file_id(id);
  edit.set_path("/stolen");
  pb::EditFileReply edited;
  EXPECT_EQ(other.client.producer().EditFile(call_context().get(), edit, &edited).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pb::ListFilesReply all;
  ASSERT_TRUE(other.client.producer().ListFiles(call_context().get(), {}, &all).ok());
  EXPECT_EQ(all.files_size(), 0);
  // A consumer cannot report on a slot that is not its own.
  const pb::HeartbeatReply orders = heartbeat(peer(1));
  ASSERT_EQ(orders.orders_size(), 1);
  ASSERT_TRUE(report(peer(2), id, orders.orders(0).slot(), pb::SlotReport::STORED).ok());  // ignored
  ASSERT_TRUE(report(peer(3), id, orders.orders(0).slot(), pb::SlotReport::GIVEN_UP).ok());  // ignored
  EXPECT_EQ(heartbeat(peer(1)).orders_size(), 1);

  info = file_info(owner, id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->path(), "/docs/a.txt");
  EXPECT_EQ(info->availability(), 2u);
  EXPECT_EQ(info->status(), pb::STATUS_UPLOADING);
  EXPECT_EQ(info->slots_stored(), 0u);
}

TEST_F(TrackerServiceTest, MalformedRequestsAreRefusedAndChangeNothing) {
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const Bytes good = make_manifest(2, 1, 10);
  pb::RegisterFileReply reply;
  const auto refused = [&](const grpc::Status& status, const std::string& words) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << words;
    EXPECT_NE(status.error_message().find(words), std::string::npos) << status.error_message();
  };
  refused(register_file(producer, Bytes(good.begin(), good.begin() + good.size() / 2), 1, &reply), "manifest");
  refused(register_file(producer, seeded_bytes(500, 3), 1, &reply), "manifest");
  refused(register_file(producer, {}, 1, &reply), "manifest");
  refused(register_file(producer, make_manifest(1, 1, 30, std::uint64_t{1} << 60), 1, &reply), "too large");
  refused(register_file(producer, seeded_bytes(70 * 1024, 1), 1, &reply), "manifest");
  refused(register_file(producer, good, 0, &reply), "availability 0");
  refused(register_file(producer, good, 3, &reply), "availability 3");  // m + 1 = 2
  refused(register_file(producer, good, 1, &reply, pb::TIER_FREE, std::string(4097, 'a')), "path");
  refused(register_file(producer, good, 1, &reply, pb::TIER_FREE, "a\nb"), "control");
  refused(register_file(producer, good, 1, &reply, static_cast<pb::Tier>(7)), "tier");
  {
    pb::RegisterFileRequest request;
    request.set_manifest(std::string(as_chars(good)));
    request.set_availability(1);
    for (int i = 0; i < 17; ++i) request.add_source_addresses("127.0.0.1:1");
    refused(producer.client.market().RegisterFile(call_context().get(), request, &reply), "addresses");
    request.clear_source_addresses();
    request.add_source_addresses("no port");
    refused(producer.client.market().RegisterFile(call_context().get(), request, &reply), "source_addresses");
    request.clear_source_addresses();
    request.set_hash(std::string(65, 'f'));
    refused(producer.client.market().RegisterFile(call_context().get(), request, &reply), "hash");
  }
  pb::ListFilesReply files;
  ASSERT_TRUE(producer.client.producer().ListFiles(call_context().get(), {}, &files).ok());
  EXPECT_EQ(files.files_size(), 0);
  for (const auto s : seeds(1, 3)) EXPECT_EQ(heartbeat(peer(s)).orders_size(), 0);

  // Consumers.
  {
    pb::RegisterConsumerRequest request;
    pb::RegisterConsumerReply r;
    refused(peer(20).client.consumer().RegisterConsumer(call_context().get(), request, &r), "address");
    request.add_addresses("127.0.0.1:99999");
    refused(peer(20).client.consumer().RegisterConsumer(call_context().get(), request, &r), "port");
    request.set_addresses(0, "127.0.0.1:4000");
    request.set_capacity_bytes(~0ull);
    refused(peer(20).client.consumer().RegisterConsumer(call_context().get(), request, &r), "capacity_bytes");
  }
  EXPECT_EQ(consumers().count(peer(20).id()), 0u);
  const std::string id = register_ok(producer, good, 2);
  const pb::HeartbeatReply orders = heartbeat(peer(1));
  ASSERT_EQ(orders.orders_size(), 1);
  {
    pb::ReportSlotsRequest request;
    pb::ReportSlotsReply r;
    // One good report and one bad: the whole call is refused, the good one not applied.
    auto* ok = request.add_reports();
    ok->set_file_id(id);
    ok->set_slot(orders.orders(0).slot());
    ok->set_state(pb::SlotReport::STORED);
    auto* long_detail = request.add_reports();
    long_detail->set_file_id(id);
    long_detail->set_state(pb::SlotReport::FAILED);
    long_detail->set_detail(std::string(1025, 'x'));
    refused(peer(1).client.consumer().ReportSlots(call_context().get(), request, &r), "detail");
    request.clear_reports();
    for (int i = 0; i < 1025; ++i) *request.add_reports() = *ok;
    refused(peer(1).client.consumer().ReportSlots(call_context().get(), request, &r), "reports");
  }
  EXPECT_EQ(file_info(producer, id)->slots_stored(), 0u);
  pb::ListFilesRequest long_id;
  long_id.set_file_id(std::string(300, 'b'));
  refused(producer.client.producer().ListFiles(call_context().get(), long_id, &files), "file_id");
}

TEST_F(TrackerServiceTest, StateSurvivesARestart) {
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s), 10 * kGB, 123).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(1, 2, 11), 3, pb::TIER_PREMIUM);
  store_all(seeds(1, 3));
  const auto before = consumers();

  advance(60'000);  // the tracker was down a minute: longer than offline_after
  restart();
  reconnect();
  auto info = file_info(producer, id);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->status(), pb::STATUS_UPLOADED);
  EXPECT_EQ(info->tier(), pb::TIER_PREMIUM);
  EXPECT_EQ(info->actual_availability(), 3u);
  // Consumers keep their standing and get one offline_after to call again.
  maintain();
  const auto after = consumers();
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [id_, c] : before) {
    EXPECT_TRUE(after.at(id_).online());
    EXPECT_EQ(after.at(id_).slots(), c.slots());
    EXPECT_EQ(after.at(id_).used_bytes(), c.used_bytes());
    EXPECT_EQ(after.at(id_).nice_points() > 0, true);
  }
  EXPECT_EQ(heartbeat(peer(1)).orders_size(), 0);
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADED);
}

TEST_F(TrackerServiceTest, AssignmentsNotStoredInTimeArePlacedElsewhere) {
  for (const auto s : seeds(1, 2)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(1, 1, 12), 1);  // one slot
  auto first = orders(seeds(1, 2));
  ASSERT_EQ(first.size(), 1u);
  const std::string slow = first.begin()->first;
  outlast_store_timeout(seeds(1, 2));
  auto second = orders(seeds(1, 2));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second.begin()->first, slow);
  EXPECT_EQ(second.begin()->second.size(), 1u);
  // A FAILED report takes it back too; with every consumer tried, it goes to one of them again.
  const std::uint64_t other_seed = peer(1).id() == second.begin()->first ? 1 : 2;
  ASSERT_TRUE(report(peer(other_seed), id, 0, pb::SlotReport::FAILED).ok());
  auto third = orders(seeds(1, 2));
  ASSERT_EQ(third.size(), 1u);
  ASSERT_EQ(third.begin()->second.size(), 1u);
  EXPECT_EQ(third.begin()->second[0].slot(), 0u);
}

TEST_F(TrackerServiceTest, AuditsCountDropWrongProofsAndOrderTheirDeletion) {
  for (const auto s : seeds(1, 4)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(1, 2, 13), 3);
  store_all(seeds(1, 4));
  pb::CheckHoldersRequest check;
  check.set_file_id(id);
  pb::CheckHoldersReply holders;
  ASSERT_TRUE(producer.client.market().CheckHolders(call_context().get(), check, &holders).ok());
  ASSERT_EQ(holders.holders_size(), 3);
  std::map<std::string, Errc> verdict;  // peer -> error; absent: pass
  const std::string corrupt = holders.holders(0).consumer().peer_id();
  const std::string silent = holders.holders(1).consumer().peer_id();
  verdict[corrupt] = Errc::corrupt;
  verdict[silent] = Errc::io;
  std::set<std::pair<std::uint32_t, std::uint64_t>> challenges;
  std::mutex challenges_mutex;  // consumers are challenged in parallel
  const Auditor auditor = [&](const net::PeerId& consumer, const std::vector<std::string>& addresses, const Cid& file,
                              const Manifest& manifest, std::uint32_t slot, std::uint64_t block) -> Result<void> {
    EXPECT_EQ(file.to_string(), id);
    EXPECT_FALSE(addresses.empty());
    EXPECT_LT(block, manifest.stripe_count());
    std::lock_guard lock(challenges_mutex);
    challenges.emplace(slot, block);
    const auto it = verdict.find(consumer.to_string());
    if (it == verdict.end()) return {};
    return fail(it->second, "audit says no");
  };
  // Proven slots are not challenged again before the audit interval.
  const AuditRound early = challenge(auditor);
  EXPECT_EQ(early.passed + early.failed, 0u);
  advance(kAuditIntervalMs);
  AuditRound round = challenge(auditor);
  EXPECT_EQ(round.passed, 1u);
  EXPECT_EQ(round.failed, 2u);
  EXPECT_EQ(round.unanswered, 1u);
  EXPECT_EQ(round.dropped, 1u);
  EXPECT_EQ(challenges.size(), 3u);
  auto listed = consumers();
  EXPECT_EQ(listed[corrupt].audits_failed(), 1u);
  EXPECT_EQ(listed[corrupt].slots(), 0u);  // dropped
  EXPECT_EQ(listed[silent].audits_failed(), 1u);
  EXPECT_EQ(listed[silent].slots(), 1u);  // kept for now: maybe a network blip
  EXPECT_EQ(listed[holders.holders(2).consumer().peer_id()].audits_passed(), 2u);  // its proof, then this audit
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_DEGRADED);
  // The consumer with the wrong proof is told to delete its copy.
  std::uint64_t corrupt_seed = 0, silent_seed = 0;
  for (const auto s : seeds(1, 4)) {
    if (peer(s).id() == corrupt) corrupt_seed = s;
    if (peer(s).id() == silent) silent_seed = s;
  }
  const pb::HeartbeatReply told = heartbeat(peer(corrupt_seed));
  ASSERT_EQ(told.orders_size(), 1);
  EXPECT_EQ(told.orders(0).kind(), pb::SlotOrder::DELETE);
  EXPECT_EQ(told.orders(0).slot(), holders.holders(0).slot());
  // The dropped slot went at once to the fourth consumer, the only one holding nothing of the file.
  std::set<std::string> original;
  for (const auto& h : holders.holders()) original.insert(h.consumer().peer_id());
  std::uint64_t spare = 0;
  for (const auto s : seeds(1, 4)) {
    if (original.contains(peer(s).id())) continue;
    spare = s;
    EXPECT_EQ(listed[peer(s).id()].slots(), 1u);
    const pb::HeartbeatReply reply = heartbeat(peer(s));
    ASSERT_EQ(reply.orders_size(), 1);
    EXPECT_EQ(reply.orders(0).slot(), holders.holders(0).slot());
  }
  ASSERT_NE(spare, 0u);
  ASSERT_TRUE(report(peer(corrupt_seed), id, holders.holders(0).slot(), pb::SlotReport::DELETED).ok());
  EXPECT_EQ(heartbeat(peer(corrupt_seed)).orders_size(), 0);  // confirmed: not asked again

  // The silent consumer keeps heartbeating but never answers: retried every heartbeat interval,
  // its slot stops counting once it owed an answer for longer than unanswered_after.
  for (std::int64_t waited = 0; waited <= kUnansweredAfterMs; waited += 1000) {
    advance(1000);
    for (const auto s : seeds(1, 4)) heartbeat(peer(s));
    round = challenge(auditor);
    maintain();
  }
  listed = consumers();
  EXPECT_EQ(listed[silent].slots(), 0u);
  EXPECT_GE(listed[silent].audits_failed(), 3u);  // retried meanwhile
  const pb::HeartbeatReply silent_told = heartbeat(peer(silent_seed));
  ASSERT_EQ(silent_told.orders_size(), 1);
  EXPECT_EQ(silent_told.orders(0).kind(), pb::SlotOrder::DELETE);
  EXPECT_EQ(silent_told.orders(0).slot(), holders.holders(1).slot());

  // A challenge that cannot run (e.g. not implemented) counts against nobody.
  advance(kAuditIntervalMs);
  auto skipped = challenge([](const net::PeerId&, const std::vector<std::string>&, const Cid&, const Manifest&,
                              std::uint32_t, std::uint64_t) -> Result<void> { return fail(Errc::internal, "no"); });
  EXPECT_EQ(skipped.passed + skipped.failed, 0u);
  EXPECT_GE(skipped.skipped, 1u);
}

// Issue 15, 1: two consumers that report STORED for every order and answer no challenge (as at
// an address where nothing listens) must not raise availability, nor make the file UPLOADED.
TEST_F(TrackerServiceTest, AStoredReportCountsOnlyOnceProvenAndLiarsLoseTheirSlots) {
  for (const auto s : seeds(1, 6)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(4, 2, 40), 3);  // n' = 6
  const std::set<std::string> liars{peer(1).id(), peer(2).id()};
  store_all(seeds(1, 6), /*prove=*/false);

  // Every consumer said STORED; nothing is proven yet.
  auto info = file_info(producer, id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status(), pb::STATUS_UPLOADING);
  EXPECT_EQ(info->slots_stored(), 0u);
  EXPECT_EQ(info->actual_availability(), 0u);
  for (const auto& [slot, holder] : holders_of(producer, id)) EXPECT_FALSE(holder.second) << slot;

  const Auditor auditor = [&](const net::PeerId& consumer, const std::vector<std::string>&, const Cid&,
                              const Manifest&, std::uint32_t, std::uint64_t) -> Result<void> {
    if (liars.contains(consumer.to_string())) return fail(Errc::io, "connection refused");
    return {};
  };
  AuditRound round = challenge(auditor);
  EXPECT_EQ(round.verified, 4u);
  EXPECT_EQ(round.unanswered, 2u);
  info = file_info(producer, id);
  EXPECT_EQ(info->status(), pb::STATUS_UPLOADING);  // 4 proven of 6: availability 1, not 3
  EXPECT_EQ(info->actual_availability(), 1u);
  EXPECT_EQ(info->slots_stored(), 4u);
  for (const auto& [slot, holder] : holders_of(producer, id)) {
    EXPECT_EQ(holder.second, !liars.contains(holder.first)) << slot;
  }

  // Two honest spares join. The liars keep heartbeating and never answer: within
  // unanswered_after their slots stop being theirs and go to the spares.
  for (const auto s : seeds(7, 8)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  for (std::int64_t waited = 0; waited <= kUnansweredAfterMs; waited += 1000) {
    advance(1000);
    for (const auto s : seeds(1, 8)) heartbeat(peer(s));
    challenge(auditor);
    maintain();
  }
  auto listed = consumers();
  for (const std::string& liar : liars) EXPECT_EQ(listed[liar].slots(), 0u) << liar;
  // They are told to delete what they claim to have.
  for (const auto s : seeds(1, 2)) {
    const pb::HeartbeatReply told = heartbeat(peer(s));
    ASSERT_EQ(told.orders_size(), 1);
    EXPECT_EQ(told.orders(0).kind(), pb::SlotOrder::DELETE);
  }
  // The spares fetch from the producer (fewer than desired are proven: it keeps serving) and
  // from the four proven holders, never from a liar.
  for (const auto s : seeds(7, 8)) {
    const pb::HeartbeatReply reply = heartbeat(peer(s));
    ASSERT_EQ(reply.orders_size(), 1) << s;
    ASSERT_EQ(reply.orders(0).kind(), pb::SlotOrder::STORE);
    std::set<std::string> sources;
    for (const auto& source : reply.orders(0).sources()) sources.insert(source.peer_id());
    EXPECT_EQ(reply.orders(0).sources(0).peer_id(), producer.id());
    EXPECT_EQ(sources.size(), 5u);
    for (const std::string& liar : liars) EXPECT_FALSE(sources.contains(liar));
  }
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADING);
  store_all(seeds(7, 8));
  info = file_info(producer, id);
  EXPECT_EQ(info->status(), pb::STATUS_UPLOADED);
  EXPECT_EQ(info->actual_availability(), 3u);
  EXPECT_EQ(info->slots_stored(), 6u);
}

TEST_F(TrackerServiceTest, EveryProvenSlotIsAuditedOncePerIntervalOldestFirst) {
  challenges_per_round_ = 2;
  server_.reset();
  start();
  for (const auto s : seeds(1, 6)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(4, 2, 41), 3);
  store_all(seeds(1, 6), /*prove=*/false);
  // Two a round: proven in three rounds, 100 ms apart.
  std::vector<std::set<std::uint32_t>> proven_in;
  std::set<std::uint32_t> challenged;
  std::mutex challenged_mutex;  // consumers are challenged in parallel
  const Auditor record = [&](const net::PeerId&, const std::vector<std::string>&, const Cid&, const Manifest&,
                             std::uint32_t slot, std::uint64_t) -> Result<void> {
    std::lock_guard lock(challenged_mutex);
    challenged.insert(slot);
    return {};
  };
  for (int i = 0; i < 3; ++i) {
    challenged.clear();
    const AuditRound round = challenge(record);
    EXPECT_EQ(round.verified, 2u);
    EXPECT_EQ(round.more, true);
    proven_in.push_back(challenged);
    advance(100);
  }
  EXPECT_EQ(file_info(producer, id)->status(), pb::STATUS_UPLOADED);
  challenged.clear();
  EXPECT_EQ(challenge(record).passed, 0u);  // nothing due before the interval

  // One interval later every slot is challenged again, the longest unaudited first.
  advance(kAuditIntervalMs);
  std::set<std::uint32_t> all;
  for (int i = 0; i < 3; ++i) {
    challenged.clear();
    EXPECT_EQ(challenge(record).passed, 2u);
    EXPECT_EQ(challenged, proven_in[static_cast<std::size_t>(i)]) << "round " << i;
    all.insert(challenged.begin(), challenged.end());
  }
  EXPECT_EQ(all.size(), 6u);
  EXPECT_EQ(challenge(record).passed, 0u);
}

// Issue 15, 7: a consumer that was offline lists what it holds when it is back; the tracker
// orders the deletion of what is no longer its own and adopts what nobody holds.
TEST_F(TrackerServiceTest, ReconciliationDeletesWhatIsNotTheConsumersAndAdoptsWhatNobodyHolds) {
  for (const auto s : seeds(1, 3)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string copies = register_ok(producer, make_manifest(1, 2, 42), 2);  // two copies
  store_all(seeds(1, 3));
  const auto before = holders_of(producer, copies);
  ASSERT_EQ(before.size(), 2u);
  const std::uint32_t lost_slot = before.begin()->first;
  std::uint64_t away = 0;
  for (const auto s : seeds(1, 3)) {
    if (peer(s).id() == before.begin()->second.first) away = s;
  }
  ASSERT_NE(away, 0u);

  // It goes silent: offline, its copy is placed on the third consumer.
  advance(4000);
  for (const auto s : seeds(1, 3)) {
    if (s != away) heartbeat(peer(s));
  }
  maintain();
  EXPECT_FALSE(consumers()[peer(away).id()].online());
  EXPECT_NE(holders_of(producer, copies).at(lost_slot).first, peer(away).id());

  // Back: asked to list its slots.
  EXPECT_TRUE(heartbeat(peer(away)).reconcile());
  pb::ReconcileSlotsReply reply;
  const std::string unknown = Manifest::cid_of(make_manifest(1, 1, 999)).to_string();
  ASSERT_TRUE(reconcile(peer(away), {{copies, lost_slot}, {unknown, 0}, {copies, 7}}, &reply).ok());
  EXPECT_EQ(reply.adopted(), 0u);
  std::set<std::pair<std::string, std::uint32_t>> deletes;
  for (const auto& order : reply.orders()) {
    EXPECT_EQ(order.kind(), pb::SlotOrder::DELETE);
    deletes.emplace(order.file_id(), order.slot());
  }
  EXPECT_EQ(deletes, (std::set<std::pair<std::string, std::uint32_t>>{
                         {copies, lost_slot}, {unknown, 0}, {copies, 7}}));
  EXPECT_EQ(holders_of(producer, copies).at(lost_slot).first != peer(away).id(), true);  // unchanged

  // A file with more copies than consumers: one slot has nobody. A newcomer that holds it
  // (say, from before a crash of the tracker's disk) has it adopted, and it counts once proven.
  const std::string wide = register_ok(producer, make_manifest(1, 3, 43), 4);  // 4 copies, 3 consumers online
  store_all(seeds(1, 3));
  std::set<std::uint32_t> placed;
  for (const auto& [slot, holder] : holders_of(producer, wide)) placed.insert(slot);
  ASSERT_EQ(placed.size(), 3u);
  std::uint32_t unplaced = 0;
  while (placed.contains(unplaced)) ++unplaced;
  ASSERT_TRUE(register_consumer(peer(4)).ok());
  // A consumer holding another slot of the file may not take this one too.
  std::uint64_t holder_seed = 0;
  for (const auto s : seeds(1, 3)) {
    if (peer(s).id() == holders_of(producer, wide).begin()->second.first) holder_seed = s;
  }
  pb::ReconcileSlotsReply refused;
  ASSERT_TRUE(reconcile(peer(holder_seed), {{wide, unplaced}}, &refused).ok());
  EXPECT_EQ(refused.adopted(), 0u);
  EXPECT_EQ(refused.orders_size(), 1);
  pb::ReconcileSlotsReply adopted_reply;
  ASSERT_TRUE(reconcile(peer(4), {{wide, unplaced}}, &adopted_reply).ok());
  EXPECT_EQ(adopted_reply.adopted(), 1u);
  EXPECT_EQ(adopted_reply.orders_size(), 0);
  EXPECT_EQ(heartbeat(peer(4)).orders_size(), 0);  // no STORE: it has the slot
  EXPECT_EQ(file_info(producer, wide)->slots_stored(), 3u);
  EXPECT_EQ(prove_all().verified, 1u);
  EXPECT_EQ(file_info(producer, wide)->slots_stored(), 4u);
  EXPECT_EQ(file_info(producer, wide)->status(), pb::STATUS_UPLOADED);

  // A slot it was assigned and has not reported yet is taken as held, and verified.
  const std::string third = register_ok(producer, make_manifest(1, 0, 44), 1);  // one copy
  std::uint64_t assignee = 0;
  for (const auto s : seeds(1, 4)) {
    if (heartbeat(peer(s)).orders_size() == 1) assignee = s;
  }
  ASSERT_NE(assignee, 0u);
  pb::ReconcileSlotsReply own;
  ASSERT_TRUE(reconcile(peer(assignee), {{third, 0}}, &own).ok());
  EXPECT_EQ(own.adopted(), 1u);
  EXPECT_EQ(heartbeat(peer(assignee)).orders_size(), 0);
  EXPECT_EQ(prove_all().verified, 1u);
  EXPECT_EQ(file_info(producer, third)->status(), pb::STATUS_UPLOADED);

  // Limits: a page is at most 1024 slots; an unknown consumer is refused.
  std::vector<std::pair<std::string, std::uint32_t>> too_many(1025, {unknown, 0});
  EXPECT_EQ(reconcile(peer(1), too_many, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(reconcile(peer(1), {{std::string(300, 'b'), 0}}, &reply).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(reconcile(peer(60), {{unknown, 0}}, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Issue 15, 7: a STORED report after the assignment was taken back leaves no orphan.
// A heartbeat reply can be lost (a deadline, a dropped connection): the request to list the slots
// it carried must not be lost with it. The tracker asks on every heartbeat until a listing, even
// an empty one, arrives.
TEST_F(TrackerServiceTest, TheRequestToReconcileOutlivesALostHeartbeatReply) {
  const std::uint64_t away = 1;
  for (const auto s : seeds(1, 2)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  advance(4000);
  heartbeat(peer(2));
  maintain();
  ASSERT_FALSE(consumers()[peer(away).id()].online());

  EXPECT_TRUE(heartbeat(peer(away)).reconcile());  // this reply never reached the consumer
  EXPECT_TRUE(heartbeat(peer(away)).reconcile());  // so the next one asks again
  EXPECT_TRUE(heartbeat(peer(away)).reconcile());
  pb::ReconcileSlotsReply reply;
  ASSERT_TRUE(reconcile(peer(away), {}, &reply).ok());  // it holds nothing: one empty page
  EXPECT_EQ(reply.orders_size(), 0);
  EXPECT_FALSE(heartbeat(peer(away)).reconcile());
  EXPECT_FALSE(heartbeat(peer(2)).reconcile());  // never asked: it was not away
}

TEST_F(TrackerServiceTest, ALateStoredReportIsAdoptedOrEndsInADeletion) {
  for (const auto s : seeds(1, 2)) ASSERT_TRUE(register_consumer(peer(s)).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(1, 1, 45), 1);  // one slot
  auto first = orders(seeds(1, 2));
  ASSERT_EQ(first.size(), 1u);
  const std::uint64_t slow = first.begin()->first == peer(1).id() ? 1 : 2;
  outlast_store_timeout(seeds(1, 2));  // the slot goes to the other one
  ASSERT_NE(holders_of(producer, id).at(0).first, peer(slow).id());
  ASSERT_TRUE(report(peer(slow), id, 0, pb::SlotReport::STORED).ok());  // late
  EXPECT_NE(holders_of(producer, id).at(0).first, peer(slow).id());
  EXPECT_TRUE(heartbeat(peer(slow)).reconcile());
  pb::ReconcileSlotsReply reply;
  ASSERT_TRUE(reconcile(peer(slow), {{id, 0}}, &reply).ok());
  ASSERT_EQ(reply.orders_size(), 1);
  EXPECT_EQ(reply.orders(0).kind(), pb::SlotOrder::DELETE);

  // Nobody else can take it: the consumer went offline with its assignment and reports it
  // stored once back; the slot is unplaced, so its copy is adopted (and verified).
  const std::string other = register_ok(producer, make_manifest(1, 0, 46), 1);
  const std::uint64_t holder = heartbeat(peer(1)).orders_size() == 1 ? 1 : 2;
  const std::uint64_t rest = 3 - holder;
  advance(4000);
  heartbeat(peer(rest));
  maintain();  // holder offline: its row is gone; the other consumer takes the slot...
  ASSERT_EQ(holders_of(producer, other).size(), 1u);
  ASSERT_TRUE(report(peer(rest), other, 0, pb::SlotReport::FAILED, pb::SlotReport::NO_SPACE).ok());  // ...and cannot
  EXPECT_TRUE(holders_of(producer, other).empty());
  heartbeat(peer(holder));  // back
  ASSERT_TRUE(report(peer(holder), other, 0, pb::SlotReport::STORED).ok());
  const auto adopted_row = holders_of(producer, other);
  ASSERT_EQ(adopted_row.size(), 1u);
  EXPECT_EQ(adopted_row.at(0).first, peer(holder).id());
  EXPECT_FALSE(adopted_row.at(0).second);  // verifying
  EXPECT_EQ(prove_all().verified, 1u);
  EXPECT_EQ(file_info(producer, other)->status(), pb::STATUS_UPLOADED);
}

// Issue 15, 6: a consumer whose disk is full is not offered slots, and one that refused a STORE
// for want of space gets none until it reports more space.
TEST_F(TrackerServiceTest, AConsumerOutOfSpaceIsLeftOutUntilItReportsMoreSpace) {
  // Its limit says 10 GB free; its file system has 1000 bytes left.
  ASSERT_TRUE(register_consumer(peer(1), 10 * kGB, 0, 1000).ok());
  Peer& producer = peer(100);
  const std::string id = register_ok(producer, make_manifest(1, 1, 47), 1);  // one slot of ~1 MB
  EXPECT_EQ(heartbeat(peer(1), 10 * kGB, 0, 1000).orders_size(), 0);
  EXPECT_EQ(consumers()[peer(1).id()].slots(), 0u);
  heartbeat(peer(1), 10 * kGB, 0, 5 * kGB);  // room made
  maintain();
  pb::HeartbeatReply reply = heartbeat(peer(1), 10 * kGB, 0, 5 * kGB);
  ASSERT_EQ(reply.orders_size(), 1);

  // The disk fills up meanwhile: the STORE is refused for space. The slot is not offered again
  // while the consumer reports no more space than then...
  ASSERT_TRUE(report(peer(1), id, 0, pb::SlotReport::FAILED, pb::SlotReport::NO_SPACE).ok());
  for (int i = 0; i < 3; ++i) {
    advance(500);
    EXPECT_EQ(heartbeat(peer(1), 10 * kGB, 0, 5 * kGB).orders_size(), 0) << i;
    maintain();
  }
  EXPECT_EQ(consumers()[peer(1).id()].slots(), 0u);
  // ...nor while it reports less...
  heartbeat(peer(1), 10 * kGB, 0, 4 * kGB);
  maintain();
  EXPECT_EQ(heartbeat(peer(1), 10 * kGB, 0, 4 * kGB).orders_size(), 0);
  // ...and is once it reports more than its lowest since.
  heartbeat(peer(1), 10 * kGB, 0, 4 * kGB + 1'000'000'000);
  maintain();
  reply = heartbeat(peer(1), 10 * kGB, 0, 4 * kGB + 1'000'000'000);
  ASSERT_EQ(reply.orders_size(), 1);
  EXPECT_EQ(reply.orders(0).kind(), pb::SlotOrder::STORE);
}

TEST_F(TrackerServiceTest, TheMaintenanceThreadTurnsSilentConsumersOffline) {
  server_.reset();
  start(std::chrono::milliseconds(20), system_now_ms);  // real clock, offline after 3 s
  reconnect();
  ASSERT_TRUE(register_consumer(peer(1)).ok());
  ASSERT_TRUE(register_consumer(peer(2)).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  bool offline = false;
  while (!offline && std::chrono::steady_clock::now() < deadline) {
    heartbeat(peer(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto listed = consumers();
    offline = !listed[peer(1).id()].online();
    EXPECT_TRUE(listed[peer(2).id()].online());
  }
  EXPECT_TRUE(offline);
}

// A real challenge against a node serving a stored file (exchange::audit_slot over TLS): the
// slot reported stored counts once the real proof checks, and is lost when the node loses it.
TEST_F(TrackerServiceTest, ARealAuditOfARealSlotPasses) {
  ob::testing::TempDir node_dir("ob-tracker-node");
  ASSERT_TRUE(Home::init(node_dir.path(), false));
  NodeConfig node_config;
  node_config.sync = false;
  ASSERT_TRUE(fileio::write_file_atomic(node_dir.path() / "config.toml", as_bytes(node_config.to_toml())));
  auto home = Home::open(node_dir.path());
  ASSERT_TRUE(home);
  auto engine = Engine::open(*home);
  ASSERT_TRUE(engine) << engine.error().message;
  const Bytes data = seeded_bytes(300'000, 5);
  auto cid = (*engine)->store(memory_source(data), {"f.bin", ""}, CodingParams{2, 1, 65536});
  ASSERT_TRUE(cid) << cid.error().message;
  auto manifest = (*engine)->manifest(*cid);
  ASSERT_TRUE(manifest);

  Peer& consumer = peer(1);
  exchange::ExchangeService service((*engine)->blocks(), (*engine)->slots());
  auto served = exchange::start_server("127.0.0.1:0", service, consumer.tls);
  ASSERT_TRUE(served) << served.error().message;
  pb::RegisterConsumerRequest request;
  request.add_addresses("127.0.0.1:" + std::to_string(served->second));
  request.set_capacity_bytes(10 * kGB);
  pb::RegisterConsumerReply registered;
  ASSERT_TRUE(consumer.client.consumer().RegisterConsumer(call_context().get(), request, &registered).ok());
  const std::string id = register_ok(peer(100), manifest->encode(), 1);
  ASSERT_EQ(id, cid->to_string());
  store_all({1}, /*prove=*/false);
  EXPECT_EQ(file_info(peer(100), id)->slots_stored(), 0u);  // reported, not proven

  const Auditor auditor = network_auditor(tracker_tls_, std::chrono::seconds(5));
  AuditRound round = challenge(auditor);
  EXPECT_EQ(round.passed, 1u);
  EXPECT_EQ(round.verified, 1u);
  EXPECT_EQ(round.failed, 0u);
  EXPECT_EQ(consumers()[consumer.id()].audits_passed(), 1u);
  EXPECT_EQ(file_info(peer(100), id)->slots_stored(), 1u);

  // The consumer loses its slot (slot 0: the only one placed, one consumer holds one slot).
  ASSERT_TRUE((*engine)->damage(*cid, 0, /*corrupt=*/false));
  advance(kAuditIntervalMs);
  round = challenge(auditor);
  served->first->Shutdown(std::chrono::system_clock::now());
  EXPECT_EQ(round.failed, 1u);
  EXPECT_EQ(round.dropped, 1u);
  EXPECT_EQ(consumers()[consumer.id()].audits_failed(), 1u);
  EXPECT_EQ(file_info(peer(100), id)->slots_stored(), 0u);
  // No other consumer exists: the avoided one is told to delete what it has, and once it
  // confirmed, to store the slot again.
  const pb::HeartbeatReply drop = heartbeat(consumer);
  ASSERT_EQ(drop.orders_size(), 1);
  EXPECT_EQ(drop.orders(0).kind(), pb::SlotOrder::DELETE);
  ASSERT_TRUE(report(consumer, id, 0, pb::SlotReport::DELETED).ok());
  const pb::HeartbeatReply again = heartbeat(consumer);
  ASSERT_EQ(again.orders_size(), 1);
  EXPECT_EQ(again.orders(0).kind(), pb::SlotOrder::STORE);
  EXPECT_EQ(again.orders(0).slot(), 0u);
}

}  // namespace
}  // namespace ob::tracker
