// `open-bucket mount DIR [--foreground]` and `open-bucket unmount DIR` (issue 13): the
// producer's files as a file system (mount/mount_fs.h), served by a client of the home's
// daemon, which is started first when none runs (as `producer` commands do).
#include <string>

#include "cli/commands.h"
#include "mount/mount_fs.h"
#include "node/home.h"

namespace ob::cli {

CommandRunner add_mount_commands(CLI::App& app, const std::optional<std::string>& home) {
  struct Flags {
    std::string dir;
    bool foreground = false;
  };
  auto flags = std::make_shared<Flags>();
  auto* mount = app.add_subcommand(
      "mount", "Show the producer's files as a file system at DIR: read any file at any offset, write new files, rm, mv, mkdir");
  mount->add_option("DIR", flags->dir, "An existing, empty directory")->required();
  mount->add_flag("--foreground", flags->foreground, "Stay in the foreground until unmounted (logs on stderr)");
  auto* unmount = app.add_subcommand("unmount", "Unmount a mount made by `open-bucket mount`, also one left stale by a crash");
  unmount->add_option("DIR", flags->dir, "The mount point")->required();

  return [&home, flags, mount, unmount]() -> std::optional<int> {
    if (unmount->parsed()) {
      if (auto ok = mount::unmount(flags->dir); !ok) return report(ok.error());
      return 0;
    }
    if (!mount->parsed()) return std::nullopt;
    if (auto ok = mount::check_mount_point(flags->dir); !ok) return report(ok.error());
    // The daemon owns the home's stores; the mount is its client (started here if need be).
    if (auto client = daemon_client(home, /*start=*/true); !client) return report(client.error());
    auto dir = resolve_home(home);
    if (!dir) return report(dir.error());
    auto opened = Home::open(*dir);
    if (!opened) return report(opened.error());
    if (auto ok = mount::run_mount(*opened, {flags->dir, flags->foreground}); !ok) return report(ok.error());
    return 0;
  };
}

}  // namespace ob::cli
