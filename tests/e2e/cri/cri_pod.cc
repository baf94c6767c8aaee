// A minimal CRI client for the Kubernetes end-to-end test (crictl is not in Debian): makes pods
// the way kubelet does, over the same runtime.v1 proto as bulkhead's inventory.
//
//   cri_pod SOCKET sandbox NAMESPACE NAME [LABEL=VALUE...]
//       RunPodSandbox (pod labels plus io.kubernetes.pod.{name,namespace,uid}); prints the
//       sandbox id, and on stderr "sandbox-ready UNIX_NS" when RunPodSandbox returned (the
//       sandbox is ready then).
//   cri_pod SOCKET container ID NAMESPACE NAME IMAGE [LABEL=VALUE...]
//       CreateContainer + StartContainer of IMAGE running `sleep` in that sandbox (the same
//       arguments make the same sandbox config, as kubelet passes it again); on stderr
//       "container-started UNIX_NS".
//   cri_pod SOCKET status ID        "NETNS_PATH IP [IP...]"
//   cri_pod SOCKET rm ID...         StopPodSandbox + RemovePodSandbox
//   cri_pod SOCKET ls               every sandbox id, any state
//   cri_pod SOCKET events           "yes" when the runtime serves GetContainerEvents, else "no"
// Exit 0 on success, 1 with one line on stderr otherwise.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "inventory/cri_client.h"
#include "inventory/cri_runtime.grpc.pb.h"

namespace {

namespace cri = runtime::v1;
using bulkhead::inventory::CriClient;
using bulkhead::inventory::CriClientOptions;

constexpr auto kTimeout = std::chrono::seconds(60);  // a loaded machine makes sandboxes slowly

long long UnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Check(const grpc::Status& status, const char* call) {
  if (!status.ok()) {
    std::cerr << "cri_pod: " << call << ": " << status.error_message() << "\n";
  }
  return status.ok();
}

void Deadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kTimeout);
}

// The sandbox config kubelet would send for NAMESPACE NAME [LABEL=VALUE...]; false (with a
// line on stderr) for a bad label argument.
bool SandboxConfig(const std::vector<std::string>& args, cri::PodSandboxConfig& config) {
  const std::string& ns = args[0];
  const std::string& name = args[1];
  config.mutable_metadata()->set_name(name);
  config.mutable_metadata()->set_namespace_(ns);
  config.mutable_metadata()->set_uid(ns + "-" + name + "-uid");
  config.set_hostname(name);
  auto& labels = *config.mutable_labels();
  for (std::size_t i = 2; i < args.size(); ++i) {
    const auto eq = args[i].find('=');
    if (eq == std::string::npos) {
      std::cerr << "cri_pod: label " << args[i] << " is not LABEL=VALUE\n";
      return false;
    }
    labels[args[i].substr(0, eq)] = args[i].substr(eq + 1);
  }
  labels["io.kubernetes.pod.name"] = name;
  labels["io.kubernetes.pod.namespace"] = ns;
  labels["io.kubernetes.pod.uid"] = config.metadata().uid();
  return true;
}

int Sandbox(cri::RuntimeService::Stub& stub, const std::vector<std::string>& args) {
  cri::RunPodSandboxRequest run;
  if (args.size() < 2 || !SandboxConfig(args, *run.mutable_config())) {
    std::cerr << "cri_pod: sandbox NAMESPACE NAME [LABEL=VALUE...]\n";
    return 1;
  }
  cri::RunPodSandboxResponse sandbox;
  grpc::ClientContext context;
  Deadline(context);
  if (!Check(stub.RunPodSandbox(&context, run, &sandbox), "RunPodSandbox")) {
    return 1;
  }
  std::cerr << "sandbox-ready " << UnixNs() << "\n";
  std::cout << sandbox.pod_sandbox_id() << std::endl;
  return 0;
}

int Container(cri::RuntimeService::Stub& stub, const std::vector<std::string>& args) {
  cri::CreateContainerRequest create;
  // ID NAMESPACE NAME IMAGE [LABEL=VALUE...]: the sandbox's arguments are NAMESPACE NAME LABELS.
  std::vector<std::string> sandbox_args;
  if (args.size() >= 4) {
    sandbox_args = {args[1], args[2]};
    sandbox_args.insert(sandbox_args.end(), args.begin() + 4, args.end());
  }
  if (args.size() < 4 || !SandboxConfig(sandbox_args, *create.mutable_sandbox_config())) {
    std::cerr << "cri_pod: container ID NAMESPACE NAME IMAGE [LABEL=VALUE...]\n";
    return 1;
  }
  create.set_pod_sandbox_id(args[0]);
  create.mutable_config()->mutable_metadata()->set_name("main");
  create.mutable_config()->mutable_image()->set_image(args[3]);
  create.mutable_config()->add_command("sleep");
  create.mutable_config()->add_args("100000");
  cri::CreateContainerResponse container;
  {
    grpc::ClientContext context;
    Deadline(context);
    if (!Check(stub.CreateContainer(&context, create, &container), "CreateContainer")) {
      return 1;
    }
  }
  cri::StartContainerRequest start;
  start.set_container_id(container.container_id());
  cri::StartContainerResponse started;
  grpc::ClientContext context;
  Deadline(context);
  if (!Check(stub.StartContainer(&context, start, &started), "StartContainer")) {
    return 1;
  }
  std::cerr << "container-started " << UnixNs() << "\n";
  return 0;
}

