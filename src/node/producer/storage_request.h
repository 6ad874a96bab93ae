// A paid-tier file's storage request, the producer's side (docs/market.md "A storage request"):
// the producer pays the escrow with requestStorage from its wallet account, then the tracker
// places the file's slots for that request. Its lifecycle, kept in producer.json beside the
// file (LocalFile::request):
//
//   from       event                                              to
//   Unpaid     requestStorage mined, or found by requestIdOf      Requested
//   Requested  the chain says Started (all n slots filled)        Started
//   Requested  the chain says it ended before it started          Failed
//   Started    the chain says Failed (fewer than k slots held)    Failed
//   Requested  `producer rm` cancelled it on chain                Cancelled
//   Started    `producer rm` cancelled it on chain                Cancelled
//
// A Cancelled request is only seen when the tracker could not remove the file after the
// cancel; the next `producer rm` then just removes it.
//
// While Unpaid, every failure (the chain unreachable, the market's refusal) leaves it Unpaid
// with the reason in `error`; the file stays PENDING and is tried again. It is never charged
// twice: the request's nonce is derived from the file ID, and requestStorage looks the nonce up
// (requestIdOf) before it sends anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "coding/manifest.h"
#include "core/bytes.h"
#include "core/error.h"
#include "market/market_client.h"
#include "wallet/keys.h"
#include "wallet/uint256.h"

namespace ob::producer {

/// The states of the table above.
enum class RequestPhase : std::uint8_t { unpaid, requested, started, failed, cancelled };

/// "Unpaid", "Requested", "Started", "Failed", "Cancelled".
std::string_view to_string(RequestPhase phase) noexcept;
/// The inverse of to_string; nullopt for anything else.
std::optional<RequestPhase> phase_from_string(std::string_view name) noexcept;
/// Whether `from` -> `to` is a row of the table above.
bool allowed(RequestPhase from, RequestPhase to) noexcept;

/// What `producer rm` does on chain before a paid file leaves the network (docs/market.md "Money").
enum class RemovalStep : std::uint8_t {
  none,    ///< the request was closed already (or failed): nothing is billed, just remove
  cancel,  ///< it runs: the client cancels it (hosts paid to now, the rest refunded)
  close,   ///< it ended by time but its money has not moved: close it (anyone may)
};
/// The step for a request whose stored state (getRequest) is `stored` and whose state as time
/// has it (requestState) is `now`.
RemovalStep removal_step(market::RequestState stored, market::RequestState now) noexcept;

/// Proofs per period a tier asks for (StorageAsk.proofProbability: challenged with 1 / this):
/// Premium every period, Basic one in four on average.
inline constexpr std::uint16_t kPremiumProofProbability = 1;
inline constexpr std::uint16_t kBasicProofProbability = 4;
/// Collateral a host locks per byte of slot: this many seconds of the slot's pay (one day).
inline constexpr std::uint64_t kCollateralSeconds = 24 * 3600;
/// Longest time the request may take to fill (StorageAsk.expiry), at most duration - 1.
inline constexpr std::uint64_t kMaxExpirySeconds = 24 * 3600;

/// One file's storage request.
struct StorageRequest {
  RequestPhase phase = RequestPhase::unpaid;
  std::string request_id;     ///< decimal; set from Requested on
  std::string tier;           ///< "basic" or "premium"
  std::uint64_t duration = 0; ///< seconds the file is paid for
  wallet::U256 price;         ///< wei per byte of slot per second (< 2^96)
  std::string account;        ///< the wallet account paying (name or address; "" = the default)
  std::string error;          ///< the last failure while Unpaid, or why it Failed

  /// Moves to `to`. Errors (internal): not a row of the table.
  Result<void> advance(RequestPhase to);

  friend bool operator==(const StorageRequest&, const StorageRequest&) = default;
};

/// The JSON form kept in producer.json:
///   {"state": "Requested", "requestId": "3", "tier": "basic", "duration": 2592000,
///    "price": "1", "account": "", "error": ""}
nlohmann::json request_to_json(const StorageRequest& request);
/// Errors (corrupt): not that form (the message names the field).
Result<StorageRequest> request_from_json(const nlohmann::json& json);

/// The request's nonce for the file `file_cid` (binary CID): keccak256 of a domain tag and the
/// CID, so one file has one request per account however often it is resent.
wallet::Hash32 request_nonce(ByteView file_cid);

/// What requestStorage asks for the file of `manifest` (CID `file_cid`): all its n = k + m
/// slots (the dataset tree proofs climb has n leaves), the request's duration, price and tier,
/// collateral of kCollateralSeconds of pay, expiry min(kMaxExpirySeconds, duration - 1),
/// placed by `placer`. Errors (invalid_argument): a duration under 2 s or at least 2^40 s, a
/// zero price or one of 2^96 wei or more, an unknown tier; merkle's.
Result<market::StorageAsk> make_ask(const Manifest& manifest, ByteView file_cid, const StorageRequest& request,
                                    const wallet::Address& placer);

/// Opens the request on chain from `key` (Unpaid -> Requested, request_id set), or finds the
/// one already opened for this file. Errors: MarketClient::request_storage's (the request stays
/// Unpaid; the caller records the error).
Result<void> open_request(StorageRequest& request, market::MarketClient& market, const wallet::PrivateKey& key,
                          const market::StorageAsk& ask, ByteView file_cid);

/// "30d", "12h", "90m", "3600s" or plain seconds: seconds. Errors (invalid_argument): anything
/// else, zero.
Result<std::uint64_t> parse_duration(std::string_view text);

}  // namespace ob::producer
