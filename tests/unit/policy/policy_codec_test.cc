#include "policy/policy_codec.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "codec/yaml_reader.h"
#include "policy/validation.h"
#include "tests/unit/codec/file_errors_util.h"

namespace bulkhead::policy {
namespace {

constexpr std::string_view kHeader = "apiVersion: bulkhead/v1\nkind: Policy\n";

// The header's example (policy.h), with `db` and `frontend`, which its rules name, listed.
constexpr std::string_view kExample = R"(apiVersion: bulkhead/v1
kind: Policy
mode: monitor                  # learn | monitor | enforce (global)
groupBy: [app]
groups:
  - name: api
    selector: {app: api}       # optional: explicit labels; else derived through groupBy
    mode: enforce              # optional per-group override
  - name: db
  - name: frontend
allow:
  - {from: api, to: db, protocol: tcp, port: 5432}
  - {from: frontend, to: api, protocol: tcp, ports: 8000-8080}
failsafe:                      # never blocked, whatever the rest says
  - {to: host, protocol: tcp, port: 22}
  - {from: any, to: host, protocol: udp, port: 53}
)";

// The example as WritePolicyYaml prints it: fixed key order, sorted rules, explicit `any`.
constexpr std::string_view kExampleWritten = R"(apiVersion: bulkhead/v1
kind: Policy
mode: monitor
groupBy: [app]
groups:
  - name: api
    selector: {app: api}
    mode: enforce
  - name: db
  - name: frontend
allow:
  - {from: api, to: db, protocol: tcp, port: 5432}
  - {from: frontend, to: api, protocol: tcp, ports: 8000-8080}
failsafe:
  - {from: any, to: host, protocol: tcp, port: 22}
  - {from: any, to: host, protocol: udp, port: 53}
)";

using codec::test::Locations;

FileErrors ExpectErrors(std::string_view text) {
  return codec::test::ExpectFailed(ParsePolicy(text, "p.yaml"), text);
}

// The one error of `text`, as "line:col: message".
std::string OneError(std::string_view text) {
  return codec::test::OnlyError(ExpectErrors(text), "p.yaml");
}

// A header, groups api and db, and `rule` as the only allow entry (on line 7).
std::string WithRule(std::string_view rule) {
  return std::string(kHeader) + "groups:\n  - name: api\n  - name: db\nallow:\n  - " +
         std::string(rule) + "\n";
}

Policy SamplePolicy() {
  Policy p;
  p.mode = Mode::kEnforce;
  p.group_by = {"app", "tier"};
  p.groups = {{"web", {}, std::nullopt},
              {"api", {{"app", "api"}, {"tier", "back end"}}, Mode::kMonitor},
              {"host", {}, Mode::kEnforce},
              {"db", {}, Mode::kLearn}};
  p.allow = {
      {"web", "api", Protocol::kTcp, {8000, 8080}},   {"api", "db", Protocol::kTcp, {5432, 5432}},
      {"api", "world", Protocol::kUdp, {53, 53}},     {"web", "api", Protocol::kIcmp, {8, 8}},
      {"host", "api", Protocol::kIcmpv6, {128, 128}}, {"world", "web", Protocol::kSctp, {1, 65535}},
      {"api", "db", Protocol::kIcmp, {0, 255}}};
  p.failsafe = {{"any", "host", Protocol::kTcp, {22, 22}},
                {"host", "any", Protocol::kUdp, {53, 53}}};
  return p;
}

TEST(ModeTest, NamesRoundTrip) {
  for (const Mode m : {Mode::kLearn, Mode::kMonitor, Mode::kEnforce}) {
    EXPECT_EQ(ParseMode(ModeName(m)), m);
  }
  EXPECT_EQ(ModeName(Mode::kEnforce), "enforce");
  EXPECT_FALSE(ParseMode("Enforce"));
  EXPECT_FALSE(ParseMode(""));
}

