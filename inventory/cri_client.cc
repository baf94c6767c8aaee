#include "inventory/cri_client.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <grpcpp/grpcpp.h>

namespace bulkhead::inventory {
namespace {

namespace cri = runtime::v1;

constexpr std::string_view kUnixScheme = "unix://";
// gRPC reconnects a channel on its own with a backoff that grows to 2 minutes; a runtime that
// restarts is back within seconds, and the source has its own backoff, so keep the channel's
// short.
constexpr int kReconnectBackoffMs = 200;
constexpr int kMaxReconnectBackoffMs = 1000;

std::string Errno(int error) { return std::strerror(error); }

}  // namespace

boost::system::result<std::string, CriError> CriSocketPath(std::string_view url) {
  std::string_view path = url;
  if (path.starts_with(kUnixScheme)) {
    path.remove_prefix(kUnixScheme.size());
  } else if (path.find("://") != std::string_view::npos) {
    return CriFail("CRI socket " + std::string(url) +
                   ": only unix:///path sockets are supported (the runtime on this node)");
  }
  if (path.empty() || path.front() != '/') {
    return CriFail("CRI socket " + std::string(url) + ": expected an absolute path");
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return CriFail("CRI socket " + std::string(url) + ": path longer than a unix socket holds");
  }
  return std::string(path);
}

std::string SocketProblem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      return "no CRI socket at " + path +
             " (is the container runtime running? containerd: " + std::string(kDefaultCriSocket) +
             ", CRI-O: " + std::string(kCrioSocket) + "; in a pod, mount it with a hostPath)";
    }
    return "cannot stat CRI socket " + path + ": " + Errno(error);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return path + " is not a socket";
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return "socket(): " + Errno(errno);
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API takes sockaddr*
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int error = errno;
  ::close(fd);
  if (rc == 0) {
    return {};
  }
  if (error == EACCES || error == EPERM) {
    return "permission denied on CRI socket " + path +
           " (the runtime's socket is root's: run bulkhead as root)";
  }
  if (error == ECONNREFUSED) {
    return "nothing listens on CRI socket " + path + " (the runtime is stopped or restarting)";
  }
  return "cannot connect to CRI socket " + path + ": " + Errno(error);
}

CriClient::CriClient(CriClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  // A node with a few hundred pods answers ListPodSandbox in well under the default 4 MiB;
  // a larger answer is refused by gRPC with a clear status rather than read without bound.
  channel_ = grpc::CreateCustomChannel("unix://" + options_.socket_path,
                                       grpc::InsecureChannelCredentials(), args);
  stub_ = cri::RuntimeService::NewStub(channel_);
}

CriError CriClient::Fail(std::string_view call, const grpc::Status& status) const {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // gRPC's text ("failed to connect to all addresses") does not say why; the socket does.
    std::string problem = SocketProblem(options_.socket_path);
    if (!problem.empty()) {
      return CriFail(std::string(call) + ": " + problem);
    }
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return CriFail(std::string(call) + " at " + options_.socket_path + ": no answer within " +
                   std::to_string(options_.timeout.count()) + " ms");
  }
  return CriFail(std::string(call) + " at " + options_.socket_path + ": " + status.error_message() +
                 " (gRPC status " + std::to_string(static_cast<int>(status.error_code())) + ")");
}

namespace {

void SetDeadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

boost::system::result<std::string, CriError> CriClient::Version() {
  grpc::ClientContext context;
  SetDeadline(context, options_.timeout);
  cri::VersionRequest request;
  request.set_version("v1");
  cri::VersionResponse response;
  const grpc::Status status = stub_->Version(&context, request, &response);
  if (!status.ok()) {
    return Fail("CRI Version", status);
  }
  return response.runtime_name() + " " + response.runtime_version() + " (CRI " +
         response.runtime_api_version() + ")";
}

boost::system::result<std::vector<std::string>, CriError> CriClient::ListReadySandboxes() {
  grpc::ClientContext context;
  SetDeadline(context, options_.timeout);
  cri::ListPodSandboxRequest request;
  request.mutable_filter()->mutable_state()->set_state(cri::SANDBOX_READY);
  cri::ListPodSandboxResponse response;
  const grpc::Status status = stub_->ListPodSandbox(&context, request, &response);
  if (!status.ok()) {
    return Fail("CRI ListPodSandbox", status);
  }
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(response.items_size()));
  for (const cri::PodSandbox& item : response.items()) {
    // The filter is the runtime's to apply; do not rely on it.
    if (item.state() == cri::SANDBOX_READY && !item.id().empty()) {
      ids.push_back(item.id());
    }
  }
  return ids;
}

boost::system::result<CriPod, CriError> CriClient::SandboxStatus(const std::string& id) {
  grpc::ClientContext context;
  SetDeadline(context, options_.timeout);
  cri::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(id);
  request.set_verbose(true);
  cri::PodSandboxStatusResponse response;
  const grpc::Status status = stub_->PodSandboxStatus(&context, request, &response);
  if (!status.ok()) {
    return Fail("CRI PodSandboxStatus " + id, status);
  }
  return PodFromStatus(response);
}

boost::system::result<bool, CriError> CriClient::HasContainerEvents(
    std::chrono::milliseconds wait) {
  grpc::ClientContext context;
  SetDeadline(context, wait);
  auto reader = stub_->GetContainerEvents(&context, cri::GetEventsRequest());
  cri::ContainerEventResponse event;
  while (reader->Read(&event)) {
  }
  const grpc::Status status = reader->Finish();
  switch (status.error_code()) {
    case grpc::StatusCode::UNIMPLEMENTED:
      return false;
    case grpc::StatusCode::OK:
    case grpc::StatusCode::DEADLINE_EXCEEDED:  // open until we gave up: it streams
      return true;
    default:
      return Fail("CRI GetContainerEvents", status);
  }
}

}  // namespace bulkhead::inventory
