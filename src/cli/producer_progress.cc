#include "cli/producer_progress.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/output.h"

namespace ob::cli {

using nlohmann::json;

namespace {

constexpr std::chrono::milliseconds kPollInterval{500};

/// A row's unsigned number field, 0 when absent or of another type (an older daemon).
std::uint64_t number(const json& row, const char* key) {
  const auto it = row.find(key);
  return it != row.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

/// The remote path as the daemon stores it: a "/" in front names the same file.
std::string remote_path(std::string path) {
  while (path.starts_with('/')) path.erase(0, 1);
  return path;
}

}  // namespace

Result<json> post_upload(api::RestClient& daemon, const json& body, const std::string& name, bool json_output) {
  ProgressBar bar("upload " + name, json_output);
  return run_with_progress(
      bar.enabled(), [&] { return daemon.post_json("/v1/producer/files/upload", body); },
      [&] { bar.wait("encoding and registering"); });
}

Result<void> follow_upload(api::RestClient& daemon, const std::string& file_id, const std::string& name) {
  std::cerr << "Following the upload until UPLOADED (Ctrl-C stops following; the daemon goes on)\n";
  ProgressBar bar("upload " + name, /*json=*/false);
  for (;;) {
    OB_TRY(json files, daemon.get_json("/v1/producer/files"));
    const json* row = nullptr;
    if (files.is_array()) {
      for (const json& f : files) {
        if (f.is_object() && string_field(f, "id") == file_id) row = &f;
      }
    }
    if (row == nullptr) return fail(Errc::not_found, "File ", file_id, " is no longer in the list: removed?");
    const std::string status = string_field(*row, "status");
    const std::uint64_t stored = number(*row, "slotsStored");
    const std::uint64_t wanted = number(*row, "slotsWanted");
    bar.set_label("upload " + name + " " + std::to_string(stored) + "/" + std::to_string(wanted) + " slots");
    bar.update(number(*row, "bytesPlaced"), number(*row, "bytesWanted"));
    if (status == "UPLOADED") return {};
    if (status == "LOST" || status == "REMOVING") {
      return fail(Errc::unrecoverable, "File ", file_id, " is ", status, ": the upload stopped");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Result<json> post_download(api::RestClient& daemon, std::optional<api::RestClient> poller, const json& body,
                           bool json_output) {
  const std::string file_id = string_field(body, "fileId");
  const std::string path = remote_path(string_field(body, "path"));
  const std::string destination = string_field(body, "destination");
  ProgressBar bar("cp " + (file_id.empty() ? path : file_id.substr(0, 12)), json_output);
  bool seen = false;  // the transfer was listed: once it is not, the daemon is finishing
  const auto tick = [&] {
    // A failed poll only costs this redraw: the download's own reply says how it ended.
    auto running = poller->get_json("/v1/producer/files/downloads");
    if (running && running->is_array()) {
      for (const json& d : *running) {
        if (!d.is_object() || string_field(d, "destination") != destination) continue;
        if (file_id.empty() ? remote_path(string_field(d, "path")) != path : string_field(d, "fileId") != file_id) continue;
        seen = true;
        bar.update(number(d, "bytes"), number(d, "size"));
        return;
      }
    }
    bar.wait(seen ? "checking and renaming into place" : "finding the file's consumers");
  };
  return run_with_progress(
      bar.enabled() && poller.has_value(),
      [&] { return daemon.post_json("/v1/producer/files/download", body); }, tick);
}

}  // namespace ob::cli
