#include "api/rest_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <thread>

#include "api/gated_server.h"
#include "api/http.h"
#include "coding/share_token.h"
#include "core/bytes.h"
#include "core/cid.h"
#include "node/engine.h"
#include "node/network.h"

namespace ob::api {
namespace {

using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

constexpr const char* kJsonType = "application/json";
constexpr std::size_t kMaxJsonBody = 1024 * 1024;
constexpr std::size_t kMaxMimeTypeSize = 255;

/// JSON text; names are user data and may not be UTF-8, so invalid bytes become U+FFFD
/// instead of an exception.
std::string dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void reply_json(Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump(body), kJsonType);
}

void reply_error(Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(error_body(message), kJsonType);
}

void reply_error(Response& res, const Error& error) { reply_error(res, http_status(error.code), error.message); }

bool has_body(const Request& req) {
  return (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0") ||
         req.has_header("Transfer-Encoding");
}

// A body we did not read would be parsed as the next request on a kept-alive connection:
// ask the client to close instead.
void close_if_body_unread(const Request& req, Response& res) {
  if (has_body(req) && req.get_header_value("Connection") != "close") res.set_header("Connection", "close");
}

bool wants_json(const Request& req) {
  return req.get_header_value("Accept").find(kJsonType) != std::string::npos;
}

Result<Cid> parse_cid(const std::string& text) {
  auto cid = Cid::parse(text);
  if (!cid) return fail(Errc::invalid_argument, "invalid CID '", text, "': ", cid.error().message);
  return cid;
}

// Runs a handler so that nothing escapes into cpp-httplib's thread: an exception (allocation
// failure, a library bug) becomes a 500 with a message.
template <typename F>
void guarded(const Request& req, Response& res, F&& handler) {
  try {
    handler();
  } catch (const std::exception& e) {
    spdlog::error("{} {}: internal error: {}", req.method, req.path, e.what());
    res.headers.clear();
    reply_error(res, 500, std::string("internal error: ") + e.what());
    close_if_body_unread(req, res);
  } catch (...) {
    spdlog::error("{} {}: internal error", req.method, req.path);
    res.headers.clear();
    reply_error(res, 500, "internal error");
    close_if_body_unread(req, res);
  }
}

// A query parameter that must be a whole number, absent -> nullopt.
Result<std::optional<std::uint32_t>> query_u32(const Request& req, const char* key) {
  if (!req.has_param(key)) return std::nullopt;
  const std::string text = req.get_param_value(key);
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return fail(Errc::invalid_argument, "query parameter ", key, " must be a whole number from 0 to 4294967295, not '",
                text, "'");
  }
  return value;
}

bool has_control_chars(std::string_view s) {
  return std::ranges::any_of(s, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

/// What an upload asked for, from its query and headers; checked before any byte is read.
struct UploadRequest {
  CodingParams params;
  FileMetadata metadata;
};

Result<UploadRequest> parse_upload(const Request& req, const CodingParams& defaults) {
  UploadRequest up{defaults, {}};
  OB_TRY(auto k, query_u32(req, "k"));
  OB_TRY(auto m, query_u32(req, "m"));
  OB_TRY(auto block_size, query_u32(req, "blockSize"));
  if (k) up.params.k = *k;
  if (m) up.params.m = *m;
  if (block_size) up.params.block_size = *block_size;
  OB_TRY_VOID(up.params.validate());
  if (req.has_header("Content-Disposition")) {
    OB_TRY(auto name, parse_content_disposition(req.get_header_value("Content-Disposition")));
    if (name) up.metadata.name = std::move(*name);
  }
  if (up.metadata.name.size() > protocol::kMaxFileNameSize) {
    return fail(Errc::invalid_argument, "file name longer than ", protocol::kMaxFileNameSize, " bytes");
  }
  std::string mime = req.get_header_value("Content-Type");
  // curl --data-binary sends this unless told otherwise; it never describes a stored file.
  if (mime.starts_with("application/x-www-form-urlencoded")) mime.clear();
  if (mime.size() > kMaxMimeTypeSize || has_control_chars(mime)) {
    return fail(Errc::invalid_argument, "Content-Type must be at most ", kMaxMimeTypeSize,
                " printable characters");
  }
  up.metadata.mime_type = std::move(mime);
  return up;
}

/// Seed 000's "Invalid <field>" message for the first string of a JSON body, at any depth,
/// holding a NUL byte (named by its top-level field); nullopt when there is none. Paths are the
/// strings that matter: the system would see one cut at the NUL ("f.bin\0.evil" is "f.bin"), so
/// one check here covers every path of every route (source, destination, remote path,
/// directory), and no other field has a use for a NUL.
std::optional<std::string> nul_in_body(const nlohmann::json& body) {
  const auto refused = [](const std::string& field) {
    return "Invalid " + (field.empty() ? std::string("request body") : field) + ": it contains a NUL byte";
  };
  // Iterative: a body may nest as deep as 1 MiB of brackets allows.
  std::vector<std::pair<const nlohmann::json*, std::string>> todo{{&body, ""}};
  while (!todo.empty()) {
    const auto [value, field] = std::move(todo.back());
    todo.pop_back();
    if (value->is_string()) {
      if (value->get_ref<const std::string&>().find('\0') != std::string::npos) return refused(field);
    } else if (value->is_object()) {
      for (auto it = value->begin(); it != value->end(); ++it) {
        if (it.key().find('\0') != std::string::npos) return refused("field name");
        todo.emplace_back(&it.value(), field.empty() ? it.key() : field);
      }
    } else if (value->is_array()) {
      for (const nlohmann::json& item : *value) todo.emplace_back(&item, field);
    }
  }
  return std::nullopt;
}

/// The segment a route's "{name}" stands for in `path`; "" for an exact path that matches;
/// nullopt when `path` is not the route's.
std::optional<std::string> match_route(const std::string& pattern, const std::string& path) {
  const std::size_t open = pattern.find('{');
  if (open == std::string::npos) return pattern == path ? std::optional<std::string>("") : std::nullopt;
  const std::size_t close = pattern.find('}', open);
  const std::string_view prefix = std::string_view(pattern).substr(0, open);
  const std::string_view suffix = std::string_view(pattern).substr(close + 1);
  if (path.size() <= prefix.size() + suffix.size() || !path.starts_with(prefix) || !path.ends_with(suffix)) {
    return std::nullopt;
  }
  std::string segment = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (segment.find('/') != std::string::npos) return std::nullopt;
  return segment;
}

/// cpp-httplib's pattern (a regex) for a route path: "{name}" becomes one segment.
std::string httplib_pattern(const std::string& pattern) {
  const std::size_t open = pattern.find('{');
  if (open == std::string::npos) return pattern;
  return pattern.substr(0, open) + "[^/]+" + pattern.substr(pattern.find('}', open) + 1);
}

nlohmann::json file_json(const FileEntry& e) {
  return {{"cid", e.cid.to_string()}, {"name", e.name},           {"mimeType", e.mime_type},
          {"size", e.size},           {"k", e.params.k},          {"m", e.params.m},
          {"blockSize", e.params.block_size}, {"storedBytes", e.stored_bytes}};
}

}  // namespace

struct RestServer::Impl {
  Impl(Engine& e, RestServerConfig c) : engine(e), config(std::move(c)) {}

  Engine& engine;
  RestServerConfig config;
  std::unique_ptr<GatedServer> server;  // set by bind()
  std::uint16_t port = 0;
  std::thread thread;
  std::atomic<bool> listener_done{false};
  std::mutex fetches_mutex;
  std::vector<std::thread> fetches;  // background network fetches, joined by stop()

  /// A reader kept open between ranged GETs of one file (a mount reading here and there): its
  /// manifest, slot indexes and peers are found once, not at every read. One request at a time
  /// uses it (its mutex); one that failed is dropped, so the next request opens a fresh one.
  struct CachedReader {
    CachedReader(const Cid& file, FileReader opened) : cid(file), reader(std::move(opened)) {}
    const Cid cid;
    std::mutex mutex;
    std::optional<FileReader> reader;
  };
  /// Readers kept for ranged GETs, most recently used last; at most kCachedReaders.
  static constexpr std::size_t kCachedReaders = 8;
  std::mutex readers_mutex;
  std::vector<std::shared_ptr<CachedReader>> readers;

  void install();
  bool authorized(const Request& req) const;
  /// A route the server serves itself (the roles' JsonRoutes come from the config). `path` as
  /// JsonRoute's: exact, or with one "{name}" segment, which `handle` receives.
  struct Route {
    const char* method;
    const char* path;
    HandlerResponse (*handle)(Impl&, const Request&, Response&, const std::string& segment);
  };
  /// Every built-in route, in one table: dispatch, 405's Allow and GET /v1/debug/routes read it,
  /// so a route cannot be served without being listed.
  static std::span<const Route> builtin_routes();
  /// Authentication passed: dispatches to the route of `req`'s method and path, or answers 404
  /// (unknown path) or 405 (known path, other method; Allow lists the path's methods).
  HandlerResponse route(const Request& req, Response& res);
  /// POST /v1/data before cpp-httplib reads the body: 411 without a length, 415 for multipart.
  static HandlerResponse upload_precheck(const Request& req, Response& res);
  /// A role's JSON route before cpp-httplib reads the body: 413 over 1 MiB, 411 when chunked.
  static HandlerResponse json_precheck(const Request& req, Response& res);
  /// GET /v1/debug/routes: [{"method", "path"}] of every route served, built-in and the roles'.
  void list_routes(Response& res);
  void serve_json(const JsonRoute& route, const Request& req, Response& res);
  void metrics_page(Response& res);

  void list_files(Response& res);
  void upload(const Request& req, Response& res, const httplib::ContentReader& read_body);
  /// GET of a file's bytes; `network`: from providers when it is not stored here.
  void download(const Request& req, Response& res, const std::string& cid_text, bool network);
  /// GET with a Range header, owner's reads only (issue 13): 206 with the bytes of one range,
  /// decoding only the stripes it touches (FileReader::read_at) with a reader kept for the next
  /// range; 416 for a range past the end. False when the Range header is to be ignored (the
  /// caller then serves the whole file).
  bool ranged_download(const Request& req, Response& res, const Cid& cid, bool network);
  /// The kept reader of `cid`, or a new one opened (and kept); replies with the error when none
  /// can be opened.
  std::shared_ptr<CachedReader> cached_reader(const Request& req, Response& res, const Cid& cid, bool network);
  void forget_reader(const std::shared_ptr<CachedReader>& entry);
  void fetch_from_network(Response& res, const std::string& cid_text);
  void remove(Response& res, const std::string& cid_text);
  void space(Response& res);
  void debug_info(Response& res);
  void peers(Response& res);
  void connect_peer(const Request& req, Response& res, const std::string& peer_text);
  void providers(Response& res, const std::string& cid_text);
  void find_peer(Response& res, const std::string& peer_text);
  /// A reader of `cid`: from this node's store when it is here, else (`network`) from its
  /// providers, without storing it (Network::open_reader). With a share token in the request's
  /// kShareTokenHeader, always from the network with the token's key, once the token names
  /// `cid` and has not expired (400, 403). Replies with the error otherwise.
  std::optional<FileReader> open_reader(const Request& req, Response& res, const Cid& cid, bool network);
};

bool RestServer::Impl::authorized(const Request& req) const {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {  // the scheme is case-insensitive (RFC 7235)
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return false;
  }
  return constant_time_equal(as_bytes(std::string_view(header).substr(kScheme.size())), as_bytes(config.token));
}

void RestServer::Impl::install() {
  // Every request is routed here first: authentication, then our own routing table, so that
  // no body is read for a request that is refused, and unknown paths and methods get JSON.
  server->set_pre_routing_handler([this](const Request& req, Response& res) {
    HandlerResponse result = HandlerResponse::Handled;
    guarded(req, res, [&] {
      if (!authorized(req)) {
        res.set_header("WWW-Authenticate", "Bearer");
        reply_error(res, 401, "missing or invalid API token");
        close_if_body_unread(req, res);
        return;
      }
      result = route(req, res);
    });
    return result;
  });
  // The one route cpp-httplib dispatches itself: uploads need its streaming body reader.
  server->Post("/v1/data", [this](const Request& req, Response& res, const httplib::ContentReader& read_body) {
    guarded(req, res, [&] { upload(req, res, read_body); });
  });
  // A client that waits for "100 Continue" (curl does for large bodies) learns of a refusal
  // before sending the body.
  server->set_expect_100_continue_handler([this](const Request& req, Response& res) {
    int status = 100;
    guarded(req, res, [&] {
      if (!authorized(req)) {
        res.set_header("WWW-Authenticate", "Bearer");
        reply_error(res, 401, "missing or invalid API token");
      } else if (req.method == "POST" && req.path == "/v1/data") {
        if (auto up = parse_upload(req, config.coding_defaults); !up) reply_error(res, up.error());
      }
    });
    if (res.status >= 400) {
      close_if_body_unread(req, res);
      status = res.status;
    }
    return status;
  });
  // Errors cpp-httplib answers itself (malformed requests, 414, 416) get a JSON body too.
  // Role endpoints: cpp-httplib reads their (small, checked in route()) bodies.
  for (const JsonRoute& r : config.routes) {
    const auto handler = [this, &r](const Request& req, Response& res) {
      guarded(req, res, [&] { serve_json(r, req, res); });
    };
    if (r.method == "GET") {
      server->Get(httplib_pattern(r.path), handler);
    } else {
      server->Post(httplib_pattern(r.path), handler);
    }
  }
  server->set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
    if (res.body.empty()) res.set_content(error_body(status_text(res.status)), kJsonType);
    return HandlerResponse::Handled;
  }));
  server->set_exception_handler([](const Request& req, Response& res, std::exception_ptr) {
    spdlog::error("{} {}: internal error", req.method, req.path);
    res.headers.clear();
    reply_error(res, 500, "internal error");
  });
  server->set_logger([](const Request& req, const Response& res) {
    spdlog::debug("{} {} -> {}", req.method, req.path, res.status);
  });
  // cpp-httplib's default also sets SO_REUSEPORT, with which a second daemon (another home)
  // could bind the same port and the kernel would split requests between the two. Keep only
  // SO_REUSEADDR: a restarted daemon may take its port back from connections in TIME_WAIT.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

