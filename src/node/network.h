// A node's presence on the network: its BlockExchange server (TLS, pinned peer IDs), its DHT
// node, and the operations seed 004 asks of a node — announce what it stores, find providers
// of a CID, fetch a file from them into the local stores (after which it is a provider too), or
// read a file from them straight into memory, decrypted, without storing it (a download).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "discovery/dht.h"
#include "exchange/fetcher.h"
#include "net/identity.h"
#include "net/tls.h"
#include "node/engine.h"

namespace grpc {
class Server;
}

namespace ob {

namespace exchange {
class ExchangeService;
}

/// Where and how the node listens and whom it knows at start.
struct NetworkOptions {
  std::string listen_host = "127.0.0.1";   ///< address of the BlockExchange server
  std::uint16_t p2p_port = 0;              ///< TCP port of the BlockExchange server; 0 picks one
  std::uint16_t dht_port = 0;              ///< UDP port of the DHT node; 0 picks one
  std::vector<std::string> bootstrap;      ///< DHT nodes, "host:port"
  std::uint32_t network_id = 0x0b0b0001;   ///< nodes with other IDs are not talked to
  bool dht_rate_limits = true;             ///< off only when many nodes share one host (tests)
  std::chrono::milliseconds lookup_timeout{5000};  ///< DHT lookups
  exchange::FetchOptions fetch;            ///< deadlines and window of block transfers
};

/// Thread-safe.
class Network {
 public:
  /// Starts the BlockExchange server and the DHT node and announces this peer.
  /// Errors (io): a port cannot be bound; (crypto).
  static Result<std::unique_ptr<Network>> start(Engine& engine, const net::Identity& identity,
                                                NetworkOptions options);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const net::PeerId& peer_id() const noexcept { return identity_.peer_id(); }
  /// The node's identity, which signs its records (peer and file index records).
  const net::Identity& identity() const noexcept { return identity_; }
  /// The node's DHT node (records other than providers and peers: the file index's).
  discovery::Discovery& discovery() noexcept { return *dht_; }
  /// "host:port" of the BlockExchange server.
  const std::string& p2p_address() const noexcept { return p2p_address_; }
  /// This node's TLS certificate and key, for clients it opens (peers, the tracker).
  const net::TlsIdentity& tls() const noexcept { return tls_; }
  std::uint16_t dht_port() const;
  std::size_t dht_nodes() const;

  /// Publishes this node as a provider of `cid`. Errors (crypto, invalid_argument).
  Result<void> announce(const Cid& cid);
  /// Providers of `cid`: from the DHT, plus peers added with connect(). Never this node.
  std::vector<discovery::PeerRecord> providers(const Cid& cid);
  /// A peer's record, from those connected or the DHT. Errors (not_found).
  Result<discovery::PeerRecord> find_peer(const net::PeerId& peer);
  /// Adds a peer to ask for any file (seed 004's connect), and its address to the DHT's contacts.
  void connect(const net::PeerId& peer, const std::string& p2p_address);
  /// Peers added with connect().
  std::vector<discovery::PeerRecord> connected() const;

  /// Makes `cid` local: nothing to do when stored, else fetched from its providers, stored, and
  /// announced. Errors (not_found) no provider found or none has it; the fetch's errors.
  Result<exchange::FetchReport> fetch(const Cid& cid, const Progress& progress = {});

  /// Opens file `cid`, stored elsewhere, for reading from its providers (the DHT's and peers
  /// added with connect()) without storing anything here (issue 12): the reader pulls stripes
  /// through an exchange::StripeFetcher (the k data slots' blocks, others only when a peer
  /// fails, lies or stalls; every block checked on arrival; a bounded window of stripes in
  /// flight) and decodes and decrypts each in memory. Only the file's owner can open it. Errors
  /// (not_found) no provider found or none has it; (corrupt) the file is not this owner's;
  /// (unrecoverable) fewer than k slots can be read; the stripes' errors come from read_stripe.
  /// With `file_key` (a share token's, coding/share_token.h) anyone holding it can open the
  /// file; (corrupt) then says the key does not open it.
  Result<FileReader> open_reader(const Cid& cid, const crypto::Key* file_key = nullptr);
  /// The same from the peers given (the producer's download names the consumers holding slots).
  Result<FileReader> open_reader(const Cid& cid, const std::vector<exchange::PeerClient>& peers,
                                 const crypto::Key* file_key = nullptr);

  /// Serves the slots of `store` to peers too (the consumer role's SlotStore), beside the
  /// engine's own; nullptr stops serving it. Thread-safe: requests in flight keep the store they
  /// started with alive through the shared_ptr, later requests see the change. Have() reports
  /// the union of both stores; a slot in both is served from the engine's.
  void set_consumer_slots(std::shared_ptr<const SlotStore> store);

 private:
  Network(Engine& engine, const net::Identity& identity, NetworkOptions options);
  Result<Bytes> signed_record() const;
  /// Clients of every provider of `cid`. Errors (not_found) none found.
  Result<std::vector<exchange::PeerClient>> provider_clients(const Cid& cid);
  /// The stores the BlockExchange server reads: the engine's, then the consumer's if set.
  std::vector<std::shared_ptr<const SlotStore>> slot_stores() const;
  Engine& engine_;
  const net::Identity& identity_;
  NetworkOptions options_;
  net::TlsIdentity tls_;
  std::unique_ptr<exchange::ExchangeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string p2p_address_;
  std::unique_ptr<discovery::Discovery> dht_;
  mutable std::mutex mutex_;  // guards connected_ and consumer_slots_
  std::map<net::PeerId, std::string> connected_;
  std::shared_ptr<const SlotStore> consumer_slots_;
};

}  // namespace ob
