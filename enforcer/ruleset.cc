#include "enforcer/ruleset.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "enforcer/nft_fields.h"

namespace bulkhead::enforcer {

DataType FieldType(Field f) { return FieldInfoOf(f).type; }

Value Value::Number(DataType type, std::uint32_t n) {
  Value v;
  v.type = type;
  v.number = n;
  return v;
}

Value Value::Ifname(std::string name) {
  Value v;
  v.type = DataType::kIfname;
  v.name = std::move(name);
  return v;
}

Value Value::Ipv6Raw(const Value& address) {
  Value v = address;
  v.type = DataType::kIpv6Raw;
  return v;
}

std::optional<Value> Value::Address(std::string_view text) {
  std::string s(text);
  Value v;
  if (inet_pton(AF_INET, s.c_str(), v.addr.data()) == 1) {
    v.type = DataType::kIpv4Addr;
    return v;
  }
  if (inet_pton(AF_INET6, s.c_str(), v.addr.data()) == 1) {
    v.type = DataType::kIpv6Addr;
    return v;
  }
  return std::nullopt;
}

std::optional<Value> Value::Mac(std::string_view text) {
  constexpr std::size_t kMacBytes = 6;
  constexpr std::size_t kMacTextLength = kMacBytes * 3 - 1;  // "aa:bb:cc:dd:ee:ff"
  if (text.size() != kMacTextLength) {
    return std::nullopt;
  }
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  Value v;
  v.type = DataType::kEtherAddr;
  for (std::size_t i = 0; i < kMacBytes; ++i) {
    const int high = hex(text[i * 3]);
    const int low = hex(text[i * 3 + 1]);
    if (high < 0 || low < 0 || (i + 1 < kMacBytes && text[i * 3 + 2] != ':')) {
      return std::nullopt;
    }
    v.addr[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return v;
}

const Set* Table::FindSet(std::string_view set_name) const {
  auto it =
      std::find_if(sets.begin(), sets.end(), [&](const Set& s) { return s.name == set_name; });
  return it == sets.end() ? nullptr : &*it;
}

const Chain* Table::FindChain(std::string_view chain_name) const {
  auto it = std::find_if(chains.begin(), chains.end(),
                         [&](const Chain& c) { return c.name == chain_name; });
  return it == chains.end() ? nullptr : &*it;
}

const Table* Ruleset::FindTable(Family family, std::string_view name) const {
  auto it = std::find_if(tables.begin(), tables.end(),
                         [&](const Table& t) { return t.family == family && t.name == name; });
  return it == tables.end() ? nullptr : &*it;
}

std::string_view HookName(Hook hook) {
  switch (hook) {
    case Hook::kPrerouting:
      return "prerouting";
    case Hook::kInput:
      return "input";
    case Hook::kForward:
      return "forward";
    case Hook::kOutput:
      return "output";
  }
  return "?";
}

boost::system::result<Hook, std::string> ParseHook(std::string_view name) {
  for (Hook hook : {Hook::kPrerouting, Hook::kInput, Hook::kForward, Hook::kOutput}) {
    if (HookName(hook) == name) {
      return hook;
    }
  }
  return "unknown hook '" + std::string(name) + "' (prerouting, input, forward or output)";
}

std::string_view FamilyName(Family f) { return f == Family::kInet ? "inet" : "bridge"; }

}  // namespace bulkhead::enforcer