std::span<const RestServer::Impl::Route> RestServer::Impl::builtin_routes() {
  using S = const std::string&;
  static constexpr auto handled = HandlerResponse::Handled;
  // The order is the listing's (GET /v1/debug/routes) and the Allow header's.
  static constexpr Route kRoutes[] = {
      {"GET", "/v1/data", [](Impl& s, const Request&, Response& res, S) { s.list_files(res); return handled; }},
      {"POST", "/v1/data", [](Impl&, const Request& req, Response& res, S) { return upload_precheck(req, res); }},
      {"GET", "/v1/data/{cid}",
       [](Impl& s, const Request& req, Response& res, S cid) { s.download(req, res, cid, false); return handled; }},
      {"DELETE", "/v1/data/{cid}", [](Impl& s, const Request&, Response& res, S cid) { s.remove(res, cid); return handled; }},
      {"GET", "/v1/data/{cid}/network/stream",
       [](Impl& s, const Request& req, Response& res, S cid) { s.download(req, res, cid, true); return handled; }},
      {"POST", "/v1/data/{cid}/network",
       [](Impl& s, const Request& req, Response& res, S cid) {
         s.fetch_from_network(res, cid);
         close_if_body_unread(req, res);
         return handled;
       }},
      {"GET", "/v1/space", [](Impl& s, const Request&, Response& res, S) { s.space(res); return handled; }},
      {"GET", "/v1/debug/info", [](Impl& s, const Request&, Response& res, S) { s.debug_info(res); return handled; }},
      {"GET", "/v1/debug/routes", [](Impl& s, const Request&, Response& res, S) { s.list_routes(res); return handled; }},
      {"GET", "/metrics", [](Impl& s, const Request&, Response& res, S) { s.metrics_page(res); return handled; }},
      {"GET", "/v1/peers", [](Impl& s, const Request&, Response& res, S) { s.peers(res); return handled; }},
      {"GET", "/v1/peers/{peerId}",
       [](Impl& s, const Request&, Response& res, S peer) { s.find_peer(res, peer); return handled; }},
      {"GET", "/v1/connect/{peerId}",
       [](Impl& s, const Request& req, Response& res, S peer) { s.connect_peer(req, res, peer); return handled; }},
      {"GET", "/v1/providers/{cid}",
       [](Impl& s, const Request&, Response& res, S cid) { s.providers(res, cid); return handled; }},
  };
  return kRoutes;
}

