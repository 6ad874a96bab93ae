// A node's connection to the tracker (proto/tracker.proto): gRPC over TLS, presenting the
// node's identity and accepting the server only if it proves the tracker's peer ID.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "exchange/fetcher.h"
#include "net/identity.h"
#include "net/tls.h"
#include "proto/tracker.grpc.pb.h"

namespace ob::tracker {

/// Limit of one tracker message (proto/tracker.proto).
inline constexpr int kMaxTrackerMessageBytes = 1024 * 1024;

/// Where the tracker is and who it is: "PEERID@host:port" ([tracker] address in config.toml).
struct TrackerAddress {
  net::PeerId peer;
  std::string address;  ///< "host:port"

  /// Parses "PEERID@host:port". Errors (invalid_argument): no '@', a bad peer ID, no port.
  static Result<TrackerAddress> parse(std::string_view text);
  std::string to_string() const;
};

/// Stubs of the tracker's three services over one channel. Cheap to copy; thread-safe.
class TrackerClient {
 public:
  /// A client of `tracker`, presenting `local`. Connects lazily: errors surface per call.
  static TrackerClient connect(const TrackerAddress& tracker, const net::TlsIdentity& local);

  openbucket::tracker::v1::Market::Stub& market() const noexcept { return *market_; }
  openbucket::tracker::v1::Producer::Stub& producer() const noexcept { return *producer_; }
  openbucket::tracker::v1::Consumer::Stub& consumer() const noexcept { return *consumer_; }
  const TrackerAddress& address() const noexcept { return address_; }

 private:
  explicit TrackerClient(TrackerAddress address) : address_(std::move(address)) {}
  TrackerAddress address_;
  std::shared_ptr<openbucket::tracker::v1::Market::Stub> market_;
  std::shared_ptr<openbucket::tracker::v1::Producer::Stub> producer_;
  std::shared_ptr<openbucket::tracker::v1::Consumer::Stub> consumer_;
};

/// Block exchange clients of the online consumers holding stored slots of `file_id` (one per
/// consumer), from the tracker's Market.CheckHolders, which answers any caller: how a node
/// finds a file's slots when the DHT knows no provider of it. Each call has `timeout`.
/// Errors: the call's (call_error: not_found when the tracker knows no such file);
/// (unrecoverable) no consumer holds a slot of it yet.
Result<std::vector<exchange::PeerClient>> holder_clients(const TrackerClient& tracker, const std::string& file_id,
                                                         const net::TlsIdentity& local,
                                                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A client context with a deadline `timeout` from now.
std::unique_ptr<grpc::ClientContext> call_context(std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A failed call as our error: INVALID_ARGUMENT -> invalid_argument, NOT_FOUND -> not_found,
/// ALREADY_EXISTS -> already_exists, PERMISSION_DENIED/UNAUTHENTICATED -> invalid_argument,
/// anything else (UNAVAILABLE, DEADLINE_EXCEEDED, ...) -> io; the message says `what` failed,
/// with the tracker's own message.
Error call_error(std::string_view what, const grpc::Status& status);

/// Our error as a gRPC status, for servers: the inverse mapping of call_error (io and internal
/// become INTERNAL, corrupt INVALID_ARGUMENT).
grpc::Status to_status(const Error& error);

}  // namespace ob::tracker
