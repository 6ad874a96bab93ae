// The consumer role against an in-process fake tracker (proto/tracker.proto's Consumer service,
// over TLS like the real one) and a real producer node on loopback that serves a file's slots.
#include "node/consumer/consumer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <set>
#include <thread>

#include "api/consumer_routes.h"
#include "node/engine.h"
#include "node/network.h"
#include "proto/tracker.grpc.pb.h"
#include "testing/test_util.h"

namespace ob::consumer {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace tv1 = openbucket::tracker::v1;

/// The tracker's Consumer service as a test controls it: orders go out with the next
/// heartbeat; reports are recorded.
class FakeTracker final : public tv1::Consumer::Service {
 public:
  grpc::Status RegisterConsumer(grpc::ServerContext*, const tv1::RegisterConsumerRequest* request,
                                tv1::RegisterConsumerReply* reply) override {
    std::lock_guard lock(mutex_);
    registrations_.push_back(*request);
    registered_ = true;
    reply->set_heartbeat_interval_ms(40);
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext*, const tv1::HeartbeatRequest* request,
                         tv1::HeartbeatReply* reply) override {
    std::lock_guard lock(mutex_);
    last_heartbeat_ = *request;
    ++heartbeats_;
    reply->set_registered(registered_);
    if (registered_) {
      for (tv1::SlotOrder& order : orders_) *reply->add_orders() = std::move(order);
      orders_.clear();
      reply->set_reconcile(std::exchange(ask_reconcile_, false));
    }
    return grpc::Status::OK;
  }
  grpc::Status ReconcileSlots(grpc::ServerContext*, const tv1::ReconcileSlotsRequest* request,
                              tv1::ReconcileSlotsReply* reply) override {
    std::lock_guard lock(mutex_);
    listings_.push_back(*request);
    for (const tv1::HeldSlot& held : request->slots()) {
      if (!unwanted_.contains({held.file_id(), held.slot()})) continue;
      tv1::SlotOrder* order = reply->add_orders();
      order->set_kind(tv1::SlotOrder::DELETE);
      order->set_file_id(held.file_id());
      order->set_slot(held.slot());
    }
    return grpc::Status::OK;
  }
  grpc::Status ReportSlots(grpc::ServerContext*, const tv1::ReportSlotsRequest* request,
                           tv1::ReportSlotsReply*) override {
    std::lock_guard lock(mutex_);
    if (fail_reports_ > 0) {
      --fail_reports_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the tracker is busy");
    }
    for (const tv1::SlotReport& report : request->reports()) reports_.push_back(report);
    return grpc::Status::OK;
  }

  void order(tv1::SlotOrder::Kind kind, const Cid& file, std::uint32_t slot, const net::PeerId& source,
             const std::string& address) {
    tv1::SlotOrder order;
    order.set_kind(kind);
    order.set_file_id(file.to_string());
    order.set_slot(slot);
    tv1::PeerAddress* peer = order.add_sources();
    peer->set_peer_id(source.to_string());
    peer->add_addresses(address);
    std::lock_guard lock(mutex_);
    orders_.push_back(std::move(order));
  }
  std::vector<tv1::SlotReport> reports() {
    std::lock_guard lock(mutex_);
    return reports_;
  }
  std::vector<tv1::RegisterConsumerRequest> registrations() {
    std::lock_guard lock(mutex_);
    return registrations_;
  }
  tv1::HeartbeatRequest last_heartbeat() {
    std::lock_guard lock(mutex_);
    return last_heartbeat_;
  }
  void forget_consumers() {
    std::lock_guard lock(mutex_);
    registered_ = false;
  }
  void fail_reports(int times) {
    std::lock_guard lock(mutex_);
    fail_reports_ = times;
  }
  /// ReconcileSlots answers DELETE for this slot.
  void unwant(const Cid& file, std::uint32_t slot) {
    std::lock_guard lock(mutex_);
    unwanted_.emplace(file.to_string(), slot);
  }
  /// The next heartbeat reply asks for a listing.
  void ask_reconcile() {
    std::lock_guard lock(mutex_);
    ask_reconcile_ = true;
  }
  std::vector<tv1::ReconcileSlotsRequest> listings() {
    std::lock_guard lock(mutex_);
    return listings_;
  }

