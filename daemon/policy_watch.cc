#include "daemon/policy_watch.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace bulkhead::daemon {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Every way a directory entry can come to name other bytes: created, written and closed,
// renamed in or out (kubelet's ..data swap, temp+rename), deleted, its mode or owner changed
// (a file made readable). IN_MODIFY is left out: a writer's every write() would start a read of
// a half-written file; its IN_CLOSE_WRITE comes at the end. The *_SELF events and IN_IGNORED
// (always delivered) say the directory itself went away.
constexpr std::uint32_t kDirectoryEvents = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO |
                                           IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF |
                                           IN_MOVE_SELF | IN_ONLYDIR;

std::string ErrnoText(int error) { return std::system_category().message(error); }

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// The directory whose entries decide what `path` names ("." for a bare file name).
std::string DirectoryOf(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

std::string PolicyDigest(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  const std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  // Failures here are allocation failures inside OpenSSL: a programming-level impossibility for
  // SHA-256 from the default provider, so an always-on check.
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md.data(), &length) != 1) {
    std::abort();
  }
  std::string out = "sha256:";
  out.reserve(out.size() + std::size_t{2} * length);
  for (unsigned int i = 0; i < length; ++i) {
    out += fmt::format("{:02x}", md[i]);
  }
  return out;
}

std::string ShortDigest(std::string_view digest, std::size_t hex_digits) {
  const std::size_t colon = digest.find(':');
  const std::size_t start = colon == std::string_view::npos ? 0 : colon + 1;
  return std::string(digest.substr(0, start + hex_digits));
}

boost::system::result<PolicyFileContent, PolicyReadError> ReadPolicyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    return PolicyReadError{error == ENOENT || error == ENOTDIR,
                           fmt::format("{}: {}", path, ErrnoText(error))};
  }
  PolicyFileContent content;
  std::array<char, 65536> buffer{};
  for (;;) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      return PolicyReadError{false, fmt::format("{}: {}", path, ErrnoText(error))};
    }
    if (got == 0) {
      break;
    }
    if (content.bytes.size() + static_cast<std::size_t>(got) > kMaxPolicyFileBytes) {
      ::close(fd);
      return PolicyReadError{
          false, fmt::format("{}: larger than {} MiB", path, kMaxPolicyFileBytes >> 20U)};
    }
    content.bytes.append(buffer.data(), static_cast<std::size_t>(got));
  }
  ::close(fd);
  content.digest = PolicyDigest(content.bytes);
  return content;
}

boost::system::result<std::unique_ptr<PolicyWatch>, std::string> PolicyWatch::Start(
    asio::io_context& io, const std::string& path, std::string current_digest,
    const PolicyWatchOptions& options, OnChange on_change, std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<PolicyWatch> watch(new PolicyWatch(io, path, DirectoryOf(path),
                                                     std::move(current_digest), options,
                                                     std::move(on_change), std::move(log)));
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return fmt::format("watching {}: inotify_init1: {}", watch->directory_, ErrnoText(errno));
  }
  watch->inotify_.assign(fd);
  std::string error;
  if (!watch->AddWatch(error)) {
    return error;
  }
  watch->FollowTarget();
  watch->WaitForEvents();
  return watch;
}

PolicyWatch::PolicyWatch(asio::io_context& io, std::string path, std::string directory,
                         std::string current_digest, const PolicyWatchOptions& options,
                         OnChange on_change, std::shared_ptr<spdlog::logger> log)
    : path_(std::move(path)),
      directory_(std::move(directory)),
      digest_(std::move(current_digest)),
      options_(options),
      on_change_(std::move(on_change)),
      log_(std::move(log)),
      inotify_(io),
      check_timer_(io),
      rewatch_timer_(io) {}

void PolicyWatch::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  check_timer_.cancel();
  rewatch_timer_.cancel();
  boost::system::error_code ignored;
  inotify_.close(ignored);  // the kernel drops the watch with the descriptor
}

bool PolicyWatch::AddWatch(std::string& error) {
  const int wd =
      ::inotify_add_watch(inotify_.native_handle(), directory_.c_str(), kDirectoryEvents);
  if (wd < 0) {
    error = fmt::format("watching {}: inotify_add_watch: {}", directory_, ErrnoText(errno));
    return false;
  }
  wd_ = wd;
  return true;
}

void PolicyWatch::WaitForEvents() {
  inotify_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code& ec) {
                        if (ec || stopped_) {
                          return;  // operation_aborted: Stop closed the descriptor
                        }
                        if (DrainEvents()) {
                          WaitForEvents();
                        }
                      });
}

