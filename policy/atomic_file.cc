#include "policy/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <random>

namespace bulkhead::policy {
namespace {

// Reading a multi-gigabyte "graph" would only exhaust memory; real graphs are megabytes.
constexpr std::size_t kMaxReadBytes = std::size_t{256} << 20;
constexpr int kTempNameAttempts = 100;

std::string SystemError(const std::string& path, const std::string& what, int err) {
  return path + ": " + what + ": " + std::strerror(err);
}

// Closes a descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }
  // Closes now so the error of close() (NFS reports write errors there) can be checked.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

bool WriteAll(int fd, std::string_view content, int& err) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      err = errno;
      return false;
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A temporary file not modified for this long belongs to no save in progress (a writer touches
// it with every write, and fsync plus rename follow at once): a crashed save's leftover.
constexpr std::chrono::seconds kStaleTempAge{10};
// A dead writer's file is removed sooner, but not in its first second: the pid may be of
// another pid namespace (a containerized agent and a host command writing one directory), where
// this process sees no such pid although the writer is alive.
constexpr std::chrono::seconds kDeadWriterTempAge{1};

// "." + name + ".tmp-": the prefix of every temporary file of `target`.
std::string TempPrefix(const std::filesystem::path& target) {
  return "." + target.filename().string() + ".tmp-";
}

std::string TempName(const std::filesystem::path& dir, const std::filesystem::path& target,
                     std::random_device& random) {
  return (dir / (TempPrefix(target) + std::to_string(::getpid()) + "-" + std::to_string(random())))
      .string();
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// The writer's pid when `name` is exactly one of our temporary names for `prefix`: "<pid>-<n>"
// gives pid, a bare "<n>" (what versions before the pid was added made) gives 0; anything else
// is not ours and gives nullopt.
std::optional<long> TempWriterPid(std::string_view name, std::string_view prefix) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  const std::string_view rest = name.substr(prefix.size());
  const std::size_t dash = rest.find('-');
  if (dash == std::string_view::npos) {
    return AllDigits(rest) ? std::optional<long>(0) : std::nullopt;
  }
  const std::string_view pid_text = rest.substr(0, dash);
  if (!AllDigits(pid_text) || !AllDigits(rest.substr(dash + 1))) {
    return std::nullopt;
  }
  long pid = 0;
  const auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (ec != std::errc() || end != pid_text.data() + pid_text.size() || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

// Removes the temporary files of `target` in `dir` that a crashed save left (see kStaleTempAge).
// Best effort: a file that cannot be examined or removed is left alone.
void RemoveStaleTemps(const std::filesystem::path& dir, const std::filesystem::path& target) {
  const std::string prefix = TempPrefix(target);
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    return;
  }
  const auto now = std::chrono::system_clock::now();
  for (const std::filesystem::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    const std::optional<long> pid = TempWriterPid(name, prefix);
    struct stat st {};
    if (!pid || ::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    const auto modified = std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
    const auto age = now - modified;
    const bool writer_dead = *pid > 0 && ::kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH;
    if (age >= kStaleTempAge || (writer_dead && age >= kDeadWriterTempAge)) {
      ::unlink(entry.path().c_str());
    }
  }
}

// The value and error types are both std::string, so say which one is meant.
boost::system::result<std::string, std::string> Failure(std::string message) {
  return {boost::system::in_place_error, std::move(message)};
}

}  // namespace

boost::system::result<void, std::string> WriteFileAtomically(const std::string& path,
                                                             std::string_view content) {
  if (path == "-") {
    int err = 0;
    if (!WriteAll(STDOUT_FILENO, content, err)) {
      return SystemError("standard output", "cannot write", err);
    }
    return {};
  }
  // A device or FIFO (-o /dev/null, a pipe) is written in place: renaming over it would replace
  // the device node itself, which as root silently breaks the system.
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    if (S_ISDIR(existing.st_mode)) {
      return path + ": is a directory";
    }
    Fd out(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (out.get() < 0) {
      return SystemError(path, "cannot open", errno);
    }
    int err = 0;
    if (!WriteAll(out.get(), content, err)) {
      return SystemError(path, "cannot write", err);
    }
    return {};
  }
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (!target.has_filename()) {
    return path + ": not a file name";
  }

  RemoveStaleTemps(dir, target);

  // O_EXCL on a random name rather than mkstemp: mkstemp creates mode 0600, while the output
  // should get the usual 0666 & ~umask like any other file the user writes. The name carries
  // the pid so a later save can tell a dead writer's leftover (RemoveStaleTemps).
  std::random_device random;
  std::string temp;
  int fd = -1;
  int err = 0;
  for (int attempt = 0; attempt < kTempNameAttempts && fd < 0; ++attempt) {
    temp = TempName(dir, target, random);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    err = errno;
    if (fd < 0 && err != EEXIST) {
      break;
    }
  }
  if (fd < 0) {
    return SystemError(path, "cannot create a temporary file in " + dir.string(), err);
  }
  Fd file(fd);
  auto fail = [&](const std::string& what, int error) {
    ::unlink(temp.c_str());
    return SystemError(path, what, error);
  };
  if (!WriteAll(file.get(), content, err)) {
    return fail("cannot write", err);
  }
  if (::fsync(file.get()) != 0) {
    return fail("cannot sync", errno);
  }
  if (file.Close() != 0) {
    return fail("cannot close", errno);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail("cannot replace", errno);
  }
  // The rename itself is durable only once the directory is synced.
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0 && ::fsync(dir_fd.get()) != 0 && errno != EINVAL && errno != EROFS) {
    return SystemError(path, "written, but cannot sync its directory", errno);
  }
  return {};
}

boost::system::result<void, std::string> CheckWritable(const std::string& path) {
  if (path == "-") {
    return {};
  }
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    if (S_ISDIR(existing.st_mode)) {
      return path + ": is a directory";
    }
    if (::access(path.c_str(), W_OK) != 0) {
      return SystemError(path, "cannot open", errno);
    }
    return {};
  }
  const std::filesystem::path target(path);
  if (!target.has_filename()) {
    return path + ": not a file name";
  }
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  // Create and remove a temporary file as the write will: permissions, a read-only mount, a
  // missing directory or a full inode table all show, as root too.
  std::random_device random;
  const std::string probe = TempName(dir, target, random);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return SystemError(path, "cannot create a temporary file in " + dir.string(), errno);
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return {};
}

boost::system::result<std::string, std::string> ReadWholeFile(const std::string& path) {
  const bool from_stdin = path == "-";
  const std::string name = from_stdin ? std::string("standard input") : path;
  Fd owned(from_stdin ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int fd = from_stdin ? STDIN_FILENO : owned.get();
  if (fd < 0) {
    return Failure(SystemError(name, "cannot open", errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    return Failure(name + ": is a directory");
  }
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Failure(SystemError(name, "cannot read", errno));
    }
    if (n == 0) {
      break;
    }
    if (out.size() + static_cast<std::size_t>(n) > kMaxReadBytes) {
      return Failure(name + ": larger than " + std::to_string(kMaxReadBytes >> 20) + " MiB");
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return boost::system::result<std::string, std::string>(boost::system::in_place_value,
                                                         std::move(out));
}

}  // namespace bulkhead::policy
