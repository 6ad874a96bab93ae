// `open-bucket consumer start|stop|config|slots|earnings|withdraw` (seed 000 "Consumer"), through the daemon's
// REST API (api/consumer_routes.h). start and config start a daemon when none runs; stop does
// not (with no daemon the consumer is not running: it is only marked stopped for the next one).
#include <unistd.h>

#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/units.h"
#include "node/consumer/consumer.h"
#include "node/daemon.h"
#include "node/home.h"
#include "wallet/amount.h"
#include "wallet/uint256.h"

namespace ob::cli {
namespace {

struct ConfigOptions {
  bool detach = false;
  std::optional<std::string> directory;
  std::optional<std::string> limit;
  std::optional<bool> start_on_startup;
  std::optional<std::string> account;
  std::optional<std::string> price;  ///< wei per byte-second, checked by the daemon
  bool json = false;
};

/// Asks `question` on the terminal; an empty answer keeps `current`.
std::string ask(const std::string& question, const std::string& current) {
  std::cout << question << (current.empty() ? "" : " [" + current + "]") << ": " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer) || answer.empty()) return current;
  return answer;
}

int cmd_start(const std::optional<std::string>& home, bool json) {
  auto client = daemon_client(home, /*start=*/true);
  if (!client) return report(client.error());
  // Seed 000 steps 2 and 3 (optional), on a terminal: the default Ethereum account, then the
  // consumer's account when its config has none.
  if (::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO)) {
    auto dir = resolve_home(home);
    if (!dir) return report(dir.error());
    AccountStep ask;
    ask.interactive = true;
    if (const int code = ensure_default_account(*dir, ask); code != 0) return code;
    auto current = client->get_json("/v1/consumer/slots");
    if (!current) return report(current.error());
    if (current->value("account", std::string()).empty()) {
      auto chosen = choose_account(*dir, "the consumer is paid to");
      if (!chosen) return report(chosen.error());
      if (*chosen) {
        auto applied = client->post_json("/v1/consumer/configs", nlohmann::json{{"account", **chosen}});
        if (!applied) return report(applied.error());
      }
    }
  }
  auto reply = client->post_json("/v1/consumer/start", nlohmann::json::object());
  if (!reply) return report(reply.error());
  print_reply(*reply, json);
  return 0;
}

int cmd_stop(const std::optional<std::string>& home, bool json) {
  auto dir = resolve_home(home);
  if (!dir) return report(dir.error());
  if (!running_daemon(*dir)) {
    // No daemon, no consumer running; make sure the next daemon does not start it again.
    if (auto forgot = consumer::Consumer::forget_started(*dir); !forgot) return report(forgot.error());
    print_reply(nlohmann::json{{"msg", "Consumer had already stopped"}}, json);
    return 0;
  }
  auto client = daemon_client(home, /*start=*/false);
  if (!client) return report(client.error());
  auto reply = client->post_json("/v1/consumer/stop", nlohmann::json::object());
  if (!reply) return report(reply.error());
  print_reply(*reply, json);
  return 0;
}

/// "yes"/"no" and the usual spellings as a boolean.
std::optional<bool> parse_bool(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "true" || text == "yes" || text == "y" || text == "1") return true;
  if (text == "false" || text == "no" || text == "n" || text == "0") return false;
  return std::nullopt;
}

