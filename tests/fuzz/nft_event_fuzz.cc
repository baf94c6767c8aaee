// Fuzz target for the nftables event decoder and the commit classifier (enforcer/ruleset_watch.h):
// the input is one datagram as the event socket would read it. The bytes are copied into a
// fresh buffer first, as recvfrom would place them, so the sanitizers see reads past its end.
// Beyond "no crash, no out-of-bounds read", it checks what the tamper guard relies on: a
// malformed datagram asks for a resync, and a report only ever names bulkhead's tables.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "enforcer/ruleset_watch.h"
#include "tests/fuzz/promise.h"

namespace {}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bulkhead::enforcer;
  const std::vector<std::uint8_t> datagram(data, data + size);
  auto ledger = std::make_shared<OwnCommitLedger>();
  // Seeds use seqs 100..199 for "our" batches.
  ledger->Expect(100, 199, true);
  CommitClassifier classifier(ledger, BulkheadTables());
  WatchUpdate update;
  classifier.FeedDatagram(datagram, update);
  BULKHEAD_PROMISE(update.malformed == 0 || update.resync_needed);
  for (const CommitReport& c : update.commits) {
    BULKHEAD_PROMISE(c.changes >= c.first_changes.size());
    for (const NftChange& change : c.first_changes) {
      BULKHEAD_PROMISE(change.table == "bulkhead");
      BULKHEAD_PROMISE(!change.Describe().empty());
    }
    BULKHEAD_PROMISE(!c.Summary().empty());
  }
  // The whole input as one message, too (the decoder alone).
  auto decoded = DecodeNftEvent(datagram);
  if (!decoded) {
    BULKHEAD_PROMISE(!NftEventErrorName(decoded.error()).empty());
  }
  return 0;
}
