#include "enforcer/element_delta.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include <boost/unordered/unordered_flat_map.hpp>

namespace bulkhead::enforcer {
namespace {

// Value's defaulted == calls memcmp for the address and the name of every value; this is the
// inner loop of a diff over every element of a 10k-workload ruleset, so compare what the type
// uses, with fixed-size compares the compiler inlines.
bool SameValue(const Value& a, const Value& b) {
  if (a.type != b.type || a.number != b.number) {
    return false;
  }
  switch (a.type) {
    case DataType::kIpv4Addr:
    case DataType::kIpv6Addr:
    case DataType::kIpv6Raw:
      return std::memcmp(a.addr.data(), b.addr.data(), 16) == 0;
    case DataType::kIfname:
      return a.name == b.name;
    default:
      return a == b;
  }
}

bool SameValues(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!SameValue(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

bool SameDeclaration(const Set& a, const Set& b) {
  return a.name == b.name && a.key == b.key && a.data == b.data && a.interval == b.interval &&
         a.counter == b.counter && a.size == b.size && a.dynamic == b.dynamic &&
         a.timeout_seconds == b.timeout_seconds && a.single_port_edges_of == b.single_port_edges_of;
}

bool SameChain(const Chain& a, const Chain& b) {
  if (a.name != b.name || a.base != b.base || a.rules.size() != b.rules.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.rules.size(); ++i) {
    if (a.rules[i].statements != b.rules[i].statements) {
      return false;
    }
  }
  return true;
}

void AppendValue(std::string& out, const Value& v) {
  out.push_back(static_cast<char>(v.type));
  char n[4];
  std::memcpy(n, &v.number, sizeof(n));
  out.append(n, sizeof(n));
  out.append(reinterpret_cast<const char*>(v.addr.data()), v.addr.size());
  out.append(v.name);
  out.push_back('\0');
}

// A byte string that is equal for two elements exactly when SameElement is true.
std::string Identity(const Element& e) {
  std::string out;
  out.reserve(64);
  for (const Value& v : e.key) {
    AppendValue(out, v);
  }
  out.push_back('|');
  for (const Value& v : e.key_end) {
    AppendValue(out, v);
  }
  out.push_back('|');
  if (e.data) {
    AppendValue(out, *e.data);
  }
  out.push_back('|');
  if (e.verdict) {
    out.push_back(static_cast<char>(e.verdict->kind));
    out.append(e.verdict->chain);
  }
  return out;
}

// Compilation is deterministic and ordered, so one workload more or less leaves a long common
// prefix and suffix: only the stretch between them is hashed.
void DiffSet(const Set& before, const Set& after, std::vector<Element>& removed,
             std::vector<Element>& added) {
  const auto& a = before.elements;
  const auto& b = after.elements;
  std::size_t head = 0;
  while (head < a.size() && head < b.size() && SameElement(a[head], b[head])) {
    ++head;
  }
  std::size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         SameElement(a[a.size() - 1 - tail], b[b.size() - 1 - tail])) {
    ++tail;
  }
  const std::size_t a_end = a.size() - tail;
  const std::size_t b_end = b.size() - tail;
  boost::unordered_flat_map<std::string, std::size_t> in_after;
  in_after.reserve(b_end - head);
  for (std::size_t i = head; i < b_end; ++i) {
    ++in_after[Identity(b[i])];
  }
  boost::unordered_flat_map<std::string, std::size_t> in_before;
  in_before.reserve(a_end - head);
  for (std::size_t i = head; i < a_end; ++i) {
    std::string id = Identity(a[i]);
    auto it = in_after.find(id);
    if (it != in_after.end() && it->second > 0) {
      --it->second;
      ++in_before[std::move(id)];
    } else {
      removed.push_back(a[i]);
    }
  }
  for (std::size_t i = head; i < b_end; ++i) {
    auto it = in_before.find(Identity(b[i]));
    if (it != in_before.end() && it->second > 0) {
      --it->second;
    } else {
      added.push_back(b[i]);
    }
  }
}

}  // namespace

bool SameKey(const Element& a, const Element& b) {
  return SameValues(a.key, b.key) && SameValues(a.key_end, b.key_end);
}

bool SameElement(const Element& a, const Element& b) {
  return SameKey(a, b) && a.data.has_value() == b.data.has_value() &&
         (!a.data || SameValue(*a.data, *b.data)) && a.verdict == b.verdict;
}

std::size_t ElementDelta::Added() const {
  std::size_t n = 0;
  for (const auto& s : sets) {
    n += s.set.elements.size();
  }
  return n;
}

std::size_t ElementDelta::Removed() const {
  std::size_t n = 0;
  for (const auto& s : sets) {
    n += s.removed.size();
  }
  return n;
}

bool SameStructure(const Ruleset& previous, const Ruleset& next) {
  if (previous.tables.size() != next.tables.size()) {
    return false;
  }
  for (std::size_t t = 0; t < next.tables.size(); ++t) {
    const Table& a = previous.tables[t];
    const Table& b = next.tables[t];
    if (a.family != b.family || a.name != b.name || a.counters != b.counters ||
        a.sets.size() != b.sets.size() || a.chains.size() != b.chains.size()) {
      return false;
    }
    for (std::size_t i = 0; i < a.sets.size(); ++i) {
      if (!SameDeclaration(a.sets[i], b.sets[i])) {
        return false;
      }
    }
    for (std::size_t i = 0; i < a.chains.size(); ++i) {
      if (!SameChain(a.chains[i], b.chains[i])) {
        return false;
      }
    }
  }
  return true;
}

std::optional<ElementDelta> DiffElements(const Ruleset& previous, const Ruleset& next) {
  if (!SameStructure(previous, next)) {
    return std::nullopt;
  }
  ElementDelta delta;
  for (std::size_t t = 0; t < next.tables.size(); ++t) {
    const Table& a = previous.tables[t];
    const Table& b = next.tables[t];
    for (std::size_t i = 0; i < b.sets.size(); ++i) {
      SetDelta d;
      DiffSet(a.sets[i], b.sets[i], d.removed, d.set.elements);
      if (d.removed.empty() && d.set.elements.empty()) {
        continue;
      }
      d.family = b.family;
      d.table = b.name;
      const Set& decl = b.sets[i];
      d.set.name = decl.name;
      d.set.key = decl.key;
      d.set.data = decl.data;
      d.set.interval = decl.interval;
      d.set.counter = decl.counter;
      d.set.single_port_edges_of = decl.single_port_edges_of;
      d.set.origin = decl.origin;
      delta.sets.push_back(std::move(d));
    }
  }
  return delta;
}

}  // namespace bulkhead::enforcer
