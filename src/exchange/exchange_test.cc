// Block exchange between nodes on loopback: real gRPC servers and clients in one process, each
// node with its own home, stores and engine.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "exchange/exchange_service.h"
#include "exchange/fetcher.h"
#include "exchange/stripe_fetcher.h"
#include "node/engine.h"
#include "testing/test_util.h"

namespace ob::exchange {
namespace {

using ob::testing::seeded_bytes;
namespace pb = openbucket::p2p::v1;

/// One node: a home (sharing the owner's master secret when given), an engine, a peer server.
class Node {
 public:
  Node(const std::filesystem::path& dir, const std::filesystem::path* master_from = nullptr) : dir_(dir) {
    EXPECT_TRUE(Home::init(dir_, false));
    NodeConfig config;
    config.sync = false;
    EXPECT_TRUE(fileio::write_file_atomic(dir_ / "config.toml", as_bytes(config.to_toml())));
    if (master_from != nullptr) {
      auto secret = fileio::read_file(*master_from / "keys/master.key", 64);
      EXPECT_TRUE(fileio::write_file_atomic(dir_ / "keys/master.key", *secret, 0600));
    }
    home_ = std::make_unique<Home>(*Home::open(dir_));
    engine_ = std::move(*Engine::open(*home_));
    identity_ = std::make_unique<net::Identity>(*net::Identity::load_or_create(home_->identity_key_path()));
    tls_ = *net::make_tls_identity(*identity_);
    consumer_ = std::make_shared<SlotStore>(*SlotStore::open(dir_ / "consumer-slots"));
  }
  ~Node() { stop(); }

  /// Serves the engine's slots and the consumer store's (issue 4: one node, two stores).
  void serve() {
    SlotStoreProvider stores = [engine = engine_.get(), consumer = consumer_] {
      return std::vector<std::shared_ptr<const SlotStore>>{
          std::shared_ptr<const SlotStore>(std::shared_ptr<const SlotStore>(), &engine->slots()), consumer};
    };
    service_ = std::make_unique<ExchangeService>(engine_->blocks(), std::move(stores));
    auto server = start_server("127.0.0.1:0", *service_, tls_);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(server->first);
    address_ = "127.0.0.1:" + std::to_string(server->second);
  }
  void stop() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
  }
  Engine& engine() { return *engine_; }
  const net::PeerId& peer_id() const { return identity_->peer_id(); }
  /// How others reach this node: its peer ID and address.
  std::pair<net::PeerId, std::string> contact() const { return {peer_id(), address_}; }
  const std::string& address() const { return address_; }
  const std::filesystem::path& dir() const { return dir_; }

