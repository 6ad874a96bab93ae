// The producer role of the daemon (seed 000 "Producer"): files in the local Producer directory,
// or given to `producer upload`, are encrypted and erasure-coded by the Engine, registered with
// the tracker (which places their slots on consumers), and served from this node's block
// exchange until the tracker reports them UPLOADED (actual availability reached the desired
// one); then the local encoded copy is dropped. The plaintext file stays in the directory.
//
// Threads: the PWatcher's (inotify events, queued), one worker (scan at start, watcher events,
// one upload at a time, polling the tracker for statuses), the REST handlers calling in, and
// one per background download. The local file list lives in <home>/state/producer.json
// (producer_state.h), rewritten after every change.
//
// The file index (issue 13, producer_index.cc, docs/formats.md "The file index"): every
// registration, edit and removal changes state_.index; a few seconds after the last change
// (index_delay) the worker seals a new version, uploads it as a Free-tier file like any other
// (a LocalFile marked `index`, never listed), and once it is UPLOADED signs a record with the
// next sequence number, hands it to the tracker and the DHT, and removes the version it
// replaces from the network. Nothing of this runs on a user's command's thread.
//
// Decisions where seed 000 says TODO (docs/cli.md "producer"):
//   - a file deleted locally while it uploads keeps uploading when it was already encoded (the
//     encoded copy holds all of it; nothing is lost) and is dropped when still PENDING;
//   - a file changed locally is a new file: the old version stays in the network;
//   - a file the tracker no longer knows (removed from another machine) is uploaded again while
//     it is in the Producer directory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "coding/manifest.h"
#include "core/error.h"
#include "coding/share_token.h"
#include "node/home.h"
#include "node/producer/producer_state.h"
#include "node/producer/pwatcher.h"
#include "node/producer/storage_request.h"
#include "tracker/tracker_client.h"

namespace ob {
class Engine;
class FileReader;
class Network;
}  // namespace ob