TEST(PolicyReaderTest, ReadsTheDocumentedExample) {
  auto p = ParsePolicy(kExample, "p.yaml");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->mode, Mode::kMonitor);
  EXPECT_EQ(p->group_by, std::vector<std::string>{"app"});
  ASSERT_EQ(p->groups.size(), 3U);
  EXPECT_EQ(p->groups[0], (PolicyGroup{"api", {{"app", "api"}}, Mode::kEnforce}));
  EXPECT_EQ(p->groups[1], (PolicyGroup{"db", {}, std::nullopt}));
  EXPECT_EQ(p->allow, (std::vector<AllowRule>{{"api", "db", Protocol::kTcp, {5432, 5432}},
                                              {"frontend", "api", Protocol::kTcp, {8000, 8080}}}));
  // A failsafe entry without `from` means any.
  EXPECT_EQ(p->failsafe, (std::vector<FailsafeRule>{{"any", "host", Protocol::kTcp, {22, 22}},
                                                    {"any", "host", Protocol::kUdp, {53, 53}}}));
  EXPECT_EQ(WritePolicyYaml(*p), kExampleWritten);
}

TEST(PolicyReaderTest, DefaultsAndJson) {
  auto minimal = ParsePolicy(std::string(kHeader), "p.yaml");
  ASSERT_TRUE(minimal) << minimal.error().ToString();
  EXPECT_EQ(*minimal, Policy{});
  EXPECT_EQ(minimal->mode, Mode::kMonitor);

  auto json = ParsePolicy(R"({"apiVersion": "bulkhead/v1", "kind": "Policy", "mode": "enforce",
    "groups": [{"name": "a"}],
    "allow": [{"from": "a", "to": "world", "protocol": "tcp", "ports": "80-443"},
              {"from": "world", "to": "a", "protocol": "icmp", "port": 0}]})",
                          "p.json");
  ASSERT_TRUE(json) << json.error().ToString();
  EXPECT_EQ(json->mode, Mode::kEnforce);
  EXPECT_EQ(json->allow, (std::vector<AllowRule>{{"a", "world", Protocol::kTcp, {80, 443}},
                                                 {"world", "a", Protocol::kIcmp, {0, 0}}}));
}

TEST(PolicyReaderTest, HostAndWorldAlwaysExist) {
  auto p = ParsePolicy(std::string(kHeader) +
                           "allow:\n  - {from: world, to: host, protocol: tcp, port: 443}\n"
                           "  - {from: host, to: world, protocol: udp, ports: 1-65535}\n",
                       "p.yaml");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->allow.size(), 2U);
  // They may be listed too (host with a mode), but take no selector.
  auto listed = ParsePolicy(
      std::string(kHeader) + "groups:\n  - name: host\n    mode: enforce\n  - name: world\n",
      "p.yaml");
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_EQ(listed->groups[0], (PolicyGroup{"host", {}, Mode::kEnforce}));
}

TEST(PolicyReaderTest, HeaderErrors) {
  EXPECT_EQ(OneError("apiVersion: bulkhead/v2\nkind: Policy\n"),
            "1:13: apiVersion must be bulkhead/v1, not \"bulkhead/v2\"");
  EXPECT_EQ(OneError("apiVersion: bulkhead/v1\nkind: FlowGraph\n"),
            "2:7: kind must be Policy, not \"FlowGraph\"");
  EXPECT_EQ(OneError("kind: Policy\nmode: monitor\n"), "1:1: missing \"apiVersion\" in the Policy");
  EXPECT_EQ(OneError("apiVersion: bulkhead/v1\n"), "1:1: missing \"kind\" in the Policy");
  EXPECT_EQ(OneError("- a\n"), "1:1: the Policy document must be a map, not a list");
  EXPECT_EQ(OneError(""), "1:1: the file is empty; expected a YAML or JSON mapping");
}

TEST(PolicyReaderTest, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(OneError(std::string(kHeader) + "alow: []\n"),
            "3:1: unknown key \"alow\" in the Policy (known: apiVersion, kind, mode, groupBy, "
            "groups, allow, failsafe, alertOnExec)");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: a\n    selecter: {app: a}\n"),
            "5:5: unknown key \"selecter\" in a group (known: name, selector, mode)");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, port: 1, prot: 5432}")),
            "7:49: unknown key \"prot\" in an allow rule (known: from, to, protocol, port, "
            "ports)");
  EXPECT_EQ(OneError(std::string(kHeader) +
                     "failsafe:\n  - {to: host, protocol: tcp, port: 22, form: any}\n"),
            "4:41: unknown key \"form\" in a failsafe entry (known: from, to, protocol, port, "
            "ports)");
  EXPECT_EQ(OneError(std::string(kHeader) + "mode: enforce\nmode: monitor\n"),
            "4:1: key \"mode\" given twice in the Policy");
}

