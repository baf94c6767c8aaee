#include "daemon/exec_events.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "codec/text_escape.h"
#include "policy/model.h"

namespace bulkhead::daemon {
namespace {

constexpr std::string_view kExecsTotal = "bulkhead_execs_total";
constexpr std::string_view kHealthcheckExecsTotal = "bulkhead_healthcheck_execs_total";
// Sessions tracked at once (created or running). Far above what a host runs (a health check
// lives for a second, a shell for minutes); the bound only keeps missed exec_die events from
// growing the map without end.
constexpr std::size_t kMaxTracked = 4096;
// Ended interactive sessions kept for violations still on their way (NFLOG batches records for up
// to a second): the last 64, none older than 30 s.
constexpr std::size_t kRecentSessions = 64;
constexpr std::uint64_t kRecentUsec = 30'000'000;

std::uint64_t WallClockUsec() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A name for the log line: JSON-quoted, so a container name cannot forge a line.
std::string LogText(std::string_view text) { return codec::JsonString(text); }

std::string CommandText(const std::vector<std::string>& command) {
  std::string out;
  for (const std::string& word : command) {
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

}  // namespace

std::string SessionName(const ExecSession& session) { return session.id.substr(0, 12); }

std::string ExecJson(const ExecSession& s) {
  using codec::JsonString;
  std::string out = "{\"kind\":\"exec\",\"time\":\"" + policy::FormatTimestamp(s.end_usec) +
                    "\",\"session\":" + JsonString(SessionName(s)) +
                    ",\"container\":" + JsonString(s.container) +
                    ",\"group\":" + JsonString(s.group) + ",\"command\":[";
  for (std::size_t i = 0; i < s.command.size(); ++i) {
    out += (i == 0 ? "" : ",") + JsonString(s.command[i]);
  }
  out += std::string("],\"tty\":") + (s.tty ? "true" : "false") +
         ",\"user\":" + JsonString(s.user) +
         ",\"privileged\":" + (s.privileged ? "true" : "false") + ",\"start\":\"" +
         policy::FormatTimestamp(s.start_usec) + "\",\"end\":\"" +
         policy::FormatTimestamp(s.end_usec) + "\",\"exitCode\":" + std::to_string(s.exit_code);
  if (s.alert) {
    out += ",\"alert\":true";
  }
  out += "}";
  return out;
}

ExecMonitor::ExecMonitor(ExecMonitorOptions options, GroupOf group_of, Metrics& metrics,
                         std::shared_ptr<spdlog::logger> log, Clock clock)
    : options_(std::move(options)),
      group_of_(std::move(group_of)),
      metrics_(metrics),
      log_(std::move(log)),
      clock_(clock ? std::move(clock) : Clock(WallClockUsec)),
      file_(options_.violations_file, log_) {
  SetAlertGroups(options_.alert_groups);
  metrics_.Describe(kExecsTotal, MetricType::kCounter,
                    "Exec sessions started in containers (docker exec), by group and whether "
                    "they had a terminal (tty); health checks not included.");
  metrics_.Describe(kHealthcheckExecsTotal, MetricType::kCounter,
                    "Health check runs (execs of the container's own health check command), by "
                    "group. Counted, not logged.");
}

bool ExecMonitor::Open(std::string& error) { return file_.Open(error); }

void ExecMonitor::SetAlertGroups(const std::vector<std::string>& groups) {
  alert_groups_ = std::set<std::string>(groups.begin(), groups.end());
}

std::uint64_t ExecMonitor::TimeOf(const inventory::DockerEvent& event) const {
  return event.time_nano > 0 ? static_cast<std::uint64_t>(event.time_nano) / 1000U : clock_();
}

void ExecMonitor::OnEvent(const inventory::DockerEvent& event,
                          const inventory::DockerContainer* container) {
  using Kind = inventory::DockerEventKind;
  if (event.kind != Kind::kExecCreate && event.kind != Kind::kExecStart &&
      event.kind != Kind::kExecDie) {
    return;
  }
  auto it = running_.find(event.exec_id);
  if (it == running_.end()) {
    if (event.kind == Kind::kExecDie) {
      return;  // a session that started before the agent: nothing known to report
    }
    if (running_.size() >= kMaxTracked) {
      running_.erase(std::min_element(running_.begin(), running_.end(), [](auto& a, auto& b) {
        return a.second.order < b.second.order;
      }));
    }
    Pending pending;
    pending.order = next_order_++;
    pending.session.id = event.exec_id;
    pending.session.container_id = event.container_id;
    pending.session.container = container != nullptr ? container->name : event.container_name;
    pending.session.group = group_of_(pending.session.container,
                                      container != nullptr ? container->labels : policy::Labels{});
    pending.session.command = {event.exec_command};
    // Docker names a health check's exec after the command it runs, exactly as it would a
    // person's `docker exec CONTAINER /bin/sh -c CMD`: that is the one exec not reported.
    pending.health = container != nullptr && !event.exec_command.empty() &&
                     event.exec_command == inventory::HealthcheckCommand(*container);
    it = running_.emplace(event.exec_id, std::move(pending)).first;
  }
  Pending& pending = it->second;
  if (event.kind == Kind::kExecStart && pending.session.start_usec == 0) {
    Start(pending, event);
    return;
  }
  if (event.kind != Kind::kExecDie) {
    return;
  }
  Pending ended = std::move(pending);
  running_.erase(it);
  ExecSession& session = ended.session;
  if (ended.health || session.start_usec == 0) {
    return;  // a health check, or created and never started
  }
  session.end_usec = TimeOf(event);
  session.exit_code = event.exit_code;
  file_.Append(ExecJson(session));
  log_->info("exec session {} in {} ended (exit code {})", SessionName(session),
             LogText(session.container), session.exit_code);
  if (session.tty) {
    recent_.push_back(std::move(ended));
    while (recent_.size() > kRecentSessions ||
           recent_.front().session.end_usec + kRecentUsec < recent_.back().session.end_usec) {
      recent_.pop_front();
    }
  }
}

void ExecMonitor::Start(Pending& pending, const inventory::DockerEvent& event) {
  ExecSession& s = pending.session;
  s.start_usec = TimeOf(event);
  if (pending.health) {
    metrics_.Add(kHealthcheckExecsTotal, {{"group", s.group}});
    return;
  }
  if (event.exec) {
    s.command = event.exec->command;
    s.tty = event.exec->tty;
    s.user = event.exec->user;
    s.privileged = event.exec->privileged;
  }
  s.alert = s.tty && alert_groups_.count(s.group) != 0;
  metrics_.Add(kExecsTotal, {{"group", s.group}, {"tty", s.tty ? "true" : "false"}});
  const std::string what = s.tty ? "interactive exec" : "exec";
  if (s.alert) {
    log_->warn("ALERT: {} session {} into {} (group {}, alertOnExec): {}{}", what, SessionName(s),
               LogText(s.container), LogText(s.group), LogText(CommandText(s.command)),
               s.privileged ? " (privileged)" : "");
  } else {
    log_->info("{} session {} into {} (group {}): {}{}", what, SessionName(s), LogText(s.container),
               LogText(s.group), LogText(CommandText(s.command)),
               s.privileged ? " (privileged)" : "");
  }
}

std::string ExecMonitor::SessionsIn(const std::string& workload, std::uint64_t ts_usec) const {
  std::vector<const Pending*> found;
  const auto during = [&](const ExecSession& s) {
    return s.tty && s.start_usec != 0 && s.start_usec <= ts_usec &&
           (s.end_usec == 0 || ts_usec <= s.end_usec) && s.container == workload;
  };
  for (const auto& [id, pending] : running_) {
    if (during(pending.session)) {
      found.push_back(&pending);
    }
  }
  for (const Pending& pending : recent_) {
    if (during(pending.session)) {
      found.push_back(&pending);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const Pending* a, const Pending* b) { return a->order < b->order; });
  std::string out;
  for (const Pending* p : found) {
    out += (out.empty() ? "" : ",") + SessionName(p->session);
  }
  return out;
}

}  // namespace bulkhead::daemon
