#include "daemon/metrics.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <list>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace bulkhead::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Exposition format 0.0.4: in HELP text a backslash and a line feed are escaped; label values
// (`quotes`) additionally escape the double quote, since they sit inside quotes.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// Counters are whole numbers almost always: print them as integers ("12", not "12.0" or
// "1.2e+01") so the page is readable and diffs cleanly; anything else in the shortest form that
// reads back to the same double. Non-finite values use the spellings the format defines.
void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  std::array<char, 64> buf{};
  // 2^63 bounds what converts to int64 without overflow.
  constexpr double kInt64Limit = 9223372036854775808.0;
  std::to_chars_result res{};
  if (value == std::trunc(value) && std::fabs(value) < kInt64Limit) {
    res = std::to_chars(buf.data(), buf.data() + buf.size(), static_cast<std::int64_t>(value));
  } else {
    res = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  }
  out.append(buf.data(), res.ptr);
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
  }
  return "untyped";
}

}  // namespace

void Metrics::Describe(std::string_view name, MetricType type, std::string_view help) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
  }
  it->second.type = type;
  it->second.help = std::string(help);
}

void Metrics::Add(std::string_view name, const MetricLabels& labels, double delta) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;  // undescribed: a counter
  }
  it->second.samples[labels] += delta;
}

void Metrics::Set(std::string_view name, const MetricLabels& labels, double value) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family family;
    family.type = MetricType::kGauge;  // only gauges are set to absolute values
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  it->second.samples[labels] = value;
}

void Metrics::Remove(std::string_view name, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    it->second.samples.erase(labels);
  }
}

double Metrics::Get(std::string_view name, const MetricLabels& labels) const {
  std::lock_guard lock(mutex_);
  const auto it = families_.find(name);
  if (it == families_.end()) {
    return 0;
  }
  const auto sample = it->second.samples.find(labels);
  return sample == it->second.samples.end() ? 0 : sample->second;
}

