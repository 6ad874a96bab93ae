#include "chain/chain_client.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "testing/test_util.h"
#include "wallet/amount.h"

namespace ob::chain {
namespace {

using nlohmann::json;
using wallet::U256;

/// A scripted Ethereum node on 127.0.0.1: each method answers with its handler's JSON-RPC
/// reply body; calls are recorded.
class FakeNode {
 public:
  using Handler = std::function<json(const json& params)>;
  FakeNode() {
    server_.Post("/", [this](const httplib::Request& req, httplib::Response& res) {
      const json request = json::parse(req.body);
      Handler handler;
      {
        std::lock_guard lock(mutex_);
        calls_.push_back(request["method"]);
        const auto it = handlers_.find(request["method"]);
        if (it != handlers_.end()) handler = it->second;
      }
      json reply = handler ? handler(request["params"])
                           : json{{"error", {{"code", -32601}, {"message", "method not found"}}}};
      if (reply.is_string() && reply.get<std::string>() == "raw:not json") {
        res.set_content("<html>not json</html>", "text/html");
        return;
      }
      reply["jsonrpc"] = "2.0";
      reply["id"] = request["id"];
      res.set_content(reply.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeNode() {
    server_.stop();
    thread_.join();
  }
  void on(const std::string& method, Handler handler) {
    std::lock_guard lock(mutex_);
    handlers_[method] = std::move(handler);
  }
  void result(const std::string& method, json value) {
    on(method, [value](const json&) { return json{{"result", value}}; });
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, Handler> handlers_;
  std::vector<std::string> calls_;
};

ChainSettings settings(const std::string& url, std::uint64_t chain_id = 31337) {
  ChainSettings s;
  s.rpc = url;
  s.chain_id = chain_id;
  s.rpc_options.connect_timeout = std::chrono::milliseconds(2000);
  s.rpc_options.timeout = std::chrono::milliseconds(2000);
  s.receipt_timeout = std::chrono::milliseconds(3000);
  return s;
}

const wallet::Address kTo = *wallet::Address::parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

TEST(ChainClient, UnreachableNodeIsAnIoErrorNamingIt) {
  // A port that was free a moment ago and has no listener now: connecting is refused.
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &size), 0);
  ::close(sock);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto client = ChainClient::connect(settings(url));
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, Errc::io);
  EXPECT_NE(client.error().message.find("cannot reach the Ethereum node at " + url), std::string::npos)
      << client.error().message;
}

TEST(ChainClient, RefusesANodeOnAnotherChain) {
  FakeNode node;
  node.result("eth_chainId", "0x1");
  auto client = ChainClient::connect(settings(node.url()));
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, Errc::invalid_argument);
  EXPECT_NE(client.error().message.find("is on chain 1, not chain 31337"), std::string::npos) << client.error().message;
  // Unpinned (0): the node's chain is taken.
  auto any = ChainClient::connect(settings(node.url(), 0));
  ASSERT_TRUE(any);
  EXPECT_EQ(any->chain_id(), 1u);
}

TEST(ChainClient, RpcErrorsAndMalformedRepliesSayWhat) {
  FakeNode node;
  node.result("eth_chainId", "0x7a69");
  node.on("eth_getBalance", [](const json&) { return json{{"error", {{"code", -32000}, {"message", "boom"}}}}; });
  auto client = ChainClient::connect(settings(node.url()));
  ASSERT_TRUE(client) << client.error().message;
  auto balance = client->balance(kTo);
  ASSERT_FALSE(balance);
  EXPECT_EQ(balance.error().message, "the Ethereum node refused eth_getBalance: boom (code -32000)");
  node.on("eth_getBalance", [](const json&) { return json("raw:not json"); });
  balance = client->balance(kTo);
  ASSERT_FALSE(balance);
  EXPECT_EQ(balance.error().code, Errc::corrupt);
  node.result("eth_getBalance", 5);
  balance = client->balance(kTo);
  ASSERT_FALSE(balance);
  EXPECT_EQ(balance.error().code, Errc::corrupt);
  node.result("eth_getBalance", "0xde0b6b3a7640000");
  EXPECT_EQ(client->balance(kTo).value(), U256(1000000000000000000ull));
  // A revert's data (a contract's custom error) is handed back to whoever asks for it.
  node.on("eth_call", [](const json&) {
    return json{{"error", {{"code", 3}, {"message", "execution reverted"}, {"data", "0x3ccfd60b"}}}};
  });
  json data;
  auto call = client->rpc().call("eth_call", json::array({json::object(), "latest"}), &data);
  ASSERT_FALSE(call);
  EXPECT_EQ(call.error().message, "the Ethereum node refused eth_call: execution reverted (code 3)");
  EXPECT_EQ(data, "0x3ccfd60b");
}

TEST(ChainClient, ASlowNodeTimesOut) {
  FakeNode node;
  node.result("eth_chainId", "0x7a69");
  node.on("eth_getBalance", [](const json&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return json{{"result", "0x0"}};
  });
  ChainSettings s = settings(node.url());
  s.rpc_options.timeout = std::chrono::milliseconds(200);
  auto client = ChainClient::connect(s);
  ASSERT_TRUE(client);
  auto balance = client->balance(kTo);
  ASSERT_FALSE(balance);
  EXPECT_EQ(balance.error().code, Errc::io);
}

TEST(ChainClient, RefusesMalformedUrls) {
  for (const char* bad : {"", "127.0.0.1:8545", "ftp://host", "http://", "http://user@host:1"}) {
    EXPECT_FALSE(ChainClient::connect(settings(bad))) << bad;
  }
}

/// A node with 1 ETH at every address, base fee 1 gwei and tip 1 gwei.
void script_funded_node(FakeNode& node, const std::string& balance = "0xde0b6b3a7640000") {
  node.result("eth_chainId", "0x7a69");
  node.result("eth_getTransactionCount", "0x3");
  node.result("eth_getBlockByNumber", json{{"number", "0x10"}, {"baseFeePerGas", "0x3b9aca00"}});
  node.result("eth_maxPriorityFeePerGas", "0x3b9aca00");
  node.result("eth_getBalance", balance);
  node.result("eth_estimateGas", "0x5208");
}

TEST(ChainClient, InsufficientFundsAreRefusedBeforeBroadcast) {
  FakeNode node;
  script_funded_node(node);
  auto client = ChainClient::connect(settings(node.url()));
  auto key = wallet::PrivateKey::generate();
  // 1 ETH held, 1 ETH to send: the fee does not fit.
  auto sent = client->send_transaction(*key, kTo, *wallet::parse_amount("1"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, Errc::invalid_argument);
  EXPECT_NE(sent.error().message.find("insufficient funds"), std::string::npos) << sent.error().message;
  EXPECT_NE(sent.error().message.find("needs up to 1.000063 ETH with fees"), std::string::npos) << sent.error().message;
  // More than the balance at all.
  sent = client->send_transaction(*key, kTo, *wallet::parse_amount("2"));
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().message.find("less than the 2 ETH to send"), std::string::npos) << sent.error().message;
  const auto calls = node.calls();
  EXPECT_EQ(std::ranges::count(calls, "eth_sendRawTransaction"), 0);
}

TEST(ChainClient, SendsSignsAndWaitsForTheReceipt) {
  FakeNode node;
  script_funded_node(node);
  std::string raw_sent;
  node.on("eth_sendRawTransaction", [&](const json& params) {
    raw_sent = params[0];
    const Bytes raw = *from_hex(raw_sent.substr(2));
    return json{{"result", to_data(wallet::keccak256(raw))}};
  });
  int polls = 0;
  node.on("eth_getTransactionReceipt", [&](const json&) {
    if (++polls < 3) return json{{"result", nullptr}};  // not mined yet
    return json{{"result", {{"status", "0x1"}, {"blockNumber", "0x11"}, {"gasUsed", "0x5208"},
                            {"effectiveGasPrice", "0x77359400"}}}};
  });
  auto client = ChainClient::connect(settings(node.url()));
  auto key = wallet::PrivateKey::generate();
  auto sent = client->send_transaction(*key, kTo, *wallet::parse_amount("0.5"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(polls, 3);
  EXPECT_EQ(sent->receipt.block_number, 0x11u);
  EXPECT_EQ(sent->receipt.fee(), U256(21000ull * 2000000000ull));
  auto decoded = decode_signed_transaction(*from_hex(raw_sent.substr(2)));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->from, key->address());
  EXPECT_EQ(decoded->tx.nonce, 3u);
  EXPECT_EQ(decoded->tx.chain_id, 31337u);
  EXPECT_EQ(decoded->tx.to, kTo);
  EXPECT_EQ(decoded->tx.value, *wallet::parse_amount("0.5"));
  EXPECT_EQ(decoded->tx.gas_limit, 21000u);
  EXPECT_EQ(decoded->tx.max_priority_fee_per_gas, U256(1000000000));
  EXPECT_EQ(decoded->tx.max_fee_per_gas, U256(3000000000ull));  // 2 x base + tip

  EXPECT_FALSE(sent->receipt.contract_address);  // a transfer creates nothing

  // A creation's receipt names the contract; a malformed name is refused.
  node.on("eth_getTransactionReceipt", [](const json&) {
    return json{{"result", {{"status", "0x1"}, {"blockNumber", "0x12"}, {"gasUsed", "0x5208"},
                            {"effectiveGasPrice", "0x77359400"},
                            {"contractAddress", "0x5fbdb2315678afecb367f032d93f642f64180aa3"}}}};
  });
  auto created = client->send_transaction(*key, std::nullopt, 0, Bytes{0x60, 0x00});
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(created->receipt.contract_address);
  EXPECT_EQ(created->receipt.contract_address->to_checksum(), "0x5FbDB2315678afecb367f032d93F642f64180aa3");
  node.on("eth_getTransactionReceipt", [](const json&) {
    return json{{"result", {{"status", "0x1"}, {"blockNumber", "0x12"}, {"gasUsed", "0x5208"},
                            {"effectiveGasPrice", "0x77359400"}, {"contractAddress", "0x5fbd"}}}};
  });
  auto malformed = client->send_transaction(*key, std::nullopt, 0, Bytes{0x60, 0x00});
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, Errc::corrupt);

  // A reverted transaction is an error naming it.
  node.on("eth_getTransactionReceipt", [](const json&) {
    return json{{"result", {{"status", "0x0"}, {"blockNumber", "0x12"}, {"gasUsed", "0x5208"},
                            {"effectiveGasPrice", "0x77359400"}}}};
  });
  auto reverted = client->send_transaction(*key, kTo, 1);
  ASSERT_FALSE(reverted);
  EXPECT_NE(reverted.error().message.find("reverted in block 18"), std::string::npos) << reverted.error().message;
}

TEST(ChainClient, NoReceiptByTheDeadlineIsAnError) {
  FakeNode node;
  script_funded_node(node);
  node.result("eth_getTransactionReceipt", nullptr);
  auto client = ChainClient::connect(settings(node.url()));
  wallet::Hash32 hash{};
  auto receipt = client->wait_for_receipt(hash, std::chrono::milliseconds(300));
  ASSERT_FALSE(receipt);
  EXPECT_EQ(receipt.error().code, Errc::io);
  EXPECT_NE(receipt.error().message.find("no receipt came"), std::string::npos);
}

}  // namespace
}  // namespace ob::chain
