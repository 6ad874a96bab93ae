// Fuzz target: proto/tracker.proto requests into the Tracker's handlers (the Market, Producer
// and Consumer services minus gRPC), with a fake clock, an in-memory SQLite database and a fake
// auditor. Each input is a fresh tracker and a sequence of frames (frames.h):
//
//   op  0 RegisterFile   1 CheckHolders   2 ListFiles     3 RemoveFile     4 EditFile
//       5 RegisterConsumer 6 Heartbeat    7 ReportSlots   8 ReconcileSlots 9 ConsumerStatus
//      10 ListConsumers  11 time passes (arg x 100 ms), then maintain()
//      12 audit_round(): the payload's bytes are the challenges' outcomes in turn
//         (byte % 5: 0 a valid proof, 1 a wrong one, 2 not held, 3 no answer, 4 no outcome)
//      13 gauges()
//   arg  the caller, one of 4 fixed peers (arg % 4), for ops 0..9
//
// The payload is the request message. To let the fuzzer reach deep states without guessing
// SHA-256s, a file_id of exactly one character stands for the file registered that many
// registrations ago (its byte modulo the files so far), and a RegisterFile manifest of exactly
// one byte for one of three valid manifests (k=2 m=1, k=3 m=2, k=1 m=0).
//
// Beyond "no crash, no sanitizer report, no leak", it checks what issue 15 promises:
//   - no INTERNAL status (the database is in memory: a failure is a bug), no UNAUTHENTICATED;
//   - a slot counts (CheckHolders says stored) only when its consumer answered a challenge of
//     that slot with a valid proof: nothing a consumer says makes it count;
//   - ListFiles is consistent: slots_stored <= k + m, and actual availability is
//     max(0, slots_stored - k + 1).

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "coding/manifest.h"
#include "core/protocol.h"
#include "frames.h"
#include "fuzz_check.h"
#include "net/identity.h"
#include "tracker/tracker_service.h"

namespace {

namespace pb = openbucket::tracker::v1;
using ob::Bytes;
using ob::Manifest;

constexpr std::int64_t kStart = 1'700'000'000'000;
constexpr int kPeers = 4;

std::vector<ob::net::PeerId>& peers() {
  static std::vector<ob::net::PeerId>* out = [] {
    auto* ids = new std::vector<ob::net::PeerId>;
    for (int i = 0; i < kPeers; ++i) {
      Bytes seed(32, static_cast<std::uint8_t>(i + 1));
      ids->push_back(ob::net::Identity::from_seed(seed).value().peer_id());
    }
    return ids;
  }();
  return *out;
}

Bytes make_manifest(std::uint32_t k, std::uint32_t m, std::uint8_t seed) {
  Manifest manifest;
  manifest.original_size = 100'000;
  manifest.params = {k, m, 65536};
  manifest.key = {Bytes(ob::protocol::kFileKeySaltSize, seed), Bytes(ob::protocol::kNonceSize, seed),
                  Bytes(ob::protocol::kKeySize + ob::protocol::kTagSize, seed)};
  for (std::uint32_t i = 0; i < k + m; ++i) {
    ob::merkle::Hash root{};
    root.fill(static_cast<std::uint8_t>(seed * 16 + i));
    manifest.slot_roots.push_back(root);
  }
  manifest.encrypted_metadata = Bytes(ob::protocol::kTagSize + 8, seed);
  return manifest.encode();
}

const std::vector<Bytes>& manifests() {
  static const std::vector<Bytes> out{make_manifest(2, 1, 1), make_manifest(3, 2, 2), make_manifest(1, 0, 3)};
  return out;
}

/// One input's tracker and what the target knows of it.
struct Run {
  std::int64_t now = kStart;
  std::unique_ptr<ob::tracker::Tracker> tracker;
  std::vector<std::string> files;  // IDs registered, oldest first
  /// (consumer, file, slot) whose challenge the fake auditor answered with a valid proof.
  /// Guarded by `mutex`: audit_round challenges consumers on parallel threads.
  std::set<std::tuple<std::string, std::string, std::uint32_t>> proven;
  std::mutex mutex;
};

void resolve_file(const Run& run, std::string& file_id) {
  if (file_id.size() != 1 || run.files.empty()) return;
  file_id = run.files[run.files.size() - 1 - static_cast<std::uint8_t>(file_id[0]) % run.files.size()];
}

void check_status(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::INTERNAL || status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    std::fprintf(stderr, "unexpected status %d: %s\n", static_cast<int>(status.error_code()),
                 status.error_message().c_str());
    OB_FUZZ_CHECK(false);
  }
}

