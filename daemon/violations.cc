#include "daemon/violations.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <span>
#include <utility>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "capture/byte_reader.h"
#include "capture/decoder.h"
#include "capture/pcap_handle.h"
#include "codec/text_escape.h"
#include "policy/model.h"

namespace bulkhead::daemon {
namespace {

// NFLOG attribute types (linux/netfilter/nfnetlink_log.h).
constexpr std::uint16_t kNfulaPayload = 9;
constexpr std::uint16_t kNfulaPrefix = 10;
// Netlink attribute flag bits (NLA_F_NESTED, NLA_F_NET_BYTEORDER) that are not part of the type.
constexpr std::uint16_t kNlaTypeMask = 0x3FFF;
// The kernel sends about twenty attribute kinds, each at most once; the bound keeps a crafted
// record from looping long (the same bound as the capture decoder's NFLOG walk).
constexpr int kMaxNflogTlvs = 32;
// Every prefix the enforcer writes starts with this (enforcer/compiler.cc); another program's
// log rule on the same group is not ours to report.
constexpr std::string_view kPrefixTag = "bulkhead ";

// NFLOG TLV length and type are in the byte order of the host that logged them.
std::uint16_t HostOrder16(std::uint8_t first, std::uint8_t second) {
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<std::uint16_t>(first | (second << 8));
  } else {
    return static_cast<std::uint16_t>((first << 8) | second);
  }
}

// Finds the NFULA_PREFIX attribute. Only the prefix is read here: the packet itself goes through
// the capture decoder, the one place that reads IP headers.
bool FindPrefix(capture::ByteReader r, std::string& prefix) {
  std::uint8_t family = 0;
  std::uint8_t version = 0;
  if (!r.ReadU8(family) || !r.ReadU8(version) || !r.Skip(2) || version != 0) {
    return false;
  }
  for (int i = 0; i < kMaxNflogTlvs && r.remaining() > 0; ++i) {
    std::array<std::uint8_t, 4> tlv{};
    if (!r.ReadBytes(tlv.data(), tlv.size())) {
      return false;
    }
    const std::uint16_t length = HostOrder16(tlv[0], tlv[1]);
    const std::uint16_t type = HostOrder16(tlv[2], tlv[3]) & kNlaTypeMask;
    if (length < 4) {
      return false;  // shorter than its own header: the walk cannot go on
    }
    const std::size_t value_len = length - 4U;
    if (type == kNfulaPrefix) {
      capture::ByteReader value;
      if (!r.Take(value_len, value)) {
        return false;  // a cut prefix cannot be trusted to name the verdict
      }
      const std::span<const std::uint8_t> bytes = value.rest();
      // NUL-terminated by the kernel; a value without the NUL is taken whole.
      const auto end = std::find(bytes.begin(), bytes.end(), std::uint8_t{0});
      prefix.assign(bytes.begin(), end);
      return true;
    }
    if (type == kNfulaPayload) {
      // The kernel puts the payload last, and the snaplen may have cut it: nothing after it.
      return false;
    }
    if (!r.Skip(value_len)) {
      return false;
    }
    const std::size_t pad = (4 - (value_len % 4)) % 4;  // the last TLV may come unpadded
    r.Skip(std::min(pad, r.remaining()));
  }
  return false;
}

// RFC 3339, UTC, milliseconds: 2026-11-29T10:00:00.123Z.
std::string Rfc3339Millis(std::uint64_t ts_usec) {
  const auto seconds = static_cast<std::time_t>(ts_usec / 1'000'000U);
  const auto millis = static_cast<unsigned>((ts_usec % 1'000'000U) / 1000U);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) {
    return "1970-01-01T00:00:00.000Z";  // beyond the year 2^31: not a kernel timestamp
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

void AppendEndpoint(std::string& out, const ViolationEndpoint& e) {
  using policy::internal::JsonString;
  out += "{\"workload\":" + JsonString(e.workload) + ",\"group\":" + JsonString(e.group) +
         ",\"address\":" + JsonString(e.address) + "}";
}

// Names in the human log line: as they are when plainly harmless, else JSON-quoted, so a
// container name cannot forge a log line or smuggle terminal escapes.
std::string LogName(std::string_view name) {
  const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':';
  });
  return plain ? std::string(name) : policy::internal::JsonString(name);
}

std::string LogEndpoint(const ViolationEndpoint& e) {
  if (e.workload.empty() || e.workload == e.group) {
    return fmt::format("{} ({})", LogName(e.group), e.address);
  }
  return fmt::format("{} (group {}, {})", LogName(e.workload), LogName(e.group), e.address);
}

