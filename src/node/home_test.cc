#include "node/home.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "net/identity.h"
#include "store/file_io.h"
#include "testing/test_util.h"
#include "wallet/mnemonic.h"

namespace ob {
namespace {

class HomeTest : public ::testing::Test {
 protected:
  ob::testing::TempDir tmp_{"ob-home-test"};
  const std::filesystem::path dir_ = tmp_.path() / "home";
};

TEST_F(HomeTest, InitCreatesConfigAndPrivateMasterSecret) {
  auto init = Home::init(dir_, false);
  ASSERT_TRUE(init) << init.error().message;
  EXPECT_TRUE(init->created_master_secret);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "keys/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat((dir_ / "keys/identity.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto home = Home::open(dir_);
  ASSERT_TRUE(home) << home.error().message;
  EXPECT_EQ(home->config().coding, CodingParams{});
  EXPECT_TRUE(home->config().sync);
}

// Vectors from independent implementations (tests/js, Node 18): the BIP-39 seed by ethers v6
// (Mnemonic.fromPhrase(words).computeSeed()), the keys by node:crypto's hkdfSync("sha256",
// seed, "", info, 32), the Ed25519 public key by node:crypto from the identity seed.
constexpr std::string_view kWords = "test test test test test test test test test test test junk";
constexpr std::string_view kSeedHex =
    "9dfc3c64c2f8bede1533b6a79f8570e5943e0b8fd1cf77107adf7b72cef42185"
    "d564a3aee24cab43f80e3c4538087d70fc824eabbad596a23c97b6ee8322ccc0";
constexpr std::string_view kMasterHex = "83a18e454132efd718bb37222e365bb5f1c81c07fbf368d1b0b9f5d4f10eef75";
constexpr std::string_view kIdentityHex = "dbbdf896bce67a6264495293cbbdff9552db1c2c7682b33a7dd3bcb41face81f";
constexpr std::string_view kPublicKeyHex = "43a9432a34a5cab616fb9a3edcbc764fcca2f3bb130942574f5be8fe29854933";

RootKeys root_of(std::string_view words) {
  auto mnemonic = wallet::Mnemonic::parse(words);
  EXPECT_TRUE(mnemonic);
  auto seed = mnemonic->seed();
  EXPECT_TRUE(seed);
  auto keys = derive_root_keys(*seed);
  EXPECT_TRUE(keys) << keys.error().message;
  return *keys;
}

TEST(RootKeysTest, DeriveTheMasterSecretAndIdentityAsNodesCryptoDoes) {
  auto mnemonic = wallet::Mnemonic::parse(kWords);
  ASSERT_TRUE(mnemonic);
  auto seed = mnemonic->seed();
  ASSERT_TRUE(seed);
  EXPECT_EQ(to_hex(*seed), kSeedHex);
  const RootKeys keys = root_of(kWords);
  EXPECT_EQ(to_hex(keys.master), kMasterHex);
  EXPECT_EQ(to_hex(keys.identity_seed), kIdentityHex);
  EXPECT_NE(keys.master, keys.identity_seed);  // distinct labels
  auto identity = net::Identity::from_seed(keys.identity_seed);
  ASSERT_TRUE(identity);
  EXPECT_EQ(to_hex(identity->public_key()), kPublicKeyHex);
  // Other words, other keys.
  const RootKeys other = root_of("legal winner thank year wave sausage worth useful legal winner thank yellow");
  EXPECT_NE(other.master, keys.master);
  EXPECT_NE(other.identity_seed, keys.identity_seed);
}

TEST(RootKeysTest, RefuseASeedOfTheWrongSize) {
  const Bytes short_seed(32, 1);
  auto keys = derive_root_keys(short_seed);
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code, Errc::invalid_argument);
}

TEST_F(HomeTest, TwoHomesFromTheSameWordsHaveTheSameKeysAndPeerId) {
  const RootKeys keys = root_of(kWords);
  auto first = Home::init(dir_, false, {}, &keys);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created_master_secret);
  EXPECT_TRUE(first->keys_from_root);
  const std::filesystem::path second_dir = tmp_.path() / "recovered";
  auto second = Home::init(second_dir, false, {}, &keys);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->keys_from_root);
  for (const char* file : {"keys/master.key", "keys/identity.key"}) {
    auto a = fileio::read_file(dir_ / file, 64);
    auto b = fileio::read_file(second_dir / file, 64);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b) << file;
    struct stat st {};
    ASSERT_EQ(::stat((second_dir / file).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
  auto home = Home::open(second_dir);
  ASSERT_TRUE(home);
  EXPECT_EQ(to_hex(home->master_secret()), kMasterHex);
  auto a = net::Identity::load_or_create(dir_ / "keys/identity.key");
  auto b = net::Identity::load_or_create(second_dir / "keys/identity.key");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->peer_id(), b->peer_id());
}

