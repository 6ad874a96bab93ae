// TLS between peers, pinned to peer IDs (issue 3): each node presents a self-signed X.509
// certificate for its Ed25519 identity key; the TLS handshake proves it holds that key, and the
// other side accepts it only when the key is the peer ID it expects. No certificate authority
// is involved: the peer ID is the trust anchor, as in libp2p's TLS handshake.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "net/identity.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
class ServerContext;
}  // namespace grpc

namespace ob::net {

/// A node's certificate and key, PEM-encoded, as TLS libraries want them.
struct TlsIdentity {
  std::string certificate_pem;  ///< self-signed X.509 v3, subject CN = peer ID, valid 10 years
  std::string private_key_pem;  ///< PKCS#8 Ed25519 private key
};

/// Makes the self-signed certificate of `identity`. Errors (crypto).
Result<TlsIdentity> make_tls_identity(const Identity& identity);

/// The peer ID of a PEM certificate's key, after checking the certificate's self-signature.
/// Errors (invalid_argument): not PEM X.509, not an Ed25519 key, or a bad signature.
Result<PeerId> peer_id_of_certificate(std::string_view pem);

/// Server credentials: presents `tls`, requires a client certificate from every caller and
/// checks that it is a well-formed self-signed Ed25519 certificate (any peer may call).
std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsIdentity& tls);

/// Channel credentials: presents `tls` and accepts the server only if its certificate's key is
/// `expected` (the call then fails with UNAVAILABLE: handshake failed).
std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const TlsIdentity& tls, const PeerId& expected);

/// The authenticated peer ID of the caller of a server call, from its client certificate.
/// Errors (invalid_argument): no or a malformed certificate.
Result<PeerId> caller_peer_id(const grpc::ServerContext& context);

}  // namespace ob::net
