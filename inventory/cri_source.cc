#include "inventory/cri_source.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "inventory/docker_host_link.h"
#include "inventory/internal/local_host_name.h"

namespace bulkhead::inventory {
namespace {

// The interface CRI runtimes give a pod (kubelet's CNI default).
constexpr std::string_view kPodInterface = "eth0";

// The addresses of `bridges` in this namespace: what the pods see as the node (their gateway),
// the `host` group's addresses. Link-local IPv6 addresses are left out: every bridge has one
// and no policy names them.
std::vector<std::string> BridgeAddresses(const std::vector<std::string>& bridges) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (bridges.empty() || ::getifaddrs(&list) != 0) {
    return out;
  }
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr ||
        std::find(bridges.begin(), bridges.end(), a->ifa_name) == bridges.end()) {
      continue;
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): getifaddrs hands out sockaddr*
    if (a->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      ::inet_ntop(AF_INET, &sin->sin_addr, text.data(), text.size());
      out.emplace_back(text.data());
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      if (!IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
        ::inet_ntop(AF_INET6, &sin6->sin6_addr, text.data(), text.size());
        out.emplace_back(text.data());
      }
    }
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

CriSource::CriSource(boost::asio::any_io_executor executor, CriSourceOptions options,
                     std::shared_ptr<spdlog::logger> logger)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      logger_(std::move(logger)),
      client_(options_.client),
      host_name_(options_.host_name.empty() ? internal::LocalHostName() : options_.host_name) {}

CriSource::~CriSource() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void CriSource::ResolveLink(CriPod& pod) {
  if (!options_.resolve_interfaces || pod.pid <= 0) {
    return;
  }
  auto link = FindLinkByName(options_.proc_root, pod.pid, kPodInterface);
  boost::system::result<std::string, DockerError> name = DockerFail("");
  if (link) {
    name = InterfaceName(link->peer_ifindex);
  }
  if (!link || !name) {
    if (logger_) {
      logger_->warn("cri: pod {}/{}: no host interface: {}", pod.pod_namespace, pod.name,
                    link ? name.error().message : link.error().message);
    }
    return;
  }
  pod.mac = link->mac;
  pod.interface = *name;
  auto bridge = InterfaceMaster(link->peer_ifindex);
  if (bridge) {
    pod.bridge = *bridge;
  } else if (logger_) {
    logger_->warn("cri: pod {}/{}: no bridge for {}: {}", pod.pod_namespace, pod.name, *name,
                  bridge.error().message);
  }
}

std::string CriSource::Poll(bool resync, std::string& why) {
  auto ids = client_.ListReadySandboxes();
  if (!ids) {
    return ids.error().message;
  }
  const std::set<std::string> ready(ids->begin(), ids->end());
  std::vector<std::string> changes;
  for (auto it = pods_.begin(); it != pods_.end();) {
    if (resync || !ready.contains(it->first)) {
      if (!resync) {
        changes.push_back("-" + it->second.pod_namespace + "/" + it->second.name);
      }
      it = pods_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& id : ready) {
    if (pods_.contains(id)) {
      continue;
    }
    auto pod = client_.SandboxStatus(id);
    if (!pod) {
      // Removed between the list and the status (NOT_FOUND), or a bad answer: the next poll
      // sees it again (or not) either way.
      ++errors_;
      if (logger_) {
        logger_->warn("cri: {}", pod.error().message);
      }
      continue;
    }
    if (!pod->ready) {
      continue;
    }
    ResolveLink(*pod);
    if (!resync) {
      changes.push_back("+" + pod->pod_namespace + "/" + pod->name);
    }
    pods_.emplace(id, std::move(*pod));
  }
  why = resync ? std::string("cri resync") : fmt::format("cri {}", fmt::join(changes, " "));
  if (!resync && changes.empty()) {
    why.clear();
  }
  return {};
}

CriSnapshot CriSource::Build() const {
  CriSnapshot out;
  std::vector<CriPod> pods;
  pods.reserve(pods_.size());
  std::set<std::string> bridges;
  for (const auto& [id, pod] : pods_) {
    pods.push_back(pod);
    if (pod.host_network && pod.ready) {
      ++out.host_network_pods;
    }
    if (HasPodNetwork(pod) && !pod.bridge.empty()) {
      bridges.insert(pod.bridge);
    }
  }
  out.bridges.assign(bridges.begin(), bridges.end());
  out.inventory = BuildCriInventory(host_name_, BridgeAddresses(out.bridges), pods);
  return out;
}

boost::system::result<CriSnapshot, CriError> CriSource::Snapshot() {
  std::string why;
  if (std::string error = Poll(/*resync=*/true, why); !error.empty()) {
    return CriFail(error);
  }
  return Build();
}

bool CriSource::WaitFor(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_; });
}

void CriSource::Loop(const ChangeCallback& on_change) {
  auto backoff = options_.initial_backoff;
  bool resync = true;
  bool first = true;
  do {
    std::string why;
    const std::string error = Poll(resync, why);
    ++polls_;
    if (!error.empty()) {
      ++errors_;
      if (logger_) {
        logger_->warn("cri: {}; retrying in {} ms", error, backoff.count());
      }
      resync = true;  // what happened while the runtime was away is found by inspecting all
      if (!WaitFor(backoff)) {
        return;
      }
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    backoff = options_.initial_backoff;
    if (first && logger_) {
      auto version = client_.Version();
      auto events = client_.HasContainerEvents(std::chrono::milliseconds(300));
      logger_->info("cri: following {} at {} ({} ready pod sandboxes), polling every {} ms{}",
                    version ? *version : std::string("a runtime"), options_.client.socket_path,
                    pods_.size(), options_.poll_interval.count(),
                    events && *events ? " (the runtime also offers GetContainerEvents)" : "");
    }
    first = false;
    resync = false;
    if (!why.empty()) {
      boost::asio::post(executor_,
                        [on_change, alive = alive_, snapshot = Build(), why = std::move(why)] {
                          if (alive->load()) {
                            on_change(snapshot, why);
                          }
                        });
    }
  } while (WaitFor(options_.poll_interval));
}

void CriSource::Start(ChangeCallback on_change) {
  thread_ = std::thread([this, on_change = std::move(on_change)] { Loop(on_change); });
}

void CriSource::Stop() {
  alive_->store(false);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace bulkhead::inventory
