// Three nodes on loopback find each other through the DHT and move a file by CID (issue 3):
// put on A, fetched on C with A found as provider, then C is a provider too.
#include "node/network.h"

#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include <set>
#include <thread>

#include "core/metrics.h"
#include "core/protocol.h"
#include "testing/test_util.h"

namespace ob {
namespace {

using namespace std::chrono_literals;

struct TestNode {
  std::filesystem::path dir;
  std::unique_ptr<Home> home;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<net::Identity> identity;
  std::unique_ptr<Network> network;
};

std::unique_ptr<TestNode> make_node(const std::filesystem::path& dir, const std::vector<std::string>& bootstrap,
                                    const std::filesystem::path* master_from, std::uint32_t network_id) {
  auto node = std::make_unique<TestNode>();
  node->dir = dir;
  EXPECT_TRUE(Home::init(dir, false));
  NodeConfig config;
  config.sync = false;
  EXPECT_TRUE(fileio::write_file_atomic(dir / "config.toml", as_bytes(config.to_toml())));
  if (master_from != nullptr) {
    EXPECT_TRUE(fileio::write_file_atomic(dir / "keys/master.key", *fileio::read_file(*master_from / "keys/master.key", 64), 0600));
  }
  node->home = std::make_unique<Home>(*Home::open(dir));
  node->engine = std::move(*Engine::open(*node->home));
  node->identity = std::make_unique<net::Identity>(*net::Identity::load_or_create(node->home->identity_key_path()));
  NetworkOptions options;
  options.bootstrap = bootstrap;
  options.network_id = network_id;
  options.dht_rate_limits = false;
  options.lookup_timeout = 2s;
  auto network = Network::start(*node->engine, *node->identity, options);
  EXPECT_TRUE(network) << network.error().message;
  node->network = std::move(*network);
  return node;
}

TEST(Network, AFilePutOnOneNodeIsFetchedOnAnotherThroughTheDht) {
  ob::testing::TempDir tmp("ob-network");
  const std::uint32_t network_id = 0x0b0c0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
  auto a = make_node(tmp.path() / "a", {}, nullptr, network_id);
  const std::string seed = "127.0.0.1:" + std::to_string(a->network->dht_port());
  auto b = make_node(tmp.path() / "b", {seed}, &a->dir, network_id);
  auto c = make_node(tmp.path() / "c", {seed}, &a->dir, network_id);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((b->network->dht_nodes() == 0 || c->network->dht_nodes() == 0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }

  const Bytes data = ob::testing::seeded_bytes(300000, 5);
  auto cid = a->engine->store(memory_source(data), {"net.bin", ""}, CodingParams{4, 2, 16384});
  ASSERT_TRUE(cid) << cid.error().message;
  ASSERT_TRUE(a->network->announce(*cid));

  Result<exchange::FetchReport> report = fail(Errc::not_found, "not tried");
  while (!report && std::chrono::steady_clock::now() < deadline) report = c->network->fetch(*cid);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_FALSE(report->already_local);
  Bytes back;
  ASSERT_TRUE(c->engine->retrieve(*cid, memory_sink(back)));
  EXPECT_EQ(back, data);

  // C announced itself: both A and C are providers now.
  std::vector<discovery::PeerRecord> providers;
  while (providers.size() < 2 && std::chrono::steady_clock::now() < deadline) providers = b->network->providers(*cid);
  ASSERT_EQ(providers.size(), 2u);
  std::set<net::PeerId> ids{providers[0].peer, providers[1].peer};
  EXPECT_TRUE(ids.contains(a->network->peer_id()));
  EXPECT_TRUE(ids.contains(c->network->peer_id()));

  // Peers are found by ID.
  auto found = b->network->find_peer(a->network->peer_id());
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->addresses, std::vector<std::string>{a->network->p2p_address()});
}

TEST(Network, AShareTokensKeyOpensAnotherOwnersFileAndNoOtherKeyDoes) {
  ob::testing::TempDir tmp("ob-network-share");
  const std::uint32_t network_id = 0x0b0d0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
  auto owner = make_node(tmp.path() / "owner", {}, nullptr, network_id);
  auto reader = make_node(tmp.path() / "reader", {}, nullptr, network_id);  // another master secret
  const Bytes data = ob::testing::seeded_bytes(200000, 9);
  auto cid = owner->engine->store(memory_source(data), {"shared.bin", ""}, CodingParams{2, 1, 16384});
  ASSERT_TRUE(cid) << cid.error().message;
  auto manifest = owner->engine->manifest(*cid);
  ASSERT_TRUE(manifest);
  auto key = unwrap_file_key(owner->home->master_secret(), manifest->key);
  ASSERT_TRUE(key);
  const std::vector<exchange::PeerClient> peers{
      exchange::PeerClient::connect(owner->network->peer_id(), owner->network->p2p_address(), reader->network->tls())};

  // Not the owner, no key: refused.
  auto refused = reader->network->open_reader(*cid, peers);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::corrupt);
  // Another key: refused, saying so.
  crypto::Key wrong = *key;
  wrong[0] ^= 1;
  auto wrong_key = reader->network->open_reader(*cid, peers, &wrong);
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(wrong_key.error().message.find("share token's key does not open"), std::string::npos)
      << wrong_key.error().message;
  // The file's key: the reader reads the file, byte for byte, and stores nothing.
  auto opened = reader->network->open_reader(*cid, peers, &*key);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->metadata().name, "shared.bin");
  Bytes back;
  while (!opened->done()) ASSERT_TRUE(opened->read_stripe(memory_sink(back)));
  EXPECT_EQ(back, data);
  auto stored = reader->engine->has(*cid);
  ASSERT_TRUE(stored);
  EXPECT_FALSE(*stored);
}

