#include "enforcer/membership_update.h"

#include <algorithm>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include "tests/unit/enforcer/sample_policy.h"

namespace bulkhead::enforcer {
namespace {

using testing::SampleInventory;
using testing::SamplePolicy;

std::string Text(const Value& v) {
  return fmt::format("{}/{}/{}/{}", static_cast<int>(v.type), v.number, fmt::join(v.addr, "."),
                     v.name);
}

// A set's elements as sorted text (element order is not part of the contract; origins are not
// compared).
std::vector<std::string> Elements(const Set& s) {
  std::vector<std::string> out;
  for (const auto& e : s.elements) {
    std::string t;
    for (const auto& v : e.key) {
      t += Text(v) + " ";
    }
    t += "- ";
    for (const auto& v : e.key_end) {
      t += Text(v) + " ";
    }
    if (e.data) {
      t += ": " + Text(*e.data);
    }
    if (e.verdict) {
      t += fmt::format(": {} {}", static_cast<int>(e.verdict->kind), e.verdict->chain);
    }
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectSameElements(const Ruleset& got, const Ruleset& want) {
  ASSERT_TRUE(SameStructure(got, want));
  for (const auto& wt : want.tables) {
    const Table* gt = got.FindTable(wt.family, wt.name);
    ASSERT_NE(gt, nullptr);
    for (const auto& ws : wt.sets) {
      const Set* gs = gt->FindSet(ws.name);
      ASSERT_NE(gs, nullptr) << ws.name;
      EXPECT_EQ(Elements(*gs), Elements(ws)) << FamilyName(wt.family) << " set " << ws.name;
    }
  }
}

struct Env {
  policy::Policy policy = SamplePolicy(policy::Mode::kEnforce);
  policy::Inventory inventory = SampleInventory();
  CompileOptions options;

  MembershipTracker Track() const {
    auto c = CompileRuleset(policy, inventory, options);
    EXPECT_TRUE(c) << (c ? "" : c.error().front());
    return MembershipTracker(policy, inventory, options, std::move(*c));
  }

  // Plans the change to `next`, checks the delta against a full compile + DiffElements and the
  // committed state against a full compile of `next`.
  void ExpectIncremental(MembershipTracker& t, const policy::Inventory& next,
                         std::size_t min_changed) const {
    auto plan = t.PlanChange(next);
    ASSERT_TRUE(plan) << "fell back to a full compile";
    auto full = CompileRuleset(policy, next, options);
    ASSERT_TRUE(full);
    auto want = DiffElements(t.compiled().ruleset, full->ruleset);
    ASSERT_TRUE(want) << "the full compile changed the structure";
    EXPECT_EQ(plan->delta.Added(), want->Added());
    EXPECT_EQ(plan->delta.Removed(), want->Removed());
    EXPECT_GE(plan->delta.Added() + plan->delta.Removed(), min_changed);
    t.Commit(*plan);
    ExpectSameElements(t.compiled().ruleset, full->ruleset);
    ASSERT_EQ(t.compiled().membership.groups.size(), full->membership.groups.size());
    for (std::size_t i = 0; i < full->membership.groups.size(); ++i) {
      const auto& a = t.compiled().membership.groups[i];
      const auto& b = full->membership.groups[i];
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.id, b.id);
      EXPECT_EQ(a.implicit, b.implicit);
      ASSERT_EQ(a.members.size(), b.members.size()) << a.name;
      for (std::size_t m = 0; m < a.members.size(); ++m) {
        EXPECT_EQ(a.members[m].name, b.members[m].name);
      }
    }
  }
};

policy::Workload W(std::string name, std::string app, std::vector<std::string> addresses,
                   std::string iface) {
  policy::Workload w;
  w.name = std::move(name);
  if (!app.empty()) {
    w.labels = {{"app", std::move(app)}};
  }
  w.addresses = std::move(addresses);
  w.interface = std::move(iface);
  return w;
}

TEST(MembershipTracker, AddAndRemoveAReplica) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  next.workloads.push_back(W("api-3", "api", {"10.0.0.7", "fd00::7"}, "veth-api3"));
  // enforce, grp, ifaddr (x2 families), wl_ifaces; bridge: wl_ifaces, ifaddr, owned (x2)
  env.ExpectIncremental(t, next, 12);
  env.ExpectIncremental(t, env.inventory, 12);
}

TEST(MembershipTracker, NothingChangedIsAnEmptyDelta) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  next.workloads[0].id = "a-new-container-id";  // restarted: same name, addresses, interface
  std::reverse(next.workloads.begin(), next.workloads.end());
  auto plan = t.PlanChange(next);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->delta.Empty());
}

