#include "chain/chain_client.h"

#include <thread>

#include "wallet/amount.h"

namespace ob::chain {
namespace {

using nlohmann::json;
using wallet::U256;

constexpr std::uint64_t kDefaultTip = 1'000'000'000;  // 1 gwei, ethers' default too

Result<U256> quantity(const json& value, std::string_view what) {
  if (!value.is_string()) return fail(Errc::corrupt, "the Ethereum node's ", what, " is not a hex quantity");
  auto parsed = U256::from_quantity(value.get_ref<const std::string&>());
  if (!parsed) return fail(Errc::corrupt, "the Ethereum node's ", what, ": ", parsed.error().message);
  return *parsed;
}

Result<std::uint64_t> small_quantity(const json& value, std::string_view what) {
  OB_TRY(U256 v, quantity(value, what));
  const auto small = v.to_u64();
  if (!small) return fail(Errc::corrupt, "the Ethereum node's ", what, " does not fit 64 bits");
  return *small;
}

Result<const json*> field(const json& object, const char* key, std::string_view what) {
  if (!object.is_object()) return fail(Errc::corrupt, "the Ethereum node's ", what, " is not an object");
  const auto it = object.find(key);
  if (it == object.end()) return fail(Errc::corrupt, "the Ethereum node's ", what, " has no ", key);
  return &*it;
}

Result<wallet::Hash32> hash_of(const json& value) {
  if (!value.is_string()) return fail(Errc::corrupt, "the Ethereum node's transaction hash is not a string");
  std::string_view text = value.get_ref<const std::string&>();
  if (text.starts_with("0x")) text.remove_prefix(2);
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != 32) return fail(Errc::corrupt, "the Ethereum node's transaction hash is not 32 bytes");
  wallet::Hash32 hash{};
  std::copy(bytes->begin(), bytes->end(), hash.begin());
  return hash;
}

}  // namespace

std::string to_data(ByteView bytes) { return "0x" + to_hex(bytes); }

Result<std::uint64_t> resolve_chain_id(const ChainSettings& settings) {
  if (settings.chain_id != 0) return settings.chain_id;
  OB_TRY(ChainClient client, ChainClient::connect(settings));
  return client.chain_id();
}

U256 Receipt::fee() const { return effective_gas_price.checked_mul(gas_used).value_or(U256::max()); }

Result<ChainClient> ChainClient::connect(const ChainSettings& settings) {
  if (settings.rpc.empty()) {
    return fail(Errc::invalid_argument,
                "no Ethereum node configured: pass --rpc URL or set [chain] rpc in config.toml");
  }
  OB_TRY(JsonRpcClient rpc, JsonRpcClient::create(settings.rpc, settings.rpc_options));
  OB_TRY(json reply, rpc.call("eth_chainId"));
  OB_TRY(std::uint64_t chain_id, small_quantity(reply, "chain ID"));
  if (settings.chain_id != 0 && chain_id != settings.chain_id) {
    return fail(Errc::invalid_argument, "the Ethereum node at ", settings.rpc, " is on chain ", chain_id,
                ", not chain ", settings.chain_id, " ([chain] chain_id in config.toml)");
  }
  return ChainClient(std::move(rpc), chain_id, settings.receipt_timeout);
}

Result<U256> ChainClient::balance(const wallet::Address& address) {
  OB_TRY(json reply, rpc_.call("eth_getBalance", json::array({address.to_checksum(), "latest"})));
  return quantity(reply, "balance");
}

Result<std::uint64_t> ChainClient::nonce(const wallet::Address& address) {
  OB_TRY(json reply, rpc_.call("eth_getTransactionCount", json::array({address.to_checksum(), "pending"})));
  return small_quantity(reply, "nonce");
}

Result<Fees> ChainClient::fees() {
  OB_TRY(json block, rpc_.call("eth_getBlockByNumber", json::array({"latest", false})));
  if (!block.is_object() || !block.contains("baseFeePerGas")) {
    return fail(Errc::invalid_argument, "the chain at ", rpc_.url(), " has no base fee: EIP-1559 transactions need one");
  }
  Fees fees;
  OB_TRY(fees.base_fee, quantity(block["baseFeePerGas"], "base fee"));
  auto tip = rpc_.call("eth_maxPriorityFeePerGas");
  if (tip) {
    OB_TRY(fees.max_priority_fee, quantity(*tip, "priority fee"));
  } else if (tip.error().code == Errc::invalid_argument) {
    fees.max_priority_fee = kDefaultTip;  // a node without the method: its refusal, not a failure
  } else {
    return std::unexpected(tip.error());
  }
  const auto doubled = fees.base_fee.checked_mul(2);
  const auto max_fee = doubled ? doubled->checked_add(fees.max_priority_fee) : std::nullopt;
  if (!max_fee) return fail(Errc::corrupt, "the Ethereum node's base fee is absurd");
  fees.max_fee = *max_fee;
  return fees;
}

