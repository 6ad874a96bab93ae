#include "exchange/fetcher.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <optional>

#include "coding/erasure.h"
#include "coding/manifest.h"
#include "coding/merkle.h"
#include "exchange/exchange_service.h"
#include "proto/p2p.grpc.pb.h"

namespace ob::exchange {

namespace pb = openbucket::p2p::v1;

PeerClient PeerClient::connect(const net::PeerId& peer, const std::string& address, const net::TlsIdentity& local) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(64 * 1024);
  // The server's certificate names its peer ID (net/tls.h); using it as the TLS server name keeps
  // gRPC from matching it against the address. The identity check itself is the verifier's.
  args.SetSslTargetNameOverride(peer.to_string());
  PeerClient client;
  client.address_ = address;
  client.stub_ = pb::BlockExchange::NewStub(grpc::CreateCustomChannel(address, net::channel_credentials(local, peer), args));
  return client;
}

namespace {

std::unique_ptr<grpc::ClientContext> context_with(const FetchOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + options.deadline);
  return context;
}

Error peer_error(const PeerClient& peer, std::string_view what, const grpc::Status& status) {
  return Error{Errc::io, peer.address() + ": " + std::string(what) + ": " + status.error_message() + " (" +
                             std::to_string(static_cast<int>(status.error_code())) + ")"};
}

/// One slot being read: its verified index and the peers that hold it, best first.
struct SlotPlan {
  std::uint32_t slot;
  std::vector<std::size_t> peers;  // indices into the peer list, not yet dropped for this slot
  std::vector<merkle::Hash> roots;
};

struct Fetch {
  const Cid& cid;
  const std::vector<PeerClient>& peers;
  const FetchOptions& options;
  std::string cid_bytes;
  Manifest manifest;
  std::vector<std::vector<std::size_t>> holders;  // per slot: peers that have it
  std::vector<bool> dropped;                      // per peer
  FetchReport report;

  void drop(std::size_t peer, const std::string& reason) {
    if (!dropped[peer]) {
      dropped[peer] = true;
      report.dropped.push_back(reason);
    }
  }

  // Reads a slot's whole index from `peer` and checks it against the manifest's slot root.
  Result<std::vector<merkle::Hash>> fetch_index(std::size_t peer, std::uint32_t slot) {
    const std::uint64_t stripes = manifest.stripe_count();
    std::vector<merkle::Hash> roots;
    roots.reserve(stripes);
    merkle::RootBuilder tree;
    for (std::uint64_t first = 0; first < stripes; first += kMaxIndexRootsPerCall) {
      pb::SlotIndexRequest request;
      request.set_file_cid(cid_bytes);
      request.set_slot(slot);
      request.set_first(first);
      request.set_count(static_cast<std::uint32_t>(std::min<std::uint64_t>(kMaxIndexRootsPerCall, stripes - first)));
      pb::SlotIndexReply reply;
      auto context = context_with(options);
      const grpc::Status status = peers[peer].stub().GetSlotIndex(context.get(), request, &reply);
      if (!status.ok()) return std::unexpected(peer_error(peers[peer], "slot index", status));
      if (reply.roots().size() != std::size_t{request.count()} * sizeof(merkle::Hash)) {
        return fail(Errc::corrupt, peers[peer].address(), ": slot ", slot, " index reply has the wrong size");
      }
      for (std::size_t e = 0; e < request.count(); ++e) {
        merkle::Hash root;
        std::memcpy(root.data(), reply.roots().data() + e * root.size(), root.size());
        tree.add(root);
        roots.push_back(root);
      }
    }
    auto root = tree.root();
    if (!root || *root != manifest.slot_roots[slot]) {
      return fail(Errc::corrupt, peers[peer].address(), ": slot ", slot, " index does not match the manifest");
    }
    return roots;
  }

  // Plans the next readable slot after `next_slot`, fetching and checking its index.
  std::optional<SlotPlan> plan_next(std::uint32_t& next_slot) {
    while (next_slot < manifest.params.n()) {
      const std::uint32_t slot = next_slot++;
      SlotPlan plan{slot, {}, {}};
      for (std::size_t p : holders[slot]) {
        if (!dropped[p]) plan.peers.push_back(p);
      }
      while (!plan.peers.empty()) {
        auto roots = fetch_index(plan.peers.front(), slot);
        if (roots) {
          plan.roots = std::move(*roots);
          return plan;
        }
        drop(plan.peers.front(), roots.error().message);
        plan.peers.erase(plan.peers.begin());
      }
    }
    return std::nullopt;
  }

