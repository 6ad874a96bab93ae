// `open-bucket demo` (issue 5): the whole system on this machine, from one command.
//
// In a fresh temporary directory it starts a tracker and N consumer daemons (real processes on
// loopback), then a producer daemon; uploads the files (default: this program's own binary)
// with k + m slots; kills m consumers with SIGKILL; downloads every file back and compares it
// byte for byte with the original; starts m replacement consumers (seed 002's redeployment)
// and waits until the tracker has repaired every file to its desired availability; prints a
// summary and stops every process it started, also on Ctrl-C or when it fails.
//
// Everything goes through the same interfaces a user has: processes of this binary, the
// daemons' REST API (seed 000's /v1/producer/* and /v1/consumer/*), the tracker's tracker.json.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "cli/commands.h"
#include "cli/output.h"
#include "core/units.h"
#include "node/daemon.h"
#include "node/home.h"
#include "store/file_io.h"

namespace ob::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

struct DemoOptions {
  std::vector<std::string> files;
  std::uint32_t consumers = 6;
  std::uint32_t k = 4;
  std::uint32_t m = 2;
  bool json = false;
  bool keep = false;  // keep the directory (logs) afterwards
  std::uint32_t timeout_s = 180;
};

/// One process the demo started.
struct Child {
  std::string name;
  pid_t pid = -1;
  std::filesystem::path home;
};

