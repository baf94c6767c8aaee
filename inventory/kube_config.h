#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "codec/file_error.h"
#include "inventory/kube_api.h"

// Where the Kubernetes API server is and how to prove who we are to it: from inside a pod (the
// service account kubelet mounts) or from a kubeconfig file. TLS is always verified against the
// cluster's CA: a kubeconfig that asks for `insecure-skip-tls-verify: true` is refused, and so
// is a server URL that is not https. Only static credentials are read (a bearer token, inline or
// in a file that is re-read when it rotates; a client certificate and key); `exec` and
// `auth-provider` plugins are refused with a line saying so.
namespace bulkhead::inventory {

inline constexpr std::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

struct KubeConfig {
  std::string host;  // a DNS name or an IP address, without brackets
  std::string port = "443";
  std::string base_path;   // the server URL's path ("" or "/prefix", no trailing '/')
  std::string ca_pem;      // the CA bundle the server's certificate must chain to
  std::string token;       // a bearer token given inline (kubeconfig `token`)
  std::string token_file;  // re-read on every new connection (rotated tokens); wins over `token`
  std::string client_cert_pem;  // both or neither
  std::string client_key_pem;
  std::string origin;  // "in-cluster" or the kubeconfig's path, for messages

  // "https://host:port" with an IPv6 host in brackets, for messages.
  std::string ServerUrl() const;
};

// In a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (their values are passed so that
// tests need not set the environment; nullptr: unset), the token and ca.crt under
// `service_account_dir`. The token is read once here to fail early; the client re-reads it.
boost::system::result<KubeConfig, KubeError> InClusterKubeConfig(
    const char* service_host, const char* service_port,
    std::string_view service_account_dir = kServiceAccountDir);

// A kubeconfig's current context. `text` was read from `file_name`; relative paths in it are
// relative to `base_dir` (the file's directory). Every problem is one line
// `file:line:column: message`.
boost::system::result<KubeConfig, codec::FileErrors> ParseKubeconfig(std::string_view text,
                                                                     std::string_view file_name,
                                                                     std::string_view base_dir);

// Reads and parses the kubeconfig at `path`.
boost::system::result<KubeConfig, codec::FileErrors> LoadKubeconfig(const std::string& path);

// Strict base64 (RFC 4648 section 4, padding required; whitespace between groups ignored, as in
// PEM-like data pasted into YAML). nullopt-like failure: an empty result with `ok` false.
boost::system::result<std::string, KubeError> DecodeBase64(std::string_view text);

}  // namespace bulkhead::inventory
