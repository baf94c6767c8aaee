#include "capture/live_source.h"

#include <cerrno>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string_view>
#include <utility>

namespace bulkhead::capture {
namespace {

// One line for a failed pcap_activate, naming the interface and what to do about it.
std::string ActivateErrorLine(const std::string& iface, int rc, const std::string& detail) {
  switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return iface + ": no such device (" + detail + ")";
    case PCAP_ERROR_PERM_DENIED:
      if (iface.starts_with("nflog:")) {
        return iface + ": permission denied (reading NFLOG needs CAP_NET_ADMIN: run as root)";
      }
      return iface +
             ": permission denied (capturing needs CAP_NET_RAW: run as root or grant the "
             "capability)";
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return iface + ": permission denied for promiscuous mode";
    case PCAP_ERROR_IFACE_NOT_UP:
      return iface + ": interface is down";
    default:
      return iface + ": cannot start capture: " +
             (detail.empty() ? std::string(pcap_statustostr(rc)) : detail);
  }
}

// The "any" device offers cooked v1 by default; v2 also carries the interface index, so prefer
// it when this libpcap has it.
void PreferSll2(pcap_t* handle) {
  int* links = nullptr;
  const int n = pcap_list_datalinks(handle, &links);
  if (n <= 0) {
    return;
  }
  const bool has_sll2 = std::find(links, links + n, DLT_LINUX_SLL2) != links + n;
  pcap_free_datalinks(links);
  if (has_sll2) {
    pcap_set_datalink(handle, DLT_LINUX_SLL2);  // on failure the SLL default stays: also decoded
  }
}

}  // namespace

boost::system::result<std::unique_ptr<LiveSource>, SourceError> LiveSource::Open(
    const std::string& iface, const LiveConfig& config) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  PcapHandle handle(pcap_create(iface.c_str(), errbuf));
  if (!handle) {
    return SourceError{iface + ": cannot capture: " + errbuf};
  }
  pcap_t* p = handle.get();
  // These only fail on an already activated handle, which this one is not.
  pcap_set_snaplen(p, config.snaplen);
  pcap_set_promisc(p, config.promiscuous ? 1 : 0);
  pcap_set_timeout(p, config.timeout_ms);
  pcap_set_buffer_size(p, static_cast<int>(std::min<std::size_t>(config.buffer_bytes, INT_MAX)));
  // Immediate mode would turn off TPACKET_V3 block batching (one wake-up per frame); only a
  // caller that wants each frame at once (the NFLOG violation reader) asks for it.
  pcap_set_immediate_mode(p, config.immediate_mode ? 1 : 0);

  const int rc = pcap_activate(p);
  std::string warning;
  if (rc < 0) {
    return SourceError{ActivateErrorLine(iface, rc, handle.LastError())};
  }
  if (rc > 0) {
    const std::string detail = handle.LastError();
    warning = iface + ": " + (detail.empty() ? std::string(pcap_statustostr(rc)) : detail);
  }
  if (iface == "any") {
    PreferSll2(p);
  }
  const int dlt = pcap_datalink(p);
  LinkType link{};
  if (!LinkTypeFromDlt(dlt, link)) {
    const char* name = pcap_datalink_val_to_name(dlt);
    return SourceError{iface + ": unsupported link type " + std::to_string(dlt) + " (" +
                       (name != nullptr ? name : "unknown") + ")"};
  }
  if (!config.filter.empty()) {
    bpf_program program{};
    if (pcap_compile(p, &program, config.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return SourceError{iface + ": bad capture filter '" + config.filter +
                         "': " + handle.LastError()};
    }
    const int set = pcap_setfilter(p, &program);
    pcap_freecode(&program);
    if (set != 0) {
      return SourceError{iface + ": cannot install capture filter: " + handle.LastError()};
    }
  }
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    return SourceError{iface + ": cannot make capture non-blocking: " + errbuf};
  }
  const int fd = pcap_get_selectable_fd(p);
  if (fd < 0) {
    return SourceError{iface + ": capture has no selectable descriptor"};
  }
  return std::unique_ptr<LiveSource>(
      new LiveSource(iface, std::move(handle), link, fd, std::move(warning)));
}

boost::system::result<DispatchState, SourceError> LiveSource::Dispatch(int max_frames,
                                                                       PacketSink& sink) {
  if (broken_.load()) {
    return DispatchState::kEndOfInput;
  }
  FrameDelivery delivery(link_, stats_, sink);
  PcapHandle& handle = handle_;
  auto on_frame = [&delivery, &handle](const pcap_pkthdr& header, const u_char* bytes) noexcept {
    if (!delivery.Deliver(header, bytes)) {
      handle.BreakLoop();  // stop this batch; the failure is reported below
    }
  };
  errno = 0;
  const int rc = handle_.Dispatch(max_frames, on_frame);
  const int dispatch_errno = errno;
  if (delivery.failed()) {
    return SourceError{iface_ + ": packet handler failed: " + delivery.FailureMessage()};
  }
  if (rc == PCAP_ERROR_BREAK || broken_.load()) {
    broken_ = true;
    return DispatchState::kEndOfInput;
  }
  if (rc == PCAP_ERROR && (dispatch_errno == EAGAIN || dispatch_errno == EWOULDBLOCK ||
                           handle_.LastError().ends_with(std::strerror(EAGAIN)))) {
    // libpcap's nflog reader (pcap-netfilter-linux.c) reports an empty non-blocking socket as
    // "Can't receive packet: Resource temporarily unavailable" instead of returning 0: nothing
    // to read is not a failure (the loop's 1 s tick drains every source, ready or not).
    return DispatchState::kMore;
  }
  if (rc < 0) {
    // The interface went away or the socket failed: the capture cannot go on.
    return SourceError{iface_ + ": capture failed: " + handle_.LastError()};
  }
  return DispatchState::kMore;
}

SourceStats LiveSource::Stats() {
  pcap_stat ps{};
  if (pcap_stats(handle_.get(), &ps) == 0) {
    stats_.kernel_drops = ps.ps_drop;
    stats_.iface_drops = ps.ps_ifdrop;
  }
  return stats_;
}

void LiveSource::BreakLoop() noexcept {
  broken_ = true;
  handle_.BreakLoop();
}

}  // namespace bulkhead::capture
