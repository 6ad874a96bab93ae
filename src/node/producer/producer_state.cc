#include "node/producer/producer_state.h"

#include "store/file_io.h"

namespace ob::producer {
namespace {

constexpr int kVersion = 1;
constexpr std::size_t kMaxStateBytes = 256 * 1024 * 1024;

Result<LocalStatus> parse_status(std::string_view name) {
  for (const LocalStatus s : {LocalStatus::pending, LocalStatus::uploading, LocalStatus::uploaded}) {
    if (status_name(s) == name) return s;
  }
  return fail(Errc::corrupt, "producer state: unknown status '", name, "'");
}

/// Reads field `key` of `object` into `out` when present, checking its JSON type.
template <typename T>
Result<void> read_field(const nlohmann::json& object, const char* key, T& out) {
  const auto it = object.find(key);
  if (it == object.end()) return {};
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) {
    ok = it->is_boolean();
  } else if constexpr (std::is_same_v<T, std::string>) {
    ok = it->is_string();
  } else if constexpr (std::is_unsigned_v<T>) {
    ok = it->is_number_unsigned() && it->template get<std::uint64_t>() <= std::numeric_limits<T>::max();
  } else {
    ok = it->is_number_integer();
  }
  if (!ok) return fail(Errc::corrupt, "producer state: field '", key, "' has the wrong type");
  out = it->template get<T>();
  return {};
}

/// The "index" object; absent (a file of an older version): empty, to be built.
Result<IndexState> index_from_json(const nlohmann::json& json) {
  IndexState index;
  const auto it = json.find("index");
  if (it == json.end()) {
    index.dirty = true;
    return index;
  }
  if (!it->is_object()) return fail(Errc::corrupt, "producer state: 'index' is not an object");
  OB_TRY_VOID(read_field(*it, "dirty", index.dirty));
  OB_TRY_VOID(read_field(*it, "sequence", index.sequence));
  OB_TRY_VOID(read_field(*it, "published", index.published));
  OB_TRY_VOID(read_field(*it, "publishedAt", index.published_at));
  OB_TRY_VOID(read_field(*it, "uploading", index.uploading));
  for (const char* list : {"entries", "retired"}) {
    const auto items = it->find(list);
    if (items != it->end() && !items->is_array()) return fail(Errc::corrupt, "producer state: 'index.", list, "' is not an array");
  }
  if (const auto retired = it->find("retired"); retired != it->end()) {
    for (const nlohmann::json& id : *retired) {
      if (!id.is_string()) return fail(Errc::corrupt, "producer state: a retired index is not a file ID");
      index.retired.push_back(id.get<std::string>());
    }
  }
  if (const auto entries = it->find("entries"); entries != it->end()) {
    for (const nlohmann::json& item : *entries) {
      if (!item.is_object()) return fail(Errc::corrupt, "producer state: an index entry is not an object");
      IndexEntry e;
      OB_TRY_VOID(read_field(item, "fileId", e.file_id));
      OB_TRY_VOID(read_field(item, "path", e.path));
      OB_TRY_VOID(read_field(item, "size", e.size));
      OB_TRY_VOID(read_field(item, "md5", e.md5));
      OB_TRY_VOID(read_field(item, "tier", e.tier));
      OB_TRY_VOID(read_field(item, "k", e.k));
      OB_TRY_VOID(read_field(item, "m", e.m));
      OB_TRY_VOID(read_field(item, "availability", e.availability));
      OB_TRY_VOID(read_field(item, "requestId", e.request_id));
      OB_TRY_VOID(read_field(item, "createdUnix", e.created_unix));
      if (e.file_id.empty()) return fail(Errc::corrupt, "producer state: an index entry has no fileId");
      index.entries.push_back(std::move(e));
    }
  }
  return index;
}

}  // namespace

std::string_view status_name(LocalStatus status) noexcept {
  switch (status) {
    case LocalStatus::pending:
      return "PENDING";
    case LocalStatus::uploading:
      return "UPLOADING";
    case LocalStatus::uploaded:
      return "UPLOADED";
  }
  return "PENDING";
}

