// Seed 000's consumer endpoints (docs/api.md "Consumer"), over node/consumer's Consumer:
//
//   POST /v1/consumer/start    {}                                    {"msg": "Consumer started"}
//                                                                    {"msg": "Consumer had already started"}
//   POST /v1/consumer/stop     {}                                    {"msg": "Consumer stopped"}
//                                                                    {"msg": "Consumer had already stopped"}
//   POST /v1/consumer/configs  {"directory"?, "limit"?, "startOnStartup"?, "account"?, "price"?}
//                                                                    {"msg": "Consumer configs applied"}
//   GET  /v1/consumer/slots    -   {"started", "directory", "limit", "limitBytes", "usedBytes", "account",
//                                   "price", "slots": [{"fileId", "slot", "bytes"}]}
//
// Every body is validated before anything changes: 400 {"msg": "Invalid directory"},
// {"msg": "Invalid limit"}, {"msg": "Invalid startOnStartup"}, {"msg": "Invalid account"} (not
// an account of the wallet; a wrong JSON type too) or {"msg": "Invalid price"} (not wei per
// byte-second from 0 to 2^63 - 1, as a decimal string or an integer), with a
// "detail" saying why where there is more to say. Starting without a tracker is 400 with the
// reason.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/rest_server.h"

namespace ob::consumer {
class Consumer;
}

namespace ob::api {

/// Resolves seed 000's consumer `account` (a wallet account's name or address) to the EIP-55
/// address stored in config.toml. Errors (not_found, invalid_argument): not in the wallet.
using AccountResolver = std::function<Result<std::string>(const std::string& name_or_address)>;

/// The consumer's JSON routes; `consumer` must outlive the server serving them. Without a
/// resolver every "account" is refused.
std::vector<JsonRoute> consumer_routes(consumer::Consumer& consumer, AccountResolver resolve_account = {});

}  // namespace ob::api
