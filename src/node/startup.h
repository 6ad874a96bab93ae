// Starting the daemon when the user logs in (seed 000's startOnStartup of the producer and the
// consumer): a systemd user unit per home.
//
//   $XDG_CONFIG_HOME/systemd/user/open-bucket-<h>.service            (default ~/.config/...)
//   $XDG_CONFIG_HOME/systemd/user/default.target.wants/open-bucket-<h>.service -> ../<unit>
//
// <h> is the first 8 hex digits of SHA-256 of the home's absolute path, so every home gets its
// own unit. The unit runs `<this executable> --home <home> daemon` (Type=simple,
// Restart=on-failure); the daemon then starts the roles whose start_on_startup is true.
// Enabling is the symlink in default.target.wants/, exactly what `systemctl --user enable`
// makes; systemd reads it at the next login (or after `systemctl --user daemon-reload`).
#pragma once

#include <filesystem>
#include <string>

#include "core/error.h"

namespace ob {

/// The directory of the user's systemd units: $XDG_CONFIG_HOME/systemd/user when that is an
/// absolute path, else $HOME/.config/systemd/user. Errors (invalid_argument): neither is set.
Result<std::filesystem::path> systemd_user_dir();

/// The unit's file name for `home_dir`: "open-bucket-<8 hex>.service" (see above).
std::string startup_unit_name(const std::filesystem::path& home_dir);

/// The text of the unit for `home_dir`, running `executable`. Errors (invalid_argument): a path
/// with a newline (a unit file cannot express it).
Result<std::string> startup_unit_text(const std::filesystem::path& home_dir, const std::filesystem::path& executable);

/// Writes the unit running this executable for `home_dir` and enables it (`wanted`), or
/// disables and removes it (not `wanted`; nothing there is fine). Writes are atomic (temp file
/// or symlink, then rename) and durable (directories fsynced). The caller passes whether either
/// role's start_on_startup is true. Errors (invalid_argument): no $HOME; a path with a newline;
/// (io): the directories cannot be written.
Result<void> update_startup_unit(const std::filesystem::path& home_dir, bool wanted);

}  // namespace ob
