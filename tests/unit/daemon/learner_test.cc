// The learner thread with real parts: libpcap on a veth pair in a network namespace of this
// test's own (root; CTest label `kernel`), the learn module's flow table and graph builder, and
// the agent's way of talking to it (posting an inventory, interfaces, snapshot requests).
#include "daemon/learner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/unit/capture/netns_veth.h"

namespace bulkhead::daemon {
namespace {

// From port 40000, as the learner tests have always sent.
void SendUdp(std::uint16_t dport, int count) { capture::testing::SendUdp(40000, dport, count); }

// Non-blocking connects to 10.77.0.2 on `count` ports from `first`: SYNs nobody answers (the
// address is a static neighbour without a host), so each is an incomplete attempt.
void ConnectTcp(std::uint16_t first, int count) {
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(first + i));
    ASSERT_EQ(::inet_pton(AF_INET, "10.77.0.2", &to.sin_addr), 1);
    (void)::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);  // EINPROGRESS
    ::close(fd);
  }
}

policy::Workload Workload(const std::string& app, const std::string& address) {
  policy::Workload w;
  w.name = app + "-1";
  w.labels = {{"app", app}};
  w.addresses = {address};
  return w;
}

policy::Inventory TwoWorkloads() {
  policy::Inventory inventory;
  inventory.host.name = "node";
  inventory.workloads = {Workload("client", "10.77.0.1"), Workload("dns", "10.77.0.2")};
  return inventory;
}

bool HasEdge(const policy::FlowGraph& graph, const std::string& from, const std::string& to,
             std::uint16_t port) {
  return std::any_of(graph.edges.begin(), graph.edges.end(), [&](const policy::Edge& e) {
    return e.key.from == from && e.key.to == to && e.key.protocol == policy::Protocol::kUdp &&
           e.key.port == port;
  });
}

bool HasGroup(const policy::FlowGraph& graph, const std::string& name) {
  return std::any_of(graph.groups.begin(), graph.groups.end(),
                     [&](const policy::Group& g) { return g.name == name; });
}

class LearnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    capture::testing::EnterNamespaceWithVeth();
    log_ = std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
  }

  // A snapshot, as the agent asks for one: the reply comes back on the caller's loop. Posts are
  // handled in order, so this also waits for everything posted before it.
  policy::FlowGraph Snapshot(Learner& learner) {
    boost::asio::io_context reply;
    // Keeps run_one_for waiting: without work it would return at once and stop the context.
    auto work = boost::asio::make_work_guard(reply);
    std::optional<policy::FlowGraph> graph;
    learner.Snapshot(reply.get_executor(), [&graph](policy::FlowGraph g) { graph = std::move(g); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!graph && std::chrono::steady_clock::now() < deadline) {
      reply.run_one_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(graph.has_value()) << "no snapshot within 5 s";
    return graph.value_or(policy::FlowGraph{});
  }

  std::ostringstream log_text_;  // read only after the learner's thread has been joined
  std::shared_ptr<spdlog::logger> log_;
};

TEST_F(LearnerTest, LearnsFromTheInterfacesAndInventoryItIsGiven) {
  Metrics metrics;
  LearnerOptions options;
  options.live.buffer_bytes = 2 * 1024 * 1024;
  Learner learner(options, metrics, log_);
  learner.Start();
  learner.SetInventory(TwoWorkloads());
  learner.SetInterfaces({"bh-a", "bulkhead-nope0"});  // one that cannot be opened is skipped
  (void)Snapshot(learner);                            // the capture is open after this

  SendUdp(53, 5);
  policy::FlowGraph live;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!HasEdge(live, "client", "dns", 53) && std::chrono::steady_clock::now() < deadline) {
    live = Snapshot(learner);
  }
  // The flow is still live (UDP idles for a minute): the snapshot includes live flows.
  EXPECT_TRUE(HasEdge(live, "client", "dns", 53));

  // The tick (once a second) publishes the capture counters.
  const auto tick = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (metrics.Get("bulkhead_packets_total") < 5 && std::chrono::steady_clock::now() < tick) {
    ::usleep(50'000);
  }
  EXPECT_GE(metrics.Get("bulkhead_packets_total"), 5);
  EXPECT_GE(metrics.Get("bulkhead_flows_total"), 1);

  // A later inventory without the server: its group stays in the graph, while the flow, still
  // live, is finished at Stop and so resolves through the inventory of that moment.
  policy::Inventory smaller = TwoWorkloads();
  smaller.workloads.pop_back();
  learner.SetInventory(smaller);
  const policy::FlowGraph graph = learner.Stop();
  EXPECT_TRUE(HasGroup(graph, "client"));
  EXPECT_TRUE(HasGroup(graph, "dns"));
  EXPECT_TRUE(HasEdge(graph, "client", "world", 53));
  EXPECT_FALSE(HasEdge(graph, "client", "dns", 53));
  const std::string log = log_text_.str();
  EXPECT_NE(log.find("learning: not capturing on bulkhead-nope0"), std::string::npos) << log;
  EXPECT_NE(log.find("learning: capturing on 1 interface(s)"), std::string::npos) << log;
}

TEST_F(LearnerTest, TrafficBeforeTheInterfacesAreSetIsNotSeen) {
  Metrics metrics;
  Learner learner(LearnerOptions{}, metrics, log_);
  learner.Start();
  learner.SetInventory(TwoWorkloads());
  SendUdp(54, 3);  // no interface yet
  learner.SetInterfaces({"bh-a"});
  (void)Snapshot(learner);
  SendUdp(55, 3);
  ::usleep(300'000);  // TPACKET_V3 retires a partly filled block after its 100 ms timeout
  const policy::FlowGraph graph = learner.Stop();  // flushes what the kernel already holds
  EXPECT_FALSE(HasEdge(graph, "client", "dns", 54));
  EXPECT_TRUE(HasEdge(graph, "client", "dns", 55));
}

// What learning keeps out of the graph is published as metrics: a scan's unanswered SYNs
// (incomplete attempts, one scan finding) and a second edge over a cap of one.
TEST_F(LearnerTest, CountsWhatItKeepsOutOfTheGraph) {
  Metrics metrics;
  LearnerOptions options;
  options.max_edges = 1;
  Learner learner(options, metrics, log_);
  learner.Start();
  learner.SetInventory(TwoWorkloads());
  learner.SetInterfaces({"bh-a"});
  (void)Snapshot(learner);  // the capture is open after this

  SendUdp(53, 2);
  ConnectTcp(6000, 30);  // past the scan detector's 25 ports
  SendUdp(54, 2);        // a second edge: over the cap
  ::usleep(300'000);     // TPACKET_V3 retires a partly filled block after its 100 ms timeout
  const policy::FlowGraph graph = learner.Stop();  // flushes the flows, then publishes
  EXPECT_EQ(graph.edges.size(), 1U);
  EXPECT_GE(metrics.Get("bulkhead_learn_incomplete_total"), 30);
  EXPECT_EQ(metrics.Get("bulkhead_learn_refused_total"), 0);
  EXPECT_EQ(metrics.Get("bulkhead_scans_total"), 1);
  // The scan is in the graph, named as the edges name its source.
  ASSERT_EQ(graph.scans.size(), 1U);
  EXPECT_EQ(graph.scans[0].source, "client-1");
  EXPECT_EQ(graph.scans[0].group, "client");
  EXPECT_EQ(graph.scans[0].ports, 30U);
  EXPECT_EQ(graph.scans[0].peers, 1U);
  EXPECT_EQ(graph.scans[0].refused, 0U);
  EXPECT_GE(graph.scans[0].incomplete, 30U);
  EXPECT_LE(graph.scans[0].first_seen_usec, graph.scans[0].last_seen_usec);
  EXPECT_EQ(metrics.Get("bulkhead_edges_dropped_total"), 1);
  EXPECT_EQ(metrics.Get("bulkhead_flow_evictions_total"), 0);
}

TEST_F(LearnerTest, StopWithoutStartReturnsTheEmptyGraph) {
  Metrics metrics;
  Learner learner(LearnerOptions{}, metrics, log_);
  const policy::FlowGraph graph = learner.Stop();
  EXPECT_TRUE(graph.edges.empty());
}

}  // namespace
}  // namespace bulkhead::daemon
