// Seed 000's consumer endpoints (docs/api.md "Consumer"), over node/consumer's Consumer:
//
//   POST /v1/consumer/start    {}                                    {"msg": "Consumer started"}
//                                                                    {"msg": "Consumer had already started"}
//   POST /v1/consumer/stop     {}                                    {"msg": "Consumer stopped"}
//                                                                    {"msg": "Consumer had already stopped"}
//   POST /v1/consumer/configs  {"directory"?, "limit"?, "startOnStartup"?}
//                                                                    {"msg": "Consumer configs applied"}
//   GET  /v1/consumer/slots    -   {"started", "directory", "limit", "limitBytes", "usedBytes",
//                                   "slots": [{"fileId", "slot", "bytes"}]}
//
// Every body is validated before anything changes: 400 {"msg": "Invalid directory"},
// {"msg": "Invalid limit"} or {"msg": "Invalid startOnStartup"} (a wrong JSON type too), with a
// "detail" saying why where there is more to say. Starting without a tracker is 400 with the
// reason.
#pragma once

#include <vector>

#include "api/rest_server.h"

namespace ob::consumer {
class Consumer;
}

namespace ob::api {

/// The consumer's JSON routes; `consumer` must outlive the server serving them.
std::vector<JsonRoute> consumer_routes(consumer::Consumer& consumer);

}  // namespace ob::api
