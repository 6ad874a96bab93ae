#include "wallet/wallet_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "store/file_io.h"
#include "testing/test_util.h"
#include "wallet/keystore.h"

namespace ob::wallet {
namespace {

namespace fs = std::filesystem;

constexpr const char* kJunk = "test test test test test test test test test test test junk";
constexpr const char* kJunk0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
constexpr const char* kJunk1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

class WalletStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("OPEN_BUCKET_TEST_SCRYPT_N", "1024", 1); }
  void TearDown() override { ::unsetenv("OPEN_BUCKET_TEST_SCRYPT_N"); }

  /// Every file of the wallet folder and its bytes: what must not change on a refusal.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> files;
    std::error_code ec;
    if (!fs::exists(store.dir(), ec)) return files;
    for (const auto& entry : fs::recursive_directory_iterator(store.dir())) {
      if (!entry.is_regular_file()) continue;
      auto bytes = fileio::read_file(entry.path(), 1 << 20);
      files[entry.path().string()] = bytes ? std::string(as_chars(*bytes)) : "unreadable";
    }
    return files;
  }

  ob::testing::TempDir home{"wallet-store"};
  WalletStore store{home.path()};
};

TEST_F(WalletStoreTest, ImportsTheJunkMnemonicAndMakesItDefault) {
  auto mnemonic = Mnemonic::parse(kJunk);
  auto first = store.import_mnemonic(*mnemonic, 0, "", "pw");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->name, "account1");
  EXPECT_EQ(first->address.to_checksum(), kJunk0);
  EXPECT_TRUE(first->is_default);
  EXPECT_EQ(first->origin, "mnemonic m/44'/60'/0'/0/0");
  auto second = store.import_mnemonic(*mnemonic, 1, "savings", "pw");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->address.to_checksum(), kJunk1);
  EXPECT_FALSE(second->is_default);

  auto all = store.accounts();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].name, "savings");
  EXPECT_EQ(store.default_account()->value().name, "account1");
  EXPECT_EQ(store.find("savings")->address.to_checksum(), kJunk1);
  EXPECT_EQ(store.find(kJunk1)->name, "savings");
  EXPECT_EQ(store.find("0x70997970c51812dc3a010c7d01b50e0d17dc79c8")->name, "savings");

  // geth's layout and modes.
  const fs::path file = store.keystore_dir() / first->keystore;
  EXPECT_TRUE(first->keystore.starts_with("UTC--"));
  EXPECT_TRUE(first->keystore.ends_with("--f39fd6e51aad88f6f4ce6ab8827279cfffb92266"));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(store.keystore_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((store.dir() / "wallet.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto key = store.unlock(*first, "pw");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->address().to_checksum(), kJunk0);

  auto made_default = store.set_default("savings");
  ASSERT_TRUE(made_default);
  EXPECT_EQ(store.default_account()->value().address.to_checksum(), kJunk1);
}

TEST_F(WalletStoreTest, CreateGivesAMnemonicThatDerivesTheAccount) {
  auto created = store.create(24, "main", "pw");
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->mnemonic.size(), 24u);
  auto again = store.import_mnemonic(created->mnemonic, 0, "dup", "pw");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::already_exists);
  EXPECT_NE(again.error().message.find("as 'main'"), std::string::npos);
}

TEST_F(WalletStoreTest, ImportsKeystoresByteForByteAndPrivateKeys) {
  auto key = PrivateKey::generate();
  const std::string text = *encrypt_keystore(*key, "theirs", ScryptParams{1024, 8, 1});
  auto imported = store.import_keystore(text, "ext", "theirs");
  ASSERT_TRUE(imported) << imported.error().message;
  EXPECT_EQ(store.keystore_text(*imported).value(), text);
  EXPECT_TRUE(store.unlock(*imported, "theirs"));

  auto raw = store.import_private_key("  0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n", "raw", "pw");
  ASSERT_TRUE(raw) << raw.error().message;
  EXPECT_EQ(raw->address.to_checksum(), kJunk0);
  EXPECT_EQ(raw->origin, "private key");

  const fs::path out = home.path() / "exported.json";
  ASSERT_TRUE(store.export_keystore(*raw, out));
  auto exported = fileio::read_file(out, 1 << 16);
  ASSERT_TRUE(exported);
  EXPECT_EQ(std::string(as_chars(*exported)), store.keystore_text(*raw).value());
  auto twice = store.export_keystore(*raw, out);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Errc::already_exists);
}

TEST_F(WalletStoreTest, RefusalsChangeNothing) {
  auto mnemonic = Mnemonic::parse(kJunk);
  ASSERT_TRUE(store.import_mnemonic(*mnemonic, 0, "main", "pw"));
  const auto before = snapshot();
  ASSERT_FALSE(before.empty());

  const auto refused = [&](auto result, Errc code, std::string_view words) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, code) << result.error().message;
    EXPECT_NE(result.error().message.find(words), std::string::npos) << result.error().message;
    EXPECT_EQ(snapshot(), before);
  };
  refused(store.import_mnemonic(*mnemonic, 1, "main", "pw"), Errc::already_exists, "named 'main' exists");
  refused(store.import_mnemonic(*mnemonic, 0, "other", "pw"), Errc::already_exists, "holds");
  refused(store.import_mnemonic(*mnemonic, 2, "bad name!", "pw"), Errc::invalid_argument, "letters");
  refused(store.import_mnemonic(*mnemonic, 2, "0xabc", "pw"), Errc::invalid_argument, "must not start with 0x");
  refused(store.import_mnemonic(*mnemonic, 2, "", ""), Errc::invalid_argument, "must not be empty");
  refused(store.import_private_key("1234", "", "pw"), Errc::invalid_argument, "64 hex digits");
  refused(store.import_keystore("{}", "", "pw"), Errc::corrupt, "keystore");
  auto key = PrivateKey::generate();
  const std::string text = *encrypt_keystore(*key, "theirs", ScryptParams{1024, 8, 1});
  refused(store.import_keystore(text, "", "wrong"), Errc::invalid_argument, "wrong passphrase");
  refused(store.create(12, "main", "pw"), Errc::already_exists, "exists");
  refused(store.create(13, "", "pw"), Errc::invalid_argument, "12 or 24");
  refused(store.find("nobody"), Errc::not_found, "no account 'nobody'");
  refused(store.set_default("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), Errc::invalid_argument, "EIP-55");
  auto main = store.find("main");
  refused(store.unlock(*main, "wrong"), Errc::invalid_argument, "wrong passphrase");
}

TEST_F(WalletStoreTest, AnEmptyWalletHasNoDefault) {
  EXPECT_TRUE(store.accounts()->empty());
  EXPECT_FALSE(store.default_account()->has_value());
  EXPECT_FALSE(fs::exists(store.dir()));
}

TEST_F(WalletStoreTest, ADamagedIndexIsReported) {
  fs::create_directories(store.dir());
  std::ofstream(store.dir() / "wallet.json") << "{\"version\": 1, \"accounts\": [{\"name\": 5}]}";
  auto all = store.accounts();
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().code, Errc::corrupt);
}

}  // namespace
}  // namespace ob::wallet
