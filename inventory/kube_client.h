#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "inventory/kube_api.h"
#include "inventory/kube_config.h"

// HTTPS GETs and watch streams to the Kubernetes API server (Boost.Asio + Beast + OpenSSL, C++20
// coroutines), like DockerClient over TCP and TLS. One connection per request: a list or a
// watch is long compared with a handshake, and nothing is pooled that a rotated token or a
// restarted server could leave stale. Every connection verifies the server's certificate against
// the configured CA and its name (DNS name or IP address, RFC 6125), sends SNI for DNS names, and
// re-reads the bearer token from its file (kubelet rotates projected tokens; the file's current
// content is what counts). Errors are one line naming the server and the request. Not
// thread-safe: use it from the one thread that runs its executor (several coroutines may use it
// at once).
namespace bulkhead::inventory {

struct KubeClientOptions {
  // For resolving, connecting, the TLS handshake and each whole answer; and for a watch's headers.
  std::chrono::milliseconds request_timeout{10000};
  // A list page above this is refused (500 pods with their managedFields are ~5 MiB).
  std::size_t max_body_bytes = std::size_t{64} << 20;
  // A watch event line above this ends the stream with an error (one object is at most etcd's
  // 1.5 MiB request limit; JSON of it a little more).
  std::size_t max_event_line_bytes = std::size_t{4} << 20;
  // A watch asked to end after timeoutSeconds gets this much longer before bulkhead ends it:
  // a server that went silent (a dead node, a dropped connection) is noticed within it.
  std::chrono::seconds watch_margin{15};
};

// How a watch ended.
struct KubeWatchEnd {
  bool opened = false;  // the server answered 200: the stream was live
  bool clean = false;   // the server ended it (its timeoutSeconds passed), or on_lines said stop
  unsigned status = 0;  // the HTTP status; 0 when no answer came
  std::string message;  // why it ended, one line
};

class KubeClient {
 public:
  using Result = boost::system::result<std::string, KubeError>;
  // Complete lines of one read, in order; returns false to end the watch. Called once with no
  // line when the stream opens (the server answered 200).
  using LinesCallback = std::function<boost::asio::awaitable<bool>(std::vector<std::string> lines)>;

  // Refuses a CA bundle or client certificate/key that OpenSSL cannot load.
  static boost::system::result<std::unique_ptr<KubeClient>, KubeError> Create(
      boost::asio::any_io_executor executor, KubeConfig config, KubeClientOptions options);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const KubeConfig& config() const { return config_; }
  const KubeClientOptions& options() const { return options_; }

  // GET base_path + target. 200: the body. Any other status: an error with the status and the
  // Status object's message. A 401 is retried once (the token file is read again: it may have
  // been rotated between the read and the request). `status` (optional) gets the HTTP status,
  // 0 when no answer came.
  boost::asio::awaitable<Result> Get(std::string target, unsigned* status = nullptr);

  // GET base_path + target as a watch: the chunked body is read line by line (each one JSON
  // event) and handed to `on_lines`. `server_timeout` is the timeoutSeconds the target asks for;
  // the stream's deadline is that plus options().watch_margin. `on_open` (optional) runs when
  // the server has answered 200 and the stream is live.
  boost::asio::awaitable<KubeWatchEnd> Watch(std::string target,
                                             std::chrono::seconds server_timeout,
                                             LinesCallback on_lines,
                                             std::function<void()> on_open = {});

 private:
  struct Tls;
  KubeClient(boost::asio::any_io_executor executor, KubeConfig config, KubeClientOptions options,
             std::unique_ptr<Tls> tls);
  std::string Token();
  boost::asio::awaitable<Result> GetOnce(const std::string& target, unsigned* status);

  boost::asio::any_io_executor executor_;
  KubeConfig config_;
  KubeClientOptions options_;
  std::unique_ptr<Tls> tls_;
  std::string last_token_;  // the token file's last good content
};

}  // namespace bulkhead::inventory