std::string Metrics::Render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) {
      out += "# HELP ";
      out += name;
      out += ' ';
      out += Escape(family.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += name;
    out += ' ';
    out += TypeName(family.type);
    out += '\n';
    for (const auto& [labels, value] : family.samples) {
      out += name;
      if (!labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < labels.size(); ++i) {
          if (i != 0) {
            out += ',';
          }
          out += labels[i].first;
          out += "=\"";
          out += Escape(labels[i].second, true);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      AppendValue(out, value);
      out += '\n';
    }
  }
  return out;
}

namespace {

// A scrape is tiny: a request line and a few headers. Anything bigger is not a Prometheus
// server and is cut off before it costs memory.
constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;
constexpr std::uint64_t kMaxBodyBytes = std::uint64_t{4} * 1024;
// Deadlines per connection, so a client that misbehaves holds its slot only briefly: a
// connection that sends nothing is closed after kIdleDeadline (or sooner, shed for a newer one:
// see kMaxConnections); from its first byte the whole request must arrive within
// kRequestDeadline (a slowloris sending a byte per 100 ms is cut off there, whatever it sends),
// and the answer must be taken within kWriteDeadline. A scrape on loopback or a pod network
// needs milliseconds for each.
constexpr std::chrono::seconds kIdleDeadline{5};
constexpr std::chrono::seconds kRequestDeadline{2};
constexpr std::chrono::seconds kWriteDeadline{5};
// At most this many open connections, so a flood of clients cannot grow the agent's memory. At
// the cap a new connection sheds the oldest one still waiting for its request (idle, or a
// slowloris) instead of being refused: the hostile clients then lose their slots to every new
// scrape, and a kubelet liveness probe is answered however many idle sockets a local process
// holds. Only when every slot is answering a request is the new one closed.
constexpr std::size_t kMaxConnections = 32;

class Connection;

// State shared by the acceptor and its connections. Connections hold it by shared_ptr so they
// may finish after the server is closed or destroyed. Everything runs on the io_context thread.
struct ServerState {
  ServerState(asio::io_context& io, const Metrics& m, std::shared_ptr<spdlog::logger> l)
      : acceptor(io), retry(io), metrics(m), log(std::move(l)) {}

  tcp::acceptor acceptor;
  asio::steady_timer retry;  // re-arms accepting after an accept error (EMFILE, ...)
  const Metrics& metrics;    // outlives the io_context's handlers (the composition root owns it)
  std::shared_ptr<spdlog::logger> log;
  std::string address;  // "127.0.0.1:9470", for messages
  // Open connections, oldest first (each removes itself when it dies); `active` counts those
  // not shed, whose sockets are still open.
  std::list<Connection*> open;
  std::size_t active = 0;
  bool closed = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<ServerState> state)
      : stream_(std::move(socket)), state_(std::move(state)) {
    ++state_->active;
    self_in_open_ = state_->open.insert(state_->open.end(), this);
  }
  ~Connection() {
    if (!shed_) {
      --state_->active;
    }
    state_->open.erase(self_in_open_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start() {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(kMaxBodyBytes);
    // Wait for the first bytes under the idle deadline; the request deadline starts from them.
    stream_.expires_after(kIdleDeadline);
    stream_.async_read_some(buffer_.prepare(kMaxHeaderBytes),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->OnFirstBytes(ec, n);
                            });
  }

  // Still waiting for (the rest of) its request: what the cap may shed.
  bool waiting() const { return waiting_ && !shed_; }

  // Bytes the client sent that the server has not read yet: a scrape whose request arrived
  // while the server was busy accepting others, not an idle client.
  bool has_unread() const {
    beast::error_code ec;
    return stream_.socket().available(ec) > 0 && !ec;
  }

  // Closes the socket for a newer connection; the pending read then fails and ends this one.
  void Shed() {
    shed_ = true;
    --state_->active;
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void OnFirstBytes(beast::error_code ec, std::size_t n) {
    if (ec) {
      state_->log->debug("metrics {}: dropped a connection: {}", state_->address, ec.message());
      return;
    }
    buffer_.commit(n);
    stream_.expires_after(kRequestDeadline);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code read_ec, std::size_t) {
                       self->OnRead(read_ec);
                     });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) {
      // The client's problem (timeout, garbage, hang-up): not worth more than a debug line.
      state_->log->debug("metrics {}: dropped a connection: {}", state_->address, ec.message());
      return;
    }
    waiting_ = false;
    stream_.expires_after(kWriteDeadline);
    const auto& request = parser_.get();
    response_.version(request.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "bulkhead");
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    const bool get = request.method() == http::verb::get;
    const bool head = request.method() == http::verb::head;
    if (target != "/metrics") {
      response_.result(http::status::not_found);
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
      response_.body() = "not found: try /metrics\n";
    } else if (!get && !head) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::allow, "GET, HEAD");
      response_.set(http::field::content_type, "text/plain; charset=utf-8");
      response_.body() = "method not allowed\n";
    } else {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response_.body() = state_->metrics.Render();
    }
    response_.prepare_payload();
    if (head) {
      response_.body().clear();  // Content-Length stays that of the GET answer (RFC 9110 9.3.2)
    }
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                        self->OnWrite(write_ec);
                      });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) {
      state_->log->debug("metrics {}: write failed: {}", state_->address, ec.message());
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<ServerState> state_;
  std::list<Connection*>::iterator self_in_open_;
  bool waiting_ = true;
  bool shed_ = false;
};

// Makes room for one connection at the cap: sheds the oldest one still waiting for its
// request, sparing those whose request already sits unread (a client cycling connections
// faster than the server reads would otherwise shed a scrape that had sent its request; the
// slowloris test saw 1 scrape in 100 lost so under load). False when every slot is answering
// one.
bool ShedOldestWaiting(ServerState& state) {
  for (const bool spare_unread : {true, false}) {
    for (Connection* c : state.open) {
      if (c->waiting() && !(spare_unread && c->has_unread())) {
        c->Shed();
        return true;
      }
    }
  }
  return false;
}

void Accept(const std::shared_ptr<ServerState>& state);

