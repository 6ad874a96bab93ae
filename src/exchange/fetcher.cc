#include "exchange/fetcher.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>

#include "coding/erasure.h"
#include "coding/manifest.h"
#include "coding/merkle.h"
#include "core/metrics.h"
#include "exchange/exchange_service.h"
#include "exchange/stripe_fetcher.h"
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

// Reads every stripe from `fetcher`, rebuilds the wanted slots it did not read, and appends
// each wanted slot's blocks to `writer`; then checks each wanted slot's root against the
// manifest. Blocks read were checked against their roots on arrival; only rebuilt ones are hashed.
Result<void> write_slots(StripeFetcher& fetcher, SlotSetWriter& writer, const Progress& progress) {
  const Manifest& manifest = fetcher.manifest();
  const CodingParams& params = manifest.params;
  OB_TRY(ErasureCoder coder, ErasureCoder::make(params.k, params.m));
  std::vector<merkle::RootBuilder> trees(params.n());
  const std::uint64_t stripes = manifest.stripe_count();
  while (!fetcher.done()) {
    OB_TRY(StripeFetcher::Stripe stripe, fetcher.next());
    if (!stripe.complete) OB_TRY_VOID(coder.decode(stripe.blocks, stripe.present, params.block_size));
    for (std::uint32_t i = 0; i < params.n(); ++i) {
      if (!fetcher.wanted(i)) continue;
      const ByteView block(stripe.blocks[i], params.block_size);
      const merkle::Hash root = stripe.present[i] ? fetcher.root(i, stripe.index) : merkle::block_root(block);
      OB_TRY_VOID(writer.append(i, block, root));
      trees[i].add(root);
    }
    if (progress) progress((stripe.index + 1) * params.stripe_plaintext_size(), stripes * params.stripe_plaintext_size());
  }
  // Every wanted slot, read or rebuilt, must match the manifest before anything is published.
  for (std::uint32_t i = 0; i < params.n(); ++i) {
    if (!fetcher.wanted(i)) continue;
    OB_TRY(merkle::Hash root, trees[i].root());
    if (root != manifest.slot_roots[i]) {
      return fail(Errc::corrupt, "rebuilt slot ", i, " of ", fetcher.cid().to_string(), " does not match the manifest");
    }
  }
  return {};
}

}  // namespace

Result<FetchReport> fetch_file(const Cid& cid, const std::vector<PeerClient>& peers, BlockStore& blocks,
                               SlotStore& slots, const FetchOptions& options, const Progress& progress) {
  OB_TRY(bool have_manifest, blocks.has(cid));
  if (have_manifest && slots.has_file(cid)) {
    FetchReport local;
    local.already_local = true;
    return local;
  }
  OB_TRY(std::unique_ptr<StripeFetcher> fetcher, StripeFetcher::open(cid, peers, std::nullopt, options));
  const CodingParams& params = fetcher->manifest().params;
  std::vector<std::uint32_t> all(params.n());
  for (std::uint32_t i = 0; i < params.n(); ++i) all[i] = i;
  OB_TRY_VOID(fetcher->plan(all));
  OB_TRY(SlotSetWriter writer, slots.begin(params.n(), params.block_size));
  OB_TRY_VOID(write_slots(*fetcher, writer, progress));
  OB_TRY_VOID(writer.commit(cid));
  if (auto ok = blocks.put(cid, fetcher->manifest_bytes()); !ok) {
    (void)slots.remove(cid);
    return std::unexpected(ok.error());
  }
  return fetcher->report();
}

Result<FetchReport> fetch_slots(const Cid& cid, std::span<const std::uint32_t> wanted,
                                const std::vector<PeerClient>& peers, BlockStore& blocks, SlotStore& slots,
                                const FetchOptions& options, const Progress& progress) {
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

  OB_TRY(std::unique_ptr<StripeFetcher> fetcher, StripeFetcher::open(cid, peers, std::move(local_manifest), options));
  const CodingParams& params = fetcher->manifest().params;
  if (sorted.back() >= params.n()) {
    return fail(Errc::invalid_argument, "slot ", sorted.back(), " is out of range: the file has ", params.n());
  }
  FetchReport report;
  if (!missing.empty()) {
    OB_TRY_VOID(fetcher->plan(missing));
    OB_TRY(SlotSetWriter writer, slots.begin_slots(missing, params.block_size));
    OB_TRY_VOID(write_slots(*fetcher, writer, progress));
    OB_TRY_VOID(writer.commit(cid));
    report = fetcher->report();
  }
  // The manifest last: a consumer must serve GetManifest for the slots it holds.
  if (auto ok = blocks.put(cid, fetcher->manifest_bytes()); !ok) {
    for (std::uint32_t i : missing) (void)slots.remove_slot(cid, i);
    return std::unexpected(ok.error());
  }
  return report;
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
