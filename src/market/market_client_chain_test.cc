// MarketClient against the real contract on a real EVM node: anvil, started by the test on a
// free loopback port. Runs when OB_ANVIL names anvil's binary (ctest market_client_on_anvil,
// label e2e, sets it); skipped in the plain unit run, and failed when OB_ANVIL names nothing.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "core/protocol.h"
#include "market/market_client.h"
#include "market/storage_proof.h"
#include "testing/test_util.h"
#include "tracker/market_placer.h"
#include "wallet/bip32.h"
#include "wallet/mnemonic.h"

namespace ob::market {
namespace {

using wallet::Address;
using wallet::PrivateKey;
using wallet::U256;

/// anvil's developer accounts 0..3 (mnemonic "test test ... junk"), each funded with 10000 ETH.
PrivateKey dev_key(int i) {
  static constexpr const char* kKeys[] = {
      "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
      "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
      "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
      "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  };
  return std::move(*PrivateKey::from_bytes(*from_hex(kKeys[i])));
}

/// Any of anvil's developer accounts (it funds 10 by default), derived from its mnemonic.
PrivateKey any_dev_key(std::uint32_t i) {
  const auto mnemonic = wallet::Mnemonic::parse("test test test test test test test test test test test junk");
  return std::move(*wallet::ethereum_account_key(*mnemonic, i));
}

/// anvil on 127.0.0.1, port chosen by the system; killed on destruction.
class Anvil {
 public:
  /// Starts `binary` and waits up to 30 s for "Listening on 127.0.0.1:PORT".
  static std::optional<std::string> start(const std::string& binary, pid_t* pid) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
    *pid = ::fork();
    if (*pid == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::execl(binary.c_str(), binary.c_str(), "--host", "127.0.0.1", "--port", "0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      const auto at = out.find("Listening on 127.0.0.1:");
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        const std::string port = out.substr(at + 23, out.find('\n', at) - at - 23);
        // Keep draining anvil's output so that it never blocks on a full pipe.
        std::thread([fd = fds[0]] {
          char sink[4096];
          while (::read(fd, sink, sizeof sink) > 0) {
          }
          ::close(fd);
        }).detach();
        return "http://127.0.0.1:" + port;
      }
    }
    ::close(fds[0]);
    return std::nullopt;
  }
};

class MarketClientOnAnvil : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kN = 3;
  static constexpr std::uint32_t kBlockSize = 2 * 1024;
  static constexpr std::uint64_t kBlocks = 3;

  void SetUp() override {
    const char* anvil = std::getenv("OB_ANVIL");
    if (anvil == nullptr) GTEST_SKIP() << "OB_ANVIL is not set (ctest market_client_on_anvil sets it)";
    ASSERT_TRUE(std::filesystem::exists(anvil)) << anvil << " is missing: run scripts/install-deps.sh";
    auto url = Anvil::start(anvil, &anvil_pid_);
    ASSERT_TRUE(url) << "anvil did not start";
    settings_.rpc = *url;
    settings_.receipt_timeout = std::chrono::seconds(30);
    make_dataset();
  }
  void TearDown() override {
    if (anvil_pid_ > 0) {
      ::kill(anvil_pid_, SIGTERM);
      ::waitpid(anvil_pid_, nullptr, 0);
    }
  }

  chain::ChainClient connect() {
    auto chain = chain::ChainClient::connect(settings_);
    EXPECT_TRUE(chain) << chain.error().message;
    return std::move(*chain);
  }

  /// n slots of kBlocks blocks, stored as a consumer stores them.
  void make_dataset() {
    auto store = SlotStore::open(tmp_.path() / "slots");
    ASSERT_TRUE(store) << store.error().message;
    store_.emplace(std::move(*store));
    manifest_.params = {2, 1, kBlockSize};
    manifest_.original_size = kBlocks * manifest_.params.stripe_plaintext_size();
    auto writer = store_->begin(kN, kBlockSize);
    ASSERT_TRUE(writer);
    std::vector<merkle::RootBuilder> trees(kN);
    for (std::uint64_t j = 0; j < kBlocks; ++j) {
      for (std::uint32_t i = 0; i < kN; ++i) {
        const Bytes block = ob::testing::seeded_bytes(kBlockSize, i * 100 + j);
        const merkle::Hash root = merkle::block_root(block);
        trees[i].add(root);
        ASSERT_TRUE(writer->append(i, block, root));
      }
    }
    for (const auto& tree : trees) manifest_.slot_roots.push_back(tree.root().value());
    ASSERT_TRUE(writer->commit(cid_));
  }

