#include "tracker/market_placer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "coding/merkle.h"
#include "core/cid.h"
#include "wallet/uint256.h"

namespace ob::tracker {

namespace {

Result<wallet::U256> parse_request_id(const std::string& text) {
  auto id = wallet::U256::from_decimal(text);
  if (!id || id->is_zero()) return fail(Errc::invalid_argument, "not a storage request ID: '", text, "'");
  return *id;
}

}  // namespace

MarketPlacer::MarketPlacer(market::MarketClient client, wallet::PrivateKey key)
    : client_(std::move(client)),
      key_(std::move(key)),
      chain_id_(client_.chain().chain_id()),
      market_address_(client_.address()) {}

wallet::Address MarketPlacer::placer() const { return key_.address(); }

Result<CheckedRequest> MarketPlacer::check_request(const std::string& request_id, const Manifest& manifest,
                                                   ByteView encoded) {
  OB_TRY(const wallet::U256 id, parse_request_id(request_id));
  OB_TRY(const merkle::Hash root, merkle::dataset_root(manifest.slot_roots));
  const Bytes cid = Manifest::cid_of(encoded).to_bytes();
  OB_TRY(const market::Request request, chain([&](market::MarketClient& c) { return c.get_request(id); }));
  OB_TRY(const market::RequestState state, chain([&](market::MarketClient& c) { return c.request_state(id); }));
  const auto refuse = [&](auto&&... why) {
    return fail(Errc::invalid_argument, "storage request ", request_id, " ", why...);
  };
  if (request.manifest_cid != cid) return refuse("is for another file");
  if (request.dataset_root != root) return refuse("names another dataset root than the manifest's");
  const std::uint32_t n = manifest.params.k + manifest.params.m;
  if (request.n != n || request.k != manifest.params.k) {
    return refuse("has n ", int{request.n}, ", k ", int{request.k}, "; the manifest has n ", n, ", k ",
                  manifest.params.k);
  }
  if (request.block_size != manifest.params.block_size ||
      request.slot_size != manifest.stripe_count() * std::uint64_t{manifest.params.block_size}) {
    return refuse("has another block or slot size than the manifest's");
  }
  if (request.placer != key_.address()) {
    return refuse("names placer ", request.placer.to_checksum(), ", not this tracker (",
                  key_.address().to_checksum(), ")");
  }
  if (state != market::RequestState::New) return refuse("is ", market::to_string(state), ", not New");
  CheckedRequest checked{request_id, std::numeric_limits<std::int64_t>::max()};
  if (const auto price = request.price_per_byte_second.to_u64(); price && *price < std::uint64_t(checked.price)) {
    checked.price = static_cast<std::int64_t>(*price);
  }
  return checked;
}

void MarketPlacer::refresh() {
  // Caller holds cache_mutex_.
  const auto now = std::chrono::steady_clock::now();
  if (next_block_ && now - refreshed_ < kRefreshInterval) return;
  refreshed_ = now;
  auto latest = chain([](market::MarketClient& c) { return c.block_number(); });
  if (!latest) {
    spdlog::warn("market: cannot read the chain's block number: {}", latest.error().message);
    return;
  }
  if (!next_block_) {
    next_block_ = *latest + 1;  // nothing cached yet: everything is read afresh from here on
    return;
  }
  if (*latest < *next_block_) return;
  auto events = chain([&](market::MarketClient& c) { return c.events(*next_block_, std::nullopt, *latest); });
  if (!events) {
    // Events missed cannot be told apart from none: forget what was read, read it again.
    spdlog::warn("market: cannot read the market's events: {}; reading slots afresh", events.error().message);
    slots_.clear();
    next_block_ = *latest + 1;
    return;
  }
  for (const market::Event& event : *events) {
    const auto request = event.fields.find("requestId");
    if (request == event.fields.end()) continue;
    auto id = request->second.as_uint();
    if (!id) continue;
    const std::string request_id = id->to_decimal();
    if (event.name == "RequestEnded") {
      std::erase_if(slots_, [&](const auto& entry) { return entry.first.first == request_id; });
    } else if (event.name == "SlotFilled" || event.name == "SlotFreed" || event.name == "SlotPaid") {
      const auto index = event.fields.find("slotIndex");
      if (index == event.fields.end()) continue;
      if (auto slot = index->second.as_u64()) slots_.erase({request_id, static_cast<std::uint32_t>(*slot)});
    }
  }
  next_block_ = *latest + 1;
}

Result<market::Slot> MarketPlacer::slot(const wallet::U256& id, const std::string& request_id, std::uint32_t index) {
  std::lock_guard lock(cache_mutex_);
  refresh();
  if (const auto it = slots_.find({request_id, index}); it != slots_.end()) return it->second;
  OB_TRY(const market::Slot read, chain([&](market::MarketClient& c) { return c.get_slot(id, index); }));
  // Without a block watched (the number could not be read), nothing would outdate the entry.
  if (next_block_) slots_.insert_or_assign({request_id, index}, read);
  return read;
}

Result<Bytes> MarketPlacer::fill_permit(const std::string& request_id, std::uint32_t slot, const std::string& host) {
  OB_TRY(const wallet::U256 id, parse_request_id(request_id));
  OB_TRY(const wallet::Address address, wallet::Address::parse(host));
  OB_TRY(const market::Slot current, this->slot(id, request_id, slot));
  if (current.state == market::SlotState::Paid ||
      (current.state == market::SlotState::Filled && current.host != address)) {
    return fail(Errc::not_found, "not yet: slot ", slot, " of storage request ", request_id, " is ",
                market::to_string(current.state), " on chain (host ", current.host.to_checksum(), ")");
  }
  const wallet::Hash32 digest =
      market::fill_permit_digest(chain_id_, market_address_, id, slot, address, current.round);
  return market::sign_fill_permit(key_, digest);
}

Result<std::optional<wallet::Address>> MarketPlacer::host_now(const std::string& request_id, std::uint32_t slot) {
  OB_TRY(const wallet::U256 id, parse_request_id(request_id));
  std::lock_guard lock(cache_mutex_);
  OB_TRY(const market::Slot read, chain([&](market::MarketClient& c) { return c.get_slot(id, slot); }));
  if (next_block_) slots_.insert_or_assign({request_id, slot}, read);
  if (read.state != market::SlotState::Filled) return std::optional<wallet::Address>();
  return std::optional<wallet::Address>(read.host);
}

Result<chain::Receipt> MarketPlacer::confirm_download(const std::string& request_id) {
  OB_TRY(const wallet::U256 id, parse_request_id(request_id));
  return chain([&](market::MarketClient& c) { return c.confirm_download(key_, id); });
}

std::uint32_t MarketPlacer::mark_missed_proofs(const std::vector<std::string>& request_ids) {
  std::lock_guard pass(validator_mutex_);
  if (!params_) {
    auto params = chain([](market::MarketClient& c) { return c.params(); });
    if (!params) {
      spdlog::warn("validator: cannot read the market's parameters: {}", params.error().message);
      return 0;
    }
    params_ = *params;
  }
  {
    std::lock_guard lock(cache_mutex_);
    refresh();
  }
  auto period = chain([](market::MarketClient& c) { return c.current_period(); });
  if (!period) {
    spdlog::warn("validator: cannot read the current period: {}", period.error().message);
    return 0;
  }
  // Periods that ended and may still be marked: with timeout <= period, only the last one;
  // one more for a pass that came late.
  const std::uint64_t lookback = 1 + (params_->proof_timeout + params_->proof_period - 1) / params_->proof_period;
  std::uint32_t marked = 0;
  for (const std::string& request_id : request_ids) {
    auto id = parse_request_id(request_id);
    if (!id) continue;
    // Marks are only due for periods that ended: nothing to do twice within one period.
    if (const auto it = looked_at_.find(request_id); it != looked_at_.end() && it->second == *period) continue;
    auto count = slot_count_.find(request_id);
    if (count == slot_count_.end()) {
      auto request = chain([&](market::MarketClient& c) { return c.get_request(*id); });
      if (!request) {
        spdlog::warn("validator: storage request {}: {}", request_id, request.error().message);
        continue;
      }
      count = slot_count_.emplace(request_id, request->n).first;
    }
    auto state = chain([&](market::MarketClient& c) { return c.request_state(*id); });
    if (!state) {
      spdlog::warn("validator: storage request {}: {}", request_id, state.error().message);
      continue;
    }
    looked_at_[request_id] = *period;
    if (*state != market::RequestState::New && *state != market::RequestState::Started) continue;
    for (std::uint32_t index = 0; index < count->second; ++index) {
      auto held = slot(*id, request_id, index);
      if (!held || held->state != market::SlotState::Filled) continue;
      std::uint64_t& next = next_period_[{request_id, index}];
      // The fill's proof answers the fill's period; a new host starts after its own fill.
      std::uint64_t from = std::max(next, held->filled_period + 1);
      if (*period > lookback) from = std::max(from, *period - lookback);
      for (std::uint64_t p = from; p < *period; ++p) {
        auto challenge = chain([&](market::MarketClient& c) { return c.get_challenge(*id, index, p); });
        auto status = challenge ? chain([&](market::MarketClient& c) { return c.proof_status(*id, index, p); })
                                : Result<std::pair<bool, bool>>(std::unexpected(challenge.error()));
        if (!status) {
          spdlog::debug("validator: request {} slot {} period {}: {}", request_id, index, p, status.error().message);
          continue;
        }
        if (!challenge->required || status->first || status->second) continue;
        auto receipt = chain([&](market::MarketClient& c) { return c.mark_proof_as_missing(key_, *id, index, p); });
        if (receipt) {
          ++marked;
          spdlog::info("validator: marked the proof of request {} slot {} period {} missing (host {})", request_id,
                       index, p, held->host.to_checksum());
        } else {
          spdlog::warn("validator: request {} slot {} period {}: {}", request_id, index, p, receipt.error().message);
        }
      }
      next = std::max(next, *period);
    }
  }
  return marked;
}

}  // namespace ob::tracker