std::optional<std::string_view> VerdictOf(std::string_view prefix) {
  if (prefix == "bulkhead deny") {
    return "blocked";
  }
  if (prefix == "bulkhead warn") {
    return "monitored";
  }
  if (prefix == "bulkhead spoofed") {
    return "spoofed";
  }
  if (prefix == "bulkhead tagged") {
    return "tagged";
  }
  return std::nullopt;
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
constexpr int kReceiveBuffer = 8 * 1024 * 1024;
// Records per pcap_dispatch and batches per wake-up: bounded so a flood of violations cannot
// starve the agent's other work on the loop (STYLE.md rule 13).
constexpr int kBatch = 256;
constexpr int kMaxBatchesPerWake = 16;

class NflogViolationMonitor final : public ViolationMonitor {
 public:
  NflogViolationMonitor(boost::asio::io_context& io, ViolationMonitorOptions options,
                        Resolver resolver, Metrics& metrics, std::shared_ptr<spdlog::logger> log,
                        Listener listener, capture::PcapHandle handle)
      : options_(std::move(options)),
        device_("nflog:" + std::to_string(options_.nflog_group)),
        resolver_(std::move(resolver)),
        metrics_(metrics),
        log_(std::move(log)),
        listener_(std::move(listener)),
        handle_(std::move(handle)),
        descriptor_(io),
        retry_(io),
        tokens_(options_.log_lines_per_second),
        refilled_(std::chrono::steady_clock::now()) {}

  ~NflogViolationMonitor() override {
    Stop();
    // The descriptor belongs to the pcap handle, which closes it; Asio must not close it too.
    if (descriptor_.is_open()) {
      descriptor_.release();
    }
    CloseFile();
  }
  NflogViolationMonitor(const NflogViolationMonitor&) = delete;
  NflogViolationMonitor& operator=(const NflogViolationMonitor&) = delete;

  // Waits on the pcap handle's descriptor through Asio (epoll); false if it cannot be registered.
  bool Watch(int fd, std::string& error) {
    boost::system::error_code ec;
    descriptor_.assign(fd, ec);
    if (ec) {
      error = device_ + ": cannot wait for NFLOG records: " + ec.message();
      return false;
    }
    return true;
  }

  bool OpenFile(std::string& error) {
    if (options_.violations_file.empty()) {
      return true;
    }
    const int fd = ::open(options_.violations_file.c_str(),
                          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      error = "cannot open violations file " + options_.violations_file + ": " +
              std::strerror(errno);
      return false;
    }
    CloseFile();
    file_fd_ = fd;
    return true;
  }

  void Arm() {
    if (stopped_) {
      return;
    }
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [this, alive = std::weak_ptr<int>(alive_)](
                               const boost::system::error_code& ec) {
                             if (alive.expired() || ec == boost::asio::error::operation_aborted) {
                               return;  // stopped or destroyed: touch nothing
                             }
                             if (ec) {
                               log_->error("{}: waiting for records failed: {}", device_,
                                           ec.message());
                               RetryLater();
                               return;
                             }
                             Drain();
                           });
  }

  void Reopen() override {
    std::string error;
    if (!OpenFile(error)) {
      log_->error("{} (still writing to the previous file)", error);
    }
  }

  void Stop() override {
    if (stopped_) {
      return;
    }
    stopped_ = true;
    boost::system::error_code ignored;
    descriptor_.cancel(ignored);
    retry_.cancel();
  }

  std::uint64_t count() const override { return count_; }

 private:
  void RetryLater() {
    retry_.expires_after(std::chrono::seconds(1));
    retry_.async_wait([this, alive = std::weak_ptr<int>(alive_)](
                          const boost::system::error_code& ec) {
      if (!alive.expired() && !ec) {
        Arm();
      }
    });
  }

  void Drain() {
    for (int batch = 0; batch < kMaxBatchesPerWake && !stopped_; ++batch) {
      auto on_frame = [this](const pcap_pkthdr& header, const u_char* bytes) noexcept {
        try {
          OnFrame(header, bytes);
        } catch (const std::exception& e) {
          failure_ = e.what();
          handle_.BreakLoop();
        } catch (...) {
          failure_ = "unknown exception";
          handle_.BreakLoop();
        }
      };
      const int rc = handle_.Dispatch(kBatch, on_frame);
      if (!failure_.empty()) {
        log_->error("{}: handling a violation failed: {}", device_, failure_);
        failure_.clear();
        continue;  // the record is lost; the next ones are not
      }
      if (rc < 0 && rc != PCAP_ERROR_BREAK) {
        // The netlink socket failed (not an overrun: libpcap counts ENOBUFS as drops). Retrying
        // at once could spin on a descriptor that stays readable with the same error.
        log_->error("{}: reading violations failed: {}", device_, handle_.LastError());
        UpdateDrops();
        RetryLater();
        return;
      }
      if (rc < kBatch) {
        break;  // drained
      }
    }
    UpdateDrops();
    Arm();
  }

  void UpdateDrops() {
    pcap_stat stats{};
    if (pcap_stats(handle_.get(), &stats) == 0) {
      metrics_.Set(kNflogDrops, {}, stats.ps_drop);
    }
  }

  void OnFrame(const pcap_pkthdr& header, const u_char* bytes) {
    std::uint64_t ts_usec = static_cast<std::uint64_t>(header.ts.tv_sec) * 1'000'000U +
                            static_cast<std::uint64_t>(header.ts.tv_usec);
    if (ts_usec == 0) {
      ts_usec = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
    }
    NflogRecord record;
    if (!ParseNflogFrame(bytes, header.caplen, ts_usec, record)) {
      metrics_.Add(kMalformedTotal, {});
      return;
    }
    const std::optional<std::string_view> verdict = VerdictOf(record.prefix);
    if (!verdict) {
      metrics_.Add(kMalformedTotal, {});  // "bulkhead something": a ruleset newer than we are
      return;
    }
    Violation v;
    v.ts_usec = record.ts_usec;
    v.verdict = std::string(*verdict);
    v.from = Resolve(record.src);
    v.to = Resolve(record.dst);
    const auto protocol = policy::ProtocolFromIana(record.proto);
    v.protocol = protocol ? std::string(policy::ProtocolName(*protocol))
                          : std::to_string(record.proto);
    v.port = record.dst_port;
    ++count_;
    WriteLine(v);
    LogLine(v);
    metrics_.Add(kViolationsTotal, {{"from", v.from.group}, {"to", v.to.group},
                                    {"verdict", v.verdict}});
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

  void WriteLine(const Violation& v) {
    if (file_fd_ < 0) {
      return;
    }
    const std::string line = ViolationJson(v) + "\n";
    // One write() per line: with O_APPEND it lands whole at the end, so a reader tailing the
    // file (or a second writer) never sees half a line.
    const ssize_t n = ::write(file_fd_, line.data(), line.size());
    if (n == static_cast<ssize_t>(line.size())) {
      write_failing_ = false;
      return;
    }
    if (!write_failing_) {  // once per run of failures, not once per violation
      write_failing_ = true;
      log_->error("cannot append to violations file {}: {}", options_.violations_file,
                  n < 0 ? std::strerror(errno) : "short write (disk full?)");
    }
  }

  // A token bucket of log_lines_per_second tokens (the burst is one second's worth): a scan of
  // thousands of ports must not flood the log, but every violation still reaches the file and
  // the metric.
  void LogLine(const Violation& v) {
    const auto now = std::chrono::steady_clock::now();
    const double rate = options_.log_lines_per_second;
    tokens_ = std::min(rate, tokens_ + std::chrono::duration<double>(now - refilled_).count() *
                                           rate);
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
    log_->warn("violation {}: {} -> {} {}{}{}", v.verdict, LogEndpoint(v.from),
               LogEndpoint(v.to), v.protocol, port, note);
  }

  void CloseFile() {
    if (file_fd_ >= 0) {
      ::close(file_fd_);
      file_fd_ = -1;
    }
  }

  ViolationMonitorOptions options_;
  std::string device_;
  Resolver resolver_;
  Metrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  Listener listener_;
  capture::PcapHandle handle_;
  boost::asio::posix::stream_descriptor descriptor_;
  boost::asio::steady_timer retry_;
  // Handlers hold a weak_ptr to this: one that was already queued when the monitor is
  // destroyed sees it expired and returns without touching the monitor.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  int file_fd_ = -1;
  bool stopped_ = false;
  bool write_failing_ = false;
  std::uint64_t count_ = 0;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  std::uint64_t suppressed_ = 0;
  std::string failure_;  // set by the pcap callback when handling a record threw
};

}  // namespace

