#include "policy/validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bulkhead::policy {
namespace {

Policy Valid() {
  Policy p;
  p.group_by = {"app"};
  p.groups = {{"api", {}, std::nullopt}, {"db", {}, Mode::kEnforce}, {"host", {}, Mode::kMonitor}};
  p.allow = {{"api", "db", Protocol::kTcp, {5432, 5432}},
             {"world", "api", Protocol::kIcmp, {0, 255}}};
  p.failsafe = {{"any", "host", Protocol::kTcp, {22, 22}}};
  return p;
}

std::vector<std::string> Messages(const Policy& p) {
  std::vector<std::string> out;
  for (const auto& problem : ValidatePolicy(p)) {
    out.push_back(DescribePolicyProblem(p, problem));
  }
  return out;
}

TEST(ValidatePolicyTest, AcceptsAValidPolicy) { EXPECT_TRUE(ValidatePolicy(Valid()).empty()); }

// The model-level checks that a compiler sees when it is handed a Policy that no file produced.
TEST(ValidatePolicyTest, ReportsEveryProblemWithItsObject) {
  Policy p = Valid();
  p.group_by.push_back("app");
  p.groups.push_back({"api", {}, std::nullopt});
  p.groups.push_back({"world", {{"app", "x"}}, Mode::kEnforce});
  p.allow.push_back({"api", "cache", Protocol::kTcp, {80, 80}});
  p.allow.push_back({"api", "db", Protocol::kUdp, {0, 0}});
  p.allow.push_back({"api", "db", Protocol::kIcmpv6, {128, 300}});
  p.allow.push_back({"api", "db", Protocol::kTcp, {90, 80}});
  p.allow.push_back({"host", "host", Protocol::kTcp, {22, 22}});
  p.allow.push_back({"api", "db", Protocol::kTcp, {5432, 5432}});
  p.allow.push_back({"any", "db", Protocol::kTcp, {1, 1}});
  EXPECT_EQ(
      Messages(p),
      (std::vector<std::string>{
          "groupBy: groupBy label \"app\" given twice", "group \"api\": group \"api\" given twice",
          "group \"world\": the special group \"world\" has no selector",
          "group \"world\": the special group \"world\" has no mode; set it on the other end",
          "allow rule \"api\" -> \"cache\" tcp/80: allow to names group \"cache\", which is "
          "not in groups",
          "allow rule \"api\" -> \"db\" udp/0: port 0 is not a port (1..65535)",
          "allow rule \"api\" -> \"db\" icmpv6/128-300: 300 is not an icmpv6 type (0..255)",
          "allow rule \"api\" -> \"db\" tcp/90-80: port range \"90-80\" is empty: 90 is above "
          "80",
          "allow rule \"host\" -> \"host\" tcp/22: host to host traffic is never judged; "
          "remove this allow entry",
          "allow rule \"api\" -> \"db\" tcp/5432: allow rule \"api\" -> \"db\" tcp/5432 given "
          "twice",
          "allow rule \"any\" -> \"db\" tcp/1: \"any\" is only allowed in failsafe entries"}));
  const auto problems = ValidatePolicy(p);
  ASSERT_FALSE(problems.empty());
  EXPECT_EQ(problems.back().part, PolicyPart::kAllow);
  EXPECT_EQ(problems.back().field, PolicyField::kFrom);
}

TEST(ValidatePolicyTest, RefusesMoreGroupsThanTheCompilerCanNumber) {
  Policy p;
  for (std::size_t i = 0; i < kMaxPolicyGroups; ++i) {
    p.groups.push_back({"g" + std::to_string(i), {}, std::nullopt});
  }
  EXPECT_TRUE(ValidatePolicy(p).empty());
  p.groups.push_back({"one-more", {}, std::nullopt});
  const auto problems = ValidatePolicy(p);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].index, kMaxPolicyGroups);
  EXPECT_EQ(problems[0].message,
            "65533 groups: at most 65532 (a connection carries two group ids "
            "in 32 bits)");
}

}  // namespace
}  // namespace bulkhead::policy