 private:
  std::mutex mutex_;
  bool registered_ = false;
  bool ask_reconcile_ = false;
  std::set<std::pair<std::string, std::uint32_t>> unwanted_;
  std::vector<tv1::ReconcileSlotsRequest> listings_;
  int fail_reports_ = 0;
  int heartbeats_ = 0;
  tv1::HeartbeatRequest last_heartbeat_;
  std::vector<tv1::SlotOrder> orders_;
  std::vector<tv1::SlotReport> reports_;
  std::vector<tv1::RegisterConsumerRequest> registrations_;
};

/// A node: home, engine, identity, network (no DHT peers).
struct TestNode {
  std::unique_ptr<Home> home;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<net::Identity> identity;
  std::unique_ptr<Network> network;
};

std::unique_ptr<TestNode> make_node(const fs::path& dir, const NodeConfig& config) {
  auto node = std::make_unique<TestNode>();
  EXPECT_TRUE(Home::init(dir, false, config));
  node->home = std::make_unique<Home>(*Home::open(dir));
  node->engine = std::move(*Engine::open(*node->home));
  node->identity = std::make_unique<net::Identity>(*net::Identity::load_or_create(node->home->identity_key_path()));
  NetworkOptions options;
  options.dht_rate_limits = false;
  options.network_id = 0x0c0c0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
  options.lookup_timeout = 1s;
  auto network = Network::start(*node->engine, *node->identity, options);
  EXPECT_TRUE(network) << network.error().message;
  node->network = std::move(*network);
  return node;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class ConsumerTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kSlotBytes = 5 * 4096;  // 40000 bytes, k = 2, 4 KiB blocks: 5 stripes

  void SetUp() override {
    NodeConfig plain;
    plain.sync = false;
    plain.p2p_port = 0;
    plain.dht_port = 0;
    producer_ = make_node(tmp_.path() / "producer", plain);
    for (std::uint64_t seed : {1, 2}) {
      const Bytes data = ob::testing::seeded_bytes(40000, seed);
      auto cid = producer_->engine->store(memory_source(data), {"f.bin", ""}, CodingParams{2, 1, 4096});
      ASSERT_TRUE(cid) << cid.error().message;
      files_.push_back(*cid);
    }

    tracker_identity_ = std::make_unique<net::Identity>(*net::Identity::from_seed(ob::testing::seeded_bytes(32, 99)));
    auto tls = net::make_tls_identity(*tracker_identity_);
    ASSERT_TRUE(tls);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", net::server_credentials(*tls), &port);
    builder.RegisterService(&tracker_);
    tracker_server_ = builder.BuildAndStart();
    ASSERT_TRUE(tracker_server_ && port > 0);
    tracker_address_ = tracker_identity_->peer_id().to_string() + "@127.0.0.1:" + std::to_string(port);

    config_ = plain;
    config_.tracker = tracker_address_;
    config_.consumer_directory = (tmp_.path() / "consume").string();
    config_.consumer_limit_bytes = 10 * kSlotBytes;
    node_ = make_node(tmp_.path() / "consumer", config_);
  }
  void TearDown() override {
    consumer_.reset();
    if (tracker_server_) tracker_server_->Shutdown();
  }

  ConsumerOptions options() {
    ConsumerOptions o;
    o.heartbeat_interval = 40ms;
    o.tracker_deadline = 3s;
    o.quiet_grace = quiet_grace_;
    o.watcher.settle = 30ms;
    o.watcher.scan_interval = std::chrono::hours(1);
    o.fetch.deadline = 3s;
    o.update_startup = [this](const fs::path&, bool wanted) -> Result<void> {
      std::lock_guard lock(unit_mutex_);
      unit_calls_.push_back(wanted);
      if (fail_unit_) return fail(Errc::io, "no systemd here");
      return {};
    };
    return o;
  }
  void make_consumer(bool with_tracker = true) {
    std::optional<tracker::TrackerClient> client;
    if (with_tracker) {
      client = tracker::TrackerClient::connect(*tracker::TrackerAddress::parse(tracker_address_), node_->network->tls());
    }
    auto consumer = Consumer::create(*node_->home, *node_->engine, *node_->network, std::move(client), config_, options());
    ASSERT_TRUE(consumer) << consumer.error().message;
    consumer_ = std::move(*consumer);
  }
  void order(tv1::SlotOrder::Kind kind, const Cid& file, std::uint32_t slot) {
    tracker_.order(kind, file, slot, producer_->network->peer_id(), producer_->network->p2p_address());
  }
  /// Waits for the n-th report (1-based) and returns it.
  tv1::SlotReport report(std::size_t n) {
    EXPECT_TRUE(eventually([&] { return tracker_.reports().size() >= n; })) << "report " << n << " never came";
    const auto reports = tracker_.reports();
    return reports.size() >= n ? reports[n - 1] : tv1::SlotReport();
  }
  void store(const Cid& file, std::uint32_t slot, std::size_t report_number) {
    order(tv1::SlotOrder::STORE, file, slot);
    const tv1::SlotReport r = report(report_number);
    ASSERT_EQ(r.state(), tv1::SlotReport::STORED) << r.detail();
    ASSERT_EQ(r.file_id(), file.to_string());
    ASSERT_EQ(r.slot(), slot);
  }
  fs::path slot_file(const fs::path& dir, const Cid& file, std::uint32_t slot, const char* ext) const {
    return dir / file.to_string() / (std::to_string(slot) + ext);
  }
  NodeConfig config_on_disk() const {
    auto text = fileio::read_file(node_->home->dir() / "config.toml", 1 << 20);
    return *NodeConfig::from_toml(as_chars(*text));
  }
  std::vector<std::pair<Cid, std::uint32_t>> held() const {
    std::vector<std::pair<Cid, std::uint32_t>> out;
    for (const HeldSlot& s : consumer_->status().slots) out.emplace_back(s.file, s.slot);
    return out;
  }

  ob::testing::TempDir tmp_{"ob-consumer"};
  std::unique_ptr<TestNode> producer_;
  std::vector<Cid> files_;
  std::unique_ptr<net::Identity> tracker_identity_;
  FakeTracker tracker_;
  std::unique_ptr<grpc::Server> tracker_server_;
  std::string tracker_address_;
  NodeConfig config_;
  std::unique_ptr<TestNode> node_;
  std::unique_ptr<Consumer> consumer_;
  std::mutex unit_mutex_;
  std::vector<bool> unit_calls_;
  bool fail_unit_ = false;
  std::chrono::milliseconds quiet_grace_ = 300ms;
};

TEST_F(ConsumerTest, StartNeedsATracker) {
  make_consumer(/*with_tracker=*/false);
  auto started = consumer_->start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::invalid_argument);
  EXPECT_EQ(started.error().message, "no tracker configured: set [tracker] address in config.toml");
  EXPECT_FALSE(consumer_->status().started);
  EXPECT_FALSE(Consumer::was_started(node_->home->dir()));
}