namespace ob::producer {

/// What an upload asks for (seed 000 upload step 3; `producer upload` flags).
struct UploadOptions {
  std::optional<std::uint32_t> availability{};  ///< desired availability, >= 1
  std::optional<std::uint32_t> k{};             ///< data slots
  std::optional<std::uint32_t> m{};             ///< parity slots
  std::string tier = "free";                  ///< "free", "basic" or "premium"
  // Paid tiers (basic, premium): the storage request the upload opens on chain (storage_request.h).
  std::optional<std::uint64_t> duration{};     ///< seconds the file is paid for; required for a paid tier
  std::optional<std::string> price{};          ///< wei per byte-second, decimal; default kDefaultPrice
  std::string account{};                       ///< the wallet account paying; "" = the default one
  std::string passphrase{};                    ///< that account's keystore passphrase (never stored)
};

/// Wei per byte of slot per second a paid-tier upload offers when it names no price.
inline constexpr std::uint64_t kDefaultPrice = 1;

/// The coding of one upload and the availability the tracker is asked for.
struct CodingChoice {
  CodingParams params;
  std::uint32_t availability = 1;
};

/// Maps upload options to coding (docs/cli.md "producer upload"):
///   k and/or m given    -> those (the other from `defaults`); availability as given, else m + 1;
///   availability A only -> k = 1, m = A - 1: plain replication, seed 000's "every shard served
///                          by A consumers";
///   neither             -> k from `defaults`, m = default_availability - 1, availability =
///                          default_availability.
/// Block size always from `defaults`. Errors (invalid_argument): "Invalid availability: ..." for
/// 0 or more than m + 1 (a file with m parity slots survives m lost consumers, so its
/// availability is at most m + 1); "Invalid k"/"Invalid m" over 255; invalid coding parameters.
Result<CodingChoice> choose_coding(const UploadOptions& options, const CodingParams& defaults,
                                   std::uint32_t default_availability);

/// "free", "basic", "premium" (any case) as the tracker's Tier. Errors (invalid_argument):
/// "Invalid tier: ..." for anything else.
Result<openbucket::tracker::v1::Tier> parse_tier(std::string_view name);

/// The file index's entry (file_index.h) of a file as the tracker lists it.
IndexEntry entry_of(const openbucket::tracker::v1::FileInfo& file);

/// A file named by its ID or by its remote path (seed 000: the ID wins when both are given).
struct FileRef {
  std::string file_id;  ///< empty: use path
  std::string path;     ///< the remote path, as `producer ls` shows it ("/" in front is ignored)
  /// What to call the file in messages: the ID if given, else the path.
  const std::string& label() const noexcept { return file_id.empty() ? path : file_id; }
};

/// One row of `producer ls` (seed 000's listing).
struct RemoteFile {
  std::string id;                   ///< file ID; empty for a local file not yet encoded
  std::string path;                 ///< remote path
  std::uint64_t size = 0;           ///< plaintext bytes
  std::string status;               ///< PENDING, UPLOADING, UPLOADED, DEGRADED, LOST, REMOVING
  std::uint32_t actual_availability = 0;
  std::uint32_t availability = 0;   ///< desired
  std::string hash;                 ///< MD5, hex; empty while not yet hashed
  std::uint32_t k = 0;              ///< data slots; 0 while not registered with the tracker
  std::uint32_t slots_stored = 0;   ///< proven slots on online consumers (the tracker's count)
  std::string tier = "free";        ///< "free", "basic", "premium"
  std::string request_id;           ///< paid tiers: the storage request on chain, decimal; "" before
  std::string request_state;        ///< paid tiers: "Unpaid", "Requested", "Started", "Failed"; "" for Free
  std::string error;                ///< why a PENDING file is not uploading yet; "" when none
  /// Paid tiers, read from the chain (getRequest, getSlot): wei of the escrow not yet paid to
  /// hosts, decimal, and each slot's host account (EIP-55), "" while the slot has none (free,
  /// freed, waiting for repair). Both empty when there is no request yet or the chain cannot
  /// be read.
  std::string escrow_left;
  std::vector<std::string> slot_hosts;
};

/// A download in progress (`producer cp`), for following it: GET /v1/producer/files/downloads.
struct DownloadProgress {
  std::string file_id;
  std::string path;                  ///< the remote path
  std::filesystem::path destination; ///< the directory it is written into
  std::uint64_t size = 0;            ///< plaintext bytes, as registered
  std::uint64_t bytes = 0;           ///< plaintext bytes decoded and written so far
};

/// What `producer rm` of a paid-tier file needs to end its storage request on chain.
struct RemoveOptions {
  std::string account;     ///< the wallet account that pays (name or address); "" = the request's client
  std::string passphrase;  ///< that account's keystore passphrase (never stored)
};

/// `producer config` (seed 000): only the fields given change.
struct ConfigChange {
  std::optional<std::string> directory{};  ///< absolute, or starting with "~/"; created (0700) if missing
  std::optional<std::uint32_t> default_availability{};
  std::optional<bool> start_on_startup{};
};

/// Timings (tests shorten them).
struct ProducerOptions {
  std::chrono::milliseconds poll_interval{2000};    ///< how often upload statuses are asked for
  std::chrono::milliseconds retry_interval{30000};  ///< before retrying a failed upload
  std::chrono::milliseconds remove_timeout{60000};  ///< rm: wait for consumers to confirm
  std::chrono::milliseconds tracker_timeout{10000}; ///< deadline of every tracker call
  /// A file found by the watcher or a scan is uploaded once it has not been modified for this
  /// long: a file still being written (a copy in progress) is not uploaded half-done.
  std::chrono::milliseconds settle_time{2000};
  /// A new version of the file index is built this long after the last change to it, so that
  /// a burst of uploads makes one version (and one publication).
  std::chrono::milliseconds index_delay{3000};
};

/// The remote path a version of the file index is registered under (never listed).
inline constexpr std::string_view kIndexPath = ".open-bucket/index";

/// The producer role. Thread-safe: every public function may be called from any thread.
/// Lock order: lifecycle_mutex_, then upload_mutex_, then market_mutex_, then mutex_; no lock is
/// held during a tracker call except upload_mutex_ (which only orders uploads and status polls)
/// and market_mutex_ (held by the chain calls, and while the market is first asked for). The worker
/// takes upload_mutex_, so it is never joined (stop_threads) by a thread holding that mutex.
class Producer {
 public:
  /// A stopped producer for `home`'s Producer directory, storing through `engine` and serving
  /// from `network` (null: no block exchange, as in unit tests; then downloads cannot fetch
  /// from consumers and no source address is registered). All must outlive the producer.
  /// `tracker` empty: start() refuses. Reads <home>/state/producer.json; a damaged state file is
  /// moved aside to producer.json.corrupt (and logged) and the producer starts afresh. Removes
  /// the temporary files of downloads a crash interrupted (fileio::remove_leftovers).
  /// Errors (io): the state file cannot be read.
  static Result<std::unique_ptr<Producer>> open(const Home& home, Engine& engine, Network* network,
                                                std::optional<tracker::TrackerClient> tracker,
                                                ProducerOptions options = {});
  /// Stops like shutdown().
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  /// Whether the state file says the producer was running (a restarted daemon starts it again).
  bool was_started() const;
  /// Whether it runs now.
  bool running() const;

