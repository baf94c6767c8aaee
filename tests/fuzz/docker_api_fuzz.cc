// Fuzz target for the Docker Engine API parsers (inventory/docker_api.h): every body dockerd (or
// whatever answers on its socket) sends reaches one of them. The first input byte picks the
// parser, the rest is the body. Beyond "no crash, no sanitizer report", it checks what the
// Docker source relies on: an error always says something, and an accepted answer keeps the
// shape the header promises.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "inventory/docker_api.h"
#include "tests/fuzz/promise.h"

namespace {

namespace inv = bulkhead::inventory;

constexpr auto Check = bulkhead::fuzz::Promise;

template <typename Result>
bool Failed(const Result& result) {
  if (!result) {
    Check(!result.error().message.empty(), "an error says what went wrong");
    return true;
  }
  return false;
}

void CheckContainer(const inv::DockerContainer& container) {
  Check(container.name.empty() || container.name.front() != '/', "names lose Docker's '/'");
  for (std::size_t i = 1; i < container.endpoints.size(); ++i) {
    Check(container.endpoints[i - 1].network_name <= container.endpoints[i].network_name,
          "endpoints sorted by network name");
  }
  Check(container.pid >= 0 && (!container.running || container.pid > 0),
        "a running container has a pid, and no pid is negative");
}

void CheckVersion(std::string_view version) {
  const std::size_t dot = version.find('.');
  Check(dot != std::string_view::npos && dot > 0 && dot + 1 < version.size(),
        "an API version is digits '.' digits");
  for (std::size_t i = 0; i < version.size(); ++i) {
    Check(i == dot || (version[i] >= '0' && version[i] <= '9'),
          "an API version is digits '.' digits");
  }
}

void CheckErrorMessage(std::string_view message) {
  Check(message.size() <= 200, "an error message is at most 200 characters");
  for (const char c : message) {
    Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "no control characters");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto ids = inv::ParseContainerIds(body);
      if (!Failed(ids)) {
        for (const auto& id : *ids) {
          Check(!id.empty(), "container ids are not empty");
        }
      }
      break;
    }
    case 1: {
      auto container = inv::ParseContainerInspect(body);
      if (!Failed(container)) {
        CheckContainer(*container);
      }
      break;
    }
    case 2: {
      auto network = inv::ParseNetworkInspect(body);
      if (!Failed(network) && network->driver != "bridge") {
        Check(network->bridge.empty(), "only bridge networks name a bridge");
      }
      break;
    }
    case 3: {
      auto event = inv::ParseEvent(body);
      if (!Failed(event)) {
        Check(event->kind != inv::DockerEventKind::kResync, "dockerd never sends a resync");
        Check(!inv::DockerEventKindName(event->kind).empty(), "every kind has a name");
      }
      break;
    }
    case 4: {
      auto version = inv::ParseApiVersion(body);
      if (!Failed(version)) {
        CheckVersion(*version);
      }
      break;
    }
    default:
      CheckErrorMessage(inv::DockerErrorMessage(body));
      break;
  }
  return 0;
}
