// Discovery over OpenDHT (a Kademlia DHT): who a peer is and where, and who provides a file.
//
//   key "open-bucket/v1/peer/" || peer ID bytes        -> the peer's SignedPeerRecord
//   key "open-bucket/v1/providers/" || file CID bytes  -> one SignedPeerRecord per provider
//   key "open-bucket/v1/index/" || index locator       -> the owner's SignedIndexRecords, one
//                                                         value per sequence number
// (keys are SHA-1'd into OpenDHT InfoHashes). Records are signed with the peer's Ed25519 key
// (net/identity.h) and checked against the peer ID inside them, so nodes storing records cannot
// forge them. Announcements are "permanent" puts: OpenDHT re-publishes them before they expire,
// for as long as this node runs. Nodes on different network IDs never talk.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
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

/// Where an owner's file index can be found without knowing its CID: 32 bytes derived from the
/// owner's master secret (HKDF label "open-bucket/v1/index-locator", docs/formats.md).
using IndexLocator = std::array<std::uint8_t, 32>;

/// The signed pointer to the newest version of an owner's file index (issue 13; p2p.proto
/// IndexRecord). Signed by the owner's identity key; it names no peer, so a reader must know
/// whose it should be (the identity derived from the same words). Readers take the highest
/// valid sequence and refuse one lower than a sequence they have already seen (a rollback).
struct IndexRecord {
  IndexLocator locator{};
  std::uint64_t sequence = 0;   ///< >= 1; one more per version published
  std::string index_cid;        ///< the index file's ID, base32 CID text
  std::uint64_t timestamp = 0;  ///< Unix seconds when signed (informational)

  /// Signs the record with the owner's `identity`. Errors (invalid_argument): sequence 0, an
  /// index_cid that is not a CID or over 256 bytes; (crypto).
  Result<Bytes> sign(const net::Identity& identity) const;
  /// Parses a SignedIndexRecord and checks it: signed by `owner`, stored under `locator`, a
  /// valid CID, and a sequence of at least `min_sequence` (the highest one already seen; a
  /// lower one is a rollback). Errors (invalid_argument): malformed or over the limits, a bad
  /// signature or another signer, another locator; (corrupt) "stale": a lower sequence.
  static Result<IndexRecord> verify(ByteView signed_record, const net::PeerId& owner, const IndexLocator& locator,
                                    std::uint64_t min_sequence = 0);
  friend bool operator==(const IndexRecord&, const IndexRecord&) = default;
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

  /// Publishes `signed_record` (IndexRecord::sign of `record`) under the record's locator, one
  /// DHT value per sequence number (OpenDHT does not let a stored value be edited), kept alive
  /// while running. Errors: none beyond a record that does not parse (invalid_argument).
  Result<void> put_index_record(const IndexRecord& record, ByteView signed_record);
  /// Stops keeping version `sequence` alive (it expires from the DHT within minutes).
  void cancel_index_record(const IndexLocator& locator, std::uint64_t sequence);
  /// The valid record of the highest sequence under `locator` signed by `owner`, found within
  /// `timeout`; forged, malformed and foreign values are dropped. Errors (not_found).
  Result<IndexRecord> find_index_record(const IndexLocator& locator, const net::PeerId& owner,
                                        std::chrono::milliseconds timeout);

 private:
  explicit Discovery(std::unique_ptr<dht::DhtRunner> runner);
  std::vector<PeerRecord> get_records(const std::string& key, std::chrono::milliseconds timeout);
  /// Hands each value found under `key` (SHA-1'd) within `timeout` to `take`, on the DHT's
  /// thread, one call at a time and never after this returns.
  void get_values(const std::string& key, std::chrono::milliseconds timeout, const std::function<void(ByteView)>& take);
  std::unique_ptr<dht::DhtRunner> runner_;
};

}  // namespace ob::discovery
