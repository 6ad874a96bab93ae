#include "net/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "testing/test_util.h"

namespace ob::net {
namespace {

using ob::testing::from_hex;

// libp2p/specs peer-ids test vector: Ed25519 seed, its public key, and the peer ID computed
// independently (base58btc of 00 24 08 01 12 20 || public key).
constexpr std::string_view kSeed = "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d";
constexpr std::string_view kPublic = "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
constexpr std::string_view kPeerId = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

TEST(PeerId, MatchesTheLibp2pTestVector) {
  auto identity = Identity::from_seed(from_hex(kSeed));
  ASSERT_TRUE(identity) << identity.error().message;
  const Bytes expected_public = from_hex(kPublic);
  EXPECT_TRUE(std::equal(expected_public.begin(), expected_public.end(), identity->public_key().begin()));
  EXPECT_EQ(identity->peer_id().to_string(), kPeerId);
}

TEST(PeerId, ParsesBackToTheSameKey) {
  auto parsed = PeerId::parse(kPeerId);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->to_string(), kPeerId);
  EXPECT_EQ(*parsed, Identity::from_seed(from_hex(kSeed))->peer_id());
  EXPECT_EQ(parsed->to_bytes().size(), 38u);
}

TEST(PeerId, RejectsWhatIsNotAnEd25519PeerId) {
  for (std::string_view bad : {
           "",                                                  // empty
           "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0",  // '0' is not base58
           "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p",   // one character short
           "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",        // sha2-256 (RSA-style) peer ID
           "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",  // a CID
       }) {
    auto parsed = PeerId::parse(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, Errc::invalid_argument) << bad;
  }
}

TEST(Identity, SignaturesVerifyOnlyForTheRightKeyAndMessage) {
  auto a = Identity::from_seed(ob::testing::seeded_bytes(32, 1));
  auto b = Identity::from_seed(ob::testing::seeded_bytes(32, 2));
  ASSERT_TRUE(a && b);
  const Bytes message = ob::testing::seeded_bytes(100, 3);
  auto sig = a->sign(message);
  ASSERT_TRUE(sig);
  EXPECT_TRUE(verify_signature(a->public_key(), message, *sig));
  EXPECT_FALSE(verify_signature(b->public_key(), message, *sig));
  Bytes altered = message;
  altered[50] ^= 1;
  EXPECT_FALSE(verify_signature(a->public_key(), altered, *sig));
  Signature bad_sig = *sig;
  bad_sig[0] ^= 1;
  EXPECT_FALSE(verify_signature(a->public_key(), message, bad_sig));
}

TEST(Identity, LoadOrCreateIsStableAndPrivate) {
  ob::testing::TempDir dir("ob-identity");
  const auto path = dir.path() / "keys" / "identity.key";
  auto first = Identity::load_or_create(path);
  ASSERT_TRUE(first) << first.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = Identity::load_or_create(path);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->peer_id(), second->peer_id());

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto exposed = Identity::load_or_create(path);
  ASSERT_FALSE(exposed);
  EXPECT_EQ(exposed.error().code, Errc::corrupt);
}

TEST(Identity, RefusesAKeyFileOfTheWrongSize) {
  ob::testing::TempDir dir("ob-identity");
  const auto path = dir.path() / "identity.key";
  ASSERT_TRUE(fileio::write_file_atomic(path, Bytes(31, 7), 0600));
  auto identity = Identity::load_or_create(path);
  ASSERT_FALSE(identity);
  EXPECT_EQ(identity.error().code, Errc::corrupt);
}

}  // namespace
}  // namespace ob::net