// Random access over the network (issue 13): read_at moves only the k blocks of the stripes it
// touches, in any order, and gives the plaintext, also with m slots' holder gone.
TEST(Network, ReadAtFetchesOnlyTheStripesItTouches) {
  ob::testing::TempDir tmp("ob-network-read-at");
  const std::uint32_t network_id = 0x0b0e0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
  auto owner = make_node(tmp.path() / "owner", {}, nullptr, network_id);
  auto reader = make_node(tmp.path() / "reader", {}, &owner->dir, network_id);  // same owner, stores nothing
  const CodingParams params{4, 2, 16384};
  const std::uint64_t stripe = params.stripe_plaintext_size();
  const Bytes data = ob::testing::seeded_bytes(40 * stripe + 1234, 11);
  auto cid = owner->engine->store(memory_source(data), {"random.bin", ""}, params);
  ASSERT_TRUE(cid) << cid.error().message;
  const std::vector<exchange::PeerClient> peers{
      exchange::PeerClient::connect(owner->network->peer_id(), owner->network->p2p_address(), reader->network->tls())};
  auto opened = reader->network->open_reader(*cid, peers);
  ASSERT_TRUE(opened) << opened.error().message;
  metrics::Counter& fetched = metrics::counter("ob_exchange_bytes_fetched_total", "");

  const auto expect_range = [&](std::uint64_t offset, std::uint64_t length, std::uint64_t stripes_touched) {
    Bytes out;
    const std::uint64_t before = fetched.value();
    auto n = opened->read_at(offset, length, memory_sink(out));
    ASSERT_TRUE(n) << n.error().message;
    const std::uint64_t want = std::min<std::uint64_t>(length, data.size() - offset);
    ASSERT_EQ(out, Bytes(data.begin() + static_cast<std::ptrdiff_t>(offset),
                         data.begin() + static_cast<std::ptrdiff_t>(offset + want)))
        << "offset " << offset;
    // The blocks of the stripes touched, k each, and no read-ahead.
    EXPECT_EQ(fetched.value() - before, stripes_touched * params.k * params.block_size) << "offset " << offset;
  };
  expect_range(20 * stripe + 100, 4096, 1);      // the middle, first
  expect_range(20 * stripe + 9000, 4096, 0);     // the same stripe again: kept, nothing fetched
  expect_range(data.size() - 1000, 1000, 1);     // the last partial stripe
  expect_range(0, 10, 1);                        // the start
  expect_range(7 * stripe - 50, 100, 2);         // across a stripe boundary
  expect_range(3 * stripe, 3 * stripe, 3);       // three whole stripes

  // Sequential reads go on without a seek and read ahead: still the right bytes.
  Bytes seq;
  for (std::uint64_t offset = 10 * stripe; offset < 20 * stripe; offset += 5000) {
    Bytes out;
    ASSERT_TRUE(opened->read_at(offset, 5000, memory_sink(out)));
    seq.insert(seq.end(), out.begin(), out.end());
  }
  EXPECT_EQ(seq, Bytes(data.begin() + static_cast<std::ptrdiff_t>(10 * stripe),
                       data.begin() + static_cast<std::ptrdiff_t>(10 * stripe + seq.size())));

  // With m slots gone (two data slots), any range is rebuilt from the other k.
  for (std::uint32_t slot : {0u, 1u}) ASSERT_TRUE(owner->engine->damage(*cid, slot, false));
  auto degraded = reader->network->open_reader(*cid, peers);
  ASSERT_TRUE(degraded) << degraded.error().message;
  for (std::uint64_t offset : {std::uint64_t{5}, 33 * stripe + 7, data.size() - 3, 2 * stripe - 1}) {
    Bytes out;
    auto n = degraded->read_at(offset, 2000, memory_sink(out));
    ASSERT_TRUE(n) << n.error().message;
    const std::uint64_t want = std::min<std::uint64_t>(2000, data.size() - offset);
    EXPECT_EQ(out, Bytes(data.begin() + static_cast<std::ptrdiff_t>(offset),
                         data.begin() + static_cast<std::ptrdiff_t>(offset + want)));
  }
}