  Result<FetchReport> fetch(const Cid& cid, const std::vector<std::pair<net::PeerId, std::string>>& contacts,
                            std::chrono::milliseconds deadline = std::chrono::milliseconds(5000)) {
    std::vector<PeerClient> peers;
    for (const auto& [id, address] : contacts) peers.push_back(PeerClient::connect(id, address, tls_));
    FetchOptions options;
    options.deadline = deadline;
    options.window = 4;
    return fetch_file(cid, peers, engine_->blocks(), engine_->slots(), options);
  }
  /// fetch_slots into this node's consumer store.
  Result<FetchReport> fetch_slots(const Cid& cid, std::vector<std::uint32_t> wanted,
                                  const std::vector<std::pair<net::PeerId, std::string>>& contacts) {
    std::vector<PeerClient> peers;
    for (const auto& [id, address] : contacts) peers.push_back(PeerClient::connect(id, address, tls_));
    FetchOptions options;
    options.deadline = std::chrono::milliseconds(5000);
    options.window = 4;
    return exchange::fetch_slots(cid, wanted, peers, engine_->blocks(), *consumer_, options);
  }
  SlotStore& consumer() { return *consumer_; }
  const net::TlsIdentity& tls() const { return tls_; }
  PeerClient client_for(const Node& other) const { return PeerClient::connect(other.peer_id(), other.address(), tls_); }
  Result<Bytes> get(const Cid& cid) {
    Bytes out;
    OB_TRY_VOID(engine_->retrieve(cid, memory_sink(out)));
    return out;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Home> home_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<net::Identity> identity_;
  net::TlsIdentity tls_;
  std::shared_ptr<SlotStore> consumer_;
  std::unique_ptr<ExchangeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

class ExchangeTest : public ::testing::Test {
 protected:
  ob::testing::TempDir tmp_{"ob-exchange"};
  const CodingParams params_{4, 2, 8192};
  const Bytes data_ = seeded_bytes(CodingParams{4, 2, 8192}.stripe_plaintext_size() * 11 + 333, 77);

  Cid put(Node& node) {
    auto cid = node.engine().store(memory_source(data_), {"shared.bin", ""}, params_);
    EXPECT_TRUE(cid) << cid.error().message;
    return *cid;
  }

  // Checks that `store` holds slot i of `cid` whole: the index builds the manifest's root and
  // every block matches its index entry.
  static void expect_intact(const SlotStore& store, const Cid& cid, const Manifest& manifest, std::uint32_t i) {
    auto reader = store.open_slot(cid, i);
    ASSERT_TRUE(reader) << "slot " << i << ": " << reader.error().message;
    ASSERT_EQ(reader->block_count(), manifest.stripe_count());
    ASSERT_TRUE(reader->verify_index(manifest.slot_roots[i])) << i;
    Bytes block(reader->block_size());
    for (std::uint64_t j = 0; j < reader->block_count(); ++j) {
      ASSERT_TRUE(reader->read_block(j, block));
      EXPECT_EQ(merkle::block_root(block), reader->root_at(j).value()) << "slot " << i << " block " << j;
    }
  }
};

TEST_F(ExchangeTest, AFileStoredOnOneNodeComesBackOnAnother) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c", &a.dir());
  a.serve();
  const Cid cid = put(a);
  auto report = c.fetch(cid, {a.contact()});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->slots_read, (std::vector<std::uint32_t>{0, 1, 2, 3}));
  EXPECT_TRUE(report->dropped.empty());
  auto back = c.get(cid);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, data_);
  // C now holds the whole file, parity included: it can serve it and survives m lost slots.
  auto verify = c.engine().verify(cid);
  ASSERT_TRUE(verify);
  EXPECT_EQ(verify->intact_slots(), 6u);
  auto again = c.fetch(cid, {a.contact()});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->already_local);
}

TEST_F(ExchangeTest, AWrongBlockDropsThePeerAndTheTransferContinuesFromAnother) {
  Node a(tmp_.path() / "a");
  Node b(tmp_.path() / "b", &a.dir());
  Node c(tmp_.path() / "c", &a.dir());
  a.serve();
  b.serve();
  const Cid cid = put(a);
  ASSERT_TRUE(b.fetch(cid, {a.contact()}));
  // A now serves a corrupted block in slot 0; B is honest.
  ASSERT_TRUE(a.engine().damage(cid, 0, true));
  auto report = c.fetch(cid, {a.contact(), b.contact()});
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->dropped.size(), 1u);
  EXPECT_NE(report->dropped[0].find(a.address()), std::string::npos) << report->dropped[0];
  auto back = c.get(cid);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data_);
}

TEST_F(ExchangeTest, ASoleProviderThatLiesIsDroppedAndNothingIsStored) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c", &a.dir());
  a.serve();
  const Cid cid = put(a);
  ASSERT_TRUE(a.engine().damage(cid, 1, true));  // one wrong block in slot 1
  ASSERT_TRUE(a.engine().damage(cid, 2, false)); // slot 2 gone
  auto report = c.fetch(cid, {a.contact()});
  // The only peer sent a wrong block: it is dropped, and with it every slot it held.
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::unrecoverable) << report.error().message;
  EXPECT_FALSE(c.engine().blocks().has(cid).value());
  EXPECT_FALSE(c.engine().slots().has_file(cid));
}

TEST_F(ExchangeTest, ReadsParitySlotsWhenDataSlotsAreMissingEverywhere) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c", &a.dir());
  a.serve();
  const Cid cid = put(a);
  ASSERT_TRUE(a.engine().damage(cid, 0, false));
  ASSERT_TRUE(a.engine().damage(cid, 2, false));
  auto report = c.fetch(cid, {a.contact()});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->slots_read, (std::vector<std::uint32_t>{1, 3, 4, 5}));
  auto back = c.get(cid);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data_);
  // The slots no peer had were rebuilt locally and checked against the manifest.
  EXPECT_EQ(c.engine().verify(cid)->intact_slots(), 6u);
}

