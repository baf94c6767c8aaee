#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/system/result.hpp>

#include "enforcer/netlink_transport.h"
#include "enforcer/ruleset.h"

// Follows nftables' change notifications (the NFNLGRP_NFTABLES netlink multicast group) and says
// which committed transactions touched bulkhead's tables, and whether bulkhead made them.
//
// How the kernel reports a commit (net/netfilter/nf_tables_api.c, nf_tables_commit): one
// message per changed object (NFT_MSG_NEW*/DEL*; a `flush ruleset` or a deleted table arrives
// as the deletions of everything in it), then NFT_MSG_NEWGEN with the new generation id, the
// committer's pid and process name. Every message's nlmsg_pid is the committing socket's
// portid; NEWGEN's nlmsg_seq is the sequence number of a message of the committed batch (on
// Linux 6.18: the first one after BATCH_BEGIN, as seen in the kernel test).
// Commits are serialised under the commit mutex, so one commit's messages are contiguous and
// NEWGEN closes them.
//
// Telling bulkhead's own commits apart: every batch bulkhead sends goes through an
// OwnCommitTransport, which records the batch's range of sequence numbers in the
// OwnCommitLedger before sending it; a NEWGEN whose seq falls in a recorded range is ours and
// consumes the entry. Neither the process id nor a learned portid is used for this:
// NFTA_GEN_PROC_PID is the committing thread's id in the initial pid namespace (a containerised
// agent sees another number from getpid()), and a reopened transport gets a new portid. The range
// is registered right before sendmsg and the kernel commits the batch inside that sendmsg, so a
// foreign commit would have to carry a seq of that range in that very window to be taken for ours.
namespace bulkhead::enforcer {

enum class NftObjectKind : std::uint8_t {
  kTable,
  kChain,
  kRule,
  kSet,
  kElement,
  kObject,
  kFlowtable
};
std::string_view NftObjectKindName(NftObjectKind kind);

// One object change (NFT_MSG_NEW*, DEL*, DESTROY*).
struct NftChange {
  NftObjectKind kind = NftObjectKind::kTable;
  bool removed = false;
  std::uint8_t family = 0;  // NFPROTO_* of the nfgenmsg
  std::string table;
  std::string name;            // chain, set, object name; a rule's chain; elements' set
  std::uint64_t handle = 0;    // rules (0 when the message has none)
  std::uint32_t elements = 0;  // element messages: how many elements
  std::uint32_t portid = 0;    // nlmsg_pid: the committing socket
  std::uint32_t seq = 0;       // the seq of the request message that caused it

