// KubeClient and KubeSource against tests/lib/kube_api_server.py, a Kubernetes API server of the
// test's own speaking the real wire format over real TLS (its CA and certificate made with the
// openssl command in a temp dir): certificate verification, paginated lists, watch events,
// bookmarks, 410 Gone and the relist it causes, and a rotated token.
#include "inventory/kube_source.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace bulkhead::inventory {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The python server in a temp dir of its own; killed (by its pid) and removed at the end.
class ApiServerProcess {
 public:
  // `extra`: more arguments for the server; `name` tells the temp dirs of two servers apart.
  explicit ApiServerProcess(std::vector<std::string> extra = {}, const std::string& name = "api") {
    dir_ = fs::temp_directory_path() / ("bulkhead-kube" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Bookmarks only when a test asks (the `bookmark` command): a periodic one would move
      // every watch's version forward and hide the 410 the compaction test needs.
      std::vector<std::string> args = {"python3",     "tests/lib/kube_api_server.py", "--dir",
                                       dir_.string(), "--bookmark-interval",          "1000"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (std::string& arg : args) {
        argv.push_back(arg.data());
      }
      argv.push_back(nullptr);
      ::execvp("python3", argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(dir_ / "ready"); ++i) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (!fs::exists(dir_ / "ready")) {
      // gtest reports the exception as the test's failure; the server's own output is above.
      throw std::runtime_error("tests/lib/kube_api_server.py did not start within 10 s");
    }
    const json::value ready = json::parse(ReadFile(dir_ / "ready"));
    port_ = static_cast<unsigned short>(ready.at("port").to_number<int>());
    control_port_ = static_cast<unsigned short>(ready.at("control_port").to_number<int>());
  }
  ~ApiServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }
  ApiServerProcess(const ApiServerProcess&) = delete;
  ApiServerProcess& operator=(const ApiServerProcess&) = delete;

  const fs::path& dir() const { return dir_; }
  unsigned short port() const { return port_; }

  // One control command; the answer's JSON.
  json::object Control(const json::object& command) const {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), control_port_));
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = json::serialize(command);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    json::object answer = json::parse(res.body()).as_object();
    EXPECT_TRUE(answer.at("ok").as_bool()) << res.body();
    return answer;
  }

  void AddPod(const std::string& name, const std::string& ip, const std::string& app) const {
    Control({{"cmd", "upsert"},
             {"kind", "pod"},
             {"namespace", "shop"},
             {"name", name},
             {"uid", "uid-" + name},
             {"node", "node-a"},
             {"labels", {{"app", app}}},
             {"ips", {ip}}});
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  unsigned short control_port_ = 0;
};

class KubeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteToken("test-token");
    config_.host = "127.0.0.1";
    config_.port = std::to_string(server_.port());
    config_.ca_pem = ReadFile(server_.dir() / "ca.crt");
    config_.token_file = (server_.dir() / "token").string();
    config_.origin = "test";
    options_.page_size = 2;
    options_.watch_timeout = seconds(2);
    options_.initial_backoff = milliseconds(50);
    options_.max_backoff = milliseconds(400);
  }

  void WriteToken(const std::string& token) {
    const fs::path path = server_.dir() / "token";
    std::ofstream(path.string() + ".tmp") << token << "\n";
    fs::rename(path.string() + ".tmp", path);
  }

  void StartSource() {
    auto source = KubeSource::Create(agent_.get_executor(), config_, options_, nullptr);
    ASSERT_TRUE(source) << source.error().message;
    source_ = std::move(*source);
    source_->Start([this](KubeBatch batch) { batches_.push_back(std::move(batch)); });
  }

  // Runs the agent's executor until `done` holds (true) or 10 s pass (false).
  template <typename Predicate>
  bool RunUntil(Predicate done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      agent_.run_for(milliseconds(20));
      agent_.restart();
    }
    return true;
  }

  // The first batch at or after index `from` of `resource` matching `match`, or nullptr.
  template <typename Match>
  const KubeBatch* FindBatch(std::size_t from, KubeResource resource, Match match) const {
    for (std::size_t i = from; i < batches_.size(); ++i) {
      if (batches_[i].resource == resource && match(batches_[i])) {
        return &batches_[i];
      }
    }
    return nullptr;
  }

  ApiServerProcess server_;
  KubeConfig config_;
  KubeSourceOptions options_;
  asio::io_context agent_;
  std::vector<KubeBatch> batches_;
  std::unique_ptr<KubeSource> source_;
};