TEST_F(ConsumerTest, StartRegistersAndRemembersThatItRuns) {
  make_consumer();
  auto started = consumer_->start();
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_FALSE(*started);
  EXPECT_TRUE(*consumer_->start());  // already started
  ASSERT_TRUE(eventually([&] { return consumer_->status().registered; }));
  const auto registrations = tracker_.registrations();
  ASSERT_FALSE(registrations.empty());
  ASSERT_EQ(registrations[0].addresses_size(), 1);
  EXPECT_EQ(registrations[0].addresses(0), node_->network->p2p_address());
  EXPECT_EQ(registrations[0].capacity_bytes(), 10 * kSlotBytes);
  EXPECT_TRUE(Consumer::was_started(node_->home->dir()));

  // The tracker forgets us (it restarted): the next heartbeat registers again.
  tracker_.forget_consumers();
  ASSERT_TRUE(eventually([&] { return tracker_.registrations().size() >= 2; }));

  // A daemon exiting keeps "started"; the user's stop clears it.
  consumer_->shutdown();
  EXPECT_FALSE(consumer_->status().started);
  EXPECT_TRUE(Consumer::was_started(node_->home->dir()));
  ASSERT_TRUE(consumer_->start());
  EXPECT_TRUE(consumer_->stop());
  EXPECT_FALSE(consumer_->stop());
  EXPECT_FALSE(Consumer::was_started(node_->home->dir()));
}

TEST_F(ConsumerTest, NewMarketTermsReachTheTrackerWithANewRegistration) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  ASSERT_TRUE(eventually([&] { return consumer_->status().registered; }));
  const std::size_t before = tracker_.registrations().size();
  EXPECT_EQ(tracker_.registrations().back().account(), "");  // Free tier only
  EXPECT_EQ(tracker_.registrations().back().price(), 0u);

  ConsumerChange change;
  change.account = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
  change.price_wei = 7;
  ASSERT_TRUE(consumer_->configure(change));
  ASSERT_TRUE(eventually([&] { return tracker_.registrations().size() > before; }));
  EXPECT_EQ(tracker_.registrations().back().account(), *change.account);
  EXPECT_EQ(tracker_.registrations().back().price(), 7u);
  EXPECT_EQ(config_on_disk().consumer_price_wei, 7u);
  EXPECT_EQ(consumer_->status().price_wei, 7u);
}