  /// Seed 000 "Start Producer": creates the Producer directory if needed (mode 0700, missing
  /// parents too), removes the temporary files a crash left in it (of a copy or a download that
  /// was interrupted; none that a live writer holds), starts the PWatcher
  /// and the worker (which scans the directory, queues new files as PENDING, resumes uploads a
  /// crash interrupted and compares with the tracker's list) and records that it runs (a failure
  /// to write that record is logged: the producer runs anyway). Returns false when it was
  /// already running. Errors (invalid_argument): no tracker configured; (io): the directory
  /// cannot be created or watched.
  Result<bool> start();
  /// Seed 000 "Stop Producer": stops the watcher and the worker (an encoding in progress is
  /// abandoned and redone at the next start) and records that it is stopped. Returns false
  /// when it was not running. Errors (io): the state cannot be written.
  Result<bool> stop();
  /// Stops the threads and joins background downloads, keeping the "started" record (the
  /// daemon's exit). Idempotent.
  void shutdown();

  /// Seed 000 "Produce data": `path` (absolute, a readable regular file) is copied into the
  /// Producer directory unless it is inside it or a file with the same MD5 is there (the copy
  /// has the source's permission bits, plus read for this user: never more open); then
  /// encoded and registered. Starts the producer if it is stopped. Returns the file ID once the
  /// tracker has registered it; the upload continues in the background. Errors
  /// (invalid_argument): "Invalid path: ...", bad options (see choose_coding), no tracker, the
  /// tracker refused; (io): the tracker is unreachable (the file stays queued), disk errors.
  Result<std::string> upload(const std::filesystem::path& path, const UploadOptions& options);

  /// `producer ls`: the tracker's list of this producer's files, then local files not yet
  /// registered (status PENDING). Errors (invalid_argument): no tracker; (io): unreachable.
  Result<std::vector<RemoteFile>> list();
  /// `producer ls -l`: the files in the Producer directory as the producer knows them, by path.
  std::vector<LocalFile> list_local() const;

  /// Seed 000 "Download data": checks `destination` (an absolute directory this process can
  /// read and write) and finds the file on the tracker; then fetches it from its consumers
  /// (unless stored here), decodes it into <destination>/<last part of its remote path> (a
  /// temporary file, fsynced and renamed; an existing file of that name is replaced) and
  /// checks its MD5 against the registered one; a copy fetched for this is dropped after. The
  /// destination is recorded in the state file while the download runs, so that the next
  /// start removes the temporary file a crash left there.
  /// With `wait`, returns when the file is written; without, the transfer runs on a
  /// background thread (its failure is logged). Errors (invalid_argument): "Invalid
  /// destination"; (not_found): "File `<id|path>` not exists"; with `wait` also the transfer's
  /// errors, (corrupt) "MD5 mismatch".
  Result<void> download(const FileRef& file, const std::filesystem::path& destination, bool wait);

