// A JSON-RPC 2.0 client of an Ethereum node over HTTP or HTTPS (cpp-httplib): one request per
// call, with a connect timeout, a read timeout and a cap on the reply's size, and errors that
// say which node and what went wrong, in one line.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace ob::chain {

/// Limits of one JSON-RPC call.
struct RpcOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{30000};  ///< each read and write of the exchange
  std::size_t max_reply_bytes = 16 * 1024 * 1024;
};

/// A JSON-RPC client of one node. Movable; one call at a time.
class JsonRpcClient {
 public:
  /// A client of `url`: "http://host:port[/path]" or "https://...". Nothing is sent yet.
  /// Errors (invalid_argument): not such a URL.
  static Result<JsonRpcClient> create(std::string_view url, RpcOptions options = {});
  ~JsonRpcClient();
  JsonRpcClient(JsonRpcClient&&) noexcept;
  JsonRpcClient& operator=(JsonRpcClient&&) noexcept;

  /// The node's URL as given.
  const std::string& url() const noexcept;

  /// Calls `method` with `params` (a JSON array) and returns the reply's "result".
  /// Errors: (io) "cannot reach the Ethereum node at URL: ..." (refused, unresolvable, timed
  /// out), an HTTP status other than 200; (corrupt) a reply that is not JSON-RPC or is over
  /// the size cap; (invalid_argument) the node's error object: "the Ethereum node refused
  /// METHOD: MESSAGE (code N)". When the error object has "data" (a reverted eth_call's or
  /// eth_estimateGas's return data) and `error_data` is given, it is copied there, so a
  /// contract's client can decode the revert reason.
  Result<nlohmann::json> call(std::string_view method, nlohmann::json params = nlohmann::json::array(),
                              nlohmann::json* error_data = nullptr);

 private:
  struct Impl;
  explicit JsonRpcClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ob::chain
