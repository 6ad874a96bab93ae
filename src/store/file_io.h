// Small POSIX file helpers with explicit durability: every "durable" write is
// write to a temporary file in the same directory -> fsync it -> rename over the target ->
// fsync the directory, so after a crash the target holds either the old or the new bytes.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace ob::fileio {

/// An errno value as an Error: "what: path: strerror".
Error errno_error(std::string_view what, const std::filesystem::path& path, int err);

/// An open file descriptor, closed on destruction. Movable, not copyable.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Opens with open(2) flags (O_CLOEXEC added). Errors (not_found, io).
Result<Fd> open_fd(const std::filesystem::path& path, int flags, unsigned mode = 0644);
/// Writes all of `data` (retrying short writes and EINTR). Errors (io).
Result<void> write_all(int fd, ByteView data, const std::filesystem::path& path_for_errors);
/// Reads exactly out.size() bytes at `offset`. Errors (io); (corrupt) if the file ends first.
Result<void> pread_exact(int fd, MutableByteView out, std::uint64_t offset,
                         const std::filesystem::path& path_for_errors);
/// fsync(2) a file descriptor. Errors (io).
Result<void> sync_fd(int fd, const std::filesystem::path& path_for_errors);
/// fsyncs a directory so that renames and creations inside it are durable. Errors (io).
Result<void> sync_dir(const std::filesystem::path& dir);

/// Reads a whole file, refusing files larger than `max_size` bytes. Errors (not_found, io,
/// invalid_argument for too large).
Result<Bytes> read_file(const std::filesystem::path& path, std::size_t max_size);

/// Reads a secret (a key, a token) like read_file, but refuses a file that group or others may
/// access: such a secret may already be known to others. Checked on the opened file, so a swap
/// between check and read cannot slip through. Errors (corrupt): "... is readable by other
/// users; run chmod 600 on it"; others as read_file.
Result<Bytes> read_private_file(const std::filesystem::path& path, std::size_t max_size);

/// Creates `dir` and every missing parent as mkdir(2) with mode 0700 (the umask may narrow it,
/// never widen it): directories that hold users' files or slots are private to this user.
/// Directories that exist keep their mode. Returns whether `dir` itself was created.
/// Errors (io): a component exists and is not a directory, or cannot be created.
Result<bool> create_private_directories(const std::filesystem::path& dir);

/// Durably replaces `path` with `data` (temp file, fsync, rename, fsync dir), created with `mode`.
Result<void> write_file_atomic(const std::filesystem::path& path, ByteView data, unsigned mode = 0644);

/// The names of AtomicFile's temporary files: ".ob-tmp-" and 32 lower-case hex digits. Hidden,
/// ours by their prefix, and 128 random bits make a clash with a user's file name practically
/// impossible; the target's name is not part of them, so a long name cannot overflow NAME_MAX.
inline constexpr std::string_view kTemporaryPrefix = ".ob-tmp-";
/// Whether `name` (a file name, not a path) is that of an AtomicFile's temporary file.
bool is_temporary_name(std::string_view name);

/// Removes the entries of `dir` that `is_leftover` selects by name (a directory with all it
/// holds), and with `recursive` those of its subdirectories too (symbolic links are not
/// followed): what a crash left of interrupted writes. A file some process still holds
/// locked (an AtomicFile being written) is kept. Returns how many entries were removed.
/// Errors (io): `dir` cannot be listed; an entry that cannot be removed is logged and kept.
Result<std::size_t> remove_leftovers(const std::filesystem::path& dir,
                                     const std::function<bool(std::string_view name)>& is_leftover,
                                     bool recursive = false);

/// A file being written that appears at its final path only on commit(): written to a
/// temporary file beside it (see kTemporaryPrefix), fsynced and renamed by commit(), removed if
/// abandoned. The temporary file is flock(2)ed while it is written, so remove_leftovers leaves
/// it alone; after a crash nothing holds it and the next sweep removes it.
class AtomicFile {
 public:
  /// Creates the temporary file with `mode` (narrowed by the umask). Errors (io): it cannot be
  /// created (missing directory, permissions).
  static Result<AtomicFile> create(const std::filesystem::path& path, unsigned mode = 0644);
  ~AtomicFile();
  AtomicFile(AtomicFile&&) noexcept;
  AtomicFile& operator=(AtomicFile&&) noexcept = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends bytes. Errors (io).
  Result<void> write(ByteView data);

  /// How copy_from copied.
  enum class CopyMethod {
    clone,     ///< FICLONE: the file shares the source's extents, copy-on-write (btrfs, XFS): nothing written
    kernel,    ///< copy_file_range(2): the kernel copies, no bytes through user space
    buffered,  ///< read(2)/write(2) through a 1 MiB buffer
  };
  /// Fills this (still empty) file with all of `source_fd`'s bytes, from offset 0 whatever the
  /// descriptor's position, the cheapest way the file systems allow: a copy-on-write clone when
  /// both are on one file system that supports it, else copy_file_range, else read/write
  /// (`cheapest` caps the choice, for tests). The descriptor's position is left unchanged.
  /// Errors (io): a read or write fails; (invalid_argument) something was written before.
  Result<CopyMethod> copy_from(int source_fd, const std::filesystem::path& source_for_errors,
                               CopyMethod cheapest = CopyMethod::clone);
  /// fsync, rename onto the final path, fsync the directory. Errors (io).
  Result<void> commit();

 private:
  AtomicFile(std::filesystem::path path, std::filesystem::path tmp, Fd fd)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(std::move(fd)) {}
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  Fd fd_;
  bool committed_ = false;
};

/// "clone", "kernel copy", "buffered copy": for logs.
std::string_view to_string(AtomicFile::CopyMethod method);

/// A random lower-case hex string of `bytes` random bytes (temporary names).
std::string random_suffix(std::size_t bytes = 8);

}  // namespace ob::fileio