TEST_F(ConsumerTest, StoreServeAndDeleteASlot) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  const Cid& file = files_[0];
  store(file, 1, 1);
  const tv1::SlotReport stored = report(1);
  EXPECT_GE(stored.bytes(), kSlotBytes);
  const fs::path dir = tmp_.path() / "consume";
  ASSERT_TRUE(fs::exists(slot_file(dir, file, 1, ".blocks")));
  EXPECT_EQ(consumer_->status().used_bytes, kSlotBytes);
  ASSERT_EQ(held(), (std::vector<std::pair<Cid, std::uint32_t>>{{file, 1}}));
  EXPECT_TRUE(node_->engine->blocks().has(file).value_or(false));  // the manifest, for audits
  ASSERT_TRUE(eventually([&] { return tracker_.last_heartbeat().used_bytes() == kSlotBytes; }));

  // Served to peers: an audit from the producer's side passes.
  auto manifest = producer_->engine->manifest(file);
  ASSERT_TRUE(manifest);
  const auto peer = exchange::PeerClient::connect(node_->network->peer_id(), node_->network->p2p_address(),
                                                  producer_->network->tls());
  auto audit = exchange::audit_slot(peer, file, *manifest, 1, 3);
  EXPECT_TRUE(audit) << audit.error().message;

  // Our own store did not look like damage to CWatcher.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(tracker_.reports().size(), 1u);

  // The same order again: nothing to fetch.
  order(tv1::SlotOrder::STORE, file, 1);
  EXPECT_EQ(report(2).state(), tv1::SlotReport::STORED);

  order(tv1::SlotOrder::DELETE, file, 1);
  const tv1::SlotReport deleted = report(3);
  EXPECT_EQ(deleted.state(), tv1::SlotReport::DELETED);
  EXPECT_FALSE(fs::exists(dir / file.to_string()));
  EXPECT_TRUE(held().empty());
  EXPECT_FALSE(node_->engine->blocks().has(file).value_or(true));  // the manifest went with it
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(tracker_.reports().size(), 3u);  // no GIVEN_UP for our own delete
}

TEST_F(ConsumerTest, AStoreOverTheLimitIsRefused) {
  config_.consumer_limit_bytes = kSlotBytes + kSlotBytes / 2;
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  order(tv1::SlotOrder::STORE, files_[0], 2);
  const tv1::SlotReport refused = report(2);
  EXPECT_EQ(refused.state(), tv1::SlotReport::FAILED);
  EXPECT_EQ(refused.reason(), tv1::SlotReport::NO_SPACE);  // the tracker stops offering slots
  EXPECT_TRUE(refused.detail().starts_with("over limit")) << refused.detail();
  EXPECT_FALSE(fs::exists(slot_file(tmp_.path() / "consume", files_[0], 2, ".blocks")));
  EXPECT_EQ(consumer_->status().used_bytes, kSlotBytes);
}

TEST_F(ConsumerTest, AFailedStoreIsReportedWithTheReason) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  // A file the source does not have.
  const Cid missing = Cid::raw_sha256(as_bytes("not a file"));
  order(tv1::SlotOrder::STORE, missing, 0);
  const tv1::SlotReport failed = report(1);
  EXPECT_EQ(failed.state(), tv1::SlotReport::FAILED);
  EXPECT_EQ(failed.reason(), tv1::SlotReport::REASON_UNSPECIFIED);
  EXPECT_FALSE(failed.detail().empty());
  EXPECT_TRUE(held().empty());
}

// Issue 15, 6: the free space a consumer reports is the smaller of what its limit leaves and
// what its file system has, not its limit.
TEST_F(ConsumerTest, ItReportsTheSmallerOfItsLimitsRoomAndItsDisksFreeSpace) {
  config_.consumer_limit_bytes = std::uint64_t{1} << 60;  // far more than any test disk
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  ASSERT_TRUE(eventually([&] { return tracker_.last_heartbeat().has_free_bytes(); }));
  struct statvfs st{};
  ASSERT_EQ(::statvfs((tmp_.path() / "consume").c_str(), &st), 0);
  const std::uint64_t disk = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  const tv1::HeartbeatRequest beat = tracker_.last_heartbeat();
  EXPECT_EQ(beat.capacity_bytes(), std::uint64_t{1} << 60);
  // Others write on this disk meanwhile: allow for 1 GiB of change.
  EXPECT_LE(beat.free_bytes(), disk + (1u << 30));
  EXPECT_LT(beat.free_bytes(), std::uint64_t{1} << 59);
  ASSERT_FALSE(tracker_.registrations().empty());
  EXPECT_TRUE(tracker_.registrations()[0].has_free_bytes());
  EXPECT_LE(tracker_.registrations()[0].free_bytes(), disk + (1u << 30));
  consumer_.reset();

  // With a small limit, what the limit leaves.
  config_.consumer_limit_bytes = 10 * kSlotBytes;
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  ASSERT_TRUE(eventually([&] { return tracker_.last_heartbeat().free_bytes() == 9 * kSlotBytes; }));
}