// GET through a KubeClient on an io_context of the test's own.
KubeClient::Result GetOnce(const KubeConfig& config, const std::string& target,
                           unsigned* status = nullptr, KubeClientOptions options = {}) {
  asio::io_context io;
  auto client = KubeClient::Create(io.get_executor(), config, options);
  if (!client) {
    return client.error();
  }
  KubeClient::Result result = KubeFail("not run");
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await (*client)->Get(target, status); },
      asio::detached);
  io.run();
  return result;
}

TEST_F(KubeSourceTest, TlsIsVerifiedAgainstTheCa) {
  auto ok = GetOnce(config_, "/api/v1/nodes");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_NE(ok->find("\"NodeList\""), std::string::npos);

  // A name the certificate has (DNS:localhost): SNI and host name verification.
  KubeConfig by_name = config_;
  by_name.host = "localhost";
  auto named = GetOnce(by_name, "/api/v1/nodes");
  EXPECT_TRUE(named) << named.error().message;

  // Another CA: the handshake fails, the error says why.
  const fs::path other = server_.dir() / "other";
  fs::create_directories(other);
  const std::string make_ca = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " +
                              (other / "ca.key").string() + " -out " + (other / "ca.crt").string() +
                              " -days 1 -subj /CN=other-ca >/dev/null 2>&1";
  ASSERT_EQ(std::system(make_ca.c_str()), 0);
  KubeConfig wrong = config_;
  wrong.ca_pem = ReadFile(other / "ca.crt");
  unsigned status = 0;
  auto refused = GetOnce(wrong, "/api/v1/nodes", &status);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("TLS with the API server https://127.0.0.1:"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("certificate verify failed"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(status, 0U);

  KubeConfig garbage = config_;
  garbage.ca_pem = "not a certificate";
  asio::io_context io;
  auto bad = KubeClient::Create(io.get_executor(), garbage, KubeClientOptions{});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("the cluster's CA: not a PEM certificate"), std::string::npos);
}

KubeConfig ConfigFor(const ApiServerProcess& server, const std::string& host) {
  KubeConfig config;
  config.host = host;
  config.port = std::to_string(server.port());
  config.ca_pem = ReadFile(server.dir() / "ca.crt");
  config.token = "test-token";
  config.origin = "test";
  return config;
}

TEST(KubeClientTls, NameAndIpv6) {
  // A certificate for DNS:localhost only: reached at 127.0.0.1, the IP is not its name.
  ApiServerProcess named({"--san", "DNS:localhost", "--sans-only"}, "named");
  auto by_name = GetOnce(ConfigFor(named, "localhost"), "/api/v1/pods");
  EXPECT_TRUE(by_name) << by_name.error().message;
  auto by_ip = GetOnce(ConfigFor(named, "127.0.0.1"), "/api/v1/pods");
  ASSERT_FALSE(by_ip);
  EXPECT_NE(by_ip.error().message.find("certificate verify failed"), std::string::npos)
      << by_ip.error().message;

  // An API server on ::1: the IPv6 address is verified against IP:::1 and put in brackets.
  ApiServerProcess v6({"--bind", "::1"}, "v6");
  const KubeConfig config = ConfigFor(v6, "::1");
  EXPECT_EQ(config.ServerUrl(), "https://[::1]:" + std::to_string(v6.port()));
  auto over_v6 = GetOnce(config, "/api/v1/nodes");
  EXPECT_TRUE(over_v6) << over_v6.error().message;
}

TEST_F(KubeSourceTest, BadTokenAndExpiredContinue) {
  WriteToken("wrong");
  unsigned status = 0;
  auto refused = GetOnce(config_, "/api/v1/pods", &status);
  ASSERT_FALSE(refused);
  EXPECT_EQ(status, 401U);
  EXPECT_NE(refused.error().message.find("HTTP 401 Unauthorized: Unauthorized (the bearer token "
                                         "was refused)"),
            std::string::npos)
      << refused.error().message;
  // Retried once with the file read again: two refusals.
  EXPECT_EQ(server_.Control({{"cmd", "stats"}}).at("unauthorized").as_int64(), 2);

  WriteToken("test-token");
  server_.AddPod("a", "10.1.0.1", "api");
  server_.AddPod("b", "10.1.0.2", "api");
  auto first = GetOnce(config_, "/api/v1/pods?limit=1");
  ASSERT_TRUE(first) << first.error().message;
  auto page = ParseKubeList(KubeResource::kPods, *first);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_FALSE(page->continue_token.empty());
  server_.Control({{"cmd", "compact"}});
  auto expired = GetOnce(config_, "/api/v1/pods?limit=1&continue=" + page->continue_token, &status);
  ASSERT_FALSE(expired);
  EXPECT_EQ(status, 410U);
  EXPECT_NE(
      expired.error().message.find("HTTP 410 Gone: The provided continue parameter is too old"),
      std::string::npos)
      << expired.error().message;
}

// A watch through a KubeClient of its own: how it ended, and the lines it gave.
KubeWatchEnd WatchOnce(const KubeConfig& config, const std::string& target,
                       KubeClientOptions options, std::vector<std::string>& lines) {
  asio::io_context io;
  auto client = KubeClient::Create(io.get_executor(), config, options);
  EXPECT_TRUE(client);
  KubeWatchEnd end;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        end = co_await (*client)->Watch(target, seconds(1),
                                        [&](std::vector<std::string> got) -> asio::awaitable<bool> {
                                          lines.insert(lines.end(), got.begin(), got.end());
                                          co_return true;
                                        });
      },
      asio::detached);
  io.run();
  return end;
}

