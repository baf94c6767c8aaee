#include "inventory/kube_client.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "codec/yaml_reader.h"

namespace bulkhead::inventory {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

struct KubeClient::Tls {
  ssl::context context{ssl::context::tls_client};
};

namespace {

using Stream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr unsigned kUnauthorized = 401;

bool IsIpAddress(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

std::string TlsMessage(const beast::error_code& ec) {
  std::string out = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    // "certificate verify failed" is what a wrong CA or name gives; say which it checks.
    out += " (the server's certificate is verified against the configured CA and its name)";
  }
  return out;
}

// Resolves, connects and completes the TLS handshake under one deadline; the expected name
// (SNI for a DNS name; RFC 6125 host or IP check) is set before the handshake.
asio::awaitable<std::string> Open(Stream& stream, const KubeConfig& config,
                                  std::chrono::milliseconds timeout) {
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(timeout);
  asio::ip::tcp::resolver resolver(tcp.get_executor());
  auto [rec, endpoints] = co_await resolver.async_resolve(config.host, config.port, kNoThrow);
  const std::string where = config.ServerUrl();
  if (rec) {
    co_return "cannot resolve the API server " + where + ": " + rec.message();
  }
  auto [cec, endpoint] = co_await tcp.async_connect(endpoints, kNoThrow);
  if (cec) {
    co_return "cannot connect to the API server " + where + ": " + cec.message();
  }
  SSL* handle = stream.native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  const bool ip = IsIpAddress(config.host);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int name_ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, config.host.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, config.host.c_str(), 0);
  // SNI carries DNS names only (RFC 6066 section 3). SSL_set_tlsext_host_name is a macro with a
  // C cast over this call.
  if (name_ok != 1 ||
      (!ip && SSL_ctrl(handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                       const_cast<char*>(config.host.c_str())) != 1)) {
    co_return "the API server " + where + ": cannot set the name to verify";
  }
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
  if (hec) {
    co_return "TLS with the API server " + where + " failed: " + TlsMessage(hec);
  }
  co_return std::string();
}

http::request<http::empty_body> MakeRequest(const KubeConfig& config, const std::string& target,
                                            const std::string& token) {
  http::request<http::empty_body> req{http::verb::get, config.base_path + target, 11};
  const bool ipv6 = config.host.find(':') != std::string::npos;
  req.set(http::field::host, (ipv6 ? "[" + config.host + "]" : config.host) + ":" + config.port);
  req.set(http::field::user_agent, "bulkhead");
  req.set(http::field::accept, "application/json");
  if (!token.empty()) {
    req.set(http::field::authorization, "Bearer " + token);
  }
  return req;
}

std::string StatusError(const std::string& what, unsigned status, std::string_view reason,
                        std::string_view body) {
  std::string out = what + ": HTTP " + std::to_string(status) + " " + std::string(reason);
  const std::string message = KubeStatusMessage(body);
  if (!message.empty()) {
    out += ": " + message;
  }
  if (status == kUnauthorized) {
    out += " (the bearer token was refused)";
  }
  return out;
}

// Cuts complete lines out of `pending` (the body read so far).
std::vector<std::string> TakeLines(std::string& pending) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
    if (end > start) {
      lines.push_back(pending.substr(start, end - start));
    }
  }
  pending.erase(0, start);
  return lines;
}

using WatchParser = http::response_parser<http::string_body>;

struct WatchLimits {
  std::size_t max_line = 0;
  std::chrono::seconds server_timeout{0};
  std::chrono::seconds margin{0};
};

// Reads an open watch stream (its headers read, status 200, chunked) line by line until it ends;
// `end` gets how. The chunks' bytes go to `pending` through the parser's chunk callback, so the
// body is never stored whole; a line over max_line ends the stream.
asio::awaitable<void> ReadStream(Stream& stream, beast::flat_buffer& buffer, WatchParser& parser,
                                 const WatchLimits& limits, const std::string& what,
                                 const KubeClient::LinesCallback& on_lines, KubeWatchEnd& end) {
  std::string pending;
  auto on_chunk = [&pending, &limits](std::uint64_t, std::string_view body,
                                      beast::error_code& ec) -> std::size_t {
    pending.append(body);
    if (pending.size() > limits.max_line && pending.find('\n') == std::string::npos) {
      ec = http::error::body_limit;
    }
    return body.size();
  };
  parser.on_chunk_body(on_chunk);
  if (!co_await on_lines({})) {  // the stream is live: the caller hears of it before any line
    end.clean = true;
    end.message = what + ": stopped";
    co_return;
  }
  for (;;) {
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kNoThrow);
    std::vector<std::string> lines = TakeLines(pending);
    if (!lines.empty() && !co_await on_lines(std::move(lines))) {
      end.clean = true;
      end.message = what + ": stopped";
    } else if (ec == http::error::body_limit) {
      end.message = what + ": an event line is over " + std::to_string(limits.max_line) + " bytes";
    } else if (ec == beast::error::timeout) {
      end.message = what + ": still open " + std::to_string(limits.margin.count()) +
                    " s after the " + std::to_string(limits.server_timeout.count()) +
                    " s the server was asked to end it after";
    } else if (ec) {
      end.message = what + ": " + ec.message();
    } else if (parser.is_done()) {
      end.clean = true;
      end.message = what + ": the server ended the stream";
    } else {
      continue;
    }
    co_return;
  }
}

}  // namespace

