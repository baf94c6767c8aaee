// Kubernetes connection settings: in-cluster (service account) or a kubeconfig file. A kubeconfig
// is read leniently about keys bulkhead does not use (kubectl writes `preferences`, `extensions`,
// `namespace`... and new versions add more), strictly about the ones it does: a wrong type, a
// missing server or an insecure setting is an error at its line and column.
#include "inventory/kube_config.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "codec/yaml_reader.h"

namespace bulkhead::inventory {
namespace {

using codec::ErrorList;
using codec::Node;
using codec::Quote;

// A token, CA bundle or key is a few KiB; anything far larger is not one.
constexpr std::size_t kMaxCredentialBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxKubeconfigBytes = std::size_t{4} << 20;

bool IsIpv6(const std::string& text) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, text.c_str(), &a) == 1;
}

std::string Resolve(std::string_view base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) {
    return path;
  }
  return std::string(base_dir) + "/" + path;
}

// Splits an https URL into host, port and path. The error says what is wrong with it.
std::optional<std::string> ParseServerUrl(std::string_view url, KubeConfig& out) {
  constexpr std::string_view kHttps = "https://";
  if (!url.starts_with(kHttps)) {
    return "the server must be an https:// URL (bulkhead always verifies TLS)";
  }
  std::string_view rest = url.substr(kHttps.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.base_path = slash == std::string_view::npos ? std::string() : std::string(rest.substr(slash));
  while (!out.base_path.empty() && out.base_path.back() == '/') {
    out.base_path.pop_back();
  }
  if (authority.find('@') != std::string_view::npos ||
      url.find_first_of("?# ") != std::string_view::npos) {
    return "the server URL must be https://host[:port][/path]";
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return "the server URL's IPv6 address has no closing ']'";
    }
    out.host = std::string(authority.substr(1, close - 1));
    if (!IsIpv6(out.host)) {
      return "the server URL's host in brackets is not an IPv6 address";
    }
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      return "the server URL has text after its IPv6 address";
    }
    port = after.empty() ? std::string_view() : after.substr(1);
  } else {
    const std::size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    port = colon == std::string_view::npos ? std::string_view() : authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    return "the server URL has no host";
  }
  if (!port.empty() || authority.ends_with(':')) {
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9' || value > 65535) {
        return "the server URL's port is not a number";
      }
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (port.empty() || value == 0 || value > 65535) {
      return "the server URL's port must be 1..65535";
    }
    out.port = std::string(port);
  }
  return std::nullopt;
}

const Node* Get(const Node& map, std::string_view key) {
  if (!map.IsMap()) {
    return nullptr;
  }
  for (std::size_t i = 0; i < map.size(); ++i) {
    if (map.Key(i).Scalar() == key) {
      return &map.Value(i);
    }
  }
  return nullptr;
}

// The `what` entry named `name` of the list `key` (clusters, contexts, users): its inner map
// (`cluster:`, `context:`, `user:`). Errors at the list or the entry.
const Node* FindNamed(const Node& root, std::string_view key, std::string_view inner,
                      const std::string& name, const Node& from, ErrorList& errors) {
  const Node* list = Get(root, key);
  if (list == nullptr || !list->IsSequence()) {
    errors.Add(list == nullptr ? from : *list,
               std::string(key) + ": expected a list naming " + Quote(name));
    return nullptr;
  }
  for (const Node& entry : list->Items()) {
    const Node* entry_name = Get(entry, "name");
    if (entry_name != nullptr && entry_name->IsScalar() && entry_name->Scalar() == name) {
      const Node* value = Get(entry, inner);
      if (value == nullptr || !value->IsMap()) {
        errors.Add(
            value == nullptr ? entry : *value,
            std::string(key) + " " + Quote(name) + ": expected a `" + std::string(inner) + "` map");
        return nullptr;
      }
      return value;
    }
  }
  errors.Add(from, "no entry named " + Quote(name) + " in " + std::string(key));
  return nullptr;
}

std::string Scalar(const Node& map, std::string_view key, ErrorList& errors) {
  const Node* value = Get(map, key);
  if (value == nullptr || value->IsNull()) {
    return {};
  }
  auto text = codec::ReadString(*value, key, errors);
  return text ? *text : std::string();
}

