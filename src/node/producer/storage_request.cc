#include "node/producer/storage_request.h"

#include <array>
#include <charconv>

#include "coding/merkle.h"
#include "wallet/keccak.h"

namespace ob::producer {

namespace {

constexpr std::array<std::string_view, 5> kPhaseNames = {"Unpaid", "Requested", "Started", "Failed", "Cancelled"};

struct Row {
  RequestPhase from;
  RequestPhase to;
};
/// The table of storage_request.h, and nothing else.
constexpr std::array<Row, 6> kTransitions = {{
    {RequestPhase::unpaid, RequestPhase::requested},
    {RequestPhase::requested, RequestPhase::started},
    {RequestPhase::requested, RequestPhase::failed},
    {RequestPhase::started, RequestPhase::failed},
    {RequestPhase::requested, RequestPhase::cancelled},
    {RequestPhase::started, RequestPhase::cancelled},
}};

constexpr std::string_view kNonceTag = "open-bucket storage request";

}  // namespace

std::string_view to_string(RequestPhase phase) noexcept {
  const auto i = static_cast<std::size_t>(phase);
  return i < kPhaseNames.size() ? kPhaseNames[i] : "unknown";
}

std::optional<RequestPhase> phase_from_string(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kPhaseNames.size(); ++i) {
    if (kPhaseNames[i] == name) return static_cast<RequestPhase>(i);
  }
  return std::nullopt;
}

bool allowed(RequestPhase from, RequestPhase to) noexcept {
  for (const Row& row : kTransitions) {
    if (row.from == from && row.to == to) return true;
  }
  return false;
}

RemovalStep removal_step(market::RequestState stored, market::RequestState now) noexcept {
  const auto running = [](market::RequestState s) {
    return s == market::RequestState::New || s == market::RequestState::Started;
  };
  if (running(now)) return RemovalStep::cancel;
  if (running(stored)) return RemovalStep::close;  // over by time, its money not moved yet
  return RemovalStep::none;
}

Result<void> StorageRequest::advance(RequestPhase to) {
  if (!allowed(phase, to)) {
    return fail(Errc::internal, "a storage request cannot go from ", to_string(phase), " to ", to_string(to));
  }
  phase = to;
  return {};
}

nlohmann::json request_to_json(const StorageRequest& request) {
  return {{"state", to_string(request.phase)}, {"requestId", request.request_id}, {"tier", request.tier},
          {"duration", request.duration},      {"price", request.price.to_decimal()}, {"account", request.account},
          {"error", request.error}};
}

Result<StorageRequest> request_from_json(const nlohmann::json& json) {
  const auto bad = [](std::string_view field) { return fail(Errc::corrupt, "storage request: bad ", field); };
  if (!json.is_object()) return bad("object");
  const auto text = [&](const char* key) -> std::optional<std::string> {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  StorageRequest request;
  const auto state = text("state");
  const auto phase = state ? phase_from_string(*state) : std::nullopt;
  if (!phase) return bad("state");
  request.phase = *phase;
  const auto id = text("requestId");
  const auto tier = text("tier");
  const auto price = text("price");
  const auto account = text("account");
  const auto error = text("error");
  if (!id || !tier || !price || !account || !error) return bad("text field");
  const auto duration = json.find("duration");
  if (duration == json.end() || !duration->is_number_unsigned()) return bad("duration");
  const auto wei = wallet::U256::from_decimal(*price);
  if (!wei) return bad("price");
  request.request_id = *id;
  request.tier = *tier;
  request.duration = duration->get<std::uint64_t>();
  request.price = *wei;
  request.account = *account;
  request.error = *error;
  return request;
}

wallet::Hash32 request_nonce(ByteView file_cid) { return wallet::keccak256(as_bytes(kNonceTag), file_cid); }

Result<market::StorageAsk> make_ask(const Manifest& manifest, ByteView file_cid, const StorageRequest& request,
                                    const wallet::Address& placer) {
  if (request.duration < 2 || request.duration >= (std::uint64_t{1} << 40)) {
    return fail(Errc::invalid_argument, "Invalid duration: ", request.duration, " s (2 s up to 2^40 s)");
  }
  const wallet::U256 max_price = *wallet::U256(std::uint64_t{1} << 48).checked_mul(std::uint64_t{1} << 48);  // 2^96
  if (request.price.is_zero() || request.price >= max_price) {
    return fail(Errc::invalid_argument, "Invalid price: ", request.price.to_decimal(),
                " wei per byte-second (1 up to 2^96 - 1)");
  }
  std::uint16_t probability = 0;
  if (request.tier == "basic") probability = kBasicProofProbability;
  if (request.tier == "premium") probability = kPremiumProofProbability;
  if (probability == 0) return fail(Errc::invalid_argument, "Invalid tier: '", request.tier, "' has no storage request");
  market::StorageAsk ask;
  ask.manifest_cid.assign(file_cid.begin(), file_cid.end());
  OB_TRY(ask.dataset_root, merkle::dataset_root(manifest.slot_roots));
  ask.n = static_cast<std::uint8_t>(manifest.params.k + manifest.params.m);
  ask.k = static_cast<std::uint8_t>(manifest.params.k);
  ask.block_size = manifest.params.block_size;
  ask.slot_size = manifest.stripe_count() * std::uint64_t{manifest.params.block_size};
  ask.duration = request.duration;
  ask.expiry = std::min(kMaxExpirySeconds, request.duration - 1);
  ask.price_per_byte_second = request.price;
  // < 2^96 x 2^17: fits; the contract takes it as uint96, so cap it there.
  const wallet::U256 collateral = *request.price.checked_mul(wallet::U256(kCollateralSeconds));
  ask.collateral_per_byte = collateral < max_price ? collateral : *max_price.checked_sub(wallet::U256(1));
  ask.proof_probability = probability;
  ask.placer = placer;
  return ask;
}

Result<void> open_request(StorageRequest& request, market::MarketClient& market, const wallet::PrivateKey& key,
                          const market::StorageAsk& ask, ByteView file_cid) {
  OB_TRY(const wallet::U256 id, market.request_storage(key, request_nonce(file_cid), ask));
  request.request_id = id.to_decimal();
  request.error.clear();
  return request.advance(RequestPhase::requested);
}

Result<std::uint64_t> parse_duration(std::string_view text) {
  const auto invalid = [&] {
    return fail(Errc::invalid_argument, "Invalid duration: '", text, "' (e.g. 30d, 12h, 90m, 3600s)");
  };
  if (text.empty()) return invalid();
  std::uint64_t unit = 1;
  std::string_view digits = text;
  if (text.back() < '0' || text.back() > '9') {
    switch (text.back()) {
      case 'd': unit = 24 * 3600; break;
      case 'h': unit = 3600; break;
      case 'm': unit = 60; break;
      case 's': unit = 1; break;
      default: return invalid();
    }
    digits.remove_suffix(1);
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value == 0 || digits.empty()) return invalid();
  if (value > (std::uint64_t{1} << 40) / unit) return invalid();
  return value * unit;
}

}  // namespace ob::producer