TEST_F(ExchangeTest, DeadPeersAreDroppedWithinTheDeadline) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c", &a.dir());
  a.serve();
  const Cid cid = put(a);
  Node dead(tmp_.path() / "dead");
  dead.serve();
  const auto dead_contact = dead.contact();
  dead.stop();

  const auto start = std::chrono::steady_clock::now();
  auto alone = c.fetch(cid, {dead_contact}, std::chrono::milliseconds(1500));
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code, Errc::not_found);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  auto with_live = c.fetch(cid, {dead_contact, a.contact()}, std::chrono::milliseconds(1500));
  ASSERT_TRUE(with_live) << with_live.error().message;
  EXPECT_EQ(with_live->dropped.size(), 1u);
  EXPECT_EQ(*c.get(cid), data_);
}

// TLS is pinned to peer IDs: a node answering at an address under another identity is refused,
// and the transfer goes on with the peers that are who they say.
TEST_F(ExchangeTest, APeerWithAnotherIdentityIsRefused) {
  Node a(tmp_.path() / "a");
  Node b(tmp_.path() / "b");
  Node c(tmp_.path() / "c", &a.dir());
  a.serve();
  const Cid cid = put(a);
  const std::pair<net::PeerId, std::string> impostor{b.peer_id(), a.address()};  // A's address, B's ID
  auto refused = c.fetch(cid, {impostor}, std::chrono::milliseconds(3000));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::not_found) << refused.error().message;
  auto accepted = c.fetch(cid, {impostor, a.contact()}, std::chrono::milliseconds(3000));
  ASSERT_TRUE(accepted) << accepted.error().message;
  ASSERT_EQ(accepted->dropped.size(), 1u);
  EXPECT_EQ(*c.get(cid), data_);
}

TEST_F(ExchangeTest, UnknownFilesAreNotFound) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c");
  a.serve();
  const Cid missing = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("nothing")));
  auto report = c.fetch(missing, {a.contact()});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, Errc::not_found);
}

