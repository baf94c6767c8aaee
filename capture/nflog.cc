#include "capture/nflog.h"

#include <algorithm>
#include <bit>
#include <cstddef>

#include "capture/byte_reader.h"

namespace bulkhead::capture {
namespace {

// NFLOG attribute types (linux/netfilter/nfnetlink_log.h, enum nfulnl_attr_type).
constexpr std::uint16_t kNfulaPayload = 9;  // NFULA_PAYLOAD: the packet, from its IP header on
constexpr std::uint16_t kNfulaPrefix = 10;  // NFULA_PREFIX: the rule's log prefix, NUL-terminated
// Netlink attribute flag bits (NLA_F_NESTED, NLA_F_NET_BYTEORDER; linux/netlink.h NLA_TYPE_MASK)
// that are not part of the type.
constexpr std::uint16_t kNlaTypeMask = 0x3FFF;
// nfgenmsg.version: NFNETLINK_V0 (linux/netfilter/nfnetlink.h), the only one there is.
constexpr std::uint8_t kNfnetlinkV0 = 0;
// NFLOG messages carry one TLV per NFULA_* attribute (about twenty kinds, each at most once;
// nfulnl_log_packet in net/netfilter/nfnetlink_log.c), so 32 TLVs is more than any kernel sends;
// the bound keeps a crafted message from looping long.
constexpr int kMaxNflogTlvs = 32;
// struct nfattr / struct nlattr: 16-bit length, 16-bit type.
constexpr std::size_t kTlvHeader = 4;

// TLV length and type are in the byte order of the host that logged them (libpcap swaps them
// when it reads a file from a host of the other order: pcap-common.c, swap_nflog_header).
std::uint16_t HostOrder16(std::uint8_t first, std::uint8_t second) {
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<std::uint16_t>(first | (second << 8));
  } else {
    return static_cast<std::uint16_t>((first << 8) | second);
  }
}

}  // namespace

DecodeOutcome WalkNflog(std::span<const std::uint8_t> message, NflogMessage& out) noexcept {
  out = NflogMessage{};
  ByteReader r(message);
  // nfgenmsg: family, version, res_id (network byte order: nfnetlink.h).
  std::uint8_t version = 0;
  if (!r.ReadU8(out.family) || !r.ReadU8(version) || !r.ReadBe16(out.group)) {
    return DecodeOutcome::kTruncatedNflog;
  }
  if (version != kNfnetlinkV0) {
    return DecodeOutcome::kUnsupportedLink;  // a future NFLOG header layout
  }
  bool prefix_seen = false;  // the kernel sends one; a second is not allowed to replace it
  for (int i = 0; i < kMaxNflogTlvs && r.remaining() > 0; ++i) {
    std::uint8_t tlv[kTlvHeader];
    if (!r.ReadBytes(tlv, kTlvHeader)) {
      return DecodeOutcome::kTruncatedNflog;
    }
    const std::uint16_t length = HostOrder16(tlv[0], tlv[1]);
    const std::uint16_t type = HostOrder16(tlv[2], tlv[3]) & kNlaTypeMask;
    // NFA_OK (nfnetlink_compat.h): a length below the TLV header cannot be walked past (a zero
    // length would loop on the same TLV forever).
    if (length < kTlvHeader) {
      return DecodeOutcome::kBadNflogTlv;
    }
    const std::size_t value_len = length - kTlvHeader;
    if (type == kNfulaPayload) {
      // The kernel writes the payload last (nfulnl_log_packet), and libpcap's reader or the
      // file's snaplen may cut it: take what was captured, the decoder bounds every read by it.
      ByteReader payload;
      r.Take(std::min(value_len, r.remaining()), payload);
      out.payload = payload.rest();
      out.has_payload = true;
      return DecodeOutcome::kOk;
    }
    ByteReader value;
    // libpcap never cuts an nflog record before its payload, so an attribute that runs past the
    // message is a lying length, not a short capture.
    if (!r.Take(value_len, value)) {
      return DecodeOutcome::kBadNflogTlv;
    }
    if (type == kNfulaPrefix && !prefix_seen) {
      prefix_seen = true;
      // NUL-terminated by the kernel (NFULA_PREFIX is written with nla_put with strlen + 1); a
      // value without the NUL is taken whole.
      const std::span<const std::uint8_t> bytes = value.rest();
      const auto end = std::find(bytes.begin(), bytes.end(), std::uint8_t{0});
      out.prefix = std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                    static_cast<std::size_t>(end - bytes.begin()));
    }
    // NFA_ALIGN: values are padded to 4 bytes; the last TLV may come without its padding.
    const std::size_t pad = (4 - (value_len % 4)) % 4;
    r.Skip(std::min(pad, r.remaining()));
  }
  if (r.remaining() > 0) {
    return DecodeOutcome::kNflogTooManyTlvs;  // more TLVs than any kernel sends: not walked on
  }
  // A message without a payload TLV (copy mode "none", or a prefix-only log line).
  return DecodeOutcome::kNotIp;
}

}  // namespace bulkhead::capture