  // Streams blocks [first, first + count) of a slot from its first peer into `out` and checks
  // each against its root.
  Result<void> fetch_window(const SlotPlan& plan, std::uint64_t first, std::uint32_t count, Bytes& out) {
    const std::size_t peer = plan.peers.front();
    const std::size_t block_size = manifest.params.block_size;
    pb::BlocksRequest request;
    request.set_file_cid(cid_bytes);
    request.set_slot(plan.slot);
    request.set_first(first);
    request.set_count(count);
    auto context = context_with(options);
    auto reader = peers[peer].stub().GetBlocks(context.get(), request);
    pb::Block block;
    std::uint32_t received = 0;
    while (received < count && reader->Read(&block)) {
      const std::uint64_t j = first + received;
      if (block.index() != j || block.data().size() != block_size) {
        context->TryCancel();
        return fail(Errc::corrupt, peers[peer].address(), ": sent block ", block.index(), " of ",
                    block.data().size(), " bytes, expected block ", j);
      }
      const ByteView data = as_bytes(block.data());
      if (merkle::block_root(data) != plan.roots[j]) {
        context->TryCancel();
        return fail(Errc::corrupt, peers[peer].address(), ": sent a wrong block ", j, " of slot ", plan.slot);
      }
      std::memcpy(out.data() + std::size_t{received} * block_size, data.data(), block_size);
      ++received;
    }
    const grpc::Status status = reader->Finish();
    if (received < count) {
      return std::unexpected(peer_error(peers[peer], "blocks", status.ok() ? grpc::Status(grpc::StatusCode::DATA_LOSS, "stream ended early") : status));
    }
    return {};
  }
};

}  // namespace