// Malformed requests get errors with the right status, never a crash or a huge reply.
TEST_F(ExchangeTest, MalformedRequestsAreRefused) {
  Node a(tmp_.path() / "a");
  a.serve();
  const Cid cid = put(a);
  const std::string cid_bytes(as_chars(cid.to_bytes()));
  Node caller(tmp_.path() / "caller");
  auto client = caller.client_for(a);
  auto& stub = client.stub();
  auto call_index = [&](const std::string& file, std::uint32_t slot, std::uint64_t first, std::uint32_t count) {
    pb::SlotIndexRequest request;
    request.set_file_cid(file);
    request.set_slot(slot);
    request.set_first(first);
    request.set_count(count);
    pb::SlotIndexReply reply;
    grpc::ClientContext context;
    return stub.GetSlotIndex(&context, request, &reply).error_code();
  };
  EXPECT_EQ(call_index("garbage", 0, 0, 1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_index(std::string(as_chars(Cid::raw_sha256(as_bytes("x")).to_bytes())), 0, 0, 1),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_index(cid_bytes, 0, 0, 0), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_index(cid_bytes, 0, 0, kMaxIndexRootsPerCall + 1), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_index(cid_bytes, 99, 0, 1), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call_index(cid_bytes, 0, 1'000'000, 1), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(call_index(cid_bytes, 0, 0, 1), grpc::StatusCode::OK);

  // A Blocks stream ends at the first bad want, with its status.
  auto call_blocks = [&](const std::vector<pb::BlocksWant>& wants) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto stream = stub.Blocks(&context);
    for (const pb::BlocksWant& want : wants) stream->Write(want);
    stream->WritesDone();
    pb::BlockBatch batch;
    while (stream->Read(&batch)) {
    }
    return stream->Finish().error_code();
  };
  auto want = [&](const std::string& file, std::uint32_t slot, std::uint64_t first, std::uint32_t count) {
    pb::BlocksWant w;
    w.set_file_cid(file);
    w.set_slot(slot);
    w.set_first(first);
    w.set_count(count);
    return w;
  };
  const std::uint64_t blocks = a.engine().manifest(cid)->stripe_count();  // 12
  EXPECT_EQ(call_blocks({want("garbage", 0, 0, 1)}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_blocks({want("", 0, 0, 1)}), grpc::StatusCode::INVALID_ARGUMENT);  // the first names the file
  EXPECT_EQ(call_blocks({want(cid_bytes, 0, 0, 0)}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_blocks({want(cid_bytes, 0, 0, kMaxBlocksPerWant + 1)}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_blocks({want(cid_bytes, 99, 0, 1)}), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call_blocks({want(cid_bytes, 0, blocks - 1, 2)}), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(call_blocks({want(cid_bytes, 0, blocks, 1)}), grpc::StatusCode::OUT_OF_RANGE);
  const std::string other(as_chars(Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("other"))).to_bytes()));
  EXPECT_EQ(call_blocks({want(cid_bytes, 0, 0, 1), want(other, 0, 1, 1)}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call_blocks({want(cid_bytes, 0, 0, 1), want("", 1, 0, static_cast<std::uint32_t>(blocks))}),
            grpc::StatusCode::OK);

  // A caller without TLS (and so without a certificate) is refused outright.
  auto plain = pb::BlockExchange::NewStub(grpc::CreateChannel(a.address(), grpc::InsecureChannelCredentials()));
  pb::HaveRequest have_request;
  have_request.set_file_cid(cid_bytes);
  pb::HaveReply have_reply;
  grpc::ClientContext plain_context;
  plain_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  EXPECT_FALSE(plain->Have(&plain_context, have_request, &have_reply).ok());

  // An oversized request is refused by the server's message limit.
  pb::HaveRequest big;
  big.set_file_cid(std::string(200 * 1024, 'x'));
  pb::HaveReply have;
  grpc::ClientContext big_context;
  EXPECT_FALSE(stub.Have(&big_context, big, &have).ok());
}

// --- issue 4: slot-level fetch -----------------------------------------------------------------

TEST_F(ExchangeTest, FetchSlotsCopiesOnlyTheWantedSlotAndTheManifest) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c");  // a consumer: not the owner, no key
  a.serve();
  const Cid cid = put(a);
  const Manifest manifest = *a.engine().manifest(cid);
  auto report = c.fetch_slots(cid, {2}, {a.contact()});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_FALSE(report->already_local);
  EXPECT_EQ(report->slots_read, std::vector<std::uint32_t>{2});
  EXPECT_EQ(report->bytes_received, manifest.stripe_count() * params_.block_size);  // one slot, nothing more
  EXPECT_EQ(c.consumer().slots_of(cid), std::vector<std::uint32_t>{2});
  expect_intact(c.consumer(), cid, manifest, 2);
  EXPECT_TRUE(c.engine().blocks().has(cid).value());   // it can answer GetManifest
  EXPECT_FALSE(c.engine().slots().has_file(cid));      // nothing in the engine's own store
  auto again = c.fetch_slots(cid, {2}, {a.contact()});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->already_local);
  // A second slot joins the first.
  auto more = c.fetch_slots(cid, {2, 4}, {a.contact()});
  ASSERT_TRUE(more) << more.error().message;
  EXPECT_EQ(more->slots_read, std::vector<std::uint32_t>{4});
  EXPECT_EQ(c.consumer().slots_of(cid), (std::vector<std::uint32_t>{2, 4}));
}

TEST_F(ExchangeTest, FetchSlotsRejectsBadSlotLists) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c");
  a.serve();
  const Cid cid = put(a);
  for (const std::vector<std::uint32_t>& bad : {std::vector<std::uint32_t>{}, std::vector<std::uint32_t>{6},
                                                std::vector<std::uint32_t>{1, 255}}) {
    auto report = c.fetch_slots(cid, bad, {a.contact()});
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code, Errc::invalid_argument) << report.error().message;
  }
  EXPECT_TRUE(c.consumer().list().empty());
}