int cmd_config(const std::optional<std::string>& home, ConfigOptions o) {
  auto client = daemon_client(home, /*start=*/true);
  if (!client) return report(client.error());
  const bool interactive = !o.detach && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  if (interactive) {
    auto current = client->get_json("/v1/consumer/slots");
    if (!current) return report(current.error());
    if (!o.directory) o.directory = ask("Consumer directory (slots of others' files)", string_field(*current, "directory"));
    if (!o.limit) o.limit = ask("Limit, e.g. \"10 GB\"", string_field(*current, "limit"));
    if (!o.account) {
      auto dir = resolve_home(home);
      if (!dir) return report(dir.error());
      auto chosen = choose_account(*dir, "the consumer is paid to");
      if (!chosen) return report(chosen.error());
      o.account = *chosen;
    }
    if (!o.start_on_startup) {
      const std::string answer = ask("Start the consumer when you log in? (yes/no)", "keep");
      if (answer != "keep") {
        o.start_on_startup = parse_bool(answer);
        if (!o.start_on_startup) return report(Error{Errc::invalid_argument, "Invalid startOnStartup: answer yes or no"});
      }
    }
  }
  nlohmann::json body = nlohmann::json::object();
  if (o.directory) {
    // Relative to where the command runs, not to the daemon.
    std::error_code ec;
    const std::filesystem::path path =
        o.directory->starts_with("~") ? std::filesystem::path(*o.directory) : std::filesystem::absolute(*o.directory, ec);
    if (ec || o.directory->empty()) return report(Error{Errc::invalid_argument, "Invalid directory"});
    body["directory"] = path.string();
  }
  if (o.limit) {
    // Checked here too, for a message that says why.
    if (auto bytes = parse_size(*o.limit); !bytes) {
      return report(Error{Errc::invalid_argument, "Invalid limit: " + bytes.error().message});
    }
    body["limit"] = *o.limit;
  }
  if (o.start_on_startup) body["startOnStartup"] = *o.start_on_startup;
  if (o.account) body["account"] = *o.account;
  if (o.price) body["price"] = *o.price;
  auto reply = client->post_json("/v1/consumer/configs", body);
  if (!reply) return report(reply.error());
  print_reply(*reply, o.json);
  return 0;
}

/// GET `path` (a listing with a "slots" array) from the running daemon. With `json` it prints
/// the reply and returns nullopt; else the reply, for the caller's table. Errors: no daemon,
/// the daemon's reply, (corrupt) a reply without its "slots".
Result<std::optional<nlohmann::json>> fetch_listing(const std::optional<std::string>& home, const std::string& path,
                                                    bool json) {
  OB_TRY(api::RestClient client, daemon_client(home, /*start=*/false));
  OB_TRY(nlohmann::json reply, client.get_json(path));
  if (json) {
    print_reply(reply, true);
    return std::nullopt;
  }
  if (!reply.is_object() || !reply.contains("slots") || !reply["slots"].is_array()) {
    return fail(Errc::corrupt, "the daemon's reply to ", path, " is not the documented JSON");
  }
  return reply;
}

int cmd_slots(const std::optional<std::string>& home, bool json) {
  auto reply = fetch_listing(home, "/v1/consumer/slots", json);
  if (!reply) return report(reply.error());
  if (!*reply) return 0;
  const nlohmann::json& r = **reply;
  const auto number = [](const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<std::uint64_t>() : 0;
  };
  std::cout << "Consumer " << (r.contains("started") && r["started"] == true ? "started" : "stopped") << ", directory "
            << string_field(r, "directory") << "\n"
            << "Used " << format_size(number(r, "usedBytes")) << " of " << format_size(number(r, "limitBytes")) << " in "
            << r["slots"].size() << " slot" << (r["slots"].size() == 1 ? "" : "s") << "\n";
  if (r["slots"].empty()) return 0;
  std::cout << "\n" << std::left << std::setw(66) << "FILE ID" << std::setw(6) << "SLOT" << "SIZE\n";
  for (const nlohmann::json& slot : r["slots"]) {
    if (!slot.is_object()) continue;
    std::cout << std::left << std::setw(66) << string_field(slot, "fileId") << std::setw(6)
              << number(slot, "slot") << format_size(number(slot, "bytes")) << "\n";
  }
  return 0;
}

/// A wei amount from a reply (a decimal string) as "0.0015 ETH"; the text itself if it is not one.
std::string eth(const nlohmann::json& reply, const char* key) {
  const std::string wei_text = string_field(reply, key);
  const auto wei = wallet::U256::from_decimal(wei_text);
  return wei ? wallet::format_eth(*wei) + " ETH" : wei_text;
}

