#include "store/file_io.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <spdlog/spdlog.h>
#include <utility>
#include <vector>

namespace ob::fileio {

Error errno_error(std::string_view what, const std::filesystem::path& path, int err) {
  const Errc code = (err == ENOENT) ? Errc::not_found : Errc::io;
  return Error{code, std::string(what) + ": " + path.string() + ": " + std::strerror(err)};
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd::Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Fd& Fd::operator=(Fd&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

Result<Fd> open_fd(const std::filesystem::path& path, int flags, unsigned mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return std::unexpected(errno_error("cannot open", path, errno));
  return Fd(fd);
}

Result<void> write_all(int fd, ByteView data, const std::filesystem::path& path_for_errors) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error("cannot write", path_for_errors, errno));
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> pread_exact(int fd, MutableByteView out, std::uint64_t offset,
                         const std::filesystem::path& path_for_errors) {
  while (!out.empty()) {
    const ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error("cannot read", path_for_errors, errno));
    }
    if (n == 0) return fail(Errc::corrupt, path_for_errors.string(), ": file is shorter than expected");
    out = out.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

Result<void> sync_fd(int fd, const std::filesystem::path& path_for_errors) {
  if (::fsync(fd) != 0) return std::unexpected(errno_error("cannot fsync", path_for_errors, errno));
  return {};
}

Result<void> sync_dir(const std::filesystem::path& dir) {
  OB_TRY(Fd fd, open_fd(dir, O_RDONLY | O_DIRECTORY));
  return sync_fd(fd.get(), dir);
}

namespace {

// Reads the whole of an open regular file of at most `max_size` bytes.
Result<Bytes> read_open_file(const Fd& fd, const struct stat& st, const std::filesystem::path& path,
                             std::size_t max_size) {
  if (!S_ISREG(st.st_mode)) return fail(Errc::invalid_argument, path.string(), ": not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    return fail(Errc::invalid_argument, path.string(), ": ", st.st_size, " bytes exceeds the ",
                max_size, "-byte limit");
  }
  Bytes out(static_cast<std::size_t>(st.st_size));
  OB_TRY_VOID(pread_exact(fd.get(), out, 0, path));
  return out;
}

}  // namespace

Result<Bytes> read_file(const std::filesystem::path& path, std::size_t max_size) {
  OB_TRY(Fd fd, open_fd(path, O_RDONLY));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(errno_error("cannot stat", path, errno));
  return read_open_file(fd, st, path, max_size);
}

Result<Bytes> read_private_file(const std::filesystem::path& path, std::size_t max_size) {
  OB_TRY(Fd fd, open_fd(path, O_RDONLY));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(errno_error("cannot stat", path, errno));
  if ((st.st_mode & 0077) != 0) {
    return fail(Errc::corrupt, path.string(), " is readable by other users; run chmod 600 on it");
  }
  return read_open_file(fd, st, path, max_size);
}

Result<bool> create_private_directories(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  bool created = false;
  for (const std::filesystem::path& part : dir) {
    partial /= part;
    if (part.empty() || part == partial.root_path() || part == "." || part == "..") continue;
    created = ::mkdir(partial.c_str(), 0700) == 0;
    if (created) continue;
    if (errno != EEXIST) return std::unexpected(errno_error("cannot create", partial, errno));
    struct stat st {};
    if (::stat(partial.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return fail(Errc::io, "cannot create ", dir.string(), ": ", partial.string(), " is not a directory");
    }
  }
  return created;
}

bool is_temporary_name(std::string_view name) {
  constexpr std::size_t kHexDigits = 32;
  if (name.size() != kTemporaryPrefix.size() + kHexDigits || !name.starts_with(kTemporaryPrefix)) return false;
  return std::ranges::all_of(name.substr(kTemporaryPrefix.size()),
                             [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

namespace {

// Whether a live process holds the regular file at `path` locked (an AtomicFile being written).
// A file that cannot be opened is not held.
bool held_by_a_writer(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases our lock, if we took it
  return held;
}

}  // namespace

Result<std::size_t> remove_leftovers(const std::filesystem::path& dir,
                                     const std::function<bool(std::string_view name)>& is_leftover, bool recursive) {
  std::error_code ec;
  std::size_t removed = 0;
  std::vector<std::filesystem::path> subdirs;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::filesystem::path& path = it->path();
    const std::filesystem::file_status status = it->symlink_status(ec);
    if (ec) break;
    if (!is_leftover(path.filename().string())) {
      if (recursive && std::filesystem::is_directory(status)) subdirs.push_back(path);
      continue;
    }
    if (std::filesystem::is_regular_file(status) && held_by_a_writer(path)) continue;
    std::error_code remove_ec;
    std::filesystem::remove_all(path, remove_ec);
    if (remove_ec) {
      spdlog::warn("cannot remove the leftover {}: {}", path.string(), remove_ec.message());
    } else {
      ++removed;
    }
  }
  if (ec) return fail(Errc::io, "cannot list ", dir.string(), ": ", ec.message());
  for (const std::filesystem::path& sub : subdirs) {
    auto below = remove_leftovers(sub, is_leftover, true);
    if (below) {
      removed += *below;
    } else {  // a subdirectory that went away or that we may not read: the rest still counts
      spdlog::warn("{}", below.error().message);
    }
  }
  return removed;
}

Result<void> write_file_atomic(const std::filesystem::path& path, ByteView data, unsigned mode) {
  OB_TRY(AtomicFile file, AtomicFile::create(path, mode));
  OB_TRY_VOID(file.write(data));
  return file.commit();
}

std::string random_suffix(std::size_t bytes) {
  // Names only need to be unlikely to collide with a concurrent writer, not secret.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes * 2; ++i) out.push_back(kDigits[rng() & 0xf]);
  return out;
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& path, unsigned mode) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  for (;;) {
    std::filesystem::path tmp = dir / (std::string(kTemporaryPrefix) + random_suffix(16));
    // The umask may narrow `mode`; for keys (0600) that is harmless, for others intended.
    OB_TRY(Fd fd, open_fd(tmp, O_WRONLY | O_CREAT | O_EXCL, mode));
    // Locked so that a sweep (remove_leftovers) leaves it alone while it is written.
    int locked;
    do {
      locked = ::flock(fd.get(), LOCK_EX);
    } while (locked != 0 && errno == EINTR);
    if (locked != 0) return std::unexpected(errno_error("cannot lock", tmp, errno));
    // A sweep may have taken it between the open and the lock: then it is unlinked; try another.
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return std::unexpected(errno_error("cannot stat", tmp, errno));
    if (st.st_nlink > 0) return AtomicFile(path, std::move(tmp), std::move(fd));
  }
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_(std::move(other.tmp_)),
      fd_(std::move(other.fd_)),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFile::~AtomicFile() {
  if (!committed_ && !tmp_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(tmp_, ignored);
  }
}

Result<void> AtomicFile::write(ByteView data) { return write_all(fd_.get(), data, tmp_); }

Result<AtomicFile::CopyMethod> AtomicFile::copy_from(int source_fd, const std::filesystem::path& source_for_errors,
                                                     CopyMethod cheapest) {
  const off_t written = ::lseek(fd_.get(), 0, SEEK_CUR);
  if (written != 0) return fail(Errc::invalid_argument, "copy_from: ", tmp_.string(), " is not empty");
  // A clone replaces the whole file at once; any error (EXDEV, EOPNOTSUPP on ext4, EINVAL)
  // only means "not here": fall through.
  if (cheapest == CopyMethod::clone && ::ioctl(fd_.get(), FICLONE, source_fd) == 0) {
    if (::lseek(fd_.get(), 0, SEEK_END) < 0) return std::unexpected(errno_error("cannot seek", tmp_, errno));
    return CopyMethod::clone;
  }
  loff_t offset = 0;  // of the source; the destination's position advances with it
  CopyMethod method = CopyMethod::buffered;
  if (cheapest != CopyMethod::buffered) {
    method = CopyMethod::kernel;
    for (;;) {
      const ssize_t n = ::copy_file_range(source_fd, &offset, fd_.get(), nullptr, std::size_t{1} << 30, 0);
      if (n > 0) continue;
      if (n == 0) return method;
      if (errno == EINTR) continue;
      // Not supported between these two (older kernels across file systems, special files):
      // finish the copy through user space from where it stopped.
      if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
      return std::unexpected(errno_error("cannot copy", source_for_errors, errno));
    }
    if (offset == 0) method = CopyMethod::buffered;
  }
  Bytes buffer(std::size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::pread(source_fd, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(errno_error("cannot read", source_for_errors, errno));
    if (n == 0) return method;
    OB_TRY_VOID(write_all(fd_.get(), ByteView(buffer.data(), static_cast<std::size_t>(n)), tmp_));
    offset += n;
  }
}

std::string_view to_string(AtomicFile::CopyMethod method) {
  switch (method) {
    case AtomicFile::CopyMethod::clone: return "clone";
    case AtomicFile::CopyMethod::kernel: return "kernel copy";
    case AtomicFile::CopyMethod::buffered: return "buffered copy";
  }
  return "unknown";
}

Result<void> AtomicFile::commit() {
  OB_TRY_VOID(sync_fd(fd_.get(), tmp_));
  // Still open, so still locked: no sweep removes the file before it has its final name.
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    return std::unexpected(errno_error("cannot rename into place", path_, errno));
  }
  fd_ = Fd();
  committed_ = true;
  const std::filesystem::path dir = path_.has_parent_path() ? path_.parent_path() : ".";
  return sync_dir(dir);
}

}  // namespace ob::fileio