HandlerResponse RestServer::Impl::upload_precheck(const Request& req, Response& res) {
  // HTTP/1.1 gives such a request no body; cpp-httplib would wait for the connection to end.
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
    reply_error(res, 411, "an upload needs a Content-Length or a chunked body");
    return HandlerResponse::Handled;
  }
  if (req.is_multipart_form_data()) {
    reply_error(res, 415, "send the file as the raw request body, not as multipart/form-data");
    close_if_body_unread(req, res);
    return HandlerResponse::Handled;
  }
  return HandlerResponse::Unhandled;  // on to the streaming upload handler
}

HandlerResponse RestServer::Impl::json_precheck(const Request& req, Response& res) {
  if (req.has_header("Content-Length")) {
    const std::string length = req.get_header_value("Content-Length");
    std::uint64_t bytes = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bytes);
    if (ec != std::errc() || end != length.data() + length.size() || bytes > kMaxJsonBody) {
      reply_error(res, 413, "a request body is at most 1 MiB of JSON");
      close_if_body_unread(req, res);
      return HandlerResponse::Handled;
    }
  } else if (req.has_header("Transfer-Encoding")) {
    reply_error(res, 411, "send the JSON body with a Content-Length");
    close_if_body_unread(req, res);
    return HandlerResponse::Handled;
  }
  return HandlerResponse::Unhandled;  // on to serve_json, once cpp-httplib has read the body
}

