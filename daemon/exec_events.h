#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "daemon/json_lines_file.h"
#include "daemon/metrics.h"
#include "inventory/docker_api.h"

// Logins into containers: the runtime's exec events (Docker's exec_create/exec_start/exec_die)
// become one JSON line per session in the violations file, at the session's end, and a metric.
// A container's own health check runs as an exec too, every few seconds: it is counted, never
// logged. An interactive session (a tty: `docker exec -it ... sh`) into a group named in the
// policy's alertOnExec is an alert (`"alert": true`, logged at warn when it starts). While an
// interactive session runs, the violations of its container carry it (SessionsIn).
// Used on the agent's loop only.
namespace bulkhead::daemon {

struct ExecSession {
  std::string id;  // Docker's exec id (64 hex digits)
  std::string container;
  std::string container_id;
  std::string group;
  std::vector<std::string> command;  // entrypoint and arguments; the event's text when unknown
  bool tty = false;
  std::string user;  // empty: the container's user
  bool privileged = false;
  bool alert = false;
  std::uint64_t start_usec = 0;
  std::uint64_t end_usec = 0;
  std::int64_t exit_code = -1;  // -1: unknown
};

// The name a session goes by in violation lines and logs: the first 12 digits of its id.
std::string SessionName(const ExecSession& session);

// {"kind":"exec","time":END,"session":"0123456789ab","container":..,"group":..,"command":[..],
// "tty":true,"user":"","privileged":false,"start":..,"end":..,"exitCode":0[,"alert":true]}
// with every string JSON-escaped (commands and names are attacker-controlled). No newline.
std::string ExecJson(const ExecSession& session);

struct ExecMonitorOptions {
  std::string violations_file;  // appended to; empty: metrics and log only
  std::vector<std::string> alert_groups;
};

class ExecMonitor {
 public:
  // The group of a container (by name and labels), as the agent resolves groups now.
  using GroupOf = std::function<std::string(const std::string& name, const policy::Labels&)>;
  // The clock for sessions whose events carry no time (tests).
  using Clock = std::function<std::uint64_t()>;

  ExecMonitor(ExecMonitorOptions options, GroupOf group_of, Metrics& metrics,
              std::shared_ptr<spdlog::logger> log, Clock clock = {});

  // Opens the violations file; false with `error` naming it.
  bool Open(std::string& error);
  void Reopen() { file_.Reopen(); }
  void SetAlertGroups(const std::vector<std::string>& groups);

  // One exec event, with the container it names as discovery knows it (null: unknown, e.g. it
  // stopped meanwhile). Other events are ignored.
  void OnEvent(const inventory::DockerEvent& event, const inventory::DockerContainer* container);

  // The interactive sessions that ran in the container named `workload` at `ts_usec` (wall
  // clock), comma-separated in start order; empty when none. Sessions that ended lately are kept
  // a while (kRecentSessions), because a violation's NFLOG record arrives up to a second or so
  // after its packet.
  std::string SessionsIn(const std::string& workload, std::uint64_t ts_usec) const;

  std::size_t running() const { return running_.size(); }

 private:
  struct Pending {
    ExecSession session;
    bool health = false;
    std::uint64_t order = 0;
  };
  void Start(Pending& pending, const inventory::DockerEvent& event);
  std::uint64_t TimeOf(const inventory::DockerEvent& event) const;

  ExecMonitorOptions options_;
  GroupOf group_of_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  Clock clock_;
  JsonLinesFile file_;
  std::set<std::string> alert_groups_;
  // By exec id: created or running. Bounded: an exec created and never started (or whose end
  // the agent missed across a dockerd restart) is dropped oldest first past kMaxTracked.
  std::map<std::string, Pending> running_;
  // Interactive sessions that ended, newest last, for SessionsIn.
  std::deque<Pending> recent_;
  std::uint64_t next_order_ = 0;
};

}  // namespace bulkhead::daemon