// The tracker asks on every heartbeat until a listing arrives (a reply may be lost), so a
// consumer holding nothing still answers: with one empty page.
TEST_F(ConsumerTest, AConsumerHoldingNothingListsAnEmptyPageWhenAsked) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  ASSERT_TRUE(eventually([&] { return !tracker_.listings().empty(); }));  // after registering
  EXPECT_EQ(tracker_.listings().front().slots_size(), 0);
  const std::size_t before = tracker_.listings().size();
  tracker_.ask_reconcile();
  ASSERT_TRUE(eventually([&] { return tracker_.listings().size() > before; }));
  EXPECT_EQ(tracker_.listings().back().slots_size(), 0);
}

// Issue 15, 7: after registering, and when asked, the consumer lists its slots; what the tracker
// answers DELETE for goes.
TEST_F(ConsumerTest, ItListsItsSlotsToTheTrackerAndDeletesWhatIsNotWanted) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  ASSERT_TRUE(eventually([&] { return consumer_->status().registered; }));
  store(files_[0], 0, 1);
  store(files_[1], 1, 2);
  tracker_.unwant(files_[1], 1);
  // The tracker lost track of us (it says it does not know us): register, then list.
  tracker_.forget_consumers();
  const auto listed_both = [&] {
    for (const auto& listing : tracker_.listings()) {
      if (listing.slots_size() == 2) return true;
    }
    return false;
  };
  ASSERT_TRUE(eventually(listed_both));
  const tv1::SlotReport deleted = report(3);
  EXPECT_EQ(deleted.state(), tv1::SlotReport::DELETED);
  EXPECT_EQ(deleted.file_id(), files_[1].to_string());
  EXPECT_EQ(deleted.slot(), 1u);
  EXPECT_EQ(held(), (std::vector<std::pair<Cid, std::uint32_t>>{{files_[0], 0}}));
  EXPECT_FALSE(fs::exists(tmp_.path() / "consume" / files_[1].to_string()));

  // A heartbeat asking for it gets another listing, of what is left.
  const std::size_t before = tracker_.listings().size();
  tracker_.ask_reconcile();
  ASSERT_TRUE(eventually([&] { return tracker_.listings().size() > before; }));
  const auto last = tracker_.listings().back();
  ASSERT_EQ(last.slots_size(), 1);
  EXPECT_EQ(last.slots(0).file_id(), files_[0].to_string());
  EXPECT_EQ(last.slots(0).slot(), 0u);
}

TEST_F(ConsumerTest, SlotsChangedOnDiskAreGivenUpAndReported) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  store(files_[1], 1, 2);
  std::this_thread::sleep_for(400ms);  // past the quiet time of our own writes
  const fs::path dir = tmp_.path() / "consume";

  // One byte changed by someone else.
  const int fd = ::open(slot_file(dir, files_[0], 0, ".blocks").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const std::uint8_t byte = 0xee;
  ASSERT_EQ(::pwrite(fd, &byte, 1, 4096 + 17), 1);
  ::close(fd);
  const tv1::SlotReport modified = report(3);
  EXPECT_EQ(modified.state(), tv1::SlotReport::GIVEN_UP);
  EXPECT_EQ(modified.file_id(), files_[0].to_string());
  EXPECT_EQ(modified.slot(), 0u);
  EXPECT_NE(modified.detail().find("modified on disk"), std::string::npos) << modified.detail();
  EXPECT_FALSE(fs::exists(slot_file(dir, files_[0], 0, ".blocks")));  // what was left is removed

  // One deleted.
  ASSERT_TRUE(fs::remove(slot_file(dir, files_[1], 1, ".index")));
  const tv1::SlotReport deleted = report(4);
  EXPECT_EQ(deleted.state(), tv1::SlotReport::GIVEN_UP);
  EXPECT_EQ(deleted.file_id(), files_[1].to_string());
  EXPECT_TRUE(held().empty());
  EXPECT_EQ(consumer_->status().used_bytes, 0u);
}

// Issue 15: the tracker sent STORE again for a slot whose audit it had just failed; the
// consumer answered "already stored" and, though it wrote nothing, CWatcher left the slot alone
// for the quiet time of an own write, again with every such order. An order that changes nothing
// on disk must not hide the slot from CWatcher: here the quiet time is an hour, so only a check
// right after the change can give the slot up in time.
TEST_F(ConsumerTest, AStoreOfAHeldSlotDoesNotHideItsDamage) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  // A restarted daemon: the slot is held, with no quiet time left from storing it.
  consumer_.reset();
  quiet_grace_ = std::chrono::hours(1);
  make_consumer();
  ASSERT_TRUE(consumer_->start());

  order(tv1::SlotOrder::STORE, files_[0], 0);
  const tv1::SlotReport again = report(2);
  ASSERT_EQ(again.state(), tv1::SlotReport::STORED);
  ASSERT_EQ(again.detail(), "already stored");

  const fs::path blocks = slot_file(tmp_.path() / "consume", files_[0], 0, ".blocks");
  const int fd = ::open(blocks.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const std::uint8_t byte = 0xee;
  ASSERT_EQ(::pwrite(fd, &byte, 1, 17), 1);
  ::close(fd);
  const tv1::SlotReport modified = report(3);
  EXPECT_EQ(modified.state(), tv1::SlotReport::GIVEN_UP);
  EXPECT_NE(modified.detail().find("modified on disk"), std::string::npos) << modified.detail();
  EXPECT_TRUE(held().empty());
}

