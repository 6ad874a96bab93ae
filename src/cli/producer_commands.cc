// `open-bucket producer start|stop|upload|ls|cp|rm|withdraw|edit|config` (seed 000 "Producer";
// docs/cli.md): each asks the daemon's REST API (api/producer_routes.h) and prints its reply.
// A daemon is started when none runs, except for `stop`. `edit` and `config` ask for what their
// flags leave out, on a terminal and without -d (seed 000's interactive mode).
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/producer_progress.h"
#include "core/cid.h"
#include "node/home.h"
#include "node/producer/producer_state.h"
#include "wallet/amount.h"
#include "wallet/uint256.h"

namespace ob::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ProducerFlags {
  // upload
  std::string path;
  std::optional<std::uint32_t> availability, k, m;
  std::string tier = "free";
  bool no_wait = false;
  std::optional<std::string> duration, price, account, password_file;  // paid tiers
  // ls
  bool local = false;
  bool json = false;
  // cp, rm, edit, share
  std::string file;  // PATH or FILEID
  std::string destination;
  std::optional<std::string> expires;  // share
  // edit, config
  bool detach = false;
  std::optional<std::string> remote_path, directory;
  std::optional<std::uint32_t> default_availability;
  std::optional<std::string> start_on_startup;
};

bool interactive(bool detach) { return !detach && ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO); }

/// Asks `question` on the terminal; an empty answer keeps `current`.
std::string ask(const std::string& question, const std::string& current) {
  std::cout << question << (current.empty() ? "" : " [" + current + "]") << ": " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer) || answer.empty()) return current;
  return answer;
}

/// A whole number typed by the user, or nullopt.
std::optional<std::uint32_t> parse_count(const std::string& text) {
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// An absolute form of a path the user typed (the daemon has another working directory).
std::string absolute(const std::string& path) {
  if (path.empty() || path.starts_with("~")) return path;  // "~/..." is expanded by the daemon
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

/// {"fileId": ...} when `text` is a file ID, else {path_key: ...}. A path to a file inside the
/// local Producer directory becomes its remote path (relative to that directory).
json file_ref(const std::optional<std::string>& home_flag, const std::string& text, const char* path_key) {
  if (Cid::parse(text)) return {{"fileId", text}};
  std::string remote = text;
  std::error_code ec;
  if (auto dir = resolve_home(home_flag); dir && fs::exists(text, ec)) {
    if (auto home = Home::open(*dir)) {
      const fs::path producer_dir = fs::weakly_canonical(home->producer_dir(), ec);
      const fs::path inside = fs::weakly_canonical(text, ec).lexically_relative(producer_dir);
      if (!ec && !inside.empty() && *inside.begin() != "..") remote = inside.generic_string();
    }
  }
  return {{path_key, remote}};
}

Result<json> post(const std::optional<std::string>& home, const std::string& path, const json& body) {
  OB_TRY(api::RestClient client, daemon_client(home, /*start=*/true));
  return client.post_json(path, body);
}

int print(const Result<json>& reply, bool as_json) {
  if (!reply) return report(reply.error());
  print_reply(*reply, as_json);
  return 0;
}

int cmd_start(const std::optional<std::string>& home) {
  // Seed 000 step 2 (optional): on a terminal, offer to add the default Ethereum account.
  if (interactive(false)) {
    auto dir = resolve_home(home);
    if (!dir) return report(dir.error());
    AccountStep ask;
    ask.interactive = true;
    if (const int code = ensure_default_account(*dir, ask); code != 0) return code;
  }
  return print(post(home, "/v1/producer/start", json::object()), false);
}

int cmd_stop(const std::optional<std::string>& home_flag) {
  auto client = daemon_client(home_flag, /*start=*/false);
  if (client) return print(client->post_json("/v1/producer/stop", json::object()), false);
  if (client.error().code != Errc::not_found) return report(client.error());
  // No daemon: the producer is not running. Make sure the next daemon does not start it again.
  auto dir = resolve_home(home_flag);
  if (!dir) return report(dir.error());
  const fs::path file = *dir / "state" / "producer.json";
  auto state = producer::load_state(file);
  if (!state) return report(state.error());
  if (state->started) {
    state->started = false;
    if (auto saved = producer::save_state(file, *state); !saved) return report(saved.error());
  }
  std::cout << "Producer had already stopped\n";
  return 0;
}

int cmd_upload(const std::optional<std::string>& home, const ProducerFlags& f) {
  json body{{"path", absolute(f.path)}, {"tier", f.tier}};
  if (f.availability) body["availability"] = *f.availability;
  if (f.k) body["k"] = *f.k;
  if (f.m) body["m"] = *f.m;
  if (f.duration) body["duration"] = *f.duration;
  if (f.price) body["price"] = *f.price;
  if (f.account) body["account"] = *f.account;
  if (f.tier != "free") {  // the paying account's passphrase, as the wallet commands read it
    auto passphrase = read_passphrase(f.password_file, "Passphrase of the paying account", false);
    if (!passphrase) return report(passphrase.error());
    body["passphrase"] = *passphrase;
  }
  auto client = daemon_client(home, /*start=*/true);
  if (!client) return report(client.error());
  const std::string name = fs::path(f.path).filename().string();
  auto reply = post_upload(*client, body, name, f.json);
  if (!reply) return report(reply.error());
  if (f.json) {
    print_reply(*reply, true);
  } else {
    std::cout << reply->value("msg", "") << "\n" << "File ID: " << reply->value("id", "") << "\n";
  }
  // On a terminal the command stays until the file is UPLOADED (Ctrl-C leaves it to the daemon).
  if (f.no_wait || !progress_wanted(f.json)) return 0;
  if (auto done = follow_upload(*client, reply->value("id", ""), name); !done) return report(done.error());
  std::cout << "Uploaded\n";
  return 0;
}

/// Prints rows as aligned columns (the last one unpadded).
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i + 1 < row.size()) {
        std::cout << std::left << std::setw(static_cast<int>(width[i] + 2)) << row[i];
      } else {
        std::cout << row[i];
      }
    }
    std::cout << "\n";
  }
}

