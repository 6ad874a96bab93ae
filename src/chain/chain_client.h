// The Ethereum node as the wallet (and next, the storage market) uses it: typed calls over
// JSON-RPC (json_rpc.h), the node's chain checked against the one configured, and
// send_transaction() doing what a wallet does for any transaction: nonce, fees, gas, a check
// that the sender can pay before anything is broadcast, signing, and waiting for the receipt.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "chain/json_rpc.h"
#include "chain/transaction.h"
#include "core/bytes.h"
#include "core/error.h"
#include "wallet/keys.h"
#include "wallet/uint256.h"

namespace ob::chain {

/// Where the chain is and which chain it must be (config.toml [chain]).
struct ChainSettings {
  std::string rpc;             ///< the node's JSON-RPC URL
  std::uint64_t chain_id = 0;  ///< the chain the node must be on; 0 accepts the node's
  RpcOptions rpc_options;
  std::chrono::milliseconds receipt_timeout{120000};  ///< how long send_transaction waits for the receipt
};

/// What the node says fees are now (EIP-1559).
struct Fees {
  wallet::U256 base_fee;             ///< the latest block's base fee per gas
  wallet::U256 max_priority_fee;     ///< the tip per gas offered
  wallet::U256 max_fee;              ///< 2 x base fee + tip: room for six full blocks of base fee rises
};

/// A mined transaction's receipt.
struct Receipt {
  wallet::Hash32 hash{};
  bool success = false;                 ///< status 1
  std::uint64_t block_number = 0;
  std::uint64_t gas_used = 0;
  wallet::U256 effective_gas_price;     ///< wei per gas actually paid
  std::optional<wallet::Address> contract_address;  ///< the contract a creation made
  /// gas_used x effective_gas_price: what the sender paid beyond the value.
  wallet::U256 fee() const;
};

/// A transaction sent by send_transaction().
struct SentTransaction {
  wallet::Address from;
  Eip1559Transaction tx;
  SignedTransaction signed_tx;
  Receipt receipt;
};

/// An Ethereum node on the configured chain. Movable; one call at a time.
class ChainClient {
 public:
  /// Connects and checks the chain: eth_chainId must equal settings.chain_id unless that is 0.
  /// Errors: JsonRpcClient's (an unreachable node is io); (invalid_argument) "no Ethereum
  /// node configured" for an empty URL; "the node at URL is on chain 1, not chain 31337".
  static Result<ChainClient> connect(const ChainSettings& settings);

  std::uint64_t chain_id() const noexcept { return chain_id_; }
  JsonRpcClient& rpc() noexcept { return rpc_; }

  /// The balance in wei at the latest block. Errors: the RPC's; (corrupt) a malformed reply.
  Result<wallet::U256> balance(const wallet::Address& address);
  /// The next nonce of `address`, counting its pending transactions.
  Result<std::uint64_t> nonce(const wallet::Address& address);
  /// Current fees: base fee of the latest block, the node's suggested tip (1 gwei when the
  /// node has no eth_maxPriorityFeePerGas). Errors (invalid_argument): the chain has no
  /// base fee (no EIP-1559); the RPC's.
  Result<Fees> fees();
  /// The node's gas estimate for a call.
  Result<std::uint64_t> estimate_gas(const wallet::Address& from, const std::optional<wallet::Address>& to,
                                     const wallet::U256& value, ByteView data);
  /// Broadcasts a signed transaction; returns its hash as the node reports it.
  Result<wallet::Hash32> send_raw(ByteView raw);
  /// Polls for the receipt of `hash` until `timeout` passes. Errors (io): none by then (the
  /// transaction may still be mined later); the RPC's.
  Result<Receipt> wait_for_receipt(const wallet::Hash32& hash, std::chrono::milliseconds timeout);

  /// Sends `value` wei and `data` from `key`'s address to `to` (nullopt creates a contract)
  /// and waits for the receipt: the pending nonce, fees(), estimate_gas(), then refuses
  /// (invalid_argument, "insufficient funds: ...") when value + gas limit x max fee exceeds the
  /// balance, before anything is broadcast. Errors: those of the steps; (invalid_argument)
  /// "transaction 0x... reverted" when the receipt's status is 0. `on_broadcast`, when given,
  /// is called with the hash once the node accepted the transaction, before the wait for its
  /// receipt (a command shows what it waits for).
  Result<SentTransaction> send_transaction(const wallet::PrivateKey& key, const std::optional<wallet::Address>& to,
                                           const wallet::U256& value, ByteView data = {},
                                           const std::function<void(const wallet::Hash32&)>& on_broadcast = {});

 private:
  ChainClient(JsonRpcClient rpc, std::uint64_t chain_id, std::chrono::milliseconds receipt_timeout)
      : rpc_(std::move(rpc)), chain_id_(chain_id), receipt_timeout_(receipt_timeout) {}
  JsonRpcClient rpc_;
  std::uint64_t chain_id_;
  std::chrono::milliseconds receipt_timeout_;
};

/// The chain a payment request names: settings.chain_id when pinned, else the node's (asked).
/// Errors: ChainClient::connect's.
Result<std::uint64_t> resolve_chain_id(const ChainSettings& settings);

/// "0x" and lower-case hex of `bytes` (JSON-RPC DATA).
std::string to_data(ByteView bytes);

}  // namespace ob::chain