TEST_F(ConsumerTest, LoweringTheLimitGivesUpTheNewestSlotsFirst) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  store(files_[1], 2, 2);
  store(files_[0], 1, 3);  // the newest

  ConsumerChange change;
  change.limit_bytes = 2 * kSlotBytes;
  ASSERT_TRUE(consumer_->configure(change));
  tv1::SlotReport given = report(4);
  EXPECT_EQ(given.state(), tv1::SlotReport::GIVEN_UP);
  EXPECT_EQ(given.file_id(), files_[0].to_string());
  EXPECT_EQ(given.slot(), 1u);
  EXPECT_TRUE(given.detail().starts_with("over limit")) << given.detail();
  EXPECT_EQ(consumer_->status().used_bytes, 2 * kSlotBytes);
  EXPECT_EQ(config_on_disk().consumer_limit_bytes, 2 * kSlotBytes);

  change.limit_bytes = kSlotBytes + 1;
  ASSERT_TRUE(consumer_->configure(change));
  given = report(5);
  EXPECT_EQ(given.file_id(), files_[1].to_string());
  EXPECT_EQ(given.slot(), 2u);
  EXPECT_EQ(held(), (std::vector<std::pair<Cid, std::uint32_t>>{{files_[0], 0}}));

  // At the limit: no more stores.
  order(tv1::SlotOrder::STORE, files_[1], 0);
  EXPECT_EQ(report(6).state(), tv1::SlotReport::FAILED);
  ASSERT_TRUE(eventually([&] { return tracker_.last_heartbeat().capacity_bytes() == kSlotBytes + 1; }));
}

TEST_F(ConsumerTest, ReportsThatFailToSendAreSentLater) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  tracker_.fail_reports(3);
  store(files_[0], 0, 1);
  EXPECT_TRUE(eventually([&] { return consumer_->pending_reports().empty(); }));
  EXPECT_EQ(tracker_.reports().size(), 1u);
}

TEST_F(ConsumerTest, ConfigureMovesTheSlotsToANewDirectory) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  store(files_[1], 1, 2);
  const fs::path target = tmp_.path() / "new" / "place";
  ConsumerChange change;
  change.directory = target.string();
  change.start_on_startup = true;
  auto ok = consumer_->configure(change);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(consumer_->directory(), target);
  EXPECT_TRUE(fs::exists(slot_file(target, files_[0], 0, ".blocks")));
  EXPECT_TRUE(fs::exists(slot_file(target, files_[1], 1, ".index")));
  EXPECT_FALSE(fs::exists(tmp_.path() / "consume" / files_[0].to_string()));
  const NodeConfig disk = config_on_disk();
  EXPECT_EQ(disk.consumer_directory, target.string());
  EXPECT_TRUE(disk.consumer_start_on_startup);
  EXPECT_EQ(disk.tracker, tracker_address_);  // the rest of the file is kept
  EXPECT_EQ(unit_calls_, std::vector<bool>{true});
  EXPECT_EQ(held().size(), 2u);

  // Still served from the new place, and still watched there.
  auto manifest = producer_->engine->manifest(files_[1]);
  const auto peer = exchange::PeerClient::connect(node_->network->peer_id(), node_->network->p2p_address(),
                                                  producer_->network->tls());
  EXPECT_TRUE(exchange::audit_slot(peer, files_[1], *manifest, 1, 0));
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(fs::remove(slot_file(target, files_[1], 1, ".blocks")));
  EXPECT_EQ(report(3).state(), tv1::SlotReport::GIVEN_UP);
}

