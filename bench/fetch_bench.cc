// Block exchange between two daemons (issue 12), against plain loopback TCP in the same run.
//
// Two `open-bucket daemon` processes on loopback, A holding a file and B the same owner's key
// but nothing stored: the bench reads the file from B's `GET /v1/data/{cid}/network/stream`,
// so B pulls the k data slots' blocks from A over Blocks streams (gRPC with TLS pinned to peer
// IDs), checks each against its root on arrival, decrypts in memory and streams the plaintext
// to the bench, which checks a sum of it and discards it; nothing is written on B's disk. The
// baseline sends the same number of bytes (the blocks over the wire) through a plain loopback
// TCP socket in 64 KiB writes. Prints medians of RUNS: throughput of both, their ratio, time to
// first byte, and the CPU seconds each daemon spent per GB moved (what bounds the figure).
//
// Usage: fetch_bench [SIZE_MIB=256] [RUNS=5] [OPEN_BUCKET=<fetch_bench's directory>/open-bucket]
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "node/daemon.h"
#include "node/engine.h"
#include "node/home.h"
#include "store/file_io.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fetch_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(ob::Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}
void must(ob::Result<void> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// A cheap order-sensitive sum of a byte stream, 8 bytes a step whatever the pieces' sizes (not
// a hash: it only has to catch a wrong transfer, at a speed that leaves the CPU to the daemons).
struct Sum {
  std::uint64_t value = 0;
  std::uint64_t count = 0;
  std::uint64_t word = 0;  // bytes of an unfinished word
  void add(const char* data, std::size_t n) {
    std::size_t i = 0;
    for (; i < n && count % 8 != 0; ++i, ++count) word |= std::uint64_t{static_cast<std::uint8_t>(data[i])} << (8 * (count % 8));
    if (count % 8 == 0 && count > 0 && i > 0) step();
    for (; i + 8 <= n; i += 8, count += 8) {
      std::memcpy(&word, data + i, 8);
      step();
    }
    for (; i < n; ++i, ++count) word |= std::uint64_t{static_cast<std::uint8_t>(data[i])} << (8 * (count % 8));
  }
  std::uint64_t finish() {
    if (count % 8 != 0) step();
    return value;
  }

 private:
  void step() {
    value = ((value << 5) | (value >> 59)) ^ word;
    word = 0;
  }
};

// A home on free ports, no sync (the baseline has none), in a private DHT network.
void init_home(const fs::path& dir, std::uint32_t network_id) {
  must(ob::Home::init(dir, false), "init");
  ob::NodeConfig config;
  config.sync = false;
  config.api_port = 0;
  config.p2p_port = 0;
  config.dht_port = 0;
  config.network_id = network_id;
  must(ob::save_config(dir, config), "config");
}

struct Daemon {
  pid_t pid = 0;
  ob::DaemonInfo info;
  std::string token;
};

Daemon start_daemon(const std::string& binary, const fs::path& home) {
  const pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    const std::string log = (home / "daemon.log").string();
    std::FILE* err = std::freopen(log.c_str(), "w", stderr);
    (void)err;
    const std::string home_text = home.string();
    ::execl(binary.c_str(), "open-bucket", "--home", home_text.c_str(), "daemon", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  Daemon daemon;
  daemon.pid = pid;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    auto info = ob::read_daemon_info(ob::daemon_file_path(home));
    if (info && info->pid == pid) {
      daemon.info = *info;
      daemon.token = must(ob::read_api_token(home / "keys" / "api.token"), "api token");
      return daemon;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) die("the daemon of " + home.string() + " exited; see its daemon.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  die("the daemon of " + home.string() + " did not start within 60 s");
}

void stop_daemon(const Daemon& daemon) {
  ::kill(daemon.pid, SIGTERM);
  int status = 0;
  ::waitpid(daemon.pid, &status, 0);
}

// User plus system CPU seconds a process has used (/proc/PID/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;
  double utime = 0, stime = 0;
  fields >> utime >> stime;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Peak resident set size of a process in MiB (VmHWM in /proc/PID/status).
double peak_rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024;
  }
  return 0;
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
    die("tcp listen failed");
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
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("tcp connect failed");
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
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string binary =
      argc > 3 ? argv[3] : (fs::canonical("/proc/self/exe").parent_path() / "open-bucket").string();
  if (size_mib == 0 || runs < 1) die("usage: fetch_bench [SIZE_MIB=256] [RUNS=5] [OPEN_BUCKET]");
  if (::access(binary.c_str(), X_OK) != 0) die(binary + " is not executable (ninja -C build open-bucket)");
  const fs::path tmp = fs::temp_directory_path() / ("ob-fetch-bench-" + ob::fileio::random_suffix());
  fs::create_directories(tmp);
  const auto network_id = static_cast<std::uint32_t>(0x0b0f0000u + (::getpid() & 0xffff));

  // A holds the file: put in this process before its daemon starts (the daemon takes the store).
  init_home(tmp / "a", network_id);
  const ob::CodingParams params{4, 2, 64 * 1024};
  Sum expected;
  std::uint64_t expected_sum = 0;
  std::optional<ob::Cid> cid;
  std::uint64_t wire_bytes = 0;
  {
    ob::Home home = must(ob::Home::open(tmp / "a"), "open home");
    auto engine = must(ob::Engine::open(home), "open engine");
    auto writer = must(engine->begin_store({"bench.bin", ""}, params), "begin_store");
    std::mt19937_64 rng(1);
    std::vector<std::uint8_t> chunk(1 << 20);
    for (std::uint64_t remaining = size_mib << 20; remaining > 0;) {
      for (auto& b : chunk) b = static_cast<std::uint8_t>(rng());
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), remaining));
      must(writer.write(ob::ByteView(chunk).first(n)), "write");
      expected.add(reinterpret_cast<const char*>(chunk.data()), n);
      remaining -= n;
    }
    cid = must(writer.finish(), "finish");
    expected_sum = expected.finish();
    wire_bytes = must(engine->manifest(*cid), "manifest").stripe_count() * params.k * params.block_size;
  }
  // B is the same owner (it can decrypt) with nothing stored.
  init_home(tmp / "b", network_id);
  const auto key = must(ob::fileio::read_file(tmp / "a" / "keys" / "master.key", 64), "master key");
  must(ob::fileio::write_file_atomic(tmp / "b" / "keys" / "master.key", key, 0600), "master key");

  const Daemon a = start_daemon(binary, tmp / "a");
  const Daemon b = start_daemon(binary, tmp / "b");
  httplib::Client client("127.0.0.1", b.info.api_port);
  client.set_read_timeout(600, 0);
  const httplib::Headers auth{{"Authorization", "Bearer " + b.token}};
  auto connected = client.Get("/v1/connect/" + a.info.peer_id + "?addrs=" + a.info.p2p_address, auth);
  if (!connected || connected->status != 200) die("B cannot connect to A");

  std::vector<double> stream_s, first_byte_s, tcp_s, cpu_a, cpu_b;
  for (int r = 0; r < runs; ++r) {
    const double a0 = cpu_seconds(a.pid), b0 = cpu_seconds(b.pid);
    Sum got;
    bool first = true;
    const auto start = Clock::now();
    auto result = client.Get(
        "/v1/data/" + cid->to_string() + "/network/stream", auth,
        [&](const httplib::Response& response) { return response.status == 200; },
        [&](const char* data, std::size_t n) {
          if (first) {
            first_byte_s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
            first = false;
          }
          got.add(data, n);
          return true;
        });
    stream_s.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    if (!result || result->status != 200) die("the download from B failed; see " + (tmp / "b" / "daemon.log").string());
    if (got.count != expected.count || got.finish() != expected_sum) die("the download differs from the file");
    cpu_a.push_back(cpu_seconds(a.pid) - a0);
    cpu_b.push_back(cpu_seconds(b.pid) - b0);
    tcp_s.push_back(tcp_seconds(wire_bytes));
  }
  const double rss_a = peak_rss_mib(a.pid), rss_b = peak_rss_mib(b.pid);
  stop_daemon(a);
  stop_daemon(b);
  fs::remove_all(tmp);

  const double mb = static_cast<double>(wire_bytes) / 1e6;
  const double stream_mbs = mb / median(stream_s), tcp_mbs = mb / median(tcp_s);
  std::printf("file %llu MiB, k=4 m=2, 64 KiB blocks; %.1f MB of blocks over the wire (the k data slots); "
              "median of %d runs\n",
              static_cast<unsigned long long>(size_mib), mb, runs);
  std::printf("%-62s %10.1f MB/s\n", "network stream (2 daemons: gRPC+TLS, verify, decrypt, HTTP)", stream_mbs);
  std::printf("%-62s %10.1f MB/s\n", "plain loopback TCP, same bytes", tcp_mbs);
  std::printf("%-62s %10.2f\n", "ratio stream / TCP", stream_mbs / tcp_mbs);
  std::printf("%-62s %10.1f ms\n", "time to first byte", median(first_byte_s) * 1e3);
  std::printf("%-62s %10.2f s/GB\n", "CPU of A (serving)", median(cpu_a) / (mb / 1e3));
  std::printf("%-62s %10.2f s/GB\n", "CPU of B (fetching, decrypting, serving HTTP)", median(cpu_b) / (mb / 1e3));
  std::printf("%-62s %10.0f MiB\n", "peak RSS of A", rss_a);
  std::printf("%-62s %10.0f MiB\n", "peak RSS of B", rss_b);
  return 0;
}