  StorageAsk ask(const Address& placer) const {
    StorageAsk a;
    a.manifest_cid = cid_.to_bytes();
    a.dataset_root = merkle::dataset_root(manifest_.slot_roots).value();
    a.n = kN;
    a.k = 2;
    a.block_size = kBlockSize;
    a.slot_size = kBlocks * kBlockSize;
    a.duration = 3600;
    a.expiry = 600;
    a.price_per_byte_second = 1000;
    a.collateral_per_byte = 10;
    a.proof_probability = 1;  // every period: the test sees a challenge at once
    a.placer = placer;
    return a;
  }

  /// Mines until a new period begins, so that a proof built now is mined in the same period.
  void start_of_period(MarketClient& market) {
    const std::uint64_t period = market.current_period().value();
    for (int i = 0; i < 20 && market.current_period().value() == period; ++i) {
      ASSERT_TRUE(market.chain().rpc().call("anvil_mine", nlohmann::json::array({"0x1"})));
    }
    ASSERT_GT(market.current_period().value(), period);
  }

  /// The proof of slot `slot` for the current period's challenge.
  ChainProof proof_now(MarketClient& market, const U256& request, std::uint32_t slot) {
    const std::uint64_t period = market.current_period().value();
    const Challenge challenge = market.get_challenge(request, slot, period).value();
    auto reader = store_->open_slot(cid_, slot);
    EXPECT_TRUE(reader);
    auto proof = prove_segment(manifest_, *reader, challenge.segment);
    EXPECT_TRUE(proof) << proof.error().message;
    return ChainProof{period, proof->data, proof->path()};
  }

  /// Fills `slot` from `host` with a permit of the placer (for `permit_for`, default the host).
  Result<chain::Receipt> fill(MarketClient& market, const U256& request, std::uint32_t slot, const PrivateKey& host,
                              const PrivateKey& placer, std::optional<Address> permit_for = std::nullopt) {
    const Slot s = market.get_slot(request, slot).value();
    const wallet::Hash32 digest =
        fill_permit_digest(market.chain().chain_id(), market.address(), request, slot,
                           permit_for.value_or(host.address()), s.round);
    const Bytes permit = sign_fill_permit(placer, digest).value();
    const ChainProof proof = proof_now(market, request, slot);
    return market.fill_slot(host, request, slot, permit, proof, ask(placer.address()).slot_collateral().value());
  }

  ob::testing::TempDir tmp_{"ob-market-client-test"};
  pid_t anvil_pid_ = -1;
  chain::ChainSettings settings_;
  std::optional<SlotStore> store_;
  Manifest manifest_;
  const Cid cid_ = Cid::v1(protocol::kCodecManifest, Multihash::sha2_256(as_bytes("market dataset")));
};

TEST_F(MarketClientOnAnvil, ARequestFillsStartsProvesAndPays) {
  const PrivateKey client = dev_key(0);
  const PrivateKey placer = dev_key(1);
  const PrivateKey host_a = dev_key(2);
  const PrivateKey host_b = dev_key(3);
  auto deployed = MarketClient::deploy(connect(), placer, MarketParams{});
  ASSERT_TRUE(deployed) << deployed.error().message;
  MarketClient& market = *deployed;
  EXPECT_EQ(market.params()->proof_period, MarketParams{}.proof_period);
  EXPECT_EQ(market.params()->max_slashes, MarketParams{}.max_slashes);

  // Opening: the deployed address works; an account without code does not.
  EXPECT_TRUE(MarketClient::open(connect(), market.address()));
  const auto not_market = MarketClient::open(connect(), client.address());
  ASSERT_FALSE(not_market);
  EXPECT_NE(not_market.error().message.find("no StorageMarket at"), std::string::npos);

  // A refused request is one clear line and costs nothing: nothing is even sent.
  const std::uint64_t nonce_before = market.chain().nonce(client.address()).value();
  StorageAsk bad = ask(placer.address());
  bad.k = 4;
  const wallet::Hash32 nonce = wallet::keccak256(as_bytes("upload 1"));
  const auto refused = market.request_storage(client, nonce, bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "the storage market refused requestStorage: InvalidSlots(n: 3, k: 4)");
  EXPECT_EQ(market.chain().nonce(client.address()).value(), nonce_before);

  // The request escrows exactly what the contract computes; a resend is not charged again.
  const U256 balance_before = market.chain().balance(client.address()).value();
  const auto request = market.request_storage(client, nonce, ask(placer.address()));
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(*request, U256(1));
  const U256 balance_after = market.chain().balance(client.address()).value();
  const auto again = market.request_storage(client, nonce, ask(placer.address()));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *request);
  EXPECT_EQ(market.chain().balance(client.address()).value(), balance_after);
  const U256 escrow = ask(placer.address()).escrow().value();
  EXPECT_GE(balance_before, *balance_after.checked_add(escrow));
  const Request stored = market.get_request(*request).value();
  EXPECT_EQ(stored.client, client.address());
  EXPECT_EQ(stored.placer, placer.address());
  EXPECT_EQ(stored.escrow, escrow);
  EXPECT_EQ(stored.state, RequestState::New);
  EXPECT_EQ(stored.manifest_cid, cid_.to_bytes());
  // Our local EIP-712 digest is the contract's.
  EXPECT_EQ(market.fill_permit_digest(*request, 0, host_a.address(), 0).value(),
            fill_permit_digest(market.chain().chain_id(), market.address(), *request, 0, host_a.address(), 0));

