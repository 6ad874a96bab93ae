#include "chain/json_rpc.h"

#include <httplib.h>

namespace ob::chain {

struct JsonRpcClient::Impl {
  std::string url;
  std::string path;
  RpcOptions options;
  std::unique_ptr<httplib::Client> client;
  std::uint64_t next_id = 1;
};

Result<JsonRpcClient> JsonRpcClient::create(std::string_view url, RpcOptions options) {
  const auto bad = [&] {
    return fail(Errc::invalid_argument, "'", url.substr(0, 200), "' is not an Ethereum node URL (http://host:port or https://...)");
  };
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad();
  const std::string_view scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return bad();
  const std::size_t host_start = scheme_end + 3;
  const std::size_t path_start = std::min(url.find('/', host_start), url.size());
  const std::string_view authority = url.substr(host_start, path_start - host_start);
  if (authority.empty() || authority.find_first_of("@ ?#") != std::string_view::npos || url.size() > 2048) return bad();
  auto impl = std::make_unique<Impl>();
  impl->url = std::string(url);
  impl->path = path_start < url.size() ? std::string(url.substr(path_start)) : "/";
  impl->options = options;
  impl->client = std::make_unique<httplib::Client>(std::string(url.substr(0, path_start)));
  if (!impl->client->is_valid()) return bad();
  impl->client->set_connection_timeout(options.connect_timeout);
  impl->client->set_read_timeout(options.timeout);
  impl->client->set_write_timeout(options.timeout);
  impl->client->set_keep_alive(true);
  return JsonRpcClient(std::move(impl));
}

JsonRpcClient::JsonRpcClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonRpcClient::~JsonRpcClient() = default;
JsonRpcClient::JsonRpcClient(JsonRpcClient&&) noexcept = default;
JsonRpcClient& JsonRpcClient::operator=(JsonRpcClient&&) noexcept = default;

const std::string& JsonRpcClient::url() const noexcept { return impl_->url; }

Result<nlohmann::json> JsonRpcClient::call(std::string_view method, nlohmann::json params,
                                           nlohmann::json* error_data) {
  const std::uint64_t id = impl_->next_id++;
  httplib::Request request;
  request.method = "POST";
  request.path = impl_->path;
  request.body = nlohmann::json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}.dump();
  request.set_header("Content-Type", "application/json");
  request.set_header("Accept", "application/json");
  std::string body;
  bool too_large = false;
  request.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
    if (body.size() + size > impl_->options.max_reply_bytes) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  const bool sent = impl_->client->send(request, response, error);
  if (too_large) {
    return fail(Errc::corrupt, "the Ethereum node at ", impl_->url, " sent a reply to ", method, " larger than ",
                impl_->options.max_reply_bytes, " bytes");
  }
  if (!sent) {
    return fail(Errc::io, "cannot reach the Ethereum node at ", impl_->url, ": ", httplib::to_string(error));
  }
  if (response.status != 200) {
    return fail(Errc::io, "the Ethereum node at ", impl_->url, " answered ", method, " with HTTP ", response.status);
  }
  const nlohmann::json reply = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  const auto not_rpc = [&] {
    return fail(Errc::corrupt, "the Ethereum node at ", impl_->url, " sent a reply to ", method, " that is not JSON-RPC");
  };
  if (reply.is_discarded() || !reply.is_object()) return not_rpc();
  if (const auto err = reply.find("error"); err != reply.end() && !err->is_null()) {
    std::string message = "(no message)";
    long long code = 0;
    if (err->is_object()) {
      if (const auto m = err->find("message"); m != err->end() && m->is_string()) message = m->get<std::string>().substr(0, 300);
      if (const auto c = err->find("code"); c != err->end() && c->is_number_integer()) code = c->get<long long>();
      if (const auto d = err->find("data"); d != err->end() && error_data != nullptr) *error_data = *d;
    }
    return fail(Errc::invalid_argument, "the Ethereum node refused ", method, ": ", message, " (code ", code, ")");
  }
  const auto result = reply.find("result");
  const auto reply_id = reply.find("id");
  if (result == reply.end() || reply_id == reply.end() || *reply_id != id) return not_rpc();
  return *result;
}

}  // namespace ob::chain