TEST_F(ConsumerTest, ConfigureMovesAcrossFileSystemsByCopying) {
  struct stat here{};
  struct stat shm{};
  if (::stat(tmp_.path().c_str(), &here) != 0 || ::stat("/dev/shm", &shm) != 0 || here.st_dev == shm.st_dev ||
      ::access("/dev/shm", W_OK) != 0) {
    GTEST_SKIP() << "no second file system at /dev/shm";
  }
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  store(files_[0], 1, 2);
  const fs::path target = fs::path("/dev/shm") / ("ob-consumer-" + fileio::random_suffix());
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{target};
  ConsumerChange change;
  change.directory = target.string();
  auto ok = consumer_->configure(change);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(fs::exists(tmp_.path() / "consume" / files_[0].to_string()));
  auto store = SlotStore::open(target);
  ASSERT_TRUE(store);
  for (std::uint32_t slot : {0u, 1u}) {
    EXPECT_TRUE(check_slot(*store, node_->engine->blocks(), {files_[0], slot}, /*full=*/true)) << slot;
  }
  for (const auto& entry : fs::directory_iterator(target)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".moving-")) << entry.path();
  }
  // The copies keep their times: nothing looks modified.
  for (std::uint32_t slot : {0u, 1u}) {
    EXPECT_LE(fs::last_write_time(slot_file(target, files_[0], slot, ".blocks")),
              fs::last_write_time(slot_file(target, files_[0], slot, ".index")));
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(tracker_.reports().size(), 2u);
  EXPECT_EQ(held().size(), 2u);
}

TEST_F(ConsumerTest, AFailedStepRollsEverythingBack) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  store(files_[1], 1, 2);
  const NodeConfig before = config_on_disk();
  const fs::path old_dir = tmp_.path() / "consume";
  const fs::path target = tmp_.path() / "fresh" / "dir";

  // The startup unit cannot be written: the slots move back, the new directory goes.
  fail_unit_ = true;
  ConsumerChange change;
  change.directory = target.string();
  change.limit_bytes = 1;
  change.start_on_startup = true;
  auto failed = consumer_->configure(change);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::io);
  EXPECT_FALSE(fs::exists(tmp_.path() / "fresh"));
  EXPECT_TRUE(fs::exists(slot_file(old_dir, files_[0], 0, ".blocks")));
  EXPECT_TRUE(fs::exists(slot_file(old_dir, files_[1], 1, ".index")));
  EXPECT_EQ(config_on_disk().to_toml(), before.to_toml());
  EXPECT_EQ(consumer_->directory(), old_dir);
  EXPECT_EQ(consumer_->status().limit_bytes, 10 * kSlotBytes);
  EXPECT_EQ(held().size(), 2u);

  // The new directory already holds one of the files: refused, nothing moved.
  fail_unit_ = false;
  const fs::path occupied = tmp_.path() / "occupied";
  fs::create_directories(occupied / files_[1].to_string());
  change.directory = occupied.string();
  failed = consumer_->configure(change);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::already_exists);
  EXPECT_TRUE(fs::exists(slot_file(old_dir, files_[0], 0, ".blocks")));
  EXPECT_FALSE(fs::exists(occupied / files_[0].to_string()));
  EXPECT_EQ(config_on_disk().to_toml(), before.to_toml());

  // Not a directory; inside the node's own stores.
  const fs::path a_file = tmp_.path() / "a-file";
  ASSERT_TRUE(fileio::write_file_atomic(a_file, as_bytes("x")));
  for (const fs::path& bad : {a_file, a_file / "below", node_->home->slots_dir(), fs::path("relative/dir")}) {
    change.directory = bad.string();
    failed = consumer_->configure(change);
    ASSERT_FALSE(failed) << bad;
    EXPECT_EQ(failed.error().code, Errc::invalid_argument) << bad;
    EXPECT_TRUE(failed.error().message.starts_with("Invalid directory")) << failed.error().message;
  }
  EXPECT_EQ(config_on_disk().to_toml(), before.to_toml());
  EXPECT_EQ(held().size(), 2u);
  // Nothing was given up by any of it.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(tracker_.reports().size(), 2u);

  // The store keeps working after the rollbacks.
  order(tv1::SlotOrder::DELETE, files_[0], 0);
  EXPECT_EQ(report(3).state(), tv1::SlotReport::DELETED);
}

TEST_F(ConsumerTest, ConfigureWhileStoppedAndPendingReportsSurviveARestart) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 0, 1);
  store(files_[1], 0, 2);
  ASSERT_TRUE(consumer_->stop());
  tracker_server_->Shutdown();  // the tracker is gone for now

  ConsumerChange change;
  change.limit_bytes = kSlotBytes;
  ASSERT_TRUE(consumer_->configure(change));
  EXPECT_EQ(held().size(), 1u);
  ASSERT_EQ(consumer_->pending_reports().size(), 1u);
  EXPECT_EQ(consumer_->pending_reports()[0].state, tv1::SlotReport::GIVEN_UP);

  // A new consumer (a restarted daemon) still has the report to send.
  consumer_.reset();
  make_consumer();
  ASSERT_EQ(consumer_->pending_reports().size(), 1u);
  EXPECT_EQ(held().size(), 1u);
}

