#include "enforcer/compiler.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "enforcer/evaluator.h"
#include "enforcer/log_prefix.h"
#include "tests/unit/enforcer/sample_policy.h"

namespace bulkhead::enforcer {
namespace {

using policy::Mode;
using policy::Protocol;
using testing::Allow;
using testing::SampleInventory;
using testing::SamplePolicy;

bool HasError(const std::vector<std::string>& errors, std::string_view needle) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

TEST(GroupMembers, SelectorAndGroupByAndImplicitGroups) {
  auto inv = SampleInventory();
  policy::Workload stray;
  stray.name = "batch-1";
  stray.addresses = {"10.0.0.9"};
  inv.workloads.push_back(stray);
  auto m = ResolveMembership(SamplePolicy(Mode::kMonitor), inv, Mode::kMonitor);
  ASSERT_TRUE(m) << MembershipErrorText(m.error().front());
  ASSERT_EQ(m->groups.size(), 5u);
  EXPECT_EQ(m->groups[0].name, "api");
  EXPECT_EQ(m->groups[0].id, 2u);
  EXPECT_EQ(m->groups[0].members.size(), 2u);
  EXPECT_EQ(m->groups[1].name, "batch-1");  // no policy group: managed, in an implicit group
  EXPECT_TRUE(m->groups[1].implicit);
  EXPECT_EQ(m->Find("db")->mode, Mode::kEnforce);
  EXPECT_EQ(m->Find("web")->mode, Mode::kMonitor);
  EXPECT_EQ(*m->IdOf("world"), kWorldGroupId);
  EXPECT_EQ(*m->IdOf("host"), kHostGroupId);
}

TEST(GroupMembers, ReportsEveryError) {
  auto p = SamplePolicy(Mode::kMonitor);
  p.groups.push_back({"everything-api", {{"app", "api"}}, std::nullopt});
  auto inv = SampleInventory();
  inv.workloads[0].addresses.push_back("not-an-ip");
  inv.workloads[3].addresses.push_back("10.0.0.2");  // web-1's
  auto m = ResolveMembership(p, inv, Mode::kMonitor);
  ASSERT_FALSE(m);
  std::vector<std::string> texts;
  for (const MembershipError& e : m.error()) {
    texts.push_back(MembershipErrorText(e));
  }
  EXPECT_TRUE(HasError(texts, "workload api-1 matches groups api and everything-api"));
  EXPECT_TRUE(HasError(texts, "'not-an-ip' is not an IP address"));
  EXPECT_TRUE(HasError(texts, "address 10.0.0.2 belongs to both web-1 and db-1"));
  // In inventory order: web-1's address, api-1 and api-2 in two groups, db-1's address.
  ASSERT_EQ(m.error().size(), 4U);
  EXPECT_EQ(m.error()[0].kind, MembershipErrorKind::kBadAddress);
  EXPECT_EQ(m.error()[1].kind, MembershipErrorKind::kTwoGroups);
  EXPECT_EQ(m.error()[3].kind, MembershipErrorKind::kSharedAddress);
  EXPECT_EQ(m.error()[3].subject, "10.0.0.2");
}

TEST(GroupMembers, ABadMacIsAnErrorNamingTheWorkload) {
  auto inv = SampleInventory();
  inv.workloads[0].mac = "02:42:0a:00:00";  // web-1's, one byte short
  auto m = ResolveMembership(SamplePolicy(Mode::kMonitor), inv, Mode::kMonitor);
  ASSERT_FALSE(m);
  ASSERT_EQ(m.error().size(), 1U);
  EXPECT_EQ(m.error()[0].kind, MembershipErrorKind::kBadMac);
  EXPECT_EQ(MembershipErrorText(m.error()[0]),
            "workload web-1: mac '02:42:0a:00:00' is not a MAC address (aa:bb:cc:dd:ee:ff)");
  for (const char* bad : {"", "02:42:0a:00:00:0g", "02-42-0a-00-00-02", "02:42:0a:00:00:022"}) {
    EXPECT_FALSE(Value::Mac(bad)) << bad;
  }
  const auto mac = Value::Mac("02:42:0A:00:00:ff");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->type, DataType::kEtherAddr);
  EXPECT_EQ(mac->addr[2], 0x0a);
  EXPECT_EQ(mac->addr[5], 0xff);
}

TEST(Compiler, RejectsUnknownGroupsAndBadRanges) {
  auto p = SamplePolicy(Mode::kEnforce);
  p.allow.push_back(Allow("web", "nosuch", Protocol::kTcp, 1));
  p.allow.push_back(Allow("web", "api", Protocol::kTcp, 90, 80));
  p.allow.push_back(Allow("web", "api", Protocol::kIcmp, 300));
  auto c = CompileRuleset(p, SampleInventory(), {});
  ASSERT_FALSE(c);
  // The same checks as a policy file's (policy::ValidatePolicy), each naming its rule.
  EXPECT_TRUE(HasError(c.error(), "allow to names group \"nosuch\", which is not in groups"));
  EXPECT_TRUE(HasError(c.error(), "port range \"90-80\" is empty"));
  EXPECT_TRUE(HasError(c.error(), "300 is not an icmp type (0..255)"));
}

TEST(Compiler, ShapeOfTheInetTable) {
  auto c = CompileRuleset(SamplePolicy(Mode::kMonitor), SampleInventory(), {});
  ASSERT_TRUE(c);
  const Table* t = c->ruleset.FindTable(Family::kInet, "bulkhead");
  ASSERT_NE(t, nullptr);
  for (const char* hook : {"forward", "input", "output"}) {
    const Chain* chain = t->FindChain(hook);
    ASSERT_NE(chain, nullptr) << hook;
    ASSERT_TRUE(chain->base);
    // The first rule accepts established and related connections.
    const auto& first = std::get<Match>(chain->rules.front().statements.front());
    EXPECT_EQ(first.key.front(), Field::kCtState);
  }
  // web (id 5) has edges in all three kinds of sets; the port range lands in the interval set.
  const Set* exact = t->FindSet("e_g5");
  const Set* ranges = t->FindSet("r_g5");
  const Set* icmp = t->FindSet("i_g5");
  ASSERT_TRUE(exact && ranges && icmp);
  EXPECT_FALSE(exact->interval);
  EXPECT_TRUE(ranges->interval);
  ASSERT_EQ(ranges->elements.size(), 1u);
  EXPECT_EQ(ranges->elements[0].key_end[2].number, 9010u);
  ASSERT_EQ(icmp->elements.size(), 2u);
  EXPECT_EQ(icmp->elements[0].key[2].number, 8u << 8);
  // db is in enforce mode by its own override, web by the global monitor.
  const Set* enforce4 = t->FindSet("enforce4");
  ASSERT_EQ(enforce4->elements.size(), 1u);
  EXPECT_EQ(enforce4->elements[0].origin, "workload db-1 (group db)");
  EXPECT_NE(c->ruleset.FindTable(Family::kBridge, "bulkhead"), nullptr);
}

TEST(Compiler, SetsAreSizedAndSinglePortEdgesCountInTheHitSet) {
  auto c = CompileRuleset(SamplePolicy(Mode::kEnforce), SampleInventory(), {});
  ASSERT_TRUE(c);
  const Table* t = c->ruleset.FindTable(Family::kInet, "bulkhead");
  ASSERT_NE(t, nullptr);
  for (const Set& s : t->sets) {
    if (s.interval) {
      EXPECT_EQ(s.size, 0u) << s.name;
    } else {
      EXPECT_GE(s.size, std::max<std::size_t>(64, 2 * s.elements.size())) << s.name;
      EXPECT_EQ(s.size & (s.size - 1), 0u) << s.name << ": a power of two";
    }
  }
  EXPECT_FALSE(t->FindSet("e_g5")->counter);  // counted in hits instead
  EXPECT_TRUE(t->FindSet("r_g5")->counter);
  const Set* hits = t->FindSet(kHitSet);
  ASSERT_NE(hits, nullptr);
  EXPECT_TRUE(hits->dynamic);
  EXPECT_TRUE(hits->elements.empty());
  // Hit names: (source << 16 | destination, protocol, port) -> the edge.
  const Set names = HitNames(*t);
  const auto web_api =
      std::find_if(names.elements.begin(), names.elements.end(),
                   [](const Element& e) { return e.origin == "allow web -> api tcp/8080"; });
  ASSERT_NE(web_api, names.elements.end());
  EXPECT_EQ(web_api->key[0].number, (5u << 16) | 2u);  // web is group 5, api group 2
  const auto world_web =
      std::find_if(names.elements.begin(), names.elements.end(),
                   [](const Element& e) { return e.origin == "allow world -> web tcp/80"; });
  ASSERT_NE(world_web, names.elements.end());
  EXPECT_EQ(world_web->key[0].number, 5u);  // world is 0: the destination alone
  std::size_t single_port_edges = 0;
  for (const Set& s : t->sets) {
    single_port_edges += s.name.rfind("e_g", 0) == 0 ? s.elements.size() : 0;
  }
  EXPECT_EQ(names.elements.size(), single_port_edges);
}

TEST(Compiler, TooManyGroupsForTwoIdsInACtMark) {
  auto p = SamplePolicy(Mode::kEnforce);
  for (std::size_t i = p.groups.size(); i <= kMaxPolicyGroups; ++i) {
    p.groups.push_back({"g" + std::to_string(i), {}, std::nullopt});
  }
  auto c = CompileRuleset(p, SampleInventory(), {});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().front().find("at most 65532"), std::string::npos) << c.error().front();
}

