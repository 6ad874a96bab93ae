#define FUSE_USE_VERSION 31
#include "mount/mount_fs.h"

#include <fcntl.h>
#include <fuse.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "api/rest_client.h"
#include "coding/crypto.h"
#include "core/bytes.h"
#include "core/cid.h"
#include "mount/read_cache.h"
#include "mount/tree.h"

namespace ob::mount {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Deadlines of the calls to the daemon: a listing or a range (the daemon's own fetch gives up
// on a stalled consumer after 10 s and tries another), and an upload, answered once the file
// is encoded and registered with the tracker.
constexpr std::chrono::seconds kReplyDeadline{30};
constexpr std::chrono::seconds kUploadDeadline{600};
// The listing is asked for again when older than this (lookups come in bursts: `ls -l`).
constexpr auto kListingTtl = 1s;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The errno for an error from the daemon.
int errno_for(const Error& error) {
  switch (error.code) {
    case Errc::not_found: return ENOENT;
    case Errc::quota_exceeded: return ENOSPC;
    case Errc::invalid_argument: return EINVAL;
    default: return EIO;
  }
}

/// A file open in the mount: one being read (its ID and size), or one being written (its
/// spool file under the home).
struct OpenFile {
  std::string path;  // as the kernel named it
  std::string id;
  std::uint64_t size = 0;
  int spool_fd = -1;
  fs::path spool;
  bool dirty = false;     // written since the last upload attempt
  bool uploaded = false;  // flush uploaded it: the spool has moved into the Producer directory
};

struct MountState {
  const Home& home;
  api::RestClient client;
  FileTree tree;
  ReadCache cache;
  std::optional<std::chrono::steady_clock::time_point> listed;
  std::map<std::uint64_t, OpenFile> open;
  std::uint64_t next_handle = 1;
};

MountState& state() { return *static_cast<MountState*>(fuse_get_context()->private_data); }

/// Reads the producer's listing into the tree when it is older than kListingTtl (or `force`).
/// A failed listing keeps the old tree (and is logged): lookups answer from it.
void refresh(MountState& s, bool force = false) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && s.listed && now - *s.listed < kListingTtl) return;
  s.listed = now;
  auto reply = s.client.get_json("/v1/producer/files");
  if (!reply || !reply->is_array()) {
    spdlog::warn("mount: the producer's file list could not be read: {}",
                 reply ? "not the documented JSON" : reply.error().message);
    return;
  }
  std::vector<RemoteEntry> entries;
  for (const nlohmann::json& row : *reply) {
    if (!row.is_object() || !row.value("path", nlohmann::json()).is_string()) continue;
    RemoteEntry e;
    e.path = row["path"].get<std::string>();
    if (row.contains("id") && row["id"].is_string()) e.id = row["id"].get<std::string>();
    if (row.contains("bytes") && row["bytes"].is_number_unsigned()) e.size = row["bytes"].get<std::uint64_t>();
    if (row.contains("status") && row["status"].is_string()) e.status = row["status"].get<std::string>();
    entries.push_back(std::move(e));
  }
  s.tree.update(entries, now_seconds());
}

void fill_stat(const Node& node, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_uid = ::getuid();
  st->st_gid = ::getgid();
  st->st_mtim.tv_sec = node.mtime;
  st->st_ctim.tv_sec = node.mtime;
  st->st_atim.tv_sec = node.mtime;
  if (node.directory) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0644;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(node.size);
    st->st_blocks = static_cast<blkcnt_t>((node.size + 511) / 512);
  }
  st->st_blksize = static_cast<blksize_t>(kWindowBytes);
}

OpenFile* handle(MountState& s, const fuse_file_info* fi) {
  if (fi == nullptr) return nullptr;
  auto it = s.open.find(fi->fh);
  return it == s.open.end() ? nullptr : &it->second;
}

OpenFile* writing(MountState& s, const char* path) {
  for (auto& [fh, f] : s.open) {
    if (f.spool_fd >= 0 && f.path == path) return &f;
  }
  return nullptr;
}