TEST(MembershipTracker, RelabelMovesAWorkloadBetweenGroups) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  next.workloads[2].labels = {{"app", "web"}};  // api-2 becomes a web replica
  env.ExpectIncremental(t, next, 2);
}

TEST(MembershipTracker, FailsafeGroupMembersAndAnAddressChange) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  next.workloads.push_back(W("web-2", "web", {"10.0.0.8"}, "veth-web2"));  // web is failsafe
  next.workloads[3].addresses = {"10.0.0.15", "fd00::15"};                 // db-1 moved
  env.ExpectIncremental(t, next, 10);
}

TEST(MembershipTracker, NewImplicitGroupComesAndGoesWithoutShiftingIds) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  next.workloads.push_back(W("batch-1", "batch", {"10.0.0.9"}, "veth-batch1"));
  next.workloads.push_back(W("batch-2", "batch", {"10.0.0.10"}, "veth-batch2"));
  next.workloads.push_back(W("adhoc", "", {"10.0.0.11"}, "veth-adhoc"));
  env.ExpectIncremental(t, next, 3);
  const ResolvedGroup* g = t.compiled().membership.Find("batch");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->implicit);
  EXPECT_EQ(g->id, kImplicitGroupId);
  EXPECT_EQ(t.compiled().membership.Find("web")->id, 5u);
  env.ExpectIncremental(t, env.inventory, 3);
  EXPECT_EQ(t.compiled().membership.Find("batch"), nullptr);
}

TEST(MembershipTracker, SharedInterfaceIsListedUntilItsLastUserGoes) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  next.workloads.push_back(W("web-1b", "web", {"10.0.0.12"}, "veth-web1"));
  env.ExpectIncremental(t, next, 2);
  auto back = next;
  back.workloads.pop_back();
  env.ExpectIncremental(t, back, 2);
}

TEST(MembershipTracker, AMacComesChangesAndGoesWithItsPortsBinding) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  auto replica = W("api-3", "api", {"10.0.0.7", "fd00::7"}, "veth-api3");
  replica.mac = "02:42:0a:00:00:07";
  next.workloads.push_back(replica);
  // 12 as without a MAC, + mac_ports, port_mac, ifmac4, ifmac6
  env.ExpectIncremental(t, next, 16);
  next.workloads.back().mac = "02:42:0a:00:00:77";  // the same container, another MAC
  env.ExpectIncremental(t, next, 2);
  next.workloads.back().mac.clear();  // unbound: its binding elements go
  env.ExpectIncremental(t, next, 2);
  env.ExpectIncremental(t, env.inventory, 12);
}

TEST(MembershipTracker, ASharedPortsMacIsTheFullCompilesToDecide) {
  Env env;
  auto t = env.Track();
  auto next = env.inventory;
  auto second = W("web-1b", "web", {"10.0.0.12"}, "veth-web1");
  second.mac = "02:42:0a:00:00:12";
  next.workloads.push_back(second);
  EXPECT_FALSE(t.PlanChange(next));
  auto full = CompileRuleset(env.policy, next, env.options);
  ASSERT_TRUE(full);
  const Set* port_mac = full->ruleset.FindTable(Family::kBridge, kTableName)->FindSet(kPortMacSet);
  ASSERT_NE(port_mac, nullptr);
  std::size_t on_web_port = 0;
  for (const Element& e : port_mac->elements) {
    on_web_port += e.key[0].name == "veth-web1" ? 1U : 0U;
  }
  EXPECT_EQ(on_web_port, 2U);  // both workloads' MACs pass on the shared port
}

