#include "enforcer/batch_builder.h"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include "enforcer/compiler.h"
#include "enforcer/kernel_ruleset.h"
#include "tests/unit/enforcer/recording_transport.h"
#include "tests/unit/enforcer/sample_policy.h"

namespace bulkhead::enforcer {
namespace {

using Msg = testing::BatchMessage;

std::vector<Msg> Parse(std::span<const std::uint8_t> bytes) { return testing::ParseBatch(bytes); }

Ruleset Sample() {
  auto c =
      CompileRuleset(testing::SamplePolicy(policy::Mode::kEnforce), testing::SampleInventory(), {});
  EXPECT_TRUE(c);
  return c->ruleset;
}

int Rank(std::uint16_t type) {
  switch (type) {
    case NFT_MSG_NEWOBJ:
      return 1;
    case NFT_MSG_NEWSET:
      return 2;
    case NFT_MSG_NEWCHAIN:
      return 3;
    case NFT_MSG_NEWRULE:
      return 4;
    case NFT_MSG_NEWSETELEM:
      return 5;
    default:
      return 0;
  }
}

TEST(BatchBuilder, OneBatchInTheFixedOrderPerTable) {
  EncodedBatch b = BuildReplaceBatch(Sample(), 500, BatchOptions{2});
  auto msgs = Parse(b.bytes);
  ASSERT_GE(msgs.size(), 10u);
  EXPECT_EQ(msgs.front().type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(msgs.back().type, NFNL_MSG_BATCH_END);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i].seq, 500 + i);  // consecutive: each maps back to one origin
  }
  EXPECT_EQ(b.messages + 2, msgs.size());
  // Two tables (inet, bridge), each: new(create) + delete (atomic replacement), new(excl), then
  // counters, sets, chains, rules, elements, never going back in that order.
  int tables = 0;
  for (std::size_t i = 1; i + 1 < msgs.size();) {
    ASSERT_EQ(msgs[i].type, NFT_MSG_NEWTABLE);
    EXPECT_EQ(msgs[i].flags & NLM_F_EXCL, 0);
    ASSERT_EQ(msgs[i + 1].type, NFT_MSG_DELTABLE);
    ASSERT_EQ(msgs[i + 2].type, NFT_MSG_NEWTABLE);
    EXPECT_NE(msgs[i + 2].flags & NLM_F_EXCL, 0);
    ++tables;
    i += 3;
    int rank = 0;
    while (i + 1 < msgs.size() && msgs[i].type != NFT_MSG_NEWTABLE) {
      EXPECT_GE(Rank(msgs[i].type), rank) << "message " << i;
      rank = Rank(msgs[i].type);
      ++i;
    }
  }
  EXPECT_EQ(tables, 2);
  EXPECT_EQ(b.OriginOf(501), "table inet bulkhead (ensure it exists)");
}

TEST(BatchBuilder, ElementsAreChunkedAndNamed) {
  EncodedBatch b = BuildReplaceBatch(Sample(), 1, BatchOptions{1});
  bool found = false;
  for (const auto& [seq, origin] : b.origins) {
    found = found || origin == "set e_g5 element allow web -> api tcp/8080";
  }
  EXPECT_TRUE(found);
}

TEST(KernelRuleset, AKernelErrorNamesThePolicyObject) {
  testing::RecordingTransport t(1000, EINVAL);
  Ruleset r = Sample();
  EncodedBatch b = BuildReplaceBatch(r, 1000, BatchOptions{1});
  std::size_t index = 0;
  for (std::size_t i = 0; i < b.origins.size(); ++i) {
    if (b.origins[i].second == "set e_g5 element allow web -> api tcp/8080") {
      index = i + 1;  // +1: BATCH_BEGIN
    }
  }
  ASSERT_NE(index, 0u);
  t.fail_message_index = index;
  auto applied = ApplyRuleset(t, r, BatchOptions{1});
  ASSERT_FALSE(applied);
  ASSERT_EQ(applied.error().errors.size(), 1u);
  EXPECT_EQ(applied.error().errors[0].origin, "set e_g5 element allow web -> api tcp/8080");
  EXPECT_NE(applied.error().summary.find("allow web -> api tcp/8080"), std::string::npos);
  EXPECT_NE(applied.error().summary.find("nothing was changed"), std::string::npos);
  EXPECT_EQ(t.batches.size(), 1u);
}

TEST(KernelRuleset, DisableDeletesOnlyBulkheadTables) {
  testing::RecordingTransport t(1000, EINVAL);
  ASSERT_TRUE(DeleteTables(t));
  auto msgs = Parse(t.batches.at(0));
  ASSERT_EQ(msgs.size(), 6u);  // begin, (new + delete) x inet/bridge, end
  EXPECT_EQ(msgs[1].type, NFT_MSG_NEWTABLE);
  EXPECT_EQ(msgs[2].type, NFT_MSG_DELTABLE);
  EXPECT_EQ(msgs[3].type, NFT_MSG_NEWTABLE);
  EXPECT_EQ(msgs[4].type, NFT_MSG_DELTABLE);
}

}  // namespace
}  // namespace bulkhead::enforcer