/// The remote path of a mount path: its components joined by '/'; nullopt when it has none.
std::optional<std::string> remote_path(const char* path) {
  auto parts = split_path(path);
  if (!parts || parts->empty()) return std::nullopt;
  std::string out;
  for (const std::string& p : *parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
  MountState& s = state();
  if (OpenFile* f = handle(s, fi); f != nullptr && f->spool_fd >= 0) {
    struct stat spool {};
    if (::fstat(f->spool_fd, &spool) != 0) return -errno;
    fill_stat(Node{false, {}, static_cast<std::uint64_t>(spool.st_size), spool.st_mtim.tv_sec}, st);
    return 0;
  }
  refresh(s);
  auto node = s.tree.lookup(path);
  if (!node) return -ENOENT;
  fill_stat(*node, st);
  return 0;
}

int op_readdir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info*, fuse_readdir_flags) {
  MountState& s = state();
  refresh(s);
  auto names = s.tree.list(path);
  if (!names) return s.tree.lookup(path) ? -ENOTDIR : -ENOENT;
  filler(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const std::string& name : *names) filler(buf, name.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int op_open(const char* path, fuse_file_info* fi) {
  MountState& s = state();
  refresh(s);
  auto node = s.tree.lookup(path);
  if (!node) return -ENOENT;
  if (node->directory) return -EISDIR;
  // Uploaded files are immutable (the design has no in-place change): writes are refused.
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC) != 0) return -EROFS;
  if (node->id.empty()) return -EBUSY;  // still being written or encoded: nothing to read yet
  const std::uint64_t fh = s.next_handle++;
  s.open[fh] = OpenFile{path, node->id, node->size, -1, {}, false, false};
  fi->fh = fh;
  // Not keep_cache: the high-level API names inodes by path, so a file removed and written
  // again under the same path (a new ID, other bytes) could be served from the old pages.
  fi->keep_cache = 0;
  return 0;
}

