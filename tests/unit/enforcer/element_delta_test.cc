#include "enforcer/element_delta.h"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>

#include <gtest/gtest.h>

#include "enforcer/batch_builder.h"
#include "enforcer/compiler.h"
#include "enforcer/kernel_ruleset.h"
#include "tests/unit/enforcer/recording_transport.h"
#include "tests/unit/enforcer/sample_policy.h"

namespace bulkhead::enforcer {
namespace {

using Msg = testing::BatchMessage;

std::vector<Msg> Parse(std::span<const std::uint8_t> bytes) { return testing::ParseBatch(bytes); }

Ruleset Compile(const policy::Policy& p, const policy::Inventory& inv) {
  auto c = CompileRuleset(p, inv, {});
  EXPECT_TRUE(c) << (c ? "" : c.error().front());
  return c ? c->ruleset : Ruleset{};
}

policy::Policy Enforce() { return testing::SamplePolicy(policy::Mode::kEnforce); }

// api-3 joins group api, api-2 leaves: what a container start and a stop change.
policy::Inventory Churned() {
  policy::Inventory inv = testing::SampleInventory();
  inv.workloads.erase(std::remove_if(inv.workloads.begin(), inv.workloads.end(),
                                     [](const policy::Workload& w) { return w.name == "api-2"; }),
                      inv.workloads.end());
  policy::Workload w;
  w.name = "api-3";
  w.labels = {{"app", "api"}};
  w.addresses = {"10.0.0.9", "fd00::9"};
  w.interface = "veth-api3";
  w.mac = "02:42:0a:00:00:09";  // the same shape as api-2, which leaves
  inv.workloads.push_back(w);
  return inv;
}

const SetDelta* Find(const ElementDelta& d, std::string_view set) {
  for (const auto& s : d.sets) {
    if (s.set.name == set) {
      return &s;
    }
  }
  return nullptr;
}

bool HasKey(const std::vector<Element>& elements, std::string_view addr) {
  auto v = Value::Address(addr);
  return std::any_of(elements.begin(), elements.end(),
                     [&](const Element& e) { return !e.key.empty() && e.key[0] == *v; });
}

TEST(ElementDelta, IdenticalRulesetsGiveAnEmptyDelta) {
  Ruleset a = Compile(Enforce(), testing::SampleInventory());
  Ruleset b = Compile(Enforce(), testing::SampleInventory());
  auto d = DiffElements(a, b);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->Empty());
  EXPECT_EQ(d->Added(), 0u);
  EXPECT_EQ(d->Removed(), 0u);
}

TEST(ElementDelta, AWorkloadStartAndStopChangeOnlyTheirElements) {
  Ruleset before = Compile(Enforce(), testing::SampleInventory());
  Ruleset after = Compile(Enforce(), Churned());
  auto d = DiffElements(before, after);
  ASSERT_TRUE(d);
  const SetDelta* managed4 = Find(*d, "enforce4");
  ASSERT_NE(managed4, nullptr);
  EXPECT_TRUE(HasKey(managed4->set.elements, "10.0.0.9"));
  EXPECT_TRUE(HasKey(managed4->removed, "10.0.0.4"));
  EXPECT_EQ(managed4->set.elements.size(), 1u);
  EXPECT_EQ(managed4->removed.size(), 1u);
  const SetDelta* grp6 = Find(*d, "grp6");
  ASSERT_NE(grp6, nullptr);
  ASSERT_EQ(grp6->set.elements.size(), 1u);
  EXPECT_EQ(grp6->set.elements[0].data, Value::Number(DataType::kMark, 2));  // api is group 2
  EXPECT_TRUE(HasKey(grp6->removed, "fd00::4"));
  // Edges did not change: no edge set is in the delta.
  EXPECT_EQ(Find(*d, "e_g2"), nullptr);
  EXPECT_EQ(Find(*d, "e_g5"), nullptr);
  // Every changed element names its workload; nothing else changed.
  for (const auto& s : d->sets) {
    for (const auto& e : s.set.elements) {
      EXPECT_NE(e.origin.find("api-3"), std::string::npos) << s.set.name << ": " << e.origin;
    }
    for (const auto& e : s.removed) {
      EXPECT_NE(e.origin.find("api-2"), std::string::npos) << s.set.name << ": " << e.origin;
    }
  }
  EXPECT_EQ(d->Added(), d->Removed());  // same shape of workload in, one out
}

TEST(ElementDelta, AWorkloadThatChangesGroupIsDeletedAndAddedAgain) {
  policy::Inventory inv = testing::SampleInventory();
  Ruleset before = Compile(Enforce(), inv);
  for (auto& w : inv.workloads) {
    if (w.name == "api-2") {
      w.labels = {{"app", "db"}};
    }
  }
  Ruleset after = Compile(Enforce(), inv);
  auto d = DiffElements(before, after);
  ASSERT_TRUE(d);
  const SetDelta* grp4 = Find(*d, "grp4");
  ASSERT_NE(grp4, nullptr);
  ASSERT_EQ(grp4->removed.size(), 1u);
  ASSERT_EQ(grp4->set.elements.size(), 1u);
  EXPECT_EQ(grp4->removed[0].key, grp4->set.elements[0].key);
  EXPECT_EQ(grp4->set.elements[0].data, Value::Number(DataType::kMark, 4));  // db
  EXPECT_EQ(Find(*d, "enforce4"), nullptr);  // still managed: untouched
}

TEST(ElementDelta, ANewGroupIsAStructureChange) {
  policy::Policy p = Enforce();
  Ruleset before = Compile(p, testing::SampleInventory());
  p.groups.push_back({"aaa", {{"app", "aaa"}}, std::nullopt});  // shifts every group id
  Ruleset after = Compile(p, testing::SampleInventory());
  EXPECT_FALSE(SameStructure(before, after));
  EXPECT_FALSE(DiffElements(before, after));
  policy::Policy monitor = testing::SamplePolicy(policy::Mode::kMonitor);
  EXPECT_FALSE(DiffElements(before, Compile(monitor, testing::SampleInventory())));
  EXPECT_TRUE(SameStructure(before, before));
}

TEST(ElementDelta, OneBatchDeletionsFirstThenExclusiveAdditions) {
  Ruleset before = Compile(Enforce(), testing::SampleInventory());
  Ruleset after = Compile(Enforce(), Churned());
  auto d = DiffElements(before, after);
  ASSERT_TRUE(d);
  EncodedBatch b = BuildElementUpdateBatch(*d, 300, BatchOptions{1});
  auto msgs = Parse(b.bytes);
  ASSERT_EQ(msgs.size(), d->Added() + d->Removed() + 2);  // one element per message here
  EXPECT_EQ(msgs.front().type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(msgs.back().type, NFNL_MSG_BATCH_END);
  for (std::size_t i = 1; i + 1 < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i].seq, 300 + i);
    if (i <= d->Removed()) {
      EXPECT_EQ(msgs[i].type, NFT_MSG_DELSETELEM) << i;
      EXPECT_EQ(msgs[i].flags & NLM_F_EXCL, 0) << i;
    } else {
      EXPECT_EQ(msgs[i].type, NFT_MSG_NEWSETELEM) << i;
      EXPECT_NE(msgs[i].flags & NLM_F_EXCL, 0) << i;  // present already: refuse the batch
    }
  }
  bool named = false;
  for (const auto& [seq, origin] : b.origins) {
    named = named || origin == "set enforce4 deleting workload api-2 (group api)";
  }
  EXPECT_TRUE(named);
  // Chunked as a full apply is: many elements of one set share a message.
  EncodedBatch packed = BuildElementUpdateBatch(*d, 1, BatchOptions{256});
  EXPECT_EQ(packed.messages, 2 * d->sets.size());
}

