#include "exchange/fetcher.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <iterator>
#include <optional>
#include <string>

#include "coding/erasure.h"
#include "coding/manifest.h"
#include "coding/merkle.h"
#include "core/metrics.h"
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

metrics::Counter& fetched_bytes() {
  static metrics::Counter& c =
      metrics::counter("ob_exchange_bytes_fetched_total", "Bytes of verified blocks received from peers.");
  return c;
}


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

/// One transfer, shared by fetch_file and fetch_slots: which peers hold what, the manifest, and
/// the slots to produce (`wanted`). Two ways to produce them:
///   copy:    every wanted slot is read from a peer that holds it (at most k of them);
///   rebuild: k slots are read (wanted ones first, then data slots, then parity) and the wanted
///            slots not among them are rebuilt with Reed-Solomon.
/// A transfer starts as copy when at most k slots are wanted, and switches to rebuild, from the
/// current window on, as soon as a wanted slot cannot be read from any peer.
struct Fetch {
  const Cid& cid;
  const std::vector<PeerClient>& peers;
  const FetchOptions& options;
  std::string cid_bytes;
  Manifest manifest;
  Bytes manifest_bytes;
  std::vector<std::vector<std::size_t>> holders;  // per slot: peers that have it
  std::vector<bool> dropped;                      // per peer
  std::vector<std::size_t> load;                  // per peer: slots planned with it first
  std::vector<bool> wanted;                       // per slot
  std::vector<std::uint32_t> candidates;          // slots to read, in order of preference
  std::size_t next_candidate = 0;
  bool rebuild = false;
  FetchReport report;

  Fetch(const Cid& c, const std::vector<PeerClient>& p, const FetchOptions& o)
      : cid(c), peers(p), options(o), cid_bytes(as_chars(c.to_bytes())), dropped(p.size()), load(p.size()) {}

  void drop(std::size_t peer, const std::string& reason) {
    if (!dropped[peer]) {
      dropped[peer] = true;
      report.dropped.push_back(reason);
      static metrics::Counter& drops =
          metrics::counter("ob_exchange_peers_dropped_total", "Peers dropped from a transfer (failed, timed out or sent a wrong block).");
      drops.add();
    }
  }

  // 1. Have() on every peer, then 2. the manifest: `local` if given (already checked when it
  // was stored), else from the first peer that has it, checked against the CID.
  Result<void> discover(std::optional<Bytes> local) {
    std::vector<std::vector<std::uint32_t>> peer_slots(peers.size());
    std::vector<std::size_t> with_manifest;
    for (std::size_t p = 0; p < peers.size(); ++p) {
      pb::HaveRequest request;
      request.set_file_cid(cid_bytes);
      pb::HaveReply reply;
      auto context = context_with(options);
      const grpc::Status status = peers[p].stub().Have(context.get(), request, &reply);
      if (!status.ok()) {
        drop(p, peer_error(peers[p], "have", status).message);
        continue;
      }
      if (reply.has_manifest()) with_manifest.push_back(p);
      peer_slots[p].assign(reply.slots().begin(), reply.slots().end());
    }
    if (local) {
      OB_TRY(manifest, Manifest::decode(*local));
      manifest_bytes = std::move(*local);
    }
    for (std::size_t p : with_manifest) {
      if (!manifest_bytes.empty()) break;
      pb::ManifestRequest request;
      request.set_file_cid(cid_bytes);
      pb::ManifestReply reply;
      auto context = context_with(options);
      const grpc::Status status = peers[p].stub().GetManifest(context.get(), request, &reply);
      if (!status.ok()) {
        drop(p, peer_error(peers[p], "manifest", status).message);
        continue;
      }
      const ByteView bytes = as_bytes(reply.manifest());
      auto decoded = Manifest::decode(bytes);
      if (Manifest::cid_of(bytes) != cid || !decoded) {
        drop(p, peers[p].address() + ": sent a manifest that does not match the CID");
        continue;
      }
      manifest = std::move(*decoded);
      manifest_bytes.assign(bytes.begin(), bytes.end());
    }
    if (manifest_bytes.empty()) return fail(Errc::not_found, "no peer could provide file ", cid.to_string());
    holders.assign(manifest.params.n(), {});
    for (std::size_t p = 0; p < peers.size(); ++p) {
      for (std::uint32_t s : peer_slots[p]) {
        if (s < manifest.params.n()) holders[s].push_back(p);
      }
    }
    return {};
  }

