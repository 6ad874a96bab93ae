// Fuzz target: proto/p2p.proto requests into the ExchangeService, as a peer would send them,
// without a socket. The service serves a node's stores (set up once, in a temporary directory):
// a healthy file (k=2, m=1, 3 stripes of 4 KiB blocks) and a damaged one (k=3, m=2: slot 0
// gone, slot 1 cut short, slot 2 overwritten). Each input is a sequence of frames (frames.h):
//
//   op 0 Have, 1 GetManifest, 2 GetSlotIndex, 3 Prove: the payload is the request message;
//   op 4 Blocks: the payload is frames whose payloads are the BlocksWant messages of one
//        stream, in order; a sub-frame with arg 1 cancels the stream at that point.
//
// A file_cid of exactly one byte is replaced by the CID of a known file (the healthy, the
// damaged, or one with no manifest here, by that byte modulo 3): the files' CIDs change with
// each run's keys, and the fuzzer would never guess a SHA-256.
//
// Beyond "no crash, no sanitizer report, no leak", it checks what a peer relies on:
//   - every status is OK, INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE or CANCELLED; INTERNAL
//     only for the damaged file (its store's errors);
//   - Have lists slot indices below n, ascending: every slot of the healthy file, and neither
//     the missing nor the short slot of the damaged one;
//   - GetManifest returns bytes whose CID is the one asked for;
//   - GetSlotIndex returns whole roots, as many as asked for or up to the end of the slot;
//   - a Prove reply of the healthy file verifies against the manifest's slot root;
//   - Blocks batches answer their wants in order with whole blocks, and the healthy file's
//     blocks match their roots in the slot index.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "coding/manifest.h"
#include "coding/merkle.h"
#include "core/stream.h"
#include "exchange/exchange_service.h"
#include "frames.h"
#include "fuzz_check.h"
#include "node/engine.h"
#include "node/home.h"
#include "store/file_io.h"

namespace {

namespace fs = std::filesystem;
namespace pb = openbucket::p2p::v1;
using ob::Bytes;
using ob::Cid;
using ob::Manifest;

// The node the service serves, set up once per process.
struct World {
  fs::path root;
  std::unique_ptr<ob::Home> home;
  std::unique_ptr<ob::Engine> engine;
  std::unique_ptr<ob::exchange::ExchangeService> service;
  Cid healthy = Cid::raw_sha256({});  // set by world()
  Cid damaged = Cid::raw_sha256({});
  Cid absent = Cid::raw_sha256({});   // a manifest CID with nothing stored
  Manifest healthy_manifest;
  Manifest damaged_manifest;
  std::vector<std::vector<ob::merkle::Hash>> healthy_roots;  // per slot, per block
};

[[noreturn]] void setup_failed(const std::string& what) {
  std::fprintf(stderr, "exchange_fuzz: setup failed: %s\n", what.c_str());
  std::abort();
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(seed + 131 * i + (i >> 9));
  return out;
}

Cid store_file(ob::Engine& engine, std::size_t size, ob::CodingParams params, std::uint8_t seed) {
  const Bytes data = pattern(size, seed);
  auto cid = engine.store(ob::memory_source(data), {"f" + std::to_string(seed), ""}, params);
  if (!cid) setup_failed(cid.error().message);
  return *cid;
}

Manifest manifest_of(ob::Engine& engine, const Cid& cid) {
  auto bytes = engine.blocks().get(cid);
  if (!bytes) setup_failed(bytes.error().message);
  auto manifest = Manifest::decode(*bytes);
  if (!manifest) setup_failed(manifest.error().message);
  return *manifest;
}

World& world() {
  static World* w = [] {
    auto* out = new World;
    out->root = fs::temp_directory_path() / ("ob-exchange-fuzz-" + ob::fileio::random_suffix());
    ob::NodeConfig config;
    config.sync = false;
    if (auto ok = ob::Home::init(out->root / "home", false, config); !ok) setup_failed(ok.error().message);
    auto home = ob::Home::open(out->root / "home");
    if (!home) setup_failed(home.error().message);
    out->home = std::make_unique<ob::Home>(std::move(*home));
    auto engine = ob::Engine::open(*out->home);
    if (!engine) setup_failed(engine.error().message);
    out->engine = std::move(*engine);

    const ob::CodingParams small{2, 1, 4096};
    out->healthy = store_file(*out->engine, 3 * 2 * small.chunk_size() - 100, small, 1);
    out->damaged = store_file(*out->engine, 5000, {3, 2, 4096}, 2);
    out->healthy_manifest = manifest_of(*out->engine, out->healthy);
    out->damaged_manifest = manifest_of(*out->engine, out->damaged);
    out->absent = Manifest::cid_of(ob::as_bytes(std::string_view("no such manifest")));
    for (std::uint32_t i = 0; i < small.n(); ++i) {
      auto reader = out->engine->slots().open_slot(out->healthy, i);
      if (!reader) setup_failed(reader.error().message);
      std::vector<ob::merkle::Hash> roots;
      for (std::uint64_t j = 0; j < reader->block_count(); ++j) roots.push_back(reader->root_at(j).value());
      out->healthy_roots.push_back(std::move(roots));
    }
    // Damage: slot 0 gone, slot 1's blocks cut short, slot 2's blocks overwritten.
    const fs::path dir = out->home->slots_dir() / out->damaged.to_string();
    std::error_code ec;
    fs::remove(dir / "0.blocks", ec);
    fs::remove(dir / "0.index", ec);
    fs::resize_file(dir / "1.blocks", 1000, ec);
    if (ec) setup_failed("cannot truncate a slot: " + ec.message());
    if (auto ok = ob::fileio::write_file_atomic(dir / "2.blocks", pattern(4096, 9)); !ok) {
      setup_failed(ok.error().message);
    }
    out->service = std::make_unique<ob::exchange::ExchangeService>(out->engine->blocks(), out->engine->slots());
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(world().root, ignored);
    });
    return out;
  }();
  return *w;
}