TEST(ElementDelta, UpdateElementsSendsOneBatchOrNone) {
  Ruleset before = Compile(Enforce(), testing::SampleInventory());
  Ruleset after = Compile(Enforce(), Churned());
  testing::RecordingTransport t(7000, ENOENT);
  auto same = UpdateElements(t, before, before);
  ASSERT_TRUE(same);
  EXPECT_FALSE(same->structure_changed);
  EXPECT_EQ(same->stats.messages, 0u);
  EXPECT_TRUE(t.batches.empty());  // nothing to do: nothing sent

  policy::Policy p = Enforce();
  p.groups.push_back({"aaa", {{"app", "aaa"}}, std::nullopt});
  auto structural = UpdateElements(t, before, Compile(p, testing::SampleInventory()));
  ASSERT_TRUE(structural);
  EXPECT_TRUE(structural->structure_changed);
  EXPECT_TRUE(t.batches.empty());

  auto churn = UpdateElements(t, before, after);
  ASSERT_TRUE(churn);
  EXPECT_FALSE(churn->structure_changed);
  EXPECT_GT(churn->added, 0u);
  EXPECT_GT(churn->removed, 0u);
  EXPECT_EQ(t.batches.size(), 1u);
  for (const auto& m : Parse(t.batches[0])) {
    EXPECT_TRUE(m.type == NFT_MSG_DELSETELEM || m.type == NFT_MSG_NEWSETELEM ||
                m.type == NFNL_MSG_BATCH_BEGIN || m.type == NFNL_MSG_BATCH_END)
        << m.type;
  }
}

TEST(ElementDelta, AnElementTheKernelLacksRefusesTheUpdateAndNamesIt) {
  Ruleset before = Compile(Enforce(), testing::SampleInventory());
  Ruleset after = Compile(Enforce(), Churned());
  testing::RecordingTransport t(7000, ENOENT);
  t.fail_message_index = 1;  // the first deletion
  auto r = UpdateElements(t, before, after, BatchOptions{1});
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().errors.size(), 1u);
  EXPECT_NE(r.error().errors[0].origin.find("deleting workload api-2"), std::string::npos)
      << r.error().errors[0].origin;
  EXPECT_NE(r.error().summary.find("nothing was changed"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::enforcer
