// A file's stripes read from peers, in order, at the transport's speed (issue 12), from any
// stripe on and up to any end (seek(), issue 13: random access). The one
// client of the block exchange: fetch_file and fetch_slots (exchange/fetcher.h) write what it
// delivers into slot files; the network download (node/network.h) decodes and decrypts it in
// memory and never writes a slot.
//
//   open():  Have() on every peer (who holds what), the manifest (checked against the CID).
//   plan():  the slots to read: the wanted slots when peers hold them all and at most k are
//            wanted ("copy"), else k slots, wanted first, then data, then parity ("rebuild");
//            each slot's index is read and checked against the manifest's slot root.
//   next():  one Blocks stream per slot read (exchange/block_stream.h), from the least loaded
//            peer holding it; wants go out ahead for a window of stripes, so blocks flow without
//            a round trip each; every block is checked against its root on arrival and lands in
//            its stripe's place in the window; next() hands out the oldest stripe once it has
//            every wanted block (copy) or k blocks (rebuild), and the window moves on.
//   A peer that fails, sends a block that does not match, or stalls (owes blocks and sends none
//   for FetchOptions::deadline) is dropped for the transfer: each slot it served continues from
//   another holder, from the first block it still lacks; a slot no one else holds is replaced by
//   another slot (a copy becomes a rebuild from that stripe on).
//
// Memory: the window (stripes × n × block_size; 16 MiB by default) and each slot's index (32
// bytes a stripe), plus gRPC's buffers, which never hold more than the blocks wanted.
// Threads: the caller's, plus one reader per stream; the caller's thread does all the planning.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "coding/manifest.h"
#include "coding/merkle.h"
#include "coding/stripe.h"
#include "core/cid.h"
#include "exchange/fetcher.h"

namespace ob::exchange {

class BlockStream;

/// Most stripes a window may hold (FetchOptions::window).
inline constexpr std::uint32_t kMaxWindowStripes = 1024;
/// The window's size in bytes when FetchOptions::window is 0 (at least 2 stripes). In
/// fetch_bench 16 MiB moves as fast as 32 MiB and keeps the downloader's RSS under 100 MiB.
inline constexpr std::size_t kDefaultWindowBytes = 16 * 1024 * 1024;

/// Reads one file's stripes from peers. Not thread-safe: one caller thread.
class StripeFetcher {
 public:
  /// One stripe as handed out by next(): block i at blocks[i] (block_size bytes each) when
  /// present[i], checked against its root; the other places are scratch the caller may rebuild
  /// into. Valid until the next call to next() or the fetcher's end.
  struct Stripe {
    std::uint64_t index = 0;
    std::span<std::uint8_t* const> blocks;  ///< n places
    std::span<const bool> present;          ///< n flags
    /// Every wanted slot's block is present (else at least k blocks are, and the caller rebuilds).
    bool complete = false;
  };

  /// Asks every peer what it holds and takes the manifest: `local_manifest` when the caller has
  /// it (bytes already checked), else from a peer, checked against `cid`. Errors: (not_found) no
  /// peer has the manifest; (corrupt) the local manifest does not decode.
  static Result<std::unique_ptr<StripeFetcher>> open(const Cid& cid, const std::vector<PeerClient>& peers,
                                                     std::optional<Bytes> local_manifest,
                                                     const FetchOptions& options);
  /// Plans the slots to read for `wanted` (slot indices, each < n, in any order) and reads and
  /// checks their indexes; no block moves before the first next(). Call once. Errors:
  /// (invalid_argument) no slot, a slot >= n, a window over kMaxWindowStripes, or called twice;
  /// (unrecoverable) neither the wanted slots nor k others can be read.
  Result<void> plan(std::span<const std::uint32_t> wanted);
  /// Cancels the streams and waits for their threads.
  ~StripeFetcher();
  StripeFetcher(const StripeFetcher&) = delete;
  StripeFetcher& operator=(const StripeFetcher&) = delete;

