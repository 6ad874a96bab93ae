// The client side of one Blocks stream (proto/p2p.proto): one peer, one slot of one file.
//
// The owner wants ranges ahead of need (want()); a reader thread receives the batches, checks
// that each answers what was wanted, in order, checks every block against its root in the slot's
// verified index, and hands the block to the owner's callback. Nothing the peer sends reaches
// the callback unchecked.
//
// Lifecycle (one small state machine, BlockStream::State):
//   running --(the peer sent a wrong block, broke the protocol, or the transport failed)--> failed
//   running --(the peer ended the stream: the fetcher never asks it to)----------------> failed
//   running --(the owner gave up on it: it stalled)-----------------------------------> failed
//   running --(cancel() or the destructor)---------------------------------------------> cancelled
// A stream never goes back to running; the owner drops the peer and opens another stream.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "coding/merkle.h"
#include "core/error.h"
#include "exchange/fetcher.h"
#include "proto/p2p.grpc.pb.h"

namespace ob::exchange {

class BlockStream {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { running, failed, cancelled };

  /// Called on the reader thread for block j of the slot once it matched its root; `block` is
  /// block_size bytes, valid only during the call. Must not call back into this stream.
  using Deliver = std::function<void(std::uint64_t j, ByteView block)>;
  /// Called on the reader thread once, after the stream failed (not when it was cancelled).
  using Stopped = std::function<void()>;

  /// Opens the stream to `peer` for slot `slot` of the file whose binary CID is `file_cid`; the
  /// first block wanted will be `first`. `roots` is the slot's index, already checked against the
  /// manifest; `block_size` the manifest's. Nothing is sent before the first want(). Errors
  /// surface through state() and failure().
  BlockStream(const PeerClient& peer, std::string file_cid, std::uint32_t slot, std::uint64_t first,
              std::shared_ptr<const std::vector<merkle::Hash>> roots, std::size_t block_size, Deliver deliver,
              Stopped stopped);
  /// Cancels the stream if it runs and waits for its reader thread.
  ~BlockStream();
  BlockStream(const BlockStream&) = delete;
  BlockStream& operator=(const BlockStream&) = delete;

  /// Wants blocks [requested_end(), end) too, in wants of at most kMaxBlocksPerWant. Called by
  /// the owner only (one thread). Errors (io): the stream no longer runs.
  Result<void> want(std::uint64_t end);
  /// Stops the stream (state cancelled unless it had already failed) and waits for the reader.
  void cancel();
  /// The owner gives up on the stream (it stalled): state failed with `why`, the call cancelled.
  void give_up(Error why) { set_failed(std::move(why)); }

  State state() const noexcept { return state_.load(); }
  /// Why it failed ("address: reason"); empty unless state() is failed.
  std::optional<Error> failure() const;
  std::uint32_t slot() const noexcept { return slot_; }
  const std::string& address() const noexcept { return address_; }
  /// Blocks [first, received_end()) arrived and were delivered.
  std::uint64_t received_end() const noexcept { return received_end_.load(); }
  /// Blocks [first, requested_end()) have been wanted.
  std::uint64_t requested_end() const noexcept { return requested_end_.load(); }
  /// Whether block j has been wanted and has not arrived yet.
  bool owes(std::uint64_t j) const noexcept { return received_end() <= j && j < requested_end(); }
  /// Since when the stream owes blocks and has delivered none: the last block's arrival, or the
  /// want that followed a time with nothing owed. The owner calls a stream stalled after its
  /// deadline of this.
  Clock::time_point idle_since() const noexcept { return Clock::time_point(Clock::duration(idle_since_.load())); }
  /// Bytes of blocks delivered.
  std::uint64_t bytes_delivered() const noexcept { return bytes_.load(); }

 private:
  void read_loop();
  void set_failed(Error error);
  void touch() noexcept { idle_since_.store(Clock::now().time_since_epoch().count()); }

  std::string address_;
  std::string file_cid_;
  std::uint32_t slot_;
  std::shared_ptr<const std::vector<merkle::Hash>> roots_;
  std::size_t block_size_;
  Deliver deliver_;
  Stopped stopped_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<openbucket::p2p::v1::BlocksWant, openbucket::p2p::v1::BlockBatch>> stream_;
  std::mutex call_mutex_;   // Write (owner) and Finish (reader) never overlap
  bool sent_file_ = false;  // the first want names the file; under call_mutex_
  bool finished_ = false;   // Finish was called; under call_mutex_
  std::atomic<State> state_{State::running};
  std::atomic<std::uint64_t> received_end_;
  std::atomic<std::uint64_t> requested_end_;
  std::atomic<Clock::rep> idle_since_;
  std::atomic<std::uint64_t> bytes_{0};
  mutable std::mutex failure_mutex_;
  std::optional<Error> failure_;
  std::thread reader_;
};

}  // namespace ob::exchange
