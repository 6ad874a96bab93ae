// The consumer's side of the storage market (docs/market.md "Filling a slot", "Proofs"): it
// fills the paid-tier slots the tracker placed here (collateral from the consumer's account, the
// placer's permit, a first proof of the slot as stored), then proves them: every period, for
// every slot it filled, it reads the period's challenge and, when a proof is required, submits
// the segment the challenge names with its Merkle path to the dataset root.
//
//   <home>/state/market_slots.json  {"slots": [{"file", "slot", "requestId", "release"?}]}:
//                                   the slots filled, written atomically, so a restarted
//                                   daemon keeps proving them; "release": true marks a slot
//                                   given up here whose freeSlot has not succeeded yet
//
// A slot's life here: fill() -> proving (prove_once, every period) -> either forget() (the
// tracker's DELETE: the file was removed, the request ends without us) or release() (seed
// 000's contract termination: CWatcher found the slot changed or deleted, or the limit
// shrank): the next pass sends freeSlot (pay settled, collateral forfeited) and then forgets
// it; a chain error leaves it marked and the pass after tries again. A slot the chain no
// longer has as ours (freed, the request over) is forgotten without a call.
//
// Locking: `chain_mutex_` serialises chain calls (one MarketClient, one call at a time; every
// call has the RPC's deadline and the receipt timeout); `mutex_` guards the rest and is never
// held across I/O. The hooks are called with chain_mutex_ held and mutex_ not: they take the
// consumer's own locks, and no thread holding those waits on ours.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "market/market_client.h"
#include "market/storage_proof.h"
#include "wallet/keys.h"

namespace ob::consumer {

/// The market the tracker named at registration (proto MarketInfo).
struct MarketAddress {
  std::uint64_t chain_id = 0;
  std::string address;  ///< StorageMarket, EIP-55
};

/// What the host needs from the consumer.
struct MarketHostHooks {
  /// The consumer's account key (fills and proofs are sent from it, collateral taken from it).
  /// Errors: no account, a wrong or missing passphrase.
  std::function<Result<wallet::PrivateKey>()> unlock;
  /// The proof of `segment` (1 KiB, 0-based) of slot `slot` of file `file_id` as held here.
  /// Errors: the slot is not held, damaged (prove_segment's).
  std::function<Result<market::StorageProof>(const std::string& file_id, std::uint32_t slot, std::uint64_t segment)>
      prove;
};

/// One slot this consumer filled on chain.
struct FilledSlot {
  std::string file_id;
  std::uint32_t slot = 0;
  std::string request_id;  ///< decimal
  bool release = false;    ///< given up here: freeSlot is due (no more proofs)
};

/// One filled slot's money, as the chain has it now (`consumer earnings`).
struct SlotEarnings {
  FilledSlot slot;
  market::SlotState state = market::SlotState::Free;  ///< getSlot's
  wallet::U256 accrued_pay;  ///< wei earned and not yet settled (accruedPay)
  wallet::U256 collateral;   ///< wei locked in the slot (getSlot)
  std::string error;         ///< why the slot could not be read; "" when it was
};

/// The consumer's money in the market (seed 000 "The Consumers can withdraw their earned Ether").
struct Earnings {
  wallet::Address account;
  wallet::U256 withdrawable;  ///< wei settled and ready for withdraw()
  std::vector<SlotEarnings> slots;
};

/// The consumer's market account at work. Thread-safe.
class MarketHost {
 public:
  /// A host keeping its slots in `state_file`, reaching the chain at `chain_rpc` ([chain] rpc).
  /// Reads the slots filled before. Errors (corrupt): the file is not ours; (io).
  static Result<std::unique_ptr<MarketHost>> open(std::filesystem::path state_file, std::string chain_rpc,
                                                  MarketHostHooks hooks);
  ~MarketHost();
  MarketHost(const MarketHost&) = delete;
  MarketHost& operator=(const MarketHost&) = delete;

  /// The market the tracker runs (from RegisterConsumerReply, after every registration);
  /// nullopt: none. The account is unlocked again at its next use (it may have changed).
  void set_market(std::optional<MarketAddress> market);

