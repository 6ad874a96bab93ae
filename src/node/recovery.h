// Recovery on a new machine (issue 13, `init --recover`): a home whose keys were derived from
// the owner's words finds the newest record of the owner's file index (the DHT first, the
// tracker's copy when the DHT has nothing in time), checks it against the identity and locator
// the same words give, fetches the index file from the consumers holding it, opens it with the
// index key, and writes state/producer.json so that `producer ls` and `producer cp` see every
// file again (docs/formats.md "The file index"; docs/cli.md "init").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "node/home.h"

namespace ob {

/// What a recovery found.
struct RecoveredIndex {
  std::uint64_t sequence = 0;  ///< of the record used
  std::string index_cid;       ///< the index file it names
  std::string found_in;        ///< "DHT" or "tracker"
  std::size_t files = 0;       ///< entries of the index, now in state/producer.json
};

/// Deadlines of a recovery.
struct RecoveryOptions {
  std::chrono::milliseconds dht_deadline{15000};      ///< for the DHT to answer (joining included)
  std::chrono::milliseconds tracker_timeout{10000};   ///< of each tracker call
};

/// Recovers the file index of `home`'s owner into <home>/state/producer.json (the home must be
/// initialised with a tracker and keys derived from the owner's words, and must have no
/// producer state yet). `progress` gets one short line per step. Runs its own network node on
/// free ports, stopped before returning. Errors (not_found): "no file index found for these
/// words" (no valid record in the DHT nor with the tracker); (invalid_argument): no tracker
/// configured, a producer state exists; (corrupt): the index named does not open with these
/// keys; (unrecoverable, io): the index file cannot be read from the network.
Result<RecoveredIndex> recover_file_index(const Home& home, const std::function<void(std::string_view)>& progress,
                                          RecoveryOptions options = {});

}  // namespace ob
