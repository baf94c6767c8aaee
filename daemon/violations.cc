#include "daemon/violations.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <exception>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "capture/decoder.h"
#include "capture/live_capture.h"
#include "capture/live_source.h"
#include "capture/nflog.h"
#include "codec/text_escape.h"
#include "daemon/json_lines_file.h"
#include "enforcer/log_prefix.h"
#include "policy/model.h"

namespace bulkhead::daemon {
namespace {

// RFC 3339, UTC, milliseconds: 2026-11-29T10:00:00.123Z.
std::string Rfc3339Millis(std::uint64_t ts_usec) {
  const auto seconds = static_cast<std::time_t>(ts_usec / 1'000'000U);
  const auto millis = static_cast<unsigned>((ts_usec % 1'000'000U) / 1000U);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) {
    return "1970-01-01T00:00:00.000Z";  // beyond the year 2^31: not a kernel timestamp
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

void AppendEndpoint(std::string& out, const ViolationEndpoint& e) {
  using codec::JsonString;
  out += "{\"workload\":" + JsonString(e.workload) + ",\"group\":" + JsonString(e.group) +
         ",\"address\":" + JsonString(e.address);
  if (!e.node.empty()) {
    out += ",\"node\":" + JsonString(e.node);
  }
  out += "}";
}

// Names in the human log line: as they are when plainly harmless, else JSON-quoted, so a
// container name cannot forge a log line or smuggle terminal escapes.
std::string LogName(std::string_view name) {
  const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
  });
  return plain ? std::string(name) : codec::JsonString(name);
}

std::string LogEndpoint(const ViolationEndpoint& e) {
  const std::string node = e.node.empty() ? "" : ", node " + LogName(e.node);
  if (e.workload.empty() || e.workload == e.group) {
    return fmt::format("{} ({}{})", LogName(e.group), e.address, node);
  }
  return fmt::format("{} (group {}, {}{})", LogName(e.workload), LogName(e.group), e.address, node);
}

constexpr std::string_view kViolationsTotal = "bulkhead_violations_total";
constexpr std::string_view kSuppressedTotal = "bulkhead_violation_log_suppressed_total";
constexpr std::string_view kMalformedTotal = "bulkhead_nflog_malformed_total";
constexpr std::string_view kNflogDrops = "bulkhead_nflog_drops";

// libpcap's nflog reader receives into a buffer of 128 + snaplen bytes, never cuts a record to
// the snaplen, and checks each message's length against the whole datagram rather than what is
// left of it. The kernel batches records into one datagram (up to its nlbufsiz, 64 KiB at most
// for a default instance far less), so a small buffer cuts a batch mid-record and libpcap then
// hands over a record running past its buffer (ASan caught exactly that under a burst of blocked
// connections). A 64 KiB snaplen makes the buffer larger than any batch the kernel sends.
constexpr int kSnaplen = 65535;
// The netlink socket's receive buffer: a burst of violations (a scan) must not overflow it
// before the loop drains it (overflow shows as bulkhead_nflog_drops).
constexpr std::size_t kReceiveBuffer = std::size_t{8} * 1024 * 1024;
// Records per pcap_dispatch and batches per wake-up: bounded so a flood of violations cannot
// starve the agent's other work on the loop (STYLE.md rule 13).
constexpr int kBatch = 256;
constexpr int kMaxBatchesPerWake = 16;

// The violation fields of one decoded NFLOG message: false when its prefix is not bulkhead's
// (another program's log rule on the same group). Shared by ParseNflogFrame and the monitor, so
// the tests of the one hold for the other.
bool RecordOf(const capture::PacketSummary& packet, const capture::NflogMessage& message,
              capture::DecodeOutcome outcome, NflogRecord& out) {
  std::string_view prefix = message.prefix;
  while (!prefix.empty() && prefix.back() == ' ') {
    prefix.remove_suffix(1);
  }
  if (!prefix.starts_with(enforcer::kLogPrefixTag)) {
    return false;
  }
  out.prefix = std::string(prefix);
  out.ts_usec = packet.ts_usec;
  out.src = packet.src;
  out.dst = packet.dst;
  out.proto = packet.proto;
  const bool icmp = packet.proto == static_cast<std::uint8_t>(capture::L4Proto::kIcmp) ||
                    packet.proto == static_cast<std::uint8_t>(capture::L4Proto::kIcmpv6);
  if (outcome != capture::DecodeOutcome::kOk) {
    out.dst_port = 0;  // a later fragment, GRE, ...: no port, still a crossing
  } else if (icmp) {
    out.dst_port = packet.icmp_type;
  } else {
    out.dst_port = packet.has_ports ? packet.dst_port : 0;
  }
  return true;
}

// A packet sink over the NFLOG group's live source (capture::LiveSource on "nflog:N", driven by
// capture::LiveCapture on the agent's loop): each logged packet with a bulkhead prefix becomes a
// violation.
class NflogViolationMonitor final : public ViolationMonitor, public capture::PacketSink {
 public:
  NflogViolationMonitor(boost::asio::io_context& io, ViolationMonitorOptions options,
                        Resolver resolver, Metrics& metrics, std::shared_ptr<spdlog::logger> log,
                        Listener listener)
      : io_(io),
        options_(std::move(options)),
        device_("nflog:" + std::to_string(options_.nflog_group)),
        resolver_(std::move(resolver)),
        metrics_(metrics),
        log_(std::move(log)),
        listener_(std::move(listener)),
        file_(options_.violations_file, log_),
        tokens_(options_.log_lines_per_second),
        refilled_(std::chrono::steady_clock::now()) {}