HandlerResponse RestServer::Impl::route(const Request& req, Response& res) {
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  std::string allow;  // the methods of the routes whose path matches, for a 405
  const auto also_allow = [&](const std::string& m) { allow += (allow.empty() ? "" : ", ") + m; };
  for (const Route& r : builtin_routes()) {
    const auto segment = match_route(r.path, req.path);
    if (!segment) continue;
    if (method == r.method) return r.handle(*this, req, res, *segment);
    also_allow(r.method);
  }
  for (const JsonRoute& r : config.routes) {
    if (!match_route(r.path, req.path)) continue;
    if (method == r.method) return json_precheck(req, res);
    also_allow(r.method);
  }
  if (!allow.empty()) {
    res.set_header("Allow", allow);
    reply_error(res, 405, "method " + req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")");
  } else {
    reply_error(res, 404, "no such endpoint: " + req.path);
  }
  close_if_body_unread(req, res);
  return HandlerResponse::Handled;
}

void RestServer::Impl::list_routes(Response& res) {
  nlohmann::json routes = nlohmann::json::array();
  for (const Route& r : builtin_routes()) routes.push_back({{"method", r.method}, {"path", r.path}});
  for (const JsonRoute& r : config.routes) routes.push_back({{"method", r.method}, {"path", r.path}});
  reply_json(res, 200, routes);
}

void RestServer::Impl::serve_json(const JsonRoute& r, const Request& req, Response& res) {
  const JsonReply reply = call_json_route(r, req.path, req.body);
  reply_json(res, reply.status, reply.body);
}