TEST(PolicyReaderTest, ModeErrors) {
  EXPECT_EQ(OneError(std::string(kHeader) + "mode: enforcing\n"),
            "3:7: unknown mode \"enforcing\" (learn, monitor, enforce)");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: a\n    mode: block\n"),
            "5:11: unknown group mode \"block\" (learn, monitor, enforce)");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: world\n    mode: enforce\n"),
            "5:11: the special group \"world\" has no mode; set it on the other end");
}

TEST(PolicyReaderTest, GroupErrors) {
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: a\n  - name: b\n  - name: a\n"),
            "6:11: group \"a\" given twice (first at line 4)");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: host\n    selector: {app: x}\n"),
            "5:15: the special group \"host\" has no selector");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: any\n"),
            "4:11: \"any\" is reserved for failsafe entries; it cannot be a group");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: \"\"\n"),
            "4:11: a group name is empty");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - selector: {app: a}\n"),
            "4:5: missing \"name\" in a group");
  EXPECT_EQ(OneError(std::string(kHeader) + "groupBy: [app, app]\n"),
            "3:16: groupBy label \"app\" given twice");
}

TEST(PolicyReaderTest, UnknownGroups) {
  EXPECT_EQ(OneError(WithRule("{from: api, to: cache, protocol: tcp, port: 6379}")),
            "7:21: allow to names group \"cache\", which is not in groups");
  EXPECT_EQ(OneError(WithRule("{from: any, to: db, protocol: tcp, port: 5432}")),
            "7:12: \"any\" is only allowed in failsafe entries");
  EXPECT_EQ(OneError(std::string(kHeader) +
                     "failsafe:\n  - {from: nosuch, to: any, protocol: udp, port: 53}\n"),
            "4:12: failsafe from names group \"nosuch\", which is not in groups");
  EXPECT_EQ(OneError(WithRule("{to: db, protocol: tcp, port: 5432}")),
            "7:5: missing \"from\" in allow");
  EXPECT_EQ(OneError(WithRule("{from: host, to: host, protocol: tcp, port: 22}")),
            "7:5: host to host traffic is never judged; remove this allow entry");
}

TEST(PolicyReaderTest, ProtocolAndPortErrors) {
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: http, port: 80}")),
            "7:35: unknown protocol \"http\" (tcp, udp, icmp, icmpv6, sctp)");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, port: 80}")),
            "7:5: missing \"protocol\" in an allow rule");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, port: 0}")),
            "7:46: port 0 is not a port (1..65535)");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: udp, port: 65536}")),
            "7:46: port \"65536\" is out of range (0..65535)");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, port: http}")),
            "7:46: port must be an integer (0..65535), not \"http\"");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, port: \"80\"}")),
            "7:46: port must be an integer (0..65535), not the string \"80\"");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, ports: 9000-8000}")),
            "7:47: port range \"9000-8000\" is empty: 9000 is above 8000");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, ports: 0-80}")),
            "7:47: port 0 is not a port (1..65535)");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, ports: 80-70000}")),
            "7:47: 70000 is not a port (0..65535)");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, ports: 8080}")),
            "7:47: ports must be a range FIRST-LAST like 8000-8080 (decimal, no leading "
            "zeros), not \"8080\"; a single port is \"port: N\"");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, ports: 80-0443}")),
            "7:47: ports must be a range FIRST-LAST like 8000-8080 (decimal, no leading "
            "zeros), not \"80-0443\"");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, ports: [80, 443]}")),
            "7:47: ports must be a range FIRST-LAST like 8000-8080, not a list");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp, port: 80, ports: 80-90}")),
            "7:57: an allow rule has both \"port\" and \"ports\"; give one");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: tcp}")),
            "7:5: an allow rule needs \"port: N\" or \"ports: FIRST-LAST\"");
}

