// CriClient and CriSource against a fake runtime: a gRPC server of the test's own on a unix
// socket in a temp dir, serving the runtime.v1 calls the inventory makes from a table the test
// edits.
#include "inventory/cri_source.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace bulkhead::inventory {
namespace {

namespace cri = runtime::v1;
using std::chrono::milliseconds;

class FakeRuntime final : public cri::RuntimeService::Service {
 public:
  void Add(const std::string& id, const std::string& ns, const std::string& name,
           const std::string& ip) {
    std::lock_guard lock(mutex_);
    cri::PodSandboxStatus& s = pods_[id];
    s.set_id(id);
    s.mutable_metadata()->set_name(name);
    s.mutable_metadata()->set_namespace_(ns);
    s.set_state(cri::SANDBOX_READY);
    (*s.mutable_labels())["app"] = name;
    s.mutable_network()->set_ip(ip);
  }
  void Remove(const std::string& id) {
    std::lock_guard lock(mutex_);
    pods_.erase(id);
  }

  grpc::Status Version(grpc::ServerContext*, const cri::VersionRequest*,
                       cri::VersionResponse* out) override {
    out->set_runtime_name("fake");
    out->set_runtime_version("1");
    out->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }
  grpc::Status ListPodSandbox(grpc::ServerContext*, const cri::ListPodSandboxRequest* in,
                              cri::ListPodSandboxResponse* out) override {
    EXPECT_TRUE(in->filter().has_state());
    std::lock_guard lock(mutex_);
    for (const auto& [id, status] : pods_) {
      cri::PodSandbox* item = out->add_items();
      item->set_id(id);
      item->set_state(status.state());
    }
    return grpc::Status::OK;
  }
  grpc::Status PodSandboxStatus(grpc::ServerContext*, const cri::PodSandboxStatusRequest* in,
                                cri::PodSandboxStatusResponse* out) override {
    EXPECT_TRUE(in->verbose());
    std::lock_guard lock(mutex_);
    auto it = pods_.find(in->pod_sandbox_id());
    if (it == pods_.end()) {
      return {grpc::StatusCode::NOT_FOUND, "no such sandbox"};
    }
    *out->mutable_status() = it->second;
    return grpc::Status::OK;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, cri::PodSandboxStatus> pods_;
};

class CriSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bulkhead-cri-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    socket_ = (dir_ / "cri.sock").string();
  }
  void TearDown() override {
    StopServer();
    std::filesystem::remove_all(dir_);
  }
  void StartServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&runtime_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void StopServer() {
    if (server_) {
      server_->Shutdown();
      server_.reset();
    }
  }
  CriSourceOptions Options() const {
    CriSourceOptions o;
    o.client.socket_path = socket_;
    o.client.timeout = milliseconds(2000);
    o.host_name = "node-1";
    o.poll_interval = milliseconds(50);
    o.initial_backoff = milliseconds(20);
    o.max_backoff = milliseconds(100);
    o.resolve_interfaces = false;
    return o;
  }
  // Runs the io_context until `done` holds (true) or 10 s pass (false).
  template <typename Done>
  bool RunUntil(boost::asio::io_context& io, Done done) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) {
        return false;
      }
      io.restart();
      io.run_for(milliseconds(20));
    }
    return true;
  }

  std::filesystem::path dir_;
  std::string socket_;
  FakeRuntime runtime_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(CriSourceTest, MissingSocketIsOneClearLine) {
  EXPECT_EQ(SocketProblem(socket_).rfind("no CRI socket at " + socket_ + " (is the container", 0),
            0U)
      << SocketProblem(socket_);
  CriClient client({socket_, milliseconds(500)});
  auto ids = client.ListReadySandboxes();
  ASSERT_FALSE(ids);
  EXPECT_EQ(ids.error().message.rfind("CRI ListPodSandbox: no CRI socket at " + socket_, 0), 0U)
      << ids.error().message;
  EXPECT_EQ(SocketProblem(dir_.string()), dir_.string() + " is not a socket");
}

