// The server side of block exchange (proto/p2p.proto): answers peers from this node's stores.
// Every request is untrusted: CIDs are parsed, counts capped, slots and ranges checked, and a
// bad request gets INVALID_ARGUMENT or NOT_FOUND, never a crash. Blocks are served as stored;
// the fetcher checks each against its root, so a damaged local block cannot poison a peer.
#pragma once

#include <grpcpp/grpcpp.h>

#include "net/tls.h"
#include "proto/p2p.grpc.pb.h"
#include "store/block_store.h"
#include "store/slot_store.h"

namespace ob::exchange {

/// Limits of proto/p2p.proto, enforced by server and client.
inline constexpr std::uint32_t kMaxIndexRootsPerCall = 16384;
inline constexpr std::uint32_t kMaxBlocksPerCall = 64;
/// One maximum-size block plus framing.
inline constexpr int kMaxMessageBytes = 4 * 1024 * 1024 + 64 * 1024;

/// gRPC service over a BlockStore (manifests) and a SlotStore (slots). Thread-safe: gRPC calls
/// it from many threads, and both stores allow concurrent readers.
class ExchangeService final : public openbucket::p2p::v1::BlockExchange::Service {
 public:
  ExchangeService(BlockStore& blocks, const SlotStore& slots) : blocks_(blocks), slots_(slots) {}

  grpc::Status Have(grpc::ServerContext* context, const openbucket::p2p::v1::HaveRequest* request,
                    openbucket::p2p::v1::HaveReply* reply) override;
  grpc::Status GetManifest(grpc::ServerContext* context, const openbucket::p2p::v1::ManifestRequest* request,
                           openbucket::p2p::v1::ManifestReply* reply) override;
  grpc::Status GetSlotIndex(grpc::ServerContext* context, const openbucket::p2p::v1::SlotIndexRequest* request,
                            openbucket::p2p::v1::SlotIndexReply* reply) override;
  grpc::Status GetBlocks(grpc::ServerContext* context, const openbucket::p2p::v1::BlocksRequest* request,
                         grpc::ServerWriter<openbucket::p2p::v1::Block>* writer) override;

 private:
  BlockStore& blocks_;
  const SlotStore& slots_;
};

/// A gRPC server for `service` listening on `address` ("127.0.0.1:0" picks a port) over TLS
/// with this node's certificate (net/tls.h), with the message limits above. Returns the server
/// and the port it bound. Errors (io): the address cannot be bound.
Result<std::pair<std::unique_ptr<grpc::Server>, int>> start_server(const std::string& address,
                                                                   grpc::Service& service,
                                                                   const net::TlsIdentity& tls);

}  // namespace ob::exchange