void RestServer::Impl::list_files(Response& res) {
  auto entries = engine.list();
  if (!entries) return reply_error(res, entries.error());
  nlohmann::json content = nlohmann::json::array();
  for (const FileEntry& e : *entries) content.push_back(file_json(e));
  reply_json(res, 200, {{"content", std::move(content)}});
}

void RestServer::Impl::upload(const Request& req, Response& res, const httplib::ContentReader& read_body) {
  auto up = parse_upload(req, config.coding_defaults);
  if (!up) {
    reply_error(res, up.error());
    return close_if_body_unread(req, res);
  }
  auto writer = engine.begin_store(up->metadata, up->params);
  if (!writer) {
    reply_error(res, writer.error());
    return close_if_body_unread(req, res);
  }
  // The body goes straight into the stripe buffer as it arrives: memory is one stripe.
  std::optional<Error> failure;
  const bool read_all = read_body([&](const char* data, std::size_t size) {
    auto ok = writer->write(ByteView(reinterpret_cast<const std::uint8_t*>(data), size));
    if (!ok) failure = std::move(ok.error());
    return ok.has_value();
  });
  if (failure) {
    spdlog::warn("upload of '{}' failed after {} bytes: {}", up->metadata.name, writer->bytes_written(),
                 failure->message);
    reply_error(res, *failure);
    return close_if_body_unread(req, res);
  }
  if (!read_all) {
    spdlog::warn("upload of '{}' abandoned after {} bytes: the body could not be read", up->metadata.name,
                 writer->bytes_written());
    reply_error(res, res.status >= 400 ? res.status : 400, "the request body ended early or could not be read");
    return close_if_body_unread(req, res);
  }
  const std::uint64_t size = writer->bytes_written();
  auto cid = writer->finish();
  if (!cid) return reply_error(res, cid.error());
  spdlog::info("stored {} ({} bytes, k={} m={}, '{}')", cid->to_string(), size, up->params.k, up->params.m,
               up->metadata.name);
  // Seed 004: what a node stores, it announces. The file is stored either way.
  if (config.network != nullptr) {
    if (auto ok = config.network->announce(*cid); !ok) spdlog::warn("announce {}: {}", cid->to_string(), ok.error().message);
  }
  res.status = 200;
  if (wants_json(req)) {
    reply_json(res, 200, {{"cid", cid->to_string()}, {"name", up->metadata.name},
                          {"mimeType", up->metadata.mime_type}, {"size", size}, {"k", up->params.k},
                          {"m", up->params.m}, {"blockSize", up->params.block_size}});
  } else {
    res.set_content(cid->to_string(), "text/plain");
  }
}

void RestServer::Impl::download(const Request& req, Response& res, const std::string& cid_text, bool network) {
  auto cid = parse_cid(cid_text);
  if (!cid) return reply_error(res, cid.error());
  if (req.has_header("Range") && !req.has_header(kShareTokenHeader) && ranged_download(req, res, *cid, network)) return;
  // Opening checks the manifest and every slot's index (or, from the network, plans which
  // slots to read from whom), so a file with fewer than k usable slots is refused here, with
  // a status, rather than after the headers went out.
  auto reader = open_reader(req, res, *cid, network);
  if (!reader) return;
  const FileMetadata& entry = reader->metadata();

  // Ranges are not served: the file is decoded front to back. The Request is cpp-httplib's own
  // non-const object; clearing its parsed ranges makes it send the whole file with 200, which
  // RFC 9110 allows (a server may ignore Range), instead of slicing a stream it cannot seek.
  const_cast<Request&>(req).ranges.clear();
  res.status = 200;
  res.set_header("Content-Disposition", content_disposition(entry.name));
  res.set_header("Accept-Ranges", "none");
  const std::string mime = entry.mime_type.empty() || has_control_chars(entry.mime_type)
                               ? "application/octet-stream"
                               : entry.mime_type;
  if (reader->size() == 0) return res.set_content("", mime);

  auto shared = std::make_shared<FileReader>(std::move(*reader));
  res.set_content_provider(
      static_cast<std::size_t>(shared->size()), mime,
      [shared, cid_text](std::size_t offset, std::size_t, httplib::DataSink& sink) {
        // Called by cpp-httplib whenever the socket can take more: one stripe per call.
        try {
          if (offset != shared->bytes_read() || shared->done()) {
            spdlog::error("GET {}: asked for offset {} after {} bytes", cid_text, offset, shared->bytes_read());
            return false;
          }
          auto ok = shared->read_stripe([&](ByteView data) -> Result<void> {
            if (!sink.write(reinterpret_cast<const char*>(data.data()), data.size())) {
              return fail(Errc::io, "the client stopped reading");
            }
            return {};
          });
          if (!ok) {
            // The status line is gone; closing the connection early is how the client learns.
            spdlog::warn("GET {} stopped after {} bytes: {}", cid_text, shared->bytes_read(), ok.error().message);
            return false;
          }
          return true;
        } catch (const std::exception& e) {
          spdlog::error("GET {}: internal error: {}", cid_text, e.what());
          return false;
        }
      },
      [shared, cid_text](bool success) {
        const RetrieveReport& report = shared->report();
        if (success && !report.unusable_slots.empty()) {
          spdlog::warn("GET {}: rebuilt {} stripe(s) without {} unusable slot(s)", cid_text, report.rebuilt_stripes,
                       report.unusable_slots.size());
        }
      });
}

