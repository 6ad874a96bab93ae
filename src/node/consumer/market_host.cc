#include "node/consumer/market_host.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "core/cid.h"
#include "store/file_io.h"

namespace ob::consumer {

namespace {

constexpr std::size_t kMaxStateBytes = 16 * 1024 * 1024;
/// Tries of a fill whose period turned between the proof and the block (WrongPeriod).
constexpr int kFillTries = 3;

Result<wallet::U256> parse_request_id(const std::string& text) {
  auto id = wallet::U256::from_decimal(text);
  if (!id || id->is_zero()) return fail(Errc::invalid_argument, "not a storage request ID: '", text, "'");
  return *id;
}

}  // namespace

Result<std::unique_ptr<MarketHost>> MarketHost::open(std::filesystem::path state_file, std::string chain_rpc,
                                                     MarketHostHooks hooks) {
  std::unique_ptr<MarketHost> host(new MarketHost(std::move(state_file), std::move(chain_rpc), std::move(hooks)));
  auto text = fileio::read_file(host->state_file_, kMaxStateBytes);
  if (!text) {
    if (text.error().code == Errc::not_found) return host;
    return std::unexpected(text.error());
  }
  const auto json = nlohmann::json::parse(as_chars(*text), nullptr, /*allow_exceptions=*/false);
  const auto corrupt = [&] { return fail(Errc::corrupt, host->state_file_.string(), " is not a list of filled slots"); };
  if (!json.is_object() || !json.contains("slots") || !json["slots"].is_array()) return corrupt();
  for (const auto& entry : json["slots"]) {
    if (!entry.is_object() || !entry.value("file", nlohmann::json()).is_string() ||
        !entry.value("slot", nlohmann::json()).is_number_unsigned() ||
        !entry.value("requestId", nlohmann::json()).is_string() ||
        !entry.value("release", nlohmann::json(false)).is_boolean()) {
      return corrupt();
    }
    FilledSlot slot{entry["file"].get<std::string>(), entry["slot"].get<std::uint32_t>(),
                    entry["requestId"].get<std::string>(), entry.value("release", false)};
    host->slots_.emplace(std::pair(slot.file_id, slot.slot), std::move(slot));
  }
  return host;
}

MarketHost::~MarketHost() { stop(); }

void MarketHost::set_market(std::optional<MarketAddress> market) {
  std::lock_guard lock(mutex_);
  // A registration follows any change of the consumer's account: unlock it afresh at next use.
  key_changed_ = true;
  const bool same = market_.has_value() == market.has_value() &&
                    (!market || (market_->chain_id == market->chain_id && market_->address == market->address));
  if (same) return;
  market_ = std::move(market);
  market_changed_ = true;
}

Result<market::MarketClient*> MarketHost::client() {
  std::optional<MarketAddress> market;
  {
    std::lock_guard lock(mutex_);
    if (market_changed_) {
      client_.reset();
      market_changed_ = false;
    }
    market = market_;
  }
  if (client_) return &*client_;
  if (!market) return fail(Errc::invalid_argument, "the tracker runs no storage market");
  if (chain_rpc_.empty()) {
    return fail(Errc::invalid_argument, "no Ethereum node configured: set [chain] rpc in config.toml");
  }
  chain::ChainSettings settings;
  settings.rpc = chain_rpc_;
  settings.chain_id = market->chain_id;  // the node must be on the tracker's chain
  settings.receipt_timeout = std::chrono::seconds(60);
  OB_TRY(chain::ChainClient chain, chain::ChainClient::connect(settings));
  OB_TRY(const wallet::Address address, wallet::Address::parse(market->address));
  OB_TRY(market::MarketClient opened, market::MarketClient::open(std::move(chain), address));
  client_.emplace(std::move(opened));
  return &*client_;
}

Result<const wallet::PrivateKey*> MarketHost::key() {
  {
    std::lock_guard lock(mutex_);
    if (key_changed_) key_.reset();
    key_changed_ = false;
  }
  if (!key_) {
    OB_TRY(wallet::PrivateKey unlocked, hooks_.unlock());
    key_.emplace(std::move(unlocked));
  }
  return &*key_;
}

Result<market::ChainProof> MarketHost::proof_for(market::MarketClient& client, const FilledSlot& slot,
                                                 const wallet::U256& id, std::uint64_t period) {
  OB_TRY(const market::Challenge challenge, client.get_challenge(id, slot.slot, period));
  OB_TRY(const market::StorageProof proof, hooks_.prove(slot.file_id, slot.slot, challenge.segment));
  return market::ChainProof{period, proof.data, proof.path()};
}

Result<void> MarketHost::fill(const std::string& file_id, std::uint32_t slot, const std::string& request_id,
                              ByteView permit) {
  OB_TRY(const wallet::U256 id, parse_request_id(request_id));
  OB_TRY(const Cid file, Cid::parse(file_id));
  const FilledSlot wanted{file_id, slot, request_id};
  {
    // Given up here (seed 000's termination): freed on chain first, and only then filled again,
    // in a new round with new collateral; the tracker offers it again after SlotFreed.
    std::lock_guard lock(mutex_);
    const auto it = slots_.find(std::pair(file_id, slot));
    if (it != slots_.end() && it->second.release) {
      return fail(Errc::invalid_argument, "slot ", slot, " of storage request ", it->second.request_id,
                  " was given up here and is being freed on chain; it can be filled again once freed");
    }
  }
  std::lock_guard chain_lock(chain_mutex_);
  OB_TRY(market::MarketClient* market, client());
  OB_TRY(const wallet::PrivateKey* account, key());
  OB_TRY(const market::Request request, market->get_request(id));
  if (request.manifest_cid != file.to_bytes()) {
    return fail(Errc::invalid_argument, "storage request ", request_id, " is for another file than ", file_id);
  }
  OB_TRY(const market::Slot current, market->get_slot(id, slot));
  if (current.state == market::SlotState::Filled && current.host == account->address()) {
    spdlog::info("consumer: slot {} of request {} is already filled by {}", slot, request_id,
                 account->address().to_checksum());
  } else {
    // < 2^64 x 2^96: the product never overflows.
    const wallet::U256 collateral = *wallet::U256(request.slot_size).checked_mul(request.collateral_per_byte);
    Result<chain::Receipt> filled = fail(Errc::internal, "not tried");
    for (int attempt = 0; attempt < kFillTries; ++attempt) {
      OB_TRY(const std::uint64_t period, market->pending_period());  // the fill's block's
      OB_TRY(const market::ChainProof proof, proof_for(*market, wanted, id, period));
      filled = market->fill_slot(*account, id, slot, permit, proof, collateral);
      // The period turned between the proof and the block: prove the new one.
      if (filled || filled.error().message.find("WrongPeriod") == std::string::npos) break;
    }
    if (!filled) return std::unexpected(filled.error());
    spdlog::info("consumer: filled slot {} of storage request {} ({} wei collateral, gas {})", slot, request_id,
                 collateral.to_decimal(), filled->gas_used);
  }
  std::lock_guard lock(mutex_);
  slots_.insert_or_assign(std::pair(file_id, slot), wanted);
  return persist_locked();
}

bool MarketHost::filled(const std::string& file_id, std::uint32_t slot) const {
  std::lock_guard lock(mutex_);
  const auto it = slots_.find(std::pair(file_id, slot));
  return it != slots_.end() && !it->second.release;
}

std::vector<FilledSlot> MarketHost::slots() const {
  std::lock_guard lock(mutex_);
  std::vector<FilledSlot> out;
  for (const auto& entry : slots_) out.push_back(entry.second);
  return out;
}

void MarketHost::forget(const std::string& file_id, std::uint32_t slot) {
  {
    std::lock_guard lock(mutex_);
    const auto it = slots_.find(std::pair(file_id, slot));
    // The tracker's DELETE of a slot given up here comes before its freeSlot: that stays due.
    if (it == slots_.end() || it->second.release) return;
  }
  drop(file_id, slot);
}

void MarketHost::drop(const std::string& file_id, std::uint32_t slot) {
  std::lock_guard lock(mutex_);
  if (slots_.erase(std::pair(file_id, slot)) == 0) return;
  proven_until_.erase(std::pair(file_id, slot));
  if (auto saved = persist_locked(); !saved) spdlog::error("consumer: {}", saved.error().message);
}

Result<Earnings> MarketHost::earnings() {
  const std::vector<FilledSlot> slots = this->slots();
  std::lock_guard chain_lock(chain_mutex_);
  OB_TRY(market::MarketClient* market, client());
  OB_TRY(const wallet::PrivateKey* account, key());
  Earnings out;
  out.account = account->address();
  OB_TRY(out.withdrawable, market->withdrawable(out.account));
  for (const FilledSlot& slot : slots) {
    SlotEarnings row{slot, market::SlotState::Free, {}, {}, ""};
    auto id = parse_request_id(slot.request_id);
    auto held = id ? market->get_slot(*id, slot.slot) : Result<market::Slot>(std::unexpected(id.error()));
    auto accrued = held ? market->accrued_pay(*id, slot.slot) : Result<wallet::U256>(std::unexpected(held.error()));
    if (accrued) {
      row.state = held->state;
      row.collateral = held->collateral;
      row.accrued_pay = *accrued;
    } else {
      row.error = accrued.error().message;
    }
    out.slots.push_back(std::move(row));
  }
  return out;
}

Result<market::Withdrawal> MarketHost::withdraw() {
  std::lock_guard chain_lock(chain_mutex_);
  OB_TRY(market::MarketClient* market, client());
  OB_TRY(const wallet::PrivateKey* account, key());
  auto paid = market::withdraw_balance(*market, *account);
  if (paid) spdlog::info("consumer: {} (gas {})", paid->summary(), paid->receipt.gas_used);
  return paid;
}

void MarketHost::release(const std::string& file_id, std::uint32_t slot) {
  std::lock_guard lock(mutex_);
  const auto it = slots_.find(std::pair(file_id, slot));
  if (it == slots_.end() || it->second.release) return;
  it->second.release = true;
  spdlog::info("consumer: slot {} of storage request {} is given up; freeing it on chain", slot,
               it->second.request_id);
  if (auto saved = persist_locked(); !saved) spdlog::error("consumer: {}", saved.error().message);
}

void MarketHost::free_released(market::MarketClient& market, const wallet::PrivateKey& account,
                               const std::vector<FilledSlot>& slots) {
  for (const FilledSlot& slot : slots) {
    if (!slot.release) continue;
    auto id = parse_request_id(slot.request_id);
    if (!id) {
      drop(slot.file_id, slot.slot);
      continue;
    }
    auto held = market.get_slot(*id, slot.slot);
    auto state = held ? market.request_state(*id) : Result<market::RequestState>(std::unexpected(held.error()));
    if (!state) {
      spdlog::warn("consumer: cannot free slot {} of request {} yet: {}", slot.slot, slot.request_id,
                   state.error().message);
      continue;
    }
    const bool running = *state == market::RequestState::New || *state == market::RequestState::Started;
    if (running && held->state == market::SlotState::Filled && held->host == account.address()) {
      auto freed = market.free_slot(account, *id, slot.slot);
      if (!freed) {  // tried again next pass
        spdlog::warn("consumer: freeSlot of slot {} of request {}: {}", slot.slot, slot.request_id,
                     freed.error().message);
        continue;
      }
      spdlog::info("consumer: freed slot {} of storage request {} on chain (gas {})", slot.slot, slot.request_id,
                   freed->gas_used);
    }
    drop(slot.file_id, slot.slot);
  }
}

std::uint32_t MarketHost::prove_once() {
  std::vector<FilledSlot> slots = this->slots();
  if (slots.empty()) return 0;
  std::lock_guard chain_lock(chain_mutex_);
  auto market = client();
  if (!market) {
    spdlog::warn("consumer: cannot prove the slots filled: {}", market.error().message);
    return 0;
  }
  auto period = (*market)->current_period();
  auto account = period ? key() : Result<const wallet::PrivateKey*>(std::unexpected(period.error()));
  if (!account) {
    spdlog::warn("consumer: cannot prove the slots filled: {}", account.error().message);
    return 0;
  }
  free_released(**market, **account, slots);
  std::uint32_t submitted = 0;
  for (const FilledSlot& slot : slots) {
    if (slot.release) continue;
    const auto slot_key = std::pair(slot.file_id, slot.slot);
    {
      std::lock_guard lock(mutex_);
      if (proven_until_[slot_key] > *period) continue;  // this period is done
    }
    auto id = parse_request_id(slot.request_id);
    if (!id) continue;
    auto held = (*market)->get_slot(*id, slot.slot);
    auto state = held ? (*market)->request_state(*id) : Result<market::RequestState>(std::unexpected(held.error()));
    if (!state) {
      spdlog::warn("consumer: slot {} of request {}: {}", slot.slot, slot.request_id, state.error().message);
      continue;
    }
    const bool running = *state == market::RequestState::New || *state == market::RequestState::Started;
    if (!running || held->state != market::SlotState::Filled || held->host != (*account)->address()) {
      spdlog::info("consumer: slot {} of request {} is no longer ours to prove (request {}, slot {})", slot.slot,
                   slot.request_id, market::to_string(*state), market::to_string(held->state));
      drop(slot.file_id, slot.slot);
      continue;
    }
    bool done = held->filled_period >= *period;  // the fill's proof answers its period
    if (!done) {
      auto challenge = (*market)->get_challenge(*id, slot.slot, *period);
      auto status = challenge ? (*market)->proof_status(*id, slot.slot, *period)
                              : Result<std::pair<bool, bool>>(std::unexpected(challenge.error()));
      if (!status) {
        spdlog::warn("consumer: slot {} of request {}: {}", slot.slot, slot.request_id, status.error().message);
        continue;
      }
      done = !challenge->required || status->first;
      if (!done) {
        auto proof = proof_for(**market, slot, *id, *period);
        auto sent = proof ? (*market)->submit_proof(**account, *id, slot.slot, *proof)
                          : Result<chain::Receipt>(std::unexpected(proof.error()));
        if (sent) {
          ++submitted;
          done = true;
          spdlog::info("consumer: proved slot {} of request {} for period {} (gas {})", slot.slot, slot.request_id,
                       *period, sent->gas_used);
        } else {
          spdlog::warn("consumer: proof of slot {} of request {} for period {}: {}", slot.slot, slot.request_id,
                       *period, sent.error().message);
        }
      }
    }
    if (done) {
      std::lock_guard lock(mutex_);
      proven_until_[slot_key] = *period + 1;
    }
  }
  return submitted;
}

void MarketHost::start(std::chrono::milliseconds interval) {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this, interval] {
    std::unique_lock held(mutex_);
    while (!stopping_) {
      held.unlock();
      prove_once();
      held.lock();
      cv_.wait_for(held, interval, [this] { return stopping_; });
    }
  });
}

void MarketHost::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

Result<void> MarketHost::persist_locked() const {
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& [where, slot] : slots_) {
    nlohmann::json entry{{"file", slot.file_id}, {"slot", slot.slot}, {"requestId", slot.request_id}};
    if (slot.release) entry["release"] = true;
    slots.push_back(std::move(entry));
  }
  std::error_code ec;
  std::filesystem::create_directories(state_file_.parent_path(), ec);
  const std::string text = nlohmann::json{{"slots", slots}}.dump() + "\n";
  return fileio::write_file_atomic(state_file_, as_bytes(text), 0600);
}

}  // namespace ob::consumer
