#include "node/producer/pwatcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "store/file_io.h"

namespace ob::producer {
namespace {

// Events of a watched directory; IN_ONLYDIR: only directories are watched.
constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ONLYDIR;

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

}  // namespace

Result<std::unique_ptr<PWatcher>> PWatcher::start(const std::filesystem::path& dir, Callback callback) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return fail(Errc::io, "cannot watch ", dir.string(), ": not a directory");
  const int inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) return fail(Errc::io, "inotify is not available: ", std::strerror(errno));
  const int stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd < 0) {
    ::close(inotify_fd);
    return fail(Errc::io, "cannot create an eventfd: ", std::strerror(errno));
  }
  std::unique_ptr<PWatcher> watcher(new PWatcher(dir, std::move(callback), inotify_fd, stop_fd));
  const int root = ::inotify_add_watch(inotify_fd, dir.c_str(), kMask);
  if (root < 0) {
    return fail(Errc::io, "cannot watch ", dir.string(), ": ", std::strerror(errno),
                errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
  }
  watcher->watches_[root] = "";
  // Subdirectories: a failure here is not fatal (the producer's scan still sees their files);
  // it is logged, and changes there are seen at the next scan.
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) watcher->watch_tree(it->path().filename().string(), false);
  }
  watcher->thread_ = std::thread([w = watcher.get()] { w->run(); });
  return watcher;
}

PWatcher::PWatcher(std::filesystem::path dir, Callback callback, int inotify_fd, int stop_fd)
    : dir_(std::move(dir)), callback_(std::move(callback)), inotify_fd_(inotify_fd), stop_fd_(stop_fd) {}

PWatcher::~PWatcher() {
  stop();
  ::close(inotify_fd_);
  ::close(stop_fd_);
}

void PWatcher::stop() {
  std::lock_guard lock(stop_mutex_);
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  // An eventfd write of 1 cannot fail short; if it failed at all the thread would never wake,
  // so that is worth a log line.
  if (::write(stop_fd_, &one, sizeof one) != static_cast<ssize_t>(sizeof one)) {
    spdlog::error("PWatcher: cannot wake the watcher thread: {}", std::strerror(errno));
  }
  thread_.join();
}

bool PWatcher::watch_tree(const std::string& relative, bool report) {
  const std::filesystem::path path = dir_ / relative;
  const int wd = ::inotify_add_watch(inotify_fd_, path.c_str(), kMask | IN_DONT_FOLLOW);
  if (wd < 0) {
    spdlog::warn("PWatcher: cannot watch {}: {}", path.string(), std::strerror(errno));
    return false;
  }
  watches_[wd] = relative;
  bool ok = true;
  std::error_code ec;
  // Entries created before the watch existed are reported here; ones created after come as
  // events (a file may be reported twice, which is harmless).
  for (auto it = std::filesystem::directory_iterator(path, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_symlink(ec)) continue;
    if (it->is_directory(ec)) {
      ok = watch_tree(join(relative, name), report) && ok;
    } else if (report && it->is_regular_file(ec) && !fileio::is_temporary_name(name)) {
      callback_(join(relative, name), Change::written);
    }
  }
  return ok;
}

void PWatcher::run() {
  // Aligned for struct inotify_event; room for many events per read.
  alignas(inotify_event) char buffer[64 * 1024];
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("PWatcher: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    for (;;) {
      const ssize_t n = ::read(inotify_fd_, buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) spdlog::error("PWatcher: read failed: {}", std::strerror(errno));
        break;
      }
      if (n == 0) break;
      for (ssize_t offset = 0; offset < n;) {
        inotify_event event;
        std::memcpy(&event, buffer + offset, sizeof event);
        const char* name_start = buffer + offset + sizeof(inotify_event);
        const std::string name = event.len > 0 ? std::string(name_start, ::strnlen(name_start, event.len)) : std::string();
        handle(event.wd, event.mask, name);
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event.len);
      }
    }
  }
}

void PWatcher::handle(int wd, std::uint32_t mask, const std::string& name) {
  if ((mask & IN_Q_OVERFLOW) != 0) {
    spdlog::warn("PWatcher: inotify queue overflowed; rescanning {}", dir_.string());
    callback_("", Change::rescan);
    return;
  }
  const auto watch = watches_.find(wd);
  if ((mask & IN_IGNORED) != 0) {  // the directory was removed or moved away
    if (watch != watches_.end()) watches_.erase(watch);
    return;
  }
  if (watch == watches_.end() || name.empty()) return;
  const std::string relative = join(watch->second, name);
  if ((mask & IN_ISDIR) != 0) {
    if ((mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
      if (!watch_tree(relative, true)) callback_("", Change::rescan);
    } else if ((mask & (IN_MOVED_FROM | IN_DELETE)) != 0) {
      // A directory moved away keeps its watches (the kernel follows the inode): drop them, so
      // that its new home outside our tree is not reported under the old name.
      const std::string prefix = relative + "/";
      for (auto it = watches_.begin(); it != watches_.end();) {
        if (it->second == relative || it->second.starts_with(prefix)) {
          ::inotify_rm_watch(inotify_fd_, it->first);
          it = watches_.erase(it);
        } else {
          ++it;
        }
      }
      callback_(relative, Change::removed);
    }
    return;
  }
  if (fileio::is_temporary_name(name)) return;
  if ((mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0) {
    callback_(relative, Change::written);
  } else if ((mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
    callback_(relative, Change::removed);
  }
}

}  // namespace ob::producer