TEST(PolicyReaderTest, IcmpPortIsTheType) {
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: icmp, port: 256}")),
            "7:47: 256 is not an icmp type (0..255)");
  EXPECT_EQ(OneError(WithRule("{from: api, to: db, protocol: icmpv6, ports: 128-300}")),
            "7:50: 300 is not an icmpv6 type (0..255)");
  auto p = ParsePolicy(WithRule("{from: api, to: db, protocol: icmp, port: 0}"), "p.yaml");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->allow[0].ports, (PortRange{0, 0}));
}

TEST(PolicyReaderTest, DuplicateRules) {
  const std::string text = WithRule("{from: api, to: db, protocol: tcp, port: 5432}") +
                           "  - {from: api, to: db, protocol: tcp, ports: 5432-5432}\n"
                           "  - {from: api, to: db, protocol: tcp, ports: 5000-6000}\n";
  EXPECT_EQ(OneError(text),
            "8:5: allow rule \"api\" -> \"db\" tcp/5432 given twice (first at line 7)");
  EXPECT_EQ(OneError(std::string(kHeader) + "failsafe:\n  - {to: host, protocol: tcp, port: 22}\n"
                                            "  - {from: any, to: host, protocol: tcp, port: 22}\n"),
            "5:5: failsafe rule \"any\" -> \"host\" tcp/22 given twice (first at line 4)");
}

TEST(PolicyReaderTest, WrongNodeKinds) {
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  name: a\n"),
            "4:3: groups must be a list, not a map");
  EXPECT_EQ(OneError(std::string(kHeader) + "allow: {from: host, to: world}\n"),
            "3:8: allow must be a list, not a map");
  EXPECT_EQ(OneError(std::string(kHeader) + "failsafe:\n  - [host, tcp, 22]\n"),
            "4:5: a failsafe entry must be a map, not a list");
  EXPECT_EQ(OneError(std::string(kHeader) + "groupBy: app\n"),
            "3:10: groupBy must be a list, not a scalar");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: [a]\n"),
            "4:11: a group name must be a string, not a list");
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - name: a\n    selector: [app]\n"),
            "5:15: selector must be a map, not a list");
  EXPECT_EQ(OneError(std::string(kHeader) + "mode: {global: enforce}\n"),
            "3:7: mode must be a string, not a map");
  EXPECT_EQ(OneError(std::string(kHeader) + "allow:\n"),
            "3:1: allow must be a list, not an "
            "empty value");
}

TEST(PolicyReaderTest, ReportsEveryErrorInFileOrder) {
  const std::string text =
      "apiVersion: bulkhead/v1\n"                                       // 1
      "kind: Policy\n"                                                  // 2
      "mode: enforced\n"                                                // 3
      "groups:\n"                                                       // 4
      "  - name: api\n"                                                 // 5
      "    selectr: {app: api}\n"                                       // 6
      "  - name: api\n"                                                 // 7
      "allow:\n"                                                        // 8
      "  - {from: api, to: cache, protocol: tcp, port: 80}\n"           // 9
      "  - {from: api, to: world, protocol: tpc, port: 80}\n"           // 10
      "  - {from: api, to: world, protocol: tcp, port: 0}\n"            // 11
      "  - {from: api, to: world, protocol: udp, ports: 9-1}\n"         // 12
      "  - {from: world, to: api, protocol: icmp}\n"                    // 13
      "failsafe:\n"                                                     // 14
      "  - {from: any, to: host, protocol: tcp, port: 22, prt: 23}\n";  // 15
  const FileErrors errors = ExpectErrors(text);
  EXPECT_EQ(Locations(errors), (std::vector<std::string>{"3:7", "6:5", "7:11", "9:21", "10:38",
                                                         "11:49", "12:50", "13:5", "15:52"}))
      << errors.ToString();
  EXPECT_NE(errors.ToString().find("p.yaml:6:5: unknown key \"selectr\""), std::string::npos)
      << errors.ToString();
}

TEST(PolicyReaderTest, RulesMayComeBeforeTheirGroups) {
  // The reader streams the file; group references are checked once every group is known.
  auto p = ParsePolicy(std::string(kHeader) +
                           "allow:\n  - {from: api, to: db, protocol: tcp, port: 5432}\n"
                           "groups:\n  - name: db\n  - name: api\n",
                       "p.yaml");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->allow.size(), 1U);
  EXPECT_EQ(
      OneError(std::string(kHeader) + "allow:\n  - {from: api, to: db, protocol: tcp, port: 5432}\n"
                                      "groups:\n  - name: api\n"),
      "4:21: allow to names group \"db\", which is not in groups");
}

