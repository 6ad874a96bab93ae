#include "wallet/wallet_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "store/file_io.h"
#include "wallet/bip32.h"
#include "wallet/keystore.h"

namespace ob::wallet {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxIndexSize = 4 * 1024 * 1024;
constexpr std::size_t kMaxKeystoreSize = 64 * 1024;
constexpr std::size_t kMaxAccounts = 10000;

/// wallet.json in memory.
struct Index {
  std::optional<Address> default_address;
  std::vector<Account> accounts;
};

Result<Index> read_index(const fs::path& dir) {
  const fs::path path = dir / "wallet.json";
  auto bytes = fileio::read_file(path, kMaxIndexSize);
  if (!bytes) {
    if (bytes.error().code == Errc::not_found) return Index{};
    return std::unexpected(bytes.error());
  }
  const auto damaged = [&](std::string_view why) {
    return fail(Errc::corrupt, path.string(), " is damaged: ", why);
  };
  const json doc = json::parse(as_chars(*bytes), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return damaged("not a JSON object");
  const auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_unsigned() || version->get<std::uint64_t>() != 1) {
    return damaged("version is not 1");
  }
  Index index;
  const auto accounts = doc.find("accounts");
  if (accounts == doc.end() || !accounts->is_array() || accounts->size() > kMaxAccounts) return damaged("no account list");
  for (const json& entry : *accounts) {
    if (!entry.is_object()) return damaged("an account is not an object");
    Account account;
    for (const auto& [key, field] : {std::pair{"name", &account.name}, std::pair{"keystore", &account.keystore},
                                     std::pair{"origin", &account.origin}}) {
      const auto it = entry.find(key);
      if (it == entry.end() || !it->is_string()) return damaged(std::string("an account has no ") + key);
      *field = it->get<std::string>();
    }
    const auto address = entry.find("address");
    if (address == entry.end() || !address->is_string()) return damaged("an account has no address");
    auto parsed = Address::parse(address->get<std::string>());
    if (!parsed) return damaged("an account's address is not valid");
    account.address = *parsed;
    if (!check_account_name(account.name) || account.keystore.find('/') != std::string::npos ||
        !account.keystore.starts_with("UTC--")) {
      return damaged("an account's name or keystore file name is not valid");
    }
    index.accounts.push_back(std::move(account));
  }
  if (const auto def = doc.find("default"); def != doc.end() && !def->is_null()) {
    if (!def->is_string()) return damaged("default is not an address");
    auto parsed = Address::parse(def->get<std::string>());
    if (!parsed) return damaged("default is not an address");
    index.default_address = *parsed;
  }
  for (Account& account : index.accounts) account.is_default = index.default_address == account.address;
  return index;
}

Result<void> write_index(const fs::path& dir, const Index& index) {
  json accounts = json::array();
  for (const Account& a : index.accounts) {
    accounts.push_back(
        {{"name", a.name}, {"address", a.address.to_checksum()}, {"keystore", a.keystore}, {"origin", a.origin}});
  }
  const json doc = {{"version", 1},
                    {"default", index.default_address ? json(index.default_address->to_checksum()) : json(nullptr)},
                    {"accounts", std::move(accounts)}};
  const std::string text = doc.dump(2) + "\n";
  return fileio::write_file_atomic(dir / "wallet.json", as_bytes(text), 0600);
}

/// The wallet's lock file, held exclusively for the life of the object (flock: released on close).
class WalletLock {
 public:
  static Result<WalletLock> take(const fs::path& dir) {
    OB_TRY(fileio::Fd fd, fileio::open_fd(dir / ".lock", O_RDWR | O_CREAT, 0600));
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return std::unexpected(fileio::errno_error("cannot lock", dir / ".lock", errno));
    }
    return WalletLock(std::move(fd));
  }

 private:
  explicit WalletLock(fileio::Fd fd) : fd_(std::move(fd)) {}
  fileio::Fd fd_;
};

Result<void> make_private_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(Errc::io, "cannot create ", dir.string(), ": ", ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return fail(Errc::io, "cannot make ", dir.string(), " private: ", ec.message());
  return {};
}

