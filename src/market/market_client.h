// The client of StorageMarket.sol (docs/market.md): typed calls of every function the producer,
// the consumer and the tracker use, over a ChainClient and the contract's ABI as embedded in the
// binary (market/market_artifact.h).
//
// Every transaction is first simulated with eth_call from the sender: a call the contract would
// refuse is never broadcast (no gas is spent), and its custom error is decoded by its selector
// into one line, e.g. "the storage market refused: EscrowMismatch(expected 100, sent 99)". A
// transaction that passes is signed, sent and its receipt awaited with ChainSettings'
// receipt_timeout; one that still reverts (the chain moved between the two) says so with the
// reason read again.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chain/abi.h"
#include "chain/chain_client.h"
#include "coding/merkle.h"
#include "core/bytes.h"
#include "core/error.h"
#include "wallet/keys.h"
#include "wallet/uint256.h"

namespace ob::market {

/// StorageMarket.RequestState, in the contract's order.
enum class RequestState : std::uint8_t { New, Started, Cancelled, Finished, Failed };
/// StorageMarket.SlotState, in the contract's order.
enum class SlotState : std::uint8_t { Free, Filled, Freed, Repair, Paid };

/// "New", "Started", ...; "unknown" outside the enum.
std::string_view to_string(RequestState state);
std::string_view to_string(SlotState state);

/// The constructor's arguments (docs/market.md "Parameters"). The defaults suit a local anvil
/// (a block a transaction): short periods, so that tests see several in seconds.
struct MarketParams {
  std::uint64_t proof_period = 10;  ///< blocks per proof period
  std::uint64_t proof_timeout = 5;  ///< blocks after a period during which its missed proofs may be marked
  std::uint8_t slash_percent = 10;
  std::uint8_t max_slashes = 3;
  std::uint8_t validator_percent = 20;
  std::uint8_t repair_reward_percent = 50;
};

/// What a producer asks for (StorageMarket.StorageAsk). Sizes in bytes, times in seconds,
/// prices in wei.
struct StorageAsk {
  Bytes manifest_cid;                  ///< the file ID, binary CIDv1 (1..128 bytes)
  merkle::Hash dataset_root{};         ///< Merkle root over the n slot roots
  std::uint8_t n = 0;
  std::uint8_t k = 0;
  std::uint32_t block_size = 0;
  std::uint64_t slot_size = 0;         ///< blocks per slot x block size
  std::uint64_t duration = 0;          ///< seconds from the request until it finishes
  std::uint64_t expiry = 0;            ///< seconds within which every slot must fill (< duration)
  wallet::U256 price_per_byte_second;  ///< wei per byte of slot per second (< 2^96)
  wallet::U256 collateral_per_byte;    ///< wei per byte of slot each host locks (< 2^96)
  std::uint16_t proof_probability = 1; ///< a slot is challenged with probability 1/this per period
  wallet::Address placer;              ///< the tracker that signs fill permits; zero: anyone fills

