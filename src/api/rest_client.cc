#include "api/rest_client.h"

#include <httplib.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/http.h"
#include "node/daemon.h"

namespace ob::api {
namespace {

// Loopback: a connection that takes longer than this is not going to happen.
constexpr time_t kConnectTimeoutSeconds = 5;
// The daemon answers an upload only after its last stripe is encoded and every slot fsynced,
// and may take a while with a large file on a slow disk.
constexpr time_t kReplyTimeoutSeconds = 600;
constexpr time_t kWriteTimeoutSeconds = 60;
constexpr std::size_t kUploadChunk = 256 * 1024;
// Error bodies are short JSON; anything longer is cut, never buffered without bound.
constexpr std::size_t kMaxErrorBody = 64 * 1024;

Error transport_error(httplib::Error error, std::string_view what, std::uint16_t port) {
  return Error{Errc::io, std::string(what) + ": the connection to the daemon at 127.0.0.1:" + std::to_string(port) +
                             " failed (" + httplib::to_string(error) + ")"};
}

Error daemon_error(int status, std::string_view body) {
  return Error{errc_for_status(status), error_message(status, body)};
}

Result<FileEntry> entry_from_json(const nlohmann::json& j) {
  const auto bad = [] { return fail(Errc::corrupt, "the daemon sent a file entry that is not the documented JSON"); };
  if (!j.is_object() || !j.contains("cid") || !j["cid"].is_string()) return bad();
  auto cid = Cid::parse(j["cid"].get<std::string>());
  if (!cid) return bad();
  FileEntry e{*cid, {}, {}, 0, {}, 0};
  const auto text = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  const auto number = [&](const char* key) -> std::uint64_t {
    return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<std::uint64_t>() : 0;
  };
  e.name = text("name");
  e.mime_type = text("mimeType");
  e.size = number("size");
  e.params.k = static_cast<std::uint32_t>(number("k"));
  e.params.m = static_cast<std::uint32_t>(number("m"));
  e.params.block_size = static_cast<std::uint32_t>(number("blockSize"));
  e.stored_bytes = number("storedBytes");
  return e;
}

}  // namespace

struct RestClient::Impl {
  Impl(const DaemonInfo& info, const std::string& token) : daemon(info), http("127.0.0.1", info.api_port) {
    http.set_bearer_token_auth(token);
    http.set_connection_timeout(kConnectTimeoutSeconds);
    http.set_read_timeout(kReplyTimeoutSeconds);
    http.set_write_timeout(kWriteTimeoutSeconds);
  }
  DaemonInfo daemon;
  httplib::Client http;
};

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;
RestClient::RestClient(RestClient&&) noexcept = default;
RestClient& RestClient::operator=(RestClient&&) noexcept = default;

long RestClient::pid() const noexcept { return impl_->daemon.pid; }

Result<std::optional<RestClient>> RestClient::connect(const Home& home) {
  const std::optional<DaemonInfo> daemon = running_daemon(home.dir());
  if (!daemon) return std::nullopt;
  OB_TRY(std::string token, read_api_token(home.api_token_path()));
  auto impl = std::make_unique<Impl>(*daemon, token);
  impl->http.set_read_timeout(kConnectTimeoutSeconds);
  const httplib::Result probe = impl->http.Get("/v1/debug/info");
  // Nobody listening: daemon.json outlived its daemon and the pid now names another process.
  if (!probe) return std::nullopt;
  if (probe->status == 401) {
    return fail(Errc::invalid_argument, "the daemon at 127.0.0.1:", daemon->api_port, " (pid ", daemon->pid,
                ") refuses the token in ", home.api_token_path().string());
  }
  if (probe->status != 200) return std::unexpected(daemon_error(probe->status, probe->body));
  impl->http.set_read_timeout(kReplyTimeoutSeconds);
  return std::optional<RestClient>(RestClient(std::move(impl)));
}

Result<FileEntry> RestClient::put(const ByteSource& source, std::optional<std::uint64_t> size,
                                  const FileMetadata& metadata, const CodingParams& params,
                                  const Progress& progress) {
  httplib::Headers headers{{"Accept", "application/json"},
                           {"Content-Disposition", content_disposition(metadata.name)}};
  const std::string path = "/v1/data?k=" + std::to_string(params.k) + "&m=" + std::to_string(params.m) +
                           "&blockSize=" + std::to_string(params.block_size);
  const std::string mime = metadata.mime_type.empty() ? "application/octet-stream" : metadata.mime_type;

  Bytes buffer(kUploadChunk);
  std::optional<Error> source_error;
  std::uint64_t sent = 0;
  // Reads the next piece of the source into the request; false stops the upload.
  const auto send_next = [&](std::size_t want, httplib::DataSink& sink, bool& ended) {
    auto n = source(MutableByteView(buffer).first(std::min(want, buffer.size())));
    if (!n) {
      source_error = n.error();
      return false;
    }
    if (*n == 0) {
      ended = true;
      return true;
    }
    if (!sink.write(reinterpret_cast<const char*>(buffer.data()), *n)) return false;
    sent += *n;
    if (progress) progress(sent, size.value_or(0));
    return true;
  };
  httplib::Result result = [&] {
    if (size && *size > 0) {
      return impl_->http.Post(
          path, headers, static_cast<std::size_t>(*size),
          [&](std::size_t, std::size_t length, httplib::DataSink& sink) {
            bool ended = false;
            if (!send_next(length, sink, ended)) return false;
            if (ended) source_error = Error{Errc::io, "the file ended before its size: did it change while being read?"};
            return !ended;
          },
          mime);
    }
    if (size) return impl_->http.Post(path, headers, "", 0, mime);  // an empty file
    return impl_->http.Post(
        path, headers,
        [&](std::size_t, httplib::DataSink& sink) {
          bool ended = false;
          if (!send_next(buffer.size(), sink, ended)) return false;
          if (ended) sink.done();
          return true;
        },
        mime);
  }();
  if (source_error) return std::unexpected(*source_error);
  if (!result) return std::unexpected(transport_error(result.error(), "upload failed", impl_->daemon.api_port));
  if (result->status != 200) return std::unexpected(daemon_error(result->status, result->body));
  const nlohmann::json reply = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  return entry_from_json(reply);
}

Result<std::uint64_t> RestClient::get(const Cid& cid, const SinkOpener& open_sink, const Progress& progress,
                                      const std::string& share_token) {
  int status = 0;
  std::string error_text;
  std::optional<Error> local_error;
  ByteSink sink;
  std::uint64_t received = 0;
  httplib::Result result = impl_->http.Get(
      "/v1/data/" + cid.to_string() + "/network/stream",
      share_token.empty() ? httplib::Headers{} : httplib::Headers{{kShareTokenHeader, share_token}},
      [&](const httplib::Response& response) {
        status = response.status;
        if (status != 200) return true;  // the error body follows
        DownloadInfo info;
        if (response.has_header("Content-Disposition")) {
          auto name = parse_content_disposition(response.get_header_value("Content-Disposition"));
          if (name && *name) info.name = **name;
        }
        info.mime_type = response.get_header_value("Content-Type");
        const std::string length = response.get_header_value("Content-Length");
        (void)std::from_chars(length.data(), length.data() + length.size(), info.size);
        auto opened = open_sink(info);
        if (!opened) {
          local_error = opened.error();
          return false;
        }
        sink = std::move(*opened);
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status != 200) {
          error_text.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, error_text.size())));
          return true;
        }
        auto ok = sink(ByteView(reinterpret_cast<const std::uint8_t*>(data), n));
        if (!ok) {
          local_error = ok.error();
          return false;
        }
        received += n;
        return true;
      },
      [&](std::uint64_t done, std::uint64_t total) {
        if (status == 200 && progress) progress(done, total);
        return true;
      });
  if (local_error) return std::unexpected(*local_error);
  if (!result) {
    return std::unexpected(transport_error(result.error(), "download of " + cid.to_string() + " failed",
                                           impl_->daemon.api_port));
  }
  if (result->status != 200) return std::unexpected(daemon_error(result->status, error_text));
  return received;
}