int op_create(const char* path, mode_t, fuse_file_info* fi) {
  MountState& s = state();
  refresh(s, true);
  if (s.tree.lookup(path)) return (fi->flags & O_EXCL) != 0 ? -EEXIST : -EROFS;
  if (!remote_path(path)) return -EINVAL;
  const fs::path spool_dir = s.home.dir() / "mount-spool";
  std::error_code ec;
  fs::create_directories(spool_dir, ec);
  if (ec) return -EIO;
  Bytes nonce(16);
  if (!crypto::random_bytes(nonce)) return -EIO;
  const fs::path spool = spool_dir / ("spool-" + to_hex(nonce));
  const int fd = ::open(spool.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  if (!s.tree.set_written(path, 0, now_seconds())) {
    ::close(fd);
    fs::remove(spool, ec);
    return -ENOENT;  // the parent is not a directory
  }
  const std::uint64_t fh = s.next_handle++;
  s.open[fh] = OpenFile{path, {}, 0, fd, spool, true, false};
  fi->fh = fh;
  return 0;
}

int op_write(const char* path, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  MountState& s = state();
  OpenFile* f = handle(s, fi);
  if (f == nullptr || f->spool_fd < 0) return -EROFS;
  if (f->uploaded) return -EROFS;  // closed once and uploaded: it is immutable now
  const ssize_t n = ::pwrite(f->spool_fd, buf, size, offset);
  if (n < 0) return -errno;
  f->dirty = true;
  f->size = std::max<std::uint64_t>(f->size, static_cast<std::uint64_t>(offset) + static_cast<std::uint64_t>(n));
  s.tree.set_written(path, f->size, now_seconds());
  return static_cast<int>(n);
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
  MountState& s = state();
  OpenFile* f = handle(s, fi);
  if (f == nullptr) f = writing(s, path);
  if (f == nullptr || f->spool_fd < 0 || f->uploaded) return s.tree.lookup(path) ? -EROFS : -ENOENT;
  if (::ftruncate(f->spool_fd, size) != 0) return -errno;
  f->dirty = true;
  f->size = static_cast<std::uint64_t>(size);
  s.tree.set_written(path, f->size, now_seconds());
  return 0;
}

// Times and modes of a file being written are the spool's business; others are immutable.
int op_utimens(const char* path, const timespec[2], fuse_file_info* fi) {
  MountState& s = state();
  OpenFile* f = handle(s, fi);
  if (f == nullptr) f = writing(s, path);
  if (f != nullptr && f->spool_fd >= 0) return 0;
  refresh(s);
  return s.tree.lookup(path) ? -EROFS : -ENOENT;
}

int op_chmod(const char* path, mode_t, fuse_file_info* fi) { return op_utimens(path, nullptr, fi); }

/// Uploads a file written into the mount: the spool moves to <Producer directory>/<remote path>
/// and the producer's upload takes it from there (PENDING -> UPLOADED as for `producer upload`).
int upload(MountState& s, OpenFile& f) {
  const auto remote = remote_path(f.path.c_str());
  if (!remote) return -EINVAL;
  if (::fsync(f.spool_fd) != 0) return -errno;
  const fs::path target = s.home.producer_dir() / *remote;
  std::error_code ec;
  if (fs::exists(target, ec)) return -EEXIST;  // a local file of that name waits in the Producer directory
  fs::create_directories(target.parent_path(), ec);
  if (ec) return -EIO;
  fs::rename(f.spool, target, ec);
  if (ec == std::errc::cross_device_link) {
    fs::copy_file(f.spool, target, ec);
    if (!ec) fs::remove(f.spool, ec);
  }
  if (ec) {
    spdlog::error("mount: {} could not be moved into the Producer directory: {}", f.path, ec.message());
    return -EIO;
  }
  f.uploaded = true;
  s.client.set_reply_timeout(kUploadDeadline);
  auto reply = s.client.post_json("/v1/producer/files/upload", nlohmann::json{{"path", target.string()}});
  s.client.set_reply_timeout(kReplyDeadline);
  if (!reply) {
    // The file stays in the Producer directory as PENDING; the producer retries it.
    spdlog::error("mount: upload of {} failed: {}", f.path, reply.error().message);
    return -errno_for(reply.error());
  }
  spdlog::info("mount: {} is uploading as {}", f.path, reply->value("id", ""));
  s.listed.reset();  // the next lookup lists again, and finds it
  return 0;
}

int op_flush(const char*, fuse_file_info* fi) {
  MountState& s = state();
  OpenFile* f = handle(s, fi);
  if (f == nullptr || f->spool_fd < 0 || !f->dirty || f->uploaded) return 0;
  f->dirty = false;
  return upload(s, *f);
}

int op_release(const char*, fuse_file_info* fi) {
  MountState& s = state();
  OpenFile* f = handle(s, fi);
  if (f == nullptr) return 0;
  if (f->spool_fd >= 0) {
    ::close(f->spool_fd);
    if (!f->uploaded) {
      std::error_code ec;
      fs::remove(f->spool, ec);
      s.tree.forget_written(f->path);
    }
  }
  s.open.erase(fi->fh);
  return 0;
}

int op_read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  MountState& s = state();
  OpenFile* f = handle(s, fi);
  if (f == nullptr || f->id.empty()) return -EBADF;
  auto cid = Cid::parse(f->id);
  if (!cid) return -EIO;
  const std::uint64_t start = static_cast<std::uint64_t>(offset);
  if (start >= f->size) return 0;
  const std::uint64_t end = std::min<std::uint64_t>(f->size, start + size);
  std::uint64_t done = 0;
  for (std::uint64_t window = start / kWindowBytes; window * kWindowBytes < end; ++window) {
    std::shared_ptr<const Bytes> bytes = s.cache.get(f->id, window);
    if (!bytes) {
      auto read = s.client.read_range(*cid, window * kWindowBytes, kWindowBytes);
      if (!read) {
        spdlog::warn("mount: read of {} at {} failed: {}", f->path, window * kWindowBytes, read.error().message);
        return -(read.error().code == Errc::not_found ? ENOENT : EIO);
      }
      bytes = std::make_shared<const Bytes>(std::move(*read));
      s.cache.put(f->id, window, bytes);
    }
    const std::uint64_t window_start = window * kWindowBytes;
    const std::uint64_t from = std::max(start, window_start);
    const std::uint64_t to = std::min(end, window_start + bytes->size());
    if (from >= to) break;  // the file is shorter than listed
    std::memcpy(buf + (from - start), bytes->data() + (from - window_start), to - from);
    done = to - start;
    if (bytes->size() < kWindowBytes) break;
  }
  return static_cast<int>(done);
}

