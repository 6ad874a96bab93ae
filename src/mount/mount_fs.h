// `open-bucket mount DIR` (issue 13): the producer's files as a file system, through libfuse3's
// high-level API on one thread. The mount is a client of the home's running daemon, like every
// other command: the tree comes from GET /v1/producer/files, reads are ranged GETs of
// /v1/data/{id}/network/stream (the daemon decodes only the stripes a range touches, from its
// own slots or from the consumers), a file written into the mount is spooled under the home and
// uploaded with POST /v1/producer/files/upload when it is closed, `rm` is
// /v1/producer/files/remove and `mv` /v1/producer/edit. So one process owns the home's stores.
//
// Errors become errno values: ENOENT (no such file), EIO (the daemon could not read the range:
// fewer than k slots answered, or a deadline passed), ENOSPC (the quota), EROFS (a change to an
// existing file: files are immutable once uploaded), EACCES (writes outside a new file). Every
// call to the daemon has a deadline, so the kernel is never left waiting; a failed read fails
// that read only.
#pragma once

#include <filesystem>
#include <string>

#include "core/error.h"
#include "node/home.h"

namespace ob::mount {

/// What `open-bucket mount` was asked for.
struct MountOptions {
  std::filesystem::path dir;  ///< the mount point: an existing, empty directory
  bool foreground = false;    ///< stay in the foreground (else daemonize once the mount is up)
};

/// Why `dir` cannot be mounted on, or nothing: (invalid_argument) it is missing, not a
/// directory, not empty, or a stale mount; (not_found) /dev/fuse is missing or not usable.
Result<void> check_mount_point(const std::filesystem::path& dir);

/// Checks the mount point and /dev/fuse (check_mount_point), connects to the home's daemon, mounts, and serves
/// until unmounted (or SIGINT/SIGTERM). Without `foreground` the process detaches once the
/// mount is usable, and the caller's process (the parent) returns success. Errors
/// (invalid_argument): the directory is missing, not a directory, not empty or already a mount;
/// (not_found): no /dev/fuse, or no daemon runs for the home; (io) the mount failed.
Result<void> run_mount(const Home& home, const MountOptions& options);

/// Unmounts `dir`, also when its process died and left it stale ("Transport endpoint is not
/// connected"): umount2 when root, else `fusermount3 -u -z`. Errors (invalid_argument): `dir`
/// is not a mount; (io) the unmount failed (e.g. busy).
Result<void> unmount(const std::filesystem::path& dir);

}  // namespace ob::mount
