#include "exchange/stripe_fetcher.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "core/metrics.h"
#include "exchange/block_stream.h"
#include "exchange/exchange_service.h"

namespace ob::exchange {

namespace pb = openbucket::p2p::v1;

namespace {

constexpr std::uint64_t kNoStripe = std::numeric_limits<std::uint64_t>::max();

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

}  // namespace

Error peer_error(const PeerClient& peer, std::string_view what, const grpc::Status& status) {
  return Error{Errc::io, peer.address() + ": " + std::string(what) + ": " + status.error_message() + " (" +
                             std::to_string(static_cast<int>(status.error_code())) + ")"};
}

/// One slot being read: its verified index, the peers still holding it (front() serves it) and
/// the stream from that peer once started.
struct StripeFetcher::Source {
  std::uint32_t slot = 0;
  std::shared_ptr<const std::vector<merkle::Hash>> roots;
  std::vector<std::size_t> peers;
  std::unique_ptr<BlockStream> stream;
};

/// One stripe's place in the window: n blocks, and which of them arrived.
struct StripeFetcher::Entry {
  Entry(std::size_t n, std::size_t block_size) : buffer(n, block_size), present(new bool[n]()), blocks(n) {
    for (std::size_t i = 0; i < n; ++i) blocks[i] = buffer.block(i).data();
  }
  StripeBuffer buffer;
  std::unique_ptr<bool[]> present;
  std::vector<std::uint8_t*> blocks;  // into buffer
  std::uint64_t stripe = kNoStripe;    // kNoStripe while free or handed out: arrivals are ignored
  std::size_t count = 0;               // blocks present
};

StripeFetcher::StripeFetcher(const Cid& cid, std::vector<PeerClient> peers, const FetchOptions& options)
    : cid_(cid),
      peers_(std::move(peers)),
      options_(options),
      cid_bytes_(as_chars(cid.to_bytes())),
      dropped_(peers_.size()),
      load_(peers_.size()) {}

StripeFetcher::~StripeFetcher() {
  // Each stream's destructor cancels it and joins its reader, which may be waiting for mutex_.
  for (Source& source : sources_) source.stream.reset();
}

Result<std::unique_ptr<StripeFetcher>> StripeFetcher::open(const Cid& cid, const std::vector<PeerClient>& peers,
                                                           std::optional<Bytes> local_manifest,
                                                           const FetchOptions& options) {
  std::unique_ptr<StripeFetcher> f(new StripeFetcher(cid, peers, options));
  OB_TRY_VOID(f->discover(std::move(local_manifest)));
  return f;
}

Result<void> StripeFetcher::plan(std::span<const std::uint32_t> wanted) {
  if (!wanted_.empty()) return fail(Errc::invalid_argument, "the transfer is planned already");
  if (options_.window > kMaxWindowStripes) {
    return fail(Errc::invalid_argument, "the window must be at most ", kMaxWindowStripes, " stripes");
  }
  if (wanted.empty()) return fail(Errc::invalid_argument, "no slot wanted");
  const CodingParams& params = manifest_.params;
  for (std::uint32_t slot : wanted) {
    if (slot >= params.n()) {
      return fail(Errc::invalid_argument, "slot ", slot, " is out of range: the file has ", params.n());
    }
  }
  want(wanted);
  OB_TRY_VOID(add_sources(0));

  stripes_ = manifest_.stripe_count();
  const std::size_t stripe_bytes = std::size_t{params.n()} * params.block_size;
  std::uint64_t window = options_.window;
  if (window == 0) window = std::clamp<std::uint64_t>(kDefaultWindowBytes / stripe_bytes, 2, 256);
  window_ = static_cast<std::uint32_t>(std::min(window, stripes_));
  // Wants cover a quarter of the window: few messages, and the peer never runs dry.
  chunk_ = std::max<std::uint64_t>(1, window_ / 4);
  entries_.reserve(window_);
  for (std::uint32_t e = 0; e < window_; ++e) {
    entries_.emplace_back(params.n(), params.block_size);
    entries_.back().stripe = e;
  }
  head_ = 0;
  end_ = stripes_;
  tail_ = window_;
  return {};
}

Result<void> StripeFetcher::seek(std::uint64_t first, std::uint64_t end) {
  if (spent_) return fail(Errc::invalid_argument, "this transfer already failed");
  if (entries_.empty()) return fail(Errc::invalid_argument, "the transfer is not planned");
  if (first >= end || end > stripes_) {
    return fail(Errc::invalid_argument, "stripes [", first, ", ", end, ") are not within the file's ", stripes_);
  }
  if (first == next_) {
    // Going on from where we are: the streams keep what they were asked for; the next next()
    // wants up to the new end (a shorter range only stops further wants).
    std::lock_guard lock(mutex_);
    end_ = end;
    if (!handed_out_) tail_ = std::min(end_, head_ + window_);
    return {};
  }
  // Elsewhere: nothing in flight is of use. Each stream's destructor cancels it and joins its
  // reader, so no block arrives for the old window once the lock is taken below.
  for (Source& source : sources_) source.stream.reset();
  std::lock_guard lock(mutex_);
  for (std::uint64_t s = first; s < first + window_; ++s) {
    Entry& entry = entries_[s % window_];
    std::fill(entry.present.get(), entry.present.get() + manifest_.params.n(), false);
    entry.count = 0;
    entry.stripe = s < stripes_ ? s : kNoStripe;
  }
  next_ = first;
  head_ = first;
  end_ = end;
  tail_ = std::min(end_, head_ + window_);
  handed_out_ = false;
  started_ = false;  // next() opens the streams again, from `first`
  return {};
}

void StripeFetcher::drop(std::size_t peer, const std::string& reason) {
  if (dropped_[peer]) return;
  dropped_[peer] = true;
  report_.dropped.push_back(reason);
  static metrics::Counter& drops = metrics::counter(
      "ob_exchange_peers_dropped_total", "Peers dropped from a transfer (failed, timed out or sent a wrong block).");
  drops.add();
}

Result<void> StripeFetcher::discover(std::optional<Bytes> local) {
  std::vector<std::vector<std::uint32_t>> peer_slots(peers_.size());
  std::vector<std::size_t> with_manifest;
  for (std::size_t p = 0; p < peers_.size(); ++p) {
    pb::HaveRequest request;
    request.set_file_cid(cid_bytes_);
    pb::HaveReply reply;
    auto context = context_with(options_);
    const grpc::Status status = peers_[p].stub().Have(context.get(), request, &reply);
    if (!status.ok()) {
      drop(p, peer_error(peers_[p], "have", status).message);
      continue;
    }
    if (reply.has_manifest()) with_manifest.push_back(p);
    peer_slots[p].assign(reply.slots().begin(), reply.slots().end());
  }
  if (local) {
    OB_TRY(manifest_, Manifest::decode(*local));
    manifest_bytes_ = std::move(*local);
  }
  for (std::size_t p : with_manifest) {
    if (!manifest_bytes_.empty()) break;
    pb::ManifestRequest request;
    request.set_file_cid(cid_bytes_);
    pb::ManifestReply reply;
    auto context = context_with(options_);
    const grpc::Status status = peers_[p].stub().GetManifest(context.get(), request, &reply);
    if (!status.ok()) {
      drop(p, peer_error(peers_[p], "manifest", status).message);
      continue;
    }
    const ByteView bytes = as_bytes(reply.manifest());
    auto decoded = Manifest::decode(bytes);
    if (Manifest::cid_of(bytes) != cid_ || !decoded) {
      drop(p, peers_[p].address() + ": sent a manifest that does not match the CID");
      continue;
    }
    manifest_ = std::move(*decoded);
    manifest_bytes_.assign(bytes.begin(), bytes.end());
  }
  if (manifest_bytes_.empty()) return fail(Errc::not_found, "no peer could provide file ", cid_.to_string());
  holders_.assign(manifest_.params.n(), {});
  for (std::size_t p = 0; p < peers_.size(); ++p) {
    for (std::uint32_t s : peer_slots[p]) {
      if (s < manifest_.params.n()) holders_[s].push_back(p);
    }
  }
  return {};
}

void StripeFetcher::want(std::span<const std::uint32_t> slots) {
  const std::uint32_t n = manifest_.params.n();
  wanted_.assign(n, false);
  roots_.assign(n, nullptr);
  for (std::uint32_t s : slots) wanted_[s] = true;
  for (std::uint32_t s = 0; s < n; ++s) {
    if (wanted_[s]) candidates_.push_back(s);
  }
  for (std::uint32_t s = 0; s < n; ++s) {
    if (!wanted_[s]) candidates_.push_back(s);
  }
  rebuild_ = wanted_count() > manifest_.params.k;
}

std::size_t StripeFetcher::wanted_count() const {
  return static_cast<std::size_t>(std::count(wanted_.begin(), wanted_.end(), true));
}

std::size_t StripeFetcher::sources_needed() const { return rebuild_ ? manifest_.params.k : wanted_count(); }

Result<std::vector<merkle::Hash>> StripeFetcher::fetch_index(std::size_t peer, std::uint32_t slot) {
  const std::uint64_t stripes = manifest_.stripe_count();
  std::vector<merkle::Hash> roots;
  roots.reserve(stripes);
  merkle::RootBuilder tree;
  for (std::uint64_t first = 0; first < stripes; first += kMaxIndexRootsPerCall) {
    pb::SlotIndexRequest request;
    request.set_file_cid(cid_bytes_);
    request.set_slot(slot);
    request.set_first(first);
    request.set_count(static_cast<std::uint32_t>(std::min<std::uint64_t>(kMaxIndexRootsPerCall, stripes - first)));
    pb::SlotIndexReply reply;
    auto context = context_with(options_);
    const grpc::Status status = peers_[peer].stub().GetSlotIndex(context.get(), request, &reply);
    if (!status.ok()) return std::unexpected(peer_error(peers_[peer], "slot index", status));
    if (reply.roots().size() != std::size_t{request.count()} * sizeof(merkle::Hash)) {
      return fail(Errc::corrupt, peers_[peer].address(), ": slot ", slot, " index reply has the wrong size");
    }
    for (std::size_t e = 0; e < request.count(); ++e) {
      merkle::Hash root;
      std::memcpy(root.data(), reply.roots().data() + e * root.size(), root.size());
      tree.add(root);
      roots.push_back(root);
    }
  }
  auto root = tree.root();
  if (!root || *root != manifest_.slot_roots[slot]) {
    return fail(Errc::corrupt, peers_[peer].address(), ": slot ", slot, " index does not match the manifest");
  }
  return roots;
}

std::optional<StripeFetcher::Source> StripeFetcher::plan_next() {
  while (next_candidate_ < candidates_.size()) {
    const std::uint32_t slot = candidates_[next_candidate_++];
    Source source;
    source.slot = slot;
    for (std::size_t p : holders_[slot]) {
      if (!dropped_[p]) source.peers.push_back(p);
    }
    // Spread the slots over the peers: the least-loaded holder serves this one, the others
    // stand by in case it fails. Stable, so equal loads keep the peers' order.
    std::stable_sort(source.peers.begin(), source.peers.end(),
                     [&](std::size_t a, std::size_t b) { return load_[a] < load_[b]; });
    while (!source.peers.empty()) {
      auto roots = fetch_index(source.peers.front(), slot);
      if (roots) {
        source.roots = std::make_shared<const std::vector<merkle::Hash>>(std::move(*roots));
        roots_[slot] = source.roots;
        ++load_[source.peers.front()];
        return source;
      }
      drop(source.peers.front(), roots.error().message);
      source.peers.erase(source.peers.begin());
    }
    // A wanted slot no peer can give any more: rebuild it from k others.
    if (wanted_[slot]) rebuild_ = true;
  }
  return std::nullopt;
}

Error StripeFetcher::not_enough() const {
  std::size_t live = 0;
  for (const Source& source : sources_) live += source.peers.empty() ? 0 : 1;
  std::string why;
  for (const std::string& d : report_.dropped) why += "; " + d;
  return Error{Errc::unrecoverable, "only " + std::to_string(live) + " of the " + std::to_string(manifest_.params.k) +
                                        " slots needed for " + cid_.to_string() + " could be read from " +
                                        std::to_string(peers_.size()) + " peer(s)" + why};
}

Result<void> StripeFetcher::add_sources(std::uint64_t from) {
  while (sources_.size() < sources_needed()) {
    auto source = plan_next();
    if (!source) return std::unexpected(not_enough());
    sources_.push_back(std::move(*source));
    if (started_) open_stream(sources_.back(), from);
  }
  return {};
}

void StripeFetcher::open_stream(Source& source, std::uint64_t from) {
  const std::uint32_t slot = source.slot;
  const std::size_t block_size = manifest_.params.block_size;
  auto deliver = [this, slot, block_size](std::uint64_t j, ByteView block) {
    fetched_bytes().add(block_size);
    std::lock_guard lock(mutex_);
    received_bytes_ += block_size;
    Entry& entry = entries_[j % window_];
    if (entry.stripe != j || entry.present[slot]) return;  // handed out already, or a late duplicate
    std::memcpy(entry.blocks[slot], block.data(), block_size);
    entry.present[slot] = true;
    ++entry.count;
    if (j == head_) changed_.notify_one();
  };
  auto stopped = [this] {
    std::lock_guard lock(mutex_);
    changed_.notify_one();
  };
  source.stream = std::make_unique<BlockStream>(peers_[source.peers.front()], cid_bytes_, slot, from, source.roots,
                                                block_size, std::move(deliver), std::move(stopped));
}

void StripeFetcher::refill() {
  for (Source& source : sources_) {
    BlockStream* stream = source.stream.get();
    if (stream == nullptr || stream->state() != BlockStream::State::running) continue;
    const std::uint64_t requested = stream->requested_end();
    if (requested >= tail_) continue;
    // A quarter of the window at a time keeps the wants few; a stream never runs dry at the head.
    if (tail_ - requested >= chunk_ || tail_ == end_ || requested <= head_) {
      if (auto ok = stream->want(tail_); !ok) stream->give_up(ok.error());  // repair() takes over
    }
    requested_ = std::max(requested_, stream->requested_end());
  }
}

bool StripeFetcher::any_failed() const {
  return std::any_of(sources_.begin(), sources_.end(), [](const Source& s) {
    return s.stream && s.stream->state() == BlockStream::State::failed;
  });
}

Result<void> StripeFetcher::repair() {
  if (!any_failed()) return {};
  for (Source& source : sources_) {
    if (source.stream && source.stream->state() == BlockStream::State::failed) {
      drop(source.peers.front(), source.stream->failure()->message);
    }
  }
  // Every slot whose peer was dropped (failed, lied, stalled, or served another slot that did)
  // goes on from another holder, or is replaced by another slot.
  for (Source& source : sources_) {
    if (source.peers.empty() || !dropped_[source.peers.front()]) continue;
    const std::uint64_t resume = std::max(head_, source.stream->received_end());
    source.stream.reset();  // cancels it and waits for its reader
    std::erase_if(source.peers, [&](std::size_t p) { return dropped_[p]; });
    if (!source.peers.empty()) {
      ++load_[source.peers.front()];
      open_stream(source, resume);
      continue;
    }
    if (wanted_[source.slot]) rebuild_ = true;
    auto replacement = plan_next();
    if (!replacement) return std::unexpected(not_enough());
    // Blocks of the lost slot already in the window stay: they count towards their stripes.
    source = std::move(*replacement);
    open_stream(source, head_);
  }
  OB_TRY_VOID(add_sources(head_));
  refill();
  return {};
}

bool StripeFetcher::head_complete_locked() const {
  const Entry& entry = entries_[head_ % window_];
  if (entry.stripe != head_) return false;
  if (rebuild_) return entry.count >= manifest_.params.k;
  for (std::uint32_t i = 0; i < manifest_.params.n(); ++i) {
    if (wanted_[i] && !entry.present[i]) return false;
  }
  return true;
}

void StripeFetcher::stall_check() {
  const auto now = BlockStream::Clock::now();
  std::vector<BlockStream*> stalled;
  {
    std::lock_guard lock(mutex_);
    for (Source& source : sources_) {
      BlockStream* stream = source.stream.get();
      if (stream != nullptr && stream->state() == BlockStream::State::running && stream->owes(head_) &&
          now - stream->idle_since() >= options_.deadline) {
        stalled.push_back(stream);
      }
    }
  }
  for (BlockStream* stream : stalled) {
    stream->give_up(Error{Errc::io, stream->address() + ": stalled: no block of slot " + std::to_string(stream->slot()) +
                                        " for " + std::to_string(options_.deadline.count()) + " ms"});
  }
}

Result<StripeFetcher::Stripe> StripeFetcher::next() {
  if (spent_) return fail(Errc::invalid_argument, "this transfer already failed");
  if (entries_.empty()) return fail(Errc::invalid_argument, "the transfer is not planned");
  if (done()) return fail(Errc::invalid_argument, "every stripe has been read");
  if (!started_) {
    started_ = true;
    for (Source& source : sources_) open_stream(source, next_);
    refill();
  } else if (handed_out_) {
    handed_out_ = false;
    {
      std::lock_guard lock(mutex_);
      const std::uint64_t reuse = next_ - 1 + window_;
      Entry& entry = entries_[(next_ - 1) % window_];
      if (reuse < stripes_) {
        std::fill(entry.present.get(), entry.present.get() + manifest_.params.n(), false);
        entry.count = 0;
        entry.stripe = reuse;
      }
      head_ = next_;
      tail_ = std::min(end_, head_ + window_);
    }
    refill();
  }
  for (;;) {
    if (auto ok = repair(); !ok) {
      spent_ = true;
      return std::unexpected(ok.error());
    }
    {
      std::unique_lock lock(mutex_);
      if (head_complete_locked()) {
        Entry& entry = entries_[head_ % window_];
        entry.stripe = kNoStripe;  // blocks arriving late for it are ignored from now on
        Stripe stripe;
        stripe.index = head_;
        stripe.blocks = entry.blocks;
        stripe.present = {entry.present.get(), manifest_.params.n()};
        stripe.complete = true;
        for (std::uint32_t i = 0; i < manifest_.params.n(); ++i) stripe.complete &= !wanted_[i] || entry.present[i];
        ++next_;
        handed_out_ = true;
        return stripe;
      }
      // Wake up for an arrival at the head, a failed stream, or the first stream to stall.
      auto wake = BlockStream::Clock::now() + options_.deadline;
      bool owed = false;
      for (const Source& source : sources_) {
        const BlockStream* stream = source.stream.get();
        if (stream == nullptr || !stream->owes(head_)) continue;
        owed = true;
        wake = std::min(wake, stream->idle_since() + options_.deadline);
      }
      if (!owed && !any_failed()) {
        // Every running stream was asked for the head's blocks by refill(); none owing one
        // while the head lacks some would wait forever.
        spent_ = true;
        return fail(Errc::internal, "stripe ", head_, " of ", cid_.to_string(), " lacks blocks no peer was asked for");
      }
      changed_.wait_until(lock, wake, [&] { return head_complete_locked() || any_failed(); });
    }
    stall_check();
  }
}

const FetchReport& StripeFetcher::report() {
  report_.stripes = stripes_;
  report_.slots_read.clear();
  for (const Source& source : sources_) report_.slots_read.push_back(source.slot);
  std::lock_guard lock(mutex_);
  report_.bytes_received = received_bytes_;
  return report_;
}

}  // namespace ob::exchange
