// The producer's local file list, kept in <home>/state/producer.json so that it survives a
// crash (seed 000 keeps it "in memory"; a daemon that restarts must know which uploads to
// resume). Written atomically and durably (temp file, fsync, rename, fsync dir) after every
// change, so a crash leaves either the old or the new list.
//
//   {"version": 1, "started": true,
//    "files": [{"path": "docs/a.txt", "md5": "9e10...", "size": 5, "mtimeNs": 1700000000000000000,
//               "present": true, "status": "UPLOADING", "fileId": "bafy...",
//               "availability": 2, "k": 0, "m": 0, "tier": "free", "error": "",
//               "storageRequest": {...}}],      (paid tiers only: storage_request.h)
//    "downloadDirs": ["/home/me/Downloads"],
//    "index": {"entries": [{"fileId", "path", "size", "md5", "tier", "k", "m", "availability",
//                           "requestId", "createdUnix"}],
//              "dirty": false, "sequence": 3, "published": "bafy...", "publishedAt": 1700000000,
//              "uploading": "",
//              "retired": ["bafy..."]}}                  (the file index: file_index.h)
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "node/producer/file_index.h"
#include "node/producer/storage_request.h"

namespace ob::producer {

/// Where a local file is on its way into the network.
enum class LocalStatus {
  pending,    ///< in the Producer directory, not yet encoded (seed 000's PENDING)
  uploading,  ///< encoded into the engine and registered (or being registered) with the tracker;
              ///< consumers fetch their slots from this node
  uploaded,   ///< the tracker said actual availability reached the desired one; the encoded
              ///< copy was dropped
};

/// "PENDING", "UPLOADING", "UPLOADED".
std::string_view status_name(LocalStatus status) noexcept;

/// One file the producer knows of.
struct LocalFile {
  std::string path;               ///< relative to the Producer directory, '/' separated
  std::string md5;                ///< hex MD5 of the contents; empty until hashed
  std::uint64_t size = 0;         ///< bytes, when last seen on disk
  std::int64_t mtime_ns = 0;      ///< modification time when last seen, ns since the epoch
  /// Whether the file is in the Producer directory. False for an encoded file that was deleted
  /// or replaced locally while it uploads: it keeps uploading (nothing is lost) and is
  /// forgotten once UPLOADED.
  bool present = true;
  LocalStatus status = LocalStatus::pending;
  std::string file_id;            ///< the manifest's CID once encoded; else empty
  std::uint32_t availability = 0; ///< desired availability asked for; 0 = the default
  std::uint32_t k = 0;            ///< data slots asked for; 0 = the default
  std::uint32_t m = 0;            ///< parity slots asked for; 0 = the default
  std::string tier = "free";      ///< "free", "basic" or "premium"
  std::string error;              ///< the last upload failure, empty when none
  /// Paid tiers: the file's storage request on chain (storage_request.h); none for Free.
  std::optional<StorageRequest> request;
  /// A version of the file index (file_index.h), not a user's file: never listed, never in the
  /// index itself.
  bool index = false;
  /// Not saved: RegisterFile succeeded since this process started (every UPLOADING file is
  /// registered again at start, so that the tracker has this node's current address).
  bool registered = false;

  friend bool operator==(const LocalFile&, const LocalFile&) = default;
};

/// The producer's file index and where its versions are in the network (docs/formats.md "The
/// file index"). A version is built from `entries`, uploaded as a Free-tier file, and published
/// (its record signed with sequence + 1, in the DHT and with the tracker) once UPLOADED; then
/// the version it replaces is removed from the network.
struct IndexState {
  std::vector<IndexEntry> entries;   ///< every file of this producer in the network
  bool dirty = false;                ///< entries changed since the newest version was built
  std::uint64_t sequence = 0;        ///< of the newest record published; 0 = none yet
  std::string published;             ///< the index file the newest record names; "" = none
  std::uint64_t published_at = 0;    ///< the newest record's timestamp (Unix seconds)
  std::string uploading;             ///< a newer version on its way to UPLOADED; "" = none
  std::vector<std::string> retired;  ///< replaced versions still to remove from the network

  friend bool operator==(const IndexState&, const IndexState&) = default;
};

/// Everything producer.json holds.
struct ProducerState {
  bool started = false;  ///< the producer was running: a restarted daemon starts it again
  std::vector<LocalFile> files;
  /// Destination directories of downloads in progress (one entry per download), recorded
  /// before the download's temporary file is created: after a crash, the next start removes
  /// what it left there. Absent in files of older versions: none.
  std::vector<std::string> download_dirs;
  /// The file index. Absent in files of older versions: empty and dirty (built at start).
  IndexState index;

  friend bool operator==(const ProducerState&, const ProducerState&) = default;
};

/// The JSON form above.
nlohmann::json state_to_json(const ProducerState& state);
/// Parses the JSON form. Errors (corrupt): not that form (each message names the field).
Result<ProducerState> state_from_json(const nlohmann::json& json);

/// Reads the state file; a missing file is an empty state. Errors (corrupt): not the JSON
/// above; (io).
Result<ProducerState> load_state(const std::filesystem::path& file);
/// Replaces the state file atomically and durably, creating its directory. Errors (io).
Result<void> save_state(const std::filesystem::path& file, const ProducerState& state);

}  // namespace ob::producer