int op_unlink(const char* path) {
  MountState& s = state();
  refresh(s, true);
  auto node = s.tree.lookup(path);
  if (!node) return -ENOENT;
  if (node->directory) return -EISDIR;
  if (node->id.empty()) return -EBUSY;
  auto reply = s.client.post_json("/v1/producer/files/remove", nlohmann::json{{"fileId", node->id}});
  if (!reply) {
    spdlog::warn("mount: rm {}: {}", path, reply.error().message);
    return -errno_for(reply.error());
  }
  s.cache.forget(node->id);
  refresh(s, true);
  return 0;
}

int op_mkdir(const char* path, mode_t) {
  MountState& s = state();
  refresh(s);
  if (s.tree.lookup(path)) return -EEXIST;
  return s.tree.make_directory(path, now_seconds()) ? 0 : -ENOENT;
}

int op_rmdir(const char* path) {
  MountState& s = state();
  refresh(s, true);
  return -s.tree.remove_directory(path);
}

int op_rename(const char* from, const char* to, unsigned int flags) {
  MountState& s = state();
  if (flags != 0) return -EINVAL;  // RENAME_EXCHANGE / RENAME_NOREPLACE: not supported
  refresh(s, true);
  auto node = s.tree.lookup(from);
  if (!node) return -ENOENT;
  if (s.tree.lookup(to)) return -EEXIST;  // files are immutable: none is replaced
  const auto target = remote_path(to);
  if (!target) return -EINVAL;
  if (node->directory) {
    // An empty directory made here moves in memory; one holding files would be one edit per
    // file: EXDEV makes `mv` copy and remove instead.
    if (s.tree.remove_directory(from) != 0) return -EXDEV;
    return s.tree.make_directory(to, now_seconds()) ? 0 : -ENOENT;
  }
  if (node->id.empty()) return -EBUSY;
  auto parent = s.tree.lookup(fs::path(*target).parent_path().string());
  if (!parent || !parent->directory) return -ENOENT;
  auto reply = s.client.post_json("/v1/producer/edit", nlohmann::json{{"fileId", node->id}, {"path", *target}});
  if (!reply) {
    spdlog::warn("mount: mv {} {}: {}", from, to, reply.error().message);
    return -errno_for(reply.error());
  }
  refresh(s, true);
  return 0;
}

void* op_init(fuse_conn_info*, fuse_config* config) {
  config->entry_timeout = 1;
  config->attr_timeout = 1;
  config->negative_timeout = 0;
  return fuse_get_context()->private_data;
}

fuse_operations operations() {
  fuse_operations ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.readdir = op_readdir;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.truncate = op_truncate;
  ops.utimens = op_utimens;
  ops.chmod = op_chmod;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.unlink = op_unlink;
  ops.mkdir = op_mkdir;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  return ops;
}

}  // namespace