  // "deleted rule (handle 12) of chain inet bulkhead forward"
  std::string Describe() const;
};

// NFT_MSG_NEWGEN: one committed transaction is complete.
struct NftGeneration {
  std::uint32_t id = 0;
  std::uint32_t portid = 0;  // the committing socket
  std::uint32_t seq = 0;     // its batch's BATCH_BEGIN seq
  std::uint32_t pid = 0;     // the committing thread (initial pid namespace), 0 if absent
  std::string process;       // its comm, "" if absent
};

using NftEvent = std::variant<NftChange, NftGeneration>;

// Why a message could not be decoded. Hostile or corrupt input is data: the watcher counts it
// and asks for a resync (it may have hidden a change), it never crashes.
enum class NftEventError : std::uint8_t {
  kTruncated,         // shorter than its headers say
  kBadAttribute,      // an attribute of the wrong size or an unterminated string
  kMissingAttribute,  // a change without its table name, a NEWGEN without its id
};
std::string_view NftEventErrorName(NftEventError error);

// Decodes one netlink message (nlmsghdr included, `message` exactly nlmsg_len long or longer).
// nullopt: a message of no interest (another subsystem, a GET, a trace, NLMSG_DONE).
// `message` must be 4-byte aligned (netlink buffers are); the fuzz target copies its input.
boost::system::result<std::optional<NftEvent>, NftEventError> DecodeNftEvent(
    std::span<const std::uint8_t> message);

// The sequence number ranges of batches bulkhead sent and whose NEWGEN has not been seen. Shared by
// the transport that sends (OwnCommitTransport) and the watcher that reads (CommitClassifier),
// which may live on different threads: a mutex guards it.
class OwnCommitLedger {
 public:
  // `full_replace`: the batch replaces bulkhead's tables as a whole (it restores anything a
  // foreign commit before it changed).
  // `first_seq`..`last_seq`: BATCH_BEGIN's and BATCH_END's seqs.
  void Expect(std::uint32_t first_seq, std::uint32_t last_seq, bool full_replace);
  // The batch starting at `first_seq` was refused (no commit, no NEWGEN will come).
  void Cancel(std::uint32_t first_seq);
  // Consumes the entry whose range holds `seq` (a NEWGEN's): nullopt if it is not ours, else
  // whether it was a full replacement.
  std::optional<bool> Take(std::uint32_t seq);
  std::size_t pending() const;
  // Entries made from now on can be dropped with DropFrom(mark): batches sent while the
  // watcher was muted never see their NEWGEN, and an entry left behind could match a foreign
  // commit later (nft's seqs, like MnlTransport's, start from the clock in seconds).
  std::uint64_t Mark() const;
  void DropFrom(std::uint64_t mark);

 private:
  // Batches the kernel refused whose Cancel never came (a transport error) would pile up; only
  // the most recent ones can still be in flight.
  static constexpr std::size_t kMaxPending = 64;
  // The kernel queues a batch's NEWGEN before the sendmsg that sent it returns, so an entry
  // whose NEWGEN has not been read after this long was lost (ENOBUFS) and only risks matching
  // a foreign commit. The margin covers an event loop busy with a big apply for seconds.
  static constexpr std::chrono::seconds kMaxAge{30};
  mutable std::mutex mutex_;
  struct Batch {
    std::uint32_t first;
    std::uint32_t last;
    bool full_replace;
    std::uint64_t id;
    std::chrono::steady_clock::time_point sent;
  };
  std::deque<Batch> pending_;
  std::uint64_t next_id_ = 0;
};

// A NetlinkTransport that records every batch in the ledger before the inner transport sends
// it. bulkhead sends all its batches (applies, element updates, deletions) through this, so the
// watcher knows its own commits.
class OwnCommitTransport final : public NetlinkTransport {
 public:
  OwnCommitTransport(std::unique_ptr<NetlinkTransport> inner,
                     std::shared_ptr<OwnCommitLedger> ledger);
  boost::system::result<std::vector<NetlinkError>, std::string> SendBatch(
      std::span<const std::uint8_t> batch) override;
  boost::system::result<std::vector<std::vector<std::uint8_t>>, std::string> Dump(
      std::span<const std::uint8_t> request) override;
  std::uint32_t NextSeq() override;

 private:
  std::unique_ptr<NetlinkTransport> inner_;
  std::shared_ptr<OwnCommitLedger> ledger_;
};

// What one committed transaction did to bulkhead's tables.
struct CommitReport {
  NftGeneration generation;
  bool ours = false;
  bool full_replace = false;  // ours, and it replaced the tables as a whole
  std::size_t changes = 0;    // changes to bulkhead's tables
  // The first few of them, for the log line (a flush brings hundreds).
  std::vector<NftChange> first_changes;

  // "nft (pid 4242, portid 4242) deleted table inet bulkhead, ... (and 37 more changes)"
  std::string Summary() const;
};

// What a read of the event socket found.
struct WatchUpdate {
  // Commits that touched bulkhead's tables, in kernel order (ours included: the guard needs
  // them to know when a foreign change is already undone).
  std::vector<CommitReport> commits;
  // Events were lost or could not be trusted: the kernel must be compared with the model.
  bool resync_needed = false;
  std::string resync_reason;          // the first reason
  std::size_t malformed = 0;          // undecodable messages
  std::size_t foreign_elsewhere = 0;  // foreign commits that left bulkhead's tables alone