TEST(Compiler, ModeOverrideFromTheCommandLine) {
  CompileOptions o;
  o.mode = Mode::kEnforce;
  auto c = CompileRuleset(SamplePolicy(Mode::kMonitor), SampleInventory(), o);
  ASSERT_TRUE(c);
  const Table* t = c->ruleset.FindTable(Family::kInet, "bulkhead");
  EXPECT_EQ(t->FindSet("monitor4")->elements.size(), 0u);
  EXPECT_EQ(t->FindSet("enforce4")->elements.size(), 5u);
}

}  // namespace
}  // namespace bulkhead::enforcer

namespace bulkhead::enforcer {
namespace {

TEST(Hooks, EveryHookParsesBackFromItsName) {
  for (Hook hook : {Hook::kPrerouting, Hook::kInput, Hook::kForward, Hook::kOutput}) {
    auto parsed = ParseHook(HookName(hook));
    ASSERT_TRUE(parsed) << HookName(hook);
    EXPECT_EQ(*parsed, hook);
  }
}

TEST(Hooks, AnUnknownHookIsAnErrorNotForward) {
  auto parsed = ParseHook("postrouting");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error(), "unknown hook 'postrouting' (prerouting, input, forward or output)");
  EXPECT_FALSE(ParseHook(""));
  EXPECT_FALSE(ParseHook("Forward"));
}

TEST(Hooks, TheEvaluatorRefusesAnUnknownHook) {
  auto c =
      CompileRuleset(testing::SamplePolicy(policy::Mode::kEnforce), testing::SampleInventory(), {});
  ASSERT_TRUE(c);
  PacketInfo p;
  p.hook = "forwrd";
  p.saddr = *Value::Address("10.0.0.1");
  p.daddr = *Value::Address("10.0.0.2");
  auto r = Evaluate(c->ruleset, p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("unknown hook 'forwrd'"), std::string::npos) << r.error();
}

TEST(SetNames, TheGroupTravelsWithTheSetNotInItsName) {
  auto c =
      CompileRuleset(testing::SamplePolicy(policy::Mode::kEnforce), testing::SampleInventory(), {});
  ASSERT_TRUE(c);
  const Table* t = c->ruleset.FindTable(Family::kInet, kTableName);
  std::size_t edge_sets = 0;
  for (const Set& s : t->sets) {
    if (s.single_port_edges_of) {
      ++edge_sets;
      EXPECT_EQ(s.name, SinglePortEdgeSetName(*s.single_port_edges_of));
    }
  }
  EXPECT_GT(edge_sets, 0u);
  const std::uint32_t web = *c->membership.IdOf("web");
  EXPECT_NE(t->FindSet(FailsafeMemberSetName(web, IpFamily::kIpv4)), nullptr);
  EXPECT_NE(t->FindSet(FailsafeMemberSetName(web, IpFamily::kIpv6)), nullptr);
  EXPECT_EQ(FailsafeMemberSetName(7, IpFamily::kIpv6), "fs_g7_6");
  EXPECT_EQ(JudgeChainName(Hook::kOutput, IpFamily::kIpv4), "judge_out4");
}

TEST(LogPrefixes, EveryVerdictChainLogsAPrefixTheViolationReaderKnows) {
  auto c =
      CompileRuleset(testing::SamplePolicy(policy::Mode::kEnforce), testing::SampleInventory(), {});
  ASSERT_TRUE(c);
  std::set<LoggedVerdict> logged;
  for (const Table& t : c->ruleset.tables) {
    for (const Chain& chain : t.chains) {
      for (const Rule& rule : chain.rules) {
        for (const Statement& st : rule.statements) {
          if (const auto* log = std::get_if<Log>(&st)) {
            auto verdict = ParseLogPrefix(log->prefix);
            ASSERT_TRUE(verdict) << log->prefix;
            EXPECT_EQ(log->prefix, LogPrefixOf(*verdict).prefix);
            logged.insert(*verdict);
          }
        }
      }
    }
  }
  EXPECT_EQ(logged.size(), kLogPrefixes.size());
}

}  // namespace
}  // namespace bulkhead::enforcer