std::string ViolationJson(const Violation& v) {
  using policy::internal::JsonString;
  std::string out = "{\"time\":\"" + Rfc3339Millis(v.ts_usec) + "\",\"verdict\":" +
                    JsonString(v.verdict) + ",\"from\":";
  AppendEndpoint(out, v.from);
  out += ",\"to\":";
  AppendEndpoint(out, v.to);
  out += ",\"protocol\":" + JsonString(v.protocol) + ",\"port\":" + std::to_string(v.port) + "}";
  return out;
}

bool ParseNflogFrame(const std::uint8_t* data, std::size_t length, std::uint64_t ts_usec,
                     NflogRecord& out) {
  if (data == nullptr) {
    return false;
  }
  const std::span<const std::uint8_t> bytes(data, length);
  std::string prefix;
  if (!FindPrefix(capture::ByteReader(bytes), prefix)) {
    return false;
  }
  while (!prefix.empty() && prefix.back() == ' ') {
    prefix.pop_back();
  }
  if (!prefix.starts_with(kPrefixTag)) {
    return false;  // another program's log rule on the same group
  }
  capture::RawFrame frame;
  frame.ts_usec = ts_usec;
  frame.data = bytes;
  frame.wire_len = static_cast<std::uint32_t>(std::min<std::size_t>(length, UINT32_MAX));
  capture::PacketSummary packet;
  const capture::DecodeOutcome outcome = capture::Decode(capture::LinkType::kNflog, frame, packet);
  // A packet without ports (a later fragment, GRE, ...) still crossed a boundary it must not.
  if (outcome != capture::DecodeOutcome::kOk &&
      outcome != capture::DecodeOutcome::kNonFirstFragment &&
      outcome != capture::DecodeOutcome::kOtherTransport) {
    return false;
  }
  out.prefix = std::move(prefix);
  out.ts_usec = ts_usec;
  out.src = packet.src;
  out.dst = packet.dst;
  out.proto = packet.proto;
  const bool icmp = packet.proto == static_cast<std::uint8_t>(capture::L4Proto::kIcmp) ||
                    packet.proto == static_cast<std::uint8_t>(capture::L4Proto::kIcmpv6);
  if (outcome != capture::DecodeOutcome::kOk) {
    out.dst_port = 0;
  } else if (icmp) {
    out.dst_port = packet.icmp_type;
  } else {
    out.dst_port = packet.has_ports ? packet.dst_port : 0;
  }
  return true;
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
  // The capture module's live source decodes frames and drops the NFLOG prefix, which is the
  // verdict here, so this opens its own handle; it shares the RAII owner and the noexcept
  // dispatch thunk (capture/pcap_handle.h).
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  capture::PcapHandle handle(pcap_create(device.c_str(), errbuf));
  if (!handle) {
    return device + ": cannot read violations: " + errbuf;
  }
  pcap_t* p = handle.get();
  pcap_set_snaplen(p, kSnaplen);
  pcap_set_buffer_size(p, kReceiveBuffer);
  // NFLOG records are few (rate-limited in the ruleset) and each is news: hand them over at once.
  // The kernel still batches on its side: libpcap leaves the group's queue threshold at the
  // default (100 records or 1 s), so a lone violation arrives about a second after the packet.
  pcap_set_immediate_mode(p, 1);
  const int rc = pcap_activate(p);
  if (rc < 0) {
    const std::string detail = handle.LastError();
    if (rc == PCAP_ERROR_PERM_DENIED) {
      return device + ": permission denied (reading NFLOG needs CAP_NET_ADMIN: run as root)";
    }
    return device + ": cannot read violations: " +
           (detail.empty() ? std::string(pcap_statustostr(rc)) : detail);
  }
  if (pcap_datalink(p) != DLT_NFLOG) {
    return device + ": unexpected link type " + std::to_string(pcap_datalink(p));
  }
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    return device + ": cannot make the NFLOG handle non-blocking: " + errbuf;
  }
  const int fd = pcap_get_selectable_fd(p);
  if (fd < 0) {
    return device + ": NFLOG handle has no selectable descriptor";
  }
  auto monitor = std::make_unique<NflogViolationMonitor>(io, options, std::move(resolver),
                                                         metrics, std::move(log),
                                                         std::move(listener), std::move(handle));
  std::string error;
  if (!monitor->Watch(fd, error) || !monitor->OpenFile(error)) {
    return error;
  }
  monitor->Arm();
  return std::unique_ptr<ViolationMonitor>(std::move(monitor));
}

}  // namespace bulkhead::daemon
