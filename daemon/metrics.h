#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/system/result.hpp>

// The agent's Prometheus metrics: a small registry any thread may update, rendered in the text
// exposition format (version 0.0.4), and an HTTP endpoint on the agent's event loop serving it.
namespace bulkhead::daemon {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;  // in render order

enum class MetricType : std::uint8_t { kCounter, kGauge };

// Thread-safe (one mutex; updates are a map lookup). Label values may hold anything (container
// names, attacker-chosen strings): Render escapes them as the format requires.
class Metrics {
 public:
  // Declares a family before its first sample so it renders with # HELP and # TYPE lines, even
  // when it has no samples yet. Counter names end in _total by convention.
  void Describe(std::string_view name, MetricType type, std::string_view help);
  // Counter: adds `delta`. Gauge: adds too (use Set for absolute values).
  void Add(std::string_view name, const MetricLabels& labels, double delta = 1);
  void Set(std::string_view name, const MetricLabels& labels, double value);
  // Drops one sample (an info gauge whose label value changed, e.g. the policy digest); the
  // family and its HELP stay.
  void Remove(std::string_view name, const MetricLabels& labels);
  // Current value, 0 when absent (tests, status output).
  double Get(std::string_view name, const MetricLabels& labels = {}) const;
  // Families sorted by name, samples by label set.
  std::string Render() const;

 private:
  struct Family {
    MetricType type = MetricType::kCounter;
    std::string help;
    std::map<MetricLabels, double> samples;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

// Serves GET /metrics (200, text/plain; version=0.0.4) on the event loop; anything else gets
// 404 or 405. One request per connection, deadlines per connection (idle, and from the first
// byte of the request), and a cap on open connections that sheds the oldest one still waiting
// for its request rather than refusing a new one: idle sockets or a slowloris cannot stall the
// agent or keep a scrape (the DaemonSet's liveness probe) from being answered.
class MetricsServer {
 public:
  // Binds and listens on host:port (IPv4 or IPv6 literal, or "localhost"); port 0 picks one.
  // Errors name the address.
  static boost::system::result<std::unique_ptr<MetricsServer>, std::string> Listen(
      boost::asio::io_context& io, const std::string& host, std::uint16_t port,
      const Metrics& metrics, std::shared_ptr<spdlog::logger> log);
  virtual ~MetricsServer() = default;
  virtual std::uint16_t port() const = 0;  // the bound port
  virtual void Close() = 0;                // stops accepting; open connections finish
};

}  // namespace bulkhead::daemon
