#include "enforcer/render.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "enforcer/compiler.h"
#include "tests/unit/enforcer/sample_policy.h"

// Golden files change only through an explicit step: BULKHEAD_REGENERATE_GOLDEN=1 rewrites them
// (run from the source root, as CTest does), and the diff is reviewed like code.
namespace bulkhead::enforcer {
namespace {

using policy::Mode;
using policy::Protocol;

const char* kGoldenDir = "tests/unit/enforcer/golden/";

void CheckGolden(const std::string& name, const std::string& text) {
  const std::string path = std::string(kGoldenDir) + name;
  const char* regen = std::getenv("BULKHEAD_REGENERATE_GOLDEN");
  if (regen != nullptr && std::string(regen) == "1") {
    std::ofstream(path, std::ios::binary) << text;
    GTEST_SKIP() << "regenerated " << path;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file " << path
                  << " (BULKHEAD_REGENERATE_GOLDEN=1 from the source root writes it)";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(text, want.str()) << "golden mismatch: " << path;
}

TEST(RenderGolden, SamplePolicyMonitor) {
  auto c = CompileRuleset(testing::SamplePolicy(Mode::kMonitor), testing::SampleInventory(), {});
  ASSERT_TRUE(c);
  CheckGolden("sample_monitor.nft", RenderNft(c->ruleset));
}

TEST(RenderGolden, SamplePolicyEnforce) {
  CompileOptions o;
  o.log_group = 7;
  auto c = CompileRuleset(testing::SamplePolicy(Mode::kEnforce), testing::SampleInventory(), o);
  ASSERT_TRUE(c);
  CheckGolden("sample_enforce.nft", RenderNft(c->ruleset));
}

TEST(RenderGolden, TwoGroupsNoInterfacesNoComments) {
  policy::Inventory inv;
  inv.host = {"node-1", {"10.0.0.1"}};
  inv.workloads = {{"a-1", "", {{"app", "a"}}, {"10.0.1.1"}, "", ""},
                   {"b-1", "", {{"app", "b"}}, {"10.0.1.2", "fd00:1::2"}, "", ""}};
  policy::Policy p;
  p.mode = Mode::kEnforce;
  p.groups = {{"a", {}, std::nullopt}, {"b", {}, Mode::kMonitor}};
  p.allow = {testing::Allow("a", "b", Protocol::kTcp, 80)};
  auto c = CompileRuleset(p, inv, {});
  ASSERT_TRUE(c);
  RenderOptions r;
  r.comments = false;
  CheckGolden("two_groups.nft", RenderNft(c->ruleset, r));
}

}  // namespace
}  // namespace bulkhead::enforcer
