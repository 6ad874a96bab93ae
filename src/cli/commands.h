// The command groups of the open-bucket command line beyond main.cc's own (init, daemon, data,
// network): each adds its subcommands to the app and returns a runner that executes whichever
// of them was parsed.
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/rest_client.h"
#include "core/error.h"

namespace ob::wallet {
class Mnemonic;
}

namespace ob::cli {

// Exit codes of every command (docs/cli.md "Exit codes"); 0 is success.
/// The command failed (bad input, a file not found, the node's, tracker's or chain's trouble):
/// one line "open-bucket: <message>" on stderr, and nothing stored was changed.
inline constexpr int kExitError = 1;
/// The command line itself is wrong: an unknown command or option, a missing argument or
/// subcommand (CLI11's message and "Run with --help" on stderr).
inline constexpr int kExitUsage = 2;
/// `data verify`: some slots are missing or damaged, but every stripe still has k intact blocks.
inline constexpr int kExitDamaged = 3;
/// `data verify`: some stripe has fewer than k intact blocks; the file cannot be read back.
inline constexpr int kExitUnrecoverable = 4;

/// Runs the parsed subcommand of a group and returns its exit code; nullopt when none of the
/// group's subcommands was parsed.
using CommandRunner = std::function<std::optional<int>()>;

/// `open-bucket init` (seed 000 "Daemon > Init").
CommandRunner add_init_command(CLI::App& app, const std::optional<std::string>& home);
/// `open-bucket demo` (issue 5).
CommandRunner add_demo_command(CLI::App& app, const std::optional<std::string>& home);
/// The last non-empty line of `file` (a log), for error messages; empty if it cannot be read.
std::string last_line(const std::filesystem::path& file);

/// `open-bucket nodes create|ls|status|resize|rm|up|down|supervise` (seed 002; node/fleet.h).
CommandRunner add_nodes_commands(CLI::App& app, const std::optional<std::string>& home);
/// `open-bucket tracker` (tracker/tracker.h). `home` is filled in by parsing (--home).
CommandRunner add_tracker_commands(CLI::App& app, const std::optional<std::string>& home);
/// `open-bucket producer start|stop|upload|ls|cp|rm|edit|config` (seed 000).
CommandRunner add_producer_commands(CLI::App& app, const std::optional<std::string>& home);
/// `open-bucket consumer start|stop|config|slots` (seed 000).
CommandRunner add_consumer_commands(CLI::App& app, const std::optional<std::string>& home);
/// `open-bucket debug prove|market-artifact`: hidden aids for the contract tests and the gas benchmark.
CommandRunner add_debug_commands(CLI::App& app, const std::optional<std::string>& home);

/// `open-bucket market requests|request`: the storage market's state, read from the chain.
CommandRunner add_market_commands(CLI::App& app, const std::optional<std::string>& home);

/// `open-bucket mount DIR [--foreground]` and `open-bucket unmount DIR` (issue 13, mount/mount_fs.h).
CommandRunner add_mount_commands(CLI::App& app, const std::optional<std::string>& home);

/// `open-bucket wallet create|import|ls|default|balance|send|request|export` (wallet/, chain/).
CommandRunner add_wallet_commands(CLI::App& app, const std::optional<std::string>& home);

/// A keystore passphrase: the first line of `password_file` when given, else
/// $OPEN_BUCKET_PASSWORD, else typed on the terminal without echo (twice with `confirm`).
/// Errors (invalid_argument): no terminal to ask on, the two typed differ; (not_found, io) the
/// file cannot be read.
Result<std::string> read_passphrase(const std::optional<std::string>& password_file, std::string_view prompt,
                                    bool confirm);

/// How seed 000's optional step "add the default Ethereum account to the wallet" runs.
struct AccountStep {
  std::optional<std::string> mnemonic_file;  ///< import account 0 of these words
  bool new_account = false;                  ///< create one from a new mnemonic
  std::optional<std::string> password_file;  ///< its keystore passphrase (else env, else prompt)
  bool interactive = false;                  ///< neither given: ask on the terminal
  /// The home's root words (init): account 0 of them is imported (as the default account when
  /// the wallet has none); when `created`, init made them, and they are printed once even when
  /// the wallet has a default account already, since the home's keys derive from them.
  std::shared_ptr<const wallet::Mnemonic> root;
  bool created = false;
};
/// The step (init, producer start, consumer start): nothing when the wallet has a default
/// account; else imports or creates one as `step` says, asks on a terminal, or skips. Returns
/// an exit code (0: done or skipped), having reported any error.
int ensure_default_account(const std::filesystem::path& home_dir, const AccountStep& step);
/// Seed 000's "choose consumer Ethereum account from Wallet": lists the accounts and asks for
/// one on the terminal (the default account when the answer is empty). Returns its address, or
/// nullopt when the wallet is empty. Errors: the wallet's; (not_found) no such account.
Result<std::optional<std::string>> choose_account(const std::filesystem::path& home_dir, std::string_view purpose);

/// A line typed on the terminal without echo (passphrases, mnemonic words). Errors
/// (not_found): no terminal.
Result<std::string> prompt_hidden(std::string_view prompt);
/// Prints "open-bucket: <message>" on stderr; returns kExitError.
int report(const Error& error);

/// A client of the daemon serving `home_flag`'s home. When none runs and `start` is set, starts
/// one in the background (`open-bucket daemon`, detached, logging to <home>/daemon.log) and waits
/// up to 15 s for its API to answer. Errors (not_found): no daemon runs and `start` is false, or
/// the home is not initialised; the daemon's own start errors (with its log's last line); (io).
Result<api::RestClient> daemon_client(const std::optional<std::string>& home_flag, bool start);

/// Starts this program with `args` in its own session, stdin from /dev/null, stdout and stderr
/// appended to `log`. With `tied`, the child is killed when this process dies (the demo's
/// processes); without, it outlives us (a daemon started for the user). Errors (io).
Result<pid_t> spawn_self(const std::vector<std::string>& args, const std::filesystem::path& log, bool tied);
/// spawn_self for another program (a path, not searched in $PATH), e.g. the demo's anvil.
Result<pid_t> spawn_program(const std::filesystem::path& program, const std::vector<std::string>& args,
                            const std::filesystem::path& log, bool tied);

/// Prints a seed 000 reply: its "msg" (or the whole JSON with `json`) on stdout.
void print_reply(const nlohmann::json& reply, bool json);

}  // namespace ob::cli
