#include "enforcer/evaluator.h"

#include <gtest/gtest.h>

#include "enforcer/compiler.h"
#include "enforcer/render.h"
#include "tests/unit/enforcer/sample_policy.h"

namespace bulkhead::enforcer {
namespace {

using policy::Mode;

PacketInfo Tcp(const char* src, const char* dst, std::uint16_t dport,
               std::string hook = "forward") {
  PacketInfo p;
  p.hook = std::move(hook);
  p.saddr = *Value::Address(src);
  p.daddr = *Value::Address(dst);
  p.l4proto = 6;
  p.sport = 40000;
  p.dport = dport;
  p.iifname = "br0";
  return p;
}

class EvaluatorTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    auto c = CompileRuleset(testing::SamplePolicy(GetParam()), testing::SampleInventory(), {});
    ASSERT_TRUE(c);
    ruleset_ = c->ruleset;
  }
  EvalResult Eval(const PacketInfo& p) {
    auto r = Evaluate(ruleset_, p);
    EXPECT_TRUE(r) << (r ? "" : r.error());
    return r ? *r : EvalResult{};
  }
  bool Enforce() const { return GetParam() == Mode::kEnforce; }
  Ruleset ruleset_;
};

TEST_P(EvaluatorTest, AllowedEdgesPassAndNameTheEdge) {
  auto r = Eval(Tcp("10.0.0.2", "10.0.0.3", 8080));
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.matched, "allow web -> api tcp/8080");
  EXPECT_TRUE(Eval(Tcp("fd00::2", "fd00::4", 8080)).accepted);
  auto udp = Tcp("10.0.0.2", "10.0.0.4", 9005);
  udp.l4proto = 17;
  EXPECT_EQ(Eval(udp).matched, "allow web -> api udp/9000-9010");
  EXPECT_EQ(Eval(Tcp("10.0.0.3", "203.0.113.9", 443)).matched, "allow api -> world tcp/443");
  EXPECT_EQ(Eval(Tcp("198.51.100.7", "10.0.0.2", 80)).matched, "allow world -> web tcp/80");
  EXPECT_EQ(Eval(Tcp("10.0.0.1", "10.0.0.3", 9100, "output")).matched,
            "allow host -> api tcp/9100");
  PacketInfo ping = Tcp("10.0.0.2", "10.0.0.3", 0);
  ping.l4proto = 1;
  ping.icmp_type = 8;
  EXPECT_EQ(Eval(ping).matched, "allow web -> api icmp/8");
}

TEST_P(EvaluatorTest, EverythingElseIsAViolation) {
  // api -> web is not allowed (edges have a direction); web -> api on another port neither.
  for (auto p : {Tcp("10.0.0.3", "10.0.0.2", 8080), Tcp("10.0.0.2", "10.0.0.3", 8081),
                 Tcp("fd00::2", "fd00::3", 22), Tcp("10.0.0.2", "10.0.0.1", 8080, "input"),
                 Tcp("10.0.0.2", "203.0.113.9", 443)}) {
    auto r = Eval(p);
    EXPECT_EQ(r.accepted, !Enforce()) << RenderValue(p.saddr) << " " << p.dport;
    EXPECT_TRUE(r.logged);
    EXPECT_EQ(r.verdict_chain, Enforce() ? "deny" : "warn");
  }
}

TEST_P(EvaluatorTest, EnforceWinsWhenEndsDisagree) {
  // db has its own enforce mode, so web -> db is dropped even under a monitor policy.
  auto r = Eval(Tcp("10.0.0.2", "10.0.0.5", 5432));
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.verdict_chain, "deny");
}

TEST_P(EvaluatorTest, FailsafeComesFirstAndUnmanagedTrafficIsUntouched) {
  EXPECT_EQ(Eval(Tcp("10.0.0.2", "10.0.0.5", 7000)).matched, "failsafe web -> db tcp/7000");
  EXPECT_EQ(Eval(Tcp("10.0.0.5", "10.0.0.1", 22, "input")).matched, "failsafe any -> host tcp/22");
  auto r = Eval(Tcp("198.51.100.7", "203.0.113.9", 443));
  EXPECT_TRUE(r.accepted);
  EXPECT_TRUE(r.verdict_chain.empty());
  EXPECT_FALSE(r.logged);
  EXPECT_TRUE(Eval(Tcp("198.51.100.7", "10.0.0.1", 25, "input")).verdict_chain.empty());
}

