#include "discovery/dht.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/protocol.h"
#include "testing/test_util.h"

namespace ob::discovery {
namespace {

using namespace std::chrono_literals;

net::Identity identity(std::uint64_t seed) { return *net::Identity::from_seed(ob::testing::seeded_bytes(32, seed)); }

PeerRecord record_of(const net::Identity& id, std::string address) {
  return PeerRecord{id.peer_id(), {std::move(address)}, {"storage"}, 1700000000};
}

TEST(PeerRecord, SignedRecordsVerifyAndTamperingIsRefused) {
  const auto a = identity(1);
  auto signed_record = record_of(a, "127.0.0.1:4001").sign(a);
  ASSERT_TRUE(signed_record) << signed_record.error().message;
  auto back = PeerRecord::verify(*signed_record);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->peer, a.peer_id());
  EXPECT_EQ(back->addresses, std::vector<std::string>{"127.0.0.1:4001"});
  EXPECT_EQ(back->timestamp, 1700000000u);

  for (std::size_t i = 0; i < signed_record->size(); i += 7) {
    Bytes tampered = *signed_record;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(PeerRecord::verify(tampered)) << "byte " << i;
  }
}

TEST(PeerRecord, OnlyThePeerItselfCanSign) {
  const auto a = identity(1);
  const auto b = identity(2);
  auto forged = record_of(a, "127.0.0.1:4001").sign(b);
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error().code, Errc::invalid_argument);
}

TEST(PeerRecord, LimitsAreEnforced) {
  const auto a = identity(1);
  PeerRecord many = record_of(a, "127.0.0.1:1");
  many.addresses.assign(17, "127.0.0.1:1");
  EXPECT_FALSE(many.sign(a));
  PeerRecord long_address = record_of(a, std::string(300, 'x'));
  EXPECT_FALSE(long_address.sign(a));
  EXPECT_FALSE(PeerRecord::verify(Bytes(5000, 1)));
  EXPECT_FALSE(PeerRecord::verify(as_bytes("garbage")));
}

IndexLocator locator_of(std::uint8_t fill) {
  IndexLocator locator;
  locator.fill(fill);
  return locator;
}

IndexRecord index_record(std::uint64_t sequence, std::string_view content = "index") {
  return IndexRecord{locator_of(0xa7), sequence,
                     Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes(content))).to_string(), 1700000000};
}

TEST(IndexRecord, SignedByTheOwnerVerifiesAndTamperingIsRefused) {
  const auto owner = identity(1);
  const IndexRecord record = index_record(5);
  auto signed_record = record.sign(owner);
  ASSERT_TRUE(signed_record) << signed_record.error().message;
  auto back = IndexRecord::verify(*signed_record, owner.peer_id(), locator_of(0xa7));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, record);

  for (std::size_t i = 0; i < signed_record->size(); ++i) {
    Bytes tampered = *signed_record;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(IndexRecord::verify(tampered, owner.peer_id(), locator_of(0xa7))) << "byte " << i;
  }
  EXPECT_FALSE(IndexRecord::verify(as_bytes("garbage"), owner.peer_id(), locator_of(0xa7)));
  EXPECT_FALSE(IndexRecord::verify(Bytes(2000, 1), owner.peer_id(), locator_of(0xa7)));
}

