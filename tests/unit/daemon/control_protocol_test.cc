// The control socket's command lines (daemon/control_protocol.h): what the agent accepts, what
// it refuses, and that what the CLI writes reads back as the same command.
#include "daemon/control_protocol.h"

#include <string>

#include <gtest/gtest.h>

namespace bulkhead::daemon {
namespace {

TEST(ControlProtocol, ParsesTheCommands) {
  auto status = ParseControlCommand("status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, ControlCommandKind::kStatus);
  auto reload = ParseControlCommand("reload");
  ASSERT_TRUE(reload);
  EXPECT_EQ(reload->kind, ControlCommandKind::kReload);
  EXPECT_EQ(reload->confirm_seconds, 0);
  auto confirm = ParseControlCommand("confirm");
  ASSERT_TRUE(confirm);
  EXPECT_EQ(confirm->kind, ControlCommandKind::kConfirm);
  auto timed = ParseControlCommand("reload confirm 2.5");
  ASSERT_TRUE(timed);
  EXPECT_EQ(timed->kind, ControlCommandKind::kReload);
  EXPECT_EQ(timed->confirm_seconds, 2.5);
  auto longest = ParseControlCommand("reload confirm 86400");
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->confirm_seconds, 86400);
}

TEST(ControlProtocol, RefusesBadSeconds) {
  for (const char* line : {"reload confirm ", "reload confirm 0", "reload confirm -1",
                           "reload confirm 86400.5", "reload confirm nan", "reload confirm inf",
                           "reload confirm 3s", "reload confirm  3", "reload confirm 3 "}) {
    auto parsed = ParseControlCommand(line);
    ASSERT_FALSE(parsed) << line;
    EXPECT_EQ(parsed.error().code, ControlProtocolError::kBadConfirmSeconds) << line;
    EXPECT_EQ(ControlParseErrorText(parsed.error()),
              "reload confirm: give 0 < seconds <= 86400 (monitor/enforce mode)\n");
  }
}

TEST(ControlProtocol, RefusesUnknownLinesAndEchoesAtMost64Bytes) {
  for (const char* line :
       {"", "Status", "status ", "reload confirm", "reloadconfirm 3", "confirm 3", "shutdown"}) {
    auto parsed = ParseControlCommand(line);
    ASSERT_FALSE(parsed) << line;
    EXPECT_EQ(parsed.error().code, ControlProtocolError::kUnknownCommand) << line;
  }
  auto parsed = ParseControlCommand(std::string(300, 'x'));
  ASSERT_FALSE(parsed);
  EXPECT_EQ(ControlParseErrorText(parsed.error()),
            "unknown command \"" + std::string(64, 'x') + "\" (status, reload, confirm)\n");
}

TEST(ControlProtocol, WhatTheClientWritesReadsBack) {
  const ControlCommand commands[] = {
      {ControlCommandKind::kStatus, 0},     {ControlCommandKind::kReload, 0},
      {ControlCommandKind::kConfirm, 0},    {ControlCommandKind::kReload, 3},
      {ControlCommandKind::kReload, 0.001}, {ControlCommandKind::kReload, 1.0 / 3},
      {ControlCommandKind::kReload, 86400}};
  for (const auto& c : commands) {
    const std::string line = ControlCommandLine(c);
    auto back = ParseControlCommand(line);
    ASSERT_TRUE(back) << line;
    EXPECT_EQ(back->kind, c.kind) << line;
    EXPECT_EQ(back->confirm_seconds, c.confirm_seconds) << line;
  }
  EXPECT_EQ(ControlCommandLine({ControlCommandKind::kReload, 3}), "reload confirm 3");
}

}  // namespace
}  // namespace bulkhead::daemon