TEST(PolicyReaderTest, BrokenRuleStillHasItsGroupsChecked) {
  const FileErrors errors =
      ExpectErrors(WithRule("{from: api, to: cache, protocol: tpc, port: 80}"));
  EXPECT_EQ(Locations(errors), (std::vector<std::string>{"7:21", "7:38"})) << errors.ToString();
}

TEST(PolicyReaderTest, GroupCountIsTheCompilersLimit) {
  auto groups = [](std::size_t n) {
    std::string text = std::string(kHeader) + "groups:\n";
    for (std::size_t i = 0; i < n; ++i) {
      text += "  - name: g" + std::to_string(i) + "\n";
    }
    return text;
  };
  EXPECT_TRUE(ParsePolicy(groups(kMaxPolicyGroups), "p.yaml"));
  // At the name of the first group over the limit (line 3 + 65,533).
  EXPECT_EQ(OneError(groups(kMaxPolicyGroups + 1)),
            "65536:11: 65533 groups: at most 65532 (a connection carries two group ids in 32 "
            "bits)");
}

TEST(PolicyReaderTest, RefusesAliasesAndHugeFiles) {
  EXPECT_EQ(OneError(std::string(kHeader) + "groups:\n  - &a {name: a}\n  - *a\n"),
            "5:5: aliases (*a) are not supported; write the value out");
  const std::string huge = std::string(kHeader) + "# " + std::string(codec::kMaxInputBytes, 'x');
  const FileErrors errors = ExpectErrors(huge);
  ASSERT_EQ(errors.errors.size(), 1U);
  EXPECT_EQ(errors.errors[0].message,
            "the file is 8.0 MiB; bulkhead reads such files up to 8 MiB, so that it runs in a "
            "256 MiB container");
}

TEST(PolicyReaderTest, HostileInputNeverThrows) {
  const std::vector<std::string> inputs = {
      std::string(100000, '['),
      "a: &x [*x, *x]\n",
      std::string(kHeader) + "groups: &g [{name: a}]\nallow: *g\n",
      std::string(kHeader) + "allow: [{? [a, b]: c}]\n",
      std::string("\0\xff\xfe\x01", 4),
      std::string(kHeader) + "---\n" + std::string(kHeader),
      std::string(kHeader) + "allow:\n  - {from: host, to: world, protocol: tcp, ports: -}\n",
      std::string(kHeader) + "allow:\n  - {from: host, to: world, protocol: tcp, ports: 1-2-3}\n",
  };
  for (const auto& input : inputs) {
    EXPECT_NO_THROW({
      auto r = ParsePolicy(input, "h.yaml");
      EXPECT_FALSE(r) << input;
    });
  }
}

// alertOnExec: groups where an interactive exec is an alert; each a listed group, once.
TEST(PolicyReaderTest, AlertOnExec) {
  auto p = ParsePolicy(
      WithRule("{from: api, to: db, protocol: tcp, port: 5432}") + "alertOnExec: [db, api]\n",
      "p.yaml");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->alert_on_exec, (std::vector<std::string>{"api", "db"}));
  const std::string written = WritePolicyYaml(*p);
  EXPECT_NE(written.find("\nalertOnExec: [api, db]\n"), std::string::npos) << written;
  auto back = ParsePolicy(written, "p.yaml");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *p);
  const std::string base = WithRule("{from: api, to: db, protocol: tcp, port: 5432}");
  EXPECT_EQ(OneError(base + "alertOnExec: [api, cache]\n"),
            "8:20: alertOnExec names \"cache\", which is not a group of workloads in groups "
            "(exec runs in containers)");
  EXPECT_EQ(OneError(base + "alertOnExec: [host]\n"),
            "8:15: alertOnExec names \"host\", which is not a group of workloads in groups "
            "(exec runs in containers)");
  EXPECT_EQ(OneError(base + "alertOnExec: [db, db]\n"),
            "8:19: alertOnExec group \"db\" given twice (first at line 8)");
  EXPECT_EQ(OneError(base + "alertOnExec: db\n"), "8:14: alertOnExec must be a list, not a scalar");
}