std::string text(const json& row, const char* key) {
  const auto it = row.find(key);
  if (it == row.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

int cmd_ls(const std::optional<std::string>& home, const ProducerFlags& f) {
  auto client = daemon_client(home, /*start=*/true);
  if (!client) return report(client.error());
  auto reply = client->get_json(f.local ? "/v1/producer/files/local" : "/v1/producer/files");
  if (!reply) return report(reply.error());
  if (f.json || !reply->is_array()) {
    print_reply(*reply, true);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  if (f.local) {
    rows.push_back({"PATH", "SIZE", "STATUS", "ID", "NOTE"});
    for (const json& r : *reply) {
      rows.push_back({text(r, "path"), text(r, "size"), text(r, "status"), text(r, "id"), text(r, "error")});
    }
  } else {
    // Paid files add their tier and storage request: "basic #7 Started, 0.0012 ETH left".
    const bool paid = std::ranges::any_of(*reply, [](const json& r) { return string_field(r, "tier") != "free"; });
    rows.push_back({"ID", "PATH", "SIZE", "STATUS", "AVAILABILITY"});
    if (paid) rows.front().push_back("TIER");
    for (const json& r : *reply) {
      rows.push_back({text(r, "id").empty() ? "-" : text(r, "id"), text(r, "path"), text(r, "size"), text(r, "status"),
                      text(r, "actualAvailability") + "/" + text(r, "availability")});
      if (!paid) continue;
      std::string tier = string_field(r, "tier");
      if (const std::string id = string_field(r, "requestId"); !id.empty()) {
        tier += " #" + id + " " + string_field(r, "requestState");
      }
      if (const std::string left = string_field(r, "escrowLeftWei"); !left.empty()) {
        if (const auto wei = wallet::U256::from_decimal(left)) tier += ", " + wallet::format_eth(*wei) + " ETH left";
      }
      rows.back().push_back(std::move(tier));
    }
  }
  if (rows.size() == 1) {
    std::cout << (f.local ? "No files in the Producer directory.\n" : "No files.\n");
    return 0;
  }
  print_table(rows);
  return 0;
}

int cmd_cp(const std::optional<std::string>& home, const ProducerFlags& f) {
  json body = file_ref(home, f.file, "path");
  body["destination"] = absolute(f.destination);
  body["wait"] = true;  // the command returns once the file is written and its MD5 checked
  auto client = daemon_client(home, /*start=*/true);
  if (!client) return report(client.error());
  // A second client follows the transfer while the first waits for its reply; without one the
  // download just runs without a bar.
  std::optional<api::RestClient> poller;
  if (progress_wanted(f.json)) {
    if (auto second = daemon_client(home, /*start=*/false)) poller = std::move(*second);
  }
  return print(post_download(*client, std::move(poller), body, f.json), f.json);
}

/// `producer share FILE [--expires D]`: the token alone on stdout (for scripts and pasting),
/// what it opens on stderr; --json prints the reply.
int cmd_share(const std::optional<std::string>& home, const ProducerFlags& f) {
  json body = file_ref(home, f.file, "path");
  if (f.expires) body["expires"] = *f.expires;
  auto reply = post(home, "/v1/producer/files/share", body);
  if (!reply || f.json || !reply->contains("token")) return print(reply, f.json);
  std::cout << (*reply)["token"].get<std::string>() << "\n";
  std::cerr << (*reply)["msg"].get<std::string>() << ": anyone holding this token can read that file (and no other)"
            << (f.expires ? ", until it expires in " + *f.expires : "") << "; open it with `open-bucket data get TOKEN OUT`\n";
  return 0;
}

int cmd_rm(const std::optional<std::string>& home, const ProducerFlags& f) {
  json body = file_ref(home, f.file, "remotePath");
  if (f.account) body["account"] = *f.account;
  // A paid file's storage request is cancelled with the paying account's key. Read first only
  // when given (a file or the environment): a free file needs none. The daemon says when a paid
  // one does; on a terminal the passphrase is then asked for and the removal tried again.
  const bool given = f.password_file || std::getenv("OPEN_BUCKET_PASSWORD") != nullptr;
  if (given) {
    auto passphrase = read_passphrase(f.password_file, "Passphrase of the paying account", false);
    if (!passphrase) return report(passphrase.error());
    body["passphrase"] = *passphrase;
  }
  auto reply = post(home, "/v1/producer/files/remove", body);
  if (!reply && !given && interactive(false) && reply.error().message.find("needs the passphrase") != std::string::npos) {
    std::cerr << reply.error().message << "\n";
    auto passphrase = read_passphrase(std::nullopt, "Passphrase of the paying account", false);
    if (!passphrase) return report(passphrase.error());
    body["passphrase"] = *passphrase;
    reply = post(home, "/v1/producer/files/remove", body);
  }
  return print(reply, f.json);
}

int cmd_withdraw(const std::optional<std::string>& home, const ProducerFlags& f) {
  json body = json::object();
  if (f.account) body["account"] = *f.account;
  auto passphrase = read_passphrase(f.password_file, "Passphrase of the account", false);
  if (!passphrase) return report(passphrase.error());
  body["passphrase"] = *passphrase;
  return print(post(home, "/v1/producer/withdraw", body), f.json);
}

int cmd_edit(const std::optional<std::string>& home, ProducerFlags f) {
  std::optional<std::uint32_t> availability = f.availability;
  if (interactive(f.detach) && !f.remote_path && !availability) {
    const std::string path = ask("New remote path (empty: keep)", "");
    if (!path.empty()) f.remote_path = path;
    const std::string count = ask("New availability (empty: keep)", "");
    if (!count.empty()) {
      availability = parse_count(count);
      if (!availability) return report(Error{Errc::invalid_argument, "Invalid availability"});
    }
  }
  json body{{"fileId", f.file}};
  if (f.remote_path) body["path"] = *f.remote_path;
  if (availability) body["availability"] = *availability;
  return print(post(home, "/v1/producer/edit", body), f.json);
}

int cmd_config(const std::optional<std::string>& home_flag, ProducerFlags f) {
  if (interactive(f.detach)) {
    auto dir = resolve_home(home_flag);
    if (!dir) return report(dir.error());
    auto home = Home::open(*dir);
    if (!home) return report(home.error());
    const NodeConfig& current = home->config();
    if (!f.directory) f.directory = ask("Producer directory", home->producer_dir().string());
    if (!f.default_availability) {
      const std::string count = ask("Default availability", std::to_string(current.default_availability));
      f.default_availability = parse_count(count);
      if (!f.default_availability) return report(Error{Errc::invalid_argument, "Invalid defaultAvailability"});
    }
    if (!f.start_on_startup) {
      f.start_on_startup = ask("Start the producer on startup (true/false)", current.producer_start_on_startup ? "true" : "false");
    }
  }
  json body = json::object();
  if (f.directory) body["directory"] = absolute(*f.directory);
  if (f.default_availability) body["defaultAvailability"] = *f.default_availability;
  if (f.start_on_startup) {
    if (*f.start_on_startup == "true") {
      body["startOnStartup"] = true;
    } else if (*f.start_on_startup == "false") {
      body["startOnStartup"] = false;
    } else {
      return report(Error{Errc::invalid_argument, "Invalid startOnStartup"});
    }
  }
  return print(post(home_flag, "/v1/producer/configs", body), f.json);
}

}  // namespace

CommandRunner add_producer_commands(CLI::App& app, const std::optional<std::string>& home) {
  auto f = std::make_shared<ProducerFlags>();
  auto* producer = app.add_subcommand("producer", "Producer: put your files into the network, list them and get them back");
  producer->require_subcommand(1);

  auto* start = producer->add_subcommand("start", "Start the producer: watch the Producer directory and upload its files");
  auto* stop = producer->add_subcommand("stop", "Stop the producer (uploads pause until the next start)");

  auto* upload = producer->add_subcommand(
      "upload", "Upload a file: copied into the Producer directory unless there, encrypted, coded, placed on consumers");
  upload->add_option("PATH", f->path, "The file")->required();
  auto* availability = upload->add_option(
      "-a,--availability", f->availability, "Desired availability A: alone, A copies (k = 1, m = A - 1)");
  auto* k = upload->add_option("--k", f->k, "Data slots (with --m; availability m + 1)");
  auto* m = upload->add_option("--m", f->m, "Parity slots: consumers that may be lost");
  availability->excludes(k)->excludes(m);
  upload->add_option("--tier", f->tier, "free, basic or premium (default free)")
      ->check(CLI::IsMember({"free", "basic", "premium"}, CLI::ignore_case));
  upload->add_option("--duration", f->duration, "Paid tiers: how long the file is paid for (30d, 12h, 90m, 3600s)");
  upload->add_option("--price", f->price, "Paid tiers: wei per byte of slot per second offered (default 1)");
  upload->add_option("--account", f->account, "Paid tiers: the wallet account paying (default: the default account)");
  upload->add_option("--password-file", f->password_file,
                     "Paid tiers: the account's passphrase, first line of this file (else $OPEN_BUCKET_PASSWORD or a prompt)");
  upload->add_flag("--json", f->json, "Print the reply as JSON");
  upload->add_flag("--no-wait", f->no_wait, "On a terminal, return once registered instead of following until UPLOADED");

  auto* ls = producer->add_subcommand("ls", "List your files in the network (or, with -l, in the Producer directory)");
  ls->add_flag("-l,--local", f->local, "Show the files of the local Producer directory and their status");
  ls->add_flag("--json", f->json, "Print JSON");

  auto* cp = producer->add_subcommand("cp", "Download a file from the network into a directory (waits until verified)");
  cp->add_option("FILE", f->file, "File ID, or its path (remote, or in the Producer directory)")->required();
  cp->add_option("DEST_DIR", f->destination, "Existing directory to write it into")->required();
  cp->add_flag("--json", f->json, "Print the reply as JSON");

  auto* rm = producer->add_subcommand("rm", "Remove a file from the network and the Producer directory");
  rm->add_option("FILE", f->file, "File ID, or its path (remote, or in the Producer directory)")->required();
  rm->add_option("--account", f->account, "Paid tiers: the wallet account that pays (default: the request's own)");
  rm->add_option("--password-file", f->password_file,
                 "Paid tiers: the account's passphrase, to cancel the storage request (else $OPEN_BUCKET_PASSWORD)");
  rm->add_flag("--json", f->json, "Print the reply as JSON");

  auto* share = producer->add_subcommand("share", "Print a share link: a token that lets anyone read this one file");
  share->add_option("FILE", f->file, "File ID, or its path (remote, or in the Producer directory)")->required();
  share->add_option("--expires", f->expires, "Nodes refuse the token after this long, e.g. 7d, 12h (default: never)");
  share->add_flag("--json", f->json, "Print the reply as JSON");

  auto* withdraw = producer->add_subcommand(
      "withdraw", "Withdraw your balance in the storage market (refunds of removed paid files) to your account");
  withdraw->add_option("--account", f->account, "The wallet account (default: the default account)");
  withdraw->add_option("--password-file", f->password_file,
                       "The account's passphrase, first line of this file (else $OPEN_BUCKET_PASSWORD or a prompt)");
  withdraw->add_flag("--json", f->json, "Print the reply as JSON");

  auto* edit = producer->add_subcommand("edit", "Change a file's remote path or desired availability (asks on a terminal)");
  edit->add_option("FILEID", f->file, "File ID")->required();
  edit->add_flag("-d,--detach", f->detach, "Ask nothing");
  edit->add_option("-r,--remotePath,--remote-path", f->remote_path, "New remote path");
  edit->add_option("-a,--availability", f->availability, "New desired availability (at most m + 1)");
  edit->add_flag("--json", f->json, "Print the reply as JSON");

  auto* config = producer->add_subcommand("config", "Change the producer's settings (asks on a terminal)");
  config->add_flag("-d,--detach", f->detach, "Ask nothing");
  config->add_option("-r,--directory", f->directory, "Producer directory (its files are moved there)");
  config->add_option("-a,--default-availability", f->default_availability, "Default availability of uploads");
  config->add_option("-s,--start-on-startup", f->start_on_startup, "Start the producer when you log in: true or false");
  config->add_flag("--json", f->json, "Print the reply as JSON");

  return [=, &home]() -> std::optional<int> {
    if (!producer->parsed()) return std::nullopt;
    if (start->parsed()) return cmd_start(home);
    if (stop->parsed()) return cmd_stop(home);
    if (upload->parsed()) return cmd_upload(home, *f);
    if (ls->parsed()) return cmd_ls(home, *f);
    if (cp->parsed()) return cmd_cp(home, *f);
    if (rm->parsed()) return cmd_rm(home, *f);
    if (share->parsed()) return cmd_share(home, *f);
    if (edit->parsed()) return cmd_edit(home, *f);
    if (withdraw->parsed()) return cmd_withdraw(home, *f);
    if (config->parsed()) return cmd_config(home, *f);
    return kExitUsage;
  };
}

}  // namespace ob::cli