TEST_F(ConsumerTest, ASlotDeletedWhileStoppedIsGivenUpAtTheNextStart) {
  make_consumer();
  ASSERT_TRUE(consumer_->start());
  store(files_[0], 2, 1);
  ASSERT_TRUE(consumer_->stop());
  fs::remove_all(tmp_.path() / "consume");
  ASSERT_TRUE(consumer_->start());
  const tv1::SlotReport given = report(2);
  EXPECT_EQ(given.state(), tv1::SlotReport::GIVEN_UP);
  EXPECT_EQ(given.slot(), 2u);
  EXPECT_TRUE(held().empty());
  EXPECT_TRUE(fs::is_directory(tmp_.path() / "consume"));  // made again
}

TEST_F(ConsumerTest, RoutesAnswerAsSeed000Says) {
  make_consumer();
  const std::vector<api::JsonRoute> routes = api::consumer_routes(*consumer_);
  const auto call = [&](const std::string& method, const std::string& path, const nlohmann::json& body) {
    for (const api::JsonRoute& r : routes) {
      if (r.method == method && r.path == path) return r.handler(body);
    }
    ADD_FAILURE() << "no route " << method << " " << path;
    return api::JsonReply{};
  };
  using nlohmann::json;
  api::JsonReply reply = call("POST", "/v1/consumer/start", json());
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, (json{{"msg", "Consumer started"}}));
  EXPECT_EQ(call("POST", "/v1/consumer/start", json()).body, (json{{"msg", "Consumer had already started"}}));

  EXPECT_EQ(call("POST", "/v1/consumer/configs", json{{"limit", 5}}).body["msg"], "Invalid limit");
  EXPECT_EQ(call("POST", "/v1/consumer/configs", json{{"limit", "lots"}}).status, 400);
  EXPECT_EQ(call("POST", "/v1/consumer/configs", json{{"startOnStartup", "yes"}}).body["msg"], "Invalid startOnStartup");
  reply = call("POST", "/v1/consumer/configs", json{{"directory", 3}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body["msg"], "Invalid directory");
  reply = call("POST", "/v1/consumer/configs", json{{"directory", "/proc/1/nope"}, {"limit", "1 GB"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body["msg"], "Invalid directory");
  EXPECT_EQ(consumer_->status().limit_bytes, 10 * kSlotBytes);  // nothing applied
  for (const json& price : {json(-1), json(1.5), json("12 wei"), json(""), json("9223372036854775808")}) {
    reply = call("POST", "/v1/consumer/configs", json{{"price", price}, {"limit", "1 GB"}});
    EXPECT_EQ(reply.status, 400) << price;
    EXPECT_EQ(reply.body["msg"], "Invalid price") << price;
  }
  EXPECT_EQ(consumer_->status().limit_bytes, 10 * kSlotBytes);  // nothing applied
  EXPECT_EQ(consumer_->status().price_wei, 0u);
  EXPECT_EQ(call("POST", "/v1/consumer/configs", json{{"price", "9223372036854775807"}}).status, 200);
  EXPECT_EQ(consumer_->status().price_wei, 9223372036854775807u);
  EXPECT_EQ(call("POST", "/v1/consumer/configs", json{{"price", 12}}).status, 200);

  reply = call("POST", "/v1/consumer/configs", json{{"limit", "2 GB"}, {"startOnStartup", false}});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, (json{{"msg", "Consumer configs applied"}}));
  EXPECT_EQ(config_on_disk().consumer_limit_bytes, 2'000'000'000u);

  reply = call("GET", "/v1/consumer/slots", json());
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["started"], true);
  EXPECT_EQ(reply.body["limit"], "2 GB");
  EXPECT_EQ(reply.body["limitBytes"], 2'000'000'000u);
  EXPECT_EQ(reply.body["usedBytes"], 0u);
  EXPECT_EQ(reply.body["price"], "12");
  EXPECT_EQ(reply.body["directory"], (tmp_.path() / "consume").string());
  EXPECT_TRUE(reply.body["slots"].is_array());

  EXPECT_EQ(call("POST", "/v1/consumer/stop", json()).body, (json{{"msg", "Consumer stopped"}}));
  EXPECT_EQ(call("POST", "/v1/consumer/stop", json()).body, (json{{"msg", "Consumer had already stopped"}}));
}

TEST_F(ConsumerTest, StartWithoutTrackerIsA400WithTheReason) {
  make_consumer(/*with_tracker=*/false);
  const auto routes = api::consumer_routes(*consumer_);
  for (const api::JsonRoute& r : routes) {
    if (r.path != "/v1/consumer/start") continue;
    const api::JsonReply reply = r.handler(nlohmann::json());
    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.body["msg"], "no tracker configured: set [tracker] address in config.toml");
  }
}

}  // namespace
}  // namespace ob::consumer
