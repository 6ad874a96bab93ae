// The producer's file index in the network (issue 13): see producer.h and docs/formats.md
// "The file index". Runs on the producer's worker, upload_mutex_ held.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "core/stream.h"
#include "node/engine.h"
#include "node/network.h"
#include "node/producer/producer.h"

namespace ob::producer {
namespace {

namespace pb = openbucket::tracker::v1;
using Clock = std::chrono::steady_clock;

std::uint64_t unix_now() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace

void Producer::index_put_locked(IndexEntry entry) {
  auto& entries = state_.index.entries;
  const auto it = std::ranges::find(entries, entry.file_id, &IndexEntry::file_id);
  if (it != entries.end()) {
    if (it->created_unix != 0) entry.created_unix = it->created_unix;
    if (*it == entry) return;
    *it = std::move(entry);
  } else {
    if (entry.created_unix == 0) entry.created_unix = unix_now();
    entries.push_back(std::move(entry));
  }
  state_.index.dirty = true;
  index_due_ = Clock::now() + options_.index_delay;  // a bounded delay after the last change
  wake_.notify_all();
}

void Producer::index_erase_locked(const std::string& file_id) {
  if (std::erase_if(state_.index.entries, [&](const IndexEntry& e) { return e.file_id == file_id; }) == 0) return;
  state_.index.dirty = true;
  index_due_ = Clock::now() + options_.index_delay;
  wake_.notify_all();
}

bool Producer::is_index_version_locked(const std::string& file_id) const {
  if (file_id.empty()) return false;
  const IndexState& index = state_.index;
  return file_id == index.published || file_id == index.uploading || std::ranges::count(index.retired, file_id) > 0 ||
         std::ranges::any_of(state_.files, [&](const LocalFile& f) { return f.index && f.file_id == file_id; });
}

Result<std::pair<discovery::IndexRecord, Bytes>> Producer::signed_index_record(std::uint64_t sequence,
                                                                              const std::string& file_id,
                                                                              std::uint64_t timestamp) const {
  OB_TRY(IndexKeys keys, derive_index_keys(home_.master_secret()));
  discovery::IndexRecord record{keys.locator, sequence, file_id, timestamp};
  OB_TRY(Bytes signed_record, record.sign(network_->identity()));
  return std::pair{std::move(record), std::move(signed_record)};
}

void Producer::index_step() {
  // Without a block exchange nobody could fetch a version from this node: no index.
  if (network_ == nullptr || !tracker_) return;
  std::string uploaded;
  std::uint64_t sequence = 0;
  std::string published;
  std::uint64_t published_at = 0;
  bool has_retired = false;
  bool build = false;
  {
    std::lock_guard lock(mutex_);
    const IndexState& index = state_.index;
    // A version leaves state_.files when the tracker reports it UPLOADED (poll_tracker).
    if (!index.uploading.empty() &&
        std::ranges::none_of(state_.files, [&](const LocalFile& f) { return f.file_id == index.uploading; })) {
      uploaded = index.uploading;
    }
    sequence = index.sequence;
    published = index.published;
    published_at = index.published_at;
    has_retired = !index.retired.empty();
    build = index.uploading.empty() && index.dirty && (!index_due_ || Clock::now() >= *index_due_);
  }
  if (Clock::now() < index_retry_at_) {
    uploaded.clear();
    has_retired = false;
  }
  if (!uploaded.empty()) {
    if (auto ok = publish_index_version(uploaded); !ok) {
      spdlog::warn("producer: publishing the file index: {}", ok.error().message);
      index_retry_at_ = Clock::now() + options_.retry_interval;
    } else {
      has_retired = true;
    }
  } else if (!published.empty() && !index_announced_) {
    // The DHT keeps a record while its publisher runs: after a restart (or a recovery) put it
    // again, byte for byte the one first signed.
    if (auto record = signed_index_record(sequence, published, published_at); record) {
      index_announced_ = network_->discovery().put_index_record(record->first, record->second).has_value();
    }
  }
  if (has_retired) retire_index_versions();
  if (build) {
    if (auto ok = build_index_version(); !ok) {
      spdlog::warn("producer: building the file index: {}", ok.error().message);
      std::lock_guard lock(mutex_);
      state_.index.dirty = true;
      index_due_ = Clock::now() + options_.retry_interval;
    }
  }
}

Result<void> Producer::build_index_version() {
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    first = state_.index.sequence == 0 && state_.index.published.empty();
  }
  if (first) {
    // The first version of a home that registered files before it kept an index: the tracker's
    // list of this producer's files is where they are.
    OB_TRY(std::vector<pb::FileInfo> remote, tracker_list(""));
    std::lock_guard lock(mutex_);
    for (const pb::FileInfo& f : remote) {
      if (is_index_version_locked(f.file_id()) || f.status() == pb::STATUS_REMOVING || f.path() == kIndexPath) continue;
      if (std::ranges::find(state_.index.entries, f.file_id(), &IndexEntry::file_id) != state_.index.entries.end()) continue;
      state_.index.entries.push_back(entry_of(f));
    }
  }
  std::vector<IndexEntry> entries;
  NodeConfig config;
  {
    std::lock_guard lock(mutex_);
    entries = state_.index.entries;
    config = config_;
    state_.index.dirty = false;
    index_due_.reset();
  }
  OB_TRY(IndexKeys keys, derive_index_keys(home_.master_secret()));
  OB_TRY(Bytes sealed, seal_index(entries, keys.key));
  // Plain replication at the default availability: a small file, read whole by a recovery.
  UploadOptions replicated;
  replicated.availability = config.default_availability;
  OB_TRY(CodingChoice choice, choose_coding(replicated, config.coding, config.default_availability));
  OB_TRY(Cid cid, engine_.store(memory_source(sealed), FileMetadata{"open-bucket file index", ""}, choice.params));
  const std::string file_id = cid.to_string();
  {
    std::lock_guard lock(mutex_);
    LocalFile version;
    version.path = std::string(kIndexPath);
    version.present = false;
    version.status = LocalStatus::uploading;
    version.file_id = file_id;
    version.size = sealed.size();
    version.availability = choice.availability;
    version.k = choice.params.k;
    version.m = choice.params.m;
    version.index = true;
    state_.files.push_back(std::move(version));
    state_.index.uploading = file_id;
    // Recorded before registering: a crash from here on resumes with RegisterFile.
    OB_TRY_VOID(save_locked());
  }
  spdlog::info("producer: file index of {} file(s) encoded as {}", entries.size(), file_id);
  if (auto registered = register_file(file_id); !registered) {
    spdlog::warn("producer: {} (retried by the status poll)", registered.error().message);
  }
  return {};
}

Result<void> Producer::publish_index_version(const std::string& file_id) {
  std::uint64_t sequence = 0;
  {
    std::lock_guard lock(mutex_);
    sequence = state_.index.sequence + 1;
  }
  const std::uint64_t timestamp = unix_now();
  OB_TRY(auto record, signed_index_record(sequence, file_id, timestamp));
  // The tracker first: it refuses a stale sequence, and then the DHT gets nothing either.
  OB_TRY(tracker::TrackerClient * client, tracker_client());
  pb::PutIndexRecordRequest request;
  request.set_locator(std::string(as_chars(ByteView(record.first.locator.data(), record.first.locator.size()))));
  request.set_record(std::string(as_chars(record.second)));
  pb::PutIndexRecordReply reply;
  auto context = tracker::call_context(options_.tracker_timeout);
  if (const grpc::Status status = client->producer().PutIndexRecord(context.get(), request, &reply); !status.ok()) {
    return std::unexpected(tracker::call_error("handing the file index record to the tracker", status));
  }
  OB_TRY_VOID(network_->discovery().put_index_record(record.first, record.second));
  {
    std::lock_guard lock(mutex_);
    IndexState& index = state_.index;
    if (!index.published.empty()) index.retired.push_back(index.published);
    index.published = file_id;
    index.published_at = timestamp;
    index.uploading.clear();
    index.sequence = sequence;
    OB_TRY_VOID(save_locked());
  }
  index_announced_ = true;
  if (sequence > 1) network_->discovery().cancel_index_record(record.first.locator, sequence - 1);
  spdlog::info("producer: file index {} published, sequence {}", file_id, sequence);
  return {};
}

void Producer::retire_index_versions() {
  std::vector<std::string> retired;
  {
    std::lock_guard lock(mutex_);
    retired = state_.index.retired;
  }
  auto client = tracker_client();
  if (!client) return;
  for (const std::string& file_id : retired) {
    pb::RemoveFileRequest request;
    request.set_file_id(file_id);
    pb::RemoveFileReply reply;
    auto context = tracker::call_context(options_.tracker_timeout);
    const grpc::Status status = (*client)->producer().RemoveFile(context.get(), request, &reply);
    if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) {
      spdlog::warn("producer: {}", tracker::call_error("removing old file index " + file_id, status).message);
      index_retry_at_ = Clock::now() + options_.retry_interval;
      continue;
    }
    drop_encoded_copy(file_id);
    std::lock_guard lock(mutex_);
    std::erase(state_.index.retired, file_id);
    (void)save_locked();
  }
}

}  // namespace ob::producer