void OnAccept(const std::shared_ptr<ServerState>& state, beast::error_code ec, tcp::socket socket) {
  if (state->closed || ec == asio::error::operation_aborted) {
    return;
  }
  if (ec) {
    // Out of descriptors or memory: say so once per failure and try again shortly rather than
    // spinning on an acceptor that fails at once.
    state->log->warn("metrics {}: accept failed: {}", state->address, ec.message());
    state->retry.expires_after(std::chrono::milliseconds(100));
    state->retry.async_wait([state](beast::error_code wait_ec) {
      if (!wait_ec && !state->closed) {
        Accept(state);
      }
    });
    return;
  }
  if (state->active >= kMaxConnections && !ShedOldestWaiting(*state)) {
    beast::error_code ignored;
    socket.close(ignored);  // every slot busy answering: refused, not queued
  } else {
    std::make_shared<Connection>(std::move(socket), state)->Start();
  }
  Accept(state);
}

void Accept(const std::shared_ptr<ServerState>& state) {
  state->acceptor.async_accept([state](beast::error_code ec, tcp::socket socket) {
    OnAccept(state, ec, std::move(socket));
  });
}

class BeastMetricsServer final : public MetricsServer {
 public:
  BeastMetricsServer(std::shared_ptr<ServerState> state, std::uint16_t port)
      : state_(std::move(state)), port_(port) {}
  ~BeastMetricsServer() override {
    // A destructor must not throw: Close's timer cancel throws only when the reactor fails,
    // and then there is nothing left to cancel for.
    try {
      Close();
    } catch (...) {
    }
  }
  BeastMetricsServer(const BeastMetricsServer&) = delete;
  BeastMetricsServer& operator=(const BeastMetricsServer&) = delete;

  std::uint16_t port() const override { return port_; }

  void Close() override {
    if (state_->closed) {
      return;
    }
    state_->closed = true;
    beast::error_code ignored;
    state_->acceptor.close(ignored);
    state_->retry.cancel();
  }

 private:
  std::shared_ptr<ServerState> state_;
  std::uint16_t port_;
};

std::string AddressText(const asio::ip::address& address, std::uint16_t port) {
  if (address.is_v6()) {
    return "[" + address.to_string() + "]:" + std::to_string(port);
  }
  return address.to_string() + ":" + std::to_string(port);
}

}  // namespace

boost::system::result<std::unique_ptr<MetricsServer>, std::string> MetricsServer::Listen(
    asio::io_context& io, const std::string& host, std::uint16_t port, const Metrics& metrics,
    std::shared_ptr<spdlog::logger> log) {
  std::string literal = host;
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);  // "[::1]" as written in a URL
  }
  asio::ip::address address;
  if (literal == "localhost") {
    address = asio::ip::address_v4::loopback();
  } else {
    beast::error_code ec;
    address = asio::ip::make_address(literal, ec);
    if (ec) {
      return std::string("metrics: '" + host + "' is not an IP address or localhost");
    }
  }
  auto state = std::make_shared<ServerState>(io, metrics, std::move(log));
  state->address = AddressText(address, port);
  const tcp::endpoint endpoint(address, port);
  beast::error_code ec;
  const auto fail = [&state](std::string_view what, const beast::error_code& error) {
    return std::string("metrics: cannot ") + std::string(what) + " " + state->address + ": " +
           error.message();
  };
  if (state->acceptor.open(endpoint.protocol(), ec); ec) {
    return fail("open a socket for", ec);
  }
  // A restarted agent must be able to bind while the old process's connections sit in
  // TIME_WAIT; a port another process listens on still fails with EADDRINUSE.
  if (state->acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail("set SO_REUSEADDR on", ec);
  }
  if (state->acceptor.bind(endpoint, ec); ec) {
    return fail("listen on", ec);
  }
  if (state->acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail("listen on", ec);
  }
  const tcp::endpoint bound = state->acceptor.local_endpoint(ec);
  if (ec) {
    return fail("read the bound port of", ec);
  }
  state->address = AddressText(address, bound.port());
  Accept(state);
  return std::unique_ptr<MetricsServer>(new BeastMetricsServer(state, bound.port()));
}

}  // namespace bulkhead::daemon