  /// n x slot size x duration x price: exactly the msg.value requestStorage demands.
  /// Errors (invalid_argument): it overflows 256 bits (the contract's types prevent that).
  Result<wallet::U256> escrow() const;
  /// slot size x collateral per byte: what each host sends with fillSlot.
  Result<wallet::U256> slot_collateral() const;
};

/// A storage request as getRequest returns it (the stored state; request_state() is the state
/// as time has it).
struct Request {
  wallet::Address client;
  RequestState state = RequestState::New;
  std::uint8_t n = 0;
  std::uint8_t k = 0;
  std::uint8_t filled = 0;
  std::uint32_t block_size = 0;
  std::uint16_t proof_probability = 0;
  wallet::Address placer;
  std::uint64_t slot_size = 0;
  std::uint64_t expires_at = 0;  ///< unix seconds
  std::uint64_t ends_at = 0;
  std::uint64_t started_at = 0;
  wallet::U256 price_per_byte_second;
  wallet::U256 collateral_per_byte;
  merkle::Hash dataset_root{};
  wallet::U256 escrow;     ///< escrow not yet paid to hosts
  wallet::U256 forfeited;  ///< collateral slashed or forfeited, not yet paid out
  Bytes manifest_cid;
};

/// A slot as getSlot returns it.
struct Slot {
  wallet::Address host;
  SlotState state = SlotState::Free;
  std::uint8_t slashes = 0;
  std::uint16_t round = 0;  ///< fills so far: the round a fill permit must name
  std::uint64_t paid_until = 0;
  wallet::U256 collateral;
  std::uint64_t filled_period = 0;
};

/// A slot's challenge in one period (getChallenge).
struct Challenge {
  bool required = false;     ///< whether the slot must prove in that period
  std::uint64_t segment = 0; ///< the 1 KiB segment of the slot the proof must carry
};

/// A proof as the contract takes it (StorageMarket.Proof).
struct ChainProof {
  std::uint64_t period = 0;
  Bytes segment;                    ///< 1024 bytes
  std::vector<merkle::Hash> path;   ///< siblings bottom-up (market::StorageProof::path())
};

/// One decoded event from the contract's logs.
struct Event {
  std::string name;  ///< "SlotFilled", ...
  std::uint64_t block_number = 0;
  wallet::Hash32 transaction{};
  std::map<std::string, chain::abi::Value> fields;  ///< by the parameter's name in the ABI
};

/// The EIP-712 digest the placer signs to let `host` fill slot `slot_index` of `request_id` in
/// fill `round` (StorageMarket.fillPermitDigest), computed locally.
wallet::Hash32 fill_permit_digest(std::uint64_t chain_id, const wallet::Address& market, const wallet::U256& request_id,
                                  std::uint64_t slot_index, const wallet::Address& host, std::uint16_t round);

/// The 65-byte permit (r ‖ s ‖ v, v = 27 + parity, low s) that fillSlot checks. Errors (crypto).
Result<Bytes> sign_fill_permit(const wallet::PrivateKey& placer, const wallet::Hash32& digest);

/// One line for the return data of a reverted call: a StorageMarket custom error by its
/// selector with its arguments ("SlotNotFree(state: Filled)"), Solidity's Error(string) and
/// Panic(uint256), or the raw data when it is none of those.
std::string describe_revert(ByteView data);

/// A StorageMarket contract at one address on one chain. Movable; one call at a time.
class MarketClient {
 public:
  /// Deploys the embedded bytecode with `params` from `key` and returns its client. Errors:
  /// ChainClient::send_transaction's; (corrupt) the receipt names no contract.
  static Result<MarketClient> deploy(chain::ChainClient chain, const wallet::PrivateKey& key,
                                     const MarketParams& params);
  /// The contract at `address`. Errors (invalid_argument): no code there ("no StorageMarket
  /// at ADDRESS on chain N"); the RPC's.
  static Result<MarketClient> open(chain::ChainClient chain, const wallet::Address& address);

  const wallet::Address& address() const noexcept { return address_; }
  chain::ChainClient& chain() noexcept { return chain_; }

  // ---- transactions: each waits for its receipt; a refusal is one clear line (see above) ----

  /// Opens a storage request with `nonce`, escrowing ask.escrow() from `key`, and returns its
  /// ID. Idempotent: when `key`'s address already opened a request with `nonce` (a resend after
  /// a lost reply or a restart), returns that one's ID and sends nothing, so a client is never
  /// charged twice; and when sending fails (say, no receipt in time) it looks again, so a
  /// request mined after all is returned rather than reported failed.
  Result<wallet::U256> request_storage(const wallet::PrivateKey& key, const wallet::Hash32& nonce,
                                       const StorageAsk& ask);
  /// Fills a slot with `collateral` wei, the placer's `permit` and a proof for the current period.
  Result<chain::Receipt> fill_slot(const wallet::PrivateKey& key, const wallet::U256& request_id,
                                   std::uint64_t slot_index, ByteView permit, const ChainProof& proof,
                                   const wallet::U256& collateral);
  Result<chain::Receipt> submit_proof(const wallet::PrivateKey& key, const wallet::U256& request_id,
                                      std::uint64_t slot_index, const ChainProof& proof);
  Result<chain::Receipt> mark_proof_as_missing(const wallet::PrivateKey& key, const wallet::U256& request_id,
                                               std::uint64_t slot_index, std::uint64_t period);
  Result<chain::Receipt> free_slot(const wallet::PrivateKey& key, const wallet::U256& request_id,
                                   std::uint64_t slot_index);
  Result<chain::Receipt> cancel(const wallet::PrivateKey& key, const wallet::U256& request_id);
  Result<chain::Receipt> close(const wallet::PrivateKey& key, const wallet::U256& request_id);
  Result<chain::Receipt> confirm_download(const wallet::PrivateKey& key, const wallet::U256& request_id);
  Result<chain::Receipt> withdraw(const wallet::PrivateKey& key);

