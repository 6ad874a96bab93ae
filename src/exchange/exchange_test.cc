// Block exchange between nodes on loopback: real gRPC servers and clients in one process, each
// node with its own home, stores and engine.
#include <gtest/gtest.h>

#include "exchange/exchange_service.h"
#include "exchange/fetcher.h"
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
  }
  ~Node() { stop(); }

  void serve() {
    service_ = std::make_unique<ExchangeService>(engine_->blocks(), engine_->slots());
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

  pb::BlocksRequest request;
  request.set_file_cid(cid_bytes);
  request.set_count(kMaxBlocksPerCall + 1);
  grpc::ClientContext context;
  auto reader = stub.GetBlocks(&context, request);
  pb::Block block;
  EXPECT_FALSE(reader->Read(&block));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

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

}  // namespace
}  // namespace ob::exchange
