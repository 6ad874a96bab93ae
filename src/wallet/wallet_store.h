// The wallet of a node home (seed 000's "Wallet"; seed 002's wallet kept topped up): Ethereum
// accounts, each a keystore v3 file (keystore.h) under a name, and which one is the default.
//
//   <home>/wallet/                 mode 0700
//   <home>/wallet/keystore/        geth's layout: one "UTC--<time>--<address>" file per account,
//                                  mode 0600, written durably; geth and ethers read them as is
//   <home>/wallet/wallet.json      {"version": 1, "default": "0x<EIP-55>",
//                                   "accounts": [{"name", "address", "keystore", "origin"}]},
//                                  mode 0600, replaced atomically
//   <home>/wallet/.lock            flock(2) held while the wallet changes (the CLI and the daemon
//                                  may change it at the same time)
//
// Names are what people type (`wallet send --from savings`); addresses work wherever a name
// does. Every change is checked in full before anything is written, so a refused request
// leaves the keystore folder byte-identical. Thread-safe and process-safe (the lock).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "wallet/keys.h"
#include "wallet/mnemonic.h"

namespace ob::wallet {

/// One account of the wallet.
struct Account {
  std::string name;      ///< unique in the wallet, e.g. "account1"
  Address address;
  std::string keystore;  ///< file name under keystore/
  /// How it came: "mnemonic m/44'/60'/0'/0/<i>" (created or imported from words),
  /// "private key", "keystore" (imported file).
  std::string origin;
  bool is_default = false;
};

/// An account just created with its mnemonic: shown to the user once, never stored.
struct CreatedAccount {
  Account account;
  Mnemonic mnemonic;
};

/// The wallet under <home>/wallet. Cheap to construct; nothing is read or created until used.
class WalletStore {
 public:
  explicit WalletStore(std::filesystem::path home_dir);

  std::filesystem::path dir() const { return dir_; }
  std::filesystem::path keystore_dir() const { return dir_ / "keystore"; }

  /// Every account, in the order they were added. Errors (corrupt): wallet.json is damaged; (io).
  Result<std::vector<Account>> accounts() const;
  /// The default account; nullopt when the wallet is empty. Errors as accounts().
  Result<std::optional<Account>> default_account() const;
  /// The account named `name_or_address`, or holding that address (EIP-55 checked).
  /// Errors (not_found): "no account 'x' in the wallet"; (invalid_argument): a mistyped
  /// address; as accounts().
  Result<Account> find(std::string_view name_or_address) const;
  /// find(), or the default account when `name_or_address` is empty. Errors as find(), and
  /// (not_found) "the wallet has no account" when it is empty.
  Result<Account> find_or_default(std::string_view name_or_address) const;

  /// A new account from a new mnemonic of `words` words (12 or 24), key m/44'/60'/0'/0/0,
  /// encrypted under `passphrase`. `name` empty: the first free "accountN". The first account
  /// of a wallet becomes its default. Errors (invalid_argument): bad name, word count or
  /// empty passphrase; (already_exists): the name is taken; (io, crypto).
  Result<CreatedAccount> create(std::size_t words, std::string name, std::string_view passphrase);
  /// Account `index` (m/44'/60'/0'/0/index) of `mnemonic`. Errors as create(), and
  /// (already_exists) when the wallet holds that address already.
  Result<Account> import_mnemonic(const Mnemonic& mnemonic, std::uint32_t index, std::string name,
                                  std::string_view passphrase);
  /// A raw private key: 64 hex digits, "0x" optional, white space around ignored.
  /// Errors as import_mnemonic, and (invalid_argument) not such a key.
  Result<Account> import_private_key(std::string_view hex, std::string name, std::string_view passphrase);
  /// A keystore v3 file's text (geth's, ethers', ours), kept byte for byte after checking that
  /// `passphrase` opens it. Errors: decrypt_keystore's (wrong passphrase, malformed, altered);
  /// as import_mnemonic.
  Result<Account> import_keystore(std::string_view text, std::string name, std::string_view passphrase);

  /// Makes `name_or_address` the default account. Errors as find(); (io).
  Result<Account> set_default(std::string_view name_or_address);
  /// The account's private key. Errors: decrypt_keystore's; (not_found) its file is gone; (io).
  Result<PrivateKey> unlock(const Account& account, std::string_view passphrase) const;
  /// The account's keystore file, byte for byte. Errors (not_found, io).
  Result<std::string> keystore_text(const Account& account) const;
  /// Copies the account's keystore to `path` (mode 0600, written durably). Errors
  /// (already_exists): `path` exists; (not_found, io).
  Result<void> export_keystore(const Account& account, const std::filesystem::path& path) const;

 private:
  Result<Account> add(const PrivateKey& key, std::string name, std::string_view passphrase, std::string origin,
                      std::optional<std::string> keystore_text = std::nullopt);
  std::filesystem::path dir_;
};

/// Checks an account name: 1 to 64 of A-Z a-z 0-9 . _ -, not starting with "0x", "-" or ".".
/// Errors (invalid_argument) saying which rule.
Result<void> check_account_name(std::string_view name);

}  // namespace ob::wallet