/// The demo's processes and directory; everything is stopped and removed when it goes.
class Cluster {
 public:
  explicit Cluster(std::filesystem::path dir, bool keep) : dir_(std::move(dir)), keep_(keep) {}
  ~Cluster() {
    for (Child& child : children_) {
      if (child.pid > 0) ::kill(child.pid, SIGTERM);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (Child& child : children_) {
      if (child.pid <= 0) continue;
      while (::waitpid(child.pid, nullptr, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
          ::kill(child.pid, SIGKILL);
          ::waitpid(child.pid, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::error_code ec;
    if (!keep_) std::filesystem::remove_all(dir_, ec);
  }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }

  /// Starts `open-bucket args...`, logging to <dir>/<name>.log.
  Result<Child*> spawn(const std::string& name, const std::filesystem::path& home, std::vector<std::string> args) {
    OB_TRY(pid_t pid, spawn_self(args, dir_ / (name + ".log"), /*tied=*/true));
    children_.push_back({name, pid, home});
    return &children_.back();
  }

  /// SIGKILL, as a machine that goes away.
  void kill_hard(Child& child) {
    if (child.pid <= 0) return;
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    child.pid = -1;
  }

  /// Fails when a child has exited by itself (its log's last line says why).
  Result<void> check_alive() {
    for (Child& child : children_) {
      if (child.pid <= 0) continue;
      if (::waitpid(child.pid, nullptr, WNOHANG) == child.pid) {
        child.pid = -1;
        return fail(Errc::io, child.name, " exited unexpectedly; see ", (dir_ / (child.name + ".log")).string());
      }
    }
    return {};
  }

  std::deque<Child>& children() noexcept { return children_; }

 private:
  std::filesystem::path dir_;
  bool keep_;
  std::deque<Child> children_;  // deque: Child pointers stay valid
};

/// Polls `ready` every 100 ms until it yields a value, `timeout` passes, Ctrl-C, or a child dies.
template <typename F>
auto wait_until(Cluster& cluster, std::chrono::seconds timeout, const std::string& what, F&& ready)
    -> decltype(ready()) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto result = ready();
    if (result) return result;
    if (g_interrupted) return fail(Errc::io, "interrupted");
    OB_TRY_VOID(cluster.check_alive());
    if (Clock::now() > deadline) {
      return fail(Errc::io, "timed out after ", timeout.count(), " s waiting for ", what, " (",
                  result.error().message, ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

/// A node home in the demo's network, pointed at the tracker.
Result<void> init_node(const std::filesystem::path& home, const std::string& tracker, std::uint32_t network_id,
                       const DemoOptions& options) {
  NodeConfig config;
  config.api_port = 0;
  config.p2p_port = 0;
  config.dht_port = 0;
  config.network_id = network_id;
  config.tracker = tracker;
  config.coding.k = options.k;
  config.coding.m = options.m;
  config.default_availability = options.m + 1;
  config.consumer_limit_bytes = 100ull * 1000 * 1000 * 1000;
  OB_TRY_VOID(config.coding.validate());
  OB_TRY(InitResult ignored, Home::init(home, false, config));
  (void)ignored;
  return {};
}

/// Starts a daemon for `home` and returns a client once its API answers.
Result<api::RestClient> start_daemon(Cluster& cluster, const std::string& name, const std::filesystem::path& home) {
  OB_TRY(Child * child, cluster.spawn(name, home, {"--home", home.string(), "daemon"}));
  (void)child;
  OB_TRY(Home opened, Home::open(home));
  return wait_until(cluster, std::chrono::seconds(30), name + "'s REST API", [&]() -> Result<api::RestClient> {
    OB_TRY(std::optional<api::RestClient> client, api::RestClient::connect(opened));
    if (!client) return fail(Errc::not_found, "not answering yet");
    return std::move(*client);
  });
}

/// The listing entry of `id` in GET /v1/producer/files.
Result<nlohmann::json> file_entry(api::RestClient& producer, const std::string& id) {
  OB_TRY(nlohmann::json files, producer.get_json("/v1/producer/files"));
  if (files.is_object() && files.contains("files")) files = files["files"];
  if (!files.is_array()) return fail(Errc::corrupt, "GET /v1/producer/files is not a list");
  for (const auto& file : files) {
    if (file.is_object() && file.value("id", "") == id) return file;
  }
  return fail(Errc::not_found, "file ", id, " is not listed");
}

std::uint32_t json_u32(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<std::uint32_t>() : 0;
}

/// Waits until file `id` is UPLOADED at its desired availability; prints progress on a TTY.
Result<void> wait_uploaded(Cluster& cluster, api::RestClient& producer, const std::string& id,
                           std::chrono::seconds timeout, bool quiet) {
  std::string last;
  return wait_until(cluster, timeout, "file " + id + " to be UPLOADED", [&]() -> Result<void> {
    OB_TRY(nlohmann::json file, file_entry(producer, id));
    const std::string status = file.value("status", "");
    const std::string line = status + ", availability " + std::to_string(json_u32(file, "actualAvailability")) + "/" +
                             std::to_string(json_u32(file, "availability"));
    if (!quiet && line != last) {
      std::cerr << "  " << id.substr(0, 16) << "…: " << line << "\n";
      last = line;
    }
    if (status == "UPLOADED" && json_u32(file, "actualAvailability") >= json_u32(file, "availability")) return {};
    return fail(Errc::not_found, line);
  });
}

/// True when the two files have the same bytes (streamed, 1 MiB at a time).
Result<bool> same_bytes(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return fail(Errc::io, "cannot open ", a.string(), " or ", b.string());
  std::vector<char> ba(1 << 20), bb(1 << 20);
  for (;;) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount()) return false;
    if (!std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
    if (fa.gcount() == 0) return true;
  }
}

double mb_per_s(std::uint64_t bytes, double seconds) { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct FileResult {
  std::filesystem::path path;
  std::string id;
  std::uint64_t size = 0;
  double upload_s = 0;
  double download_s = 0;
  bool verified = false;
  std::uint32_t availability_before = 0, availability_degraded = 0, availability_after = 0;
};

int run_demo(DemoOptions options) {
  if (options.consumers < options.k + options.m) {
    return report(Error{Errc::invalid_argument, "--consumers must be at least k + m = " +
                                                    std::to_string(options.k + options.m) + " (one slot per consumer)"});
  }
  if (options.files.empty()) options.files.push_back(std::filesystem::read_symlink("/proc/self/exe").string());
  std::vector<FileResult> results;
  for (const std::string& f : options.files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(f, ec);
    if (ec || !std::filesystem::is_regular_file(f, ec)) {
      return report(Error{Errc::invalid_argument, "cannot read " + f + ": not a regular file"});
    }
    results.push_back({std::filesystem::absolute(f), {}, size});
  }
  char dir_template[] = "/tmp/open-bucket-demo-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return report(Error{Errc::io, "cannot create a temporary directory"});
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  Cluster cluster(dir_template, options.keep);
  const bool quiet = options.json;
  auto say = [&](const std::string& line) {
    if (!quiet) std::cerr << line << "\n";
  };
  const auto step = [&]() -> Result<void> {
    const auto timeout = std::chrono::seconds(options.timeout_s);
    say("Open Bucket demo in " + cluster.dir().string());
    // 1. The tracker.
    const std::filesystem::path tracker_home = cluster.dir() / "tracker";
    OB_TRY(Child * tracker, cluster.spawn("tracker", tracker_home,
                                          {"--home", tracker_home.string(), "tracker", "--listen", "127.0.0.1:0",
                                           "--heartbeat-ms", "300", "--offline-after-ms", "2000",
                                           "--audit-interval-ms", "1000", "--repair-tick-ms", "250"}));
    (void)tracker;
    OB_TRY(std::string tracker_address,
           wait_until(cluster, std::chrono::seconds(30), "the tracker", [&]() -> Result<std::string> {
             OB_TRY(Bytes text, fileio::read_file(tracker_home / "tracker.json", 64 * 1024));
             const auto j = nlohmann::json::parse(as_chars(text), nullptr, false);
             if (!j.is_object() || !j.contains("tracker") || !j["tracker"].is_string()) {
               return fail(Errc::corrupt, "tracker.json incomplete");
             }
             return j["tracker"].get<std::string>();
           }));
    say("tracker " + tracker_address);
    std::uint32_t network_id = std::random_device{}() | 0x10000u;

    // 2. Consumers.
    std::vector<std::pair<std::string, std::filesystem::path>> consumers;
    const auto add_consumer = [&](std::uint32_t i) -> Result<void> {
      const std::string name = "consumer-" + std::to_string(i);
      const std::filesystem::path home = cluster.dir() / name;
      OB_TRY_VOID(init_node(home, tracker_address, network_id, options));
      OB_TRY(api::RestClient client, start_daemon(cluster, name, home));
      OB_TRY(nlohmann::json reply, client.post_json("/v1/consumer/start", nlohmann::json::object()));
      (void)reply;
      consumers.emplace_back(name, home);
      return {};
    };
    for (std::uint32_t i = 1; i <= options.consumers; ++i) OB_TRY_VOID(add_consumer(i));
    say(std::to_string(options.consumers) + " consumers started");

    // 3. The producer; uploads.
    const std::filesystem::path producer_home = cluster.dir() / "producer";
    OB_TRY_VOID(init_node(producer_home, tracker_address, network_id, options));
    OB_TRY(api::RestClient producer, start_daemon(cluster, "producer", producer_home));
    OB_TRY(nlohmann::json started, producer.post_json("/v1/producer/start", nlohmann::json::object()));
    (void)started;
    for (FileResult& file : results) {
      say("uploading " + file.path.string() + " (" + format_size(file.size) + ", k=" + std::to_string(options.k) +
          ", m=" + std::to_string(options.m) + ")");
      const auto t0 = Clock::now();
      OB_TRY(nlohmann::json reply,
             producer.post_json("/v1/producer/files/upload",
                                {{"path", file.path.string()}, {"k", options.k}, {"m", options.m}}));
      if (!reply.contains("id") || !reply["id"].is_string()) return fail(Errc::corrupt, "upload reply has no id");
      file.id = reply["id"].get<std::string>();
      OB_TRY_VOID(wait_uploaded(cluster, producer, file.id, timeout, quiet));
      file.upload_s = seconds_since(t0);
      OB_TRY(nlohmann::json entry, file_entry(producer, file.id));
      file.availability_before = json_u32(entry, "actualAvailability");
    }

    // 4. m consumers go away. Each file then loses the slots those consumers held, which the
    //    demo asks them for first, so it can wait until the tracker has seen the whole loss.
    std::map<std::string, std::uint32_t> slots_lost;  // file ID -> slots on the killed consumers
    std::uint32_t killed = 0;
    for (Child& child : cluster.children()) {
      if (killed == options.m) break;
      if (!child.name.starts_with("consumer-") || child.pid <= 0) continue;
      OB_TRY(Home home, Home::open(child.home));
      OB_TRY(std::optional<api::RestClient> client, api::RestClient::connect(home));
      if (!client) return fail(Errc::io, child.name, "'s REST API does not answer");
      OB_TRY(nlohmann::json held, client->get_json("/v1/consumer/slots"));
      for (const auto& slot : held.value("slots", nlohmann::json::array())) {
        if (slot.is_object() && slot.contains("fileId") && slot["fileId"].is_string()) {
          ++slots_lost[slot["fileId"].get<std::string>()];
        }
      }
      cluster.kill_hard(child);
      say("killed " + child.name + " (SIGKILL)");
      ++killed;
    }
    for (FileResult& file : results) {
      const std::uint32_t lost = slots_lost[file.id];
      const std::uint32_t expected = file.availability_before > lost ? file.availability_before - lost : 0;
      OB_TRY_VOID(wait_until(cluster, timeout, "the tracker to notice", [&]() -> Result<void> {
        OB_TRY(nlohmann::json entry, file_entry(producer, file.id));
        file.availability_degraded = json_u32(entry, "actualAvailability");
        if (lost > 0 && entry.value("status", "") == "UPLOADED") return fail(Errc::not_found, "still UPLOADED");
        if (file.availability_degraded > expected) return fail(Errc::not_found, "not every loss seen yet");
        return {};
      }));
      say("  " + file.id.substr(0, 16) + "…: " + (lost > 0 ? "DEGRADED" : "untouched") + ", availability " +
          std::to_string(file.availability_degraded) + " (" + std::to_string(lost) + " slot(s) lost)");
    }

    // 5. Everything comes back, byte for byte.
    const std::filesystem::path down = cluster.dir() / "downloads";
    std::filesystem::create_directories(down);
    for (FileResult& file : results) {
      const auto t0 = Clock::now();
      OB_TRY(nlohmann::json reply, producer.post_json("/v1/producer/files/download",
                                                      {{"fileId", file.id}, {"destination", down.string()}}));
      (void)reply;
      const std::filesystem::path out = down / file.path.filename();
      OB_TRY_VOID(wait_until(cluster, timeout, "the download of " + file.id, [&]() -> Result<void> {
        std::error_code ec;
        if (std::filesystem::file_size(out, ec) == file.size && !ec) return {};
        return fail(Errc::not_found, "not there yet");
      }));
      file.download_s = seconds_since(t0);
      OB_TRY(file.verified, same_bytes(file.path, out));
      if (!file.verified) return fail(Errc::corrupt, out.string(), " differs from ", file.path.string());
      say("downloaded " + file.path.filename().string() + ": identical to the original");
    }

    // 6. Replacement consumers join; the tracker repairs.
    for (std::uint32_t i = 0; i < options.m; ++i) OB_TRY_VOID(add_consumer(options.consumers + 1 + i));
    say(std::to_string(options.m) + " replacement consumers started; waiting for repair");
    for (FileResult& file : results) {
      OB_TRY_VOID(wait_uploaded(cluster, producer, file.id, timeout, quiet));
      OB_TRY(nlohmann::json entry, file_entry(producer, file.id));
      file.availability_after = json_u32(entry, "actualAvailability");
    }
    return {};
  };
  const Result<void> outcome = step();

  nlohmann::json summary = nlohmann::json::array();
  bool all_ok = outcome.has_value();
  for (const FileResult& file : results) {
    all_ok = all_ok && file.verified && file.availability_after >= options.m + 1;
    summary.push_back({{"file", file.path.string()},
                       {"id", file.id},
                       {"bytes", file.size},
                       {"uploadSeconds", file.upload_s},
                       {"uploadMBps", mb_per_s(file.size, file.upload_s)},
                       {"downloadSeconds", file.download_s},
                       {"downloadMBps", mb_per_s(file.size, file.download_s)},
                       {"verified", file.verified},
                       {"availabilityBefore", file.availability_before},
                       {"availabilityAfterLoss", file.availability_degraded},
                       {"availabilityAfterRepair", file.availability_after}});
  }
  if (options.json) {
    std::cout << nlohmann::json{{"ok", all_ok},
                                {"consumers", options.consumers},
                                {"k", options.k},
                                {"m", options.m},
                                {"files", summary},
                                {"error", outcome ? "" : outcome.error().message}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("\n%-28s %10s %9s %9s %9s %s\n", "file", "size", "up MB/s", "down MB/s", "verified",
                "availability (before/after loss/after repair)");
    for (const FileResult& file : results) {
      std::printf("%-28s %10s %9.1f %9.1f %9s %u/%u/%u\n", file.path.filename().string().substr(0, 28).c_str(),
                  format_size(file.size).c_str(), mb_per_s(file.size, file.upload_s),
                  mb_per_s(file.size, file.download_s), file.verified ? "yes" : "NO", file.availability_before,
                  file.availability_degraded, file.availability_after);
    }
    if (all_ok) {
      std::printf("\nEvery file was verified byte for byte after %u of %u consumers were lost, and availability was "
                  "restored to %u.\n",
                  options.m, options.consumers, options.m + 1);
    }
  }
  if (!outcome) {
    if (options.keep) std::cerr << "logs are in " << cluster.dir().string() << "\n";
    return report(outcome.error());
  }
  return all_ok ? 0 : kExitError;
}

}  // namespace

CommandRunner add_demo_command(CLI::App& app, const std::optional<std::string>&) {
  auto options = std::make_shared<DemoOptions>();
  auto* demo = app.add_subcommand(
      "demo",
      "Run a whole network here: tracker, consumers, producer; upload, lose m consumers, download, repair");
  demo->add_option("FILE", options->files, "Files to upload (default: this program's binary)");
  demo->add_option("--consumers", options->consumers, "Consumers to start (default 6, at least k + m)");
  demo->add_option("--k", options->k, "Data slots per file (default 4)")->check(CLI::Range(1, 254));
  demo->add_option("--m", options->m, "Parity slots per file, and consumers to kill (default 2)")->check(CLI::Range(0, 254));
  demo->add_option("--timeout", options->timeout_s, "Seconds to wait for each step (default 180)");
  demo->add_flag("--keep", options->keep, "Keep the demo's directory and logs afterwards");
  demo->add_flag("--json", options->json, "Print the summary as JSON");
  return [demo, options]() -> std::optional<int> {
    if (!demo->parsed()) return std::nullopt;
    return run_demo(*options);
  };
}

}  // namespace ob::cli
