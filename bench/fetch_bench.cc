// Network fetch throughput (issue 3): a file fetched from one node by another over loopback —
// gRPC over TLS pinned to peer IDs, every block checked against its root, the m parity slots
// rebuilt with ISA-L and all n slots written to disk (no fsync, as the baseline has none) —
// as a ratio to the same number of bytes sent through a plain loopback TCP socket, measured in
// the same run. Medians of RUNS (default 3) repetitions.
//
// Usage: fetch_bench [SIZE_MIB=256] [RUNS=3]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "exchange/exchange_service.h"
#include "exchange/fetcher.h"
#include "net/tls.h"
#include "node/engine.h"
#include "store/file_io.h"

namespace {

using Clock = std::chrono::steady_clock;

void must(ob::Result<void> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "fetch_bench: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
}

template <typename T>
T must(ob::Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "fetch_bench: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(*r);
}

struct BenchNode {
  std::filesystem::path dir;
  std::unique_ptr<ob::Home> home;
  std::unique_ptr<ob::Engine> engine;
  std::unique_ptr<ob::net::Identity> identity;
  ob::net::TlsIdentity tls;

  explicit BenchNode(const std::filesystem::path& d, const std::filesystem::path* master_from = nullptr) : dir(d) {
    must(ob::Home::init(dir, false), "init");
    ob::NodeConfig config;
    config.sync = false;
    must(ob::fileio::write_file_atomic(dir / "config.toml", ob::as_bytes(config.to_toml())), "config");
    if (master_from != nullptr) {
      auto key = must(ob::fileio::read_file(*master_from / "keys/master.key", 64), "master key");
      must(ob::fileio::write_file_atomic(dir / "keys/master.key", key, 0600), "master key");
    }
    home = std::make_unique<ob::Home>(must(ob::Home::open(dir), "open home"));
    engine = must(ob::Engine::open(*home), "open engine");
    identity = std::make_unique<ob::net::Identity>(must(ob::net::Identity::load_or_create(home->identity_key_path()), "identity"));
    tls = must(ob::net::make_tls_identity(*identity), "tls");
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Sends `bytes` through a loopback TCP connection in 64 KiB writes; returns seconds.
double tcp_seconds(std::uint64_t bytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("fetch_bench: tcp listen");
    std::exit(1);
  }
  std::thread receiver([&] {
    const int fd = ::accept(listener, nullptr, nullptr);
    std::vector<char> buf(64 * 1024);
    std::uint64_t got = 0;
    while (got < bytes) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      got += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
  });
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("fetch_bench: tcp connect");
    std::exit(1);
  }
  std::vector<char> buf(64 * 1024, 'x');
  const auto start = Clock::now();
  std::uint64_t sent = 0;
  while (sent < bytes) {
    const ssize_t n = ::write(fd, buf.data(), std::min<std::uint64_t>(buf.size(), bytes - sent));
    if (n <= 0) break;
    sent += static_cast<std::uint64_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  receiver.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  ::close(listener);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t size_mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path() / ("ob-fetch-bench-" + ob::fileio::random_suffix());
  std::filesystem::create_directories(tmp);

  BenchNode a(tmp / "a");
  const ob::CodingParams params{4, 2, 64 * 1024};
  std::mt19937_64 rng(1);
  std::vector<std::uint8_t> chunk(1 << 20);
  std::uint64_t remaining = size_mib << 20;
  auto writer = must(a.engine->begin_store({"bench.bin", ""}, params), "begin_store");
  while (remaining > 0) {
    for (auto& b : chunk) b = static_cast<std::uint8_t>(rng());
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), remaining));
    must(writer.write(ob::ByteView(chunk).first(n)), "write");
    remaining -= n;
  }
  const ob::Cid cid = must(writer.finish(), "finish");
  ob::exchange::ExchangeService service(a.engine->blocks(), a.engine->slots());
  auto [server, port] = must(ob::exchange::start_server("127.0.0.1:0", service, a.tls), "server");

  std::vector<double> fetch_s, tcp_s;
  std::uint64_t wire_bytes = 0;
  for (int r = 0; r < runs; ++r) {
    BenchNode c(tmp / ("c" + std::to_string(r)), &a.dir);
    std::vector<ob::exchange::PeerClient> peers{
        ob::exchange::PeerClient::connect(a.identity->peer_id(), "127.0.0.1:" + std::to_string(port), c.tls)};
    const auto start = Clock::now();
    auto report = must(ob::exchange::fetch_file(cid, peers, c.engine->blocks(), c.engine->slots()), "fetch");
    fetch_s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    wire_bytes = report.bytes_received;
    tcp_s.push_back(tcp_seconds(wire_bytes));
    std::filesystem::remove_all(c.dir);
  }
  server->Shutdown();
  std::filesystem::remove_all(tmp);

  const double mb = static_cast<double>(wire_bytes) / 1e6;
  const double fetch_mbs = mb / median(fetch_s), tcp_mbs = mb / median(tcp_s);
  std::printf("file %llu MiB, k=4 m=2, 64 KiB blocks; %.1f MB of blocks over the wire; median of %d runs\n",
              static_cast<unsigned long long>(size_mib), mb, runs);
  std::printf("%-58s %10.1f MB/s\n", "fetch (gRPC+TLS, verify, rebuild parity, write n slots)", fetch_mbs);
  std::printf("%-58s %10.1f MB/s\n", "plain loopback TCP, same bytes", tcp_mbs);
  std::printf("%-58s %10.2f\n", "ratio fetch / TCP", fetch_mbs / tcp_mbs);
  return 0;
}