TEST(Network, UnknownCidsAreNotFoundWithinTheTimeout) {
  ob::testing::TempDir tmp("ob-network");
  const std::uint32_t network_id = 0x0b0d0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
  auto a = make_node(tmp.path() / "a", {}, nullptr, network_id);
  const Cid missing = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("nobody has this")));
  const auto start = std::chrono::steady_clock::now();
  auto report = a->network->fetch(missing);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::not_found);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

// Issue 4: a node serves the slots its consumer role holds (a second SlotStore) beside its
// engine's, and stops serving them when the store is withdrawn.
TEST(Network, ServesSlotsOfTheConsumerStoreWhileItIsSet) {
  ob::testing::TempDir tmp("ob-network");
  const std::uint32_t network_id = 0x0b0e0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
  auto a = make_node(tmp.path() / "a", {}, nullptr, network_id);
  auto b = make_node(tmp.path() / "b", {}, nullptr, network_id);  // another owner: a consumer
  const Bytes data = ob::testing::seeded_bytes(100000, 9);
  auto cid = a->engine->store(memory_source(data), {"slot.bin", ""}, CodingParams{2, 1, 8192});
  ASSERT_TRUE(cid) << cid.error().message;
  const Manifest manifest = *a->engine->manifest(*cid);

  auto consumer = SlotStore::open(tmp.path() / "b-consumer");
  ASSERT_TRUE(consumer) << consumer.error().message;
  auto store = std::make_shared<SlotStore>(std::move(*consumer));
  const std::vector<exchange::PeerClient> from_a{
      exchange::PeerClient::connect(a->network->peer_id(), a->network->p2p_address(), b->network->tls())};
  const std::uint32_t wanted[] = {1};
  auto fetched = exchange::fetch_slots(*cid, wanted, from_a, b->engine->blocks(), *store);
  ASSERT_TRUE(fetched) << fetched.error().message;
  ASSERT_FALSE(b->engine->slots().has_file(*cid));  // only in the consumer store

  const auto to_b =
      exchange::PeerClient::connect(b->network->peer_id(), b->network->p2p_address(), a->network->tls());
  auto have = [&] {
    openbucket::p2p::v1::HaveRequest request;
    request.set_file_cid(std::string(as_chars(cid->to_bytes())));
    openbucket::p2p::v1::HaveReply reply;
    grpc::ClientContext context;
    EXPECT_TRUE(to_b.stub().Have(&context, request, &reply).ok());
    return std::vector<std::uint32_t>(reply.slots().begin(), reply.slots().end());
  };
  EXPECT_TRUE(have().empty());
  EXPECT_EQ(exchange::audit_slot(to_b, *cid, manifest, 1, 0).error().code, Errc::not_found);

  b->network->set_consumer_slots(store);
  EXPECT_EQ(have(), std::vector<std::uint32_t>{1});
  for (std::uint64_t block = 0; block < manifest.stripe_count(); ++block) {
    auto ok = exchange::audit_slot(to_b, *cid, manifest, 1, block);
    EXPECT_TRUE(ok) << block << ": " << ok.error().message;
  }
  // A third node copies the slot from B alone.
  auto c = make_node(tmp.path() / "c", {}, nullptr, network_id);
  auto copy = SlotStore::open(tmp.path() / "c-consumer");
  ASSERT_TRUE(copy);
  const std::vector<exchange::PeerClient> from_b{
      exchange::PeerClient::connect(b->network->peer_id(), b->network->p2p_address(), c->network->tls())};
  auto copied = exchange::fetch_slots(*cid, wanted, from_b, c->engine->blocks(), *copy);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copy->slots_of(*cid), std::vector<std::uint32_t>{1});

  b->network->set_consumer_slots(nullptr);
  EXPECT_TRUE(have().empty());
  EXPECT_EQ(exchange::audit_slot(to_b, *cid, manifest, 1, 0).error().code, Errc::not_found);
}

}  // namespace
}  // namespace ob