TEST_F(HomeTest, ExistingRandomKeysAreKeptAndSaidNotToBeTheWords) {
  ASSERT_TRUE(Home::init(dir_, false));
  auto before = fileio::read_file(dir_ / "keys/master.key", 64);
  ASSERT_TRUE(before);
  const RootKeys keys = root_of(kWords);
  auto again = Home::init(dir_, true, {}, &keys);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created_master_secret);
  EXPECT_FALSE(again->keys_from_root);
  auto after = fileio::read_file(dir_ / "keys/master.key", 64);
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, *before);
}

TEST_F(HomeTest, InitNeverOverwritesSilentlyAndForceKeepsTheSecret) {
  ASSERT_TRUE(Home::init(dir_, false));
  auto before = fileio::read_file(dir_ / "keys/master.key", 64);
  ASSERT_TRUE(before);
  auto again = Home::init(dir_, false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::already_exists);
  auto forced = Home::init(dir_, true);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_FALSE(forced->created_master_secret);
  auto after = fileio::read_file(dir_ / "keys/master.key", 64);
  ASSERT_TRUE(after);
  EXPECT_EQ(*before, *after);
}

TEST_F(HomeTest, InitCreatesAPrivateApiTokenAndKeepsIt) {
  ASSERT_TRUE(Home::init(dir_, false));
  const auto path = dir_ / "keys/api.token";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto token = read_api_token(path);
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(token->size(), 64u);
  ASSERT_TRUE(Home::init(dir_, true));
  auto again = load_or_create_api_token(path);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*token, *again);
}

TEST_F(HomeTest, ApiTokenIsCreatedWhenMissingAndRefusedWhenBad) {
  std::filesystem::create_directories(dir_);
  const auto path = dir_ / "api.token";
  auto missing = read_api_token(path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  auto created = load_or_create_api_token(path);
  ASSERT_TRUE(created) << created.error().message;
  auto second = load_or_create_api_token(path);
  ASSERT_TRUE(second);
  EXPECT_EQ(*created, *second);

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto shared = read_api_token(path);
  ASSERT_FALSE(shared);
  EXPECT_EQ(shared.error().code, Errc::corrupt);
  ASSERT_TRUE(fileio::write_file_atomic(path, as_bytes(std::string("not-hex")), 0600));
  auto bad = load_or_create_api_token(path);  // never silently replaced
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::corrupt);
}

TEST_F(HomeTest, OpenRefusesUninitialisedHome) {
  auto home = Home::open(dir_);
  ASSERT_FALSE(home);
  EXPECT_EQ(home.error().code, Errc::not_found);
  EXPECT_NE(home.error().message.find("open-bucket init"), std::string::npos);
}

TEST_F(HomeTest, OpenRefusesAMasterSecretOthersCanRead) {
  ASSERT_TRUE(Home::init(dir_, false));
  ASSERT_EQ(::chmod((dir_ / "keys/master.key").c_str(), 0644), 0);
  auto home = Home::open(dir_);
  ASSERT_FALSE(home);
  EXPECT_EQ(home.error().code, Errc::corrupt);
}

TEST_F(HomeTest, OpenRefusesATruncatedMasterSecret) {
  ASSERT_TRUE(Home::init(dir_, false));
  ASSERT_TRUE(fileio::write_file_atomic(dir_ / "keys/master.key", Bytes(16, 1), 0600));
  auto home = Home::open(dir_);
  ASSERT_FALSE(home);
  EXPECT_EQ(home.error().code, Errc::corrupt);
}

