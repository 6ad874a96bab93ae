#include "net/tls.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace ob::net {
namespace {

TEST(Tls, CertificateNamesItsOwnersPeerId) {
  auto identity = Identity::from_seed(ob::testing::seeded_bytes(32, 1));
  ASSERT_TRUE(identity);
  auto tls = make_tls_identity(*identity);
  ASSERT_TRUE(tls) << tls.error().message;
  EXPECT_NE(tls->certificate_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(tls->private_key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  auto id = peer_id_of_certificate(tls->certificate_pem);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, identity->peer_id());
}

TEST(Tls, RefusesWhatIsNotAValidSelfSignedEd25519Certificate) {
  auto identity = Identity::from_seed(ob::testing::seeded_bytes(32, 2));
  auto tls = make_tls_identity(*identity);
  ASSERT_TRUE(tls);
  EXPECT_FALSE(peer_id_of_certificate(""));
  EXPECT_FALSE(peer_id_of_certificate("not a certificate"));
  EXPECT_FALSE(peer_id_of_certificate(tls->private_key_pem));
  // One character changed inside the base64 body breaks the DER or the signature.
  std::string tampered = tls->certificate_pem;
  const std::size_t pos = tampered.find('\n', 40) - 10;
  tampered[pos] = tampered[pos] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(peer_id_of_certificate(tampered));
}

}  // namespace
}  // namespace ob::net
