// Seed 000's producer endpoints (docs/api.md "Producer"), over node/producer's Producer:
//
//   POST /v1/producer/start              {}                                  {"msg": "Producer started"}
//   POST /v1/producer/stop               {}                                  {"msg": "Producer stopped"}
//   POST /v1/producer/files/upload       {"path", "availability"?, "k"?, "m"?, "tier"?}
//                                                                            {"msg": "File <path> is uploading", "id"}
//   GET  /v1/producer/files              -                                   [{"id", "path", "size", ...}]
//   GET  /v1/producer/files/local        -                                   [{"path", "size", "status", ...}]
//   POST /v1/producer/files/download     {"fileId" | "path", "destination", "wait"?}
//   POST /v1/producer/files/remove       {"fileId" | "remotePath"}
//   POST /v1/producer/edit               {"fileId", "path"?, "availability"?}
//   POST /v1/producer/configs            {"directory"?, "defaultAvailability"?, "startOnStartup"?}
//
// Every body is validated before anything changes; bad input gets 400 {"msg": ...} with seed
// 000's message where it has one.
#pragma once

#include <vector>

#include "api/rest_server.h"

namespace ob::producer {
class Producer;
}

namespace ob::api {

/// The producer's JSON routes; `producer` must outlive the server serving them.
std::vector<JsonRoute> producer_routes(producer::Producer& producer);

}  // namespace ob::api