TEST_F(KubeSourceTest, ReadsAreBounded) {
  server_.AddPod("small", "10.1.0.1", "api");
  const std::string version =
      server_.Control({{"cmd", "stats"}}).at("resourceVersion").as_string().c_str();
  server_.Control({{"cmd", "upsert"},
                   {"kind", "pod"},
                   {"namespace", "shop"},
                   {"name", "large"},
                   {"labels", {{"note", std::string(40000, 'x')}}}});
  KubeClientOptions options;
  options.max_body_bytes = 32 * 1024;
  options.max_event_line_bytes = 16 * 1024;
  auto list = GetOnce(config_, "/api/v1/pods", nullptr, options);
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find("/api/v1/pods: the answer is over 32768 bytes"),
            std::string::npos)
      << list.error().message;

  std::vector<std::string> lines;
  const KubeWatchEnd end = WatchOnce(
      config_, "/api/v1/pods?watch=1&resourceVersion=" + std::string(version) + "&timeoutSeconds=1",
      options, lines);
  EXPECT_TRUE(end.opened);
  EXPECT_FALSE(end.clean);
  EXPECT_NE(end.message.find("an event line is over 16384 bytes"), std::string::npos)
      << end.message;

  // Within the bounds, the same watch ends cleanly after its timeoutSeconds with both lines.
  lines.clear();
  const KubeWatchEnd whole =
      WatchOnce(config_, "/api/v1/pods?watch=1&resourceVersion=1&timeoutSeconds=1",
                KubeClientOptions{}, lines);
  EXPECT_TRUE(whole.clean) << whole.message;
  EXPECT_EQ(lines.size(), 2U);
}

