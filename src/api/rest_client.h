// The command line's side of the REST API (docs/api.md): when a daemon runs for the home it
// holds the store's lock, so `data put|get|ls|rm` go through it. Bodies stream both ways: an
// upload is read from its source as the socket takes it, a download is handed to a sink as it
// arrives, so memory stays small whatever the file size.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coding/manifest.h"
#include "core/cid.h"
#include "core/stream.h"
#include "node/engine.h"
#include "node/home.h"

namespace ob::api {

/// What GET /v1/data/{cid} said about a file before its bytes.
struct DownloadInfo {
  std::string name;       ///< from Content-Disposition; may be empty
  std::string mime_type;  ///< from Content-Type
  std::uint64_t size = 0; ///< from Content-Length (0 when the daemon did not say)
};

/// Where a download's bytes go, chosen once the daemon has accepted the request.
using SinkOpener = std::function<Result<ByteSink>(const DownloadInfo& info)>;

/// A client of one home's daemon. Movable, not copyable; one request at a time.
class RestClient {
 public:
  /// The daemon of `home`, if one runs and answers: nullopt when daemon.json is absent, its
  /// process is gone, or nothing listens on its port (a stale file: the caller may use the store
  /// directly). Errors (corrupt, not_found): the API token cannot be read; (invalid_argument):
  /// the daemon refuses the token.
  static Result<std::optional<RestClient>> connect(const Home& home);

  ~RestClient();
  RestClient(RestClient&&) noexcept;
  RestClient& operator=(RestClient&&) noexcept;
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  /// The daemon's process ID (from daemon.json).
  long pid() const noexcept;

  /// POST /v1/data: stores what `source` yields; `size` is its length when known (sent as
  /// Content-Length; else the body is chunked). Returns the stored file as the daemon describes
  /// it (stored_bytes 0). Errors: the source's; the daemon's {"msg"} with its status's code
  /// (invalid_argument for bad parameters, quota_exceeded, io); (io) the connection failed.
  Result<FileEntry> put(const ByteSource& source, std::optional<std::uint64_t> size, const FileMetadata& metadata,
                        const CodingParams& params, const Progress& progress = {});
  /// GET /v1/data/{cid}: the file's bytes into the sink `open_sink` returns. Returns the bytes
  /// received. Errors: the daemon's (not_found, invalid_argument, io for 5xx); the opener's and
  /// the sink's; (io) the connection ended before the last byte. With `share_token` (text of a
  /// share token for `cid`), the daemon reads the file from the network with the token's key.
  Result<std::uint64_t> get(const Cid& cid, const SinkOpener& open_sink, const Progress& progress = {},
                            const std::string& share_token = {});
  /// GET /v1/data/{cid}/network/stream with `Range: bytes=offset-(offset+length-1)` (issue 13):
  /// the bytes of that range, fewer at the end of the file, none past it; the daemon decodes
  /// only the stripes the range touches. Errors: the
  /// daemon's (not_found, invalid_argument, io for 5xx, e.g. fewer than k slots answered);
  /// (corrupt) a reply that is not the range asked for; (io) the connection failed or timed out.
  Result<Bytes> read_range(const Cid& cid, std::uint64_t offset, std::uint64_t length);
  /// How long each later request waits for the daemon's reply (and between two pieces of it)
  /// before failing with io; 600 s unless set (an upload is answered once it is encoded).
  void set_reply_timeout(std::chrono::seconds timeout);
  /// GET /v1/data. Errors: the daemon's; (corrupt) a reply that is not the documented JSON; (io).
  Result<std::vector<FileEntry>> list();
  /// DELETE /v1/data/{cid}. Errors (not_found) not stored; the daemon's; (io).
  Result<void> remove(const Cid& cid);
  /// GET `path` (already URL-safe) and its JSON reply (the network endpoints: /v1/peers,
  /// /v1/connect/..., /v1/providers/...). Errors: the daemon's {"msg"} with its status's code;
  /// (corrupt) not JSON; (io) the connection failed.
  Result<nlohmann::json> get_json(const std::string& path);
  /// POST `body` as JSON to `path` (seed 000's /v1/producer/*, /v1/consumer/*) and its JSON
  /// reply. Errors as get_json: a 4xx/5xx becomes an error carrying the reply's "msg".
  Result<nlohmann::json> post_json(const std::string& path, const nlohmann::json& body);

 private:
  struct Impl;
  explicit RestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ob::api