  /// A share link for one of this producer's files (issue 13, coding/share_token.h): its ID and
  /// its file key, unwrapped with the master secret from the manifest the tracker holds, valid
  /// until `expires_at` (Unix seconds; 0 = never). Anyone holding it can read that file, and no
  /// other. Errors (not_found): "File `<id|path>` not exists"; the tracker's; (corrupt) the
  /// tracker's manifest is not this file's or not this owner's.
  Result<ShareToken> share(const FileRef& file, std::uint64_t expires_at);

  /// The downloads running now (with or without `wait`), oldest first.
  std::vector<DownloadProgress> downloads() const;

  /// Seed 000 "Remove a file": for a paid-tier file whose storage request still runs, first
  /// cancels it on chain from the paying account (`options`; seed 000's "close the contract":
  /// hosts are paid to now, the rest of the escrow becomes the producer's to withdraw); a
  /// request over by time is closed when a passphrase is given, one closed already needs
  /// nothing. Then asks the tracker to remove the file, deletes the local file and any encoded
  /// copy, and waits until the tracker forgets it (every consumer confirmed deletion) for up
  /// to remove_timeout. A local file never registered is just deleted. Errors (not_found):
  /// "File `<id|path>` not exists"; (invalid_argument, io) "File `…` is not removed: …" when
  /// the request runs and cannot be cancelled (no or a wrong passphrase, another account, the
  /// chain unreachable, the market's refusal): nothing is removed, since the contract would
  /// go on billing; (io): the tracker is unreachable, or consumers did not confirm in time
  /// (the message names them; the tracker keeps asking them).
  Result<void> remove(const FileRef& file, const RemoveOptions& options = {});

  /// Seed 000 "The Producer can withdraw their remaining Ether": pays the wallet account
  /// `account` (name or address; "" = the default account), unlocked with `passphrase`, its
  /// whole balance in the tracker's storage market (refunds of cancelled requests). Errors
  /// (invalid_argument): an unknown account, a wrong passphrase, "Nothing to withdraw: …", no
  /// market; the chain's.
  Result<market::Withdrawal> withdraw(const std::string& account, const std::string& passphrase);

  /// Seed 000 "Change file metadata": a new remote path and/or desired availability. Errors
  /// (invalid_argument): "Invalid path", "Invalid availability: ..." (0, or over the file's
  /// m + 1), nothing to change; (not_found): "File `<id>` not exists"; (io).
  Result<void> edit(const std::string& file_id, const std::optional<std::string>& path,
                    std::optional<std::uint32_t> availability);

  /// Seed 000 "Change Producer config": validates every field first, then moves every entry of
  /// the old directory into the new one (the producer pauses meanwhile), saves config.toml
  /// (re-read first, so that other sections keep their latest values) and updates the startup
  /// unit; a failure at any step undoes the earlier ones. Errors (invalid_argument): "Invalid
  /// directory", "Invalid defaultAvailability"; (io): a step failed and was rolled back.
  Result<void> configure(const ConfigChange& change);

  /// The Producer directory in use.
  std::filesystem::path directory() const;

 private:
  struct Download {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  Producer(const Home& home, Engine& engine, Network* network, std::optional<tracker::TrackerClient> tracker,
           ProducerOptions options, ProducerState state);
  /// At open: removes the temporary files that downloads interrupted by a crash left in their
  /// destinations (state_.download_dirs), then forgets those directories. Takes mutex_.
  void remove_download_leftovers();

  // Lifecycle (lifecycle_mutex_ held).
  Result<void> start_threads();
  void stop_threads();
  void worker();

  // Local list (mutex_ held unless said otherwise).
  LocalFile* find_present(const std::string& path);
  std::filesystem::path directory_locked() const;
  Result<void> save_locked();
  void note_written(const std::string& path, bool save = true);  // takes mutex_
  void note_removed(const std::string& path);  // takes mutex_
  void scan();                                 // takes mutex_
  LocalFile& add_pending_locked(const std::string& path, std::uint64_t size, std::int64_t mtime_ns);

