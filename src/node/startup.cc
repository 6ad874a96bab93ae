#include "node/startup.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/sha256.h"
#include "store/file_io.h"

namespace ob {
namespace {

namespace fs = std::filesystem;

fs::path absolute_home(const fs::path& home_dir) {
  std::error_code ec;
  fs::path path = fs::absolute(home_dir, ec);
  if (ec) path = home_dir;
  path = path.lexically_normal();
  // "/a/b/" and "/a/b" are one home.
  if (!path.has_filename() && path != path.root_path()) path = path.parent_path();
  return path;
}

/// One argument of ExecStart: double-quoted, with systemd's escapes for `\`, `"`, the
/// specifier character `%` and the variable character `$`.
std::string quote_exec_arg(const std::string& arg) {
  std::string out = "\"";
  for (const char c : arg) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '%': out += "%%"; break;
      case '$': out += "$$"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

/// Removes `path` if it exists (a file or a symlink, never followed). Returns whether it was
/// there. Errors (io).
Result<bool> remove_entry(const fs::path& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return std::unexpected(fileio::errno_error("cannot remove", path, errno));
}

/// Points `link` at `target`, replacing what is there in one rename. Errors (io).
Result<void> symlink_atomic(const fs::path& target, const fs::path& link) {
  const fs::path tmp = link.parent_path() / (link.filename().string() + ".tmp-" + fileio::random_suffix());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    return std::unexpected(fileio::errno_error("cannot create symlink", tmp, errno));
  }
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(fileio::errno_error("cannot rename symlink to", link, err));
  }
  return {};
}

Result<void> create_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(Errc::io, "cannot create ", dir.string(), ": ", ec.message());
  return {};
}

}  // namespace

Result<fs::path> systemd_user_dir() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && xdg[0] == '/') {
    return fs::path(xdg) / "systemd" / "user";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] == '\0') {
    return fail(Errc::invalid_argument, "cannot find the systemd user directory: neither $XDG_CONFIG_HOME nor $HOME is set");
  }
  return fs::path(home) / ".config" / "systemd" / "user";
}

std::string startup_unit_name(const fs::path& home_dir) {
  const Sha256Digest digest = Sha256::hash(as_bytes(absolute_home(home_dir).string()));
  return "open-bucket-" + to_hex(ByteView(digest).first(4)) + ".service";
}

Result<std::string> startup_unit_text(const fs::path& home_dir, const fs::path& executable) {
  const std::string home = absolute_home(home_dir).string();
  const std::string exe = executable.string();
  if (home.find('\n') != std::string::npos || exe.find('\n') != std::string::npos) {
    return fail(Errc::invalid_argument, "cannot write a startup unit for a path with a newline");
  }
  return "# Written by open-bucket (producer/consumer startOnStartup); removed when neither wants it.\n"
         "[Unit]\n"
         "Description=Open Bucket daemon for " + home + "\n"
         "\n"
         "[Service]\n"
         "Type=simple\n"
         "ExecStart=" + quote_exec_arg(exe) + " --home " + quote_exec_arg(home) + " daemon\n"
         "Restart=on-failure\n"
         "RestartSec=5\n"
         "\n"
         "[Install]\n"
         "WantedBy=default.target\n";
}

Result<void> update_startup_unit(const fs::path& home_dir, bool wanted) {
  OB_TRY(const fs::path dir, systemd_user_dir());
  const std::string name = startup_unit_name(home_dir);
  const fs::path unit = dir / name;
  const fs::path wants_dir = dir / "default.target.wants";
  const fs::path link = wants_dir / name;
  if (!wanted) {
    // Disable first, so that a failure half-way never leaves an enabled unit without its file.
    OB_TRY(const bool had_link, remove_entry(link));
    if (had_link) OB_TRY_VOID(fileio::sync_dir(wants_dir));
    OB_TRY(const bool had_unit, remove_entry(unit));
    if (had_unit) OB_TRY_VOID(fileio::sync_dir(dir));
    return {};
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return fail(Errc::io, "cannot find this program's path: ", ec.message());
  OB_TRY(const std::string text, startup_unit_text(home_dir, exe));
  OB_TRY_VOID(create_dirs(wants_dir));
  OB_TRY_VOID(fileio::write_file_atomic(unit, as_bytes(text)));
  OB_TRY_VOID(symlink_atomic(unit, link));
  return fileio::sync_dir(wants_dir);
}

}  // namespace ob
