#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "capture/decoder.h"

// DLT_NFLOG messages: what libpcap's "nflog:N" device hands over and LINKTYPE_NFLOG files hold.
// Layout (libpcap pcap/nflog.h, https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html): a 4-byte
// header (nfgenmsg: address family, version 0, resource id = the NFLOG group, big-endian), then
// TLVs (nfattr: 16-bit length including the 4-byte TLV header, 16-bit type, value padded to 4
// bytes), both in the byte order of the host that logged the packet. Attribute types are the
// kernel's NFULA_* (linux/netfilter/nfnetlink_log.h). This is the one walk over those TLVs: the
// decoder reads the packet from it and the violation reader the log prefix.
namespace bulkhead::capture {

// The parts of one message bulkhead reads. The views point into the frame: valid as long as it.
struct NflogMessage {
  std::uint8_t family = 0;  // AF_INET or AF_INET6 (nfgenmsg.nfgen_family)
  std::uint16_t group = 0;  // nfgenmsg.res_id: the NFLOG group the rule logged to
  // NFULA_PREFIX (the rule's `log prefix`), up to its terminating NUL; empty when absent or
  // when it comes after the payload (the kernel writes the payload last, see below).
  std::string_view prefix;
  // NFULA_PAYLOAD: the packet from its network header on, as captured (the kernel's copy range
  // may have cut it, and then the TLV length describes the cut copy).
  std::span<const std::uint8_t> payload;
  bool has_payload = false;
};

// Walks the TLVs of `message` up to and including NFULA_PAYLOAD. Returns
//   kOk                    a payload was found (`out.payload`);
//   kNotIp                 a well-formed message without a payload (copy mode none);
//   kUnsupportedLink       an NFLOG version other than 0;
//   kTruncatedNflog        the message ends inside its header or a TLV header;
//   kBadNflogTlv           a TLV length shorter than its own header or past the message;
//   kNflogTooManyTlvs      more TLVs than any kernel sends before the payload.
// Never reads past `message`, never allocates, never throws.
DecodeOutcome WalkNflog(std::span<const std::uint8_t> message, NflogMessage& out) noexcept;

// Decodes one DLT_NFLOG frame: the walk above, then the payload's IP and transport headers (as
// Decode(LinkType::kNflog, ...) does, which calls this). `message` keeps the prefix and group,
// which is what the violation reader needs beyond the summary.
DecodeOutcome DecodeNflog(const RawFrame& frame, PacketSummary& out,
                          NflogMessage& message) noexcept;

}  // namespace bulkhead::capture