  // Sets the slots to produce (each < n) and the order in which slots are read.
  void want(std::span<const std::uint32_t> slots) {
    const std::uint32_t n = manifest.params.n();
    wanted.assign(n, false);
    for (std::uint32_t s : slots) wanted[s] = true;
    for (std::uint32_t s = 0; s < n; ++s) {
      if (wanted[s]) candidates.push_back(s);
    }
    for (std::uint32_t s = 0; s < n; ++s) {
      if (!wanted[s]) candidates.push_back(s);
    }
    rebuild = slots.size() > manifest.params.k;
  }

  std::size_t wanted_count() const { return static_cast<std::size_t>(std::count(wanted.begin(), wanted.end(), true)); }
  // How many slots are read at once.
  std::size_t sources() const { return rebuild ? manifest.params.k : wanted_count(); }

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

  // Plans the next readable candidate slot, fetching and checking its index. A wanted slot that
  // no peer can provide switches the transfer to rebuild.
  std::optional<SlotPlan> plan_next() {
    while (next_candidate < candidates.size()) {
      const std::uint32_t slot = candidates[next_candidate++];
      SlotPlan plan{slot, {}, {}};
      for (std::size_t p : holders[slot]) {
        if (!dropped[p]) plan.peers.push_back(p);
      }
      // Spread the slots over the peers: the least-loaded holder serves this one, the others
      // stand by in case it fails. Stable, so equal loads keep the peers' order.
      std::stable_sort(plan.peers.begin(), plan.peers.end(),
                       [&](std::size_t a, std::size_t b) { return load[a] < load[b]; });
      while (!plan.peers.empty()) {
        auto roots = fetch_index(plan.peers.front(), slot);
        if (roots) {
          plan.roots = std::move(*roots);
          ++load[plan.peers.front()];
          return plan;
        }
        drop(plan.peers.front(), roots.error().message);
        plan.peers.erase(plan.peers.begin());
      }
      if (wanted[slot]) rebuild = true;
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

  Error not_enough(std::size_t read) const {
    std::string why;
    for (const std::string& d : report.dropped) why += "; " + d;
    return Error{Errc::unrecoverable, "only " + std::to_string(read) + " of the " + std::to_string(manifest.params.k) +
                                          " slots needed for " + cid.to_string() + " could be read from " +
                                          std::to_string(peers.size()) + " peer(s)" + why};
  }

  // 3.-5. Reads the source slots in windows of stripes, in parallel, and appends every wanted
  // slot's blocks to `writer` (read or rebuilt); then checks each wanted slot's root against
  // the manifest. Memory: k windows of blocks and one stripe, plus the sources' indexes.
  Result<void> transfer(SlotSetWriter& writer, const Progress& progress) {
    const CodingParams& params = manifest.params;
    std::vector<SlotPlan> plans;
    while (plans.size() < sources()) {
      auto plan = plan_next();
      if (!plan) return std::unexpected(not_enough(plans.size()));
      plans.push_back(std::move(*plan));
    }

    OB_TRY(ErasureCoder coder, ErasureCoder::make(params.k, params.m));
    std::vector<merkle::RootBuilder> trees(params.n());
    const std::size_t block_size = params.block_size;
    const std::uint64_t stripes = manifest.stripe_count();
    std::vector<Bytes> window_data;  // one window per source, at most k
    std::vector<Bytes> rebuilt;      // one stripe, allocated when rebuilding
    report.stripes = stripes;

    for (std::uint64_t first = 0; first < stripes; first += options.window) {
      const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(options.window, stripes - first));
      std::vector<bool> done(plans.size(), false);
      for (;;) {
        // A slot whose every peer was dropped is replaced by the next readable slot (and the
        // transfer rebuilds from now on), then sources are added up to what the mode needs.
        // Only between rounds: while a round runs, its tasks hold references into `plans`.
        for (std::size_t c = 0; c < plans.size(); ++c) {
          std::erase_if(plans[c].peers, [&](std::size_t p) { return dropped[p]; });
          if (done[c] || !plans[c].peers.empty()) continue;
          rebuild = true;
          auto replacement = plan_next();
          if (!replacement) return std::unexpected(not_enough(plans.size() - 1));
          // The writer already has this slot's earlier windows, so the replacement is read
          // from this window on.
          plans[c] = std::move(*replacement);
        }
        while (plans.size() < sources()) {
          auto plan = plan_next();
          if (!plan) return std::unexpected(not_enough(plans.size()));
          plans.push_back(std::move(*plan));
          done.push_back(false);
        }
        while (window_data.size() < plans.size()) window_data.emplace_back(std::size_t{options.window} * block_size);

        std::vector<std::future<Result<void>>> pending(plans.size());
        for (std::size_t c = 0; c < plans.size(); ++c) {
          if (!done[c]) {
            pending[c] = std::async(std::launch::async, [this, &plan = plans[c], &out = window_data[c], first, count] {
              return fetch_window(plan, first, count, out);
            });
          }
        }
        bool all_done = true;
        for (std::size_t c = 0; c < plans.size(); ++c) {
          if (done[c]) continue;
          auto ok = pending[c].get();
          if (ok) {
            done[c] = true;
            report.bytes_received += std::uint64_t{count} * block_size;
            fetched_bytes().add(std::uint64_t{count} * block_size);
          } else {
            all_done = false;
            drop(plans[c].peers.front(), ok.error().message);  // failed, timed out or lied
          }
        }
        if (all_done) break;
      }

      // Rebuild what was not read (when rebuilding) and append every wanted slot's blocks.
      if (rebuild && rebuilt.empty()) rebuilt.assign(params.n(), Bytes(block_size));
      for (std::uint32_t w = 0; w < count; ++w) {
        std::uint8_t* ptrs[protocol::kMaxSlots] = {};
        bool present[protocol::kMaxSlots] = {};
        const merkle::Hash* known[protocol::kMaxSlots] = {};
        for (std::uint32_t i = 0; i < params.n() && rebuild; ++i) ptrs[i] = rebuilt[i].data();
        for (std::size_t c = 0; c < plans.size(); ++c) {
          ptrs[plans[c].slot] = window_data[c].data() + std::size_t{w} * block_size;
          present[plans[c].slot] = true;
          known[plans[c].slot] = &plans[c].roots[first + w];
        }
        if (rebuild) OB_TRY_VOID(coder.decode({ptrs, params.n()}, {present, params.n()}, block_size));
        for (std::uint32_t i = 0; i < params.n(); ++i) {
          if (!wanted[i]) continue;
          const ByteView block(ptrs[i], block_size);
          // Blocks read were checked against their roots on arrival; only rebuilt ones are hashed.
          const merkle::Hash root = known[i] != nullptr ? *known[i] : merkle::block_root(block);
          OB_TRY_VOID(writer.append(i, block, root));
          trees[i].add(root);
        }
      }
      if (progress) progress((first + count) * params.stripe_plaintext_size(), stripes * params.stripe_plaintext_size());
    }

    // Every wanted slot, read or rebuilt, must match the manifest before anything is published.
    for (std::uint32_t i = 0; i < params.n(); ++i) {
      if (!wanted[i]) continue;
      OB_TRY(merkle::Hash root, trees[i].root());
      if (root != manifest.slot_roots[i]) {
        return fail(Errc::corrupt, "rebuilt slot ", i, " of ", cid.to_string(), " does not match the manifest");
      }
    }
    for (const SlotPlan& plan : plans) report.slots_read.push_back(plan.slot);
    return {};
  }
};

Result<void> check_window(const FetchOptions& options) {
  if (options.window == 0 || options.window > kMaxBlocksPerCall) {
    return fail(Errc::invalid_argument, "window must be 1..", kMaxBlocksPerCall);
  }
  return {};
}

}  // namespace