int Status(cri::RuntimeService::Stub& stub, const std::string& id) {
  grpc::ClientContext context;
  Deadline(context);
  cri::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(id);
  request.set_verbose(true);
  cri::PodSandboxStatusResponse response;
  if (!Check(stub.PodSandboxStatus(&context, request, &response), "PodSandboxStatus")) {
    return 1;
  }
  auto pod = bulkhead::inventory::PodFromStatus(response);
  if (!pod) {
    std::cerr << "cri_pod: " << pod.error().message << "\n";
    return 1;
  }
  std::cout << (pod->netns_path.empty() ? "-" : pod->netns_path);
  for (const auto& ip : pod->addresses) {
    std::cout << " " << ip;
  }
  std::cout << "\n";
  return 0;
}

// StopPodSandbox + RemovePodSandbox of one sandbox; the status of the first call that failed.
grpc::Status StopAndRemove(cri::RuntimeService::Stub& stub, const std::string& id,
                           const char*& call) {
  cri::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  cri::StopPodSandboxResponse stopped;
  grpc::ClientContext stop_context;
  Deadline(stop_context);
  call = "StopPodSandbox";
  grpc::Status status = stub.StopPodSandbox(&stop_context, stop, &stopped);
  if (!status.ok()) {
    return status;
  }
  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  cri::RemovePodSandboxResponse removed;
  grpc::ClientContext remove_context;
  Deadline(remove_context);
  call = "RemovePodSandbox";
  return stub.RemovePodSandbox(&remove_context, remove, &removed);
}

// As kubelet does, a sandbox whose removal failed is tried again: on a loaded machine containerd
// 1.6 has answered RemovePodSandbox with "container is still running, to stop first" right after
// StopPodSandbox returned. Up to 5 attempts, a second apart; only the last failure is printed.
int Remove(cri::RuntimeService::Stub& stub, const std::vector<std::string>& ids) {
  constexpr int kAttempts = 5;
  int status = 0;
  for (const auto& id : ids) {
    for (int attempt = 1;; ++attempt) {
      const char* call = "";
      const grpc::Status result = StopAndRemove(stub, id, call);
      if (result.ok()) {
        break;
      }
      if (attempt == kAttempts) {
        (void)Check(result, call);
        status = 1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  return status;
}

int List(cri::RuntimeService::Stub& stub) {
  grpc::ClientContext context;
  Deadline(context);
  cri::ListPodSandboxResponse response;
  if (!Check(stub.ListPodSandbox(&context, cri::ListPodSandboxRequest(), &response),
             "ListPodSandbox")) {
    return 1;
  }
  for (const auto& item : response.items()) {
    std::cout << item.id() << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2) {
    std::cerr << "usage: cri_pod SOCKET sandbox|container|status|rm|ls|events ...\n";
    return 1;
  }
  const std::string& socket = args[0];
  const std::string& command = args[1];
  const std::vector<std::string> rest(args.begin() + 2, args.end());
  auto channel = grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials());
  auto stub = cri::RuntimeService::NewStub(channel);
  if (command == "sandbox") {
    return Sandbox(*stub, rest);
  }
  if (command == "container") {
    return Container(*stub, rest);
  }
  if (command == "status" && rest.size() == 1) {
    return Status(*stub, rest[0]);
  }
  if (command == "rm") {
    return Remove(*stub, rest);
  }
  if (command == "ls") {
    return List(*stub);
  }
  if (command == "events") {
    CriClient client(CriClientOptions{socket, std::chrono::milliseconds(2000)});
    auto has = client.HasContainerEvents(std::chrono::milliseconds(500));
    if (!has) {
      std::cerr << "cri_pod: " << has.error().message << "\n";
      return 1;
    }
    std::cout << (*has ? "yes" : "no") << "\n";
    return 0;
  }
  std::cerr << "cri_pod: unknown command " << command << "\n";
  return 1;
}