TEST_P(EvaluatorTest, NeighbourDiscoveryPasses) {
  PacketInfo ns = Tcp("fe80::2", "ff02::1:ff00:3", 0);
  ns.l4proto = 58;
  ns.icmp_type = 135;
  ns.bridge_port = "veth-web1";
  auto r = Eval(ns);
  EXPECT_TRUE(r.accepted);
  EXPECT_TRUE(r.verdict_chain.empty());
}

TEST_P(EvaluatorTest, TaggedFramesAndSpoofedSourcesAreCaught) {
  PacketInfo tagged = Tcp("10.0.0.2", "10.0.0.3", 8080);
  tagged.bridge_port = "veth-web1";
  tagged.ether_type = 0x8100;
  auto r = Eval(tagged);
  EXPECT_EQ(r.verdict_chain, "tagged");
  EXPECT_EQ(r.accepted, !Enforce());
  // web-1's port sending as api-1 (to reach db, which api may talk to).
  PacketInfo spoof = Tcp("10.0.0.3", "10.0.0.5", 5432);
  spoof.bridge_port = "veth-web1";
  r = Eval(spoof);
  EXPECT_EQ(r.verdict_chain, "spoofed");
  EXPECT_EQ(r.accepted, !Enforce());
  // The same connection from api-1's own port is fine.
  spoof.bridge_port = "veth-api1";
  r = Eval(spoof);
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.matched, "allow api -> db tcp/5432");
}

PacketInfo Arp(const char* sender, const char* port) {
  PacketInfo p;
  p.ether_type = 0x0806;
  p.saddr = *Value::Address(sender);
  p.bridge_port = port;
  return p;
}

TEST_P(EvaluatorTest, ArpAnnouncesOnlyThePortsOwnAddress) {
  auto r = Eval(Arp("10.0.0.2", "veth-web1"));  // web-1's own address
  EXPECT_TRUE(r.accepted);
  EXPECT_TRUE(r.verdict_chain.empty());
  EXPECT_TRUE(Eval(Arp("0.0.0.0", "veth-web1")).verdict_chain.empty());  // a probe
  r = Eval(Arp("10.0.0.3", "veth-web1"));  // web-1 announcing api-1's address
  EXPECT_EQ(r.verdict_chain, "spoofed");
  EXPECT_EQ(r.accepted, !Enforce());
  r = Eval(Arp("10.0.0.3", "veth-other"));  // from a port that is no workload's
  EXPECT_EQ(r.verdict_chain, "spoofed");
  EXPECT_TRUE(Eval(Arp("10.0.0.99", "veth-other")).verdict_chain.empty());  // not ours
}

TEST_P(EvaluatorTest, AWorkloadSendsNoRouterMessages) {
  PacketInfo ra = Tcp("fe80::2", "ff02::1", 0);
  ra.l4proto = 58;
  ra.bridge_port = "veth-web1";
  for (std::uint8_t type : {std::uint8_t{134}, std::uint8_t{137}}) {  // RA, redirect
    ra.icmp_type = type;
    auto r = Eval(ra);
    EXPECT_EQ(r.verdict_chain, "spoofed") << int{type};
    EXPECT_EQ(r.accepted, !Enforce());
  }
  ra.bridge_port = "veth-other";  // a port that is no workload's: not bulkhead's to judge
  EXPECT_TRUE(Eval(ra).verdict_chain.empty());
}

