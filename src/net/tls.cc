#include "net/tls.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "coding/crypto.h"

namespace ob::net {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

constexpr long kValiditySeconds = 10L * 365 * 24 * 3600;

// Checks peer certificates during the TLS handshake: an Ed25519 self-signed certificate, and,
// when `expected` is set, the key of that peer ID.
class PeerIdVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit PeerIdVerifier(std::optional<PeerId> expected) : expected_(std::move(expected)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    const grpc::string_ref cert = request->peer_cert();
    auto id = peer_id_of_certificate(std::string_view(cert.data(), cert.size()));
    if (!id) {
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "peer certificate: " + id.error().message);
    } else if (expected_ && *id != *expected_) {
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  "peer is " + id->to_string() + ", expected " + expected_->to_string());
    } else {
      *sync_status = grpc::Status::OK;
    }
    return true;  // decided synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::optional<PeerId> expected_;
};

std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_of(const TlsIdentity& tls) {
  return std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
      std::vector<grpc::experimental::IdentityKeyCertPair>{{tls.private_key_pem, tls.certificate_pem}});
}

}  // namespace

Result<TlsIdentity> make_tls_identity(const Identity& identity) {
  X509Ptr cert(X509_new());
  if (!cert) return fail(Errc::crypto, "cannot allocate a certificate");
  std::array<std::uint8_t, 16> serial_bytes;
  OB_TRY_VOID(crypto::random_bytes(serial_bytes));
  serial_bytes[0] &= 0x7f;  // a positive serial number
  BIGNUM* serial = BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr);
  const std::string cn = identity.peer_id().to_string();
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool ok =
      serial != nullptr && X509_set_version(cert.get(), 2) == 1 &&
      BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&  // tolerate clock skew
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds) != nullptr &&
      X509_set_pubkey(cert.get(), identity.evp_key()) == 1 &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                 -1, 0) == 1 &&
      X509_set_issuer_name(cert.get(), name) == 1 &&
      X509_sign(cert.get(), identity.evp_key(), nullptr) > 0;  // Ed25519 signs without a digest
  BN_free(serial);
  if (!ok) return fail(Errc::crypto, "cannot build the TLS certificate");

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), identity.evp_key(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail(Errc::crypto, "cannot encode the TLS certificate");
  }
  return TlsIdentity{bio_string(cert_bio.get()), bio_string(key_bio.get())};
}

Result<PeerId> peer_id_of_certificate(std::string_view pem) {
  if (pem.empty() || pem.size() > 64 * 1024) return fail(Errc::invalid_argument, "no certificate");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return fail(Errc::invalid_argument, "not a PEM X.509 certificate");
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    return fail(Errc::invalid_argument, "the certificate's key is not Ed25519");
  }
  if (X509_verify(cert.get(), key) != 1) return fail(Errc::invalid_argument, "the certificate is not self-signed by its key");
  PublicKey raw;
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &len) != 1 || len != raw.size()) {
    return fail(Errc::invalid_argument, "cannot read the certificate's key");
  }
  return PeerId::from_public_key(raw);
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsIdentity& tls) {
  grpc::experimental::TlsServerCredentialsOptions options(provider_of(tls));
  options.watch_identity_key_cert_pairs();
  // Self-signed client certificates: the chain is not verified against a CA; our verifier
  // checks the certificate itself, and the handshake proves the caller holds its key.
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PeerIdVerifier>(std::nullopt));
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const TlsIdentity& tls, const PeerId& expected) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider_of(tls));
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);  // no CA: the peer ID check below replaces it
  options.set_check_call_host(false);      // addresses are not names in certificates
  options.set_certificate_verifier(grpc::experimental::ExternalCertificateVerifier::Create<PeerIdVerifier>(expected));
  return grpc::experimental::TlsCredentials(options);
}

Result<PeerId> caller_peer_id(const grpc::ServerContext& context) {
  const auto auth = context.auth_context();
  if (!auth) return fail(Errc::invalid_argument, "the call is not authenticated");
  const auto values = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (values.empty()) return fail(Errc::invalid_argument, "the caller presented no certificate");
  return peer_id_of_certificate(std::string_view(values.front().data(), values.front().size()));
}

}  // namespace ob::net