  ~NflogViolationMonitor() override {
    Stop();
    capture_.reset();  // before the members its sink calls use
  }
  NflogViolationMonitor(const NflogViolationMonitor&) = delete;
  NflogViolationMonitor& operator=(const NflogViolationMonitor&) = delete;

  // Waits on the source through Asio (epoll); false if it cannot be waited on.
  bool Watch(std::unique_ptr<capture::PacketSource> source, std::string& error) {
    capture::LiveCaptureOptions options;
    options.batch = kBatch;
    options.max_batches_per_wake = kMaxBatchesPerWake;
    options.drain_on_stop = false;  // after Stop nothing more is reported
    std::vector<std::unique_ptr<capture::PacketSource>> sources;
    sources.push_back(std::move(source));
    capture_ = std::make_unique<capture::LiveCapture>(io_, std::move(sources), *this, options);
    capture_->SetFailureHandler([this](const capture::SourceError& failure) {
      // The netlink socket failed (not an overrun: libpcap counts ENOBUFS as drops).
      log_->error("reading violations failed: {}", failure.message);
      return capture::LiveCapture::FailureAction::kRetryLater;
    });
    capture_->SetDrainHandler([this](capture::PacketSource& drained) { Publish(drained); });
    auto started = capture_->Start({});
    if (!started) {
      error = device_ + ": cannot wait for NFLOG records: " + started.error().message;
      return false;
    }
    return true;
  }

  bool OpenFile(std::string& error) { return file_.Open(error); }

  void Reopen() override { file_.Reopen(); }

  void SetSessionLookup(SessionLookup lookup) override { sessions_ = std::move(lookup); }

  void Stop() override {
    if (capture_) {
      capture_->Stop();
    }
  }

  std::uint64_t count() const override { return count_; }

  void OnPacket(const capture::PacketSummary& /*packet*/) override {
    // Never called: an NFLOG source hands every record to OnLoggedPacket.
  }

  void OnLoggedPacket(const capture::PacketSummary& packet, const capture::NflogMessage& message,
                      capture::DecodeOutcome outcome) override {
    ++handed_over_;
    try {
      OnRecord(packet, message, outcome);
    } catch (const std::exception& e) {
      log_->error("{}: handling a violation failed: {}", device_, e.what());
    } catch (...) {
      log_->error("{}: handling a violation failed: unknown exception", device_);
    }
  }