// Repair (issue 4): consumers each hold one slot; the holder of slot 5 is gone, and a new
// consumer rebuilds slot 5 from k of the others, served from their consumer stores.
TEST_F(ExchangeTest, FetchSlotsRebuildsASlotNoPeerHoldsFromConsumersOfOneSlotEach) {
  Node a(tmp_.path() / "a");
  a.serve();
  const Cid cid = put(a);
  const Manifest manifest = *a.engine().manifest(cid);
  std::vector<std::unique_ptr<Node>> consumers;
  for (std::uint32_t i = 0; i < 5; ++i) {
    consumers.push_back(std::make_unique<Node>(tmp_.path() / ("c" + std::to_string(i))));
    auto report = consumers.back()->fetch_slots(cid, {i}, {a.contact()});
    ASSERT_TRUE(report) << report.error().message;
    consumers.back()->serve();
  }
  a.stop();
  // Slot 1's holder lost its slot too: the rebuild reads 0, 2, 3, 4.
  ASSERT_TRUE(consumers[1]->consumer().remove_slot(cid, 1).value());
  Node fresh(tmp_.path() / "fresh");
  std::vector<std::pair<net::PeerId, std::string>> contacts;
  for (const auto& node : consumers) contacts.push_back(node->contact());
  auto report = fresh.fetch_slots(cid, {5}, contacts);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->slots_read, (std::vector<std::uint32_t>{0, 2, 3, 4}));
  EXPECT_EQ(fresh.consumer().slots_of(cid), std::vector<std::uint32_t>{5});
  expect_intact(fresh.consumer(), cid, manifest, 5);
  // Two wanted slots, one held (copied) and one not (rebuilt), in one pass over k slots.
  Node both(tmp_.path() / "both");
  report = both.fetch_slots(cid, {1, 2}, contacts);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->slots_read, (std::vector<std::uint32_t>{2, 0, 3, 4}));
  expect_intact(both.consumer(), cid, manifest, 1);
  expect_intact(both.consumer(), cid, manifest, 2);
}

// The only holder of the wanted slot lies halfway through: it is dropped, and the transfer
// rebuilds the rest of the slot from other slots, keeping the windows already copied.
TEST_F(ExchangeTest, FetchSlotsSwitchesToRebuildingWhenTheHolderLies) {
  Node a(tmp_.path() / "a");
  Node x(tmp_.path() / "x");
  Node c(tmp_.path() / "c");
  a.serve();
  const Cid cid = put(a);
  const Manifest manifest = *a.engine().manifest(cid);
  ASSERT_TRUE(x.fetch_slots(cid, {1}, {a.contact()}));
  ASSERT_TRUE(x.consumer().damage(cid, 1, /*corrupt=*/true));  // block 6 of 12 is wrong
  x.serve();
  ASSERT_TRUE(a.engine().damage(cid, 1, /*corrupt=*/false));   // A no longer has slot 1

  // X alone: it is dropped and no one has the k slots: nothing is stored.
  auto alone = c.fetch_slots(cid, {1}, {x.contact()});
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code, Errc::unrecoverable) << alone.error().message;
  EXPECT_TRUE(c.consumer().list().empty());
  EXPECT_FALSE(c.engine().blocks().has(cid).value());

  auto report = c.fetch_slots(cid, {1}, {x.contact(), a.contact()});
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->dropped.size(), 1u);
  EXPECT_NE(report->dropped[0].find(x.address()), std::string::npos) << report->dropped[0];
  EXPECT_EQ(report->slots_read, (std::vector<std::uint32_t>{0, 2, 3, 4}));
  expect_intact(c.consumer(), cid, manifest, 1);
}

// --- issue 4: audits (Prove) ---------------------------------------------------------------------

TEST_F(ExchangeTest, AnHonestHolderPassesAudits) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c");
  Node auditor(tmp_.path() / "auditor");
  a.serve();
  const Cid cid = put(a);
  const Manifest manifest = *a.engine().manifest(cid);
  ASSERT_TRUE(c.fetch_slots(cid, {3}, {a.contact()}));
  c.serve();
  std::mt19937_64 rng(7);
  for (int round = 0; round < 8; ++round) {
    const std::uint32_t slot = static_cast<std::uint32_t>(rng() % params_.n());
    const std::uint64_t block = rng() % manifest.stripe_count();
    auto ok = audit_slot(auditor.client_for(a), cid, manifest, slot, block);
    EXPECT_TRUE(ok) << "slot " << slot << " block " << block << ": " << ok.error().message;
  }
  // The consumer's slot, served from its second store, including the last (partial-tree) block.
  for (std::uint64_t block : {std::uint64_t{0}, std::uint64_t{5}, manifest.stripe_count() - 1}) {
    auto ok = audit_slot(auditor.client_for(c), cid, manifest, 3, block);
    EXPECT_TRUE(ok) << block << ": " << ok.error().message;
  }
}

