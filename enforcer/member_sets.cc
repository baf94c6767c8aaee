// The membership elements of the compiled tables: which set elements one workload contributes.
// CompileRuleset fills the sets from here and membership updates add or remove exactly these.
#include <set>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "enforcer/compiler.h"
#include "enforcer/internal/rule_building.h"
#include "enforcer/internal/table_builders.h"
#include "enforcer/set_names.h"

namespace bulkhead::enforcer {
namespace {

using internal::kAddressFamilies;
using internal::MakeElement;

// The bridge table's elements of one workload: its port and (port, address) pairs, and with a
// MAC its port's MAC and the (port, MAC, address) triples of its ordinary frames.
template <class Sink>
void EmitBridgeMemberElements(const MemberWorkload& w, Sink&& sink) {
  if (w.interface.empty()) {
    return;
  }
  std::string origin = fmt::format("workload {}", w.name);
  sink(kInterfaceSet, MakeElement({Value::Ifname(w.interface)}, origin));
  if (w.mac) {
    sink(kMacPortSet, MakeElement({Value::Ifname(w.interface)}, origin));
    sink(kPortMacSet, MakeElement({Value::Ifname(w.interface), *w.mac}, origin));
  }
  for (const auto& family : kAddressFamilies) {
    for (const Value& a : family.v6 ? w.v6 : w.v4) {
      if (w.mac) {
        sink(InterfaceMacAddressSetName(family.family),
             MakeElement({Value::Ifname(w.interface), *w.mac, a}, origin));
      }
      sink(InterfaceAddressSetName(family.family),
           MakeElement({Value::Ifname(w.interface), a}, origin));
      sink(OwnedAddressSetName(family.family), MakeElement({a}, origin));
      if (family.v6) {
        sink(kNdOwnedTargetSet, MakeElement({Value::Ipv6Raw(a)}, origin));
        sink(kNdPortTargetSet,
             MakeElement({Value::Ifname(w.interface), Value::Ipv6Raw(a)}, origin));
      }
    }
  }
}

// The membership elements of one workload in `family`'s table, to `sink(set name, element)`,
// in the order CompileRuleset fills each set (public wrapper: ForEachMemberElement).
template <class Sink>
void EmitMemberElements(Family family, const ResolvedGroup& g, const MemberWorkload& w,
                        bool failsafe_group, Sink&& sink) {
  if (family == Family::kBridge) {
    EmitBridgeMemberElements(w, sink);
    return;
  }
  const bool has_iface = !w.interface.empty();
  std::string in_group = fmt::format("workload {} (group {})", w.name, g.name);
  std::string origin = fmt::format("workload {}", w.name);
  for (const auto& ip : kAddressFamilies) {
    for (const Value& a : ip.v6 ? w.v6 : w.v4) {
      if (g.mode == policy::Mode::kEnforce) {
        sink(EnforceSetName(ip.family), MakeElement({a}, in_group));
      } else if (g.mode == policy::Mode::kMonitor) {
        sink(MonitorSetName(ip.family), MakeElement({a}, in_group));
      }
      Element group_element = MakeElement({a}, in_group);
      group_element.data = Value::Number(DataType::kMark, g.id);
      sink(GroupMapName(ip.family), std::move(group_element));
      if (has_iface) {
        sink(InterfaceAddressSetName(ip.family),
             MakeElement({Value::Ifname(w.interface), a}, origin));
      }
      if (failsafe_group) {
        sink(FailsafeMemberSetName(g.id, ip.family), MakeElement({a}, origin));
      }
    }
  }
  if (has_iface) {
    sink(kInterfaceSet, MakeElement({Value::Ifname(w.interface)}, origin));
  }
}

}  // namespace

namespace internal {

void FillMemberSets(Table& table, const Membership& membership,
                    const std::set<std::string>& failsafe_groups) {
  std::unordered_map<std::string_view, Set*> by_name;
  for (Set& set : table.sets) {
    by_name.emplace(set.name, &set);
  }
  std::set<std::string> seen_ifaces;
  std::set<std::vector<Value>> seen_port_macs;  // a shared interface's MAC(s), listed once
  for (const auto& g : membership.groups) {
    const bool failsafe = failsafe_groups.count(g.name) != 0;
    for (const auto& w : g.members) {
      EmitMemberElements(table.family, g, w, failsafe, [&](std::string_view set, Element e) {
        if (set == kInterfaceSet && !seen_ifaces.insert(e.key[0].name).second) {
          return;
        }
        if ((set == kMacPortSet || set == kPortMacSet) && !seen_port_macs.insert(e.key).second) {
          return;
        }
        if (auto it = by_name.find(set); it != by_name.end()) {
          it->second->elements.push_back(std::move(e));
        }
      });
    }
  }
}

}  // namespace internal

void ForEachMemberElement(Family family, const ResolvedGroup& group, const MemberWorkload& w,
                          bool failsafe_group,
                          const std::function<void(std::string_view set, Element)>& sink) {
  EmitMemberElements(family, group, w, failsafe_group, sink);
}

}  // namespace bulkhead::enforcer
