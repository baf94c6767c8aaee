// The nftables event decoder and the commit classifier on hand-built messages (the kernel side
// is tamper_netns_test.cc); OwnCommitTransport on the batches the builder really makes.
#include "enforcer/ruleset_watch.h"

#include <linux/netfilter.h>

#include <gtest/gtest.h>

#include "enforcer/batch_builder.h"
#include "enforcer/compiler.h"
#include "tests/unit/enforcer/nft_event_builder.h"
#include "tests/unit/enforcer/sample_policy.h"

namespace bulkhead::enforcer {
namespace {

using testing::Concat;
using testing::NftMessage;

constexpr std::uint32_t kNftPortid = 4242;

std::vector<std::uint8_t> DelTable(std::string name, std::uint8_t family = NFPROTO_INET,
                                   std::uint32_t seq = 7) {
  return NftMessage(NFT_MSG_DELTABLE, family, seq, kNftPortid).Str(NFTA_TABLE_NAME, name).Bytes();
}

std::vector<std::uint8_t> NewGen(std::uint32_t id, std::uint32_t seq,
                                 std::uint32_t portid = kNftPortid) {
  return NftMessage(NFT_MSG_NEWGEN, NFPROTO_UNSPEC, seq, portid)
      .Be32(NFTA_GEN_ID, id)
      .Be32(NFTA_GEN_PROC_PID, 4242)
      .Str(NFTA_GEN_PROC_NAME, "nft")
      .Bytes();
}

TEST(NftEventDecode, TableDeletion) {
  auto decoded = DecodeNftEvent(DelTable("bulkhead"));
  ASSERT_TRUE(decoded.has_value());
  ASSERT_TRUE(decoded->has_value());
  const auto& c = std::get<NftChange>(**decoded);
  EXPECT_EQ(c.kind, NftObjectKind::kTable);
  EXPECT_TRUE(c.removed);
  EXPECT_EQ(c.family, NFPROTO_INET);
  EXPECT_EQ(c.table, "bulkhead");
  EXPECT_EQ(c.portid, kNftPortid);
  EXPECT_EQ(c.Describe(), "deleted table inet bulkhead");
}

TEST(NftEventDecode, RuleElementsAndGeneration) {
  auto rule = DecodeNftEvent(NftMessage(NFT_MSG_DELRULE, NFPROTO_INET, 1, 9)
                                 .Str(NFTA_RULE_TABLE, "bulkhead")
                                 .Str(NFTA_RULE_CHAIN, "forward")
                                 .Be64(NFTA_RULE_HANDLE, 54)
                                 .Bytes());
  ASSERT_TRUE(rule && rule->has_value());
  EXPECT_EQ(std::get<NftChange>(**rule).Describe(),
            "deleted rule (handle 54) of chain inet bulkhead forward");

  auto elements = DecodeNftEvent(NftMessage(NFT_MSG_DELSETELEM, NFPROTO_BRIDGE, 1, 9)
                                     .Str(NFTA_SET_ELEM_LIST_TABLE, "bulkhead")
                                     .Str(NFTA_SET_ELEM_LIST_SET, "ports4")
                                     .ElementList(NFTA_SET_ELEM_LIST_ELEMENTS, 3)
                                     .Bytes());
  ASSERT_TRUE(elements && elements->has_value());
  EXPECT_EQ(std::get<NftChange>(**elements).Describe(),
            "deleted 3 elements of set bridge bulkhead ports4");

  auto gen = DecodeNftEvent(NewGen(77, 1234));
  ASSERT_TRUE(gen && gen->has_value());
  const auto& g = std::get<NftGeneration>(**gen);
  EXPECT_EQ(g.id, 77U);
  EXPECT_EQ(g.seq, 1234U);
  EXPECT_EQ(g.pid, 4242U);
  EXPECT_EQ(g.process, "nft");

  // NFT_MSG_DESTROYSET (Linux 6.3) is a deletion too.
  auto destroy = DecodeNftEvent(NftMessage(29, NFPROTO_INET, 1, 9)
                                    .Str(NFTA_SET_TABLE, "bulkhead")
                                    .Str(NFTA_SET_NAME, "grp4")
                                    .Bytes());
  ASSERT_TRUE(destroy && destroy->has_value());
  EXPECT_EQ(std::get<NftChange>(**destroy).Describe(), "deleted set inet bulkhead grp4");
}

TEST(NftEventDecode, MessagesOfNoInterest) {
  auto get = DecodeNftEvent(NftMessage(NFT_MSG_GETTABLE, NFPROTO_INET, 1, 9).Bytes());
  ASSERT_TRUE(get.has_value());
  EXPECT_FALSE(get->has_value());
  std::vector<std::uint8_t> done = DelTable("x");
  done[4] = 3;  // NLMSG_DONE
  done[5] = 0;
  auto decoded = DecodeNftEvent(done);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_FALSE(decoded->has_value());
}

TEST(NftEventDecode, HostileInputIsAnErrorNotACrash) {
  std::vector<std::uint8_t> msg = DelTable("bulkhead");
  // Shorter than its header; shorter than nlmsg_len says.
  EXPECT_EQ(DecodeNftEvent(std::span(msg).first(10)).error(), NftEventError::kTruncated);
  EXPECT_EQ(DecodeNftEvent(std::span(msg).first(msg.size() - 4)).error(),
            NftEventError::kTruncated);
  // An attribute longer than the message.
  std::vector<std::uint8_t> long_attr = msg;
  long_attr[20] = 200;
  EXPECT_EQ(DecodeNftEvent(long_attr).error(), NftEventError::kBadAttribute);
  // A name without its NUL.
  std::vector<std::uint8_t> unterminated =
      NftMessage(NFT_MSG_DELTABLE, NFPROTO_INET, 1, 9).Attr(NFTA_TABLE_NAME, {'b', 'u'}).Bytes();
  EXPECT_EQ(DecodeNftEvent(unterminated).error(), NftEventError::kBadAttribute);
  // A rule handle of the wrong size; a change without its table; a NEWGEN without its id.
  EXPECT_EQ(DecodeNftEvent(NftMessage(NFT_MSG_DELRULE, NFPROTO_INET, 1, 9)
                               .Str(NFTA_RULE_TABLE, "bulkhead")
                               .Be32(NFTA_RULE_HANDLE, 1)
                               .Bytes())
                .error(),
            NftEventError::kBadAttribute);
  EXPECT_EQ(
      DecodeNftEvent(
          NftMessage(NFT_MSG_DELCHAIN, NFPROTO_INET, 1, 9).Str(NFTA_CHAIN_NAME, "forward").Bytes())
          .error(),
      NftEventError::kMissingAttribute);
  EXPECT_EQ(DecodeNftEvent(NftMessage(NFT_MSG_NEWGEN, 0, 1, 9).Bytes()).error(),
            NftEventError::kMissingAttribute);
}

class ClassifierTest : public ::testing::Test {
 protected:
  std::shared_ptr<OwnCommitLedger> ledger_ = std::make_shared<OwnCommitLedger>();
  CommitClassifier classifier_{ledger_, BulkheadTables()};
};

TEST_F(ClassifierTest, ForeignCommitOnOurTable) {
  WatchUpdate u;
  classifier_.FeedDatagram(
      Concat({DelTable("bulkhead"), DelTable("bulkhead", NFPROTO_BRIDGE), NewGen(5, 100)}), u);
  ASSERT_EQ(u.commits.size(), 1U);
  EXPECT_FALSE(u.commits[0].ours);
  EXPECT_EQ(u.commits[0].changes, 2U);
  EXPECT_EQ(u.commits[0].Summary(),
            "nft (pid 4242, portid 4242) deleted table inet bulkhead, deleted table bridge "
            "bulkhead in generation 5");
  EXPECT_FALSE(u.resync_needed);
}

TEST_F(ClassifierTest, OwnCommitByItsSeqRange) {
  ledger_->Expect(1000, 1010, true);
  WatchUpdate u;
  // NEWGEN echoes a seq of the batch (this kernel: the first after BATCH_BEGIN).
  classifier_.FeedDatagram(Concat({DelTable("bulkhead", NFPROTO_INET, 1001), NewGen(6, 1001, 77)}),
                           u);
  ASSERT_EQ(u.commits.size(), 1U);
  EXPECT_TRUE(u.commits[0].ours);
  EXPECT_TRUE(u.commits[0].full_replace);
  EXPECT_EQ(ledger_->pending(), 0U);
  // The entry is consumed: the same seq again is someone else's.
  WatchUpdate again;
  classifier_.FeedDatagram(Concat({DelTable("bulkhead", NFPROTO_INET, 1001), NewGen(7, 1001)}),
                           again);
  ASSERT_EQ(again.commits.size(), 1U);
  EXPECT_FALSE(again.commits[0].ours);
}

TEST_F(ClassifierTest, OtherTablesAreNotOurs) {
  WatchUpdate u;
  classifier_.FeedDatagram(
      Concat({DelTable("filter"), DelTable("bulkhead", NFPROTO_IPV4), NewGen(5, 100)}), u);
  EXPECT_TRUE(u.commits.empty());
  EXPECT_EQ(u.foreign_elsewhere, 1U);
}

TEST_F(ClassifierTest, AMalformedEventAsksForAResync) {
  WatchUpdate u;
  std::vector<std::uint8_t> bad = DelTable("bulkhead");
  bad[0] = 200;  // nlmsg_len past the datagram
  classifier_.FeedDatagram(Concat({DelTable("bulkhead"), bad}), u);
  EXPECT_TRUE(u.resync_needed);
  EXPECT_EQ(u.malformed, 1U);
  // The half-seen commit is dropped: the next NEWGEN closes nothing of ours.
  WatchUpdate next;
  classifier_.FeedDatagram(NewGen(5, 100), next);
  EXPECT_TRUE(next.commits.empty());
}

TEST(OwnCommitLedger, CancelAndWrap) {
  OwnCommitLedger ledger;
  ledger.Expect(0xfffffff0u, 0x10u, false);  // a range across 2^32
  EXPECT_EQ(ledger.Take(0x5u), std::optional<bool>(false));
  ledger.Expect(10, 20, true);
  ledger.Cancel(10);
  EXPECT_EQ(ledger.pending(), 0U);
  EXPECT_EQ(ledger.Take(15), std::nullopt);
  // Batches sent while muted are dropped; earlier ones stay.
  ledger.Expect(30, 40, true);
  const std::uint64_t mark = ledger.Mark();
  ledger.Expect(50, 60, true);
  ledger.DropFrom(mark);
  EXPECT_EQ(ledger.Take(55), std::nullopt);
  EXPECT_EQ(ledger.Take(35), std::optional<bool>(true));
}

// Records batches instead of sending them; refuses them when told to.
class RecordingTransport final : public NetlinkTransport {
 public:
  bool refuse = false;
  boost::system::result<std::vector<NetlinkError>, std::string> SendBatch(
      std::span<const std::uint8_t>) override {
    if (refuse) {
      return std::vector<NetlinkError>{{1, 17, "exists", 0}};
    }
    return std::vector<NetlinkError>{};
  }
  boost::system::result<std::vector<std::vector<std::uint8_t>>, std::string> Dump(
      std::span<const std::uint8_t>) override {
    return std::vector<std::vector<std::uint8_t>>{};
  }
  std::uint32_t NextSeq() override { return 500; }
};

TEST(OwnCommitTransport, RecordsEveryBatchAndForgetsRefusedOnes) {
  auto compiled =
      CompileRuleset(testing::SamplePolicy(policy::Mode::kEnforce), testing::SampleInventory(), {});
  ASSERT_TRUE(compiled.has_value());
  auto ledger = std::make_shared<OwnCommitLedger>();
  auto inner = std::make_unique<RecordingTransport>();
  RecordingTransport& recording = *inner;
  OwnCommitTransport transport(std::move(inner), ledger);

  const EncodedBatch replace = BuildReplaceBatch(compiled->ruleset, 500);
  ASSERT_TRUE(transport.SendBatch(replace.bytes).has_value());
  // Every message of the batch is in its range; it replaced the tables.
  EXPECT_EQ(ledger->Take(500 + static_cast<std::uint32_t>(replace.messages)),
            std::optional<bool>(true));

  const EncodedBatch deletion = BuildDeleteBatch({{Family::kInet, std::string(kTableName)}}, 900);
  ASSERT_TRUE(transport.SendBatch(deletion.bytes).has_value());
  EXPECT_EQ(ledger->Take(901), std::optional<bool>(false));  // ours, not a restoration

  recording.refuse = true;
  ASSERT_TRUE(transport.SendBatch(replace.bytes).has_value());
  EXPECT_EQ(ledger->pending(), 0U);
}

}  // namespace
}  // namespace bulkhead::enforcer