TEST_F(ExchangeTest, AuditsFailForDamageMissingSlotsAndBadChallenges) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c");
  Node auditor(tmp_.path() / "auditor");
  a.serve();
  const Cid cid = put(a);
  const Manifest manifest = *a.engine().manifest(cid);
  ASSERT_TRUE(c.fetch_slots(cid, {3}, {a.contact()}));
  c.serve();
  ASSERT_TRUE(c.consumer().damage(cid, 3, /*corrupt=*/true));  // block 6 of 12
  auto bad = audit_slot(auditor.client_for(c), cid, manifest, 3, 6);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::corrupt) << bad.error().message;
  EXPECT_TRUE(audit_slot(auditor.client_for(c), cid, manifest, 3, 5));  // the others are fine

  auto missing = audit_slot(auditor.client_for(c), cid, manifest, 2, 0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found) << missing.error().message;

  for (auto [slot, block] : {std::pair<std::uint32_t, std::uint64_t>{6, 0}, {0, manifest.stripe_count()}}) {
    auto out = audit_slot(auditor.client_for(a), cid, manifest, slot, block);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::invalid_argument) << out.error().message;
  }
  // A manifest that is not this CID's.
  Manifest other = manifest;
  other.original_size -= 1;
  auto wrong = audit_slot(auditor.client_for(a), cid, other, 0, 0);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Errc::invalid_argument);

  // The server checks the challenge itself too.
  auto call = [&](std::uint32_t slot, std::uint64_t block) {
    pb::ProveRequest request;
    request.set_file_cid(std::string(as_chars(cid.to_bytes())));
    request.set_slot(slot);
    request.set_block(block);
    pb::ProveReply reply;
    grpc::ClientContext context;
    return auditor.client_for(a).stub().Prove(&context, request, &reply).error_code();
  };
  EXPECT_EQ(call(0, manifest.stripe_count()), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call(300, 0), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(call(0, 0), grpc::StatusCode::OK);
}

// A holder that answers a challenge with another block and that block's (valid) proof, or with
// a proof padded or cut short, fails the audit.
class LyingService final : public pb::BlockExchange::Service {
 public:
  enum class Lie { other_index, extra_sibling, missing_sibling };
  LyingService(BlockStore& blocks, const SlotStore& slots, Lie lie) : honest_(blocks, slots), lie_(lie) {}
  grpc::Status Prove(grpc::ServerContext* context, const pb::ProveRequest* request, pb::ProveReply* reply) override {
    pb::ProveRequest changed = *request;
    if (lie_ == Lie::other_index) changed.set_block(request->block() ^ 1);
    grpc::Status status = honest_.Prove(context, &changed, reply);
    if (lie_ == Lie::extra_sibling) reply->add_siblings(std::string(32, 'x'));
    if (lie_ == Lie::missing_sibling) reply->mutable_siblings()->RemoveLast();
    return status;
  }

 private:
  ExchangeService honest_;
  Lie lie_;
};

TEST_F(ExchangeTest, AServerLyingWithAnotherProofFailsTheAudit) {
  Node a(tmp_.path() / "a");
  Node auditor(tmp_.path() / "auditor");
  const Cid cid = put(a);
  const Manifest manifest = *a.engine().manifest(cid);
  net::Identity identity = *net::Identity::load_or_create(a.dir() / "keys/identity.key");
  const net::TlsIdentity tls = *net::make_tls_identity(identity);
  for (auto lie : {LyingService::Lie::other_index, LyingService::Lie::extra_sibling,
                   LyingService::Lie::missing_sibling}) {
    LyingService liar(a.engine().blocks(), a.engine().slots(), lie);
    auto server = start_server("127.0.0.1:0", liar, tls);
    ASSERT_TRUE(server) << server.error().message;
    const PeerClient client =
        PeerClient::connect(a.peer_id(), "127.0.0.1:" + std::to_string(server->second), auditor.tls());
    auto result = audit_slot(client, cid, manifest, 1, 4);
    ASSERT_FALSE(result) << static_cast<int>(lie);
    EXPECT_EQ(result.error().code, Errc::corrupt) << result.error().message;
    server->first->Shutdown(std::chrono::system_clock::now());
  }
}

