// What `producer upload` and `producer cp` show on a terminal while the daemon works
// (docs/cli.md "Progress and output"): both follow the daemon's own account of the transfer
// over its REST API, since the bytes move inside the daemon, not through the command.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/rest_client.h"
#include "core/error.h"

namespace ob::cli {

/// POST /v1/producer/files/upload with `body` through `daemon`. When progress_wanted(json),
/// the wait for the reply (the copy, encoding and registration) is shown as a line with the
/// elapsed time. Returns the daemon's reply. Errors: the daemon's, as post_json.
Result<nlohmann::json> post_upload(api::RestClient& daemon, const nlohmann::json& body, const std::string& name,
                                   bool json);

/// Follows the upload of `file_id` until the tracker says UPLOADED, with a bar of the proven
/// slots and the plaintext bytes they carry (bytesPlaced of bytesWanted), rate and ETA, from
/// GET /v1/producer/files twice a second. Only call when progress_wanted: it draws and waits.
/// Errors (not_found): the file left the list (removed); (unrecoverable): it is LOST or being
/// removed; the daemon's.
Result<void> follow_upload(api::RestClient& daemon, const std::string& file_id, const std::string& name);

/// POST /v1/producer/files/download with `body` (which has "wait": true) through `daemon`.
/// When progress_wanted(json) and `poller` (a second client of the same daemon) is given,
/// draws the download's bytes, rate and ETA from GET /v1/producer/files/downloads while the
/// request runs. Returns the daemon's reply. Errors: the daemon's, as post_json.
Result<nlohmann::json> post_download(api::RestClient& daemon, std::optional<api::RestClient> poller,
                                     const nlohmann::json& body, bool json);

}  // namespace ob::cli
