#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

// Following the policy file (agent.yaml `followPolicy`): an inotify watch on the directory that
// holds the file, on the agent's event loop. A directory watch, not a file watch, because the
// ways a policy file changes replace the file rather than write to it:
//   - a Kubernetes ConfigMap mounted as a directory: DIR/policy.yaml -> ..data/policy.yaml,
//     ..data -> ..2026_12_07_23_00_00.123456789; kubelet writes a new timestamped directory,
//     points a new symlink ..data_tmp at it and renames that over ..data (one atomic swap), then
//     removes the old directory. Nothing happens to DIR/policy.yaml itself;
//   - an editor's or a config manager's temp file renamed over the file (IN_MOVED_TO);
//   - a write in place (IN_CLOSE_WRITE), a delete and a new file (IN_DELETE, IN_CREATE).
// Any such event in the directory starts a short debounce; then the file is read (symlinks
// followed), its bytes digested, and the callback gets them only when the digest differs from
// the last one seen. What a change means (parse, apply, refuse) is the caller's business
// (EnforcementLoop::OnPolicyFile).
//
// A file missing at a check (deleted and not yet recreated) is not an error: it is checked again
// after a grace period, and only a file still missing then is logged, once, until it is back.
// The policy in force stays meanwhile. A directory that goes away is watched again when it
// returns (checked every second). When the file is a symlink into another directory
// (/etc/bulkhead/policy.yaml -> /srv/policies/v7.yaml), that directory is watched too, so an
// edit of the target is followed as well as a new link; kubelet's layout needs no second watch
// (its target directory is replaced, never edited) but gets one, harmlessly.
namespace bulkhead::daemon {

// "sha256:" and the 64 lowercase hex digits of SHA-256 over `bytes`: the file's digest as
// `sha256sum FILE` prints it, prefixed. Names the policy in `status` and in the
// bulkhead_policy_info metric.
std::string PolicyDigest(std::string_view bytes);

// The first `hex_digits` hex digits of a digest, prefix kept ("sha256:0123456789ab").
std::string ShortDigest(std::string_view digest, std::size_t hex_digits = 12);

// The policy file as read once: parsing these bytes, not a second read, keeps the digest the
// name of exactly what was parsed.
struct PolicyFileContent {
  std::string bytes;
  std::string digest;  // PolicyDigest(bytes)
};

struct PolicyReadError {
  bool missing = false;  // ENOENT or ENOTDIR somewhere along the path or its symlinks
  std::string message;   // names the file and the reason
};

// Reads the whole file (symlinks followed). Bounded: a file over kMaxPolicyFileBytes is an
// error, not an allocation.
boost::system::result<PolicyFileContent, PolicyReadError> ReadPolicyFile(const std::string& path);
// A bound against a wrong path (a huge log, a device) read into memory, not a policy size.
inline constexpr std::size_t kMaxPolicyFileBytes = 64U << 20;

struct PolicyWatchOptions {
  // From the last event to the read: a kubelet swap or a temp+rename is a burst of events
  // within a millisecond or two.
  std::chrono::milliseconds debounce{100};
  // A steady stream of events cannot hold the read back longer than this.
  std::chrono::milliseconds max_delay{1000};
  // A file missing at a check is checked again after this; only then is it logged.
  std::chrono::milliseconds missing_grace{1000};
  // How often a directory that went away is looked for.
  std::chrono::milliseconds rewatch_interval{1000};
};

struct PolicyWatchStats {
  std::uint64_t events = 0;   // inotify events in the directory
  std::uint64_t checks = 0;   // reads of the file after a debounce
  std::uint64_t changes = 0;  // callbacks: a new digest
};

class PolicyWatch {
 public:
  using OnChange = std::function<void(const PolicyFileContent&)>;

  // Watches the directory of `path`; `current_digest` is the digest of the policy in force, so
  // an event that leaves the file as it was calls nothing. The callback runs on the event loop.
  // Errors (inotify_init1, inotify_add_watch) name the directory.
  static boost::system::result<std::unique_ptr<PolicyWatch>, std::string> Start(
      boost::asio::io_context& io, const std::string& path, std::string current_digest,
      const PolicyWatchOptions& options, OnChange on_change, std::shared_ptr<spdlog::logger> log);

  PolicyWatch(const PolicyWatch&) = delete;
  PolicyWatch& operator=(const PolicyWatch&) = delete;
  // Without Stop, the descriptor's and timers' own destructors cancel the waits; the handlers
  // look at their error code before anything else of this object.
  ~PolicyWatch() = default;

  // Cancels the waits and closes the inotify descriptor; no callback after this returns.
  void Stop();
  const PolicyWatchStats& stats() const { return stats_; }
  const std::string& directory() const { return directory_; }

 private:
  PolicyWatch(boost::asio::io_context& io, std::string path, std::string directory,
              std::string current_digest, const PolicyWatchOptions& options, OnChange on_change,
              std::shared_ptr<spdlog::logger> log);
  bool AddWatch(std::string& error);
  void WaitForEvents();
  // Reads every queued event; false when the descriptor failed (logged).
  bool DrainEvents();
  void OnEvent(std::uint32_t mask, int wd);
  // The read comes at `delay` from now, but no later than max_delay after the first event of
  // the burst.
  void ScheduleCheck(std::chrono::milliseconds delay);
  void Check();
  void OnMissing(const PolicyReadError& error);
  void ArmRewatch();
  // Watches the directory of the file `path_` resolves to when it is not directory_; drops a
  // watch on an earlier target's directory.
  void FollowTarget();
  void DropTarget();

  std::string path_;
  std::string directory_;
  std::string digest_;  // the last digest seen (or handed over)
  PolicyWatchOptions options_;
  OnChange on_change_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::posix::stream_descriptor inotify_;
  boost::asio::steady_timer check_timer_;
  boost::asio::steady_timer rewatch_timer_;
  int wd_ = -1;                   // the directory's watch; -1 while the directory is gone
  std::string target_directory_;  // the symlink target's directory, when elsewhere
  int target_wd_ = -1;
  bool stopped_ = false;
  bool check_pending_ = false;
  std::chrono::steady_clock::time_point burst_start_{};
  std::optional<std::chrono::steady_clock::time_point> missing_since_;
  bool missing_logged_ = false;
  std::string unreadable_logged_;  // the last read error logged (each logged once)
  PolicyWatchStats stats_;
};

}  // namespace bulkhead::daemon