/// The known file a one-byte file_cid stands for; other values are left as sent.
void resolve_cid(std::string& file_cid) {
  if (file_cid.size() != 1) return;
  World& w = world();
  const Cid* known[] = {&w.healthy, &w.damaged, &w.absent};
  const Bytes bytes = known[static_cast<std::uint8_t>(file_cid[0]) % 3]->to_bytes();
  file_cid.assign(bytes.begin(), bytes.end());
}

bool is_healthy(const std::string& file_cid) {
  const Bytes bytes = world().healthy.to_bytes();
  return file_cid == std::string(bytes.begin(), bytes.end());
}

void check_status(const grpc::Status& status, const std::string& file_cid) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::CANCELLED:
      return;
    case grpc::StatusCode::INTERNAL:
      // The damaged file's store errors (a short or unreadable slot) are the service's to report.
      OB_FUZZ_CHECK(!is_healthy(file_cid));
      return;
    default:
      std::fprintf(stderr, "unexpected status %d: %s\n", static_cast<int>(status.error_code()),
                   status.error_message().c_str());
      OB_FUZZ_CHECK(false);
  }
}

/// A Blocks stream without a socket: reads the wants it was given, keeps what is written.
class FakeStream final : public grpc::ServerReaderWriterInterface<pb::BlockBatch, pb::BlocksWant> {
 public:
  std::deque<pb::BlocksWant> wants;
  std::vector<pb::BlockBatch> batches;

  void SendInitialMetadata() override {}
  bool NextMessageSize(std::uint32_t* size) override {
    if (wants.empty()) return false;
    *size = static_cast<std::uint32_t>(wants.front().ByteSizeLong());
    return true;
  }
  bool Read(pb::BlocksWant* want) override {
    if (wants.empty()) return false;
    *want = std::move(wants.front());
    wants.pop_front();
    return true;
  }
  bool Write(const pb::BlockBatch& batch, grpc::WriteOptions) override {
    batches.push_back(batch);
    return true;
  }
};

/// Parses a request, puts a known file's CID in it, calls `method` of the service and checks the
/// status. The request and its reply when the call succeeded.
template <typename Request, typename Reply>
std::optional<std::pair<Request, Reply>> unary(std::string_view payload,
                                               grpc::Status (ob::exchange::ExchangeService::*method)(
                                                   grpc::ServerContext*, const Request*, Reply*)) {
  Request request;
  if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return std::nullopt;
  resolve_cid(*request.mutable_file_cid());
  Reply reply;
  const grpc::Status status = (world().service.get()->*method)(nullptr, &request, &reply);
  check_status(status, request.file_cid());
  if (!status.ok()) return std::nullopt;
  return std::pair{std::move(request), std::move(reply)};
}

void have(std::string_view payload) {
  const auto call = unary<pb::HaveRequest, pb::HaveReply>(payload, &ob::exchange::ExchangeService::Have);
  if (!call) return;
  const auto& [request, reply] = *call;
  const bool healthy = is_healthy(request.file_cid());
  if (healthy) OB_FUZZ_CHECK(reply.has_manifest() && reply.slots_size() == 3);
  for (int i = 0; i < reply.slots_size(); ++i) {
    OB_FUZZ_CHECK(reply.slots(i) < ob::protocol::kMaxSlots);
    if (i > 0) OB_FUZZ_CHECK(reply.slots(i - 1) < reply.slots(i));
    // Slot 0 of the damaged file is gone and slot 1 cut short; slot 2 has the right size (Have
    // does not read contents: the fetcher checks every block).
    if (!healthy) OB_FUZZ_CHECK(reply.slots(i) >= 2);
  }
}

void get_manifest(std::string_view payload) {
  const auto call =
      unary<pb::ManifestRequest, pb::ManifestReply>(payload, &ob::exchange::ExchangeService::GetManifest);
  if (!call) return;
  const Bytes id = Manifest::cid_of(ob::as_bytes(call->second.manifest())).to_bytes();
  OB_FUZZ_CHECK(call->first.file_cid() == std::string(id.begin(), id.end()));
}