nlohmann::json state_to_json(const ProducerState& state) {
  nlohmann::json files = nlohmann::json::array();
  for (const LocalFile& f : state.files) {
    files.push_back({{"path", f.path},
                     {"md5", f.md5},
                     {"size", f.size},
                     {"mtimeNs", f.mtime_ns},
                     {"present", f.present},
                     {"status", status_name(f.status)},
                     {"fileId", f.file_id},
                     {"availability", f.availability},
                     {"k", f.k},
                     {"m", f.m},
                     {"tier", f.tier},
                     {"error", f.error}});
    if (f.index) files.back()["index"] = true;
    if (f.request) files.back()["storageRequest"] = request_to_json(*f.request);
  }
  nlohmann::json entries = nlohmann::json::array();
  for (const IndexEntry& e : state.index.entries) {
    entries.push_back({{"fileId", e.file_id},
                       {"path", e.path},
                       {"size", e.size},
                       {"md5", e.md5},
                       {"tier", e.tier},
                       {"k", e.k},
                       {"m", e.m},
                       {"availability", e.availability},
                       {"requestId", e.request_id},
                       {"createdUnix", e.created_unix}});
  }
  return {{"version", kVersion},
          {"started", state.started},
          {"files", std::move(files)},
          {"downloadDirs", state.download_dirs},
          {"index",
           {{"entries", std::move(entries)},
            {"dirty", state.index.dirty},
            {"sequence", state.index.sequence},
            {"published", state.index.published},
            {"publishedAt", state.index.published_at},
            {"uploading", state.index.uploading},
            {"retired", state.index.retired}}}};
}

Result<ProducerState> state_from_json(const nlohmann::json& json) {
  if (!json.is_object()) return fail(Errc::corrupt, "producer state: not a JSON object");
  int version = 0;
  OB_TRY_VOID(read_field(json, "version", version));
  if (version != kVersion) return fail(Errc::corrupt, "producer state: unsupported version ", version);
  ProducerState state;
  OB_TRY_VOID(read_field(json, "started", state.started));
  const auto files = json.find("files");
  if (files == json.end() || !files->is_array()) return fail(Errc::corrupt, "producer state: no 'files' array");
  for (const nlohmann::json& item : *files) {
    if (!item.is_object()) return fail(Errc::corrupt, "producer state: a file entry is not an object");
    LocalFile f;
    std::string status;
    OB_TRY_VOID(read_field(item, "path", f.path));
    OB_TRY_VOID(read_field(item, "md5", f.md5));
    OB_TRY_VOID(read_field(item, "size", f.size));
    OB_TRY_VOID(read_field(item, "mtimeNs", f.mtime_ns));
    OB_TRY_VOID(read_field(item, "present", f.present));
    OB_TRY_VOID(read_field(item, "status", status));
    OB_TRY_VOID(read_field(item, "fileId", f.file_id));
    OB_TRY_VOID(read_field(item, "availability", f.availability));
    OB_TRY_VOID(read_field(item, "k", f.k));
    OB_TRY_VOID(read_field(item, "m", f.m));
    OB_TRY_VOID(read_field(item, "tier", f.tier));
    OB_TRY_VOID(read_field(item, "error", f.error));
    OB_TRY_VOID(read_field(item, "index", f.index));
    if (const auto request = item.find("storageRequest"); request != item.end()) {
      OB_TRY(f.request, request_from_json(*request));
    }
    OB_TRY(f.status, parse_status(status));
    if (f.path.empty()) return fail(Errc::corrupt, "producer state: a file entry has no path");
    if (f.status != LocalStatus::pending && f.file_id.empty()) {
      return fail(Errc::corrupt, "producer state: ", f.path, " is ", status, " without a fileId");
    }
    state.files.push_back(std::move(f));
  }
  if (const auto dirs = json.find("downloadDirs"); dirs != json.end()) {
    if (!dirs->is_array()) return fail(Errc::corrupt, "producer state: 'downloadDirs' is not an array");
    for (const nlohmann::json& dir : *dirs) {
      if (!dir.is_string() || dir.get_ref<const std::string&>().empty()) {
        return fail(Errc::corrupt, "producer state: a download directory is not a path");
      }
      state.download_dirs.push_back(dir.get<std::string>());
    }
  }
  OB_TRY(state.index, index_from_json(json));
  return state;
}

Result<ProducerState> load_state(const std::filesystem::path& file) {
  auto bytes = fileio::read_file(file, kMaxStateBytes);
  if (!bytes) {
    if (bytes.error().code == Errc::not_found) return ProducerState{};
    return std::unexpected(bytes.error());
  }
  const nlohmann::json json = nlohmann::json::parse(as_chars(*bytes), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return fail(Errc::corrupt, file.string(), " is not JSON");
  auto state = state_from_json(json);
  if (!state) return std::unexpected(prefixed(state.error(), file.string()));
  return state;
}

Result<void> save_state(const std::filesystem::path& file, const ProducerState& state) {
  OB_TRY_VOID(fileio::create_private_directories(file.parent_path()));
  const std::string text = state_to_json(state).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return fileio::write_file_atomic(file, as_bytes(text), 0600);
}

}  // namespace ob::producer