  // Fills: a permit for someone else is refused; each slot fills once; the third starts it.
  start_of_period(market);
  const auto stolen = fill(market, *request, 0, host_b, placer, host_a.address());
  ASSERT_FALSE(stolen);
  EXPECT_EQ(stolen.error().message, "the storage market refused fillSlot: NotChosenByPlacer()");
  auto filled = fill(market, *request, 0, host_a, placer);
  ASSERT_TRUE(filled) << filled.error().message;
  EXPECT_GT(filled->gas_used, 0u);
  const auto twice = fill(market, *request, 0, host_b, placer);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "the storage market refused fillSlot: SlotNotFree(state: Filled)");
  start_of_period(market);
  ASSERT_TRUE(fill(market, *request, 1, host_b, placer));
  ASSERT_TRUE(fill(market, *request, 2, host_a, placer));
  EXPECT_EQ(market.request_state(*request).value(), RequestState::Started);
  EXPECT_EQ(market.get_slot(*request, 1)->host, host_b.address());
  EXPECT_EQ(market.get_slot(*request, 1)->state, SlotState::Filled);

  // A proof in a later period is accepted once.
  start_of_period(market);
  const std::uint64_t period = market.current_period().value();
  ASSERT_TRUE(market.get_challenge(*request, 0, period)->required);
  const auto proved = market.submit_proof(host_a, *request, 0, proof_now(market, *request, 0));
  ASSERT_TRUE(proved) << proved.error().message;
  EXPECT_TRUE(market.proof_status(*request, 0, period)->first);
  const auto proved_twice = market.submit_proof(host_a, *request, 0, proof_now(market, *request, 0));
  ASSERT_FALSE(proved_twice);
  EXPECT_EQ(proved_twice.error().message, "the storage market refused submitProof: ProofAlreadySubmitted()");

  // Only the client cancels; a confirmed download pays the hosts, who withdraw it.
  const auto not_client = market.cancel(host_a, *request);
  ASSERT_FALSE(not_client);
  EXPECT_EQ(not_client.error().message, "the storage market refused cancel: NotClient()");
  ASSERT_TRUE(market.chain().rpc().call("evm_increaseTime", nlohmann::json::array({"0x64"})));
  ASSERT_TRUE(market.chain().rpc().call("evm_mine", nlohmann::json::array()));
  const U256 accrued = market.accrued_pay(*request, 0).value();  // at least the 100 s just passed
  EXPECT_FALSE(accrued.is_zero());
  ASSERT_TRUE(market.confirm_download(client, *request));
  const U256 earned = market.withdrawable(host_a.address()).value();
  EXPECT_GE(earned, accrued);  // settled one block later: a second's pay more
  EXPECT_TRUE(market.accrued_pay(*request, 0).value().is_zero());  // nothing pending once settled
  const U256 host_before = market.chain().balance(host_a.address()).value();
  const auto withdrawn = market.withdraw(host_a);
  ASSERT_TRUE(withdrawn) << withdrawn.error().message;
  EXPECT_EQ(*market.chain().balance(host_a.address()).value().checked_add(withdrawn->fee()),
            *host_before.checked_add(earned));
  const auto nothing = market.withdraw(host_a);
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().message, "the storage market refused withdraw: NothingToWithdraw()");

  // The log tells the same story.
  const auto events = market.events(0, *request);
  ASSERT_TRUE(events) << events.error().message;
  std::vector<std::string> names;
  for (const Event& e : *events) names.push_back(e.name);
  EXPECT_EQ(names.front(), "StorageRequested");
  EXPECT_EQ(std::count(names.begin(), names.end(), "SlotFilled"), 3);
  EXPECT_EQ(std::count(names.begin(), names.end(), "RequestStarted"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ProofSubmitted"), 1);
  EXPECT_EQ(events->front().fields.at("escrow").as_uint().value(), escrow);
  EXPECT_EQ(events->front().fields.at("client").as_address().value(), client.address());
}

// Repair on chain (docs/market.md "Repair on chain"): the tracker's placer withholds the permit
// of a slot the chain still gives another host, learns from the contract's events that the host
// left, and then signs for the round the chain names; the new host's fill earns the repair reward.
TEST_F(MarketClientOnAnvil, ThePlacerPermitsARepairedSlotOnlyOnceTheChainFreesIt) {
  const PrivateKey client = dev_key(0);
  const PrivateKey placer_key = dev_key(1);
  const PrivateKey hosts[] = {dev_key(2), dev_key(3), any_dev_key(4)};
  const PrivateKey newcomer = any_dev_key(5);
  auto deployed = MarketClient::deploy(connect(), placer_key, MarketParams{});
  ASSERT_TRUE(deployed) << deployed.error().message;
  MarketClient& market = *deployed;
  const auto request = market.request_storage(client, wallet::keccak256(as_bytes("repair")), ask(placer_key.address()));
  ASSERT_TRUE(request) << request.error().message;
  auto opened = MarketClient::open(connect(), market.address());
  ASSERT_TRUE(opened);
  tracker::MarketPlacer placer(std::move(*opened), dev_key(1));
  const std::string id = request->to_decimal();

  start_of_period(market);
  for (std::uint32_t slot = 0; slot < kN; ++slot) {
    // The placer's permit is the one the contract takes.
    const Bytes permit = placer.fill_permit(id, slot, hosts[slot].address().to_checksum()).value();
    const ChainProof proof = proof_now(market, *request, slot);
    ASSERT_TRUE(market.fill_slot(hosts[slot], *request, slot, permit, proof,
                                 ask(placer_key.address()).slot_collateral().value()));
  }
  ASSERT_EQ(market.request_state(*request).value(), RequestState::Started);

  // Slot 0 still has its host on chain: no permit for anyone else, one for the host itself.
  const auto early = placer.fill_permit(id, 0, newcomer.address().to_checksum());
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, Errc::not_found);
  EXPECT_NE(early.error().message.find("not yet"), std::string::npos) << early.error().message;
  EXPECT_TRUE(placer.fill_permit(id, 0, hosts[0].address().to_checksum()));
  // Who hosts a slot, as the tracker asks when a consumer claims one (settle_holder_claims).
  EXPECT_EQ(placer.host_now(id, 0).value(), std::optional<Address>(hosts[0].address()));
  EXPECT_EQ(placer.host_now("0x1", 0).error().code, Errc::invalid_argument);

  // The host leaves (as after maxSlashes marks): the slot is Repair; the placer learns it from
  // SlotFreed, within its refresh interval.
  ASSERT_TRUE(market.free_slot(hosts[0], *request, 0));
  ASSERT_EQ(market.get_slot(*request, 0)->state, SlotState::Repair);
  EXPECT_EQ(placer.host_now(id, 0).value(), std::nullopt) << "host_now reads past the slot cache";
  Result<Bytes> permit = fail(Errc::internal, "not asked");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!(permit = placer.fill_permit(id, 0, newcomer.address().to_checksum())) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(permit) << permit.error().message;
  const U256 before = market.withdrawable(newcomer.address()).value();
  start_of_period(market);
  const ChainProof proof = proof_now(market, *request, 0);
  const auto repaired =
      market.fill_slot(newcomer, *request, 0, *permit, proof, ask(placer_key.address()).slot_collateral().value());
  ASSERT_TRUE(repaired) << repaired.error().message;
  const Slot slot = market.get_slot(*request, 0).value();
  EXPECT_EQ(slot.host, newcomer.address());
  EXPECT_EQ(slot.round, 2u);
  EXPECT_EQ(placer.host_now(id, 0).value(), std::optional<Address>(newcomer.address()));
  EXPECT_GT(market.withdrawable(newcomer.address()).value(), before) << "no repair reward";

  // And the placer follows the refill (SlotFilled): the old host gets no permit any more.
  Result<Bytes> stale = Bytes{};
  const auto refill_seen = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((stale = placer.fill_permit(id, 0, hosts[0].address().to_checksum())) &&
         std::chrono::steady_clock::now() < refill_seen) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::not_found);
}

}  // namespace
}  // namespace ob::market