boost::system::result<std::unique_ptr<KubeClient>, KubeError> KubeClient::Create(
    asio::any_io_executor executor, KubeConfig config, KubeClientOptions options) {
  auto tls = std::make_unique<Tls>();
  beast::error_code ec;
  tls->context.set_verify_mode(ssl::verify_peer, ec);
  SSL_CTX_set_min_proto_version(tls->context.native_handle(), TLS1_2_VERSION);
  if (config.ca_pem.empty()) {
    return KubeFail(config.origin + ": no CA to verify the API server against");
  }
  tls->context.add_certificate_authority(asio::buffer(config.ca_pem), ec);
  if (ec) {
    return KubeFail(config.origin + ": the cluster's CA: not a PEM certificate: " + ec.message());
  }
  if (!config.client_cert_pem.empty()) {
    tls->context.use_certificate_chain(asio::buffer(config.client_cert_pem), ec);
    if (!ec) {
      tls->context.use_private_key(asio::buffer(config.client_key_pem), ssl::context::pem, ec);
    }
    if (ec) {
      return KubeFail(config.origin + ": the client certificate or key: " + ec.message());
    }
  }
  return std::unique_ptr<KubeClient>(
      new KubeClient(std::move(executor), std::move(config), options, std::move(tls)));
}

KubeClient::KubeClient(asio::any_io_executor executor, KubeConfig config, KubeClientOptions options,
                       std::unique_ptr<Tls> tls)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      options_(options),
      tls_(std::move(tls)),
      last_token_(config_.token) {}

KubeClient::~KubeClient() = default;

std::string KubeClient::Token() {
  if (config_.token_file.empty()) {
    return config_.token;
  }
  constexpr std::size_t kMaxTokenBytes = std::size_t{1} << 20;
  auto text = codec::ReadInputFile(config_.token_file, kMaxTokenBytes);
  if (text) {
    std::string token = std::move(*text);
    while (!token.empty() &&
           (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
      token.pop_back();
    }
    if (!token.empty()) {
      last_token_ = std::move(token);
    }
  }
  // Unreadable or empty for a moment (a rotation that is not atomic): the last good token.
  return last_token_;
}

asio::awaitable<KubeClient::Result> KubeClient::Get(std::string target, unsigned* status) {
  unsigned seen = 0;
  Result result = co_await GetOnce(target, &seen);
  if (seen == kUnauthorized && !config_.token_file.empty()) {
    result = co_await GetOnce(target, &seen);
  }
  if (status != nullptr) {
    *status = seen;
  }
  co_return result;
}

asio::awaitable<KubeClient::Result> KubeClient::GetOnce(const std::string& target,
                                                        unsigned* status) {
  *status = 0;
  const std::string what = "GET " + config_.ServerUrl() + target;
  Stream stream(executor_, tls_->context);
  if (std::string error = co_await Open(stream, config_, options_.request_timeout);
      !error.empty()) {
    co_return KubeFail(error);
  }
  const auto req = MakeRequest(config_, target, Token());
  auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) {
    co_return KubeFail(what + ": " + wec.message());
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_body_bytes);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
  if (rec == http::error::body_limit) {
    co_return KubeFail(what + ": the answer is over " + std::to_string(options_.max_body_bytes) +
                       " bytes");
  }
  if (rec) {
    co_return KubeFail(what + ": " + rec.message());
  }
  auto& res = parser.get();
  *status = res.result_int();
  if (res.result() != http::status::ok) {
    co_return KubeFail(StatusError(what, res.result_int(), res.reason(), res.body()));
  }
  co_return std::move(res.body());
}

asio::awaitable<KubeWatchEnd> KubeClient::Watch(std::string target,
                                                std::chrono::seconds server_timeout,
                                                LinesCallback on_lines,
                                                std::function<void()> on_open) {
  KubeWatchEnd end;
  const std::string what = "watch " + config_.ServerUrl() + target;
  Stream stream(executor_, tls_->context);
  if (std::string error = co_await Open(stream, config_, options_.request_timeout);
      !error.empty()) {
    end.message = std::move(error);
    co_return end;
  }
  const auto req = MakeRequest(config_, target, Token());
  auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) {
    end.message = what + ": " + wec.message();
    co_return end;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  // The body of an error answer is one Status object; a live stream's chunks go to on_chunk.
  parser.body_limit(options_.max_body_bytes);
  auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  if (hec) {
    end.message = what + ": " + hec.message();
    co_return end;
  }
  end.status = parser.get().result_int();
  if (parser.get().result() != http::status::ok) {
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    end.message = StatusError(what, end.status, parser.get().reason(),
                              bec ? std::string_view() : std::string_view(parser.get().body()));
    co_return end;
  }
  if (!parser.chunked()) {
    end.message = what + ": expected a chunked stream";
    co_return end;
  }
  end.opened = true;
  if (on_open) {
    on_open();
  }
  beast::get_lowest_layer(stream).expires_after(server_timeout + options_.watch_margin);
  WatchLimits limits{options_.max_event_line_bytes, server_timeout, options_.watch_margin};
  co_await ReadStream(stream, buffer, parser, limits, what, on_lines, end);
  co_return end;
}

}  // namespace bulkhead::inventory