  // Uploads and statuses (upload_mutex_ held).
  Result<std::string> upload_locked(const std::string& path);
  Result<void> register_file(const std::string& file_id);
  /// The storage request of a paid-tier upload of `options`, Unpaid, and its account's key
  /// (unlocked: a wrong passphrase is refused before anything is copied). Errors
  /// (invalid_argument): no duration, a bad price, an unknown account, a wrong passphrase.
  Result<std::pair<StorageRequest, std::shared_ptr<const wallet::PrivateKey>>> prepare_request(
      const UploadOptions& options);
  /// Opens the storage request of `entry` (Unpaid) on the tracker's market with the key kept for
  /// it, and returns it Requested. Errors: no key kept ("locked"), the tracker runs no market,
  /// the node is on another chain, the market's refusal, the chain's.
  Result<StorageRequest> pay_for(const LocalFile& entry, const Manifest& manifest, const Cid& file);
  /// The tracker's market (GetMarket) on this node's [chain] node, which must be on the
  /// market's chain, and the tracker's account (the placer). Errors: the tracker runs none,
  /// another chain, the tracker's, the chain's.
  Result<std::pair<market::MarketClient, wallet::Address>> open_market();
  /// The market client kept in market_, opened (open_market) on first use; market_mutex_ held.
  /// A caller whose chain call fails drops it (market_.reset()), so that the next use asks the
  /// tracker again (it may run another market since). Errors: open_market's.
  Result<std::pair<market::MarketClient, wallet::Address>*> market_locked();
  /// The on-chain half of remove(): ends storage request `request_id` (decimal) of `file` as
  /// removal_step says, and marks the local entry `file_id` (if any) Cancelled. Takes
  /// market_mutex_. Errors: as remove()'s "is not removed".
  Result<void> end_request(const FileRef& file, const std::string& file_id, const std::string& request_id,
                           const RemoveOptions& options);
  /// Requested -> Started (or Failed) for the files of `rows` the tracker reports UPLOADED,
  /// as the chain has their requests now; a chain that cannot be read is logged and left.
  void refresh_requests(const std::vector<RemoteFile>& rows);
  /// What the chain says of one storage request, for `producer ls`.
  struct ChainView {
    std::chrono::steady_clock::time_point read_at;
    std::string escrow_left;              ///< wei, decimal
    std::vector<std::string> slot_hosts;  ///< per slot: the host's address, "" when none
  };
  /// How long a ChainView is reused, so that listing often does not read the chain each time.
  static constexpr std::chrono::seconds kChainViewTtl{5};
  /// Fills escrow_left and slot_hosts of the rows with a storage request from the chain, each
  /// request read (getRequest, then getSlot per slot) at most once per kChainViewTtl. A chain
  /// that cannot be read is logged and leaves them empty. Takes market_mutex_.
  void read_requests(std::vector<RemoteFile>& rows);
  /// One request's ChainView; market_mutex_ held. Errors: a malformed ID (corrupt), the chain's.
  Result<ChainView> read_request_locked(const std::string& request_id);
  /// When the worker may next try to upload `file` (a PENDING one): after its retry time and
  /// once it has settled (mutex_ held).
  std::chrono::steady_clock::time_point ready_at(const LocalFile& file) const;
  void upload_next_pending();
  void poll_tracker();
  /// Forgets the upload of `file_id` (the tracker no longer has it, or it cannot be resumed):
  /// an encoded copy no longer in the directory is dropped from the list, the copy still there
  /// is PENDING again and is uploaded anew. mutex_ held; saves the list.
  void requeue_locked(const std::string& file_id);
  void drop_encoded_copy(const std::string& file_id);  // engine only: callable with mutex_ held

