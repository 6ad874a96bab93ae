// The daemon's REST API (docs/api.md): JSON over HTTP/1.1 on 127.0.0.1, every request carrying
// `Authorization: Bearer <keys/api.token>`, errors as {"msg": ...} with a 4xx/5xx status.
//
//   POST   /v1/data                        raw body -> stored file's CID
//   GET    /v1/data                        {"content": [file, ...]}
//   GET    /v1/data/{cid}                  the file's bytes
//   GET    /v1/data/{cid}/network/stream   the same, read from providers when not held (nothing stored)
//   POST   /v1/data/{cid}/network          fetches it into the local store in the background
//   DELETE /v1/data/{cid}                  204
//   GET    /v1/space, /v1/peers, /v1/debug/info, /v1/debug/routes (every route served), /metrics
//
// docs/openapi.yaml describes every route (tests/openapi_test.sh checks it against a daemon).
//
// Request and response bodies stream straight between the socket and the engine: an upload is
// pushed into a FileWriter as it arrives and a download is pulled from a FileReader one stripe
// at a time, so memory stays bounded by a stripe per request whatever the file size.
// A connection holds no thread until its request header has arrived (api/gated_server.h); then
// a worker thread serves the request. The Engine is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/server_limits.h"
#include "coding/manifest.h"
#include "core/error.h"
#include "core/metrics.h"
#include "exchange/fetcher.h"

namespace ob {
class Engine;
class Network;
}

namespace ob::api {

/// A JSON endpoint's answer: a status and a JSON body (seed 000: {"msg": ...}, or a listing).
struct JsonReply {
  int status = 200;
  nlohmann::json body;
};

/// A JSON endpoint served for a role (node/producer, node/consumer): the handler gets the
/// request body parsed as JSON (null when there is none; a body that is not JSON, over 1 MiB,
/// or with a NUL byte in any string (a path cut short) is refused with 400/413 before the
/// handler runs). Handlers run on the server's
/// threads, concurrently; they must not throw (an exception becomes a 500).
struct JsonRoute {
  std::string method;  ///< "GET" or "POST"
  /// Exact path, e.g. "/v1/producer/start", or a path with one "{name}" segment, e.g.
  /// "/v1/wallet/accounts/{address}/balance", which matches any non-empty segment without '/'.
  std::string path;
  std::function<JsonReply(const nlohmann::json& body)> handler;
  /// Set instead of `handler` for a path with a "{name}" segment: receives that segment as sent.
  std::function<JsonReply(const std::string& segment, const nlohmann::json& body)> segment_handler = {};
};

/// Serves one request of a JSON route as the server does, minus the socket: `body` (the request
/// body as sent; empty = no body) is parsed as JSON, refused with 400 {"msg": ...} when it is
/// not JSON or holds a NUL byte in any string or field name, and otherwise handed to the
/// route's handler (with the "{name}" segment of `path` for a segment route). The server's
/// size limit (1 MiB) is checked before this, on the Content-Length. What the fuzz target
/// fuzz/rest_fuzz.cc calls. Must not throw unless the handler does.
JsonReply call_json_route(const JsonRoute& route, const std::string& path, std::string_view body);

/// What the REST server reports and enforces besides the engine's files.
struct RestServerConfig {
  std::string token;               ///< the bearer token every request must present (keys/api.token)
  std::string peer_id;             ///< this node's peer ID, "12D3KooW..." (/v1/debug/info)
  std::string version;             ///< software version (/v1/debug/info)
  std::uint16_t port = 0;          ///< TCP port on 127.0.0.1; 0 = any free port
  CodingParams coding_defaults;    ///< k, m, block size of uploads that do not say
  std::uint64_t quota_bytes = 0;   ///< reported by /v1/space; 0 = unlimited
  ServerLimits limits;             ///< header deadline, worker threads, I/O timeouts (docs/api.md "Limits")
  /// The node's network (must outlive the server); null serves local data only and answers the
  /// network endpoints with 503.
  Network* network = nullptr;
  /// Who holds slots of a file when the DHT knows no provider of it (the tracker's
  /// CheckHolders, tracker::holder_clients), for reads with a share token; empty: the DHT only.
  std::function<Result<std::vector<exchange::PeerClient>>(const Cid&)> holders;
  /// More endpoints (seed 000's /v1/producer/*, /v1/consumer/*); their objects must outlive
  /// the server.
  std::vector<JsonRoute> routes;
  /// More gauges for GET /metrics (the roles' state), called on a server thread per scrape;
  /// empty: only the engine's and the network's. Must not throw.
  std::function<std::vector<metrics::Gauge>()> gauges;
};

/// A REST server bound to 127.0.0.1 and serving one Engine, which must outlive it.
class RestServer {
 public:
  /// Binds the listening socket (so the port is known, and taken, before anything is served).
  /// Errors (io): the port cannot be bound (in use, or not permitted).
  static Result<std::unique_ptr<RestServer>> bind(Engine& engine, RestServerConfig config);
  /// Stops the server if it runs.
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  /// The bound port (the one chosen when the configuration said 0).
  std::uint16_t port() const noexcept;
  /// Starts accepting connections on a background thread; requests run on a pool of threads.
  /// Call once.
  void start();
  /// True from start() until the listener stops (after stop(), or if its socket failed).
  bool running() const noexcept;
  /// Stops accepting, ends idle keep-alive connections and streaming downloads, waits for the
  /// requests in progress (an upload still being received runs to its end or its read timeout)
  /// and joins the threads. Idempotent; not to be called from a request handler.
  void stop();

 private:
  struct Impl;
  explicit RestServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ob::api