int cmd_earnings(const std::optional<std::string>& home, bool json) {
  auto reply = fetch_listing(home, "/v1/consumer/earnings", json);
  if (!reply) return report(reply.error());
  if (!*reply) return 0;
  const nlohmann::json& r = **reply;
  std::cout << "Account " << string_field(r, "account") << ": " << eth(r, "withdrawable") << " to withdraw\n";
  if (r["slots"].empty()) return 0;
  std::cout << "\n" << std::left << std::setw(10) << "REQUEST" << std::setw(6) << "SLOT" << std::setw(8) << "STATE"
            << std::setw(24) << "ACCRUED PAY" << std::setw(24) << "COLLATERAL" << "FILE ID\n";
  for (const nlohmann::json& slot : r["slots"]) {
    if (!slot.is_object()) continue;
    std::cout << std::left << std::setw(10) << string_field(slot, "requestId") << std::setw(6)
              << (slot.contains("slot") ? slot["slot"].dump() : "") << std::setw(8) << string_field(slot, "state")
              << std::setw(24) << eth(slot, "accruedPay") << std::setw(24) << eth(slot, "collateral")
              << string_field(slot, "fileId") << (slot.contains("error") ? "  (" + string_field(slot, "error") + ")" : "") << "\n";
  }
  return 0;
}

int cmd_withdraw(const std::optional<std::string>& home, bool json) {
  auto client = daemon_client(home, /*start=*/false);
  if (!client) return report(client.error());
  auto reply = client->post_json("/v1/consumer/withdraw", nlohmann::json::object());
  if (!reply) return report(reply.error());
  print_reply(*reply, json);
  return 0;
}

}  // namespace

CommandRunner add_consumer_commands(CLI::App& app, const std::optional<std::string>& home) {
  auto* consumer = app.add_subcommand("consumer", "Consumer: lend disk space to the network by storing slots of other people's files");
  consumer->require_subcommand(1);

  auto start_json = std::make_shared<bool>(false);
  auto* start = consumer->add_subcommand("start", "Start the consumer (starts the daemon if none runs)");
  start->add_flag("--json", *start_json, "Print the daemon's JSON reply");

  auto stop_json = std::make_shared<bool>(false);
  auto* stop = consumer->add_subcommand("stop", "Stop the consumer; the daemon keeps running");
  stop->add_flag("--json", *stop_json, "Print the daemon's JSON reply");

  auto options = std::make_shared<ConfigOptions>();
  auto* config = consumer->add_subcommand(
      "config",
      "Change the consumer's directory, limit, account, price and start on startup; asks on a terminal unless -d");
  config->add_flag("-d,--detach", options->detach, "Ask nothing: change only the options given");
  config->add_option("-r,--directory", options->directory, "Consumer directory; its slots are moved there");
  config->add_option("-l,--limit", options->limit, "Most space for slots, e.g. \"10 GB\"; lowering it gives up slots");
  config->add_option("-c,--account", options->account,
                     "Wallet account the consumer is paid to (name or address; see `open-bucket wallet ls`)");
  config->add_option("--price", options->price,
                     "Price asked for paid-tier slots, in wei per byte of slot per second (0: Free tier only); "
                     "paid-tier slots are filled from the account");
  config->add_option("-s,--start-on-startup", options->start_on_startup,
                     "Start the daemon and the consumer when you log in (true/false)");
  config->add_flag("--json", options->json, "Print the daemon's JSON reply");

  auto slots_json = std::make_shared<bool>(false);
  auto* slots = consumer->add_subcommand("slots", "List the slots the consumer holds (needs a running daemon)");
  slots->add_flag("--json", *slots_json, "Print JSON");

  auto earnings_json = std::make_shared<bool>(false);
  auto* earnings = consumer->add_subcommand(
      "earnings", "Show the Ether earned in the storage market: withdrawable, and per filled slot (needs a running daemon)");
  earnings->add_flag("--json", *earnings_json, "Print JSON");

  auto withdraw_json = std::make_shared<bool>(false);
  auto* withdraw = consumer->add_subcommand(
      "withdraw", "Withdraw the consumer account's whole balance from the storage market (needs a running daemon)");
  withdraw->add_flag("--json", *withdraw_json, "Print the daemon's JSON reply");

  return [=, &home]() -> std::optional<int> {
    if (start->parsed()) return cmd_start(home, *start_json);
    if (earnings->parsed()) return cmd_earnings(home, *earnings_json);
    if (withdraw->parsed()) return cmd_withdraw(home, *withdraw_json);
    if (stop->parsed()) return cmd_stop(home, *stop_json);
    if (config->parsed()) return cmd_config(home, *options);
    if (slots->parsed()) return cmd_slots(home, *slots_json);
    return std::nullopt;
  };
}

}  // namespace ob::cli