  // The file index (producer_index.cc).
  /// `entry` added to or replaced in the index (by file ID; its first created_unix kept); the
  /// index is marked to be rebuilt when anything changed. mutex_ held.
  void index_put_locked(IndexEntry entry);
  /// The entry of `file_id` gone from the index. mutex_ held.
  void index_erase_locked(const std::string& file_id);
  /// Whether `file_id` is a version of the file index (published, on its way, or retired).
  /// mutex_ held.
  bool is_index_version_locked(const std::string& file_id) const;
  /// The worker's turn for the index (upload_mutex_ held): publishes a version that reached
  /// UPLOADED, announces the published record in the DHT again after a restart, removes
  /// retired versions, and builds a new version when one is due. Failures are logged and
  /// retried after retry_interval.
  void index_step();
  /// Seals the entries, stores them as a Free-tier file and registers it. Errors: the
  /// engine's; a failed registration is not one (the status poll resumes it).
  Result<void> build_index_version();
  /// Signs the record of `file_id` with the next sequence and hands it to the tracker, then
  /// the DHT. Errors: the tracker's refusal (a stale sequence) or absence; (crypto).
  Result<void> publish_index_version(const std::string& file_id);
  /// The signed record of the published version, as first signed (sequence, published_at).
  Result<std::pair<discovery::IndexRecord, Bytes>> signed_index_record(std::uint64_t sequence,
                                                                       const std::string& file_id,
                                                                       std::uint64_t timestamp) const;
  /// RemoveFile of every retired version (not waiting for consumers).
  void retire_index_versions();

  // Tracker calls.
  Result<tracker::TrackerClient*> tracker_client();
  Result<std::vector<openbucket::tracker::v1::FileInfo>> tracker_list(const std::string& file_id);
  Result<openbucket::tracker::v1::FileInfo> find_remote(const FileRef& file);

  Result<void> run_download(const openbucket::tracker::v1::FileInfo& info, const std::filesystem::path& destination);
  /// After a download of a paid-tier file: asks the tracker to confirm it on chain (ConfirmDownload),
  /// which pays the consumers. Never fails the download: a refusal is logged.
  void confirm_download(const openbucket::tracker::v1::FileInfo& info);
  /// The deadline of ConfirmDownload, which waits for a transaction's receipt.
  static constexpr std::chrono::seconds kConfirmDownloadTimeout{60};
  Result<FileReader> open_from_consumers(const openbucket::tracker::v1::FileInfo& info);

  const Home& home_;
  Engine& engine_;
  Network* network_;
  std::optional<tracker::TrackerClient> tracker_;
  const ProducerOptions options_;
  const std::filesystem::path state_file_;

  std::mutex lifecycle_mutex_;  // serialises start, stop, shutdown, configure
  std::mutex upload_mutex_;     // one upload (or status poll) at a time
  std::mutex market_mutex_;     // one chain call at a time on market_ (MarketClient is not thread-safe)
  /// The tracker's market and placer, opened lazily by market_locked(); guarded by market_mutex_.
  std::optional<std::pair<market::MarketClient, wallet::Address>> market_;
  std::map<std::string, ChainView> chain_views_;  // request ID -> view; guarded by market_mutex_
  mutable std::mutex mutex_;    // guards everything below
  std::condition_variable wake_;
  NodeConfig config_;           // this role's view of config.toml
  ProducerState state_;
  bool running_ = false;
  bool stopping_ = false;
  bool rescan_ = false;                                   // the worker must scan the whole directory
  std::deque<std::pair<std::string, Change>> events_;     // from the watcher, for the worker
  std::map<std::string, std::chrono::steady_clock::time_point> retry_after_;  // path -> next try
  /// Paid uploads not yet Requested: path -> the paying account's key (memory only).
  std::map<std::string, std::shared_ptr<const wallet::PrivateKey>> keys_;
  std::multiset<std::string> pinned_;  // file IDs being downloaded: their encoded copy stays
  std::vector<Download> downloads_;
  /// Transfers running now, for downloads(); each run_download adds its own and removes it.
  std::list<std::shared_ptr<DownloadProgress>> transfers_;
  std::atomic<bool> cancel_{false};    // abandons the encoding in progress (stop)
  /// When the next index version is due (state_.index.dirty); none while nothing changed.
  std::optional<std::chrono::steady_clock::time_point> index_due_;
  /// The published record was put into the DHT by this process (a restart puts it again).
  /// This and index_retry_at_ belong to the worker (index_step), which alone reads and writes them.
  bool index_announced_ = false;
  /// A failed publication or removal of an old version is tried again from then on.
  std::chrono::steady_clock::time_point index_retry_at_{};

  std::unique_ptr<PWatcher> watcher_;  // lifecycle_mutex_
  std::thread worker_;                 // lifecycle_mutex_
};

}  // namespace ob::producer
