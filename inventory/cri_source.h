#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/system/result.hpp>

#include "inventory/cri_client.h"
#include "inventory/cri_pods.h"
#include "policy/model.h"

// Workload discovery on a Kubernetes node: the pods its container runtime (containerd, CRI-O)
// reports over the CRI, kept current by polling and diffing (containerd 1.6 has no CRI event
// stream: GetContainerEvents answers UNIMPLEMENTED; a runtime that has one is still polled,
// which the agent says at start). The gRPC calls block, so the polling runs on a thread of its
// own and hands each new state to the agent's executor.
namespace bulkhead::inventory {

// What discovery knows at one moment: the inventory, and the Linux bridges the pods' veths are
// attached to (sorted; where learning captures), like DockerSnapshot's networks.
struct CriSnapshot {
  policy::Inventory inventory;
  std::vector<std::string> bridges;
  std::size_t host_network_pods = 0;  // ready, in the node's namespace: traffic of `host`
};

struct CriSourceOptions {
  CriClientOptions client;
  std::string host_name;  // empty: this machine's hostname
  std::chrono::milliseconds poll_interval{1000};
  // Waits between attempts to reach the runtime: doubling from initial to max, back to initial
  // once a list succeeds.
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  // Find each pod's host-side veth and MAC through /proc/<pid>/root/sys/class/net/eth0 (the
  // sandbox process's view of its network namespace), and the veth's bridge (rtnetlink). Needs
  // root, the host's PID namespace and the runtime's network namespace; when it fails the pod just
  // has no interface.
  bool resolve_interfaces = true;
  std::string proc_root = "/proc";
};

class CriSource {
 public:
  // Runs on the executor: the new state and why it changed ("cri resync", "cri +shop/api-2").
  using ChangeCallback = std::function<void(const CriSnapshot&, const std::string& why)>;

  // `logger` may be null (tests); then nothing is logged.
  CriSource(boost::asio::any_io_executor executor, CriSourceOptions options,
            std::shared_ptr<spdlog::logger> logger);
  ~CriSource();
  CriSource(const CriSource&) = delete;
  CriSource& operator=(const CriSource&) = delete;

  // One full snapshot, blocking: every ready sandbox listed and inspected. Not while Start runs.
  boost::system::result<CriSnapshot, CriError> Snapshot();

  // Starts polling on a thread of its own: after the first successful list and after every
  // change, `on_change` is posted to the executor. When the runtime cannot be reached it waits
  // (exponential backoff), then lists and inspects everything again.
  void Start(ChangeCallback on_change);

  // Stops the thread (joins it); a change already posted is then dropped. Call on the executor.
  void Stop();

  std::uint64_t polls() const { return polls_.load(); }
  std::uint64_t errors() const { return errors_.load(); }

 private:
  void Loop(const ChangeCallback& on_change);
  // One poll: lists the ready sandboxes, inspects new ones, drops gone ones. `resync`: inspect
  // every sandbox again. Returns the error (empty on success); `why` says what changed.
  std::string Poll(bool resync, std::string& why);
  void ResolveLink(CriPod& pod);
  CriSnapshot Build() const;
  bool WaitFor(std::chrono::milliseconds delay);  // false when stopped

  boost::asio::any_io_executor executor_;
  CriSourceOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  CriClient client_;
  std::string host_name_;

  std::map<std::string, CriPod> pods_;  // ready sandboxes by id; owned by the polling thread

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // under mutex_
  // Read by changes posted to the executor: false once Stop() has run.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::atomic<std::uint64_t> polls_{0};
  std::atomic<std::uint64_t> errors_{0};
};

}  // namespace bulkhead::inventory
