// Reply bodies the producer's and the consumer's market routes share (docs/api.md "Market").
#pragma once

#include <nlohmann/json.hpp>

#include "market/market_client.h"

namespace ob::api {

/// POST /v1/producer/withdraw and /v1/consumer/withdraw: seed 000's `{"msg": …}` plus the
/// figures, wei as decimal strings (a JSON number loses precision past 2^53 in most clients):
///   {"msg": "Withdrew 0.0015 ETH (1500000000000000 wei) to 0x…", "account": "0x…",
///    "amount": "1500000000000000", "transaction": "0x…", "gasUsed": 30000, "fee": "…"}
inline nlohmann::json withdrawal_json(const market::Withdrawal& paid) {
  return {{"msg", paid.summary()},
          {"account", paid.account.to_checksum()},
          {"amount", paid.amount.to_decimal()},
          {"transaction", chain::to_data(paid.receipt.hash)},
          {"gasUsed", paid.receipt.gas_used},
          {"fee", paid.receipt.fee().to_decimal()}};
}

}  // namespace ob::api
