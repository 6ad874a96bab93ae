// The client side of block exchange: fetch a file, or some of its slots, from peers into the
// local stores, and audit a peer's slot.
//
// fetch_file() and fetch_slots() need no key, so a producer, a consumer storing or repairing a
// slot, or any node can run them. Both read the file through a StripeFetcher
// (exchange/stripe_fetcher.h: the slots to read, streams of verified blocks, peers dropped when
// they fail, lie or stall), rebuild the wanted slots not read with Reed-Solomon, compare every
// wanted slot's root with the manifest, and only then publish the slots and store the manifest.
// Memory: the fetcher's window and one rebuild per stripe in it, whatever the file size.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "coding/manifest.h"
#include "core/cid.h"
#include "proto/p2p.grpc.pb.h"
#include "core/stream.h"
#include "net/tls.h"
#include "store/block_store.h"
#include "store/slot_store.h"

namespace ob::exchange {

/// A connection to one peer's BlockExchange service over TLS, accepting the peer only if it
/// proves it is `peer` (net/tls.h). Cheap to copy (shares the channel).
class PeerClient {
 public:
  /// A client for `peer` at `address` ("host:port"), presenting `local`. The channel connects
  /// lazily; errors (including a peer with another identity) surface per call.
  static PeerClient connect(const net::PeerId& peer, const std::string& address, const net::TlsIdentity& local);
  /// "address" for messages.
  const std::string& address() const noexcept { return address_; }
  /// The generated stub; thread-safe, shared by copies.
  openbucket::p2p::v1::BlockExchange::Stub& stub() const noexcept { return *stub_; }

 private:
  std::string address_;
  std::shared_ptr<openbucket::p2p::v1::BlockExchange::Stub> stub_;
};

struct FetchOptions {
  /// Deadline of every unary call; a Blocks stream that owes blocks and delivers none for this
  /// long is stalled. Either way the peer is dropped for this transfer.
  std::chrono::milliseconds deadline{10'000};
  /// Stripes in flight (wanted from peers and not yet handed on), 1..1024; window × n blocks are
  /// in memory at once. 0 picks as many as fit in 16 MiB (42 stripes for k = 4, m = 2 and
  /// 64 KiB blocks), at least 2 and at most 256.
  std::uint32_t window = 0;
};

/// What a fetch did.
struct FetchReport {
  bool already_local = false;
  std::uint64_t stripes = 0;
  std::vector<std::uint32_t> slots_read;  ///< the slots whose blocks came over the network
  std::uint64_t bytes_received = 0;       ///< block bytes received (excluding indexes)
  std::vector<std::string> dropped;       ///< "address: reason" for each peer dropped
};

/// An io error naming the peer, the call and gRPC's status, for FetchReport::dropped and messages.
Error peer_error(const PeerClient& peer, std::string_view what, const grpc::Status& status);

/// Fetches file `cid` from `peers` into `blocks` (manifest) and `slots` (all n slots), or does
/// nothing if it is already stored. Errors: (not_found) no peer has the manifest;
/// (unrecoverable) fewer than k slots could be read; (corrupt) a rebuilt slot does not match its
/// root; (io) local writes. On error nothing is stored.
Result<FetchReport> fetch_file(const Cid& cid, const std::vector<PeerClient>& peers, BlockStore& blocks,
                               SlotStore& slots, const FetchOptions& options = {},
                               const Progress& progress = {});

/// Fetches only slots `wanted` of `cid` into `slots`, and the manifest into `blocks` (issue 4:
/// a consumer storing its slot, or rebuilding a lost one). A wanted slot that a peer holds is
/// copied from it, each block checked against the slot's verified index; a wanted slot that no
/// peer holds (or whose holders all fail) is rebuilt from k other slots read from peers, from
/// the stripe where its copy stopped. A slot
/// is published only when its Merkle root matches the manifest; slots already stored are left
/// as they are (a call that finds all of them and the manifest here reports already_local).
/// The slots read are reported in slots_read. Memory as fetch_file. Errors: (invalid_argument)
/// no slot wanted, or a wanted index >= n; (already_exists) a wanted slot was stored by
/// someone else meanwhile; (not_found) no peer has the manifest; (unrecoverable) neither the slot
/// nor k others could be read; (corrupt) a rebuilt slot does not match its root; (io).
/// On error nothing of the failed slots is stored.
Result<FetchReport> fetch_slots(const Cid& cid, std::span<const std::uint32_t> wanted,
                                const std::vector<PeerClient>& peers, BlockStore& blocks, SlotStore& slots,
                                const FetchOptions& options = {}, const Progress& progress = {});

/// One audit (DESIGN.md "Proofs of storage"): asks `peer` for block `block` of slot `slot` of
/// the file with manifest `manifest` (CID `cid`) and its Merkle path, recomputes the block root
/// and checks the path against the manifest's slot root, with the leaf count from the manifest.
/// Errors: (corrupt) a wrong block or proof; (not_found) the peer says it does not hold it;
/// (invalid_argument) slot or block out of range; (io) the peer is unreachable or times out.
Result<void> audit_slot(const PeerClient& peer, const Cid& cid, const Manifest& manifest, std::uint32_t slot,
                        std::uint64_t block, std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace ob::exchange