TEST(PolicyWriterTest, RoundTrip) {
  const Policy p = SamplePolicy();
  const std::string yaml = WritePolicyYaml(p);
  auto back = ParsePolicy(yaml, "p.yaml");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << yaml;
  // The reader sorts as the writer does, so the round trip gives the sorted policy.
  Policy sorted = p;
  std::sort(sorted.groups.begin(), sorted.groups.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(sorted.allow.begin(), sorted.allow.end());
  std::sort(sorted.failsafe.begin(), sorted.failsafe.end());
  EXPECT_EQ(*back, sorted);
  EXPECT_EQ(WritePolicyYaml(*back), yaml);
  EXPECT_EQ(WritePolicyYaml(Policy{}), std::string(kHeader) +
                                           "mode: monitor\ngroupBy: []\ngroups: []\nallow: []\n"
                                           "failsafe: []\n");
  auto empty = ParsePolicy(WritePolicyYaml(Policy{}), "p.yaml");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, Policy{});
}

TEST(PolicyWriterTest, DeterministicBytes) {
  Policy shuffled = SamplePolicy();
  std::reverse(shuffled.groups.begin(), shuffled.groups.end());
  std::reverse(shuffled.allow.begin(), shuffled.allow.end());
  std::reverse(shuffled.failsafe.begin(), shuffled.failsafe.end());
  const std::string expected = R"(apiVersion: bulkhead/v1
kind: Policy
mode: enforce
groupBy: [app, tier]
groups:
  - name: api
    selector: {app: api, tier: "back end"}
    mode: monitor
  - name: db
    mode: learn
  - name: host
    mode: enforce
  - name: web
allow:
  - {from: api, to: db, protocol: tcp, port: 5432}
  - {from: api, to: db, protocol: icmp, ports: 0-255}
  - {from: api, to: world, protocol: udp, port: 53}
  - {from: host, to: api, protocol: icmpv6, port: 128}
  - {from: web, to: api, protocol: tcp, ports: 8000-8080}
  - {from: web, to: api, protocol: icmp, port: 8}
  - {from: world, to: web, protocol: sctp, ports: 1-65535}
failsafe:
  - {from: any, to: host, protocol: tcp, port: 22}
  - {from: host, to: any, protocol: udp, port: 53}
)";
  EXPECT_EQ(WritePolicyYaml(SamplePolicy()), expected);
  EXPECT_EQ(WritePolicyYaml(shuffled), expected);
}

TEST(PolicyWriterTest, OddNamesAreQuotedAndRoundTrip) {
  Policy p;
  p.groups = {{"a: b", {{"app", "#x"}}, std::nullopt},
              {"new\nline", {}, std::nullopt},
              {"123", {}, std::nullopt},
              {"{x}", {}, std::nullopt}};
  p.allow = {{"a: b", "new\nline", Protocol::kTcp, {1, 1}}, {"123", "{x}", Protocol::kUdp, {2, 3}}};
  auto back = ParsePolicy(WritePolicyYaml(p), "p.yaml");
  ASSERT_TRUE(back) << back.error().ToString() << "\n" << WritePolicyYaml(p);
  EXPECT_EQ(back->allow.size(), 2U);
  EXPECT_EQ(WritePolicyYaml(*back), WritePolicyYaml(p));
}

TEST(PolicyWriterTest, CommentsFollowTheirRulesThroughSorting) {
  Policy p;
  p.groups = {{"a", {}, std::nullopt}, {"b", {}, std::nullopt}};
  p.allow = {{"b", "a", Protocol::kTcp, {80, 80}}, {"a", "b", Protocol::kUdp, {53, 53}}};
  const std::vector<AllowComment> comments = {
      {12, 140, 18230, "2026-11-28T10:00:00.000Z", "2026-11-28T10:05:00.250Z"},
      {1, 2, 3, "2026-11-28T11:00:00.000Z", "bad\nkind: x"}};
  const std::string yaml = WritePolicyYaml(p, comments);
  EXPECT_NE(yaml.find("allow:\n"
                      "  - {from: a, to: b, protocol: udp, port: 53}  # 1 connection, 2 packets, "
                      "3 bytes, first 2026-11-28T11:00:00.000Z, last bad?kind: x\n"
                      "  - {from: b, to: a, protocol: tcp, port: 80}  # 12 connections, 140 "
                      "packets, 18230 bytes, first 2026-11-28T10:00:00.000Z, last "
                      "2026-11-28T10:05:00.250Z\n"),
            std::string::npos)
      << yaml;
  auto back = ParsePolicy(yaml, "p.yaml");
  ASSERT_TRUE(back) << back.error().ToString();
  std::sort(p.allow.begin(), p.allow.end());
  EXPECT_EQ(*back, p);
  // A comment list that does not match the rules is ignored rather than misattributed.
  EXPECT_EQ(WritePolicyYaml(p, {comments[0]}).find('#'), std::string::npos);
}

