#include "cli/logging.h"

#include <chrono>
#include <ctime>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

// The policy module's JSON string writer (the one FlowGraph JSON export uses), so log lines and
// exported files escape untrusted names the same way; there is no second escaper in bulkhead.
#include "codec/text_escape.h"

namespace bulkhead::cli {
namespace {

// Prefixes warnings and errors with their level and leaves ordinary progress lines bare, so the
// summary line reads "learned: ..." and an error reads "bulkhead: error: FILE:3:7: ...".
class LevelPrefix : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view prefix;
    switch (msg.level) {
      case spdlog::level::warn:
        prefix = "bulkhead: warning: ";
        break;
      case spdlog::level::err:
      case spdlog::level::critical:
        prefix = "bulkhead: error: ";
        break;
      case spdlog::level::debug:
      case spdlog::level::trace:
        prefix = "bulkhead: debug: ";
        break;
      default:
        break;
    }
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return spdlog::details::make_unique<LevelPrefix>();
  }
};

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    case spdlog::level::off:
    case spdlog::level::n_levels:
      break;
  }
  return "info";
}

// {"time":"RFC 3339 UTC with milliseconds","level":"...","msg":"..."} and a newline. Only the
// message needs escaping: the time and level are produced here from fixed characters.
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    std::tm utc{};
    gmtime_r(&t, &utc);
    fmt::format_to(
        std::back_inserter(dest),
        R"({{"time":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z","level":"{}","msg":{}}})",
        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
        millis, LevelName(msg.level),
        codec::JsonString(std::string_view(msg.payload.data(), msg.payload.size())));
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};

}  // namespace

std::shared_ptr<spdlog::logger> MakeLogger(bool verbose, daemon::LogFormat format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("bulkhead", sink);
  if (format == daemon::LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<LevelPrefix>('*').set_pattern("%*%v");
    logger->set_formatter(std::move(formatter));
  }
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  return logger;
}

}  // namespace bulkhead::cli