std::shared_ptr<RestServer::Impl::CachedReader> RestServer::Impl::cached_reader(const Request& req, Response& res,
                                                                                  const Cid& cid, bool network) {
  {
    std::lock_guard lock(readers_mutex);
    auto it = std::find_if(readers.begin(), readers.end(), [&](const auto& e) { return e->cid == cid; });
    if (it != readers.end()) {
      std::shared_ptr<CachedReader> entry = *it;
      readers.erase(it);
      readers.push_back(entry);  // most recently used last
      return entry;
    }
  }
  // Opened without the lock: finding peers may take a while, and other files' reads go on.
  auto reader = open_reader(req, res, cid, network);
  if (!reader) return nullptr;
  auto entry = std::make_shared<CachedReader>(cid, std::move(*reader));
  std::lock_guard lock(readers_mutex);
  std::erase_if(readers, [&](const auto& e) { return e->cid == cid; });  // a concurrent open lost
  if (readers.size() >= kCachedReaders) readers.erase(readers.begin());
  readers.push_back(entry);
  return entry;
}

void RestServer::Impl::forget_reader(const std::shared_ptr<CachedReader>& entry) {
  std::lock_guard lock(readers_mutex);
  std::erase(readers, entry);
}

bool RestServer::Impl::ranged_download(const Request& req, Response& res, const Cid& cid, bool network) {
  // A range is served from memory: a mount asks for a stripe or so at a time. A larger one is
  // cut to this, which RFC 9110 allows (the Content-Range says what was sent).
  constexpr std::uint64_t kMaxRange = 16 * 1024 * 1024;
  // The range is ours to serve: cpp-httplib would otherwise slice our 206 body once more by the
  // ranges it parsed (its Request is non-const underneath, as in download()).
  const_cast<Request&>(req).ranges.clear();
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<CachedReader> entry = cached_reader(req, res, cid, network);
    if (!entry) return true;  // replied
    std::lock_guard lock(entry->mutex);
    if (!entry->reader) continue;  // spent by a request that failed meanwhile
    FileReader& reader = *entry->reader;
    auto range = parse_byte_range(req.get_header_value("Range"), reader.size());
    if (!range) {
      res.set_header("Content-Range", "bytes */" + std::to_string(reader.size()));
      reply_error(res, 416, range.error().message);
      return true;
    }
    if (!*range) return false;
    const std::uint64_t length = std::min((*range)->length, kMaxRange);
    std::string body;
    body.reserve(static_cast<std::size_t>(length));
    auto read = reader.read_at((*range)->offset, length, [&](ByteView data) -> Result<void> {
      body.append(reinterpret_cast<const char*>(data.data()), data.size());
      return {};
    });
    if (!read) {
      entry->reader.reset();
      forget_reader(entry);
      // A reader kept from earlier may have gone stale (its peers gone, its local copy dropped):
      // one more try with a fresh one before the error goes out.
      if (attempt == 0) continue;
      spdlog::warn("GET {} bytes {}+{}: {}", cid.to_string(), (*range)->offset, length, read.error().message);
      reply_error(res, read.error());
      return true;
    }
    const std::uint64_t first = (*range)->offset;
    res.status = 206;
    res.set_header("Accept-Ranges", "bytes");
    res.set_header("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(first + *read - 1) + "/" +
                                        std::to_string(reader.size()));
    res.set_content(std::move(body), "application/octet-stream");
    return true;
  }
  reply_error(res, 503, "file " + cid.to_string() + " could not be read: its reader failed twice");
  return true;
}