FlowGraph SmallGraph() {
  FlowGraph g;
  g.group_by = {"app"};
  g.groups = {{"api", {{"app", "api"}}, {"api-1"}},
              {"db", {}, {"db-1"}},
              {"idle", {}, {"idle-1"}},
              {"host", {}, {"node-1"}},
              {"world", {}, {}}};
  g.edges = {
      {{"api", "db", Protocol::kTcp, 5432},
       {12, 140, 18230, 1795860000000000ULL, 1795860300250000ULL, {{"api-1", "db-1"}}}},
      {{"api", "world", Protocol::kUdp, 53},
       {1, 2, 150, 1795860000000000ULL, 1795860000001000ULL, {}}},  // below 2 connections
      {{"world", "api", Protocol::kIcmp, 8},
       {3, 6, 504, 1795860000000000ULL, 1795860001000000ULL, {}}},
      {{"host", "db", Protocol::kIcmpv6, 128},
       {2, 4, 416, 1795860000000000ULL, 1795860002000000ULL, {}}},
      {{"api", "db", Protocol::kTcp, 0}, {50, 50, 2000, 1, 2, {}}},  // port 0: inexpressible
  };
  g.Normalize();
  return g;
}

TEST(ApproveGraphTest, OneRulePerEdgeAboveTheThreshold) {
  const ApprovedPolicy approved = ApproveGraph(SmallGraph(), 2);
  const Policy& p = approved.policy;
  EXPECT_EQ(p.mode, Mode::kMonitor);
  EXPECT_EQ(p.group_by, std::vector<std::string>{"app"});
  // host and world always exist and are not listed; the idle group is.
  EXPECT_EQ(p.groups, (std::vector<PolicyGroup>{{"api", {{"app", "api"}}, std::nullopt},
                                                {"db", {}, std::nullopt},
                                                {"idle", {}, std::nullopt}}));
  EXPECT_EQ(p.allow, (std::vector<AllowRule>{{"api", "db", Protocol::kTcp, {5432, 5432}},
                                             {"host", "db", Protocol::kIcmpv6, {128, 128}},
                                             {"world", "api", Protocol::kIcmp, {8, 8}}}));
  EXPECT_TRUE(p.failsafe.empty());
  EXPECT_EQ(approved.skipped_edges, 2U);
  ASSERT_EQ(approved.comments.size(), 3U);
  EXPECT_EQ(approved.comments[0].connections, 12U);
  EXPECT_EQ(approved.comments[0].packets, 140U);
  EXPECT_EQ(approved.comments[0].bytes, 18230U);
  EXPECT_EQ(approved.comments[0].first_seen, "2026-11-28T10:00:00.000Z");
  EXPECT_EQ(approved.comments[0].last_seen, "2026-11-28T10:05:00.250Z");

  const std::string yaml = WritePolicyYaml(p, approved.comments);
  EXPECT_EQ(yaml, R"(apiVersion: bulkhead/v1
kind: Policy
mode: monitor
groupBy: [app]
groups:
  - name: api
    selector: {app: api}
  - name: db
  - name: idle
allow:
  - {from: api, to: db, protocol: tcp, port: 5432}  # 12 connections, 140 packets, 18230 bytes, first 2026-11-28T10:00:00.000Z, last 2026-11-28T10:05:00.250Z
  - {from: host, to: db, protocol: icmpv6, port: 128}  # 2 connections, 4 packets, 416 bytes, first 2026-11-28T10:00:00.000Z, last 2026-11-28T10:00:02.000Z
  - {from: world, to: api, protocol: icmp, port: 8}  # 3 connections, 6 packets, 504 bytes, first 2026-11-28T10:00:00.000Z, last 2026-11-28T10:00:01.000Z
failsafe: []
)");
  auto back = ParsePolicy(yaml, "approved.yaml");
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, p);
}