Result<FetchReport> fetch_file(const Cid& cid, const std::vector<PeerClient>& peers, BlockStore& blocks,
                               SlotStore& slots, const FetchOptions& options, const Progress& progress) {
  OB_TRY_VOID(check_window(options));
  OB_TRY(bool have_manifest, blocks.has(cid));
  if (have_manifest && slots.has_file(cid)) {
    FetchReport local;
    local.already_local = true;
    return local;
  }
  Fetch f(cid, peers, options);
  OB_TRY_VOID(f.discover(std::nullopt));
  const CodingParams& params = f.manifest.params;
  std::vector<std::uint32_t> all(params.n());
  for (std::uint32_t i = 0; i < params.n(); ++i) all[i] = i;
  f.want(all);
  OB_TRY(SlotSetWriter writer, slots.begin(params.n(), params.block_size));
  OB_TRY_VOID(f.transfer(writer, progress));
  OB_TRY_VOID(writer.commit(cid));
  if (auto ok = blocks.put(cid, f.manifest_bytes); !ok) {
    (void)slots.remove(cid);
    return std::unexpected(ok.error());
  }
  return f.report;
}

Result<FetchReport> fetch_slots(const Cid& cid, std::span<const std::uint32_t> wanted,
                                const std::vector<PeerClient>& peers, BlockStore& blocks, SlotStore& slots,
                                const FetchOptions& options, const Progress& progress) {
  OB_TRY_VOID(check_window(options));
  if (wanted.empty()) return fail(Errc::invalid_argument, "no slot wanted");
  std::vector<std::uint32_t> sorted(wanted.begin(), wanted.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  if (sorted.back() >= protocol::kMaxSlots) return fail(Errc::invalid_argument, "slot ", sorted.back(), " is out of range");
  // Slots already here are left as they are.
  std::vector<std::uint32_t> missing;
  std::ranges::set_difference(sorted, slots.slots_of(cid), std::back_inserter(missing));

  std::optional<Bytes> local_manifest;
  auto stored = blocks.get(cid);
  if (stored) {
    local_manifest = std::move(*stored);
  } else if (stored.error().code != Errc::not_found) {
    return std::unexpected(stored.error());
  }
  if (local_manifest && missing.empty()) {
    OB_TRY(Manifest manifest, Manifest::decode(*local_manifest));
    if (sorted.back() >= manifest.params.n()) {
      return fail(Errc::invalid_argument, "slot ", sorted.back(), " is out of range: the file has ", manifest.params.n());
    }
    FetchReport local;
    local.already_local = true;
    return local;
  }

  Fetch f(cid, peers, options);
  OB_TRY_VOID(f.discover(std::move(local_manifest)));
  const CodingParams& params = f.manifest.params;
  if (sorted.back() >= params.n()) {
    return fail(Errc::invalid_argument, "slot ", sorted.back(), " is out of range: the file has ", params.n());
  }
  if (!missing.empty()) {
    f.want(missing);
    OB_TRY(SlotSetWriter writer, slots.begin_slots(missing, params.block_size));
    OB_TRY_VOID(f.transfer(writer, progress));
    OB_TRY_VOID(writer.commit(cid));
  }
  // The manifest last: a consumer must serve GetManifest for the slots it holds.
  if (auto ok = blocks.put(cid, f.manifest_bytes); !ok) {
    for (std::uint32_t i : missing) (void)slots.remove_slot(cid, i);
    return std::unexpected(ok.error());
  }
  return f.report;
}

Result<void> audit_slot(const PeerClient& peer, const Cid& cid, const Manifest& manifest, std::uint32_t slot,
                        std::uint64_t block, std::chrono::milliseconds deadline) {
  if (Manifest::cid_of(manifest.encode()) != cid) {
    return fail(Errc::invalid_argument, "the manifest given is not the one of ", cid.to_string());
  }
  if (slot >= manifest.params.n()) {
    return fail(Errc::invalid_argument, "slot ", slot, " is out of range: the file has ", manifest.params.n());
  }
  const std::uint64_t stripes = manifest.stripe_count();
  if (block >= stripes) {
    return fail(Errc::invalid_argument, "block ", block, " is out of range: a slot has ", stripes);
  }
  pb::ProveRequest request;
  request.set_file_cid(std::string(as_chars(cid.to_bytes())));
  request.set_slot(slot);
  request.set_block(block);
  pb::ProveReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  const grpc::Status status = peer.stub().Prove(&context, request, &reply);
  if (!status.ok()) {
    switch (status.error_code()) {
      case grpc::StatusCode::NOT_FOUND:
        return fail(Errc::not_found, peer.address(), " does not hold slot ", slot, " of ", cid.to_string());
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::CANCELLED:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
      case grpc::StatusCode::UNIMPLEMENTED:
        return std::unexpected(peer_error(peer, "prove", status));
      default:
        // A well-formed challenge it could not answer: what it holds is not what it should.
        return fail(Errc::corrupt, peer.address(), ": cannot prove block ", block, " of slot ", slot, ": ",
                    status.error_message());
    }
  }
  if (reply.data().size() != manifest.params.block_size) {
    return fail(Errc::corrupt, peer.address(), ": sent ", reply.data().size(), " bytes for block ", block,
                " of slot ", slot, ", not ", manifest.params.block_size);
  }
  if (static_cast<std::size_t>(reply.siblings_size()) > kMaxProofSiblings) {
    return fail(Errc::corrupt, peer.address(), ": sent a proof of ", reply.siblings_size(), " siblings");
  }
  merkle::Proof proof{block, stripes, {}};
  for (const std::string& sibling : reply.siblings()) {
    if (sibling.size() != sizeof(merkle::Hash)) {
      return fail(Errc::corrupt, peer.address(), ": sent a proof with a ", sibling.size(), "-byte sibling");
    }
    merkle::Hash hash;
    std::memcpy(hash.data(), sibling.data(), hash.size());
    proof.siblings.push_back(hash);
  }
  // The leaf count and the root come from the manifest, never from the peer.
  if (!merkle::verify(manifest.slot_roots[slot], merkle::block_root(as_bytes(reply.data())), proof)) {
    return fail(Errc::corrupt, peer.address(), ": block ", block, " of slot ", slot, " of ", cid.to_string(),
                " does not match the slot root");
  }
  return {};
}

}  // namespace ob::exchange
