#pragma once

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

// Builds nf_tables notifications byte by byte, laid out as the kernel sends them (nlmsghdr,
// nfgenmsg, 4-byte aligned attributes in host order with big-endian numbers), for the event
// decoder's unit tests.
namespace bulkhead::enforcer::testing {

class NftMessage {
 public:
  NftMessage(std::uint8_t msg_type, std::uint8_t family, std::uint32_t seq, std::uint32_t portid) {
    Put32(0);  // nlmsg_len, set by Bytes()
    Put16(static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg_type));
    Put16(0);
    Put32(seq);
    Put32(portid);
    bytes_.push_back(family);
    bytes_.push_back(0);  // version
    bytes_.push_back(0);  // res_id (big endian 16)
    bytes_.push_back(0);
  }

  NftMessage& Str(std::uint16_t type, const std::string& s) {
    std::vector<std::uint8_t> v(s.begin(), s.end());
    v.push_back(0);
    return Attr(type, v);
  }
  NftMessage& Be32(std::uint16_t type, std::uint32_t n) {
    return Attr(type, {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                       static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
  }
  NftMessage& Be64(std::uint16_t type, std::uint64_t n) {
    std::vector<std::uint8_t> v;
    for (int shift = 56; shift >= 0; shift -= 8) {
      v.push_back(static_cast<std::uint8_t>(n >> shift));
    }
    return Attr(type, v);
  }
  // A nested attribute holding `count` empty NFTA_LIST_ELEM entries (an element list).
  NftMessage& ElementList(std::uint16_t type, int count) {
    std::vector<std::uint8_t> inner;
    for (int i = 0; i < count; ++i) {
      const std::uint16_t len = 4;
      const std::uint16_t t = NLA_F_NESTED | NFTA_LIST_ELEM;
      inner.insert(inner.end(), {0, 0, 0, 0});
      std::memcpy(inner.data() + inner.size() - 4, &len, 2);
      std::memcpy(inner.data() + inner.size() - 2, &t, 2);
    }
    return Attr(static_cast<std::uint16_t>(NLA_F_NESTED | type), inner);
  }
  NftMessage& Attr(std::uint16_t type, const std::vector<std::uint8_t>& value) {
    Put16(static_cast<std::uint16_t>(4 + value.size()));
    Put16(type);
    bytes_.insert(bytes_.end(), value.begin(), value.end());
    while (bytes_.size() % 4 != 0) {
      bytes_.push_back(0);
    }
    return *this;
  }

  std::vector<std::uint8_t> Bytes() const {
    std::vector<std::uint8_t> out = bytes_;
    const auto len = static_cast<std::uint32_t>(out.size());
    std::memcpy(out.data(), &len, 4);
    return out;
  }

 private:
  void Put16(std::uint16_t v) {
    bytes_.resize(bytes_.size() + 2);
    std::memcpy(bytes_.data() + bytes_.size() - 2, &v, 2);
  }
  void Put32(std::uint32_t v) {
    bytes_.resize(bytes_.size() + 4);
    std::memcpy(bytes_.data() + bytes_.size() - 4, &v, 4);
  }
  std::vector<std::uint8_t> bytes_;
};

inline std::vector<std::uint8_t> Concat(const std::vector<std::vector<std::uint8_t>>& messages) {
  std::vector<std::uint8_t> out;
  for (const auto& m : messages) {
    out.insert(out.end(), m.begin(), m.end());
  }
  return out;
}

}  // namespace bulkhead::enforcer::testing
