#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

// The violations file as its writers share it: violation events (violations.h) and exec events
// (exec_events.h) append JSON lines to the same file, each through a descriptor of its own.
// Lines are whole: one write() per line on an O_APPEND descriptor lands at the end in one piece,
// so a reader tailing the file (or the other writer) never sees half a line. Used on the agent's
// loop only.
namespace bulkhead::daemon {

class JsonLinesFile {
 public:
  // `path` empty: Append does nothing.
  JsonLinesFile(std::string path, std::shared_ptr<spdlog::logger> log);
  ~JsonLinesFile();
  JsonLinesFile(const JsonLinesFile&) = delete;
  JsonLinesFile& operator=(const JsonLinesFile&) = delete;

  // Opens (creating it 0640) or reopens the file (after logrotate moved it; on SIGHUP). False with
  // `error` naming the file and the reason; the previous descriptor then stays in use.
  bool Open(std::string& error);
  // Reopen and log a failure (still writing to the previous file).
  void Reopen();
  // Appends `line` and a newline. A failure is logged once per run of failures.
  void Append(const std::string& line);

 private:
  void Close();

  std::string path_;
  std::shared_ptr<spdlog::logger> log_;
  int fd_ = -1;
  bool failing_ = false;
};

}  // namespace bulkhead::daemon