 private:
  // After each drain: kernel drops, and records that were not bulkhead violations or did not
  // decode (the source counts frames; what it did not hand over did not decode).
  void Publish(capture::PacketSource& source) {
    const capture::SourceStats stats = source.Stats();
    metrics_.Set(kNflogDrops, {}, static_cast<double>(stats.kernel_drops));
    const std::uint64_t malformed = stats.frames - handed_over_ + rejected_;
    if (malformed > malformed_published_) {
      metrics_.Add(kMalformedTotal, {}, static_cast<double>(malformed - malformed_published_));
      malformed_published_ = malformed;
    }
  }

  void OnRecord(const capture::PacketSummary& packet, const capture::NflogMessage& message,
                capture::DecodeOutcome outcome) {
    NflogRecord record;
    if (!RecordOf(packet, message, outcome, record)) {
      ++rejected_;  // another program's log rule on the same group
      return;
    }
    const std::optional<enforcer::LoggedVerdict> verdict = enforcer::ParseLogPrefix(record.prefix);
    if (!verdict) {
      ++rejected_;  // "bulkhead something": a ruleset newer than we are
      return;
    }
    if (record.ts_usec == 0) {
      record.ts_usec = capture::WallClockUsec();
    }
    Violation v;
    v.ts_usec = record.ts_usec;
    v.verdict = std::string(enforcer::LogPrefixOf(*verdict).name);
    v.from = Resolve(record.src);
    v.to = Resolve(record.dst);
    const auto protocol = policy::ProtocolFromIana(record.proto);
    v.protocol =
        protocol ? std::string(policy::ProtocolName(*protocol)) : std::to_string(record.proto);
    v.port = record.dst_port;
    if (sessions_ && !v.from.workload.empty()) {
      v.exec = sessions_(v.from.workload, v.ts_usec);
    }
    ++count_;
    file_.Append(ViolationJson(v));
    LogLine(v);
    metrics_.Add(kViolationsTotal,
                 {{"from", v.from.group}, {"to", v.to.group}, {"verdict", v.verdict}});
    if (listener_) {
      listener_(v);
    }
  }

  ViolationEndpoint Resolve(const capture::IpAddr& address) const {
    ViolationEndpoint e = resolver_ ? resolver_(address) : ViolationEndpoint{};
    if (e.address.empty()) {
      e.address = address.ToString();
    }
    if (e.group.empty()) {
      e.group = "world";
    }
    return e;
  }

  // A token bucket of log_lines_per_second tokens (the burst is one second's worth): a scan of
  // thousands of ports must not flood the log, but every violation still reaches the file and
  // the metric.
  void LogLine(const Violation& v) {
    const auto now = std::chrono::steady_clock::now();
    const double rate = options_.log_lines_per_second;
    tokens_ =
        std::min(rate, tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate);
    refilled_ = now;
    if (tokens_ < 1) {
      ++suppressed_;
      metrics_.Add(kSuppressedTotal, {});
      return;
    }
    tokens_ -= 1;
    std::string port = v.port != 0 ? "/" + std::to_string(v.port) : std::string();
    std::string note;
    if (suppressed_ != 0) {
      note = fmt::format(" ({} more violations not logged)", suppressed_);
      suppressed_ = 0;
    }
    const std::string exec = v.exec.empty() ? std::string() : " during exec session " + v.exec;
    log_->warn("violation {}: {} -> {} {}{}{}{}", v.verdict, LogEndpoint(v.from), LogEndpoint(v.to),
               v.protocol, port, exec, note);
  }