TEST_F(KubeSourceTest, ListsInPagesThenWatches) {
  for (int i = 0; i < 7; ++i) {
    server_.AddPod("api-" + std::to_string(i), "10.1.0." + std::to_string(10 + i), "api");
  }
  server_.Control(
      {{"cmd", "upsert"}, {"kind", "namespace"}, {"name", "shop"}, {"labels", {{"team", "web"}}}});
  server_.Control({{"cmd", "upsert"},
                   {"kind", "node"},
                   {"name", "node-a"},
                   {"addresses", {"192.0.2.1", "2001:db8::1"}}});
  StartSource();
  ASSERT_TRUE(RunUntil([&] { return source_->stats().lists >= 3; }));
  RunUntil([&] { return batches_.size() >= 3; });

  const KubeBatch* pods =
      FindBatch(0, KubeResource::kPods, [](const KubeBatch& b) { return b.relist; });
  ASSERT_NE(pods, nullptr);
  EXPECT_EQ(pods->pods.size(), 7U);  // four pages of at most two
  EXPECT_GE(server_.Control({{"cmd", "stats"}}).at("requests").at("/api/v1/pods").as_int64(), 4);
  const KubeBatch* namespaces =
      FindBatch(0, KubeResource::kNamespaces, [](const KubeBatch& b) { return b.relist; });
  ASSERT_NE(namespaces, nullptr);
  ASSERT_EQ(namespaces->namespaces.size(), 1U);
  EXPECT_EQ(namespaces->namespaces[0].labels.at("team"), "web");
  const KubeBatch* nodes =
      FindBatch(0, KubeResource::kNodes, [](const KubeBatch& b) { return b.relist; });
  ASSERT_NE(nodes, nullptr);
  ASSERT_EQ(nodes->nodes.size(), 1U);
  EXPECT_EQ(nodes->nodes[0].addresses, (std::vector<std::string>{"192.0.2.1", "2001:db8::1"}));

  // ADDED, MODIFIED, DELETED: each a batch that is not a relist.
  std::size_t seen = batches_.size();
  server_.AddPod("web-1", "10.1.0.50", "web");
  auto is_web = [](const KubeBatch& b) {
    return !b.relist && b.pods.size() == 1 && b.pods[0].name == "web-1";
  };
  ASSERT_TRUE(RunUntil([&] { return FindBatch(seen, KubeResource::kPods, is_web) != nullptr; }));
  EXPECT_EQ(FindBatch(seen, KubeResource::kPods, is_web)->pods[0].addresses,
            std::vector<std::string>{"10.1.0.50"});

  seen = batches_.size();
  server_.AddPod("web-1", "10.1.0.51", "web");  // the same pod, a new address
  ASSERT_TRUE(RunUntil([&] { return FindBatch(seen, KubeResource::kPods, is_web) != nullptr; }));
  EXPECT_EQ(FindBatch(seen, KubeResource::kPods, is_web)->pods[0].addresses,
            std::vector<std::string>{"10.1.0.51"});

  seen = batches_.size();
  server_.Control({{"cmd", "delete"}, {"kind", "pod"}, {"namespace", "shop"}, {"name", "web-1"}});
  auto deleted = [](const KubeBatch& b) {
    return !b.relist && b.deleted == std::vector<std::string>{"uid-web-1"};
  };
  ASSERT_TRUE(RunUntil([&] { return FindBatch(seen, KubeResource::kPods, deleted) != nullptr; }));
  EXPECT_GE(source_->stats().events, 3U);
  EXPECT_EQ(source_->stats().errors, 0U);

  // The server ends each watch after timeoutSeconds (2 s); the source resumes without a list.
  ASSERT_TRUE(RunUntil([&] { return source_->stats().watch_restarts >= 3; }));
  EXPECT_EQ(source_->stats().lists, 3U);
  EXPECT_EQ(source_->stats().relists, 0U);
}

TEST_F(KubeSourceTest, BookmarkIsContact) {
  StartSource();
  ASSERT_TRUE(RunUntil([&] { return source_->stats().lists >= 3; }));
  ASSERT_TRUE(RunUntil([&] {
    return server_.Control({{"cmd", "stats"}}).at("watches").as_int64() >= 3;
  }));
  const auto before = source_->stats().last_contact[static_cast<std::size_t>(KubeResource::kNodes)];
  ASSERT_TRUE(before.has_value());
  const std::size_t seen = batches_.size();
  std::this_thread::sleep_for(milliseconds(100));
  server_.Control({{"cmd", "bookmark"}});
  ASSERT_TRUE(RunUntil([&] { return source_->stats().bookmarks >= 3; }));
  const auto after = source_->stats().last_contact[static_cast<std::size_t>(KubeResource::kNodes)];
  ASSERT_TRUE(after.has_value());
  EXPECT_GT(*after - *before, milliseconds(90));
  EXPECT_EQ(batches_.size(), seen);  // a bookmark is no batch
}