// --- issue 12: Blocks streams and the stripe fetcher ---------------------------------------------

// A peer that answers Have, GetManifest and GetSlotIndex honestly from A's stores, and Blocks
// with one lie from block kLieAt of every slot it serves on.
class LyingBlocks final : public pb::BlockExchange::Service {
 public:
  enum class Lie { flipped_byte, other_slot, skipped_block, extra_block, silence };
  static constexpr std::uint64_t kLieAt = 5;
  LyingBlocks(BlockStore& blocks, const SlotStore& slots, Lie lie) : honest_(blocks, slots), slots_(slots), lie_(lie) {}
  grpc::Status Have(grpc::ServerContext* c, const pb::HaveRequest* r, pb::HaveReply* out) override {
    return honest_.Have(c, r, out);
  }
  grpc::Status GetManifest(grpc::ServerContext* c, const pb::ManifestRequest* r, pb::ManifestReply* out) override {
    return honest_.GetManifest(c, r, out);
  }
  grpc::Status GetSlotIndex(grpc::ServerContext* c, const pb::SlotIndexRequest* r, pb::SlotIndexReply* out) override {
    return honest_.GetSlotIndex(c, r, out);
  }
  grpc::Status Blocks(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<pb::BlockBatch, pb::BlocksWant>* stream) override {
    pb::BlocksWant want;
    std::optional<Cid> file;
    while (stream->Read(&want)) {
      if (!file) file = *Cid::from_bytes(as_bytes(want.file_cid()));
      auto reader = slots_.open_slot(*file, want.slot());
      if (!reader) return {grpc::StatusCode::NOT_FOUND, "no such slot"};
      for (std::uint64_t j = want.first(); j < want.first() + want.count(); ++j) {
        if (lie_ == Lie::silence && j >= kLieAt) {
          while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          return {grpc::StatusCode::CANCELLED, "cancelled"};
        }
        pb::BlockBatch batch;
        batch.set_slot(want.slot());
        batch.set_first(j);
        std::string& data = *batch.mutable_data();
        data.resize(reader->block_size());
        EXPECT_TRUE(reader->read_block(j, MutableByteView(reinterpret_cast<std::uint8_t*>(data.data()), data.size())));
        if (j == kLieAt && lie_ == Lie::flipped_byte) data[100] = static_cast<char>(data[100] ^ 1);
        if (j == kLieAt && lie_ == Lie::other_slot) batch.set_slot(want.slot() + 1);
        if (j == kLieAt && lie_ == Lie::skipped_block) batch.set_first(j + 1);
        // One block more than the file has: nobody can have asked for it.
        if (j + 1 == reader->block_count() && lie_ == Lie::extra_block) data += std::string(data);
        if (!stream->Write(batch)) return {grpc::StatusCode::CANCELLED, "gone"};
      }
    }
    return grpc::Status::OK;
  }

 private:
  ExchangeService honest_;
  const SlotStore& slots_;
  Lie lie_;
};

// Reads every stripe of `fetcher` and checks each block handed out against the block `truth`
// stores; returns the first error of next(), if any.
Result<void> read_all_checked(StripeFetcher& fetcher, const SlotStore& truth, const Cid& cid) {
  const CodingParams& params = fetcher.manifest().params;
  Bytes expected(params.block_size);
  while (!fetcher.done()) {
    OB_TRY(StripeFetcher::Stripe stripe, fetcher.next());
    for (std::uint32_t i = 0; i < params.n(); ++i) {
      if (!stripe.present[i]) continue;
      EXPECT_TRUE(truth.open_slot(cid, i)->read_block(stripe.index, expected));
      EXPECT_EQ(ByteView(stripe.blocks[i], params.block_size).size(), expected.size());
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), stripe.blocks[i]))
          << "slot " << i << " stripe " << stripe.index << " was handed out wrong";
    }
  }
  return {};
}

std::vector<std::uint32_t> data_slots(const CodingParams& params) {
  std::vector<std::uint32_t> slots(params.k);
  for (std::uint32_t i = 0; i < params.k; ++i) slots[i] = i;
  return slots;
}

