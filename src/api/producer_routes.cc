#include "api/producer_routes.h"

#include <chrono>
#include <limits>

#include "api/http.h"
#include "api/market_replies.h"
#include "core/units.h"
#include "node/producer/producer.h"

namespace ob::api {
namespace {

using nlohmann::json;

JsonReply message(int status, std::string text) { return {status, json{{"msg", std::move(text)}}}; }

/// An error as a reply: seed 000 answers unknown files with 400, so not_found is 400 here.
JsonReply error_reply(const Error& error) {
  return message(error.code == Errc::not_found ? 400 : http_status(error.code), error.message);
}

/// The body as an object; a missing body is an empty object.
std::optional<json> object_body(const json& body) {
  if (body.is_null()) return json::object();
  if (!body.is_object()) return std::nullopt;
  return body;
}

/// Reads an optional whole number field from `min` to `max` (a JSON integer, or a float with no
/// fraction) into `out` (nullopt when absent or null). False when present but not such a number.
bool count_field(const json& body, const char* key, std::uint32_t min, std::uint32_t max,
                 std::optional<std::uint32_t>& out) {
  out.reset();
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  double value = 0;
  if (it->is_number_integer()) {
    value = it->is_number_unsigned() ? static_cast<double>(it->get<std::uint64_t>()) : static_cast<double>(it->get<std::int64_t>());
  } else if (it->is_number_float()) {
    value = it->get<double>();
    if (!(value >= -1e18 && value <= 1e18) || value != static_cast<double>(static_cast<std::int64_t>(value))) return false;
  } else {
    return false;
  }
  if (value < min || value > max) return false;
  out = static_cast<std::uint32_t>(value);
  return true;
}

/// Reads an optional string field into `out` (nullopt when absent or null). False when present
/// but not a string.
bool string_field(const json& body, const char* key, std::optional<std::string>& out) {
  out.reset();
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

/// Reads a required, non-empty string field into `out`. False when absent or not that.
bool required_string(const json& body, const char* key, std::string& out) {
  std::optional<std::string> value;
  if (!string_field(body, key, value) || !value || value->empty()) return false;
  out = std::move(*value);
  return true;
}

constexpr std::uint32_t kMaxSlots = 255;

JsonReply start(producer::Producer& p) {
  auto started = p.start();
  if (!started) return error_reply(started.error());
  return message(200, *started ? "Producer started" : "Producer had already started");
}

JsonReply stop(producer::Producer& p) {
  auto stopped = p.stop();
  if (!stopped) return error_reply(stopped.error());
  return message(200, *stopped ? "Producer stopped" : "Producer had already stopped");
}

JsonReply upload(producer::Producer& p, const json& raw) {
  const auto body = object_body(raw);
  if (!body) return message(400, "the request body must be a JSON object");
  std::string path;
  if (!required_string(*body, "path", path)) return message(400, "Invalid path");
  producer::UploadOptions options;
  if (!count_field(*body, "availability", 1, kMaxSlots, options.availability)) return message(400, "Invalid availability");
  if (!count_field(*body, "k", 1, kMaxSlots, options.k)) return message(400, "Invalid k");
  if (!count_field(*body, "m", 0, kMaxSlots - 1, options.m)) return message(400, "Invalid m");
  std::optional<std::string> tier;
  if (!string_field(*body, "tier", tier)) return message(400, "Invalid tier");
  if (tier) options.tier = *tier;
  // Paid tiers: the storage request's terms and the paying account (docs/market.md).
  std::optional<std::string> duration, price, account, passphrase;
  if (!string_field(*body, "duration", duration)) return message(400, "Invalid duration");
  if (!string_field(*body, "price", price)) return message(400, "Invalid price");
  if (!string_field(*body, "account", account)) return message(400, "Invalid account");
  if (!string_field(*body, "passphrase", passphrase)) return message(400, "Invalid passphrase");
  if (duration) {
    auto seconds = producer::parse_duration(*duration);
    if (!seconds) return message(400, seconds.error().message);
    options.duration = *seconds;
  }
  options.price = price;
  options.account = account.value_or("");
  options.passphrase = passphrase.value_or("");
  auto id = p.upload(path, options);
  if (!id) return error_reply(id.error());
  return {200, json{{"msg", "File " + path + " is uploading"}, {"id", *id}}};
}

/// How far an upload has come, for `producer upload` to follow (docs/api.md "Producer").
struct UploadProgress {
  std::uint64_t slots_wanted = 0;  ///< proven slots that make the file UPLOADED: k + availability - 1
  std::uint64_t bytes_placed = 0;  ///< plaintext bytes the proven slots carry, ceil(size / k) each
  std::uint64_t bytes_wanted = 0;  ///< the same for slots_wanted
};

/// All 0 for a file not registered yet (k unknown).
UploadProgress upload_progress(const producer::RemoteFile& f) {
  if (f.k == 0 || f.availability == 0) return {};
  const std::uint64_t slot_bytes = f.size / f.k + (f.size % f.k != 0 ? 1 : 0);
  const std::uint64_t wanted = std::uint64_t{f.k} + f.availability - 1;
  return {wanted, slot_bytes * f.slots_stored, slot_bytes * wanted};
}

/// A paid file's slots' host accounts, null for a slot without one; null when unknown.
json consumers_json(const std::vector<std::string>& hosts) {
  if (hosts.empty()) return nullptr;
  json out = json::array();
  for (const std::string& h : hosts) out.push_back(h.empty() ? json() : json(h));
  return out;
}

JsonReply list(producer::Producer& p) {
  auto files = p.list();
  if (!files) return error_reply(files.error());
  json rows = json::array();
  for (const producer::RemoteFile& f : *files) {
    const UploadProgress progress = upload_progress(f);
    rows.push_back({{"id", f.id},
                    {"path", f.path},
                    {"size", format_size(f.size)},
                    {"bytes", f.size},
                    {"status", f.status},
                    {"actualAvailability", f.actual_availability},
                    {"availability", f.availability},
                    {"hash", f.hash},
                    {"slotsStored", f.slots_stored},
                    {"slotsWanted", progress.slots_wanted},
                    {"bytesPlaced", progress.bytes_placed},
                    {"bytesWanted", progress.bytes_wanted},
                    {"tier", f.tier},
                    {"requestId", f.request_id.empty() ? json() : json(f.request_id)},
                    {"requestState", f.request_state.empty() ? json() : json(f.request_state)},
                    {"escrowLeftWei", f.escrow_left.empty() ? json() : json(f.escrow_left)},
                    {"consumers", consumers_json(f.slot_hosts)},
                    {"error", f.error}});
  }
  return {200, std::move(rows)};
}

JsonReply downloads(producer::Producer& p) {
  json rows = json::array();
  for (const producer::DownloadProgress& d : p.downloads()) {
    rows.push_back({{"fileId", d.file_id},
                    {"path", d.path},
                    {"destination", d.destination.string()},
                    {"size", d.size},
                    {"bytes", d.bytes}});
  }
  return {200, std::move(rows)};
}

JsonReply list_local(producer::Producer& p) {
  json rows = json::array();
  for (const producer::LocalFile& f : p.list_local()) {
    rows.push_back({{"id", f.file_id},
                    {"path", f.path},
                    {"size", format_size(f.size)},
                    {"status", producer::status_name(f.status)},
                    {"hash", f.md5},
                    {"error", f.error}});
  }
  return {200, std::move(rows)};
}

/// {"fileId"} or {path_key}: the ID wins (seed 000). nullopt when neither is a usable string.
std::optional<producer::FileRef> file_ref(const json& body, const char* path_key) {
  std::string value;
  if (required_string(body, "fileId", value)) return producer::FileRef{value, ""};
  if (required_string(body, path_key, value)) return producer::FileRef{"", value};
  return std::nullopt;
}

JsonReply download(producer::Producer& p, const json& raw) {
  const auto body = object_body(raw);
  if (!body) return message(400, "the request body must be a JSON object");
  const auto ref = file_ref(*body, "path");
  if (!ref) return message(400, "Invalid fileId or path: one of them is required, as a string");
  std::string destination;
  if (!required_string(*body, "destination", destination)) return message(400, "Invalid destination");
  const auto wait = body->find("wait");
  if (wait != body->end() && !wait->is_boolean()) return message(400, "Invalid wait: true or false");
  const bool synchronous = wait != body->end() && wait->get<bool>();
  auto ok = p.download(*ref, destination, synchronous);
  if (!ok) return error_reply(ok.error());
  return message(200, "Downloading file `" + ref->label() + "` to `" + destination + "`");
}

/// POST /v1/producer/files/share {"fileId" | "path", "expires": "7d" (optional)}: a share link.
JsonReply share(producer::Producer& p, const json& raw) {
  const auto body = object_body(raw);
  if (!body) return message(400, "the request body must be a JSON object");
  const auto ref = file_ref(*body, "path");
  if (!ref) return message(400, "Invalid fileId or path: one of them is required, as a string");
  std::optional<std::string> expires;
  if (!string_field(*body, "expires", expires)) return message(400, "Invalid expires: a duration such as \"7d\"");
  std::uint64_t expires_at = 0;
  if (expires) {
    auto seconds = producer::parse_duration(*expires);
    if (!seconds) return message(400, "Invalid expires: '" + *expires + "' (e.g. 7d, 12h, 90m, 3600s)");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    expires_at = static_cast<std::uint64_t>(now.count()) + *seconds;
  }
  auto token = p.share(*ref, expires_at);
  if (!token) return error_reply(token.error());
  json reply = message(200, "Share link for file `" + ref->label() + "`").body;
  reply["fileId"] = token->file.to_string();
  reply["token"] = encode_share_token(*token);
  reply["expiresAt"] = expires_at == 0 ? json() : json(expires_at);
  return {200, std::move(reply)};
}

JsonReply remove(producer::Producer& p, const json& raw) {
  const auto body = object_body(raw);
  if (!body) return message(400, "the request body must be a JSON object");
  const auto ref = file_ref(*body, "remotePath");
  if (!ref) return message(400, "Invalid fileId or remotePath: one of them is required, as a string");
  // A paid file's running storage request is cancelled from this account (docs/market.md).
  std::optional<std::string> account, passphrase;
  if (!string_field(*body, "account", account)) return message(400, "Invalid account");
  if (!string_field(*body, "passphrase", passphrase)) return message(400, "Invalid passphrase");
  producer::RemoveOptions options{account.value_or(""), passphrase.value_or("")};
  auto ok = p.remove(*ref, options);
  if (!ok) return error_reply(ok.error());
  return message(200, "File `" + ref->label() + "` removed");
}

JsonReply withdraw(producer::Producer& p, const json& raw) {
  const auto body = object_body(raw);
  if (!body) return message(400, "the request body must be a JSON object");
  std::optional<std::string> account, passphrase;
  if (!string_field(*body, "account", account)) return message(400, "Invalid account");
  if (!string_field(*body, "passphrase", passphrase)) return message(400, "Invalid passphrase");
  auto paid = p.withdraw(account.value_or(""), passphrase.value_or(""));
  if (!paid) return error_reply(paid.error());
  return {200, withdrawal_json(*paid)};
}

JsonReply edit(producer::Producer& p, const json& raw) {
  const auto body = object_body(raw);
  if (!body) return message(400, "the request body must be a JSON object");
  std::string id;
  if (!required_string(*body, "fileId", id)) return message(400, "Invalid fileId");
  std::optional<std::string> path;
  if (!string_field(*body, "path", path)) return message(400, "Invalid path");
  std::optional<std::uint32_t> availability;
  if (!count_field(*body, "availability", 1, std::numeric_limits<std::uint32_t>::max(), availability)) {
    return message(400, "Invalid availability");
  }
  auto ok = p.edit(id, path, availability);
  if (!ok) return error_reply(ok.error());
  return message(200, "File's metadata has changed");
}

JsonReply configs(producer::Producer& p, const json& raw) {
  const auto body = object_body(raw);
  if (!body) return message(400, "the request body must be a JSON object");
  producer::ConfigChange change;
  if (!string_field(*body, "directory", change.directory) || (change.directory && change.directory->empty())) {
    return message(400, "Invalid directory");
  }
  if (!count_field(*body, "defaultAvailability", 1, kMaxSlots, change.default_availability)) {
    return message(400, "Invalid defaultAvailability");
  }
  if (const auto it = body->find("startOnStartup"); it != body->end() && !it->is_null()) {
    if (!it->is_boolean()) return message(400, "Invalid startOnStartup");
    change.start_on_startup = it->get<bool>();
  }
  auto ok = p.configure(change);
  if (!ok) return error_reply(ok.error());
  return message(200, "Producer configs applied");
}

}  // namespace

std::vector<JsonRoute> producer_routes(producer::Producer& producer) {
  producer::Producer* p = &producer;
  return {
      {"POST", "/v1/producer/start", [p](const json&) { return start(*p); }},
      {"POST", "/v1/producer/stop", [p](const json&) { return stop(*p); }},
      {"POST", "/v1/producer/files/upload", [p](const json& body) { return upload(*p, body); }},
      {"GET", "/v1/producer/files", [p](const json&) { return list(*p); }},
      {"GET", "/v1/producer/files/local", [p](const json&) { return list_local(*p); }},
      {"GET", "/v1/producer/files/downloads", [p](const json&) { return downloads(*p); }},
      {"POST", "/v1/producer/files/download", [p](const json& body) { return download(*p, body); }},
      {"POST", "/v1/producer/files/share", [p](const json& body) { return share(*p, body); }},
      {"POST", "/v1/producer/files/remove", [p](const json& body) { return remove(*p, body); }},
      {"POST", "/v1/producer/edit", [p](const json& body) { return edit(*p, body); }},
      {"POST", "/v1/producer/withdraw", [p](const json& body) { return withdraw(*p, body); }},
      {"POST", "/v1/producer/configs", [p](const json& body) { return configs(*p, body); }},
  };
}

}  // namespace ob::api