Result<void> check_mount_point(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOTCONN) {
      return fail(Errc::invalid_argument, dir.string(), " is a stale mount (its process is gone): run `open-bucket unmount ",
                  dir.string(), "` first");
    }
    return fail(Errc::invalid_argument, "the mount point ", dir.string(), " does not exist: ", std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return fail(Errc::invalid_argument, "the mount point ", dir.string(), " is not a directory");
  std::error_code ec;
  if (!fs::is_empty(dir, ec) || ec) {
    return fail(Errc::invalid_argument, "the mount point ", dir.string(), " is not empty");
  }
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    return fail(Errc::not_found, "/dev/fuse is missing or not usable here (", std::strerror(errno),
                "): install fuse3 and load the fuse module");
  }
  return {};
}

Result<void> run_mount(const Home& home, const MountOptions& options) {
  std::error_code ec;
  const fs::path dir = fs::absolute(options.dir, ec).lexically_normal();
  OB_TRY_VOID(check_mount_point(dir));
  OB_TRY(std::optional<api::RestClient> client, api::RestClient::connect(home));
  if (!client) {
    return fail(Errc::not_found, "no daemon runs for ", home.dir().string(),
                ": start one (`open-bucket daemon`, or any `producer` command) before mounting");
  }
  client->set_reply_timeout(kReplyDeadline);
  MountState mount_state{home, std::move(*client), {}, ReadCache(), {}, {}, 1};

  // -o: the kernel checks modes; any user may read when we are root (others need
  // user_allow_other in /etc/fuse.conf for that, so they get a mount of their own).
  std::vector<std::string> argv_text{"open-bucket", "-o", "fsname=open-bucket,subtype=open-bucket,default_permissions"};
  if (::geteuid() == 0) argv_text.back() += ",allow_other";
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const fuse_operations ops = operations();
  fuse* fs_handle = fuse_new(&args, &ops, sizeof ops, &mount_state);
  if (fs_handle == nullptr) return fail(Errc::io, "the FUSE file system could not be set up");
  if (fuse_mount(fs_handle, dir.c_str()) != 0) {
    fuse_destroy(fs_handle);
    return fail(Errc::io, "mounting ", dir.string(), " failed (see the line above)");
  }
  fuse_session* session = fuse_get_session(fs_handle);
  if (fuse_set_signal_handlers(session) != 0) {
    fuse_unmount(fs_handle);
    fuse_destroy(fs_handle);
    return fail(Errc::io, "signal handlers could not be set");
  }
  if (!options.foreground) {
    // The mount is up: the parent returns now (libfuse's fork, setsid, stdio to /dev/null).
    (void)fuse_daemonize(0);
  } else {
    (void)fuse_daemonize(1);
  }
  spdlog::info("mount: {} serves the producer's files of {}", dir.string(), home.dir().string());
  const int loop = fuse_loop(fs_handle);
  fuse_remove_signal_handlers(session);
  fuse_unmount(fs_handle);
  fuse_destroy(fs_handle);
  if (loop != 0) return fail(Errc::io, "the mount of ", dir.string(), " ended with an error (", loop, ")");
  return {};
}

Result<void> unmount(const fs::path& dir_arg) {
  std::error_code ec;
  const fs::path dir = fs::absolute(dir_arg, ec).lexically_normal();
  if (::geteuid() == 0) {
    if (::umount2(dir.c_str(), 0) == 0) return {};
    const int err = errno;
    if (err == EINVAL) return fail(Errc::invalid_argument, dir.string(), " is not a mount point");
    if (err == ENOENT) return fail(Errc::invalid_argument, dir.string(), " does not exist");
    // A stale mount (its process died) or a busy one: detach it now, the kernel ends it when
    // the last user lets go.
    if (::umount2(dir.c_str(), MNT_DETACH) == 0) return {};
    return fail(Errc::io, "unmounting ", dir.string(), " failed: ", std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) return fail(Errc::io, "fork: ", std::strerror(errno));
  if (pid == 0) {
    ::execlp("fusermount3", "fusermount3", "-u", "-z", "-q", dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return fail(Errc::not_found, "fusermount3 is not installed");
  return fail(Errc::io, "unmounting ", dir.string(), " failed (fusermount3 -u said why above)");
}

}  // namespace ob::mount