  void NeedResync(std::string reason);
};

// Groups decoded events into commits and classifies them. No socket: the watcher feeds it
// datagrams, the fuzz target and the unit tests feed it bytes.
class CommitClassifier {
 public:
  // Tables bulkhead owns, as (family, name).
  CommitClassifier(std::shared_ptr<OwnCommitLedger> ledger,
                   std::vector<std::pair<Family, std::string>> tables);

  // Feeds one datagram (one or more netlink messages).
  void FeedDatagram(std::span<const std::uint8_t> datagram, WatchUpdate& out);
  // Feeds one decoded event.
  void Feed(const NftEvent& event, WatchUpdate& out);
  // Forgets a half-seen commit (after lost events: its NEWGEN may never come).
  void Reset();

  OwnCommitLedger& ledger() const { return *ledger_; }

 private:
  static constexpr std::size_t kKeptChanges = 8;
  bool Ours(const NftChange& change) const;

  std::shared_ptr<OwnCommitLedger> ledger_;
  std::vector<std::pair<std::uint8_t, std::string>> tables_;  // (NFPROTO_*, name)
  std::size_t open_changes_ = 0;  // changes to our tables in the commit not yet closed
  std::vector<NftChange> open_first_;
};

struct WatchOptions {
  // SO_RCVBUFFORCE of the event socket. A full apply reports every element (an element's
  // notification is about 1 KiB of socket memory), so a big apply overflows any sane buffer;
  // that surfaces as resync_needed (ENOBUFS) and the guard then compares the kernel with the
  // model instead of trusting events. 8 MiB holds thousands of events.
  int receive_buffer = 8 * 1024 * 1024;
};

// The subscriber: one non-blocking NETLINK_NETFILTER socket in the caller's network namespace,
// member of NFNLGRP_NFTABLES. Its fd is for an event loop to wait on (readable); Drain() then
// reads what is queued. Not thread-safe: one thread reads.
class RulesetWatch {
 public:
  // Errors: socket, bind or membership failures (EPERM without CAP_NET_ADMIN).
  static boost::system::result<std::unique_ptr<RulesetWatch>, std::string> Open(
      std::shared_ptr<OwnCommitLedger> ledger, const WatchOptions& options = {});
  ~RulesetWatch();
  RulesetWatch(const RulesetWatch&) = delete;
  RulesetWatch& operator=(const RulesetWatch&) = delete;

  int fd() const { return fd_; }
  // Leaves the event group while bulkhead applies a big ruleset itself: with a listener the
  // kernel builds a notification for every element it commits, which made a full apply of
  // 10,000 workloads / 100,000 edges 1.5 to 3.8 times slower (0.9 s -> 1.5-3.4 s on a loaded
  // 2-vCPU VM), and the socket overflows anyway. Changes made while muted are never reported:
  // compare the kernel with the model (VerifyRuleset) after Unmute. Errors: setsockopt's.
  boost::system::result<void, std::string> Mute();
  boost::system::result<void, std::string> Unmute();
  // Reads every datagram now queued; never blocks. ENOBUFS (the kernel dropped events because
  // the socket was full) and truncated datagrams set resync_needed.
  WatchUpdate Drain();

 private:
  RulesetWatch(void* socket, std::shared_ptr<OwnCommitLedger> ledger);
  void* socket_;  // mnl_socket (kept out of this header)
  int fd_;
  CommitClassifier classifier_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t muted_from_ = 0;  // the ledger's mark at Mute()
};

// bulkhead's tables: inet and bridge `bulkhead` (compiler.h kTableName).
std::vector<std::pair<Family, std::string>> BulkheadTables();

}  // namespace bulkhead::enforcer
