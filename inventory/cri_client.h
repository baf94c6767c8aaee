#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "inventory/cri_pods.h"
#include "inventory/cri_runtime.grpc.pb.h"

// A client of a container runtime's CRI (`runtime.v1`, gRPC over a unix socket): the calls the
// inventory makes, each with a deadline, blocking (cri_source.h runs them on a thread of its
// own). Errors are one line naming the socket and the call, and say what to do for the common
// cases: no socket (runtime not running, or not mounted into the agent's pod), permission
// denied (not root), nothing listening.
namespace bulkhead::inventory {

// containerd's and CRI-O's sockets (deploy/README.md).
inline constexpr std::string_view kDefaultCriSocket = "/run/containerd/containerd.sock";
inline constexpr std::string_view kCrioSocket = "/var/run/crio/crio.sock";

// "unix:///run/containerd/containerd.sock" or a plain path -> the path; errors for another
// scheme or an empty path.
boost::system::result<std::string, CriError> CriSocketPath(std::string_view url);

// Why `path` cannot be a runtime's socket right now (missing, not a socket, permission denied,
// connection refused), as one line; empty when a connect(2) to it succeeds.
std::string SocketProblem(const std::string& path);

struct CriClientOptions {
  std::string socket_path;
  std::chrono::milliseconds timeout{2000};  // per call
};

class CriClient {
 public:
  explicit CriClient(CriClientOptions options);

  // "containerd 1.6.20 (CRI v1)": the runtime's name and versions.
  boost::system::result<std::string, CriError> Version();
  // The ids of the ready sandboxes.
  boost::system::result<std::vector<std::string>, CriError> ListReadySandboxes();
  // PodSandboxStatus with verbose info, as a CriPod.
  boost::system::result<CriPod, CriError> SandboxStatus(const std::string& id);
  // Whether the runtime serves GetContainerEvents (containerd 1.6 answers UNIMPLEMENTED): the
  // stream is opened and given `wait` to either fail or stay open.
  boost::system::result<bool, CriError> HasContainerEvents(std::chrono::milliseconds wait);

  const std::string& socket_path() const { return options_.socket_path; }

 private:
  CriError Fail(std::string_view call, const grpc::Status& status) const;

  CriClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<runtime::v1::RuntimeService::Stub> stub_;
};

}  // namespace bulkhead::inventory
