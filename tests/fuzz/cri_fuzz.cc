// Fuzz target for the CRI answers bulkhead converts (inventory/cri_pods.h): a PodSandboxStatus
// response in protobuf's wire format, as the runtime's socket sends it, and the JSON of its
// verbose `info`. The first input byte picks which. Beyond "no crash, no sanitizer report": an
// error always says something, and an accepted pod keeps the shape the agent relies on.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "inventory/cri_pods.h"
#include "tests/fuzz/promise.h"

namespace {

namespace inv = bulkhead::inventory;

constexpr auto Check = bulkhead::fuzz::Promise;

void CheckPod(const inv::CriPod& pod) {
  Check(pod.pid >= 0, "no negative pid");
  if (inv::HasPodNetwork(pod)) {
    Check(pod.ready && !pod.host_network && !pod.addresses.empty(),
          "a pod network means ready, not host network, with an address");
  }
  const auto inventory = inv::BuildCriInventory("node", {}, {pod});
  Check(inventory.workloads.size() == (inv::HasPodNetwork(pod) ? 1U : 0U),
        "a pod is a workload exactly when it has a pod network");
  for (const auto& workload : inventory.workloads) {
    Check(workload.name.find('/') != std::string::npos, "pod workloads are <namespace>/<name>");
  }
}

}  // namespace

// protobuf logs every string field that is not UTF-8; thousands of such lines a second would
// bury the fuzzer's own output. The parse result is what the target checks.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto process = inv::ParseSandboxInfo(body);
    if (!process) {
      Check(!process.error().message.empty(), "an error says what went wrong");
    } else {
      Check(process->pid >= 0, "no negative pid");
    }
    return 0;
  }
  runtime::v1::PodSandboxStatusResponse response;
  if (!response.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return 0;
  }
  auto pod = inv::PodFromStatus(response);
  if (!pod) {
    Check(!pod.error().message.empty(), "an error says what went wrong");
    return 0;
  }
  CheckPod(*pod);
  return 0;
}
