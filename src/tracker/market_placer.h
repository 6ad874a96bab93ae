// The tracker's side of the storage market (docs/market.md): it checks the storage request a
// producer names for a paid-tier file, signs the fill permit of each consumer it places on one
// of the request's slots, and, as validator, marks the proofs that hosts missed (the tracker's
// account earns the validator share of each slash).
//
// Every call goes to the chain (MarketClient, one call at a time behind chain_mutex_, taken
// per call, so a validator pass never holds up a heartbeat's permit for long); the Tracker
// never calls it with its database lock held.
//
// What it reads is cached and kept true by the contract's events: a slot read with getSlot is
// kept until an event names it (SlotFilled, SlotFreed, SlotPaid; RequestEnded for all of a
// request's), read with eth_getLogs from the block after the last one seen, at most once per
// kRefreshInterval. So a heartbeat's permit costs no chain call while nothing changed, and the
// validator's steady cost is three calls a tick (block number, logs, current period); it looks
// at a request's slots once per proof period, when one has ended.
//
// Repair on chain (docs/market.md "Repair"): the permit of a slot whose chain state still has
// another host (Filled: the lost consumer's, until the validator's marks remove it after
// maxSlashes or the host frees it) is not made: fill_permit says "not yet" (Errc::not_found),
// the tracker leaves the STORE order out of that heartbeat's reply, and the consumer is offered
// it again with each heartbeat until the slot is Freed or Repair, then fills it for the round
// the chain names (earning the repair reward when Repair).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "coding/manifest.h"
#include "core/bytes.h"
#include "core/error.h"
#include "market/market_client.h"
#include "wallet/keys.h"

namespace ob::tracker {

/// What the tracker keeps of a storage request it checked.
struct CheckedRequest {
  std::string request_id;  ///< decimal
  /// The request's pricePerByteSecond, capped at 2^63 - 1 (consumers' prices are int64).
  std::int64_t price = 0;
};

/// The tracker's market account on one StorageMarket. Thread-safe.
class MarketPlacer {
 public:
  /// Places for `client`'s market with `key` (the tracker's account, the requests' placer).
  MarketPlacer(market::MarketClient client, wallet::PrivateKey key);
  MarketPlacer(const MarketPlacer&) = delete;
  MarketPlacer& operator=(const MarketPlacer&) = delete;

  /// The placer's address (the tracker's account).
  wallet::Address placer() const;

  /// Checks that storage request `request_id` (decimal) is one the tracker may place the file
  /// of `manifest` (encoded as `encoded`) for: it exists and is New (nobody filled it in full
  /// yet), names the manifest's CID and dataset root, has the manifest's n = k + m slots and
  /// its k, and names this tracker as placer. Errors (invalid_argument): not a request ID, or
  /// one line naming the first field that differs ("storage request 3 is for another file");
  /// the chain's (io when unreachable).
  Result<CheckedRequest> check_request(const std::string& request_id, const Manifest& manifest, ByteView encoded);

  /// The 65-byte permit that lets `host` fill slot `slot` of `request_id` in the slot's current
  /// round (from the slot cache, getSlot on a miss). Errors: (not_found) not yet: the chain
  /// has the slot Filled by another host, or Paid (the request ended); (invalid_argument) a
  /// bad request ID or address; the chain's; (crypto).
  Result<Bytes> fill_permit(const std::string& request_id, std::uint32_t slot, const std::string& host);

  /// The account hosting slot `slot` of `request_id` (decimal) now: getSlot, read past the
  /// cache (which may not have seen the latest fill yet). nullopt when the slot is not Filled.
  /// Errors: (invalid_argument) a bad request ID; the chain's.
  Result<std::optional<wallet::Address>> host_now(const std::string& request_id, std::uint32_t slot);

  /// confirmDownload of `request_id` (decimal) from the placer's account: settles every host's
  /// pay so far (seed 000's payout after a download). Errors: (invalid_argument) a bad ID or
  /// the market's refusal in one line ("RequestNotRunning"); the chain's (io when unreachable).
  Result<chain::Receipt> confirm_download(const std::string& request_id);

  /// One validator pass over `request_ids` (decimal): for each slot Filled on chain and each
  /// period that has ended and may still be marked, after the host's fill, whose challenge
  /// required a proof that was neither submitted nor marked, markProofAsMissing from the
  /// tracker's account. A request is looked at once per period (periods already looked at
  /// are remembered; one that could not be read is tried again next call). Returns how many
  /// proofs were marked missing; a request that cannot be read or a mark the chain refuses is
  /// logged and skipped, never fatal.
  std::uint32_t mark_missed_proofs(const std::vector<std::string>& request_ids);

  /// How often the slot cache is brought up to date from the contract's events.
  static constexpr std::chrono::milliseconds kRefreshInterval{500};

 private:
  using SlotKey = std::pair<std::string, std::uint32_t>;  ///< (request ID, slot index)

  /// Applies the events since the last block seen to the caches (at most once per
  /// kRefreshInterval). A failure is logged; the caches are then dropped, to be read afresh.
  void refresh();
  /// The slot as the chain has it: cached, or read with getSlot and cached.
  Result<market::Slot> slot(const wallet::U256& id, const std::string& request_id, std::uint32_t index);

  /// Runs `call(client_)` alone: MarketClient takes one call at a time.
  template <typename F>
  auto chain(F&& call) {
    std::lock_guard lock(chain_mutex_);
    return call(client_);
  }

  std::mutex chain_mutex_;  ///< guards client_, per call
  market::MarketClient client_;
  const wallet::PrivateKey key_;
  // Fixed for the client's life, so that signing a permit never waits for a chain call.
  const std::uint64_t chain_id_;
  const wallet::Address market_address_;

  /// Guards the caches below; held across the reads that fill them (getSlot, logs), so that a
  /// slot read and the events that outdate it are applied in the order they happened.
  std::mutex cache_mutex_;
  std::map<SlotKey, market::Slot> slots_;  ///< as last read; erased by an event naming the slot
  std::optional<std::uint64_t> next_block_;  ///< the first block whose events are not applied
  std::chrono::steady_clock::time_point refreshed_{};

  std::mutex validator_mutex_;  ///< one validator pass at a time; guards what follows
  std::optional<market::MarketParams> params_;
  std::map<std::string, std::uint8_t> slot_count_;  ///< request -> n (a request's n never changes)
  std::map<std::string, std::uint64_t> looked_at_;  ///< request -> the period of its last pass
  /// (request, slot) -> the first period not yet looked at by the validator.
  std::map<SlotKey, std::uint64_t> next_period_;
};

}  // namespace ob::tracker