/// Refuses a name or address the wallet already has.
Result<void> check_unique(const Index& index, std::string_view name, const Address& address) {
  for (const Account& a : index.accounts) {
    if (!name.empty() && a.name == name) return fail(Errc::already_exists, "an account named '", name, "' exists already");
    if (a.address == address) {
      return fail(Errc::already_exists, "the wallet holds ", address.to_checksum(), " already, as '", a.name, "'");
    }
  }
  return {};
}

std::string next_free_name(const Index& index) {
  for (std::size_t n = 1;; ++n) {
    std::string name = "account" + std::to_string(n);
    if (std::ranges::none_of(index.accounts, [&](const Account& a) { return a.name == name; })) return name;
  }
}

}  // namespace

Result<void> check_account_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return fail(Errc::invalid_argument, "an account name has 1 to 64 characters");
  if (!std::ranges::all_of(name, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      })) {
    return fail(Errc::invalid_argument, "account name '", name.substr(0, 64), "': use letters, digits, '.', '_' and '-'");
  }
  if (name.starts_with("0x") || name.starts_with("0X") || name.front() == '-' || name.front() == '.') {
    return fail(Errc::invalid_argument, "account name '", name, "' must not start with 0x, '-' or '.'");
  }
  return {};
}

WalletStore::WalletStore(fs::path home_dir) : dir_(std::move(home_dir) / "wallet") {}

Result<std::vector<Account>> WalletStore::accounts() const {
  OB_TRY(Index index, read_index(dir_));
  return std::move(index.accounts);
}

Result<std::optional<Account>> WalletStore::default_account() const {
  OB_TRY(Index index, read_index(dir_));
  for (Account& a : index.accounts) {
    if (a.is_default) return std::optional<Account>(std::move(a));
  }
  return std::optional<Account>();
}

Result<Account> WalletStore::find(std::string_view name_or_address) const {
  OB_TRY(Index index, read_index(dir_));
  if (name_or_address.starts_with("0x") || name_or_address.starts_with("0X")) {
    OB_TRY(Address address, Address::parse(name_or_address));
    for (Account& a : index.accounts) {
      if (a.address == address) return std::move(a);
    }
    return fail(Errc::not_found, "no account ", address.to_checksum(), " in the wallet");
  }
  for (Account& a : index.accounts) {
    if (a.name == name_or_address) return std::move(a);
  }
  return fail(Errc::not_found, "no account '", name_or_address.substr(0, 64), "' in the wallet");
}

Result<Account> WalletStore::find_or_default(std::string_view name_or_address) const {
  if (!name_or_address.empty()) return find(name_or_address);
  OB_TRY(std::optional<Account> def, default_account());
  if (!def) {
    return fail(Errc::not_found, "the wallet has no account: add one with `open-bucket wallet create` or `wallet import`");
  }
  return std::move(*def);
}

Result<Account> WalletStore::add(const PrivateKey& key, std::string name, std::string_view passphrase,
                                 std::string origin, std::optional<std::string> keystore_text) {
  if (!name.empty()) OB_TRY_VOID(check_account_name(name));
  const Address address = key.address();
  {
    // Checked before the slow key derivation as well as under the lock below.
    OB_TRY(Index index, read_index(dir_));
    OB_TRY_VOID(check_unique(index, name, address));
  }
  if (!keystore_text) {
    OB_TRY(keystore_text, encrypt_keystore(key, passphrase));
  }
  OB_TRY_VOID(make_private_dir(dir_));
  OB_TRY_VOID(make_private_dir(keystore_dir()));
  OB_TRY(WalletLock lock, WalletLock::take(dir_));
  OB_TRY(Index index, read_index(dir_));
  OB_TRY_VOID(check_unique(index, name, address));
  Account account{name.empty() ? next_free_name(index) : std::move(name), address,
                  keystore_file_name(address, std::chrono::system_clock::now()), std::move(origin), false};
  const fs::path file = keystore_dir() / account.keystore;
  OB_TRY_VOID(fileio::write_file_atomic(file, as_bytes(*keystore_text), 0600));
  if (!index.default_address) index.default_address = address;
  account.is_default = index.default_address == address;
  index.accounts.push_back(account);
  if (auto written = write_index(dir_, index); !written) {
    std::error_code ignored;
    fs::remove(file, ignored);
    (void)fileio::sync_dir(keystore_dir());
    return std::unexpected(written.error());
  }
  return account;
}

