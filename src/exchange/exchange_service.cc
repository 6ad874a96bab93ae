#include "exchange/exchange_service.h"

#include <cstring>

#include "coding/manifest.h"

namespace ob::exchange {
namespace {

namespace pb = openbucket::p2p::v1;

grpc::Status to_status(const Error& e) {
  switch (e.code) {
    case Errc::invalid_argument: return {grpc::StatusCode::INVALID_ARGUMENT, e.message};
    case Errc::not_found: return {grpc::StatusCode::NOT_FOUND, e.message};
    default: return {grpc::StatusCode::INTERNAL, e.message};
  }
}

Result<Cid> parse_file_cid(const std::string& bytes) {
  if (bytes.size() > protocol::kMaxCidSize) return fail(Errc::invalid_argument, "file CID too long");
  auto cid = Cid::from_bytes(as_bytes(bytes));
  if (!cid) return fail(Errc::invalid_argument, "bad file CID: ", cid.error().message);
  if (cid->codec() != protocol::kCodecManifest) return fail(Errc::invalid_argument, "not a file CID");
  return cid;
}

}  // namespace

grpc::Status ExchangeService::Have(grpc::ServerContext*, const pb::HaveRequest* request, pb::HaveReply* reply) {
  auto cid = parse_file_cid(request->file_cid());
  if (!cid) return to_status(cid.error());
  auto encoded = blocks_.get(*cid);
  if (!encoded) return encoded.error().code == Errc::not_found ? grpc::Status::OK : to_status(encoded.error());
  auto manifest = Manifest::decode(*encoded);
  if (!manifest) return to_status(manifest.error());
  reply->set_has_manifest(true);
  for (std::uint32_t i = 0; i < manifest->params.n(); ++i) {
    auto reader = slots_.open_slot(*cid, i);
    if (reader && reader->block_count() == manifest->stripe_count()) reply->add_slots(i);
  }
  return grpc::Status::OK;
}

grpc::Status ExchangeService::GetManifest(grpc::ServerContext*, const pb::ManifestRequest* request,
                                          pb::ManifestReply* reply) {
  auto cid = parse_file_cid(request->file_cid());
  if (!cid) return to_status(cid.error());
  auto encoded = blocks_.get(*cid);
  if (!encoded) return to_status(encoded.error());
  reply->set_manifest(std::string(as_chars(*encoded)));
  return grpc::Status::OK;
}

grpc::Status ExchangeService::GetSlotIndex(grpc::ServerContext*, const pb::SlotIndexRequest* request,
                                           pb::SlotIndexReply* reply) {
  auto cid = parse_file_cid(request->file_cid());
  if (!cid) return to_status(cid.error());
  if (request->count() == 0 || request->count() > kMaxIndexRootsPerCall) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "count must be 1.." + std::to_string(kMaxIndexRootsPerCall)};
  }
  auto reader = slots_.open_slot(*cid, request->slot());
  if (!reader) return to_status(reader.error());
  if (request->first() >= reader->block_count()) return {grpc::StatusCode::OUT_OF_RANGE, "first is past the end"};
  const std::uint64_t end = std::min<std::uint64_t>(reader->block_count(), request->first() + request->count());
  std::string* roots = reply->mutable_roots();
  roots->reserve(static_cast<std::size_t>(end - request->first()) * sizeof(merkle::Hash));
  for (std::uint64_t j = request->first(); j < end; ++j) {
    auto root = reader->root_at(j);
    if (!root) return to_status(root.error());
    roots->append(reinterpret_cast<const char*>(root->data()), root->size());
  }
  return grpc::Status::OK;
}

grpc::Status ExchangeService::GetBlocks(grpc::ServerContext* context, const pb::BlocksRequest* request,
                                        grpc::ServerWriter<pb::Block>* writer) {
  auto cid = parse_file_cid(request->file_cid());
  if (!cid) return to_status(cid.error());
  if (request->count() == 0 || request->count() > kMaxBlocksPerCall) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "count must be 1.." + std::to_string(kMaxBlocksPerCall)};
  }
  auto reader = slots_.open_slot(*cid, request->slot());
  if (!reader) return to_status(reader.error());
  if (request->first() >= reader->block_count()) return {grpc::StatusCode::OUT_OF_RANGE, "first is past the end"};
  const std::uint64_t end = std::min<std::uint64_t>(reader->block_count(), request->first() + request->count());
  pb::Block block;
  std::string* data = block.mutable_data();
  data->resize(reader->block_size());
  for (std::uint64_t j = request->first(); j < end; ++j) {
    if (context->IsCancelled()) return {grpc::StatusCode::CANCELLED, "cancelled by the peer"};
    auto ok = reader->read_block(j, MutableByteView(reinterpret_cast<std::uint8_t*>(data->data()), data->size()));
    if (!ok) return to_status(ok.error());
    block.set_index(j);
    if (!writer->Write(block)) return {grpc::StatusCode::CANCELLED, "the peer went away"};
  }
  return grpc::Status::OK;
}

Result<std::pair<std::unique_ptr<grpc::Server>, int>> start_server(const std::string& address,
                                                                   grpc::Service& service,
                                                                   const net::TlsIdentity& tls) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, net::server_credentials(tls), &port);
  // Requests are small; replies carry at most one block a message.
  builder.SetMaxReceiveMessageSize(64 * 1024);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return fail(Errc::io, "cannot listen for peers on ", address);
  return std::pair{std::move(server), port};
}

}  // namespace ob::exchange
