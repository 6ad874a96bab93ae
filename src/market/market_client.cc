#include "market/market_client.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "market/market_artifact.h"
#include "wallet/amount.h"
#include "wallet/keccak.h"

namespace ob::market {
namespace {

using chain::abi::Type;
using chain::abi::Value;
using nlohmann::json;
using wallet::Address;
using wallet::U256;

// ---- the contract's ABI, read once from the artifact embedded in the binary -----------------

struct Param {
  std::string name;
  Type type;
  bool indexed = false;
  std::string enum_name;  ///< "RequestState" / "SlotState" for the contract's enums, else empty
};

struct Entry {
  std::string name;
  std::vector<Param> inputs;
  std::vector<Type> outputs;

  std::string signature() const {
    std::string text = name + "(";
    for (std::size_t i = 0; i < inputs.size(); ++i) text += (i > 0 ? "," : "") + inputs[i].type.canonical();
    return text + ")";
  }
  std::vector<Type> input_types() const {
    std::vector<Type> types;
    for (const Param& p : inputs) types.push_back(p.type);
    return types;
  }
};

struct Abi {
  std::map<std::string, Entry, std::less<>> functions;
  std::map<std::array<std::uint8_t, 4>, Entry> errors;  ///< by selector
  std::map<wallet::Hash32, Entry> events;               ///< by topic 0
};

/// The canonical text of an ABI JSON parameter ("tuple[]" with components -> "(...)[]").
std::string canonical_text(const json& param) {
  const std::string type = param.value("type", "");
  if (!type.starts_with("tuple")) return type;
  std::string text = "(";
  const json components = param.value("components", json::array());
  for (std::size_t i = 0; i < components.size(); ++i) text += (i > 0 ? "," : "") + canonical_text(components[i]);
  return text + ")" + type.substr(5);
}

Result<std::vector<Param>> params_of(const json& list) {
  std::vector<Param> params;
  for (const json& p : list) {
    Param param;
    param.name = p.value("name", "");
    param.indexed = p.value("indexed", false);
    OB_TRY(param.type, Type::parse(canonical_text(p)));
    const std::string internal = p.value("internalType", "");
    if (internal.starts_with("enum StorageMarket.")) param.enum_name = internal.substr(19);
    params.push_back(std::move(param));
  }
  return params;
}

Result<Abi> load_abi() {
  const json abi = json::parse(kStorageMarketAbi, nullptr, /*allow_exceptions=*/false);
  if (!abi.is_array()) return fail(Errc::internal, "the embedded StorageMarket ABI is not a JSON array");
  Abi out;
  for (const json& item : abi) {
    Entry entry;
    entry.name = item.value("name", "");
    OB_TRY(entry.inputs, params_of(item.value("inputs", json::array())));
    OB_TRY(std::vector<Param> outputs, params_of(item.value("outputs", json::array())));
    for (Param& p : outputs) entry.outputs.push_back(std::move(p.type));
    const std::string kind = item.value("type", "");
    if (kind == "function") {
      out.functions.emplace(entry.name, std::move(entry));
    } else if (kind == "error") {
      out.errors.emplace(chain::abi::selector(entry.signature()), std::move(entry));
    } else if (kind == "event") {
      out.events.emplace(wallet::keccak256(as_bytes(entry.signature())), std::move(entry));
    }
  }
  return out;
}

/// The ABI, parsed once (thread-safe). An artifact that does not parse is a build bug.
const Result<Abi>& contract_abi() {
  static const Result<Abi> abi = load_abi();
  return abi;
}

Result<const Entry*> function(std::string_view name) {
  const auto& abi = contract_abi();
  if (!abi) return std::unexpected(abi.error());
  const auto it = abi->functions.find(name);
  if (it == abi->functions.end()) return fail(Errc::internal, "the embedded StorageMarket has no function ", name);
  return &it->second;
}

Result<Bytes> encode_call(const Entry& fn, std::span<const Value> args) {
  const chain::abi::Function call{fn.name, fn.input_types()};
  return call.encode_call(args);
}

// ---- values -------------------------------------------------------------------------------

Bytes hash_bytes(const wallet::Hash32& h) { return Bytes(h.begin(), h.end()); }

Result<Bytes> from_data(const json& value, std::string_view what) {
  if (!value.is_string()) return fail(Errc::corrupt, "the Ethereum node's ", what, " is not hex data");
  std::string_view text = value.get_ref<const std::string&>();
  if (!text.starts_with("0x")) return fail(Errc::corrupt, "the Ethereum node's ", what, " is not hex data");
  auto bytes = from_hex(text.substr(2));
  if (!bytes) return fail(Errc::corrupt, "the Ethereum node's ", what, " is not hex data");
  return *bytes;
}

Result<merkle::Hash> as_hash(const Value& v) {
  OB_TRY(Bytes b, v.as_bytes());
  if (b.size() != 32) return fail(Errc::corrupt, "StorageMarket returned a bytes32 of ", b.size(), " bytes");
  merkle::Hash h{};
  std::copy(b.begin(), b.end(), h.begin());
  return h;
}

template <typename Small>
Result<Small> as_small(const Value& v) {
  OB_TRY(std::uint64_t n, v.as_u64());
  if (n > std::numeric_limits<Small>::max()) return fail(Errc::corrupt, "StorageMarket returned ", n, " for a small field");
  return static_cast<Small>(n);
}

/// A request or slot state (`what`) as the contract returns it: both enums have five values.
template <typename State>
Result<State> as_state(const Value& v, const char* what) {
  OB_TRY(std::uint64_t n, v.as_u64());
  if (n > 4) return fail(Errc::corrupt, "StorageMarket returned ", what, " state ", n);
  return static_cast<State>(n);
}

Value proof_value(const ChainProof& proof) {
  Value::List path;
  for (const merkle::Hash& h : proof.path) path.emplace_back(Bytes(h.begin(), h.end()));
  return Value::List{proof.period, proof.segment, std::move(path)};
}

std::string describe_value(const Param& param, const Value& value) {
  if (const auto* n = std::get_if<U256>(&value.v)) {
    const auto small = n->to_u64();
    if (param.enum_name == "RequestState" && small && *small <= 4) return std::string(to_string(RequestState(*small)));
    if (param.enum_name == "SlotState" && small && *small <= 4) return std::string(to_string(SlotState(*small)));
    return n->to_decimal();
  }
  if (const auto* a = std::get_if<Address>(&value.v)) return a->to_checksum();
  if (const auto* b = std::get_if<bool>(&value.v)) return *b ? "true" : "false";
  if (const auto* b = std::get_if<Bytes>(&value.v)) return "0x" + to_hex(*b);
  return "(...)";
}

json call_object(const Address& to, ByteView data) {
  return {{"to", to.to_checksum()}, {"data", chain::to_data(data)}};
}

}  // namespace

std::string_view to_string(RequestState state) {
  switch (state) {
    case RequestState::New: return "New";
    case RequestState::Started: return "Started";
    case RequestState::Cancelled: return "Cancelled";
    case RequestState::Finished: return "Finished";
    case RequestState::Failed: return "Failed";
  }
  return "unknown";
}

std::string_view to_string(SlotState state) {
  switch (state) {
    case SlotState::Free: return "Free";
    case SlotState::Filled: return "Filled";
    case SlotState::Freed: return "Freed";
    case SlotState::Repair: return "Repair";
    case SlotState::Paid: return "Paid";
  }
  return "unknown";
}

Result<U256> StorageAsk::escrow() const {
  // Multiplied in the contract's order: n * slotSize * duration * price.
  const auto a = U256(n).checked_mul(slot_size);
  const auto b = a ? a->checked_mul(duration) : std::nullopt;
  const auto c = b ? b->checked_mul(price_per_byte_second) : std::nullopt;
  if (!c) return fail(Errc::invalid_argument, "the escrow of this storage request overflows 256 bits");
  return *c;
}

Result<U256> StorageAsk::slot_collateral() const {
  const auto c = U256(slot_size).checked_mul(collateral_per_byte);
  if (!c) return fail(Errc::invalid_argument, "the collateral of this storage request overflows 256 bits");
  return *c;
}

wallet::Hash32 fill_permit_digest(std::uint64_t chain_id, const Address& market, const U256& request_id,
                                  std::uint64_t slot_index, const Address& host, std::uint16_t round) {
  // EIP-712: keccak(0x19 0x01 ‖ domainSeparator ‖ hashStruct(FillPermit)); every part a static
  // ABI word, so the encodings below cannot fail.
  const auto word_types = [](std::initializer_list<std::string_view> texts) {
    std::vector<Type> types;
    for (std::string_view t : texts) types.push_back(*Type::parse(t));
    return types;
  };
  const wallet::Hash32 domain_typehash = wallet::keccak256(
      as_bytes("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"));
  const wallet::Hash32 permit_typehash =
      wallet::keccak256(as_bytes("FillPermit(uint256 requestId,uint256 slotIndex,address host,uint16 round)"));
  const std::vector<Value> domain{hash_bytes(domain_typehash),
                                  hash_bytes(wallet::keccak256(as_bytes("Open Bucket StorageMarket"))),
                                  hash_bytes(wallet::keccak256(as_bytes("1"))), chain_id, market};
  const Bytes domain_encoded = *chain::abi::encode(word_types({"bytes32", "bytes32", "bytes32", "uint256", "address"}), domain);
  const std::vector<Value> permit{hash_bytes(permit_typehash), request_id, slot_index, host, std::uint64_t{round}};
  const Bytes permit_encoded = *chain::abi::encode(word_types({"bytes32", "uint256", "uint256", "address", "uint16"}), permit);
  Bytes message{0x19, 0x01};
  const wallet::Hash32 domain_separator = wallet::keccak256(domain_encoded);
  const wallet::Hash32 struct_hash = wallet::keccak256(permit_encoded);
  message.insert(message.end(), domain_separator.begin(), domain_separator.end());
  message.insert(message.end(), struct_hash.begin(), struct_hash.end());
  return wallet::keccak256(message);
}

Result<Bytes> sign_fill_permit(const wallet::PrivateKey& placer, const wallet::Hash32& digest) {
  OB_TRY(wallet::Signature sig, placer.sign(digest));
  Bytes permit(sig.r.begin(), sig.r.end());
  permit.insert(permit.end(), sig.s.begin(), sig.s.end());
  permit.push_back(static_cast<std::uint8_t>(27 + sig.y_parity));
  return permit;
}

std::string describe_revert(ByteView data) {
  if (data.size() < 4) return data.empty() ? "reverted without a reason" : "reverted with 0x" + to_hex(data);
  std::array<std::uint8_t, 4> sel{data[0], data[1], data[2], data[3]};
  const ByteView args = data.subspan(4);
  if (sel == chain::abi::selector("Error(string)")) {
    const auto decoded = chain::abi::decode(std::vector<Type>{*Type::parse("string")}, args);
    if (decoded) return std::string(as_chars(*(*decoded)[0].as_bytes()));
  }
  if (sel == chain::abi::selector("Panic(uint256)")) {
    const auto decoded = chain::abi::decode(std::vector<Type>{*Type::parse("uint256")}, args);
    if (decoded) return "panic 0x" + to_hex((*decoded)[0].as_uint()->to_minimal_be()) + " (a bug in the contract)";
  }
  const auto& abi = contract_abi();
  if (abi) {
    const auto it = abi->errors.find(sel);
    if (it != abi->errors.end()) {
      const Entry& error = it->second;
      const auto decoded = chain::abi::decode(error.input_types(), args);
      if (decoded) {
        std::string text = error.name + "(";
        for (std::size_t i = 0; i < decoded->size(); ++i) {
          if (i > 0) text += ", ";
          text += error.inputs[i].name + ": " + describe_value(error.inputs[i], (*decoded)[i]);
        }
        return text + ")";
      }
    }
  }
  return "reverted with 0x" + to_hex(data);
}

// ---- MarketClient -------------------------------------------------------------------------

Result<MarketClient> MarketClient::deploy(chain::ChainClient chain, const wallet::PrivateKey& key,
                                          const MarketParams& p) {
  auto code = from_hex(kStorageMarketBytecode.substr(2));
  if (!code) return fail(Errc::internal, "the embedded StorageMarket bytecode is not hex");
  std::vector<Type> types;
  for (std::string_view t : {"uint64", "uint64", "uint8", "uint8", "uint8", "uint8"}) types.push_back(*Type::parse(t));
  const std::vector<Value> args{p.proof_period, p.proof_timeout, std::uint64_t{p.slash_percent},
                                std::uint64_t{p.max_slashes}, std::uint64_t{p.validator_percent},
                                std::uint64_t{p.repair_reward_percent}};
  OB_TRY(Bytes ctor, chain::abi::encode(types, args));
  code->insert(code->end(), ctor.begin(), ctor.end());
  MarketClient client(std::move(chain), Address{});
  OB_TRY(chain::Receipt receipt, client.send_checked(key, std::nullopt, U256(0), *code, "deploying StorageMarket"));
  if (!receipt.contract_address) return fail(Errc::corrupt, "the deployment's receipt names no contract address");
  client.address_ = *receipt.contract_address;
  return client;
}

Result<MarketClient> MarketClient::open(chain::ChainClient chain, const Address& address) {
  OB_TRY(json code, chain.rpc().call("eth_getCode", json::array({address.to_checksum(), "latest"})));
  OB_TRY(Bytes bytes, from_data(code, "contract code"));
  if (bytes.empty()) {
    return fail(Errc::invalid_argument, "no StorageMarket at ", address.to_checksum(), " on chain ", chain.chain_id(),
                " (no contract code there)");
  }
  return MarketClient(std::move(chain), address);
}

Result<chain::Receipt> MarketClient::send_checked(const wallet::PrivateKey& key, const std::optional<Address>& to,
                                                  const U256& value, ByteView data, std::string_view what) {
  json call = {{"from", key.address().to_checksum()}, {"data", chain::to_data(data)}, {"value", value.to_quantity()}};
  if (to) call["to"] = to->to_checksum();
  // Simulate first: a refusal costs nothing and its reason is in the reply's data. At the
  // pending block, where the transaction goes (the gas estimate is made there too): a call
  // valid in the latest block only (a proof of a period that ends with it) is refused here,
  // by name, rather than by the estimate without one.
  const auto simulate = [&]() -> Result<void> {
    json error_data;
    auto reply = chain_.rpc().call("eth_call", json::array({call, "pending"}), &error_data);
    if (reply) return {};
    if (error_data.is_string()) {
      auto revert = from_data(error_data, "revert data");
      if (revert) return fail(Errc::invalid_argument, "the storage market refused ", what, ": ", describe_revert(*revert));
    }
    return std::unexpected(reply.error());
  };
  OB_TRY_VOID(simulate());
  auto sent = chain_.send_transaction(key, to, value, data);
  if (!sent) {
    // Refused or reverted after all: the chain may have moved since the simulation, so ask
    // again for the reason. Not after an io error (no receipt in time, the node gone): the
    // transaction may still be mined, and a fresh simulation would describe a different state.
    if (sent.error().code != Errc::io) {
      if (auto again = simulate(); !again) return std::unexpected(again.error());
    }
    return std::unexpected(prefixed(sent.error(), what));
  }
  return sent->receipt;
}

Result<chain::Receipt> MarketClient::transact(const wallet::PrivateKey& key, std::string_view name,
                                              std::span<const Value> args, const U256& value) {
  OB_TRY(const Entry* fn, function(name));
  OB_TRY(Bytes data, encode_call(*fn, args));
  return send_checked(key, address_, value, data, name);
}

Result<std::vector<Value>> MarketClient::view(std::string_view name, std::span<const Value> args,
                                              std::string_view block) {
  OB_TRY(const Entry* fn, function(name));
  OB_TRY(Bytes data, encode_call(*fn, args));
  json error_data;
  auto reply = chain_.rpc().call("eth_call", json::array({call_object(address_, data), block}), &error_data);
  if (!reply) {
    if (error_data.is_string()) {
      auto revert = from_data(error_data, "revert data");
      if (revert) return fail(Errc::invalid_argument, "the storage market refused ", name, ": ", describe_revert(*revert));
    }
    return std::unexpected(reply.error());
  }
  OB_TRY(Bytes returned, from_data(*reply, "call result"));
  auto decoded = chain::abi::decode(fn->outputs, returned);
  if (!decoded) return fail(Errc::corrupt, "StorageMarket's ", name, " returned ", decoded.error().message);
  return *decoded;
}

Result<U256> MarketClient::request_storage(const wallet::PrivateKey& key, const wallet::Hash32& nonce,
                                           const StorageAsk& ask) {
  OB_TRY(U256 existing, request_id_of(key.address(), nonce));
  if (!existing.is_zero()) return existing;  // already opened: never charged twice
  OB_TRY(U256 escrow, ask.escrow());
  const Value ask_value = Value::List{ask.manifest_cid,
                                      Bytes(ask.dataset_root.begin(), ask.dataset_root.end()),
                                      std::uint64_t{ask.n},
                                      std::uint64_t{ask.k},
                                      std::uint64_t{ask.block_size},
                                      ask.slot_size,
                                      ask.duration,
                                      ask.expiry,
                                      ask.price_per_byte_second,
                                      ask.collateral_per_byte,
                                      std::uint64_t{ask.proof_probability},
                                      ask.placer};
  const std::vector<Value> args{hash_bytes(nonce), ask_value};
  if (auto sent = transact(key, "requestStorage", args, escrow); !sent) {
    // A transaction whose receipt did not come in time may have been mined all the same.
    auto mined = request_id_of(key.address(), nonce);
    if (mined && !mined->is_zero()) return *mined;
    return std::unexpected(sent.error());
  }
  OB_TRY(U256 id, request_id_of(key.address(), nonce));
  if (id.is_zero()) return fail(Errc::corrupt, "requestStorage was mined but the market knows no request for its nonce");
  return id;
}

Result<chain::Receipt> MarketClient::fill_slot(const wallet::PrivateKey& key, const U256& request_id,
                                               std::uint64_t slot_index, ByteView permit, const ChainProof& proof,
                                               const U256& collateral) {
  const std::vector<Value> args{request_id, slot_index, Bytes(permit.begin(), permit.end()), proof_value(proof)};
  return transact(key, "fillSlot", args, collateral);
}

Result<chain::Receipt> MarketClient::submit_proof(const wallet::PrivateKey& key, const U256& request_id,
                                                  std::uint64_t slot_index, const ChainProof& proof) {
  const std::vector<Value> args{request_id, slot_index, proof_value(proof)};
  return transact(key, "submitProof", args);
}

Result<chain::Receipt> MarketClient::mark_proof_as_missing(const wallet::PrivateKey& key, const U256& request_id,
                                                           std::uint64_t slot_index, std::uint64_t period) {
  const std::vector<Value> args{request_id, slot_index, period};
  return transact(key, "markProofAsMissing", args);
}

Result<chain::Receipt> MarketClient::free_slot(const wallet::PrivateKey& key, const U256& request_id,
                                               std::uint64_t slot_index) {
  const std::vector<Value> args{request_id, slot_index};
  return transact(key, "freeSlot", args);
}

Result<chain::Receipt> MarketClient::cancel(const wallet::PrivateKey& key, const U256& request_id) {
  const std::vector<Value> args{request_id};
  return transact(key, "cancel", args);
}

Result<chain::Receipt> MarketClient::close(const wallet::PrivateKey& key, const U256& request_id) {
  const std::vector<Value> args{request_id};
  return transact(key, "close", args);
}

Result<chain::Receipt> MarketClient::confirm_download(const wallet::PrivateKey& key, const U256& request_id) {
  const std::vector<Value> args{request_id};
  return transact(key, "confirmDownload", args);
}

Result<chain::Receipt> MarketClient::withdraw(const wallet::PrivateKey& key) { return transact(key, "withdraw", {}); }

Result<MarketParams> MarketClient::params() {
  MarketParams p;
  const auto get = [&](std::string_view name) -> Result<std::uint64_t> {
    OB_TRY(std::vector<Value> out, view(name, {}));
    return out.at(0).as_u64();
  };
  OB_TRY(p.proof_period, get("proofPeriod"));
  OB_TRY(p.proof_timeout, get("proofTimeout"));
  OB_TRY(std::uint64_t slash, get("slashPercent"));
  OB_TRY(std::uint64_t max_slashes, get("maxSlashes"));
  OB_TRY(std::uint64_t validator, get("validatorPercent"));
  OB_TRY(std::uint64_t repair, get("repairRewardPercent"));
  // uint8 getters: the ABI decoder already refused anything wider.
  p.slash_percent = static_cast<std::uint8_t>(slash);
  p.max_slashes = static_cast<std::uint8_t>(max_slashes);
  p.validator_percent = static_cast<std::uint8_t>(validator);
  p.repair_reward_percent = static_cast<std::uint8_t>(repair);
  return p;
}

Result<U256> MarketClient::request_count() {
  OB_TRY(std::vector<Value> out, view("requestCount", {}));
  return out.at(0).as_uint();
}

Result<Request> MarketClient::get_request(const U256& request_id) {
  const std::vector<Value> args{request_id};
  OB_TRY(std::vector<Value> out, view("getRequest", args));
  OB_TRY(const Value::List* f, out.at(0).as_list());
  if (f->size() != 18) return fail(Errc::corrupt, "StorageMarket's getRequest returned ", f->size(), " fields");
  Request r;
  OB_TRY(r.client, (*f)[0].as_address());
  OB_TRY(r.state, as_state<RequestState>((*f)[1], "request"));
  OB_TRY(r.n, as_small<std::uint8_t>((*f)[2]));
  OB_TRY(r.k, as_small<std::uint8_t>((*f)[3]));
  OB_TRY(r.filled, as_small<std::uint8_t>((*f)[4]));
  OB_TRY(r.block_size, as_small<std::uint32_t>((*f)[5]));
  OB_TRY(r.proof_probability, as_small<std::uint16_t>((*f)[6]));
  OB_TRY(r.placer, (*f)[7].as_address());
  OB_TRY(r.slot_size, (*f)[8].as_u64());
  OB_TRY(r.expires_at, (*f)[9].as_u64());
  OB_TRY(r.ends_at, (*f)[10].as_u64());
  OB_TRY(r.started_at, (*f)[11].as_u64());
  OB_TRY(r.price_per_byte_second, (*f)[12].as_uint());
  OB_TRY(r.collateral_per_byte, (*f)[13].as_uint());
  OB_TRY(r.dataset_root, as_hash((*f)[14]));
  OB_TRY(r.escrow, (*f)[15].as_uint());
  OB_TRY(r.forfeited, (*f)[16].as_uint());
  OB_TRY(r.manifest_cid, (*f)[17].as_bytes());
  return r;
}

Result<RequestState> MarketClient::request_state(const U256& request_id) {
  const std::vector<Value> args{request_id};
  OB_TRY(std::vector<Value> out, view("requestState", args));
  return as_state<RequestState>(out.at(0), "request");
}

Result<U256> MarketClient::request_id_of(const Address& client, const wallet::Hash32& nonce) {
  const std::vector<Value> args{client, hash_bytes(nonce)};
  OB_TRY(std::vector<Value> out, view("requestIdOf", args));
  return out.at(0).as_uint();
}

Result<Slot> MarketClient::get_slot(const U256& request_id, std::uint64_t slot_index) {
  const std::vector<Value> args{request_id, slot_index};
  OB_TRY(std::vector<Value> out, view("getSlot", args));
  OB_TRY(const Value::List* f, out.at(0).as_list());
  if (f->size() != 7) return fail(Errc::corrupt, "StorageMarket's getSlot returned ", f->size(), " fields");
  Slot s;
  OB_TRY(s.host, (*f)[0].as_address());
  OB_TRY(s.state, as_state<SlotState>((*f)[1], "slot"));
  OB_TRY(s.slashes, as_small<std::uint8_t>((*f)[2]));
  OB_TRY(s.round, as_small<std::uint16_t>((*f)[3]));
  OB_TRY(s.paid_until, (*f)[4].as_u64());
  OB_TRY(s.collateral, (*f)[5].as_uint());
  OB_TRY(s.filled_period, (*f)[6].as_u64());
  return s;
}

Result<std::uint64_t> MarketClient::current_period() {
  OB_TRY(std::vector<Value> out, view("currentPeriod", {}));
  return out.at(0).as_u64();
}

Result<std::uint64_t> MarketClient::pending_period() {
  OB_TRY(std::vector<Value> out, view("currentPeriod", {}, "pending"));
  return out.at(0).as_u64();
}

Result<Challenge> MarketClient::get_challenge(const U256& request_id, std::uint64_t slot_index, std::uint64_t period) {
  const std::vector<Value> args{request_id, slot_index, period};
  // At the pending block, so that the challenge of the period it begins can be read already.
  OB_TRY(std::vector<Value> out, view("getChallenge", args, "pending"));
  Challenge c;
  OB_TRY(c.required, out.at(0).as_bool());
  OB_TRY(c.segment, out.at(1).as_u64());
  return c;
}

Result<std::pair<bool, bool>> MarketClient::proof_status(const U256& request_id, std::uint64_t slot_index,
                                                         std::uint64_t period) {
  const std::vector<Value> args{request_id, slot_index, period};
  OB_TRY(std::vector<Value> out, view("proofStatus", args));
  OB_TRY(bool submitted, out.at(0).as_bool());
  OB_TRY(bool missed, out.at(1).as_bool());
  return std::pair{submitted, missed};
}

Result<U256> MarketClient::withdrawable(const Address& account) {
  const std::vector<Value> args{account};
  OB_TRY(std::vector<Value> out, view("withdrawable", args));
  return out.at(0).as_uint();
}

Result<U256> MarketClient::accrued_pay(const U256& request_id, std::uint64_t slot_index) {
  const std::vector<Value> args{request_id, slot_index};
  OB_TRY(std::vector<Value> out, view("accruedPay", args));
  return out.at(0).as_uint();
}

Result<wallet::Hash32> MarketClient::fill_permit_digest(const U256& request_id, std::uint64_t slot_index,
                                                        const Address& host, std::uint16_t round) {
  const std::vector<Value> args{request_id, slot_index, host, std::uint64_t{round}};
  OB_TRY(std::vector<Value> out, view("fillPermitDigest", args));
  OB_TRY(merkle::Hash h, as_hash(out.at(0)));
  return h;
}

Result<std::uint64_t> MarketClient::block_number() {
  OB_TRY(json reply, chain_.rpc().call("eth_blockNumber", json::array()));
  OB_TRY(U256 n, U256::from_quantity(reply.is_string() ? reply.get<std::string>() : std::string()));
  const auto number = n.to_u64();
  if (!number) return fail(Errc::corrupt, "the Ethereum node's block number does not fit 64 bits");
  return *number;
}

Result<std::vector<Event>> MarketClient::events(std::uint64_t from_block, const std::optional<U256>& request_id,
                                                std::optional<std::uint64_t> to_block) {
  const auto& abi = contract_abi();
  if (!abi) return std::unexpected(abi.error());
  json filter = {{"address", address_.to_checksum()},
                 {"fromBlock", U256(from_block).to_quantity()},
                 {"toBlock", to_block ? json(U256(*to_block).to_quantity()) : json("latest")}};
  if (request_id) {
    const auto word = request_id->to_be_bytes();
    filter["topics"] = json::array({nullptr, chain::to_data(word)});
  }
  OB_TRY(json logs, chain_.rpc().call("eth_getLogs", json::array({filter})));
  if (!logs.is_array()) return fail(Errc::corrupt, "the Ethereum node's eth_getLogs reply is not a list");
  std::vector<Event> events;
  for (const json& log : logs) {
    if (!log.is_object() || !log.contains("topics") || !log["topics"].is_array() || log["topics"].empty()) {
      return fail(Errc::corrupt, "the Ethereum node sent a malformed log");
    }
    std::vector<Bytes> topics;
    for (const json& t : log["topics"]) {
      OB_TRY(Bytes topic, from_data(t, "log topic"));
      if (topic.size() != 32) return fail(Errc::corrupt, "the Ethereum node sent a log topic of ", topic.size(), " bytes");
      topics.push_back(std::move(topic));
    }
    wallet::Hash32 topic0{};
    std::copy(topics[0].begin(), topics[0].end(), topic0.begin());
    const auto it = abi->events.find(topic0);
    if (it == abi->events.end()) continue;  // not one of ours (cannot happen for our address)
    const Entry& entry = it->second;
    Event event;
    event.name = entry.name;
    OB_TRY(event.block_number, [&]() -> Result<std::uint64_t> {
      OB_TRY(U256 n, U256::from_quantity(log.value("blockNumber", "")));
      return n.to_u64().value_or(0);
    }());
    OB_TRY(Bytes tx, from_data(log.value("transactionHash", json()), "log transaction hash"));
    if (tx.size() == 32) std::copy(tx.begin(), tx.end(), event.transaction.begin());
    std::vector<Type> data_types;
    std::vector<const Param*> data_params;
    std::size_t topic = 1;
    for (const Param& p : entry.inputs) {
      if (p.indexed) {
        if (topic >= topics.size()) return fail(Errc::corrupt, "a ", entry.name, " log lacks its indexed fields");
        OB_TRY(std::vector<Value> v, chain::abi::decode(std::vector<Type>{p.type}, topics[topic++]));
        event.fields[p.name] = std::move(v[0]);
      } else {
        data_types.push_back(p.type);
        data_params.push_back(&p);
      }
    }
    OB_TRY(Bytes data, from_data(log.value("data", json()), "log data"));
    auto decoded = chain::abi::decode(data_types, data);
    if (!decoded) return fail(Errc::corrupt, "a ", entry.name, " log: ", decoded.error().message);
    for (std::size_t i = 0; i < data_params.size(); ++i) event.fields[data_params[i]->name] = std::move((*decoded)[i]);
    if (request_id && (entry.inputs.empty() || entry.inputs.front().name != "requestId")) continue;
    events.push_back(std::move(event));
  }
  return events;
}

std::string Withdrawal::summary() const {
  return "Withdrew " + wallet::format_eth(amount) + " ETH (" + amount.to_decimal() + " wei) to " + account.to_checksum();
}

Result<Withdrawal> withdraw_balance(MarketClient& market, const wallet::PrivateKey& key) {
  Withdrawal out;
  out.account = key.address();
  OB_TRY(out.amount, market.withdrawable(out.account));
  if (out.amount.is_zero()) {
    return fail(Errc::invalid_argument, "Nothing to withdraw: ", out.account.to_checksum(),
                " has no balance in the storage market");
  }
  OB_TRY(out.receipt, market.withdraw(key));
  return out;
}

}  // namespace ob::market