TEST(NodeConfigTest, RoundTripsThroughToml) {
  NodeConfig config;
  config.coding = {10, 4, 1024 * 1024};
  config.quota_bytes = 123456789;
  config.sync = false;
  config.api_port = 0;
  config.consumer_scan_interval_seconds = 5;
  config.chain_rpc = "http://127.0.0.1:8545";
  config.chain_id = 31337;
  config.consumer_account = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
  config.consumer_price_wei = 1'000'000'000;
  auto parsed = NodeConfig::from_toml(config.to_toml());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->chain_rpc, config.chain_rpc);
  EXPECT_EQ(parsed->chain_id, 31337u);
  EXPECT_EQ(parsed->consumer_account, config.consumer_account);
  EXPECT_EQ(parsed->consumer_price_wei, config.consumer_price_wei);
  EXPECT_EQ(parsed->coding, config.coding);
  EXPECT_EQ(parsed->quota_bytes, config.quota_bytes);
  EXPECT_FALSE(parsed->sync);
  EXPECT_EQ(parsed->api_port, 0);
  EXPECT_EQ(parsed->consumer_scan_interval_seconds, 5u);
}

TEST(NodeConfigTest, ApiPortDefaultsTo8080AndIsRead) {
  auto defaults = NodeConfig::from_toml("");
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->api_port, 8080);
  auto set = NodeConfig::from_toml("[api]\nport = 65535\n");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->api_port, 65535);
}

TEST(NodeConfigTest, RejectsBadValuesNamingTheKey) {
  const char* cases[] = {
      "[coding]\nk = 0\n",            // k < 1
      "[coding]\nk = 200\nm = 60\n",  // k + m > 255
      "[coding]\nblock_size = 1000\n",
      "[coding]\nk = \"four\"\n",
      "[coding]\nm = -1\n",
      "[storage]\nsync = 1\n",
      "[api]\nport = 65536\n",
      "[api]\nport = -1\n",
      "[api]\nport = \"8080\"\n",
      "[api]\nport = 80.5\n",
      "[coding\nk = 4\n",  // TOML syntax
      "[p2p]\nport = 70000\n",
      "[p2p]\nbootstrap = \"127.0.0.1:4222\"\n",  // not a list
      "[p2p]\nbootstrap = [4222]\n",
      "[p2p]\nbootstrap = [\"no-port\"]\n",
      "[p2p]\nhost = \"\"\n",
      "[consumer]\nscan_interval_seconds = 0\n",  // would scan without pause
      "[consumer]\nscan_interval_seconds = 86401\n",
      "[chain]\nrpc = \"127.0.0.1:8545\"\n",  // no scheme
      "[chain]\nchain_id = -1\n",
      "[consumer]\naccount = \"savings\"\n",  // an address, not a name
      "[consumer]\nprice_wei_per_byte_second = -1\n",
      "[consumer]\nprice_wei_per_byte_second = \"1 gwei\"\n",  // wei as an integer
      "[consumer]\naccount = \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD\"\n",  // wrong EIP-55 checksum
  };
  for (const char* text : cases) {
    auto parsed = NodeConfig::from_toml(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().code, Errc::invalid_argument) << text;
    EXPECT_NE(parsed.error().message.find("config.toml"), std::string::npos) << parsed.error().message;
  }
}

TEST(ResolveHomeTest, FlagThenEnvironmentThenHome) {
  const char* old_home = std::getenv("HOME");
  const std::string saved_home = old_home != nullptr ? old_home : "";
  ::setenv("OPEN_BUCKET_HOME", "/env/home", 1);
  EXPECT_EQ(*resolve_home(std::string("/flag/home")), "/flag/home");
  EXPECT_EQ(*resolve_home(std::nullopt), "/env/home");
  ::unsetenv("OPEN_BUCKET_HOME");
  ::setenv("HOME", "/users/me", 1);
  EXPECT_EQ(*resolve_home(std::nullopt), "/users/me/.open-bucket");
  ::setenv("HOME", saved_home.c_str(), 1);
}

}  // namespace
}  // namespace ob