void get_slot_index(std::string_view payload) {
  const auto call =
      unary<pb::SlotIndexRequest, pb::SlotIndexReply>(payload, &ob::exchange::ExchangeService::GetSlotIndex);
  if (!call) return;
  const auto& [request, reply] = *call;
  const std::size_t hash = sizeof(ob::merkle::Hash);
  OB_FUZZ_CHECK(reply.roots().size() % hash == 0);
  const std::uint64_t got = reply.roots().size() / hash;
  OB_FUZZ_CHECK(got >= 1 && got <= request.count());
  if (is_healthy(request.file_cid())) {
    const auto& roots = world().healthy_roots.at(request.slot());
    OB_FUZZ_CHECK(got == std::min<std::uint64_t>(request.count(), roots.size() - request.first()));
    for (std::uint64_t j = 0; j < got; ++j) {
      OB_FUZZ_CHECK(std::equal(roots[request.first() + j].begin(), roots[request.first() + j].end(),
                               reply.roots().data() + j * hash,
                               [](std::uint8_t a, char b) { return a == static_cast<std::uint8_t>(b); }));
    }
  }
}

void prove(std::string_view payload) {
  const auto call = unary<pb::ProveRequest, pb::ProveReply>(payload, &ob::exchange::ExchangeService::Prove);
  if (!call || !is_healthy(call->first.file_cid())) return;
  const auto& [request, reply] = *call;
  const Manifest& manifest = world().healthy_manifest;
  OB_FUZZ_CHECK(reply.data().size() == manifest.params.block_size);
  ob::merkle::Proof proof{request.block(), manifest.stripe_count(), {}};
  for (const std::string& sibling : reply.siblings()) {
    OB_FUZZ_CHECK(sibling.size() == sizeof(ob::merkle::Hash));
    ob::merkle::Hash h{};
    std::copy(sibling.begin(), sibling.end(), h.begin());
    proof.siblings.push_back(h);
  }
  const ob::merkle::Hash leaf = ob::merkle::block_root(ob::as_bytes(reply.data()));
  OB_FUZZ_CHECK(ob::merkle::verify(manifest.slot_roots.at(request.slot()), leaf, proof));
}

void blocks(std::string_view payload) {
  FakeStream stream;
  ob::fuzz::FrameReader wants(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
  std::size_t cancel_after = SIZE_MAX;  // wants read before the peer cancels
  std::string first_cid;
  for (ob::fuzz::Frame frame; wants.next(frame);) {
    pb::BlocksWant want;
    if (!want.ParseFromArray(frame.payload.data(), static_cast<int>(frame.payload.size()))) continue;
    resolve_cid(*want.mutable_file_cid());
    if (stream.wants.empty()) first_cid = want.file_cid();
    stream.wants.push_back(std::move(want));
    if (frame.arg == 1 && cancel_after == SIZE_MAX) cancel_after = stream.wants.size();
  }
  const std::deque<pb::BlocksWant> sent = stream.wants;
  const auto cancelled = [&] { return sent.size() - stream.wants.size() >= cancel_after; };
  const grpc::Status status = world().service->serve_blocks(cancelled, stream);
  check_status(status, first_cid);
  // The batches answer the wants read, in order, with whole blocks of the slot asked for.
  const std::size_t read = sent.size() - stream.wants.size();
  std::size_t w = 0;
  std::uint64_t next = read > 0 ? sent[0].first() : 0;
  for (const pb::BlockBatch& batch : stream.batches) {
    while (w < read && next == sent[w].first() + sent[w].count()) {
      ++w;
      if (w < read) next = sent[w].first();
    }
    OB_FUZZ_CHECK(w < read);
    OB_FUZZ_CHECK(batch.slot() == sent[w].slot() && batch.first() == next);
    if (!is_healthy(first_cid)) {
      // The damaged file's blocks are 4096 bytes too; their contents are not checked.
      OB_FUZZ_CHECK(batch.data().size() % 4096 == 0 && !batch.data().empty());
      next = batch.first() + batch.data().size() / 4096;
      continue;
    }
    const std::size_t block_size = world().healthy_manifest.params.block_size;
    OB_FUZZ_CHECK(!batch.data().empty() && batch.data().size() % block_size == 0);
    const auto& roots = world().healthy_roots.at(batch.slot());
    for (std::size_t b = 0; b < batch.data().size() / block_size; ++b) {
      const auto block = ob::as_bytes(std::string_view(batch.data()).substr(b * block_size, block_size));
      OB_FUZZ_CHECK(ob::merkle::block_root(block) == roots.at(batch.first() + b));
    }
    next = batch.first() + batch.data().size() / block_size;
  }
  if (status.ok()) OB_FUZZ_CHECK(stream.wants.empty());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // it would log every message it cannot parse
  world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ob::fuzz::FrameReader frames(data, size);
  for (ob::fuzz::Frame frame; frames.next(frame);) {
    switch (frame.op % 5) {
      case 0: have(frame.payload); break;
      case 1: get_manifest(frame.payload); break;
      case 2: get_slot_index(frame.payload); break;
      case 3: prove(frame.payload); break;
      default: blocks(frame.payload); break;
    }
  }
  return 0;
}