  // ---- views (eth_call at the latest block) ----

  Result<MarketParams> params();
  /// Requests opened so far: their IDs are 1..request_count().
  Result<wallet::U256> request_count();
  Result<Request> get_request(const wallet::U256& request_id);
  /// The state as time has it (New past expiry reads Cancelled, Started past its end Finished).
  Result<RequestState> request_state(const wallet::U256& request_id);
  /// The request `client` opened with `nonce`; 0 if none.
  Result<wallet::U256> request_id_of(const wallet::Address& client, const wallet::Hash32& nonce);
  Result<Slot> get_slot(const wallet::U256& request_id, std::uint64_t slot_index);
  Result<std::uint64_t> current_period();
  /// The period of the block a transaction sent now goes into (currentPeriod at the pending
  /// block): what a fill's proof must answer. It differs from current_period() on a period's
  /// last block.
  Result<std::uint64_t> pending_period();
  /// The challenge of a slot in `period`, read at the pending block (so a period beginning
  /// with it can be answered already). Errors: the market's ChallengeUnavailable for a period
  /// not begun or older than 256 blocks; the chain's.
  Result<Challenge> get_challenge(const wallet::U256& request_id, std::uint64_t slot_index, std::uint64_t period);
  /// Whether the slot's proof for `period` was submitted / marked missing.
  Result<std::pair<bool, bool>> proof_status(const wallet::U256& request_id, std::uint64_t slot_index,
                                             std::uint64_t period);
  Result<wallet::U256> withdrawable(const wallet::Address& account);
  /// Wei the slot's host has earned and not yet had settled (0 unless the slot is Filled).
  Result<wallet::U256> accrued_pay(const wallet::U256& request_id, std::uint64_t slot_index);
  Result<wallet::Hash32> fill_permit_digest(const wallet::U256& request_id, std::uint64_t slot_index,
                                            const wallet::Address& host, std::uint16_t round);

  /// The contract's events from `from_block` to `to_block` (default: the latest block), both
  /// included, oldest first; with `request_id`, only that request's. Errors: the RPC's;
  /// (corrupt) a log that does not decode.
  Result<std::vector<Event>> events(std::uint64_t from_block, const std::optional<wallet::U256>& request_id = {},
                                    std::optional<std::uint64_t> to_block = {});
  /// The chain's latest block number (eth_blockNumber): a watcher of events() reads up to it,
  /// then from the next one. Errors: the RPC's; (corrupt) not a quantity.
  Result<std::uint64_t> block_number();

 private:
  MarketClient(chain::ChainClient chain, const wallet::Address& address)
      : chain_(std::move(chain)), address_(address) {}
  /// eth_call of `function` at block `block` ("latest", "pending").
  Result<std::vector<chain::abi::Value>> view(std::string_view function, std::span<const chain::abi::Value> args,
                                              std::string_view block = "latest");
  Result<chain::Receipt> transact(const wallet::PrivateKey& key, std::string_view function,
                                  std::span<const chain::abi::Value> args, const wallet::U256& value = {});
  Result<chain::Receipt> send_checked(const wallet::PrivateKey& key, const std::optional<wallet::Address>& to,
                                      const wallet::U256& value, ByteView data, std::string_view what);

  chain::ChainClient chain_;
  wallet::Address address_;
};

/// What withdraw_balance paid out.
struct Withdrawal {
  wallet::Address account;  ///< the account paid
  wallet::U256 amount;      ///< wei moved from the market to the account
  chain::Receipt receipt;   ///< the withdraw transaction's (its fee() is the gas paid)

  /// "Withdrew 0.0015 ETH (1500000000000000 wei) to 0xAbC…": the `{"msg": …}` of the REST replies.
  std::string summary() const;
};

/// Pays `key`'s whole withdrawable balance in `market` out to it (seed 000's withdraw, for the
/// producer's refunds and the consumer's earnings alike). Errors (invalid_argument): "Nothing
/// to withdraw: 0x… has no balance in the storage market" when it is 0 (nothing is sent; the
/// contract would refuse with NothingToWithdraw); MarketClient::withdraw's.
Result<Withdrawal> withdraw_balance(MarketClient& market, const wallet::PrivateKey& key);

}  // namespace ob::market