Result<std::uint64_t> ChainClient::estimate_gas(const wallet::Address& from, const std::optional<wallet::Address>& to,
                                                const U256& value, ByteView data) {
  json call = {{"from", from.to_checksum()}, {"value", value.to_quantity()}};
  if (to) call["to"] = to->to_checksum();
  if (!data.empty()) call["data"] = to_data(data);
  OB_TRY(json reply, rpc_.call("eth_estimateGas", json::array({call})));
  return small_quantity(reply, "gas estimate");
}

Result<wallet::Hash32> ChainClient::send_raw(ByteView raw) {
  OB_TRY(json reply, rpc_.call("eth_sendRawTransaction", json::array({to_data(raw)})));
  return hash_of(reply);
}

Result<Receipt> ChainClient::wait_for_receipt(const wallet::Hash32& hash, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(50);  // a local node mines at once; a real one in ~12 s
  for (;;) {
    OB_TRY(json reply, rpc_.call("eth_getTransactionReceipt", json::array({to_data(hash)})));
    if (!reply.is_null()) {
      Receipt receipt;
      receipt.hash = hash;
      OB_TRY(const json* status, field(reply, "status", "receipt"));
      OB_TRY(std::uint64_t status_value, small_quantity(*status, "receipt status"));
      receipt.success = status_value == 1;
      OB_TRY(const json* block, field(reply, "blockNumber", "receipt"));
      OB_TRY(receipt.block_number, small_quantity(*block, "receipt block number"));
      OB_TRY(const json* gas, field(reply, "gasUsed", "receipt"));
      OB_TRY(receipt.gas_used, small_quantity(*gas, "receipt gas used"));
      OB_TRY(const json* price, field(reply, "effectiveGasPrice", "receipt"));
      OB_TRY(receipt.effective_gas_price, quantity(*price, "receipt gas price"));
      if (const auto created = reply.find("contractAddress"); created != reply.end() && created->is_string()) {
        auto address = wallet::Address::parse(created->get<std::string>());
        if (!address) return fail(Errc::corrupt, "the Ethereum node's receipt names a malformed contract address");
        receipt.contract_address = *address;
      }
      return receipt;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return fail(Errc::io, "transaction ", to_data(hash), " was sent but no receipt came within ",
                  timeout.count() / 1000, " s; it may still be mined: look it up by its hash");
    }
    std::this_thread::sleep_for(std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)));
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

Result<SentTransaction> ChainClient::send_transaction(const wallet::PrivateKey& key,
                                                      const std::optional<wallet::Address>& to, const U256& value,
                                                      ByteView data,
                                                      const std::function<void(const wallet::Hash32&)>& on_broadcast) {
  SentTransaction sent;
  sent.from = key.address();
  Eip1559Transaction& tx = sent.tx;
  tx.chain_id = chain_id_;
  tx.to = to;
  tx.value = value;
  tx.data.assign(data.begin(), data.end());
  OB_TRY(tx.nonce, nonce(sent.from));
  OB_TRY(Fees fee, fees());
  tx.max_fee_per_gas = fee.max_fee;
  tx.max_priority_fee_per_gas = fee.max_priority_fee;
  OB_TRY(U256 funds, balance(sent.from));
  // A transfer the balance cannot cover fails the estimate too; say it in our words first.
  if (funds < value) {
    return fail(Errc::invalid_argument, "insufficient funds: ", sent.from.to_checksum(), " holds ",
                wallet::format_eth(funds), " ETH, less than the ", wallet::format_eth(value), " ETH to send");
  }
  OB_TRY(tx.gas_limit, estimate_gas(sent.from, to, value, data));
  const auto cost = tx.max_cost();
  if (!cost || funds < *cost) {
    return fail(Errc::invalid_argument, "insufficient funds: ", sent.from.to_checksum(), " holds ",
                wallet::format_eth(funds), " ETH; sending ", wallet::format_eth(value), " ETH needs up to ",
                cost ? wallet::format_eth(*cost) : "more than 2^256 wei", " ETH with fees");
  }
  OB_TRY(sent.signed_tx, tx.sign(key));
  OB_TRY(wallet::Hash32 hash, send_raw(sent.signed_tx.raw));
  if (hash != sent.signed_tx.hash) {
    return fail(Errc::corrupt, "the Ethereum node named the transaction ", to_data(hash), ", not ",
                to_data(sent.signed_tx.hash));
  }
  if (on_broadcast) on_broadcast(hash);
  OB_TRY(sent.receipt, wait_for_receipt(hash, receipt_timeout_));
  if (!sent.receipt.success) {
    return fail(Errc::invalid_argument, "transaction ", to_data(hash), " reverted in block ", sent.receipt.block_number,
                " (gas used ", sent.receipt.gas_used, ")");
  }
  return sent;
}

}  // namespace ob::chain