std::optional<FileReader> RestServer::Impl::open_reader(const Request& req, Response& res, const Cid& cid,
                                                         bool network) {
  if (req.has_header(kShareTokenHeader)) {
    auto token = parse_share_token(req.get_header_value(kShareTokenHeader));
    if (!token || token->file != cid) {
      reply_error(res, 400, token ? "the share token is for file " + token->file.to_string() + ", not " + cid.to_string()
                                  : token.error().message);
      return std::nullopt;
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    if (token->expired(static_cast<std::uint64_t>(now.count()))) {
      reply_error(res, 403, "the share token for " + cid.to_string() + " has expired");
      return std::nullopt;
    }
    if (!network || config.network == nullptr) {
      reply_error(res, 503, "a shared file is read from the network, and this node is not on one");
      return std::nullopt;
    }
    auto reader = config.network->open_reader(cid, &token->key);
    if (reader) return std::move(*reader);
    if (reader.error().code != Errc::not_found || !config.holders) {
      reply_error(res, reader.error());
      return std::nullopt;
    }
    // Nobody in the DHT: the consumers the tracker knows of.
    auto peers = config.holders(cid);
    if (!peers) {
      reply_error(res, prefixed(peers.error(), reader.error().message));
      return std::nullopt;
    }
    auto from_holders = config.network->open_reader(cid, *peers, &token->key);
    if (!from_holders) {
      reply_error(res, from_holders.error());
      return std::nullopt;
    }
    return std::move(*from_holders);
  }
  auto local = engine.has(cid);
  if (!local) {
    reply_error(res, local.error());
    return std::nullopt;
  }
  if (!*local && network && config.network == nullptr) {
    reply_error(res, 503, "file " + cid.to_string() + " is not stored here; this node is not on a network");
    return std::nullopt;
  }
  const auto open = [&]() -> Result<FileReader> {
    if (*local || !network) return engine.begin_retrieve(cid);
    auto from_dht = config.network->open_reader(cid);
    if (from_dht || from_dht.error().code != Errc::not_found || !config.holders) return from_dht;
    // Nobody in the DHT (not announced yet, or the DHT still joining): the consumers the
    // tracker names as holders, as `producer cp` reads them.
    auto peers = config.holders(cid);
    if (!peers || peers->empty()) return from_dht;
    return config.network->open_reader(cid, *peers);
  };
  auto reader = open();
  if (!reader) {
    reply_error(res, reader.error());
    return std::nullopt;
  }
  return std::move(*reader);
}

void RestServer::Impl::fetch_from_network(Response& res, const std::string& cid_text) {
  auto cid = parse_cid(cid_text);
  if (!cid) return reply_error(res, cid.error());
  auto local = engine.has(*cid);
  if (!local) return reply_error(res, local.error());
  if (*local) return reply_json(res, 200, {{"msg", "file " + cid->to_string() + " is already stored locally"}});
  if (config.network == nullptr) return reply_error(res, 503, "this node is not on a network");
  std::lock_guard lock(fetches_mutex);
  fetches.emplace_back([network = config.network, cid = *cid] {
    auto report = network->fetch(cid);
    if (report) {
      spdlog::info("fetched {} from the network ({} bytes, {} peer(s) dropped)", cid.to_string(),
                   report->bytes_received, report->dropped.size());
    } else {
      spdlog::warn("background fetch of {} failed: {}", cid.to_string(), report.error().message);
    }
  });
  reply_json(res, 202, {{"msg", "fetching " + cid->to_string() + " from the network in the background"}});
}

void RestServer::Impl::peers(Response& res) {
  nlohmann::json out = nlohmann::json::array();
  if (config.network != nullptr) {
    for (const auto& record : config.network->connected()) {
      out.push_back({{"peerId", record.peer.to_string()}, {"addrs", record.addresses}});
    }
  }
  reply_json(res, 200, out);
}

void RestServer::Impl::connect_peer(const Request& req, Response& res, const std::string& peer_text) {
  if (config.network == nullptr) return reply_error(res, 503, "this node is not on a network");
  auto peer = net::PeerId::parse(peer_text);
  if (!peer) return reply_error(res, peer.error());
  const std::string addrs = req.get_param_value("addrs");
  if (addrs.empty()) {
    auto found = config.network->find_peer(*peer);
    if (!found || found->addresses.empty()) {
      return reply_error(res, 404, "peer " + peer->to_string() + " was not found; give ?addrs=host:port");
    }
    config.network->connect(*peer, found->addresses.front());
  } else {
    if (addrs.size() > 260 || addrs.rfind(':') == std::string::npos) {
      return reply_error(res, 400, "addrs must be host:port");
    }
    config.network->connect(*peer, addrs);
  }
  reply_json(res, 200, {{"msg", "connected to " + peer->to_string()}});
}

void RestServer::Impl::find_peer(Response& res, const std::string& peer_text) {
  if (config.network == nullptr) return reply_error(res, 503, "this node is not on a network");
  auto peer = net::PeerId::parse(peer_text);
  if (!peer) return reply_error(res, peer.error());
  auto record = config.network->find_peer(*peer);
  if (!record) return reply_error(res, record.error());
  reply_json(res, 200, {{"peerId", record->peer.to_string()}, {"addrs", record->addresses}, {"roles", record->roles}});
}

void RestServer::Impl::providers(Response& res, const std::string& cid_text) {
  auto cid = parse_cid(cid_text);
  if (!cid) return reply_error(res, cid.error());
  if (config.network == nullptr) return reply_error(res, 503, "this node is not on a network");
  nlohmann::json out = nlohmann::json::array();
  auto local = engine.has(*cid);
  if (!local) return reply_error(res, local.error());
  if (*local) out.push_back({{"peerId", config.peer_id}, {"addrs", {config.network->p2p_address()}}});
  for (const auto& record : config.network->providers(*cid)) {
    out.push_back({{"peerId", record.peer.to_string()}, {"addrs", record.addresses}});
  }
  reply_json(res, 200, out);
}

void RestServer::Impl::remove(Response& res, const std::string& cid_text) {
  auto cid = parse_cid(cid_text);
  if (!cid) return reply_error(res, cid.error());
  if (auto ok = engine.remove(*cid); !ok) return reply_error(res, ok.error());
  spdlog::info("removed {}", cid->to_string());
  res.status = 204;
}

void RestServer::Impl::space(Response& res) {
  auto entries = engine.list();
  if (!entries) return reply_error(res, entries.error());
  std::uint64_t slot_bytes = 0;
  for (const FileEntry& e : *entries) slot_bytes += e.stored_bytes;
  reply_json(res, 200,
             {{"quotaMaxBytes", config.quota_bytes},
              {"quotaUsedBytes", engine.blocks().used_bytes() + slot_bytes},
              {"storedFiles", entries->size()},
              {"slotBytes", slot_bytes}});
}

void RestServer::Impl::metrics_page(Response& res) {
  std::vector<metrics::Gauge> gauges;
  if (auto entries = engine.list()) {
    std::uint64_t slot_bytes = 0;
    for (const FileEntry& e : *entries) slot_bytes += e.stored_bytes;
    gauges.push_back({"ob_store_files", "Files whose manifest is stored on this node.", static_cast<double>(entries->size()), {}});
    gauges.push_back({"ob_store_slot_bytes", "Bytes of slot data in this node's own store (not the consumer's).",
                      static_cast<double>(slot_bytes), {}});
  }
  gauges.push_back({"ob_store_block_bytes", "Bytes in the block store (manifests, raw blocks).",
                    static_cast<double>(engine.blocks().used_bytes()), {}});
  if (config.network != nullptr) {
    gauges.push_back({"ob_dht_nodes", "DHT nodes this node knows.", static_cast<double>(config.network->dht_nodes()), {}});
  }
  if (config.gauges) {
    for (metrics::Gauge& g : config.gauges()) gauges.push_back(std::move(g));
  }
  res.status = 200;
  res.set_content(metrics::render(gauges), metrics::kContentType);
}

void RestServer::Impl::debug_info(Response& res) {
  reply_json(res, 200,
             {{"id", config.peer_id},
              {"addrs", config.network != nullptr ? nlohmann::json::array({config.network->p2p_address()})
                                                  : nlohmann::json::array()},
              {"apiPort", port},
              {"dhtPort", config.network != nullptr ? config.network->dht_port() : 0},
              {"version", config.version},
              {"dhtNodes", config.network != nullptr ? config.network->dht_nodes() : 0}});
}

JsonReply call_json_route(const JsonRoute& route, const std::string& path, std::string_view body_text) {
  nlohmann::json body;  // null: no body
  if (!body_text.empty()) {
    body = nlohmann::json::parse(body_text, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return {400, nlohmann::json{{"msg", "the request body is not valid JSON"}}};
    if (auto refused = nul_in_body(body)) return {400, nlohmann::json{{"msg", *refused}}};
  }
  return route.segment_handler ? route.segment_handler(match_route(route.path, path).value_or(""), body)
                               : route.handler(body);
}

RestServer::RestServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestServer::~RestServer() { stop(); }

Result<std::unique_ptr<RestServer>> RestServer::bind(Engine& engine, RestServerConfig config) {
  auto impl = std::make_unique<Impl>(engine, std::move(config));
  OB_TRY(impl->server, GatedServer::create(impl->config.limits));
  impl->install();
  const std::uint16_t wanted = impl->config.port;
  const int bound = wanted == 0 ? impl->server->bind_to_any_port("127.0.0.1")
                                : (impl->server->bind_to_port("127.0.0.1", wanted) ? wanted : -1);
  if (bound <= 0 || bound > 65535) {
    return fail(Errc::io, "cannot listen on 127.0.0.1:", wanted,
                " (is the port in use? [api] port in config.toml chooses another, 0 any free one)");
  }
  impl->port = static_cast<std::uint16_t>(bound);
  return std::unique_ptr<RestServer>(new RestServer(std::move(impl)));
}

std::uint16_t RestServer::port() const noexcept { return impl_->port; }

void RestServer::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] {
    if (!impl->server->listen_after_bind()) spdlog::error("the REST API listener on port {} failed", impl->port);
    impl->listener_done = true;
  });
}

bool RestServer::running() const noexcept { return impl_->thread.joinable() && !impl_->listener_done; }

void RestServer::stop() {
  if (!impl_->thread.joinable()) return;
  // httplib's stop() only acts on a listener that runs, and must be called once: wait until
  // the listener has started (or already ended) first.
  while (!impl_->server->is_running() && !impl_->listener_done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!impl_->listener_done) impl_->server->stop();
  impl_->thread.join();
  impl_->server->close();  // connections waiting for a header, then the requests in progress
  std::lock_guard lock(impl_->fetches_mutex);
  for (std::thread& fetch : impl_->fetches) fetch.join();  // each ends by its calls' deadlines
  impl_->fetches.clear();
}

}  // namespace ob::api