TEST_F(ExchangeTest, LyingPeersAreDroppedFromBlocksStreamsAndTheirBlocksNeverHandedOut) {
  Node a(tmp_.path() / "a");
  Node b(tmp_.path() / "b");
  Node liar(tmp_.path() / "liar");  // its identity only: it serves A's slots
  a.serve();
  const Cid cid = put(a);
  ASSERT_TRUE(b.fetch(cid, {a.contact()}));
  b.serve();
  using Lie = LyingBlocks::Lie;
  int round = 0;
  for (Lie lie : {Lie::flipped_byte, Lie::other_slot, Lie::skipped_block, Lie::extra_block, Lie::silence}) {
    SCOPED_TRACE(static_cast<int>(lie));
    LyingBlocks service(a.engine().blocks(), a.engine().slots(), lie);
    auto server = start_server("127.0.0.1:0", service, liar.tls());
    ASSERT_TRUE(server) << server.error().message;
    const std::string liar_address = "127.0.0.1:" + std::to_string(server->second);
    Node c(tmp_.path() / ("c" + std::to_string(round++)));
    FetchOptions options;
    options.window = 4;
    options.deadline = std::chrono::milliseconds(1500);  // for the silent one
    // The liar first: with equal loads it serves slots 0 and 2, the honest B slots 1 and 3.
    const std::vector<PeerClient> both{PeerClient::connect(liar.peer_id(), liar_address, c.tls()), c.client_for(b)};
    auto fetcher = StripeFetcher::open(cid, both, std::nullopt, options);
    ASSERT_TRUE(fetcher) << fetcher.error().message;
    ASSERT_TRUE((*fetcher)->plan(data_slots(params_)));
    auto read = read_all_checked(**fetcher, a.engine().slots(), cid);
    ASSERT_TRUE(read) << read.error().message;
    const FetchReport& report = (*fetcher)->report();
    ASSERT_EQ(report.dropped.size(), 1u);
    EXPECT_NE(report.dropped[0].find(liar_address), std::string::npos) << report.dropped[0];

    // The liar alone: the transfer fails where it lies, and nothing wrong was handed out before.
    auto alone = StripeFetcher::open(cid, {PeerClient::connect(liar.peer_id(), liar_address, c.tls())},
                                     std::nullopt, options);
    ASSERT_TRUE(alone) << alone.error().message;
    ASSERT_TRUE((*alone)->plan(data_slots(params_)));
    auto failed = read_all_checked(**alone, a.engine().slots(), cid);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, Errc::unrecoverable) << failed.error().message;
    server->first->Shutdown(std::chrono::system_clock::now());
  }
}

// Time to first byte, without timing: the first stripe is handed out while most of the file has
// not even been asked for, and no more than the window is ever wanted ahead.
TEST_F(ExchangeTest, TheFirstStripeIsHandedOutBeforeTheLastIsWanted) {
  Node a(tmp_.path() / "a");
  Node c(tmp_.path() / "c");
  a.serve();
  const Cid cid = put(a);
  const std::uint64_t stripes = a.engine().manifest(cid)->stripe_count();
  ASSERT_GE(stripes, 12u);
  FetchOptions options;
  options.window = 2;
  auto fetcher = StripeFetcher::open(cid, {c.client_for(a)}, std::nullopt, options);
  ASSERT_TRUE(fetcher) << fetcher.error().message;
  ASSERT_TRUE((*fetcher)->plan(data_slots(params_)));
  EXPECT_EQ((*fetcher)->stripes_requested(), 0u);  // nothing moves before the first next()
  for (std::uint64_t s = 0; s < stripes; ++s) {
    auto stripe = (*fetcher)->next();
    ASSERT_TRUE(stripe) << stripe.error().message;
    EXPECT_EQ(stripe->index, s);
    EXPECT_TRUE(stripe->complete);
    EXPECT_LE((*fetcher)->stripes_requested(), s + 1 + options.window) << s;
    if (s == 0) {
      EXPECT_LT((*fetcher)->stripes_requested(), stripes);
    }
  }
  EXPECT_TRUE((*fetcher)->done());
  EXPECT_EQ((*fetcher)->stripes_requested(), stripes);
  // Only the k data slots moved: no parity, nothing twice.
  EXPECT_EQ((*fetcher)->report().bytes_received, stripes * params_.k * params_.block_size);
  EXPECT_EQ((*fetcher)->report().slots_read, (std::vector<std::uint32_t>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace ob::exchange
