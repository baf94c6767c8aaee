#include "daemon/json_lines_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace bulkhead::daemon {

JsonLinesFile::JsonLinesFile(std::string path, std::shared_ptr<spdlog::logger> log)
    : path_(std::move(path)), log_(std::move(log)) {}

JsonLinesFile::~JsonLinesFile() { Close(); }

bool JsonLinesFile::Open(std::string& error) {
  if (path_.empty()) {
    return true;
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot open violations file " + path_ + ": " + std::strerror(errno);
    return false;
  }
  Close();
  fd_ = fd;
  return true;
}

void JsonLinesFile::Reopen() {
  std::string error;
  if (!Open(error)) {
    log_->error("{} (still writing to the previous file)", error);
  }
}

void JsonLinesFile::Append(const std::string& line) {
  if (fd_ < 0) {
    return;
  }
  const std::string whole = line + "\n";
  const ssize_t n = ::write(fd_, whole.data(), whole.size());
  if (n == static_cast<ssize_t>(whole.size())) {
    failing_ = false;
    return;
  }
  if (!failing_) {  // once per run of failures, not once per line
    failing_ = true;
    log_->error("cannot append to violations file {}: {}", path_,
                n < 0 ? std::strerror(errno) : "short write (disk full?)");
  }
}

void JsonLinesFile::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace bulkhead::daemon
