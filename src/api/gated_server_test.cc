#include "api/gated_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace ob::api {
namespace {

using namespace std::chrono_literals;

/// A client socket written and read by hand, as a slow or odd client would. Every read gives up
/// after 30 s, so that a test fails instead of hanging.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval timeout{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send(std::string_view text) const {
    return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }
  /// Everything until the server closes (or 30 s of silence).
  std::string read_to_end() const {
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    return out;
  }
  /// Reads until `count` occurrences of `needle` arrived (or the server closes, or 30 s pass).
  std::string read_until(std::string_view needle, std::size_t count) const {
    std::string out;
    char buffer[4096];
    const auto occurrences = [&] {
      std::size_t found = 0;
      for (std::size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1)) ++found;
      return found;
    };
    while (occurrences() < count) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

std::size_t count_of(const std::string& text, std::string_view needle) {
  std::size_t found = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++found;
  return found;
}

class GatedServerTest : public ::testing::Test {
 protected:
  void start(ServerLimits limits) {
    auto server = GatedServer::create(limits);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    server_->Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.set_content("pong", "text/plain"); });
    server_->Post("/echo", [](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& read) {
      std::string body;
      read([&](const char* data, std::size_t size) {
        body.append(data, size);
        return true;
      });
      res.set_content(body, "text/plain");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    listener_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(1ms);
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    listener_.join();
    server_->close();
  }
  std::string ping() {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30s);
    auto res = client.Get("/ping");
    return res ? res->body : "no answer: " + httplib::to_string(res.error());
  }

  std::unique_ptr<GatedServer> server_;
  int port_ = 0;
  std::thread listener_;
};

TEST_F(GatedServerTest, SlowHeadersHoldNoWorker) {
  start({.header_timeout = 30s, .workers = 1});
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(slow.back()->connected());
    ASSERT_TRUE(slow.back()->send("GET /ping HTTP/1.1\r\nX-Slow: "));  // and never more
  }
  // One worker, sixteen clients still sending their header: the prompt one is served.
  EXPECT_EQ(ping(), "pong");
  EXPECT_EQ(ping(), "pong");
}

TEST_F(GatedServerTest, AHeaderNotCompleteByTheDeadlineIsAnswered408) {
  start({.header_timeout = 300ms});
  RawClient slow(port_);
  ASSERT_TRUE(slow.send("GET /ping HTTP/1.1\r\n"));
  std::thread trickle([&] {  // a byte now and then: each read alone would never time out
    for (int i = 0; i < 20 && slow.send("x"); ++i) std::this_thread::sleep_for(50ms);
  });
  const std::string reply = slow.read_to_end();
  trickle.join();
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 408 ")) << reply;
  EXPECT_NE(reply.find(R"({"msg":"the request header did not arrive within 0.3 s"})"), std::string::npos) << reply;
  // A connection that never sent anything is closed without a reply.
  RawClient idle(port_);
  EXPECT_EQ(idle.read_to_end(), "");
}

TEST_F(GatedServerTest, KeptAliveConnectionsServeRequestAfterRequest) {
  start({.header_timeout = 5s, .workers = 2});
  RawClient client(port_);
  const std::string request = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(client.send(request + request));  // pipelined: the second waits in the buffer
  std::string replies = client.read_until("pong", 2);
  EXPECT_EQ(count_of(replies, "HTTP/1.1 200 OK"), 2u) << replies;
  EXPECT_EQ(replies.find("Keep-Alive:"), std::string::npos) << "httplib's own keep-alive policy is not ours";
  ASSERT_TRUE(client.send(request));  // back from the gate for a third
  EXPECT_EQ(count_of(client.read_until("pong", 1), "pong"), 1u);
  ASSERT_TRUE(client.send("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  replies = client.read_to_end();  // answered, then closed
  EXPECT_EQ(count_of(replies, "pong"), 1u) << replies;
}

TEST_F(GatedServerTest, ABodyArrivingSlowlyIsNotCutByTheHeaderDeadline) {
  start({.header_timeout = 300ms});
  RawClient client(port_);
  ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc"));
  for (const char* piece : {"def", "ghi"}) {
    std::this_thread::sleep_for(400ms);  // the client is slow: longer than the header deadline
    ASSERT_TRUE(client.send(piece));
  }
  const std::string reply = client.read_until("abcdefghi", 1);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK")) << reply;
  EXPECT_NE(reply.find("abcdefghi"), std::string::npos) << reply;
}

TEST_F(GatedServerTest, AnOversizedHeaderIsAnswered431) {
  start({.max_header_bytes = 1024});
  RawClient client(port_);
  ASSERT_TRUE(client.send("GET /ping HTTP/1.1\r\nX-Big: " + std::string(2000, 'a')));
  EXPECT_TRUE(client.read_to_end().starts_with("HTTP/1.1 431 ")) << "no 431";
  EXPECT_EQ(ping(), "pong");
}

TEST_F(GatedServerTest, TooManyWaitingClosesTheLongestWaiting) {
  start({.header_timeout = 30s, .max_waiting = 2});
  RawClient first(port_), second(port_);
  ASSERT_TRUE(first.send("GET /ping HTTP/1.1\r\n"));
  ASSERT_TRUE(second.send("GET /ping HTTP/1.1\r\n"));
  EXPECT_EQ(ping(), "pong");  // its connection was the third: the first made room for it
  EXPECT_TRUE(first.read_to_end().starts_with("HTTP/1.1 503 "));
}

TEST_F(GatedServerTest, CloseEndsTheConnectionsWaitingForAHeader) {
  start({.header_timeout = 30s});
  RawClient waiting(port_);
  ASSERT_TRUE(waiting.send("GET /ping HTTP/1.1\r\n"));
  EXPECT_EQ(ping(), "pong");  // the waiting one is in the gate by now (accepted before)
  server_->stop();
  listener_.join();
  server_->close();
  server_.reset();
  EXPECT_EQ(waiting.read_to_end(), "");
}

}  // namespace
}  // namespace ob::api
