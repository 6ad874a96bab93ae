#include "exchange/exchange_service.h"

#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "coding/manifest.h"
#include "core/metrics.h"

namespace ob::exchange {
namespace {

metrics::Counter& served_blocks() {
  static metrics::Counter& c = metrics::counter("ob_exchange_blocks_served_total", "Blocks sent to peers (Blocks streams).");
  return c;
}
metrics::Counter& served_bytes() {
  static metrics::Counter& c = metrics::counter("ob_exchange_bytes_served_total", "Bytes of blocks sent to peers.");
  return c;
}


namespace pb = openbucket::p2p::v1;

grpc::Status to_status(const Error& e) {
  switch (e.code) {
    case Errc::invalid_argument: return {grpc::StatusCode::INVALID_ARGUMENT, e.message};
    case Errc::not_found: return {grpc::StatusCode::NOT_FOUND, e.message};
    case Errc::out_of_range: return {grpc::StatusCode::OUT_OF_RANGE, e.message};
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

// The slot and block range a SlotIndex or Blocks request names, after checking every field.
struct SlotRange {
  SlotReader reader;
  std::uint64_t first;
  std::uint64_t end;  // exclusive, clamped to the slot
};

using Stores = std::vector<std::shared_ptr<const SlotStore>>;

// Slot `slot` of `file` from the first store holding it. Errors (not_found) no store has it;
// otherwise the first other error (e.g. corrupt) when no store could open it.
Result<SlotReader> open_slot(const Stores& stores, const Cid& file, std::uint32_t slot) {
  std::optional<Error> other;
  for (const auto& store : stores) {
    if (!store) continue;
    auto reader = store->open_slot(file, slot);
    if (reader) return reader;
    if (reader.error().code != Errc::not_found && !other) other = reader.error();
  }
  if (other) return std::unexpected(*other);
  return fail(Errc::not_found, "slot ", slot, " of ", file.to_string(), " is not stored here");
}

Result<SlotRange> open_range(const Stores& stores, const std::string& file_cid, std::uint32_t slot,
                             std::uint64_t first, std::uint32_t count, std::uint32_t max_count) {
  OB_TRY(Cid cid, parse_file_cid(file_cid));
  if (count == 0 || count > max_count) {
    return fail(Errc::invalid_argument, "count must be 1..", max_count);
  }
  OB_TRY(SlotReader reader, open_slot(stores, cid, slot));
  if (first >= reader.block_count()) return fail(Errc::out_of_range, "first is past the end of the slot");
  const std::uint64_t end = std::min<std::uint64_t>(reader.block_count(), first + count);
  return SlotRange{std::move(reader), first, end};
}

}  // namespace

ExchangeService::ExchangeService(BlockStore& blocks, const SlotStore& slots)
    : blocks_(blocks),
      // Non-owning: the caller keeps `slots` alive for as long as the service.
      slot_stores_([store = std::shared_ptr<const SlotStore>(std::shared_ptr<const SlotStore>(), &slots)] {
        return std::vector<std::shared_ptr<const SlotStore>>{store};
      }) {}

grpc::Status ExchangeService::Have(grpc::ServerContext*, const pb::HaveRequest* request, pb::HaveReply* reply) {
  auto cid = parse_file_cid(request->file_cid());
  if (!cid) return to_status(cid.error());
  auto encoded = blocks_.get(*cid);
  if (!encoded) return encoded.error().code == Errc::not_found ? grpc::Status::OK : to_status(encoded.error());
  auto manifest = Manifest::decode(*encoded);
  if (!manifest) return to_status(manifest.error());
  reply->set_has_manifest(true);
  // The union over the stores: a slot counts when some store holds it in full.
  const auto stores = slot_stores_();
  for (std::uint32_t i = 0; i < manifest->params.n(); ++i) {
    for (const auto& store : stores) {
      if (!store) continue;
      auto reader = store->open_slot(*cid, i);
      if (reader && reader->block_count() == manifest->stripe_count()) {
        reply->add_slots(i);
        break;
      }
    }
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
  auto range = open_range(slot_stores_(), request->file_cid(), request->slot(), request->first(),
                          request->count(), kMaxIndexRootsPerCall);
  if (!range) return to_status(range.error());
  std::string* roots = reply->mutable_roots();
  roots->reserve(static_cast<std::size_t>(range->end - range->first) * sizeof(merkle::Hash));
  for (std::uint64_t j = range->first; j < range->end; ++j) {
    auto root = range->reader.root_at(j);
    if (!root) return to_status(root.error());
    roots->append(reinterpret_cast<const char*>(root->data()), root->size());
  }
  return grpc::Status::OK;
}

grpc::Status ExchangeService::Blocks(grpc::ServerContext* context,
                                     grpc::ServerReaderWriter<pb::BlockBatch, pb::BlocksWant>* stream) {
  return serve_blocks([context] { return context->IsCancelled(); }, *stream);
}

grpc::Status ExchangeService::serve_blocks(const std::function<bool()>& cancelled,
                                           grpc::ServerReaderWriterInterface<pb::BlockBatch, pb::BlocksWant>& stream) {
  std::optional<Cid> file;
  std::string file_bytes;
  // Slots opened on this stream, kept for its later wants (a stream usually reads one slot).
  std::map<std::uint32_t, SlotReader> readers;
  pb::BlocksWant want;
  pb::BlockBatch batch;
  while (stream.Read(&want)) {
    if (!file || (!want.file_cid().empty() && want.file_cid() != file_bytes)) {
      if (file) return {grpc::StatusCode::INVALID_ARGUMENT, "a Blocks stream reads one file"};
      auto cid = parse_file_cid(want.file_cid());
      if (!cid) return to_status(cid.error());
      file = *cid;
      file_bytes = want.file_cid();
    }
    if (want.count() == 0 || want.count() > kMaxBlocksPerWant) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "count must be 1.." + std::to_string(kMaxBlocksPerWant)};
    }
    auto it = readers.find(want.slot());
    if (it == readers.end()) {
      auto reader = open_slot(slot_stores_(), *file, want.slot());
      if (!reader) return to_status(reader.error());
      it = readers.emplace(want.slot(), std::move(*reader)).first;
    }
    const SlotReader& reader = it->second;
    if (want.first() >= reader.block_count() || want.count() > reader.block_count() - want.first()) {
      return {grpc::StatusCode::OUT_OF_RANGE, "the range runs past the end of the slot"};
    }
    const std::size_t block_size = reader.block_size();
    const std::uint64_t per_batch = std::max<std::size_t>(1, kBatchBytes / block_size);
    const std::uint64_t end = want.first() + want.count();
    for (std::uint64_t j = want.first(); j < end;) {
      if (cancelled()) return {grpc::StatusCode::CANCELLED, "cancelled by the peer"};
      const std::uint64_t count = std::min(per_batch, end - j);
      batch.set_slot(want.slot());
      batch.set_first(j);
      std::string* data = batch.mutable_data();
      data->resize(static_cast<std::size_t>(count) * block_size);
      for (std::uint64_t b = 0; b < count; ++b) {
        auto ok = reader.read_block(j + b, MutableByteView(reinterpret_cast<std::uint8_t*>(data->data()) + b * block_size,
                                                           block_size));
        if (!ok) return to_status(ok.error());
      }
      if (!stream.Write(batch)) return {grpc::StatusCode::CANCELLED, "the peer went away"};
      served_blocks().add(count);
      served_bytes().add(data->size());
      j += count;
    }
  }
  return grpc::Status::OK;
}

grpc::Status ExchangeService::Prove(grpc::ServerContext*, const pb::ProveRequest* request, pb::ProveReply* reply) {
  auto cid = parse_file_cid(request->file_cid());
  if (!cid) return to_status(cid.error());
  if (request->slot() >= protocol::kMaxSlots) {
    return to_status(Error{Errc::invalid_argument, "slot " + std::to_string(request->slot()) + " is out of range"});
  }
  auto reader = open_slot(slot_stores_(), *cid, request->slot());
  if (!reader) return to_status(reader.error());
  if (request->block() >= reader->block_count()) {
    return to_status(Error{Errc::invalid_argument, "block " + std::to_string(request->block()) + " is past the end (" +
                                                       std::to_string(reader->block_count()) + " blocks)"});
  }
  auto proof = reader->prove(request->block());
  if (!proof) return to_status(proof.error());
  if (proof->siblings.size() > kMaxProofSiblings) return {grpc::StatusCode::INTERNAL, "proof too long"};
  std::string* data = reply->mutable_data();
  data->resize(reader->block_size());
  auto ok = reader->read_block(request->block(),
                               MutableByteView(reinterpret_cast<std::uint8_t*>(data->data()), data->size()));
  if (!ok) return to_status(ok.error());
  for (const merkle::Hash& sibling : proof->siblings) {
    reply->add_siblings(reinterpret_cast<const char*>(sibling.data()), sibling.size());
  }
  static metrics::Counter& proofs = metrics::counter("ob_exchange_proofs_served_total", "Audit proofs (Prove) answered.");
  proofs.add();
  return grpc::Status::OK;
}

Result<std::pair<std::unique_ptr<grpc::Server>, int>> start_server(const std::string& address,
                                                                   grpc::Service& service,
                                                                   const net::TlsIdentity& tls) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, net::server_credentials(tls), &port);
  // Requests are small; replies carry at most one block, or kBatchBytes, a message.
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return fail(Errc::io, "cannot listen for peers on ", address);
  return std::pair{std::move(server), port};
}

}  // namespace ob::exchange
