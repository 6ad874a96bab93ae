// `open-bucket wallet create|import|ls|default|balance|send|request|export`: the wallet of this
// home (wallet/wallet_store.h) and the Ethereum node of config.toml's [chain] (chain/). These
// work on the files directly, with or without a daemon (the wallet's lock keeps the two apart).
// Every subcommand takes --rpc URL and --password-file FILE, used where needed, so scripts can
// pass them uniformly. Passphrases come from --password-file, $OPEN_BUCKET_PASSWORD or a
// prompt on the terminal (not echoed); never from a flag's value.
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "api/wallet_routes.h"
#include "chain/chain_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "node/home.h"
#include "store/file_io.h"
#include "wallet/amount.h"
#include "wallet/eip681.h"
#include "wallet/qr.h"
#include "wallet/wallet_store.h"

namespace ob::cli {
namespace {

using nlohmann::json;
using wallet::Account;
using wallet::U256;

constexpr std::size_t kMaxSecretFile = 64 * 1024;

/// Options every wallet subcommand accepts.
struct Common {
  std::optional<std::string> rpc;
  std::optional<std::string> password_file;
  bool json = false;
};

}  // namespace

Result<std::string> prompt_hidden(std::string_view prompt) {
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) return fail(Errc::not_found, "no terminal");
  termios old_mode{};
  const bool is_tty = ::tcgetattr(tty, &old_mode) == 0;
  if (is_tty) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  (void)!::write(tty, prompt.data(), prompt.size());
  std::string line;
  char c = 0;
  while (::read(tty, &c, 1) == 1 && c != '\n') {
    if (line.size() < kMaxSecretFile) line.push_back(c);
  }
  if (is_tty) ::tcsetattr(tty, TCSAFLUSH, &old_mode);
  (void)!::write(tty, "\n", 1);
  ::close(tty);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> read_passphrase(const std::optional<std::string>& password_file, std::string_view prompt,
                                    bool confirm) {
  if (password_file) {
    OB_TRY(Bytes bytes, fileio::read_file(*password_file, kMaxSecretFile));
    std::string text(as_chars(bytes));
    std::fill(bytes.begin(), bytes.end(), 0);
    text = text.substr(0, text.find('\n'));  // the first line, as geth's --password reads it
    if (!text.empty() && text.back() == '\r') text.pop_back();
    return text;
  }
  if (const char* env = std::getenv("OPEN_BUCKET_PASSWORD"); env != nullptr) return std::string(env);
  auto typed = prompt_hidden(std::string(prompt) + ": ");
  if (!typed) {
    return fail(Errc::invalid_argument,
                "a passphrase is needed and there is no terminal to ask on: pass --password-file FILE or set "
                "OPEN_BUCKET_PASSWORD");
  }
  if (confirm) {
    OB_TRY(std::string again, prompt_hidden("Repeat it: "));
    if (again != *typed) return fail(Errc::invalid_argument, "the two passphrases differ");
  }
  return typed;
}

namespace {

Result<Home> open_home(const std::optional<std::string>& home_flag) {
  OB_TRY(std::filesystem::path dir, resolve_home(home_flag));
  return Home::open(dir);
}

chain::ChainSettings chain_settings(const Home& home, const Common& common) {
  chain::ChainSettings settings;
  settings.rpc = common.rpc.value_or(home.config().chain_rpc);
  settings.chain_id = home.config().chain_id;
  return settings;
}

/// What a user reads about an account: "account1 (0x...)".
std::string label(const Account& account) { return account.name + " (" + account.address.to_checksum() + ")"; }

void print_added(const wallet::WalletStore& store, const Account& account, const char* verb, bool as_json,
                 const wallet::Mnemonic* mnemonic) {
  const std::string keystore = (store.keystore_dir() / account.keystore).string();
  if (as_json) {
    json out = api::account_json(account);
    out["keystore"] = keystore;
    if (mnemonic != nullptr) out["mnemonic"] = mnemonic->phrase();
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << verb << " account " << label(account) << (account.is_default ? ", the default account" : "") << "\n"
            << "Keystore: " << keystore << "\n";
  if (mnemonic == nullptr) return;
  std::cout << "\nWrite these " << mnemonic->size()
            << " words down and keep them safe. They are shown only now, and they are the only way\n"
               "back to this account if the keystore or its passphrase is lost:\n\n";
  std::size_t n = 0;
  std::size_t start = 0;
  const std::string& phrase = mnemonic->phrase();
  while (start < phrase.size()) {
    const std::size_t end = std::min(phrase.find(' ', start), phrase.size());
    ++n;
    std::printf("%4zu. %-10s%s", n, phrase.substr(start, end - start).c_str(), n % 4 == 0 ? "\n" : "");
    start = end + 1;
  }
  std::cout << std::flush;
}

// --- create / import ---------------------------------------------------------------------------

struct AddOptions {
  Common common;
  std::optional<std::string> name;
  std::size_t words = 12;
  std::optional<std::string> mnemonic_file, keystore_file, private_key_file;
  std::uint32_t index = 0;
};

int cmd_create(const std::optional<std::string>& home_flag, const AddOptions& o) {
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  if (o.name) {
    if (auto ok = wallet::check_account_name(*o.name); !ok) return report(ok.error());
  }
  wallet::WalletStore store(home->dir());
  auto passphrase = read_passphrase(o.common.password_file, "Passphrase for the new keystore", true);
  if (!passphrase) return report(passphrase.error());
  auto created = store.create(o.words, o.name.value_or(""), *passphrase);
  if (!created) return report(created.error());
  print_added(store, created->account, "Created", o.common.json, &created->mnemonic);
  return 0;
}

int cmd_import(const std::optional<std::string>& home_flag, const AddOptions& o) {
  const int sources = (o.mnemonic_file ? 1 : 0) + (o.keystore_file ? 1 : 0) + (o.private_key_file ? 1 : 0);
  if (sources != 1) {
    return report(Error{Errc::invalid_argument,
                        "give exactly one of --mnemonic-file, --keystore and --private-key-file"});
  }
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  wallet::WalletStore store(home->dir());
  const std::string name = o.name.value_or("");
  if (!name.empty()) {
    if (auto ok = wallet::check_account_name(name); !ok) return report(ok.error());
  }
  const std::string& path = o.mnemonic_file ? *o.mnemonic_file : o.keystore_file ? *o.keystore_file : *o.private_key_file;
  auto bytes = fileio::read_file(path, kMaxSecretFile);
  if (!bytes) return report(bytes.error());
  std::string text(as_chars(*bytes));
  std::fill(bytes->begin(), bytes->end(), 0);
  Result<Account> added = fail(Errc::internal, "no source");
  if (o.keystore_file) {
    auto passphrase = read_passphrase(o.common.password_file, "Passphrase of the keystore", false);
    if (!passphrase) return report(passphrase.error());
    added = store.import_keystore(text, name, *passphrase);
  } else if (o.mnemonic_file) {
    auto mnemonic = wallet::Mnemonic::parse(text);
    std::fill(text.begin(), text.end(), '\0');
    if (!mnemonic) return report(Error{mnemonic.error().code, path + ": " + mnemonic.error().message});
    auto passphrase = read_passphrase(o.common.password_file, "Passphrase for the new keystore", true);
    if (!passphrase) return report(passphrase.error());
    added = store.import_mnemonic(*mnemonic, o.index, name, *passphrase);
  } else {
    auto passphrase = read_passphrase(o.common.password_file, "Passphrase for the new keystore", true);
    if (!passphrase) return report(passphrase.error());
    added = store.import_private_key(text, name, *passphrase);
  }
  std::fill(text.begin(), text.end(), '\0');
  if (!added) return report(added.error());
  print_added(store, *added, "Imported", o.common.json, nullptr);
  return 0;
}

// --- ls / default / balance ------------------------------------------------------------------

int cmd_ls(const std::optional<std::string>& home_flag, const Common& common) {
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  wallet::WalletStore store(home->dir());
  auto accounts = store.accounts();
  if (!accounts) return report(accounts.error());
  // Balances when the chain answers; "?" (null in JSON) and a note otherwise.
  std::optional<chain::ChainClient> client;
  std::string why_unknown;
  if (!accounts->empty()) {
    chain::ChainSettings settings = chain_settings(*home, common);
    settings.rpc_options.connect_timeout = std::chrono::milliseconds(3000);
    settings.rpc_options.timeout = std::chrono::milliseconds(5000);
    auto connected = chain::ChainClient::connect(settings);
    if (connected) {
      client.emplace(std::move(*connected));
    } else {
      why_unknown = connected.error().message;
    }
  }
  std::vector<std::optional<U256>> balances;
  for (const Account& a : *accounts) {
    std::optional<U256> balance;
    if (client) {
      auto got = client->balance(a.address);
      if (got) {
        balance = *got;
      } else if (why_unknown.empty()) {
        why_unknown = got.error().message;
      }
    }
    balances.push_back(balance);
  }
  if (common.json) {
    json out = json::array();
    for (std::size_t i = 0; i < accounts->size(); ++i) {
      json entry = api::account_json((*accounts)[i]);
      entry["balance"] = balances[i] ? json(balances[i]->to_decimal()) : json(nullptr);
      entry["balanceEth"] = balances[i] ? json(wallet::format_eth(*balances[i])) : json(nullptr);
      out.push_back(std::move(entry));
    }
    std::cout << out.dump(2) << "\n";
  } else if (accounts->empty()) {
    std::cout << "The wallet has no account: `open-bucket wallet create` makes one.\n";
  } else {
    std::printf("  %-20s %-42s %s\n", "NAME", "ADDRESS", "BALANCE (ETH)");
    for (std::size_t i = 0; i < accounts->size(); ++i) {
      const Account& a = (*accounts)[i];
      std::printf("%s %-20s %-42s %s\n", a.is_default ? "*" : " ", a.name.c_str(), a.address.to_checksum().c_str(),
                  balances[i] ? wallet::format_eth(*balances[i]).c_str() : "?");
    }
  }
  if (!why_unknown.empty()) std::cerr << "open-bucket: note: balances unknown: " << why_unknown << "\n";
  return 0;
}

int cmd_default(const std::optional<std::string>& home_flag, const std::string& which, const Common& common) {
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  wallet::WalletStore store(home->dir());
  auto account = store.set_default(which);
  if (!account) return report(account.error());
  if (common.json) {
    std::cout << api::account_json(*account).dump(2) << "\n";
  } else {
    std::cout << "The default account is " << label(*account) << "\n";
  }
  return 0;
}

int cmd_balance(const std::optional<std::string>& home_flag, const std::optional<std::string>& which,
                const Common& common) {
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  wallet::WalletStore store(home->dir());
  // Any address may be looked up; a name must be the wallet's.
  std::optional<wallet::Address> address;
  std::string name;
  if (which && (which->starts_with("0x") || which->starts_with("0X"))) {
    auto parsed = wallet::Address::parse(*which);
    if (!parsed) return report(parsed.error());
    address = *parsed;
    if (auto known = store.find(*which)) name = known->name;
  } else {
    auto account = store.find_or_default(which.value_or(""));
    if (!account) return report(account.error());
    address = account->address;
    name = account->name;
  }
  auto client = chain::ChainClient::connect(chain_settings(*home, common));
  if (!client) return report(client.error());
  auto balance = client->balance(*address);
  if (!balance) return report(balance.error());
  if (common.json) {
    std::cout << json{{"address", address->to_checksum()}, {"name", name.empty() ? json(nullptr) : json(name)},
                      {"wei", balance->to_decimal()}, {"eth", wallet::format_eth(*balance)},
                      {"chainId", client->chain_id()}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << wallet::format_eth(*balance) << " ETH\n";
  }
  return 0;
}

// --- send --------------------------------------------------------------------------------------

struct SendOptions {
  Common common;
  std::string to, amount;
  std::optional<std::string> from;
};

/// send_transaction, showing on a terminal what it waits for: the node, then the receipt of
/// the broadcast transaction (docs/cli.md "Progress and output").
Result<chain::SentTransaction> send_with_progress(chain::ChainClient& client, const wallet::PrivateKey& key,
                                                  const wallet::Address& to, const wallet::U256& value, bool as_json) {
  ProgressBar bar("send " + wallet::format_eth(value) + " ETH", as_json);
  std::mutex mutex;
  std::string phase = "signing and broadcasting";
  const auto on_broadcast = [&](const wallet::Hash32& hash) {
    const std::string text = chain::to_data(hash);
    std::lock_guard lock(mutex);
    phase = "waiting for receipt " + text.substr(0, 10) + "…";
  };
  return run_with_progress(
      bar.enabled(), [&] { return client.send_transaction(key, to, value, {}, on_broadcast); },
      [&] {
        std::lock_guard lock(mutex);
        bar.wait(phase);
      });
}

int cmd_send(const std::optional<std::string>& home_flag, const SendOptions& o) {
  // Everything checked before the passphrase is asked for and before anything is signed.
  auto to = wallet::Address::parse(o.to);
  if (!to) return report(to.error());
  auto value = wallet::parse_amount(o.amount);
  if (!value) return report(value.error());
  if (value->is_zero()) return report(Error{Errc::invalid_argument, "invalid amount '" + o.amount + "': send more than 0"});
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  wallet::WalletStore store(home->dir());
  auto from = store.find_or_default(o.from.value_or(""));
  if (!from) return report(from.error());
  auto client = chain::ChainClient::connect(chain_settings(*home, o.common));
  if (!client) return report(client.error());
  auto passphrase = read_passphrase(o.common.password_file, "Passphrase of " + label(*from), false);
  if (!passphrase) return report(passphrase.error());
  auto key = store.unlock(*from, *passphrase);
  if (!key) return report(key.error());
  auto sent = send_with_progress(*client, *key, *to, *value, o.common.json);
  if (!sent) return report(sent.error());
  const std::string hash = chain::to_data(sent->signed_tx.hash);
  if (o.common.json) {
    std::cout << api::sent_json(*sent).dump(2) << "\n";
  } else {
    std::cout << "Sent " << wallet::format_eth(*value) << " ETH from " << label(*from) << " to " << to->to_checksum()
              << " in block " << sent->receipt.block_number << " (fee " << wallet::format_eth(sent->receipt.fee())
              << " ETH)\n"
              << hash << "\n";
  }
  return 0;
}

// --- request -----------------------------------------------------------------------------------

struct RequestOptions {
  Common common;
  std::string amount;
  std::optional<std::string> account, png;
};

int cmd_request(const std::optional<std::string>& home_flag, const RequestOptions& o) {
  auto value = wallet::parse_amount(o.amount);
  if (!value) return report(value.error());
  if (value->is_zero()) return report(Error{Errc::invalid_argument, "invalid amount '" + o.amount + "': ask for more than 0"});
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  wallet::WalletStore store(home->dir());
  auto account = store.find_or_default(o.account.value_or(""));
  if (!account) return report(account.error());
  // The chain ID the payer must use: config.toml's, else the node's.
  auto chain_id_or = chain::resolve_chain_id(chain_settings(*home, o.common));
  if (!chain_id_or) return report(prefixed(chain_id_or.error(), "the chain ID is needed for the request"));
  const std::uint64_t chain_id = *chain_id_or;
  const std::string uri = wallet::payment_request_uri(account->address, chain_id, *value);
  auto qr = wallet::QrCode::encode(uri);
  if (!qr) return report(qr.error());
  if (o.png) {
    auto png = qr->to_png();
    if (!png) return report(png.error());
    if (auto written = fileio::write_file_atomic(*o.png, *png); !written) return report(written.error());
  }
  if (o.common.json) {
    json out = {{"uri", uri}, {"address", account->address.to_checksum()}, {"name", account->name},
                {"chainId", chain_id}, {"value", value->to_decimal()}, {"valueEth", wallet::format_eth(*value)}};
    if (o.png) out["png"] = *o.png;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << uri << "\n";
  if (o.png) {
    std::cout << "QR code written to " << *o.png << "\n";
  } else {
    std::cout << "Scan to pay " << wallet::format_eth(*value) << " ETH into " << label(*account) << ":\n"
              << qr->to_terminal();
  }
  return 0;
}

// --- export ------------------------------------------------------------------------------------

int cmd_export(const std::optional<std::string>& home_flag, const std::string& which, const std::string& file,
               const Common& common) {
  auto home = open_home(home_flag);
  if (!home) return report(home.error());
  wallet::WalletStore store(home->dir());
  auto account = store.find(which);
  if (!account) return report(account.error());
  if (auto ok = store.export_keystore(*account, file); !ok) return report(ok.error());
  if (common.json) {
    json out = api::account_json(*account);
    out["file"] = file;
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "Wrote the keystore of " << label(*account) << " to " << file
              << " (its passphrase opens it in geth, ethers or MetaMask)\n";
  }
  return 0;
}

/// Asks `question` on the terminal; an empty answer gives `fallback`.
std::string ask_line(const std::string& question, const std::string& fallback) {
  std::cout << question << (fallback.empty() ? "" : " [" + fallback + "]") << ": " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer) || answer.empty()) return fallback;
  return answer;
}

void add_common(CLI::App* command, Common& common, bool lists) {
  command->add_option("--rpc", common.rpc, "Ethereum node JSON-RPC URL (default: [chain] rpc in config.toml)");
  command->add_option("--password-file", common.password_file,
                      "Read the keystore passphrase from the first line of this file (else $OPEN_BUCKET_PASSWORD, "
                      "else a prompt)");
  command->add_flag("--json", common.json, lists ? "Print JSON" : "Print the result as JSON");
}

}  // namespace

int ensure_default_account(const std::filesystem::path& home_dir, const AccountStep& step) {
  wallet::WalletStore store(home_dir);
  auto existing = store.default_account();
  if (!existing) return report(existing.error());
  if (step.root && (step.created || !*existing)) {
    auto passphrase = read_passphrase(step.password_file, "Passphrase for the new keystore", true);
    if (!passphrase) return report(passphrase.error());
    auto added = store.import_mnemonic(*step.root, 0, "", *passphrase);
    if (!added) return report(added.error());
    print_added(store, *added, step.created ? "Created" : "Imported", false, step.created ? step.root.get() : nullptr);
    return 0;
  }
  if (*existing) {
    if (step.interactive || step.mnemonic_file || step.new_account) {
      std::cout << "The wallet's default account is " << label(**existing) << "\n";
    }
    return 0;
  }
  AddOptions add;
  add.common.password_file = step.password_file;
  if (step.mnemonic_file) {
    add.mnemonic_file = step.mnemonic_file;
    return cmd_import(home_dir.string(), add);
  }
  if (step.new_account) return cmd_create(home_dir.string(), add);
  if (!step.interactive) return 0;  // optional: skipped
  const std::string answer = ask_line(
      "The wallet has no Ethereum account. [c]reate one, [i]mport a mnemonic file, or [s]kip?", "s");
  if (answer == "c" || answer == "create") return cmd_create(home_dir.string(), add);
  if (answer == "i" || answer == "import") {
    const std::string file = ask_line("File holding the mnemonic words", "");
    if (file.empty()) return report(Error{Errc::invalid_argument, "no mnemonic file given"});
    add.mnemonic_file = file;
    return cmd_import(home_dir.string(), add);
  }
  std::cout << "Skipped; `open-bucket wallet create` adds an account later.\n";
  return 0;
}

Result<std::optional<std::string>> choose_account(const std::filesystem::path& home_dir, std::string_view purpose) {
  wallet::WalletStore store(home_dir);
  OB_TRY(std::vector<Account> accounts, store.accounts());
  if (accounts.empty()) return std::optional<std::string>();
  std::cout << "Accounts of the wallet:\n";
  std::string fallback;
  for (const Account& a : accounts) {
    std::cout << (a.is_default ? "  * " : "    ") << label(a) << "\n";
    if (a.is_default) fallback = a.name;
  }
  const std::string answer = ask_line(std::string("Account ") + std::string(purpose) + " (name or address)", fallback);
  OB_TRY(Account chosen, store.find(answer));
  return std::optional<std::string>(chosen.address.to_checksum());
}

CommandRunner add_wallet_commands(CLI::App& app, const std::optional<std::string>& home) {
  auto* wallet = app.add_subcommand("wallet", "Ethereum accounts of this home: create, import, pay, request payment");
  wallet->require_subcommand(1);

  auto add = std::make_shared<AddOptions>();
  auto* create = wallet->add_subcommand(
      "create", "Create an account from a new mnemonic; prints the words once, the address and the keystore");
  create->add_option("--name", add->name, "Account name (default: account1, account2, ...)");
  create->add_option("--words", add->words, "Mnemonic length: 12 or 24 words (default 12)")->check(CLI::IsMember({12, 24}));
  add_common(create, add->common, false);

  auto imp = std::make_shared<AddOptions>();
  auto* import = wallet->add_subcommand("import", "Add an account from a mnemonic, a keystore file or a private key");
  import->add_option("--mnemonic-file", imp->mnemonic_file, "File holding the 12-24 mnemonic words");
  import->add_option("--keystore", imp->keystore_file, "Keystore v3 JSON file (geth, ethers, MetaMask); kept as is");
  import->add_option("--private-key-file", imp->private_key_file, "File holding a private key, 64 hex digits");
  import->add_option("--index", imp->index, "With --mnemonic-file: account index i of m/44'/60'/0'/0/i (default 0)");
  import->add_option("--name", imp->name, "Account name (default: account1, account2, ...)");
  add_common(import, imp->common, false);

  auto ls_common = std::make_shared<Common>();
  auto* ls = wallet->add_subcommand("ls", "List the accounts: name, address, default (*), balance when the chain answers");
  add_common(ls, *ls_common, true);

  auto def_common = std::make_shared<Common>();
  auto def_which = std::make_shared<std::string>();
  auto* def = wallet->add_subcommand("default", "Make an account the default one");
  def->add_option("ACCOUNT", *def_which, "Account name or address")->required();
  add_common(def, *def_common, false);

  auto bal_common = std::make_shared<Common>();
  auto bal_which = std::make_shared<std::optional<std::string>>();
  auto* balance = wallet->add_subcommand("balance", "An account's balance in ETH (--json: and in wei)");
  balance->add_option("ACCOUNT", *bal_which, "Account name or any address (default: the default account)");
  add_common(balance, *bal_common, true);

  auto send_opts = std::make_shared<SendOptions>();
  auto* send = wallet->add_subcommand("send", "Send Ether and wait for the receipt; prints the transaction hash");
  send->add_option("--to", send_opts->to, "Recipient address (0x..., EIP-55 checked)")->required();
  send->add_option("--amount", send_opts->amount, "Amount: 1.5, 1.5 ETH, 1500000000 gwei or 21000 wei")->required();
  send->add_option("--from", send_opts->from, "Account name or address (default: the default account)");
  add_common(send, send_opts->common, false);

  auto req = std::make_shared<RequestOptions>();
  auto* request = wallet->add_subcommand(
      "request", "A payment request (EIP-681 URI) and its QR code, to top the wallet up from a phone wallet");
  request->add_option("--amount", req->amount, "Amount asked: 1.5, 1.5 ETH, 1500000000 gwei or 21000 wei")->required();
  request->add_option("--account", req->account, "Account to be paid (default: the default account)");
  request->add_option("--png", req->png, "Write the QR code to this PNG file instead of the terminal");
  add_common(request, req->common, false);

  auto exp_common = std::make_shared<Common>();
  auto exp_which = std::make_shared<std::string>();
  auto exp_file = std::make_shared<std::string>();
  auto* exp = wallet->add_subcommand("export", "Copy an account's keystore v3 file out (for geth, ethers, MetaMask)");
  exp->add_option("ACCOUNT", *exp_which, "Account name or address")->required();
  exp->add_option("--keystore", *exp_file, "File to write (must not exist)")->required();
  add_common(exp, *exp_common, false);

  return [=, &home]() -> std::optional<int> {
    if (create->parsed()) return cmd_create(home, *add);
    if (import->parsed()) return cmd_import(home, *imp);
    if (ls->parsed()) return cmd_ls(home, *ls_common);
    if (def->parsed()) return cmd_default(home, *def_which, *def_common);
    if (balance->parsed()) return cmd_balance(home, *bal_which, *bal_common);
    if (send->parsed()) return cmd_send(home, *send_opts);
    if (request->parsed()) return cmd_request(home, *req);
    if (exp->parsed()) return cmd_export(home, *exp_which, *exp_file, *exp_common);
    return std::nullopt;
  };
}

}  // namespace ob::cli
