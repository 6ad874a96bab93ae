// Discovery over OpenDHT (a Kademlia DHT): who a peer is and where, and who provides a file.
//
//   key "open-bucket/v1/peer/" || peer ID bytes        -> the peer's SignedPeerRecord
//   key "open-bucket/v1/providers/" || file CID bytes  -> one SignedPeerRecord per provider
// (keys are SHA-1'd into OpenDHT InfoHashes). Records are signed with the peer's Ed25519 key
// (net/identity.h) and checked against the peer ID inside them, so nodes storing records cannot
// forge them. Announcements are "permanent" puts: OpenDHT re-publishes them before they expire,
// for as long as this node runs. Nodes on different network IDs never talk.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cid.h"
#include "core/error.h"
#include "net/identity.h"

namespace dht {
class DhtRunner;
}

namespace ob::discovery {

/// A peer's signed self-description.
struct PeerRecord {
  net::PeerId peer;
  std::vector<std::string> addresses;  ///< "host:port" of its BlockExchange server
  std::vector<std::string> roles;
  std::uint64_t timestamp = 0;         ///< Unix seconds when signed

  /// Signs the record with `identity` (which must be `peer`). Errors (invalid_argument): another
  /// identity, or limits exceeded; (crypto).
  Result<Bytes> sign(const net::Identity& identity) const;
  /// Parses a SignedPeerRecord and checks its signature against the peer ID inside it.
  /// Errors (invalid_argument): malformed, over the limits, or a bad signature.
  static Result<PeerRecord> verify(ByteView signed_record);
};

/// One DHT node. Thread-safe; the DHT runs on its own threads.
class Discovery {
 public:
  struct Options {
    std::uint16_t port = 0;                ///< UDP port; 0 picks one
    std::uint32_t network_id = 0;          ///< keeps test and private networks apart
    std::vector<std::string> bootstrap;    ///< "host:port" of known DHT nodes
    bool rate_limits = true;               ///< off only for tests of many nodes on one host
  };

  /// Starts a DHT node and bootstraps it. Errors (io): the port cannot be bound.
  static Result<std::unique_ptr<Discovery>> start(Options options);
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  /// The UDP port the node listens on.
  std::uint16_t port() const;
  /// DHT nodes this node knows as good (IPv4).
  std::size_t node_count() const;
  /// Adds a known node ("host:port").
  void bootstrap(const std::string& host_port);

  /// Publishes `signed_record` (PeerRecord::sign) under its peer ID, kept alive while running.
  Result<void> announce_peer(ByteView signed_record);
  /// Publishes `signed_record` as a provider of `cid`, kept alive while running.
  Result<void> announce_provider(const Cid& cid, ByteView signed_record);
  /// Records of the providers of `cid` found within `timeout`; forged or malformed ones are
  /// dropped, one (the newest) per peer. Errors: none; an empty list means none was found.
  std::vector<PeerRecord> find_providers(const Cid& cid, std::chrono::milliseconds timeout);
  /// The newest valid record of `peer` found within `timeout`. Errors (not_found).
  Result<PeerRecord> find_peer(const net::PeerId& peer, std::chrono::milliseconds timeout);

 private:
  explicit Discovery(std::unique_ptr<dht::DhtRunner> runner);
  std::vector<PeerRecord> get_records(const std::string& key, std::chrono::milliseconds timeout);
  std::unique_ptr<dht::DhtRunner> runner_;
};

}  // namespace ob::discovery