  /// Fills slot `slot` of `request_id` (decimal) for file `file_id`, held here, with the placer's
  /// `permit`: checks that the request is for that file, sends the slot's collateral and a proof
  /// for the current period (built again if the period turns meanwhile), and from then on proves
  /// it. Already filled by this account: nothing sent. Errors (invalid_argument): the slot was
  /// given up here (release) and is not freed on chain yet; no market, a
  /// bad request ID, a request for another file, the market's refusal in one line
  /// ("NotChosenByPlacer"); the chain's (io when unreachable); the hooks'.
  Result<void> fill(const std::string& file_id, std::uint32_t slot, const std::string& request_id, ByteView permit);
  /// Whether this consumer filled that slot and still proves it (not released).
  bool filled(const std::string& file_id, std::uint32_t slot) const;
  /// The slots filled, for listings.
  std::vector<FilledSlot> slots() const;
  /// Stops proving a slot the tracker ordered deleted (the file removed): nothing is sent. A
  /// released slot stays until its freeSlot is done (the tracker's DELETE of a slot given up
  /// here usually comes first).
  void forget(const std::string& file_id, std::uint32_t slot);
  /// Seed 000's contract termination of a slot this consumer gave up (changed or deleted on
  /// disk, over the limit): no more proofs; the next pass (prove_once) calls freeSlot, and
  /// forgets the slot once it succeeds or the chain no longer has it as ours. Kept in the
  /// state file, so a restart still frees it. Not filled here: nothing.
  void release(const std::string& file_id, std::uint32_t slot);

  /// The account's withdrawable balance and, for every slot filled here, its state, accrued
  /// pay and collateral on chain (a slot that cannot be read carries the error). Errors: no
  /// market, the account's (hooks' unlock), the chain's for the balance.
  Result<Earnings> earnings();
  /// Pays the account's whole withdrawable balance out (market::withdraw_balance). Errors: as
  /// earnings(); "Nothing to withdraw: …"; the market's refusal.
  Result<market::Withdrawal> withdraw();

  /// One pass: frees the released slots (see release()), then, for each filled slot whose
  /// period turned since it last looked, reads the slot (dropping it when this account no
  /// longer holds it) and the challenge, and submits a proof when one is required. Returns the
  /// proofs submitted; errors are logged and retried next pass, never fatal.
  std::uint32_t prove_once();
  /// Runs prove_once every `interval` on its own thread until stop().
  void start(std::chrono::milliseconds interval);
  void stop();

 private:
  MarketHost(std::filesystem::path state_file, std::string chain_rpc, MarketHostHooks hooks)
      : state_file_(std::move(state_file)), chain_rpc_(std::move(chain_rpc)), hooks_(std::move(hooks)) {}
  /// The client of the current market, connected on first use. Caller holds chain_mutex_.
  Result<market::MarketClient*> client();
  /// The account's key, unlocked on first use. Caller holds chain_mutex_.
  Result<const wallet::PrivateKey*> key();
  /// The proof for `period` of a slot, from its challenge. Caller holds chain_mutex_.
  Result<market::ChainProof> proof_for(market::MarketClient& client, const FilledSlot& slot, const wallet::U256& id,
                                       std::uint64_t period);
  Result<void> persist_locked() const;
  /// Forgets a slot whatever its state (freed, or no longer ours on chain).
  void drop(const std::string& file_id, std::uint32_t slot);
  /// freeSlot for every released slot still ours on chain; forgets each one freed or no longer
  /// ours. Caller holds chain_mutex_.
  void free_released(market::MarketClient& market, const wallet::PrivateKey& account,
                     const std::vector<FilledSlot>& slots);

  const std::filesystem::path state_file_;
  const std::string chain_rpc_;
  const MarketHostHooks hooks_;

  std::mutex chain_mutex_;  ///< one chain call at a time; guards client_, key_
  std::optional<market::MarketClient> client_;
  std::optional<wallet::PrivateKey> key_;

  mutable std::mutex mutex_;  ///< guards what follows
  std::condition_variable cv_;
  std::optional<MarketAddress> market_;
  bool market_changed_ = false;  ///< client_ is for another market: connect again
  bool key_changed_ = false;     ///< the consumer registered again (its account may be another): unlock again
  std::map<std::pair<std::string, std::uint32_t>, FilledSlot> slots_;
  std::map<std::pair<std::string, std::uint32_t>, std::uint64_t> proven_until_;  ///< next period to look at
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ob::consumer
