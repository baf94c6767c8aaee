// Fuzz target for ParseAgentConfig (daemon/agent_config.h), the file the agent reads at every
// start and reload. Beyond "no crash, no sanitizer report": a rejection always says where and
// why, and a config the reader accepts is complete enough for the agent to start from.
#include <cstdint>
#include <string_view>

#include "daemon/agent_config.h"
#include "tests/fuzz/promise.h"

namespace {

constexpr auto Check = bulkhead::fuzz::Promise;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = bulkhead::daemon::ParseAgentConfig(text, "fuzz.yaml");
  if (!config) {
    Check(!config.error().errors.empty(), "a rejection has at least one error");
    for (const auto& error : config.error().errors) {
      Check(!error.message.empty(), "every error says what is wrong");
      Check(error.file == "fuzz.yaml", "every error names the file");
      Check(error.line >= 0 && error.column >= 0, "locations are not negative");
    }
    return 0;
  }
  using bulkhead::policy::Mode;
  Check(config->mode == Mode::kLearn ? !config->graph_file.empty() : !config->policy_file.empty(),
        "learn mode has a graph, monitor and enforce a policy");
  const int sources = int{!config->docker_socket.empty()} + int{!config->cri_socket.empty()} +
                      int{!config->inventory_file.empty()};
  Check(sources == 1, "exactly one inventory source");
  Check(config->cri_socket.empty() || config->cri_poll_interval.count() > 0,
        "a positive CRI poll interval");
  Check(config->nflog_group >= 1, "an NFLOG group in 1..65535");
  Check(config->snapshot_interval.count() > 0, "a positive snapshot interval");
  Check(config->metrics_host.empty() == (config->metrics_port == 0),
        "a metrics endpoint has both host and port, or neither");
  return 0;
}
