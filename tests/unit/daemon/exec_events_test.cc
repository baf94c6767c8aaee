#include "daemon/exec_events.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace bulkhead::daemon {
namespace {

using inventory::DockerEvent;
using inventory::DockerEventKind;

const std::string kContainerId(64, 'c');

std::string ExecId(char digit) { return std::string(64, digit); }
// Microseconds since the epoch, `second` seconds after the tests' events begin.
std::uint64_t At(std::int64_t second) {
  return static_cast<std::uint64_t>(1'800'000'000 + second) * 1'000'000U;
}

class ExecMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/bulkhead-exec-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    file_ = dir_ + "/violations.jsonl";
    log_ = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    container_.id = kContainerId;
    container_.name = "shop-frontend-1";
    container_.labels = {{"app", "frontend"}};
    container_.healthcheck = {"CMD-SHELL", "wget -q -O- http://127.0.0.1/"};
    ExecMonitorOptions options;
    options.violations_file = file_;
    options.alert_groups = {"frontend"};
    monitor_ = std::make_unique<ExecMonitor>(
        options,
        [](const std::string&, const policy::Labels& labels) {
          return labels.count("app") != 0 ? labels.at("app") : std::string("?");
        },
        metrics_, log_);
    std::string error;
    ASSERT_TRUE(monitor_->Open(error)) << error;
  }
  void TearDown() override {
    monitor_.reset();
    std::remove(file_.c_str());
    ::rmdir(dir_.c_str());
  }

  void Send(DockerEventKind kind, char id, std::string command, std::int64_t second,
            std::optional<inventory::DockerExec> exec = std::nullopt, std::int64_t exit = -1) {
    DockerEvent e;
    e.kind = kind;
    e.container_id = kContainerId;
    e.exec_id = ExecId(id);
    e.exec_command = std::move(command);
    e.time_nano = static_cast<std::int64_t>(At(second)) * 1000;
    e.exec = std::move(exec);
    e.exit_code = exit;
    monitor_->OnEvent(e, &container_);
  }