  boost::asio::io_context& io_;
  ViolationMonitorOptions options_;
  std::string device_;
  Resolver resolver_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  Listener listener_;
  std::unique_ptr<capture::LiveCapture> capture_;
  JsonLinesFile file_;
  SessionLookup sessions_;
  std::uint64_t count_ = 0;
  std::uint64_t handed_over_ = 0;  // records the source decoded and handed to OnLoggedPacket
  std::uint64_t rejected_ = 0;     // of those, not bulkhead violations
  std::uint64_t malformed_published_ = 0;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace

std::string ViolationJson(const Violation& v) {
  using codec::JsonString;
  std::string out = "{\"time\":\"" + Rfc3339Millis(v.ts_usec) +
                    "\",\"verdict\":" + JsonString(v.verdict) + ",\"from\":";
  AppendEndpoint(out, v.from);
  out += ",\"to\":";
  AppendEndpoint(out, v.to);
  out += ",\"protocol\":" + JsonString(v.protocol) + ",\"port\":" + std::to_string(v.port);
  if (!v.exec.empty()) {
    out += ",\"exec\":" + JsonString(v.exec);
  }
  out += "}";
  return out;
}

bool ParseNflogFrame(const std::uint8_t* data, std::size_t length, std::uint64_t ts_usec,
                     NflogRecord& out) {
  if (data == nullptr) {
    return false;
  }
  capture::RawFrame frame;
  frame.ts_usec = ts_usec;
  frame.data = std::span<const std::uint8_t>(data, length);
  frame.wire_len = static_cast<std::uint32_t>(std::min<std::size_t>(length, UINT32_MAX));
  capture::PacketSummary packet;
  capture::NflogMessage message;
  const capture::DecodeOutcome outcome = capture::DecodeNflog(frame, packet, message);
  // What the live source hands to OnLoggedPacket: a packet whose addresses were read.
  if (outcome != capture::DecodeOutcome::kOk &&
      outcome != capture::DecodeOutcome::kNonFirstFragment &&
      outcome != capture::DecodeOutcome::kOtherTransport) {
    return false;
  }
  return RecordOf(packet, message, outcome, out);
}

boost::system::result<std::unique_ptr<ViolationMonitor>, std::string> ViolationMonitor::Start(
    boost::asio::io_context& io, const ViolationMonitorOptions& options, Resolver resolver,
    Metrics& metrics, std::shared_ptr<spdlog::logger> log, Listener listener) {
  metrics.Describe(kViolationsTotal, MetricType::kCounter,
                   "Connections the ruleset refused (or, in monitor mode, would have refused), "
                   "by source group, destination group and verdict.");
  metrics.Describe(kSuppressedTotal, MetricType::kCounter,
                   "Violations not written to the log because of the log rate limit (they are "
                   "still in the violations file and counted).");
  metrics.Describe(kMalformedTotal, MetricType::kCounter,
                   "NFLOG records that were not bulkhead violations or did not decode.");
  metrics.Describe(kNflogDrops, MetricType::kGauge,
                   "NFLOG records the kernel dropped because the agent read too slowly.");

  const std::string device = "nflog:" + std::to_string(options.nflog_group);
  capture::LiveConfig config;
  config.snaplen = kSnaplen;
  config.buffer_bytes = kReceiveBuffer;
  // NFLOG records are few (rate-limited in the ruleset) and each is news: hand them over at once.
  // The kernel still batches on its side: libpcap leaves the group's queue threshold at the
  // default (100 records or 1 s), so a lone violation arrives about a second after the packet.
  config.immediate_mode = true;
  auto source = capture::LiveSource::Open(device, config);
  if (!source) {
    return source.error().message;
  }
  if ((*source)->link_type() != capture::LinkType::kNflog) {
    return device + ": unexpected link type (not NFLOG)";
  }
  auto monitor = std::make_unique<NflogViolationMonitor>(io, options, std::move(resolver), metrics,
                                                         std::move(log), std::move(listener));
  std::string error;
  if (!monitor->OpenFile(error) || !monitor->Watch(std::move(*source), error)) {
    return error;
  }
  return std::unique_ptr<ViolationMonitor>(std::move(monitor));
}

}  // namespace bulkhead::daemon
