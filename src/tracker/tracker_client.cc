#include "tracker/tracker_client.h"

#include <set>

namespace ob::tracker {

namespace pb = openbucket::tracker::v1;

Result<TrackerAddress> TrackerAddress::parse(std::string_view text) {
  const std::size_t at = text.find('@');
  if (at == std::string_view::npos) {
    return fail(Errc::invalid_argument, "tracker address '", text, "' must be PEERID@host:port");
  }
  OB_TRY(net::PeerId peer, net::PeerId::parse(text.substr(0, at)));
  const std::string_view address = text.substr(at + 1);
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == address.size() || address.size() > 260) {
    return fail(Errc::invalid_argument, "tracker address '", text, "' must be PEERID@host:port");
  }
  for (const char c : address.substr(colon + 1)) {
    if (c < '0' || c > '9') return fail(Errc::invalid_argument, "tracker address '", text, "' has a bad port");
  }
  return TrackerAddress{peer, std::string(address)};
}

std::string TrackerAddress::to_string() const { return peer.to_string() + "@" + address; }

TrackerClient TrackerClient::connect(const TrackerAddress& tracker, const net::TlsIdentity& local) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxTrackerMessageBytes);
  args.SetMaxSendMessageSize(kMaxTrackerMessageBytes);
  // The certificate names the peer ID (net/tls.h); the verifier checks the key itself.
  args.SetSslTargetNameOverride(tracker.peer.to_string());
  // After a tracker restart, heartbeats must resume well within the tracker's offline_after
  // (15 s by default), or every consumer loses its slots in the tracker's view. gRPC's default
  // reconnect backoff grows to 120 s; cap it at 1 s (one small TCP dial a second, at most).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = grpc::CreateCustomChannel(tracker.address, net::channel_credentials(local, tracker.peer), args);
  TrackerClient client(tracker);
  client.market_ = pb::Market::NewStub(channel);
  client.producer_ = pb::Producer::NewStub(channel);
  client.consumer_ = pb::Consumer::NewStub(channel);
  return client;
}

Result<std::vector<exchange::PeerClient>> holder_clients(const TrackerClient& tracker, const std::string& file_id,
                                                         const net::TlsIdentity& local, std::chrono::milliseconds timeout) {
  pb::CheckHoldersRequest request;
  request.set_file_id(file_id);
  pb::CheckHoldersReply reply;
  auto context = call_context(timeout);
  const grpc::Status status = tracker.market().CheckHolders(context.get(), request, &reply);
  if (!status.ok()) return std::unexpected(call_error("asking the tracker who holds " + file_id, status));
  std::vector<exchange::PeerClient> peers;
  std::set<std::string> seen;
  for (const pb::SlotHolder& holder : reply.holders()) {
    if (!holder.stored() || holder.consumer().addresses().empty()) continue;
    if (!seen.insert(holder.consumer().peer_id()).second) continue;
    auto peer = net::PeerId::parse(holder.consumer().peer_id());
    if (!peer) continue;
    peers.push_back(exchange::PeerClient::connect(*peer, holder.consumer().addresses(0), local));
  }
  if (peers.empty()) return fail(Errc::unrecoverable, "no consumer holds a slot of ", file_id, " yet");
  return peers;
}

std::unique_ptr<grpc::ClientContext> call_context(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

Error call_error(std::string_view what, const grpc::Status& status) {
  Errc code = Errc::io;
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      code = Errc::invalid_argument;
      break;
    case grpc::StatusCode::NOT_FOUND:
      code = Errc::not_found;
      break;
    case grpc::StatusCode::ALREADY_EXISTS:
      code = Errc::already_exists;
      break;
    default:
      break;
  }
  std::string message = std::string(what) + ": " + status.error_message();
  if (code == Errc::io) message += " (tracker unreachable or failing)";
  return Error{code, std::move(message)};
}

grpc::Status to_status(const Error& error) {
  switch (error.code) {
    case Errc::invalid_argument:
    case Errc::corrupt:
    case Errc::out_of_range:
      return {grpc::StatusCode::INVALID_ARGUMENT, error.message};
    case Errc::not_found:
      return {grpc::StatusCode::NOT_FOUND, error.message};
    case Errc::already_exists:
      return {grpc::StatusCode::ALREADY_EXISTS, error.message};
    case Errc::quota_exceeded:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, error.message};
    default:
      return {grpc::StatusCode::INTERNAL, error.message};
  }
}

}  // namespace ob::tracker