TEST(MembershipTracker, WhatOnlyAFullCompileCanDoFallsBack) {
  Env env;
  auto t = env.Track();
  auto expect_full = [&](const policy::Inventory& next, const char* why) {
    EXPECT_FALSE(t.PlanChange(next)) << why;
  };
  // The sample inventory and one more workload.
  auto plus = [&](policy::Workload w) {
    auto next = env.inventory;
    next.workloads.push_back(std::move(w));
    return next;
  };
  expect_full(plus(W("x", "api", {"10.0.0.3"}, "veth-x")), "an address of two workloads");
  expect_full(plus(W("api-1", "api", {"10.0.0.50"}, "veth-x")), "two workloads with one name");
  expect_full(plus(W("x", "api", {"not-an-address"}, "veth-x")), "a bad address");
  expect_full(plus(W("x", "host", {"10.0.0.52"}, "veth-x")), "a reserved group name");
  expect_full(plus(W("web", "", {"10.0.0.53"}, "veth-x")),
              "group web formed by {app: web} and by a workload named web");
  expect_full(plus(W("x", "api", {"10.0.0.54"}, "")),
              "the first workload without an interface changes the shape");
  {
    // cache is a selector group ({app: cache}) and the derived name: one group, fine.
    auto w = W("x", "cache", {"10.0.0.51"}, "veth-x");
    w.labels["tier"] = "x";
    EXPECT_TRUE(t.PlanChange(plus(w)));
  }
  {
    auto next = env.inventory;
    next.host.addresses.push_back("10.0.0.99");
    expect_full(next, "host addresses");
  }
  {
    auto next = env.inventory;
    for (int i = 0; i < 20; ++i) {
      next.workloads.push_back(W("many-" + std::to_string(i), "api",
                                 {"10.1.0." + std::to_string(i)}, "vm" + std::to_string(i)));
    }
    EXPECT_FALSE(t.PlanChange(next, 10)) << "more changes than max_changes";
    EXPECT_TRUE(t.PlanChange(next, 20));
  }
}

TEST(MembershipTracker, AFullSetFallsBack) {
  Env env;
  auto t = env.Track();
  const Set* grp4 = t.compiled().ruleset.FindTable(Family::kInet, kTableName)->FindSet("grp4");
  ASSERT_NE(grp4, nullptr);
  ASSERT_EQ(grp4->size, 64u);  // the smallest size
  // Up to half the size, a full compile would size the set alike: the states must agree.
  auto next = env.inventory;
  std::size_t n = grp4->elements.size();
  auto grow = [&](std::size_t to) {
    for (; n < to; ++n) {
      next.workloads.push_back(W("r-" + std::to_string(n), "api", {"10.2.0." + std::to_string(n)},
                                 "vr" + std::to_string(n)));
    }
  };
  grow(32);
  env.ExpectIncremental(t, next, 32 - 5);
  // Past that the tracker still has room (the kernel's set is 64), up to the size.
  grow(64);
  auto plan = t.PlanChange(next);
  ASSERT_TRUE(plan);
  t.Commit(*plan);
  grow(65);
  EXPECT_FALSE(t.PlanChange(next)) << "grp4 is full";
  auto full = CompileRuleset(env.policy, next, env.options);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->ruleset.FindTable(Family::kInet, kTableName)->FindSet("grp4")->size, 256u);
}

TEST(MembershipTracker, TwoMatchingGroupsFallBack) {
  Env env;
  env.policy.groups.push_back({"tier-x", {{"tier", "x"}}, std::nullopt});
  auto t = env.Track();
  auto next = env.inventory;
  auto w = W("x", "api", {"10.0.0.55"}, "veth-x");
  w.labels["tier"] = "x";  // api by name and tier-x by selector
  next.workloads.push_back(w);
  EXPECT_FALSE(t.PlanChange(next));
  EXPECT_FALSE(CompileRuleset(env.policy, next, env.options));
}

}  // namespace
}  // namespace bulkhead::enforcer