TEST(IndexRecord, AnotherSignerAnotherLocatorOrALowerSequenceIsRefused) {
  const auto owner = identity(1);
  const auto stranger = identity(2);
  // Signed by someone else: refused even though it is well formed and under the right locator.
  auto forged = index_record(9).sign(stranger);
  ASSERT_TRUE(forged);
  auto refused = IndexRecord::verify(*forged, owner.peer_id(), locator_of(0xa7));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  // The owner's record copied under another locator.
  auto signed_record = index_record(3).sign(owner);
  ASSERT_TRUE(signed_record);
  EXPECT_FALSE(IndexRecord::verify(*signed_record, owner.peer_id(), locator_of(0xa8)));
  // A rollback: sequence 3 after 4 was seen; 3 after 3 is the same version.
  auto stale = IndexRecord::verify(*signed_record, owner.peer_id(), locator_of(0xa7), 4);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::corrupt);
  EXPECT_NE(stale.error().message.find("stale"), std::string::npos);
  EXPECT_TRUE(IndexRecord::verify(*signed_record, owner.peer_id(), locator_of(0xa7), 3));
  // Nothing unsignable is signed.
  EXPECT_FALSE(index_record(0).sign(owner));
  IndexRecord not_a_cid = index_record(1);
  not_a_cid.index_cid = "not a cid";
  EXPECT_FALSE(not_a_cid.sign(owner));
}

// Three DHT nodes on loopback, on a private network ID: a provider announced on one node is
// found from another.
TEST(Discovery, ProvidersAnnouncedOnOneNodeAreFoundFromAnother) {
  const std::uint32_t network = 0x0b0b0000u + static_cast<std::uint32_t>(::getpid() & 0xffff);
  auto a = Discovery::start({0, network, {}, false});
  ASSERT_TRUE(a) << a.error().message;
  const std::string seed = "127.0.0.1:" + std::to_string((*a)->port());
  auto b = Discovery::start({0, network, {seed}, false});
  auto c = Discovery::start({0, network, {seed}, false});
  ASSERT_TRUE(b && c);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (((*b)->node_count() == 0 || (*c)->node_count() == 0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT((*c)->node_count(), 0u);

  const auto id_b = identity(3);
  const Cid file = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("some file")));
  auto signed_b = record_of(id_b, "127.0.0.1:5555").sign(id_b);
  ASSERT_TRUE(signed_b);
  ASSERT_TRUE((*b)->announce_provider(file, *signed_b));
  ASSERT_TRUE((*b)->announce_peer(*signed_b));

  std::vector<PeerRecord> found;
  while (found.empty() && std::chrono::steady_clock::now() < deadline) {
    found = (*c)->find_providers(file, 2s);
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].peer, id_b.peer_id());
  EXPECT_EQ(found[0].addresses, std::vector<std::string>{"127.0.0.1:5555"});

  // The two puts travel separately (announce_* return before the DHT stored them): the
  // provider record being found says nothing of the peer record yet, so look until the deadline.
  auto peer = (*c)->find_peer(id_b.peer_id(), 3s);
  while (!peer && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    peer = (*c)->find_peer(id_b.peer_id(), 3s);
  }
  ASSERT_TRUE(peer) << peer.error().message;
  EXPECT_EQ(peer->addresses, std::vector<std::string>{"127.0.0.1:5555"});

  const Cid other = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("another file")));
  EXPECT_TRUE((*c)->find_providers(other, 1s).empty());

  // Index records: two versions of the owner's and a stranger's higher one under the same
  // locator; a reader elsewhere takes the owner's highest and ignores the stranger's.
  const auto owner = identity(4);
  const auto stranger = identity(5);
  for (const auto& [who, sequence] : {std::pair{&owner, 1u}, std::pair{&owner, 2u}, std::pair{&stranger, 9u}}) {
    const IndexRecord record = index_record(sequence, std::to_string(sequence));
    auto signed_record = record.sign(*who);
    ASSERT_TRUE(signed_record);
    ASSERT_TRUE((*b)->put_index_record(record, *signed_record));
  }
  auto newest = (*c)->find_index_record(locator_of(0xa7), owner.peer_id(), 3s);
  while ((!newest || newest->sequence < 2) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    newest = (*c)->find_index_record(locator_of(0xa7), owner.peer_id(), 3s);
  }
  ASSERT_TRUE(newest) << newest.error().message;
  EXPECT_EQ(*newest, index_record(2, "2"));
  EXPECT_FALSE((*c)->find_index_record(locator_of(0xa8), owner.peer_id(), 1s));
}

}  // namespace
}  // namespace ob::discovery
