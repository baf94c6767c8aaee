#pragma once

#include "policy/model.h"
#include "policy/policy.h"

// Small policies shared by the enforcer's unit tests and golden files: four groups (web, api,
// db, cache) on one bridge, the host, and the world. Every workload but cache-1 has a MAC (its
// port is bound to it); cache-1 shows an unbound port.
namespace bulkhead::enforcer::testing {

inline policy::Inventory SampleInventory() {
  policy::Inventory inv;
  inv.host = {"node-1", {"10.0.0.1", "fd00::1"}};
  auto add = [&](std::string name, std::string app, std::string v4, std::string v6,
                 std::string iface, std::string mac) {
    policy::Workload w;
    w.name = std::move(name);
    w.labels = {{"app", std::move(app)}};
    w.addresses = {std::move(v4)};
    if (!v6.empty()) {
      w.addresses.push_back(std::move(v6));
    }
    w.interface = std::move(iface);
    w.mac = std::move(mac);
    inv.workloads.push_back(std::move(w));
  };
  add("web-1", "web", "10.0.0.2", "fd00::2", "veth-web1", "02:42:0a:00:00:02");
  add("api-1", "api", "10.0.0.3", "fd00::3", "veth-api1", "02:42:0a:00:00:03");
  add("api-2", "api", "10.0.0.4", "fd00::4", "veth-api2", "02:42:0a:00:00:04");
  add("db-1", "db", "10.0.0.5", "fd00::5", "veth-db1", "02:42:0a:00:00:05");
  add("cache-1", "cache", "10.0.0.6", "", "veth-cache1", "");
  return inv;
}

inline policy::AllowRule Allow(std::string from, std::string to, policy::Protocol p,
                               std::uint16_t first, std::uint16_t last = 0) {
  return policy::AllowRule{std::move(from), std::move(to), p,
                           policy::PortRange{first, last == 0 ? first : last}};
}

inline policy::Policy SamplePolicy(policy::Mode mode) {
  using policy::Protocol;
  policy::Policy p;
  p.mode = mode;
  p.group_by = {"app"};
  p.groups = {{"api", {}, std::nullopt},
              {"cache", {{"app", "cache"}}, std::nullopt},
              {"db", {}, policy::Mode::kEnforce},
              {"web", {}, std::nullopt}};
  p.allow = {
      Allow("web", "api", Protocol::kTcp, 8080),  Allow("web", "api", Protocol::kUdp, 9000, 9010),
      Allow("api", "db", Protocol::kTcp, 5432),   Allow("api", "cache", Protocol::kTcp, 6379),
      Allow("api", "world", Protocol::kTcp, 443), Allow("world", "web", Protocol::kTcp, 80),
      Allow("host", "api", Protocol::kTcp, 9100), Allow("web", "host", Protocol::kUdp, 53),
      Allow("web", "api", Protocol::kIcmp, 8),    Allow("web", "api", Protocol::kIcmpv6, 128)};
  p.failsafe = {Allow("any", "host", Protocol::kTcp, 22), Allow("web", "db", Protocol::kTcp, 7000)};
  return p;
}

}  // namespace bulkhead::enforcer::testing
