#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "node/daemon.h"
#include "node/home.h"

namespace ob::cli {

int report(const Error& error) {
  std::cerr << "open-bucket: " << error.message << "\n";
  return kExitError;
}

void print_reply(const nlohmann::json& reply, bool json) {
  if (json || !reply.is_object() || !reply.contains("msg") || !reply["msg"].is_string()) {
    std::cout << reply.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << reply["msg"].get<std::string>() << "\n";
  }
}

std::string last_line(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

Result<pid_t> spawn_self(const std::vector<std::string>& args, const std::filesystem::path& log, bool tied) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return fail(Errc::io, "cannot find this program's path: ", ec.message());
  return spawn_program(exe, args, log, tied);
}

Result<pid_t> spawn_program(const std::filesystem::path& program, const std::vector<std::string>& args,
                            const std::filesystem::path& log, bool tied) {
  const std::string exe = program.string();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return fail(Errc::io, "cannot start a process: fork failed");
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    ::setsid();
    if (tied) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
    }
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

Result<api::RestClient> daemon_client(const std::optional<std::string>& home_flag, bool start) {
  OB_TRY(std::filesystem::path dir, resolve_home(home_flag));
  OB_TRY(Home home, Home::open(dir));
  OB_TRY(std::optional<api::RestClient> client, api::RestClient::connect(home));
  if (client) return std::move(*client);
  if (!start) {
    return fail(Errc::not_found, "no daemon runs for ", dir.string(), ": start one with `open-bucket daemon`");
  }
  OB_TRY(pid_t pid, spawn_self({"--home", dir.string(), "daemon"}, dir / "daemon.log", /*tied=*/false));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return fail(Errc::io, "the daemon did not start: ", last_line(dir / "daemon.log"));
    }
    OB_TRY(client, api::RestClient::connect(home));
    if (client) {
      std::cerr << "open-bucket: started the daemon (pid " << pid << ", log " << (dir / "daemon.log").string() << ")\n";
      return std::move(*client);
    }
  }
  ::kill(pid, SIGTERM);
  return fail(Errc::io, "the daemon did not answer within 15 s: see ", (dir / "daemon.log").string());
}

}  // namespace ob::cli