// `<key>` (a path, relative to the kubeconfig) or `<key>-data` (base64): the file's bytes.
std::string FileOrData(const Node& map, std::string_view key, std::string_view base_dir,
                       ErrorList& errors) {
  const std::string data_key = std::string(key) + "-data";
  const std::string data = Scalar(map, data_key, errors);
  if (!data.empty()) {
    auto decoded = DecodeBase64(data);
    if (!decoded) {
      errors.Add(*Get(map, data_key), data_key + ": " + decoded.error().message);
      return {};
    }
    return *decoded;
  }
  const std::string path = Scalar(map, key, errors);
  if (path.empty()) {
    return {};
  }
  auto text = codec::ReadInputFile(Resolve(base_dir, path), kMaxCredentialBytes);
  if (!text) {
    errors.Add(*Get(map, key), std::string(key) + ": " + text.error());
    return {};
  }
  return *text;
}

void ReadCluster(const Node& cluster, std::string_view base_dir, KubeConfig& out,
                 ErrorList& errors) {
  const Node* insecure = Get(cluster, "insecure-skip-tls-verify");
  if (insecure != nullptr && insecure->IsScalar() && insecure->Scalar() == "true") {
    errors.Add(*insecure,
               "insecure-skip-tls-verify: true is refused: bulkhead always verifies the API "
               "server against the cluster's CA (give certificate-authority or "
               "certificate-authority-data)");
  }
  const Node* server = Get(cluster, "server");
  std::string url = Scalar(cluster, "server", errors);
  // codec's reader quotes an address that starts with "::" after a '[' (YAML 1.1 flow lists
  // need it), also inside a plain scalar: `server: https://[::1]:6443` reads as
  // https://["::1"]:6443. Undone here; a quoted URL is left alone by the reader.
  if (const std::size_t open = url.find("[\""); open != std::string::npos) {
    if (const std::size_t close = url.find("\"]", open); close != std::string::npos) {
      url.erase(close, 1);
      url.erase(open + 1, 1);
    }
  }
  if (server == nullptr || url.empty()) {
    errors.Add(server == nullptr ? cluster : *server, "server: missing");
  } else if (auto problem = ParseServerUrl(url, out)) {
    errors.Add(*server, "server: " + *problem);
  }
  out.ca_pem = FileOrData(cluster, "certificate-authority", base_dir, errors);
  if (out.ca_pem.empty() && Get(cluster, "certificate-authority") == nullptr &&
      Get(cluster, "certificate-authority-data") == nullptr) {
    errors.Add(cluster,
               "the cluster has no certificate-authority or certificate-authority-data: "
               "bulkhead verifies the API server against the cluster's CA");
  }
}

void ReadUser(const Node& user, std::string_view base_dir, KubeConfig& out, ErrorList& errors) {
  for (const std::string_view plugin : {"exec", "auth-provider"}) {
    if (const Node* value = Get(user, plugin); value != nullptr && !value->IsNull()) {
      errors.Add(*value, std::string(plugin) +
                             ": credential plugins are not supported; give token, tokenFile or "
                             "client-certificate and client-key");
    }
  }
  out.token = Scalar(user, "token", errors);
  const std::string token_file = Scalar(user, "tokenFile", errors);
  if (!token_file.empty()) {
    out.token_file = Resolve(base_dir, token_file);
    auto text = codec::ReadInputFile(out.token_file, kMaxCredentialBytes);
    if (!text) {
      errors.Add(*Get(user, "tokenFile"), "tokenFile: " + text.error());
    }
  }
  out.client_cert_pem = FileOrData(user, "client-certificate", base_dir, errors);
  out.client_key_pem = FileOrData(user, "client-key", base_dir, errors);
  if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
    errors.Add(user, "client-certificate and client-key go together: one is missing");
  }
}

void ReadKubeconfig(std::string_view text, std::string_view base_dir, ErrorList& errors,
                    KubeConfig& out) {
  auto root = codec::ReadDocument(text, errors);
  if (!root) {
    return;
  }
  if (!root->IsMap()) {
    errors.Add(*root, "a kubeconfig is a map, not " + std::string(codec::KindOf(*root)));
    return;
  }
  const Node* current = Get(*root, "current-context");
  const std::string context_name = Scalar(*root, "current-context", errors);
  if (current == nullptr || context_name.empty()) {
    errors.Add(current == nullptr ? *root : *current, "current-context: missing");
    return;
  }
  const Node* context = FindNamed(*root, "contexts", "context", context_name, *current, errors);
  if (context == nullptr) {
    return;
  }
  const std::string cluster_name = Scalar(*context, "cluster", errors);
  const std::string user_name = Scalar(*context, "user", errors);
  if (cluster_name.empty()) {
    errors.Add(*context, "context " + Quote(context_name) + ": cluster: missing");
    return;
  }
  const Node* cluster_at = Get(*context, "cluster");
  if (const Node* cluster =
          FindNamed(*root, "clusters", "cluster", cluster_name, *cluster_at, errors)) {
    ReadCluster(*cluster, base_dir, out, errors);
  }
  if (!user_name.empty()) {
    const Node* user_at = Get(*context, "user");
    if (const Node* user = FindNamed(*root, "users", "user", user_name, *user_at, errors)) {
      ReadUser(*user, base_dir, out, errors);
    }
  }
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

}  // namespace