bool PolicyWatch::DrainEvents() {
  // Room for many events at once; a name is at most NAME_MAX + 1 bytes.
  alignas(inotify_event) std::array<char, 16 * (sizeof(inotify_event) + NAME_MAX + 1)> buffer{};
  for (;;) {
    const ssize_t got = ::read(inotify_.native_handle(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    }
    if (got <= 0) {
      log_->error("policy watch: reading inotify events for {}: {}; no longer following the file",
                  directory_, got < 0 ? ErrnoText(errno) : std::string("end of file"));
      return false;
    }
    // The kernel hands whole events only; each header is copied out rather than cast onto the
    // buffer, and its name length checked against what remains.
    std::size_t offset = 0;
    const auto size = static_cast<std::size_t>(got);
    while (offset + sizeof(inotify_event) <= size) {
      inotify_event header{};
      std::memcpy(&header, buffer.data() + offset, sizeof(header));
      offset += sizeof(inotify_event);
      if (header.len > size - offset) {
        break;
      }
      offset += header.len;
      OnEvent(header.mask, header.wd);
    }
  }
}

void PolicyWatch::OnEvent(std::uint32_t mask, int wd) {
  ++stats_.events;
  if ((mask & IN_Q_OVERFLOW) != 0) {
    ScheduleCheck(options_.debounce);  // events were lost: the file may have changed
    return;
  }
  if (wd == target_wd_ && wd >= 0) {
    if ((mask & IN_IGNORED) != 0) {
      target_wd_ = -1;  // the target's directory went away (kubelet's old version): resolve again
      target_directory_.clear();
    }
    ScheduleCheck(options_.debounce);
    return;
  }
  if (wd != wd_) {
    return;  // a watch already given up
  }
  if ((mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
    if ((mask & IN_IGNORED) != 0) {
      wd_ = -1;
      log_->warn("policy watch: {} went away; the policy in force stays, watching for it again",
                 directory_);
      ArmRewatch();
    } else if ((mask & IN_MOVE_SELF) != 0) {
      // A renamed directory keeps its watch but no longer holds `path_`: watch the name again.
      (void)::inotify_rm_watch(inotify_.native_handle(), wd_);  // IN_IGNORED follows
    }
    return;
  }
  ScheduleCheck(options_.debounce);
}

void PolicyWatch::ScheduleCheck(std::chrono::milliseconds delay) {
  const auto now = Clock::now();
  if (!check_pending_) {
    check_pending_ = true;
    burst_start_ = now;
  }
  const auto deadline = std::min(now + delay, burst_start_ + options_.max_delay);
  check_timer_.expires_at(deadline);  // cancels the wait already armed (a longer burst)
  check_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) {
      return;
    }
    check_pending_ = false;
    Check();
  });
}

void PolicyWatch::Check() {
  ++stats_.checks;
  auto content = ReadPolicyFile(path_);
  if (!content) {
    if (content.error().missing) {
      OnMissing(content.error());
    } else if (content.error().message != unreadable_logged_) {
      unreadable_logged_ = content.error().message;
      log_->error("policy watch: {}; the policy in force stays", unreadable_logged_);
    }
    return;
  }
  FollowTarget();
  missing_since_.reset();
  unreadable_logged_.clear();
  if (missing_logged_) {
    missing_logged_ = false;
    log_->info("policy watch: {} is back", path_);
  }
  if (content->digest == digest_) {
    log_->debug("policy watch: {} unchanged ({})", path_, ShortDigest(digest_));
    return;
  }
  digest_ = content->digest;
  ++stats_.changes;
  on_change_(*content);
}

// Between an unlink and the new file (or a symlink being replaced by hand) the file is briefly
// missing: only a file missing for the whole grace period is worth a log line.
void PolicyWatch::OnMissing(const PolicyReadError& error) {
  if (missing_logged_) {
    return;
  }
  const auto now = Clock::now();
  if (!missing_since_) {
    missing_since_ = now;
  }
  const auto missing_for = now - *missing_since_;
  if (missing_for < options_.missing_grace) {
    ScheduleCheck(std::chrono::duration_cast<std::chrono::milliseconds>(options_.missing_grace -
                                                                        missing_for) +
                  std::chrono::milliseconds(1));
    return;
  }
  missing_logged_ = true;
  log_->warn("policy watch: {}; the policy in force stays until the file is back", error.message);
}

void PolicyWatch::FollowTarget() {
  std::error_code target_error;
  std::error_code here_error;
  const fs::path target = fs::canonical(path_, target_error);
  const fs::path here = fs::canonical(directory_, here_error);
  if (target_error || here_error) {
    return;  // changed under us: the next event resolves again
  }
  const std::string target_directory = target.parent_path().string();
  if (target_directory == here.string()) {
    DropTarget();
    return;
  }
  if (target_directory == target_directory_) {
    return;
  }
  DropTarget();
  const int wd =
      ::inotify_add_watch(inotify_.native_handle(), target_directory.c_str(), kDirectoryEvents);
  if (wd < 0 || wd == wd_) {
    // Not fatal: the link itself is still followed. wd_ would mean the same directory by
    // another name (a bind mount): its watch is already there.
    log_->debug("policy watch: not watching {}: {}", target_directory,
                wd < 0 ? ErrnoText(errno) : std::string("watched already"));
    return;
  }
  target_wd_ = wd;
  target_directory_ = target_directory;
  log_->debug("policy watch: {} resolves into {}, watching it too", path_, target_directory_);
}

void PolicyWatch::DropTarget() {
  if (target_wd_ >= 0) {
    (void)::inotify_rm_watch(inotify_.native_handle(), target_wd_);
  }
  target_wd_ = -1;
  target_directory_.clear();
}

void PolicyWatch::ArmRewatch() {
  rewatch_timer_.expires_after(options_.rewatch_interval);
  rewatch_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) {
      return;
    }
    std::string error;
    if (!AddWatch(error)) {
      log_->debug("policy watch: {}", error);
      ArmRewatch();
      return;
    }
    log_->info("policy watch: watching {} again", directory_);
    ScheduleCheck(options_.debounce);  // the file may have come back with the directory
  });
}

}  // namespace bulkhead::daemon