  const Cid& cid() const noexcept { return cid_; }
  const Manifest& manifest() const noexcept { return manifest_; }
  /// The encoded manifest (its CID is the file's).
  const Bytes& manifest_bytes() const noexcept { return manifest_bytes_; }
  /// Whether plan() wanted `slot` (< n).
  bool wanted(std::uint32_t slot) const noexcept { return wanted_[slot]; }
  /// The root of block `stripe` of `slot` from the slot's verified index, for a block that was
  /// present in a stripe next() handed out.
  const merkle::Hash& root(std::uint32_t slot, std::uint64_t stripe) const { return (*roots_[slot])[stripe]; }
  /// Every stripe up to the end of the range (seek(); the whole file by default) has been
  /// handed out.
  bool done() const noexcept { return next_ >= end_; }

  /// Random access (issue 13): the next stripes handed out are `first`, first + 1, ..., end - 1,
  /// and no stripe at or past `end` is wanted from peers. When `first` is the stripe next()
  /// would hand out anyway, only the end moves and the streams keep going; otherwise every
  /// stream is cancelled and the window restarts at `first` (streams reopen on the next next(),
  /// from the same peers and slots). So a read of one stripe moves the k blocks of that stripe
  /// and nothing more. Errors (invalid_argument): before plan(), first >= end, end past the
  /// last stripe, or after an error (the fetcher is spent).
  Result<void> seek(std::uint64_t first, std::uint64_t end);

  /// Waits for the next stripe (0, 1, ...) and hands it out; the previous one's memory is
  /// reused. Errors (unrecoverable): the stripe can no longer be completed (every peer that
  /// could give what it lacks was dropped; report().dropped says why); (invalid_argument)
  /// called before plan() or when done(). After an error the fetcher is spent.
  Result<Stripe> next();

  /// Stripes wanted from peers so far: never more than the window past the stripes handed out.
  std::uint64_t stripes_requested() const noexcept { return requested_; }
  /// What the transfer did so far: slots read, bytes received, peers dropped and why.
  const FetchReport& report();

 private:
  struct Source;
  struct Entry;
  StripeFetcher(const Cid& cid, std::vector<PeerClient> peers, const FetchOptions& options);
  Result<void> discover(std::optional<Bytes> local);
  void want(std::span<const std::uint32_t> slots);
  Result<std::vector<merkle::Hash>> fetch_index(std::size_t peer, std::uint32_t slot);
  std::optional<Source> plan_next();
  void drop(std::size_t peer, const std::string& reason);
  std::size_t sources_needed() const;
  std::size_t wanted_count() const;
  Result<void> add_sources(std::uint64_t from);
  void open_stream(Source& source, std::uint64_t from);
  void refill();
  Result<void> repair();
  void stall_check();
  bool head_complete_locked() const;
  bool any_failed() const;
  Error not_enough() const;

  const Cid cid_;
  const std::vector<PeerClient> peers_;
  const FetchOptions options_;
  std::string cid_bytes_;
  Manifest manifest_;
  Bytes manifest_bytes_;
  std::uint64_t stripes_ = 0;
  std::vector<std::vector<std::size_t>> holders_;  // per slot: peers that have it
  std::vector<bool> dropped_;                      // per peer
  std::vector<std::size_t> load_;                  // per peer: slots it serves
  std::vector<bool> wanted_;                       // per slot
  std::vector<std::shared_ptr<const std::vector<merkle::Hash>>> roots_;  // per slot read: its index
  std::vector<std::uint32_t> candidates_;          // slots to read, in order of preference
  std::size_t next_candidate_ = 0;
  bool rebuild_ = false;
  std::vector<Source> sources_;
  FetchReport report_;

  std::uint32_t window_ = 0;
  std::uint64_t chunk_ = 1;      // stripes a want covers, at least
  std::uint64_t next_ = 0;       // next stripe to hand out
  std::uint64_t end_ = 0;        // stripes at or past it are neither wanted nor handed out
  std::uint64_t requested_ = 0;  // stripes wanted so far (the furthest want)
  bool started_ = false;
  bool handed_out_ = false;      // stripe next_ - 1 is with the caller; its entry is reused next
  bool spent_ = false;

  // Shared with the streams' reader threads.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Entry> entries_;        // the window: stripe s lives in entries_[s % window_]
  std::uint64_t head_ = 0;            // oldest stripe not handed out; written under mutex_
  std::uint64_t tail_ = 0;            // end of the window: min(end_, head_ + window_)
  std::uint64_t received_bytes_ = 0;  // under mutex_
};

}  // namespace ob::exchange