  std::vector<std::string> Lines() const {
    std::ifstream in(file_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  }

  std::string dir_;
  std::string file_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  Metrics metrics_;
  inventory::DockerContainer container_;
  std::unique_ptr<ExecMonitor> monitor_;
};

inventory::DockerExec Inspect(char id, std::vector<std::string> command, bool tty) {
  inventory::DockerExec x;
  x.id = ExecId(id);
  x.container_id = kContainerId;
  x.command = std::move(command);
  x.tty = tty;
  x.user = "root";
  x.running = true;
  return x;
}

TEST_F(ExecMonitorTest, OneLinePerSessionAtItsEndAndAMetricAtItsStart) {
  Send(DockerEventKind::kExecCreate, 'a', "sh", 0);
  Send(DockerEventKind::kExecStart, 'a', "sh", 1, Inspect('a', {"sh"}, true));
  EXPECT_EQ(metrics_.Get("bulkhead_execs_total", {{"group", "frontend"}, {"tty", "true"}}), 1);
  EXPECT_EQ(monitor_->SessionsIn("shop-frontend-1", At(2)), "aaaaaaaaaaaa");
  EXPECT_EQ(monitor_->SessionsIn("shop-frontend-1", At(0)), "");
  EXPECT_TRUE(Lines().empty());
  EXPECT_NE(log_text_.str().find("ALERT: interactive exec session aaaaaaaaaaaa"),
            std::string::npos);
  Send(DockerEventKind::kExecDie, 'a', "", 5, std::nullopt, 0);
  // A violation logged during the session but read after its end still carries it.
  EXPECT_EQ(monitor_->SessionsIn("shop-frontend-1", At(4)), "aaaaaaaaaaaa");
  EXPECT_EQ(monitor_->SessionsIn("shop-frontend-1", At(6)), "");
  ASSERT_EQ(Lines().size(), 1U);
  EXPECT_EQ(Lines()[0],
            "{\"kind\":\"exec\",\"time\":\"2027-01-15T08:00:05.000Z\",\"session\":\"aaaaaaaaaaaa\","
            "\"container\":\"shop-frontend-1\",\"group\":\"frontend\",\"command\":[\"sh\"],"
            "\"tty\":true,\"user\":\"root\",\"privileged\":false,\"start\":"
            "\"2027-01-15T08:00:01.000Z\",\"end\":\"2027-01-15T08:00:05.000Z\",\"exitCode\":0,"
            "\"alert\":true}");
}

TEST_F(ExecMonitorTest, NonInteractiveIsLoggedWithoutAlertAndTagsNothing) {
  Send(DockerEventKind::kExecCreate, 'b', "cat /etc/passwd", 0);
  Send(DockerEventKind::kExecStart, 'b', "cat /etc/passwd", 0,
       Inspect('b', {"cat", "/etc/passwd"}, false));
  EXPECT_EQ(monitor_->SessionsIn("shop-frontend-1", At(0)), "");
  Send(DockerEventKind::kExecDie, 'b', "", 1, std::nullopt, 1);
  ASSERT_EQ(Lines().size(), 1U);
  EXPECT_NE(Lines()[0].find("\"command\":[\"cat\",\"/etc/passwd\"],\"tty\":false"),
            std::string::npos);
  EXPECT_EQ(Lines()[0].find("alert"), std::string::npos);
  EXPECT_EQ(metrics_.Get("bulkhead_execs_total", {{"group", "frontend"}, {"tty", "false"}}), 1);
}

TEST_F(ExecMonitorTest, HealthChecksAreCountedNotLogged) {
  for (char id : {'1', '2', '3'}) {
    Send(DockerEventKind::kExecCreate, id, "/bin/sh -c wget -q -O- http://127.0.0.1/", 0);
    Send(DockerEventKind::kExecStart, id, "/bin/sh -c wget -q -O- http://127.0.0.1/", 0);
    Send(DockerEventKind::kExecDie, id, "", 1, std::nullopt, 0);
  }
  EXPECT_TRUE(Lines().empty());
  EXPECT_EQ(metrics_.Get("bulkhead_healthcheck_execs_total", {{"group", "frontend"}}), 3);
  EXPECT_EQ(metrics_.Render().find("bulkhead_execs_total{"), std::string::npos);
  EXPECT_EQ(monitor_->running(), 0U);
}

TEST_F(ExecMonitorTest, HostileCommandsAreEscapedAndUnknownEndsIgnored) {
  Send(DockerEventKind::kExecDie, 'd', "", 1);  // began before the agent: nothing to say
  Send(DockerEventKind::kExecCreate, 'e', "x", 0);
  Send(DockerEventKind::kExecStart, 'e', "x", 0,
       Inspect('e', {"sh", "-c", "echo \"}\n{\\\"kind\\\":1"}, false));
  Send(DockerEventKind::kExecDie, 'e', "", 1);
  ASSERT_EQ(Lines().size(), 1U);
  EXPECT_NE(Lines()[0].find(R"("command":["sh","-c","echo \"}\n{\\\"kind\\\":1"])"),
            std::string::npos)
      << Lines()[0];
}

TEST_F(ExecMonitorTest, ConcurrentInteractiveSessionsAreNamedInStartOrder) {
  Send(DockerEventKind::kExecCreate, 'f', "sh", 0);
  Send(DockerEventKind::kExecCreate, '0', "sh", 0);
  Send(DockerEventKind::kExecStart, 'f', "sh", 1, Inspect('f', {"sh"}, true));
  Send(DockerEventKind::kExecStart, '0', "sh", 2, Inspect('0', {"sh"}, true));
  EXPECT_EQ(monitor_->SessionsIn("shop-frontend-1", At(2)), "ffffffffffff,000000000000");
  EXPECT_EQ(monitor_->SessionsIn("shop-frontend-1", At(1)), "ffffffffffff");
  EXPECT_EQ(monitor_->SessionsIn("other", At(2)), "");
}

}  // namespace
}  // namespace bulkhead::daemon
