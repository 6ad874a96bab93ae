// `open-bucket market requests|request|holders`: the storage market's state read from the chain
// (market/market_client.h, docs/market.md): what seed 001's market client shows of each
// file's contract; `holders` asks the tracker (seed 001's CheckHolders) who holds each slot and
// adds, for a paid file, what the chain says of that slot. Read-only: nothing is signed or sent.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/cid.h"
#include "market/market_client.h"
#include "net/identity.h"
#include "net/tls.h"
#include "node/home.h"
#include "tracker/tracker_client.h"
#include "wallet/amount.h"

namespace ob::cli {
namespace {

using nlohmann::json;

struct MarketFlags {
  std::optional<std::string> rpc;
  std::string market;
  bool json_output = false;
  std::string request_id;
  std::string file_id;                 // holders
  std::optional<std::string> tracker;  // holders: host:port, else [tracker] address
};

namespace pb = openbucket::tracker::v1;

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

/// The newest storage request for the file `cid` (binary), preferring one that still runs;
/// nullopt when there is none. Reads at most the newest 10 000 requests (as `requests` does).
Result<std::optional<std::pair<wallet::U256, market::Request>>> request_for(market::MarketClient& market,
                                                                            ByteView cid) {
  OB_TRY(const wallet::U256 count, market.request_count());
  const std::uint64_t newest = count.to_u64().value_or(UINT64_MAX);
  std::optional<std::pair<wallet::U256, market::Request>> ended;
  for (std::uint64_t id = newest, seen = 0; id >= 1 && seen < 10'000; --id, ++seen) {
    OB_TRY(market::Request request, market.get_request(id));
    if (!std::ranges::equal(request.manifest_cid, cid)) continue;
    OB_TRY(const market::RequestState now, market.request_state(id));
    if (now == market::RequestState::New || now == market::RequestState::Started) return std::pair(wallet::U256(id), request);
    if (!ended) ended = std::pair(wallet::U256(id), std::move(request));
  }
  return ended;
}

int cmd_holders(const std::optional<std::string>& home_flag, MarketFlags flags) {
  const auto cid = Cid::parse(flags.file_id);
  if (!cid) return report(Error{Errc::invalid_argument, "not a file ID: " + flags.file_id});
  const auto run = [&]() -> Result<json> {
    OB_TRY(std::filesystem::path dir, resolve_home(home_flag));
    OB_TRY(Home home, Home::open(dir));
    const std::string where = flags.tracker.value_or(home.config().tracker);
    if (where.empty()) return fail(Errc::invalid_argument, "no tracker: pass --tracker or set [tracker] address");
    OB_TRY(tracker::TrackerAddress address, tracker::TrackerAddress::parse(where));
    OB_TRY(net::Identity identity, net::Identity::load_or_create(home.identity_key_path()));
    OB_TRY(net::TlsIdentity tls, net::make_tls_identity(identity));
    tracker::TrackerClient client = tracker::TrackerClient::connect(address, tls);
    pb::CheckHoldersRequest request;
    request.set_file_id(flags.file_id);
    pb::CheckHoldersReply holders;
    auto context = tracker::call_context(std::chrono::seconds(10));
    if (const grpc::Status status = client.market().CheckHolders(context.get(), request, &holders); !status.ok()) {
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        return fail(Errc::not_found, "File `", flags.file_id, "` not exists");
      }
      return std::unexpected(tracker::call_error("asking the tracker who holds " + flags.file_id, status));
    }
    // A paid file: its request on the market the tracker runs (or --market), slot by slot.
    if (flags.market.empty()) {
      pb::GetMarketReply reply;
      auto market_context = tracker::call_context(std::chrono::seconds(10));
      const grpc::Status status = client.market().GetMarket(market_context.get(), pb::GetMarketRequest(), &reply);
      if (!status.ok()) return std::unexpected(tracker::call_error("asking the tracker for its market", status));
      if (reply.has_market()) flags.market = reply.market().address();
    }
    json out{{"fileId", flags.file_id}, {"requestId", nullptr}, {"requestState", nullptr}};
    std::map<std::uint32_t, market::Slot> on_chain;
    if (!flags.market.empty()) {
      OB_TRY(market::MarketClient market, open_market(home_flag, flags));
      OB_TRY(auto found, request_for(market, cid->to_bytes()));
      if (found) {
        OB_TRY(const market::RequestState now, market.request_state(found->first));
        out["requestId"] = found->first.to_decimal();
        out["requestState"] = market::to_string(now);
        for (std::uint32_t i = 0; i < found->second.n; ++i) {
          OB_TRY(on_chain[i], market.get_slot(found->first, i));
        }
      }
    }
    json rows = json::array();
    for (const pb::SlotHolder& h : holders.holders()) {
      json row{{"slot", h.slot()},
               {"peerId", h.consumer().peer_id()},
               {"addresses", json(std::vector<std::string>(h.consumer().addresses().begin(), h.consumer().addresses().end()))},
               {"stored", h.stored()}};
      if (const auto it = on_chain.find(h.slot()); it != on_chain.end()) {
        row["host"] = it->second.round == 0 ? json() : json(it->second.host.to_checksum());
        row["slotState"] = market::to_string(it->second.state);
      }
      rows.push_back(std::move(row));
    }
    out["holders"] = std::move(rows);
    return out;
  };
  auto out = run();
  if (!out) return report(out.error());
  if (flags.json_output) {
    std::cout << out->dump(2) << "\n";
    return 0;
  }
  const json& o = *out;
  std::cout << "File " << flags.file_id;
  if (!o["requestId"].is_null()) {
    std::cout << ": storage request " << o["requestId"].get<std::string>() << " (" << o["requestState"].get<std::string>()
              << ")";
  }
  std::cout << "\n";
  if (o["holders"].empty()) std::cout << "No consumer holds a slot.\n";
  for (const json& h : o["holders"]) {
    std::cout << "  slot " << h["slot"].get<std::uint32_t>() << "  " << h["peerId"].get<std::string>() << "  "
              << (h["stored"].get<bool>() ? "stored" : "assigned");
    if (h.contains("slotState")) {
      std::cout << "  " << h["slotState"].get<std::string>() << "  "
                << (h["host"].is_null() ? std::string("-") : h["host"].get<std::string>());
    }
    std::cout << "\n";
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
  auto* holders = market->add_subcommand(
      "holders", "Who holds each slot of a file (the tracker's CheckHolders) and, for a paid file, its host and state on chain");
  holders->add_option("CID", flags->file_id, "The file ID")->required();
  holders->add_option("--tracker", flags->tracker, "The tracker, host:port (default: [tracker] address of config.toml)");
  holders->add_option("--rpc", flags->rpc, "Ethereum JSON-RPC URL (default: [chain] rpc of config.toml)");
  holders->add_option("--market", flags->market, "The StorageMarket contract's address (default: the tracker's market)");
  holders->add_flag("--json", flags->json_output, "Print JSON");
  return [requests, request, holders, flags, &home]() -> std::optional<int> {
    if (holders->parsed()) return cmd_holders(home, *flags);
    if (requests->parsed()) return cmd_requests(home, *flags);
    if (request->parsed()) return cmd_request(home, *flags);
    return std::nullopt;
  };
}

}  // namespace ob::cli
