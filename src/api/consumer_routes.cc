#include "api/consumer_routes.h"

#include <charconv>
#include <limits>

#include "api/http.h"
#include "api/market_replies.h"
#include "core/units.h"
#include "node/consumer/consumer.h"

namespace ob::api {
namespace {

using nlohmann::json;

JsonReply message(int status, std::string text) { return {status, json{{"msg", std::move(text)}}}; }

/// Seed 000's 400 reply for a field, with why in "detail" when there is more to say.
JsonReply invalid(const std::string& field, const std::string& detail = {}) {
  JsonReply reply = message(400, "Invalid " + field);
  if (!detail.empty()) reply.body["detail"] = detail;
  return reply;
}

JsonReply start(consumer::Consumer& c) {
  auto started = c.start();
  if (!started) return message(http_status(started.error().code), started.error().message);
  return message(200, *started ? "Consumer had already started" : "Consumer started");
}

JsonReply stop(consumer::Consumer& c) {
  return message(200, c.stop() ? "Consumer stopped" : "Consumer had already stopped");
}

JsonReply configs(consumer::Consumer& c, const AccountResolver& resolve_account, const json& body) {
  if (!body.is_null() && !body.is_object()) return message(400, "the request body must be a JSON object");
  const auto field = [&](const char* key) -> const json* {
    if (body.is_null()) return nullptr;
    const auto it = body.find(key);
    return it == body.end() || it->is_null() ? nullptr : &*it;
  };
  consumer::ConsumerChange change;
  if (const json* directory = field("directory")) {
    if (!directory->is_string() || directory->get<std::string>().empty()) return invalid("directory");
    change.directory = directory->get<std::string>();
  }
  if (const json* limit = field("limit")) {
    if (!limit->is_string()) return invalid("limit", "a size such as \"10 GB\"");
    auto bytes = parse_size(limit->get<std::string>());
    if (!bytes) return invalid("limit", bytes.error().message);
    change.limit_bytes = *bytes;
  }
  if (const json* start_on_startup = field("startOnStartup")) {
    if (!start_on_startup->is_boolean()) return invalid("startOnStartup", "true or false");
    change.start_on_startup = start_on_startup->get<bool>();
  }
  if (const json* account = field("account")) {
    if (!account->is_string()) return invalid("account", "the name or address of an account of the wallet");
    if (!resolve_account) return invalid("account", "this daemon has no wallet");
    auto address = resolve_account(account->get<std::string>());
    if (!address) return invalid("account", address.error().message);
    change.account = *address;
  }
  if (const json* price = field("price")) {
    // Wei as a decimal string (a JSON number loses precision past 2^53 in most clients) or an
    // integer; config.toml keeps TOML integers, hence the int64 bound.
    constexpr std::uint64_t kMaxPrice = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    constexpr const char* kPriceHelp = "wei per byte-second: an integer from 0 to 9223372036854775807";
    std::uint64_t wei = 0;
    if (price->is_number_unsigned()) {
      wei = price->get<std::uint64_t>();
    } else if (price->is_number_integer()) {
      const std::int64_t signed_wei = price->get<std::int64_t>();
      if (signed_wei < 0) return invalid("price", kPriceHelp);
      wei = static_cast<std::uint64_t>(signed_wei);
    } else if (price->is_string()) {
      const std::string text = price->get<std::string>();
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), wei);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return invalid("price", kPriceHelp);
    } else {
      return invalid("price", kPriceHelp);
    }
    if (wei > kMaxPrice) return invalid("price", kPriceHelp);
    change.price_wei = wei;
  }
  auto ok = c.configure(change);
  if (!ok) {
    const Error& e = ok.error();
    if (e.code == Errc::invalid_argument || e.code == Errc::already_exists) {
      static constexpr std::string_view kPrefix = "Invalid directory: ";
      return invalid("directory", e.message.starts_with(kPrefix) ? e.message.substr(kPrefix.size()) : e.message);
    }
    return message(http_status(e.code), "Consumer configs not applied: " + e.message);
  }
  return message(200, "Consumer configs applied");
}

JsonReply slots(consumer::Consumer& c) {
  const consumer::ConsumerStatus status = c.status();
  json list = json::array();
  for (const consumer::HeldSlot& slot : status.slots) {
    list.push_back({{"fileId", slot.file.to_string()}, {"slot", slot.slot}, {"bytes", slot.bytes}});
  }
  return {200, json{{"started", status.started},
                    {"registered", status.registered},
                    {"directory", status.directory.string()},
                    {"limit", format_size(status.limit_bytes)},
                    {"limitBytes", status.limit_bytes},
                    {"usedBytes", status.used_bytes},
                    {"account", status.account},
                    {"price", std::to_string(status.price_wei)},
                    {"slots", std::move(list)}}};
}

JsonReply earnings(consumer::Consumer& c) {
  auto found = c.earnings();
  if (!found) return message(http_status(found.error().code), found.error().message);
  json slots = json::array();
  for (const consumer::SlotEarnings& e : found->slots) {
    json row{{"fileId", e.slot.file_id},
             {"slot", e.slot.slot},
             {"requestId", e.slot.request_id},
             {"state", e.error.empty() ? std::string(market::to_string(e.state)) : ""},
             {"accruedPay", e.accrued_pay.to_decimal()},
             {"collateral", e.collateral.to_decimal()}};
    if (!e.error.empty()) row["error"] = e.error;
    slots.push_back(std::move(row));
  }
  return {200, json{{"account", found->account.to_checksum()},
                    {"withdrawable", found->withdrawable.to_decimal()},
                    {"slots", std::move(slots)}}};
}

JsonReply withdraw(consumer::Consumer& c) {
  auto paid = c.withdraw();
  if (!paid) return message(http_status(paid.error().code), paid.error().message);
  return {200, withdrawal_json(*paid)};
}

}  // namespace

std::vector<JsonRoute> consumer_routes(consumer::Consumer& consumer, AccountResolver resolve_account) {
  consumer::Consumer* c = &consumer;
  return {
      {"POST", "/v1/consumer/start", [c](const json&) { return start(*c); }},
      {"POST", "/v1/consumer/stop", [c](const json&) { return stop(*c); }},
      {"POST", "/v1/consumer/configs",
       [c, resolve_account](const json& body) { return configs(*c, resolve_account, body); }},
      {"GET", "/v1/consumer/slots", [c](const json&) { return slots(*c); }},
      {"GET", "/v1/consumer/earnings", [c](const json&) { return earnings(*c); }},
      {"POST", "/v1/consumer/withdraw", [c](const json&) { return withdraw(*c); }},
  };
}

}  // namespace ob::api