// A neighbour advertisement names no other workload's address (web-1 is fd00::2, api-1 fd00::3):
// its neighbours would take the NA's MAC for it. Its own, link-local and unmanaged targets pass.
TEST_P(EvaluatorTest, AWorkloadAdvertisesOnlyItsOwnAddresses) {
  PacketInfo na = Tcp("fe80::2", "ff02::1", 0);
  na.l4proto = 58;
  na.icmp_type = 136;
  na.bridge_port = "veth-web1";
  na.ether_saddr = *Value::Mac("02:42:0a:00:00:02");
  na.nd_target = *Value::Address("fd00::3");
  auto r = Eval(na);
  EXPECT_EQ(r.verdict_chain, "spoofed");
  EXPECT_EQ(r.accepted, !Enforce());
  na.saddr = *Value::Address("fd00::2");  // from its own address: still another's target
  EXPECT_EQ(Eval(na).verdict_chain, "spoofed");
  for (const char* target : {"fd00::2", "fe80::2", "fd00::99"}) {
    na.nd_target = *Value::Address(target);
    r = Eval(na);
    EXPECT_TRUE(r.accepted) << target;
    EXPECT_TRUE(r.verdict_chain.empty()) << target;
  }
  na.nd_target = *Value::Address("fd00::2");  // web-1's address, advertised from api-1's port
  na.bridge_port = "veth-api1";
  na.saddr = *Value::Address("fe80::3");
  na.ether_saddr = *Value::Mac("02:42:0a:00:00:03");
  EXPECT_EQ(Eval(na).verdict_chain, "spoofed");
}

// Every frame from a bound port carries its workload's MAC (sample_policy.h: web-1 has
// 02:42:0a:00:00:02, api-1 02:42:0a:00:00:03, cache-1 none).
TEST_P(EvaluatorTest, ABoundPortCarriesOnlyItsWorkloadsMac) {
  const Value web_mac = *Value::Mac("02:42:0a:00:00:02");
  const Value api_mac = *Value::Mac("02:42:0a:00:00:03");
  PacketInfo own = Tcp("10.0.0.2", "10.0.0.3", 8080);
  own.bridge_port = "veth-web1";
  own.ether_saddr = web_mac;
  auto r = Eval(own);
  EXPECT_TRUE(r.accepted);
  EXPECT_TRUE(r.verdict_chain.empty());
  ASSERT_FALSE(r.trace.empty());
  EXPECT_EQ(r.trace[0], "prerouting:0");  // accepted by the first rule: one lookup
  EXPECT_EQ(r.trace[1], "forward:0");
  // The same frame with api-1's MAC: a takeover of api-1's MAC, whatever the address says.
  PacketInfo takeover = own;
  takeover.ether_saddr = api_mac;
  r = Eval(takeover);
  EXPECT_EQ(r.verdict_chain, "spoofed");
  EXPECT_EQ(r.accepted, !Enforce());
  // Neighbour discovery, ARP and frames of any other kind are bound too.
  PacketInfo ns = Tcp("fe80::2", "ff02::1:ff00:3", 0);
  ns.l4proto = 58;
  ns.icmp_type = 135;
  ns.bridge_port = "veth-web1";
  ns.ether_saddr = web_mac;
  EXPECT_TRUE(Eval(ns).verdict_chain.empty());
  ns.ether_saddr = api_mac;
  EXPECT_EQ(Eval(ns).verdict_chain, "spoofed");
  PacketInfo arp = Arp("10.0.0.2", "veth-web1");
  arp.ether_saddr = api_mac;
  EXPECT_EQ(Eval(arp).verdict_chain, "spoofed");
  PacketInfo other = own;
  other.ether_type = 0x88b5;  // local experimental: no IP header
  other.ether_saddr = api_mac;
  EXPECT_EQ(Eval(other).verdict_chain, "spoofed");
  other.ether_saddr = web_mac;
  EXPECT_TRUE(Eval(other).verdict_chain.empty());
  // cache-1 has no MAC in the inventory: its port is not bound, its addresses still are.
  PacketInfo unbound = Tcp("10.0.0.6", "10.0.0.3", 8080);
  unbound.bridge_port = "veth-cache1";
  unbound.ether_saddr = api_mac;
  EXPECT_NE(Eval(unbound).verdict_chain, "spoofed");
  // A port that is no workload's is not bulkhead's to judge.
  takeover.bridge_port = "veth-other";
  takeover.saddr = *Value::Address("10.0.0.99");
  EXPECT_NE(Eval(takeover).verdict_chain, "spoofed");
}

INSTANTIATE_TEST_SUITE_P(Modes, EvaluatorTest, ::testing::Values(Mode::kMonitor, Mode::kEnforce));

}  // namespace
}  // namespace bulkhead::enforcer
