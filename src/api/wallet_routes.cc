#include "api/wallet_routes.h"

#include <openssl/evp.h>

#include "api/http.h"
#include "wallet/amount.h"
#include "wallet/bip32.h"
#include "wallet/eip681.h"
#include "wallet/qr.h"

namespace ob::api {
namespace {

using nlohmann::json;
using wallet::Account;

JsonReply message(int status, std::string text) { return {status, json{{"msg", std::move(text)}}}; }
JsonReply error_reply(const Error& e) { return message(http_status(e.code), e.message); }

/// A string field of the body; nullopt when absent or null. `bad` is set when it is not a string.
std::optional<std::string> text_field(const json& body, const char* key, bool& bad) {
  if (!body.is_object()) return std::nullopt;
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    bad = true;
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::string base64(ByteView bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string label(const Account& a) { return a.name + " (" + a.address.to_checksum() + ")"; }

struct Routes {
  wallet::WalletStore store;
  chain::ChainSettings chain;

  JsonReply list() {
    auto accounts = store.accounts();
    if (!accounts) return error_reply(accounts.error());
    chain::ChainSettings quick = chain;
    quick.rpc_options.connect_timeout = std::chrono::milliseconds(3000);
    quick.rpc_options.timeout = std::chrono::milliseconds(5000);
    std::optional<chain::ChainClient> client;
    if (!accounts->empty()) {
      if (auto connected = chain::ChainClient::connect(quick)) client.emplace(std::move(*connected));
    }
    json out = json::array();
    for (const Account& a : *accounts) {
      json entry = account_json(a);
      std::optional<wallet::U256> balance;
      if (client) {
        if (auto got = client->balance(a.address)) {
          balance = *got;
        } else {
          client.reset();  // one failure is enough to know the chain is not answering
        }
      }
      entry["balance"] = balance ? json(balance->to_decimal()) : json(nullptr);
      entry["balanceEth"] = balance ? json(wallet::format_eth(*balance)) : json(nullptr);
      out.push_back(std::move(entry));
    }
    return {200, out};
  }

  JsonReply add(const json& body) {
    if (!body.is_object()) return message(400, "the request body must be a JSON object");
    bool bad = false;
    const auto name = text_field(body, "name", bad).value_or("");
    const auto passphrase = text_field(body, "passphrase", bad);
    const auto mnemonic = text_field(body, "mnemonic", bad);
    const auto private_key = text_field(body, "privateKey", bad);
    if (bad) return message(400, "name, passphrase, mnemonic and privateKey must be strings");
    if (!passphrase) return message(400, "a passphrase is needed");
    std::optional<std::string> keystore;
    if (const auto it = body.find("keystore"); it != body.end() && !it->is_null()) {
      keystore = it->is_string() ? it->get<std::string>() : it->dump();
    }
    const bool create = body.contains("words") || (!mnemonic && !private_key && !keystore);
    if ((create ? 1 : 0) + (mnemonic ? 1 : 0) + (private_key ? 1 : 0) + (keystore ? 1 : 0) != 1) {
      return message(400, "give one of words, mnemonic, privateKey and keystore");
    }
    if (create) {
      std::size_t words = 12;
      if (const auto it = body.find("words"); it != body.end()) {
        if (!it->is_number_unsigned() || (it->get<std::uint64_t>() != 12 && it->get<std::uint64_t>() != 24)) {
          return message(400, "words must be 12 or 24");
        }
        words = it->get<std::size_t>();
      }
      auto created = store.create(words, name, *passphrase);
      if (!created) return error_reply(created.error());
      JsonReply reply = added(created->account, "created");
      reply.body["mnemonic"] = created->mnemonic.phrase();
      return reply;
    }
    Result<Account> account = fail(Errc::internal, "no source");
    if (mnemonic) {
      std::uint32_t index = 0;
      if (const auto it = body.find("index"); it != body.end() && !it->is_null()) {
        if (!it->is_number_unsigned() || it->get<std::uint64_t>() >= wallet::kHardened) {
          return message(400, "index must be a whole number below 2^31");
        }
        index = static_cast<std::uint32_t>(it->get<std::uint64_t>());
      }
      auto parsed = wallet::Mnemonic::parse(*mnemonic);
      if (!parsed) return error_reply(parsed.error());
      account = store.import_mnemonic(*parsed, index, name, *passphrase);
    } else if (private_key) {
      account = store.import_private_key(*private_key, name, *passphrase);
    } else {
      account = store.import_keystore(*keystore, name, *passphrase);
    }
    if (!account) return error_reply(account.error());
    return added(*account, "imported");
  }

  JsonReply added(const Account& account, const char* verb) {
    json out = account_json(account);
    out["msg"] = "Account " + account.name + " " + verb;
    out["keystore"] = (store.keystore_dir() / account.keystore).string();
    return {200, out};
  }

  JsonReply set_default(const json& body) {
    bool bad = false;
    const auto which = text_field(body, "account", bad);
    if (bad || !which) return message(400, "Invalid account");
    auto account = store.set_default(*which);
    if (!account) return error_reply(account.error());
    json out = account_json(*account);
    out["msg"] = "Default account is " + label(*account);
    return {200, out};
  }

  JsonReply balance(const std::string& address_text) {
    auto address = wallet::Address::parse(address_text);
    if (!address) return error_reply(address.error());
    auto client = chain::ChainClient::connect(chain);
    if (!client) return error_reply(client.error());
    auto balance = client->balance(*address);
    if (!balance) return error_reply(balance.error());
    return {200, json{{"address", address->to_checksum()}, {"wei", balance->to_decimal()},
                      {"eth", wallet::format_eth(*balance)}, {"chainId", client->chain_id()}}};
  }

  JsonReply send(const json& body) {
    bool bad = false;
    const auto to_text = text_field(body, "to", bad);
    const auto amount = text_field(body, "amount", bad);
    const auto passphrase = text_field(body, "passphrase", bad);
    const auto from_text = text_field(body, "from", bad).value_or("");
    if (bad || !to_text || !amount || !passphrase) return message(400, "to, amount and passphrase are needed, as strings");
    auto to = wallet::Address::parse(*to_text);
    if (!to) return error_reply(to.error());
    auto value = wallet::parse_amount(*amount);
    if (!value) return error_reply(value.error());
    if (value->is_zero()) return message(400, "invalid amount '" + *amount + "': send more than 0");
    auto from = store.find_or_default(from_text);
    if (!from) return error_reply(from.error());
    auto client = chain::ChainClient::connect(chain);
    if (!client) return error_reply(client.error());
    auto key = store.unlock(*from, *passphrase);
    if (!key) return error_reply(key.error());
    auto sent = client->send_transaction(*key, *to, *value);
    if (!sent) return error_reply(sent.error());
    json out = sent_json(*sent);
    out["msg"] = "Sent " + wallet::format_eth(*value) + " ETH to " + to->to_checksum() + " in " +
                 chain::to_data(sent->signed_tx.hash);
    return {200, out};
  }

  JsonReply request(const json& body) {
    bool bad = false;
    const auto amount = text_field(body, "amount", bad);
    const auto which = text_field(body, "account", bad).value_or("");
    if (bad || !amount) return message(400, "amount is needed, as a string");
    auto value = wallet::parse_amount(*amount);
    if (!value) return error_reply(value.error());
    if (value->is_zero()) return message(400, "invalid amount '" + *amount + "': ask for more than 0");
    auto account = store.find_or_default(which);
    if (!account) return error_reply(account.error());
    auto chain_id = chain::resolve_chain_id(chain);
    if (!chain_id) return error_reply(chain_id.error());
    const std::string uri = wallet::payment_request_uri(account->address, *chain_id, *value);
    auto qr = wallet::QrCode::encode(uri);
    if (!qr) return error_reply(qr.error());
    auto png = qr->to_png();
    if (!png) return error_reply(png.error());
    return {200, json{{"uri", uri}, {"address", account->address.to_checksum()}, {"name", account->name},
                      {"chainId", *chain_id}, {"value", value->to_decimal()},
                      {"valueEth", wallet::format_eth(*value)}, {"png", base64(*png)}}};
  }
};

}  // namespace

json account_json(const Account& a) {
  return {{"name", a.name}, {"address", a.address.to_checksum()}, {"default", a.is_default},
          {"origin", a.origin}, {"keystore", a.keystore}};
}

json sent_json(const chain::SentTransaction& sent) {
  const chain::Eip1559Transaction& tx = sent.tx;
  return {{"hash", chain::to_data(sent.signed_tx.hash)},
          {"from", sent.from.to_checksum()},
          {"to", tx.to ? json(tx.to->to_checksum()) : json(nullptr)},
          {"value", tx.value.to_decimal()},
          {"valueEth", wallet::format_eth(tx.value)},
          {"chainId", tx.chain_id},
          {"nonce", tx.nonce},
          {"gasLimit", tx.gas_limit},
          {"maxFeePerGas", tx.max_fee_per_gas.to_decimal()},
          {"maxPriorityFeePerGas", tx.max_priority_fee_per_gas.to_decimal()},
          {"blockNumber", sent.receipt.block_number},
          {"gasUsed", sent.receipt.gas_used},
          {"effectiveGasPrice", sent.receipt.effective_gas_price.to_decimal()},
          {"fee", sent.receipt.fee().to_decimal()},
          {"feeEth", wallet::format_eth(sent.receipt.fee())},
          {"raw", chain::to_data(sent.signed_tx.raw)}};
}

std::vector<JsonRoute> wallet_routes(const std::filesystem::path& home_dir, chain::ChainSettings chain) {
  auto routes = std::make_shared<Routes>(Routes{wallet::WalletStore(home_dir), std::move(chain)});
  return {
      {"GET", "/v1/wallet/accounts", [routes](const json&) { return routes->list(); }},
      {"POST", "/v1/wallet/accounts", [routes](const json& body) { return routes->add(body); }},
      {"POST", "/v1/wallet/default", [routes](const json& body) { return routes->set_default(body); }},
      {"GET", "/v1/wallet/accounts/{address}/balance", {},
       [routes](const std::string& address, const json&) { return routes->balance(address); }},
      {"POST", "/v1/wallet/send", [routes](const json& body) { return routes->send(body); }},
      {"POST", "/v1/wallet/request", [routes](const json& body) { return routes->request(body); }},
  };
}

}  // namespace ob::api