void RestClient::set_reply_timeout(std::chrono::seconds timeout) { impl_->http.set_read_timeout(timeout); }

Result<Bytes> RestClient::read_range(const Cid& cid, std::uint64_t offset, std::uint64_t length) {
  if (length == 0) return Bytes{};
  const httplib::Result result =
      impl_->http.Get("/v1/data/" + cid.to_string() + "/network/stream",
                      httplib::Headers{{"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)}});
  const std::string what = "read of " + cid.to_string() + " at " + std::to_string(offset);
  if (!result) return std::unexpected(transport_error(result.error(), what + " failed", impl_->daemon.api_port));
  if (result->status == 416) return Bytes{};  // at or past the end
  if (result->status != 206) {
    if (result->status == 200) return fail(Errc::corrupt, what, ": the daemon sent the whole file, not the range");
    return std::unexpected(daemon_error(result->status, result->body));
  }
  // "bytes first-last/size": the range must start where asked and hold what it says.
  const std::string range = result->get_header_value("Content-Range");
  const std::string expected = "bytes " + std::to_string(offset) + "-";
  if (!range.starts_with(expected) || result->body.size() > length) {
    return fail(Errc::corrupt, what, ": the daemon sent another range (", range, ")");
  }
  return Bytes(result->body.begin(), result->body.end());
}

Result<std::vector<FileEntry>> RestClient::list() {
  const httplib::Result result = impl_->http.Get("/v1/data");
  if (!result) return std::unexpected(transport_error(result.error(), "listing failed", impl_->daemon.api_port));
  if (result->status != 200) return std::unexpected(daemon_error(result->status, result->body));
  const nlohmann::json reply = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object() || !reply.contains("content") || !reply["content"].is_array()) {
    return fail(Errc::corrupt, "the daemon's file list is not the documented JSON");
  }
  std::vector<FileEntry> entries;
  for (const nlohmann::json& item : reply["content"]) {
    OB_TRY(FileEntry entry, entry_from_json(item));
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<nlohmann::json> RestClient::get_json(const std::string& path) {
  const httplib::Result result = impl_->http.Get(path);
  if (!result) return std::unexpected(transport_error(result.error(), "request failed", impl_->daemon.api_port));
  if (result->status != 200) return std::unexpected(daemon_error(result->status, result->body));
  nlohmann::json reply = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded()) return fail(Errc::corrupt, "the daemon's reply to ", path, " is not JSON");
  return reply;
}

Result<nlohmann::json> RestClient::post_json(const std::string& path, const nlohmann::json& body) {
  const httplib::Result result = impl_->http.Post(path, body.dump(), "application/json");
  if (!result) return std::unexpected(transport_error(result.error(), "request failed", impl_->daemon.api_port));
  if (result->status != 200) return std::unexpected(daemon_error(result->status, result->body));
  nlohmann::json reply = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded()) return fail(Errc::corrupt, "the daemon's reply to ", path, " is not JSON");
  return reply;
}

Result<void> RestClient::remove(const Cid& cid) {
  const httplib::Result result = impl_->http.Delete("/v1/data/" + cid.to_string());
  if (!result) return std::unexpected(transport_error(result.error(), "remove failed", impl_->daemon.api_port));
  if (result->status != 204 && result->status != 200) {
    return std::unexpected(daemon_error(result->status, result->body));
  }
  return {};
}

}  // namespace ob::api