Result<FetchReport> fetch_file(const Cid& cid, const std::vector<PeerClient>& peers, BlockStore& blocks,
                               SlotStore& slots, const FetchOptions& options, const Progress& progress) {
  if (options.window == 0 || options.window > kMaxBlocksPerCall) {
    return fail(Errc::invalid_argument, "window must be 1..", kMaxBlocksPerCall);
  }
  OB_TRY(bool have_manifest, blocks.has(cid));
  if (have_manifest && slots.has_file(cid)) {
    FetchReport local;
    local.already_local = true;
    return local;
  }

  Fetch f{cid, peers, options, std::string(as_chars(cid.to_bytes())), {}, {}, std::vector<bool>(peers.size()), {}};

  // 1. Who has what.
  std::vector<std::vector<std::uint32_t>> peer_slots(peers.size());
  std::vector<std::size_t> with_manifest;
  for (std::size_t p = 0; p < peers.size(); ++p) {
    pb::HaveRequest request;
    request.set_file_cid(f.cid_bytes);
    pb::HaveReply reply;
    auto context = context_with(options);
    const grpc::Status status = peers[p].stub().Have(context.get(), request, &reply);
    if (!status.ok()) {
      f.drop(p, peer_error(peers[p], "have", status).message);
      continue;
    }
    if (reply.has_manifest()) with_manifest.push_back(p);
    peer_slots[p].assign(reply.slots().begin(), reply.slots().end());
  }

  // 2. The manifest, from whoever has it; its CID is its check.
  Bytes manifest_bytes;
  for (std::size_t p : with_manifest) {
    pb::ManifestRequest request;
    request.set_file_cid(f.cid_bytes);
    pb::ManifestReply reply;
    auto context = context_with(options);
    const grpc::Status status = peers[p].stub().GetManifest(context.get(), request, &reply);
    if (!status.ok()) {
      f.drop(p, peer_error(peers[p], "manifest", status).message);
      continue;
    }
    const ByteView bytes = as_bytes(reply.manifest());
    auto decoded = Manifest::decode(bytes);
    if (Manifest::cid_of(bytes) != cid || !decoded) {
      f.drop(p, peers[p].address() + ": sent a manifest that does not match the CID");
      continue;
    }
    f.manifest = std::move(*decoded);
    manifest_bytes.assign(bytes.begin(), bytes.end());
    break;
  }
  if (manifest_bytes.empty()) {
    return fail(Errc::not_found, "no peer could provide file ", cid.to_string());
  }
  const CodingParams& params = f.manifest.params;
  f.holders.resize(params.n());
  for (std::size_t p = 0; p < peers.size(); ++p) {
    for (std::uint32_t s : peer_slots[p]) {
      if (s < params.n()) f.holders[s].push_back(p);
    }
  }

  // 3. k slots to read, data slots first.
  std::uint32_t next_slot = 0;
  std::vector<SlotPlan> plans;
  while (plans.size() < params.k) {
    auto plan = f.plan_next(next_slot);
    if (!plan) break;
    plans.push_back(std::move(*plan));
  }
  auto not_enough = [&] {
    std::string why;
    for (const std::string& d : f.report.dropped) why += "; " + d;
    return fail(Errc::unrecoverable, "only ", plans.size(), " of the ", params.k, " slots needed for ",
                cid.to_string(), " could be read from ", peers.size(), " peer(s)", why);
  };
  if (plans.size() < params.k) return not_enough();

  // 4. Windows of stripes.
  OB_TRY(SlotSetWriter writer, slots.begin(params.n(), params.block_size));
  OB_TRY(ErasureCoder coder, ErasureCoder::make(params.k, params.m));
  std::vector<merkle::RootBuilder> trees(params.n());
  const std::size_t block_size = params.block_size;
  const std::uint64_t stripes = f.manifest.stripe_count();
  std::vector<Bytes> window_data(params.k, Bytes(std::size_t{options.window} * block_size));
  std::vector<Bytes> rebuilt(params.n(), Bytes(block_size));
  f.report.stripes = stripes;

  for (std::uint64_t first = 0; first < stripes; first += options.window) {
    const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(options.window, stripes - first));
    std::vector<bool> done(plans.size(), false);
    for (;;) {
      // A slot whose every peer was dropped is replaced by the next readable slot. Only between
      // rounds: while a round runs, its tasks hold references into `plans`.
      for (std::size_t c = 0; c < plans.size(); ++c) {
        std::erase_if(plans[c].peers, [&](std::size_t p) { return f.dropped[p]; });
        if (done[c] || !plans[c].peers.empty()) continue;
        auto replacement = f.plan_next(next_slot);
        if (!replacement) {
          plans.erase(plans.begin() + static_cast<std::ptrdiff_t>(c));
          return not_enough();
        }
        // The writer already has this slot's earlier windows (rebuilt from the others), so the
        // replacement is read from this window on.
        plans[c] = std::move(*replacement);
      }
      std::vector<std::future<Result<void>>> pending(plans.size());
      for (std::size_t c = 0; c < plans.size(); ++c) {
        if (!done[c]) {
          pending[c] = std::async(std::launch::async, [&f, &plan = plans[c], &out = window_data[c], first, count] {
            return f.fetch_window(plan, first, count, out);
          });
        }
      }
      bool all_done = true;
      for (std::size_t c = 0; c < plans.size(); ++c) {
        if (done[c]) continue;
        auto ok = pending[c].get();
        if (ok) {
          done[c] = true;
          f.report.bytes_received += std::uint64_t{count} * block_size;
        } else {
          all_done = false;
          f.drop(plans[c].peers.front(), ok.error().message);  // failed, timed out or lied
        }
      }
      if (all_done) break;
    }

    // 5. Rebuild the slots not read and append every slot's blocks.
    for (std::uint32_t w = 0; w < count; ++w) {
      std::uint8_t* ptrs[protocol::kMaxSlots];
      bool present[protocol::kMaxSlots] = {};
      for (std::uint32_t i = 0; i < params.n(); ++i) ptrs[i] = rebuilt[i].data();
      for (std::size_t c = 0; c < plans.size(); ++c) {
        ptrs[plans[c].slot] = window_data[c].data() + std::size_t{w} * block_size;
        present[plans[c].slot] = true;
      }
      OB_TRY_VOID(coder.decode({ptrs, params.n()}, {present, params.n()}, block_size));
      const merkle::Hash* known[protocol::kMaxSlots] = {};
      for (const SlotPlan& plan : plans) known[plan.slot] = &plan.roots[first + w];
      for (std::uint32_t i = 0; i < params.n(); ++i) {
        const ByteView block(ptrs[i], block_size);
        // Blocks read were checked against their roots on arrival; only rebuilt ones are hashed.
        const merkle::Hash root = known[i] != nullptr ? *known[i] : merkle::block_root(block);
        OB_TRY_VOID(writer.append(i, block, root));
        trees[i].add(root);
      }
    }
    if (progress) progress((first + count) * params.stripe_plaintext_size(), stripes * params.stripe_plaintext_size());
  }

  // 6. Every slot, read or rebuilt, must match the manifest before anything is published.
  for (std::uint32_t i = 0; i < params.n(); ++i) {
    OB_TRY(merkle::Hash root, trees[i].root());
    if (root != f.manifest.slot_roots[i]) {
      return fail(Errc::corrupt, "rebuilt slot ", i, " of ", cid.to_string(), " does not match the manifest");
    }
  }
  for (const SlotPlan& plan : plans) f.report.slots_read.push_back(plan.slot);
  OB_TRY_VOID(writer.commit(cid));
  if (auto ok = blocks.put(cid, manifest_bytes); !ok) {
    (void)slots.remove(cid);
    return std::unexpected(ok.error());
  }
  return f.report;
}

// Placeholders until the slot-level fetch and the audit land (issue 4).
Result<FetchReport> fetch_slots(const Cid&, std::span<const std::uint32_t>, const std::vector<PeerClient>&, BlockStore&,
                                SlotStore&, const FetchOptions&, const Progress&) {
  return fail(Errc::internal, "fetch_slots is not implemented yet");
}

Result<void> audit_slot(const PeerClient&, const Cid&, const Manifest&, std::uint32_t, std::uint64_t,
                        std::chrono::milliseconds) {
  return fail(Errc::internal, "audit_slot is not implemented yet");
}

}  // namespace ob::exchange