std::string KubeConfig::ServerUrl() const {
  const bool bracket = host.find(':') != std::string::npos;
  return "https://" + (bracket ? "[" + host + "]" : host) + ":" + port + base_path;
}

boost::system::result<std::string, KubeError> DecodeBase64(std::string_view text) {
  std::string digits;
  digits.reserve(text.size());
  for (const char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      digits.push_back(c);
    }
  }
  if (digits.size() % 4 != 0) {
    return KubeFail("not base64: its length is not a multiple of 4");
  }
  std::string out;
  out.reserve(digits.size() / 4 * 3);
  for (std::size_t i = 0; i < digits.size(); i += 4) {
    std::array<int, 4> values{};
    int padding = 0;
    if (i + 4 == digits.size() && digits[i + 3] == '=') {
      padding = digits[i + 2] == '=' ? 2 : 1;
    }
    for (std::size_t j = 0; j + static_cast<std::size_t>(padding) < 4; ++j) {
      values.at(j) = Base64Value(digits[i + j]);
      if (values.at(j) < 0) {
        return KubeFail("not base64: unexpected character at offset " + std::to_string(i + j));
      }
    }
    const std::uint32_t group = (static_cast<std::uint32_t>(values[0]) << 18) |
                                (static_cast<std::uint32_t>(values[1]) << 12) |
                                (static_cast<std::uint32_t>(values[2]) << 6) |
                                static_cast<std::uint32_t>(values[3]);
    out.push_back(static_cast<char>((group >> 16) & 0xff));
    if (padding < 2) {
      out.push_back(static_cast<char>((group >> 8) & 0xff));
    }
    if (padding < 1) {
      out.push_back(static_cast<char>(group & 0xff));
    }
  }
  return out;
}

boost::system::result<KubeConfig, KubeError> InClusterKubeConfig(
    const char* service_host, const char* service_port, std::string_view service_account_dir) {
  if (service_host == nullptr || *service_host == '\0' || service_port == nullptr ||
      *service_port == '\0') {
    return KubeFail(
        "not in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
        "set (give identity.kubernetes.kubeconfig outside a cluster)");
  }
  KubeConfig config;
  config.origin = "in-cluster";
  const std::string host(service_host);
  const std::string url =
      "https://" + (IsIpv6(host) ? "[" + host + "]" : host) + ":" + std::string(service_port);
  if (auto problem = ParseServerUrl(url, config)) {
    return KubeFail("KUBERNETES_SERVICE_HOST/PORT " + url + ": " + *problem);
  }
  const std::string dir(service_account_dir);
  config.token_file = dir + "/token";
  auto token = codec::ReadInputFile(config.token_file, kMaxCredentialBytes);
  if (!token) {
    return KubeFail("the service account token: " + token.error());
  }
  auto ca = codec::ReadInputFile(dir + "/ca.crt", kMaxCredentialBytes);
  if (!ca) {
    return KubeFail("the cluster's CA: " + ca.error());
  }
  config.ca_pem = std::move(*ca);
  return config;
}

boost::system::result<KubeConfig, codec::FileErrors> ParseKubeconfig(std::string_view text,
                                                                     std::string_view file_name,
                                                                     std::string_view base_dir) {
  auto config = codec::ParseDocument<KubeConfig>(
      text, file_name,
      [base_dir](std::string_view body, ErrorList& errors, KubeConfig& out) {
        ReadKubeconfig(body, base_dir, errors, out);
      },
      kMaxKubeconfigBytes);
  if (config) {
    config->origin = std::string(file_name);
  }
  return config;
}

boost::system::result<KubeConfig, codec::FileErrors> LoadKubeconfig(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return codec::LoadDocumentFile(
      path,
      [&base_dir](std::string_view text, std::string_view name) {
        return ParseKubeconfig(text, name, base_dir.empty() ? "/" : base_dir);
      },
      kMaxKubeconfigBytes);
}

}  // namespace bulkhead::inventory