TEST_F(CriSourceTest, SocketUrls) {
  EXPECT_EQ(*CriSocketPath("unix:///run/containerd/containerd.sock"),
            "/run/containerd/containerd.sock");
  EXPECT_EQ(*CriSocketPath("/var/run/crio/crio.sock"), "/var/run/crio/crio.sock");
  EXPECT_FALSE(CriSocketPath("tcp://127.0.0.1:10010"));
  EXPECT_FALSE(CriSocketPath("unix://relative.sock"));
  EXPECT_FALSE(CriSocketPath("unix://"));
}

TEST_F(CriSourceTest, ClientCallsAndNoEventStream) {
  StartServer();
  runtime_.Add("s1", "shop", "db", "10.0.0.5");
  CriClient client({socket_, milliseconds(2000)});
  EXPECT_EQ(*client.Version(), "fake 1 (CRI v1)");
  EXPECT_EQ(*client.ListReadySandboxes(), (std::vector<std::string>{"s1"}));
  auto pod = client.SandboxStatus("s1");
  ASSERT_TRUE(pod) << pod.error().message;
  EXPECT_EQ(pod->addresses, (std::vector<std::string>{"10.0.0.5"}));
  auto missing = client.SandboxStatus("nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no such sandbox"), std::string::npos);
  // The fake, like containerd 1.6, does not implement GetContainerEvents.
  auto events = client.HasContainerEvents(milliseconds(500));
  ASSERT_TRUE(events) << events.error().message;
  EXPECT_FALSE(*events);
}

TEST_F(CriSourceTest, PollsDiffsAndSurvivesARuntimeRestart) {
  StartServer();
  runtime_.Add("s1", "shop", "db", "10.0.0.5");
  boost::asio::io_context io;
  std::vector<std::pair<std::string, std::vector<std::string>>> changes;  // why, workload names
  CriSource source(io.get_executor(), Options(), nullptr);
  source.Start([&](const CriSnapshot& snapshot, const std::string& why) {
    std::vector<std::string> names;
    for (const auto& w : snapshot.inventory.workloads) {
      names.push_back(w.name);
    }
    changes.emplace_back(why, names);
  });
  ASSERT_TRUE(RunUntil(io, [&] { return changes.size() == 1; }));
  EXPECT_EQ(changes[0].first, "cri resync");
  EXPECT_EQ(changes[0].second, (std::vector<std::string>{"shop/db"}));

  runtime_.Add("s2", "billing", "db", "10.0.0.6");
  ASSERT_TRUE(RunUntil(io, [&] { return changes.size() == 2; }));
  EXPECT_EQ(changes[1].first, "cri +billing/db");
  EXPECT_EQ(changes[1].second, (std::vector<std::string>{"billing/db", "shop/db"}));

  runtime_.Remove("s1");
  ASSERT_TRUE(RunUntil(io, [&] { return changes.size() == 3; }));
  EXPECT_EQ(changes[2].first, "cri -shop/db");

  // The runtime goes away: errors, backoff; it comes back with another pod: a resync.
  StopServer();
  const std::uint64_t errors = source.errors();
  ASSERT_TRUE(RunUntil(io, [&] { return source.errors() > errors + 1; }));
  runtime_.Add("s3", "shop", "api", "10.0.0.7");
  StartServer();
  ASSERT_TRUE(RunUntil(io, [&] { return changes.size() == 4; }));
  EXPECT_EQ(changes[3].first, "cri resync");
  EXPECT_EQ(changes[3].second, (std::vector<std::string>{"billing/db", "shop/api"}));
  source.Stop();
  // Stopped: nothing more is delivered, even when the runtime changes.
  runtime_.Add("s4", "shop", "cache", "10.0.0.8");
  io.restart();
  io.run_for(milliseconds(200));
  EXPECT_EQ(changes.size(), 4U);
}

TEST_F(CriSourceTest, SnapshotFailsWithTheSocketProblem) {
  boost::asio::io_context io;
  CriSource source(io.get_executor(), Options(), nullptr);
  auto snapshot = source.Snapshot();
  ASSERT_FALSE(snapshot);
  EXPECT_NE(snapshot.error().message.find("no CRI socket at"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::inventory