TEST_F(KubeSourceTest, DroppedWatchIsAnErrorThenARelist) {
  server_.Control(
      {{"cmd", "upsert"}, {"kind", "node"}, {"name", "node-a"}, {"addresses", {"192.0.2.1"}}});
  StartSource();
  ASSERT_TRUE(RunUntil([&] { return source_->stats().lists >= 3; }));
  const std::size_t seen = batches_.size();
  // Every watch cut without its final chunk, and nothing answered for a moment: what happened
  // meanwhile is unknown, so the source waits (backoff) and lists again.
  server_.Control({{"cmd", "pause"}, {"seconds", 0.5}});
  server_.Control(
      {{"cmd", "upsert"}, {"kind", "node"}, {"name", "node-b"}, {"addresses", {"192.0.2.2"}}});
  auto relisted = [](const KubeBatch& b) { return b.relist && b.nodes.size() == 2; };
  ASSERT_TRUE(RunUntil([&] { return FindBatch(seen, KubeResource::kNodes, relisted) != nullptr; }));
  ASSERT_TRUE(RunUntil([&] { return source_->stats().relists >= 3; }));  // every resource
  const KubeSourceStats stats = source_->stats();
  EXPECT_GE(stats.errors, 3U);  // each resource's watch at least
  EXPECT_EQ(stats.gone, 0U);
}

TEST_F(KubeSourceTest, GoneEventRelistsAtOnce) {
  StartSource();
  ASSERT_TRUE(RunUntil([&] { return source_->stats().lists >= 3; }));
  server_.AddPod("a", "10.1.0.1", "api");
  ASSERT_TRUE(RunUntil([&] { return source_->stats().events >= 1; }));
  // Nodes: the watch saw nothing since its list. A pod change moves the version on; after the
  // compaction the nodes watch's next start (timeoutSeconds) asks for a forgotten version.
  server_.AddPod("b", "10.1.0.2", "api");
  server_.Control({{"cmd", "compact"}});
  const std::size_t seen = batches_.size();
  ASSERT_TRUE(RunUntil([&] { return source_->stats().gone >= 1; }));
  ASSERT_TRUE(RunUntil([&] {
    return FindBatch(seen, KubeResource::kNodes, [](const KubeBatch& b) { return b.relist; }) !=
           nullptr;
  }));
  EXPECT_EQ(source_->stats().errors, 0U);  // a 410 is no error: it is answered by a list
}

TEST_F(KubeSourceTest, RotatedTokenIsReadAgain) {
  StartSource();
  ASSERT_TRUE(RunUntil([&] { return source_->stats().lists >= 3; }));
  server_.Control({{"cmd", "set_token"}, {"token", "rotated-token"}});
  server_.Control({{"cmd", "close_watches"}});
  // The old token is refused meanwhile (401, backoff, again).
  ASSERT_TRUE(RunUntil([&] {
    return server_.Control({{"cmd", "stats"}}).at("unauthorized").as_int64() >= 2;
  }));
  WriteToken("rotated-token");
  const std::size_t seen = batches_.size();
  server_.AddPod("after-rotation", "10.1.0.9", "api");
  auto has_pod = [](const KubeBatch& b) {
    return std::any_of(b.pods.begin(), b.pods.end(),
                       [](const KubePod& p) { return p.name == "after-rotation"; });
  };
  ASSERT_TRUE(RunUntil([&] { return FindBatch(seen, KubeResource::kPods, has_pod) != nullptr; }));
  EXPECT_GE(source_->stats().errors, 1U);
}

}  // namespace
}  // namespace bulkhead::inventory
