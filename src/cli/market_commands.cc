// `open-bucket market requests|request`: the storage market's state read from the chain
// (market/market_client.h, docs/market.md): what seed 001's market client shows of each
// file's contract. Read-only: nothing is signed or sent.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/cid.h"
#include "market/market_client.h"
#include "node/home.h"
#include "wallet/amount.h"

namespace ob::cli {
namespace {

using nlohmann::json;

struct MarketFlags {
  std::optional<std::string> rpc;
  std::string market;
  bool json_output = false;
  std::string request_id;
};

/// The market named by the flags: --rpc, else [chain] rpc (and chain_id) of the home's config.
Result<market::MarketClient> open_market(const std::optional<std::string>& home_flag, const MarketFlags& flags) {
  chain::ChainSettings settings;
  if (flags.rpc) {
    settings.rpc = *flags.rpc;
  } else {
    OB_TRY(std::filesystem::path dir, resolve_home(home_flag));
    OB_TRY(Home home, Home::open(dir));
    settings.rpc = home.config().chain_rpc;
    settings.chain_id = home.config().chain_id;
  }
  OB_TRY(wallet::Address address, wallet::Address::parse(flags.market));
  OB_TRY(chain::ChainClient chain, chain::ChainClient::connect(settings));
  return market::MarketClient::open(std::move(chain), address);
}

std::string cid_text(ByteView bytes) {
  auto cid = Cid::from_bytes(bytes);
  return cid ? cid->to_string() : "0x" + to_hex(bytes);
}

json request_json(const wallet::U256& id, const market::Request& r, market::RequestState now) {
  return {{"requestId", id.to_decimal()},
          {"state", market::to_string(now)},
          {"client", r.client.to_checksum()},
          {"placer", r.placer.to_checksum()},
          {"manifestCid", cid_text(r.manifest_cid)},
          {"datasetRoot", "0x" + to_hex(r.dataset_root)},
          {"n", r.n},
          {"k", r.k},
          {"filled", r.filled},
          {"blockSize", r.block_size},
          {"slotSize", r.slot_size},
          {"proofProbability", r.proof_probability},
          {"expiresAt", r.expires_at},
          {"endsAt", r.ends_at},
          {"startedAt", r.started_at},
          {"pricePerByteSecond", r.price_per_byte_second.to_decimal()},
          {"collateralPerByte", r.collateral_per_byte.to_decimal()},
          {"escrowWei", r.escrow.to_decimal()},
          {"forfeitedWei", r.forfeited.to_decimal()}};
}

int cmd_requests(const std::optional<std::string>& home, const MarketFlags& flags) {
  auto market = open_market(home, flags);
  if (!market) return report(market.error());
  auto count = market->request_count();
  if (!count) return report(count.error());
  json out = json::array();
  // IDs are 1..count; a listing stops at 10 000 (a real market would be read by events).
  const std::uint64_t n = std::min<std::uint64_t>(count->to_u64().value_or(10'000), 10'000);
  for (std::uint64_t i = 1; i <= n; ++i) {
    auto request = market->get_request(i);
    if (!request) return report(request.error());
    auto now = market->request_state(i);
    if (!now) return report(now.error());
    out.push_back(request_json(i, *request, *now));
  }
  if (flags.json_output) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const json& r : out) {
    std::cout << r["requestId"].get<std::string>() << "  " << r["state"].get<std::string>() << "  "
              << r["filled"].get<int>() << "/" << r["n"].get<int>() << " slots  escrow "
              << wallet::format_eth(*wallet::U256::from_decimal(r["escrowWei"].get<std::string>())) << " ETH  "
              << r["manifestCid"].get<std::string>() << "\n";
  }
  if (out.empty()) std::cout << "No storage requests.\n";
  return 0;
}

int cmd_request(const std::optional<std::string>& home, const MarketFlags& flags) {
  const auto id = wallet::U256::from_decimal(flags.request_id);
  if (!id || id->is_zero()) {
    return report(Error{Errc::invalid_argument, "not a request ID: " + flags.request_id + " (1, 2, ...)"});
  }
  auto market = open_market(home, flags);
  if (!market) return report(market.error());
  auto request = market->get_request(*id);
  if (!request) return report(request.error());
  auto now = market->request_state(*id);
  if (!now) return report(now.error());
  json out = request_json(*id, *request, *now);
  json slots = json::array();
  for (std::uint32_t i = 0; i < request->n; ++i) {
    auto slot = market->get_slot(*id, i);
    if (!slot) return report(slot.error());
    slots.push_back({{"index", i},
                     {"state", market::to_string(slot->state)},
                     {"host", slot->round == 0 ? json() : json(slot->host.to_checksum())},
                     {"round", slot->round},
                     {"slashes", slot->slashes},
                     {"collateralWei", slot->collateral.to_decimal()}});
  }
  out["slots"] = slots;
  if (flags.json_output) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "Request " << flags.request_id << ": " << out["state"].get<std::string>() << ", "
            << static_cast<int>(request->filled) << " of " << static_cast<int>(request->n) << " slots filled\n"
            << "File: " << out["manifestCid"].get<std::string>() << "\n"
            << "Client: " << request->client.to_checksum() << "\n"
            << "Escrow left: " << wallet::format_eth(request->escrow) << " ETH\n";
  for (const json& s : slots) {
    std::cout << "  slot " << s["index"].get<int>() << "  " << s["state"].get<std::string>() << "  "
              << (s["host"].is_null() ? std::string("-") : s["host"].get<std::string>()) << "\n";
  }
  return 0;
}

}  // namespace

CommandRunner add_market_commands(CLI::App& app, const std::optional<std::string>& home) {
  auto flags = std::make_shared<MarketFlags>();
  auto* market = app.add_subcommand("market", "Read the storage market on chain (each paid file's storage request)");
  market->require_subcommand(1);
  const auto common = [&](CLI::App* command) {
    command->add_option("--rpc", flags->rpc, "Ethereum JSON-RPC URL (default: [chain] rpc of config.toml)");
    command->add_option("--market", flags->market, "The StorageMarket contract's address")->required();
    command->add_flag("--json", flags->json_output, "Print JSON");
  };
  auto* requests = market->add_subcommand("requests", "List every storage request: state, slots filled, escrow left");
  common(requests);
  auto* request = market->add_subcommand("request", "Show one storage request and its slots (hosts, states)");
  common(request);
  request->add_option("ID", flags->request_id, "The request ID (1, 2, ...)")->required();
  return [requests, request, flags, &home]() -> std::optional<int> {
    if (requests->parsed()) return cmd_requests(home, *flags);
    if (request->parsed()) return cmd_request(home, *flags);
    return std::nullopt;
  };
}

}  // namespace ob::cli
