// Fuzz target for the nftables event decoder and the commit classifier (enforcer/ruleset_watch.h):
// the input is one datagram as the event socket would read it. The bytes are copied into a
// fresh buffer first, as recvfrom would place them, so the sanitizers see reads past its end.
// Beyond "no crash, no out-of-bounds read", it checks what the tamper guard relies on: a
// malformed datagram asks for a resync, and a report only ever names bulkhead's tables.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "enforcer/ruleset_watch.h"

namespace {

void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bulkhead::enforcer;
  const std::vector<std::uint8_t> datagram(data, data + size);
  auto ledger = std::make_shared<OwnCommitLedger>();
  // Seeds use seqs 100..199 for "our" batches.
  ledger->Expect(100, 199, true);
  CommitClassifier classifier(ledger, BulkheadTables());
  WatchUpdate update;
  classifier.FeedDatagram(datagram, update);
  Check(update.malformed == 0 || update.resync_needed);
  for (const CommitReport& c : update.commits) {
    Check(c.changes >= c.first_changes.size());
    for (const NftChange& change : c.first_changes) {
      Check(change.table == "bulkhead");
      Check(!change.Describe().empty());
    }
    Check(!c.Summary().empty());
  }
  // The whole input as one message, too (the decoder alone).
  auto decoded = DecodeNftEvent(datagram);
  if (!decoded) {
    Check(!NftEventErrorName(decoded.error()).empty());
  }
  return 0;
}