Result<CreatedAccount> WalletStore::create(std::size_t words, std::string name, std::string_view passphrase) {
  if (!name.empty()) OB_TRY_VOID(check_account_name(name));
  if (passphrase.empty()) return fail(Errc::invalid_argument, "the passphrase must not be empty");
  OB_TRY(Mnemonic mnemonic, Mnemonic::generate(words));
  OB_TRY(PrivateKey key, ethereum_account_key(mnemonic, 0));
  OB_TRY(Account account, add(key, std::move(name), passphrase, "mnemonic " + ethereum_account_path(0)));
  return CreatedAccount{std::move(account), std::move(mnemonic)};
}

Result<Account> WalletStore::import_mnemonic(const Mnemonic& mnemonic, std::uint32_t index, std::string name,
                                             std::string_view passphrase) {
  if (passphrase.empty()) return fail(Errc::invalid_argument, "the passphrase must not be empty");
  OB_TRY(PrivateKey key, ethereum_account_key(mnemonic, index));
  return add(key, std::move(name), passphrase, "mnemonic " + ethereum_account_path(index));
}

Result<Account> WalletStore::import_private_key(std::string_view hex, std::string name, std::string_view passphrase) {
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front()))) hex.remove_prefix(1);
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.remove_suffix(1);
  if (hex.starts_with("0x") || hex.starts_with("0X")) hex.remove_prefix(2);
  auto bytes = hex.size() == 64 ? from_hex(hex) : std::nullopt;
  if (!bytes) return fail(Errc::invalid_argument, "a private key is 64 hex digits (0x optional)");
  auto key = PrivateKey::from_bytes(*bytes);
  std::fill(bytes->begin(), bytes->end(), 0);
  if (!key) return std::unexpected(key.error());
  if (passphrase.empty()) return fail(Errc::invalid_argument, "the passphrase must not be empty");
  return add(*key, std::move(name), passphrase, "private key");
}

Result<Account> WalletStore::import_keystore(std::string_view text, std::string name, std::string_view passphrase) {
  if (text.size() > kMaxKeystoreSize) return fail(Errc::corrupt, "not a keystore v3 file: larger than 64 KiB");
  OB_TRY(PrivateKey key, decrypt_keystore(text, passphrase));
  return add(key, std::move(name), passphrase, "keystore", std::string(text));
}

Result<Account> WalletStore::set_default(std::string_view name_or_address) {
  OB_TRY(Account wanted, find(name_or_address));
  OB_TRY(WalletLock lock, WalletLock::take(dir_));
  OB_TRY(Index index, read_index(dir_));
  const auto it = std::ranges::find_if(index.accounts, [&](const Account& a) { return a.address == wanted.address; });
  if (it == index.accounts.end()) return fail(Errc::not_found, "no account '", name_or_address, "' in the wallet");
  if (index.default_address != it->address) {
    index.default_address = it->address;
    OB_TRY_VOID(write_index(dir_, index));
  }
  it->is_default = true;
  return *it;
}

Result<std::string> WalletStore::keystore_text(const Account& account) const {
  OB_TRY(Bytes bytes, fileio::read_private_file(keystore_dir() / account.keystore, kMaxKeystoreSize));
  return std::string(as_chars(bytes));
}

Result<PrivateKey> WalletStore::unlock(const Account& account, std::string_view passphrase) const {
  OB_TRY(std::string text, keystore_text(account));
  OB_TRY(PrivateKey key, decrypt_keystore(text, passphrase));
  if (key.address() != account.address) {
    return fail(Errc::corrupt, "keystore ", account.keystore, " holds another key than ", account.address.to_checksum());
  }
  return key;
}

Result<void> WalletStore::export_keystore(const Account& account, const fs::path& path) const {
  std::error_code ec;
  if (fs::exists(path, ec) || fs::is_symlink(path, ec)) {
    return fail(Errc::already_exists, path.string(), " exists already: choose another file");
  }
  OB_TRY(std::string text, keystore_text(account));
  return fileio::write_file_atomic(path, as_bytes(text), 0600);
}

}  // namespace ob::wallet
