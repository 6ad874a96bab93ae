// The server side of block exchange (proto/p2p.proto): answers peers from this node's stores.
// Every request is untrusted: CIDs are parsed, counts capped, slots and ranges checked, and a
// bad request gets INVALID_ARGUMENT or NOT_FOUND, never a crash. Blocks are served as stored;
// the fetcher checks each against its root, so a damaged local block cannot poison a peer.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <vector>

#include "net/tls.h"
#include "proto/p2p.grpc.pb.h"
#include "store/block_store.h"
#include "store/slot_store.h"

namespace ob::exchange {

/// Limits of proto/p2p.proto, enforced by server and client.
inline constexpr std::uint32_t kMaxIndexRootsPerCall = 16384;
/// Most blocks one BlocksWant may ask for.
inline constexpr std::uint32_t kMaxBlocksPerWant = 1024;
/// A BlockBatch carries whole blocks up to this many bytes, or one block when blocks are larger.
inline constexpr std::size_t kBatchBytes = 1024 * 1024;
/// Largest message a client receives: one maximum-size block plus framing.
inline constexpr int kMaxMessageBytes = 4 * 1024 * 1024 + 64 * 1024;
/// Largest message a server receives (requests and wants are small).
inline constexpr int kMaxRequestBytes = 64 * 1024;

/// Most siblings a Prove reply may carry (a tree of 2^64 leaves has 64 levels).
inline constexpr std::size_t kMaxProofSiblings = 64;

/// The slot stores a node serves from, asked on every request so that a store can be added or
/// withdrawn while the server runs. Must be thread-safe (gRPC calls it from many threads) and
/// cheap. The stores returned are read concurrently; a slot is served from the first store,
/// in the order given, that holds it.
using SlotStoreProvider = std::function<std::vector<std::shared_ptr<const SlotStore>>()>;

/// gRPC service over a BlockStore (manifests) and one or more SlotStores (slots): on a node,
/// the engine's store (the producer's own files) and the consumer's store (slots held for
/// others). Thread-safe: gRPC calls it from many threads, and the stores allow concurrent readers.
class ExchangeService final : public openbucket::p2p::v1::BlockExchange::Service {
 public:
  /// Serves from the stores `slot_stores` returns (see SlotStoreProvider).
  ExchangeService(BlockStore& blocks, SlotStoreProvider slot_stores)
      : blocks_(blocks), slot_stores_(std::move(slot_stores)) {}
  /// Serves from one SlotStore, which must outlive the service.
  ExchangeService(BlockStore& blocks, const SlotStore& slots);

  grpc::Status Have(grpc::ServerContext* context, const openbucket::p2p::v1::HaveRequest* request,
                    openbucket::p2p::v1::HaveReply* reply) override;
  grpc::Status GetManifest(grpc::ServerContext* context, const openbucket::p2p::v1::ManifestRequest* request,
                           openbucket::p2p::v1::ManifestReply* reply) override;
  grpc::Status GetSlotIndex(grpc::ServerContext* context, const openbucket::p2p::v1::SlotIndexRequest* request,
                            openbucket::p2p::v1::SlotIndexReply* reply) override;
  /// The Blocks stream (proto/p2p.proto): answers each want, in order, with batches of at most
  /// kBatchBytes read straight into the message. Ends with INVALID_ARGUMENT (bad CID, another
  /// file, count outside 1..kMaxBlocksPerWant), NOT_FOUND (slot not held), OUT_OF_RANGE (range
  /// past the end of the slot), or the read's error; OK when the peer closes its side.
  grpc::Status Blocks(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<openbucket::p2p::v1::BlockBatch, openbucket::p2p::v1::BlocksWant>* stream)
      override;
  /// What Blocks does, over any stream of wants and batches (gRPC's, or a fuzz target's):
  /// `cancelled` is asked before each batch and ends the stream with CANCELLED when true.
  grpc::Status serve_blocks(
      const std::function<bool()>& cancelled,
      grpc::ServerReaderWriterInterface<openbucket::p2p::v1::BlockBatch, openbucket::p2p::v1::BlocksWant>& stream);
  /// An audit: block `block` of slot `slot` as stored, and its Merkle path built from the slot's
  /// index (SlotReader::prove). INVALID_ARGUMENT for a bad CID, slot >= 255 or a block past the
  /// end of the slot; NOT_FOUND when no store holds the slot. The block is not checked here:
  /// the auditor checks it, so a damaged block fails the audit.
  grpc::Status Prove(grpc::ServerContext* context, const openbucket::p2p::v1::ProveRequest* request,
                     openbucket::p2p::v1::ProveReply* reply) override;

 private:
  BlockStore& blocks_;
  SlotStoreProvider slot_stores_;
};

/// A gRPC server for `service` listening on `address` ("127.0.0.1:0" picks a port) over TLS
/// with this node's certificate (net/tls.h), with the message limits above. Returns the server
/// and the port it bound. Errors (io): the address cannot be bound.
Result<std::pair<std::unique_ptr<grpc::Server>, int>> start_server(const std::string& address,
                                                                   grpc::Service& service,
                                                                   const net::TlsIdentity& tls);

}  // namespace ob::exchange
