// Fuzz target for the Kubernetes API parsers (inventory/kube_api.h): every list page and watch
// line the API server (or whatever answers at its address) sends reaches one of them; and for
// the kubeconfig reader (inventory/kube_config.h). The first input byte picks the parser and the
// resource (mod 10: 0-2 lists, 3-5 watch lines, 6-8 Status, 9 kubeconfig), the rest is the body.
// Beyond "no crash, no sanitizer report", it checks what the identity source and the agent rely on:
// an error is one non-empty line; an accepted object has its identity, canonical addresses, and a
// finished pod holds none; versions and continue tokens are safe to put in a request target.
#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "inventory/kube_api.h"
#include "inventory/kube_config.h"
#include "tests/fuzz/promise.h"

namespace {

namespace inv = bulkhead::inventory;

constexpr auto Check = bulkhead::fuzz::Promise;

void CheckLine(std::string_view message) {
  Check(!message.empty(), "an error says what went wrong");
  Check(message.find('\n') == std::string_view::npos, "an error is one line");
}

void CheckAddress(const std::string& address) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    ::inet_ntop(AF_INET, &v4, text.data(), text.size());
  } else {
    Check(::inet_pton(AF_INET6, address.c_str(), &v6) == 1, "an address is IPv4 or IPv6");
    ::inet_ntop(AF_INET6, &v6, text.data(), text.size());
  }
  Check(address == text.data(), "addresses are in canonical text");
}

void CheckPod(const inv::KubePod& pod) {
  Check(!pod.uid.empty() && !pod.name.empty() && !pod.namespace_name.empty(),
        "a pod has a uid, a name and a namespace");
  Check(!pod.terminated || pod.addresses.empty(), "a finished pod holds no address");
  for (const std::string& address : pod.addresses) {
    CheckAddress(address);
  }
}

void CheckNode(const inv::KubeNode& node) {
  Check(!node.name.empty(), "a node has a name");
  for (const std::string& address : node.addresses) {
    CheckAddress(address);
  }
}

void CheckPage(const inv::KubeListPage& page) {
  Check(inv::IsKubeToken(page.resource_version), "a list's version can go into a request");
  Check(page.continue_token.empty() || inv::IsKubeToken(page.continue_token),
        "a continue token can go into a request");
  for (const auto& pod : page.pods) {
    CheckPod(pod);
  }
  for (const auto& ns : page.namespaces) {
    Check(!ns.name.empty(), "a namespace has a name");
  }
  for (const auto& node : page.nodes) {
    CheckNode(node);
  }
  for (const std::string& skipped : page.skipped) {
    CheckLine(skipped);
  }
}

void CheckEvent(inv::KubeResource resource, const inv::KubeEvent& event) {
  if (event.type == inv::KubeEventType::kError) {
    Check(event.Gone() == (event.error_code == 410), "only a 410 is gone");
    return;
  }
  Check(inv::IsKubeToken(event.resource_version), "an event's version can go into a request");
  if (event.type == inv::KubeEventType::kBookmark) {
    return;
  }
  switch (resource) {
    case inv::KubeResource::kPods:
      CheckPod(event.pod);
      break;
    case inv::KubeResource::kNamespaces:
      Check(!event.namespace_object.name.empty(), "a namespace has a name");
      break;
    case inv::KubeResource::kNodes:
      CheckNode(event.node);
      break;
  }
}

void CheckKubeconfig(std::string_view text) {
  // Relative paths resolve under a directory that does not exist: nothing is read through them.
  auto config = inv::ParseKubeconfig(text, "fuzz.yaml", "/nonexistent-bulkhead-fuzz");
  if (!config) {
    Check(!config.error().errors.empty(), "a refused kubeconfig says why");
    for (const auto& error : config.error().errors) {
      CheckLine(error.message);
    }
    return;
  }
  Check(!config->host.empty(), "an accepted kubeconfig names a host");
  Check(!config->ca_pem.empty(), "an accepted kubeconfig has a CA");
  Check(!config->port.empty() && config->port.size() <= 5, "a port is 1..65535");
  Check(config->base_path.empty() ||
            (config->base_path.front() == '/' && config->base_path.back() != '/'),
        "a base path starts with '/' and does not end with one");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const unsigned selector = data[0] % 10U;
  if (selector == 9) {
    CheckKubeconfig(body);
    return 0;
  }
  const auto resource = static_cast<inv::KubeResource>(selector % 3);
  switch (selector / 3) {
    case 0: {
      auto page = inv::ParseKubeList(resource, body);
      if (page) {
        Check(page->resource == resource, "a page is of the resource asked for");
        CheckPage(*page);
      } else {
        CheckLine(page.error().message);
      }
      break;
    }
    case 1: {
      auto event = inv::ParseKubeEvent(resource, body);
      if (event) {
        CheckEvent(resource, *event);
      } else {
        CheckLine(event.error().message);
      }
      break;
    }
    default: {
      const std::string message = inv::KubeStatusMessage(body);
      Check(message.size() <= 200, "a status message is at most 200 bytes");
      for (const char c : message) {
        Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "no control characters");
      }
      break;
    }
  }
  return 0;
}