TEST(ApproveGraphTest, ThresholdZeroAndOneKeepEverythingExpressible) {
  EXPECT_EQ(ApproveGraph(SmallGraph(), 0).policy.allow.size(), 4U);
  EXPECT_EQ(ApproveGraph(SmallGraph(), 1).skipped_edges, 1U);
  const ApprovedPolicy none = ApproveGraph(SmallGraph(), 1000);
  EXPECT_TRUE(none.policy.allow.empty());
  EXPECT_TRUE(none.comments.empty());
  EXPECT_EQ(none.skipped_edges, 5U);
  EXPECT_EQ(none.policy.groups.size(), 3U);
}

// A scan adds no rule (its attempts failed: no edge) but one note per scan for the reviewer,
// with untrusted names kept to one line.
TEST(ApproveGraphTest, ScansAreNotedNotApproved) {
  FlowGraph g = SmallGraph();
  const ApprovedPolicy without = ApproveGraph(g, 2);
  EXPECT_TRUE(without.scan_notes.empty());
  g.scans = {{"api-1", "api", 1795860000000000ULL, 1795860060500000ULL, 1000, 1, 1000, 0},
             {"evil\nbulkhead: info: all fine", "world", 1795860000000000ULL, 1795860000000000ULL,
              3, 40, 0, 120}};
  g.Normalize();
  const ApprovedPolicy approved = ApproveGraph(g, 2);
  EXPECT_EQ(approved.policy, without.policy);
  EXPECT_EQ(approved.skipped_edges, without.skipped_edges);
  EXPECT_EQ(approved.scan_notes,
            (std::vector<std::string>{
                "scan from api-1 (group api): 1000 ports on 1 peers, 2026-11-28T10:00:00.000Z to "
                "2026-11-28T10:01:00.500Z, 1000 refused, 0 incomplete; its failed attempts are "
                "not edges and are not approved",
                "scan from \"evil\\nbulkhead: info: all fine\" (group world): 3 ports on 40 "
                "peers, 2026-11-28T10:00:00.000Z to 2026-11-28T10:00:00.000Z, 0 refused, 120 "
                "incomplete; its failed attempts are not edges and are not approved"}));
}

TEST(ApproveGraphTest, UnnormalizedGraphMergesAndListsNamedGroups) {
  FlowGraph g;
  g.edges = {{{"a", "b", Protocol::kTcp, 80}, {1, 1, 10, 5000, 6000, {}}},
             {{"a", "b", Protocol::kTcp, 80}, {1, 1, 10, 1000, 2000, {}}}};
  const ApprovedPolicy approved = ApproveGraph(g, 2);
  ASSERT_EQ(approved.policy.allow.size(), 1U);
  EXPECT_EQ(approved.comments[0].connections, 2U);
  EXPECT_EQ(approved.comments[0].first_seen, "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(approved.comments[0].last_seen, "1970-01-01T00:00:00.006Z");
  EXPECT_EQ(approved.policy.groups.size(), 2U);
  EXPECT_TRUE(ParsePolicy(WritePolicyYaml(approved.policy, approved.comments), "p.yaml"));
}

TEST(LoadPolicyFileTest, ReadsFilesAndNamesTheMissingOne) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("policy_codec_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto good = (dir / "good.yaml").string();
  std::ofstream(good) << kExample;
  auto p = LoadPolicyFile(good);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->allow.size(), 2U);

  const auto bad = (dir / "bad.yaml").string();
  std::ofstream(bad) << kHeader << "mode: on\n";
  auto b = LoadPolicyFile(bad);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().ToString(), bad + ":3:7: unknown mode \"on\" (learn, monitor, enforce)");

  const auto missing = (dir / "missing.yaml").string();
  auto m = LoadPolicyFile(missing);
  ASSERT_FALSE(m);
  ASSERT_EQ(m.error().errors.size(), 1U);
  EXPECT_EQ(m.error().errors[0].file, missing);
  EXPECT_EQ(m.error().ToString().rfind(missing + ": cannot open", 0), 0U) << m.error().ToString();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bulkhead::policy