template <typename Message>
bool parse(std::string_view payload, Message& message) {
  return message.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

/// The invariants every state must keep, read through the services.
void check_invariants(Run& run) {
  for (const std::string& file_id : run.files) {
    pb::CheckHoldersRequest request;
    request.set_file_id(file_id);
    pb::CheckHoldersReply reply;
    const grpc::Status status = run.tracker->check_holders(peers()[0], request, &reply);
    check_status(status);
    if (!status.ok()) continue;
    for (const pb::SlotHolder& holder : reply.holders()) {
      if (!holder.stored()) continue;
      if (!run.proven.contains({holder.consumer().peer_id(), file_id, holder.slot()})) {
        std::fprintf(stderr, "slot %u of %s counts on %s without a valid proof\n", holder.slot(), file_id.c_str(),
                     holder.consumer().peer_id().c_str());
        OB_FUZZ_CHECK(false);
      }
    }
  }
  for (const ob::net::PeerId& peer : peers()) {
    pb::ListFilesRequest request;
    pb::ListFilesReply reply;
    check_status(run.tracker->list_files(peer, request, &reply));
    for (const pb::FileInfo& file : reply.files()) {
      OB_FUZZ_CHECK(file.slots_stored() <= file.k() + file.m());
      const std::uint32_t actual = file.slots_stored() >= file.k() ? file.slots_stored() - file.k() + 1 : 0;
      OB_FUZZ_CHECK(file.actual_availability() == actual);
    }
  }
}

void register_file(Run& run, const ob::net::PeerId& caller, std::string_view payload) {
  pb::RegisterFileRequest request;
  if (!parse(payload, request)) return;
  if (request.manifest().size() == 1) {
    const Bytes& m = manifests()[static_cast<std::uint8_t>(request.manifest()[0]) % manifests().size()];
    request.set_manifest(std::string(m.begin(), m.end()));
  }
  pb::RegisterFileReply reply;
  const grpc::Status status = run.tracker->register_file(caller, request, &reply);
  check_status(status);
  if (status.ok()) {
    OB_FUZZ_CHECK(reply.file_id() == Manifest::cid_of(ob::as_bytes(request.manifest())).to_string());
    if (std::find(run.files.begin(), run.files.end(), reply.file_id()) == run.files.end()) {
      run.files.push_back(reply.file_id());
    }
  }
}

ob::tracker::Auditor fake_auditor(Run& run, std::string_view outcomes) {
  auto next = std::make_shared<std::atomic<std::size_t>>(0);
  return [&run, outcomes, next](const ob::net::PeerId& consumer, const std::vector<std::string>&,
                                const ob::Cid& file, const Manifest&, std::uint32_t slot,
                                std::uint64_t) -> ob::Result<void> {
    const int outcome = outcomes.empty() ? 0 : static_cast<std::uint8_t>(outcomes[(*next)++ % outcomes.size()]) % 5;
    switch (outcome) {
      case 0: {
        std::lock_guard lock(run.mutex);
        run.proven.insert({consumer.to_string(), file.to_string(), slot});
        return {};
      }
      case 1: return ob::fail(ob::Errc::corrupt, "wrong proof");
      case 2: return ob::fail(ob::Errc::not_found, "not held");
      case 3: return ob::fail(ob::Errc::io, "no answer");
      default: return ob::fail(ob::Errc::internal, "the auditor could not run");
    }
  };
}

/// Parses a request from `payload`, lets `prepare` put known file IDs in it, calls `handler`
/// (the Tracker's method for it) and checks the status.
template <typename Request, typename Reply, typename Prepare, typename Handler>
void call(std::string_view payload, Prepare&& prepare, Handler&& handler) {
  Request request;
  if (!parse(payload, request)) return;
  prepare(request);
  Reply reply;
  check_status(handler(request, &reply));
}

void step(Run& run, const ob::fuzz::Frame& frame) {
  using Tracker = ob::tracker::Tracker;
  const ob::net::PeerId& caller = peers()[frame.arg % kPeers];
  Tracker& t = *run.tracker;
  const std::string_view payload = frame.payload;
  const auto as_is = [](auto&) {};
  const auto by_file_id = [&run](auto& request) { resolve_file(run, *request.mutable_file_id()); };
  const auto by_file_ids = [&](auto* items) {  // a list of reports or held slots
    for (auto& item : *items) by_file_id(item);
  };
  // The Tracker's method for a request, called by `caller`.
  const auto method = [&](auto member) {
    return [&t, &caller, member](const auto& request, auto* reply) { return (t.*member)(caller, request, reply); };
  };
  switch (frame.op % 14) {
    case 0: register_file(run, caller, payload); break;
    case 1: call<pb::CheckHoldersRequest, pb::CheckHoldersReply>(payload, by_file_id, method(&Tracker::check_holders)); break;
    case 2: call<pb::ListFilesRequest, pb::ListFilesReply>(payload, by_file_id, method(&Tracker::list_files)); break;
    case 3: call<pb::RemoveFileRequest, pb::RemoveFileReply>(payload, by_file_id, method(&Tracker::remove_file)); break;
    case 4: call<pb::EditFileRequest, pb::EditFileReply>(payload, by_file_id, method(&Tracker::edit_file)); break;
    case 5:
      call<pb::RegisterConsumerRequest, pb::RegisterConsumerReply>(payload, as_is, method(&Tracker::register_consumer));
      break;
    case 6: call<pb::HeartbeatRequest, pb::HeartbeatReply>(payload, as_is, method(&Tracker::heartbeat)); break;
    case 7:
      call<pb::ReportSlotsRequest, pb::ReportSlotsReply>(
          payload, [&](pb::ReportSlotsRequest& r) { by_file_ids(r.mutable_reports()); }, method(&Tracker::report_slots));
      break;
    case 8:
      call<pb::ReconcileSlotsRequest, pb::ReconcileSlotsReply>(
          payload, [&](pb::ReconcileSlotsRequest& r) { by_file_ids(r.mutable_slots()); },
          method(&Tracker::reconcile_slots));
      break;
    case 9: {
      pb::ConsumerStatusReply reply;
      check_status(t.consumer_status(caller, &reply));
      break;
    }
    case 10: {
      pb::ListConsumersReply reply;
      check_status(t.list_consumers(&reply));
      break;
    }
    case 11: {
      run.now += std::int64_t{frame.arg} * 100;
      auto ok = t.maintain();
      if (!ok) std::fprintf(stderr, "maintain: %s\n", ok.error().message.c_str());
      OB_FUZZ_CHECK(ok.has_value());
      break;
    }
    case 12: {
      auto round = t.audit_round(fake_auditor(run, payload));
      if (!round) std::fprintf(stderr, "audit_round: %s\n", round.error().message.c_str());
      OB_FUZZ_CHECK(round.has_value());
      break;
    }
    default: {
      auto gauges = t.gauges();
      OB_FUZZ_CHECK(gauges.has_value());
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // the tracker logs every refusal; the fuzzer needs none
  // protobuf logs every message it refuses to parse (a string field that is not UTF-8): the
  // target skips those, as gRPC refuses them before the handler.
  google::protobuf::SetLogHandler(nullptr);
  peers();
  manifests();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Run run;
  ob::tracker::TrackerSettings settings;
  settings.heartbeat_interval = std::chrono::milliseconds(1000);
  settings.offline_after = std::chrono::milliseconds(3000);
  settings.store_timeout = std::chrono::milliseconds(5000);
  settings.store_min_bytes_per_second = 1'000'000;
  settings.audit_interval = std::chrono::milliseconds(2000);
  settings.unanswered_after = std::chrono::milliseconds(4000);
  settings.challenges_per_round = 16;
  settings.audit_deadline = std::chrono::milliseconds(1000);
  settings.clock = [&run] { return run.now; };
  auto tracker = ob::tracker::Tracker::open(":memory:", std::move(settings));
  if (!tracker) std::fprintf(stderr, "open: %s\n", tracker.error().message.c_str());
  OB_FUZZ_CHECK(tracker.has_value());
  run.tracker = std::move(*tracker);

  ob::fuzz::FrameReader frames(data, size);
  for (ob::fuzz::Frame frame; frames.next(frame);) {
    step(run, frame);
    check_invariants(run);
  }
  return 0;
}
