#include "inventory/docker_api.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "inventory/docker_client.h"

namespace bulkhead::inventory {
namespace {

const std::string kDir = "tests/unit/inventory/docker_fixtures/";
const std::string kApiId = "bd27503e77ae16e8ddfeb45d40340753f7e1eae51b700977828bb6447d92342b";
const std::string kShopNet = "1adc83f4ae578666aa151e1c1781fc622dc500a0f748feaa89bf89b2616b4190";

std::string Fixture(const std::string& name) {
  std::ifstream in(kDir + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing fixture " << name << " (run from the source root)";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

// Replaces the first occurrence of `from` in the fixture, so each error test changes one field.
std::string Edit(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// The error of a parse that must fail.
template <typename R>
std::string ErrorOf(const R& r) {
  EXPECT_FALSE(r.has_value());
  return r.has_value() ? std::string("<parsed>") : r.error().message;
}

TEST(DockerApiTest, InspectGivesNameLabelsStateAndEndpointsSortedByNetwork) {
  auto c = ParseContainerInspect(Fixture("container_inspect.json"));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->id, kApiId);
  EXPECT_EQ(c->name, "shop-api-1");
  EXPECT_EQ(c->labels, (policy::Labels{{"app", "api"}, {"com.docker.compose.service", "api"}}));
  EXPECT_TRUE(c->running);
  EXPECT_EQ(c->pid, 6721);
  EXPECT_EQ(c->started_at, "2026-11-29T05:40:53.812376274Z");
  ASSERT_EQ(c->endpoints.size(), 2u);
  EXPECT_EQ(c->endpoints[0].network_name, "backend");
  EXPECT_EQ(c->endpoints[0].ipv4, "172.20.0.5");
  EXPECT_EQ(c->endpoints[0].ipv6, "");
  EXPECT_EQ(c->endpoints[0].gateway, "172.20.0.1");
  EXPECT_EQ(c->endpoints[0].mac, "02:42:ac:14:00:05");
  EXPECT_EQ(c->endpoints[1].network_name, "shop");
  EXPECT_EQ(c->endpoints[1].network_id, kShopNet);
  EXPECT_EQ(c->endpoints[1].ipv4, "10.99.0.2");
  EXPECT_EQ(c->endpoints[1].ipv6, "fd99::2");
  EXPECT_EQ(c->endpoints[1].ipv6_gateway, "fd99::1");
  EXPECT_EQ(c->endpoints[1].mac, "02:42:0a:63:00:02");
}

TEST(DockerApiTest, InspectAcceptsNullLabelsAndNetworks) {
  std::string body =
      Edit(Fixture("container_inspect.json"),
           R"("Labels": {"app": "api", "com.docker.compose.service": "api"})", R"("Labels": null)");
  const auto nets = body.find("\"Networks\": {");
  ASSERT_NE(nets, std::string::npos);
  body = body.substr(0, nets) + "\"Networks\": null}, \"Mounts\": []}";
  auto c = ParseContainerInspect(body);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_TRUE(c->labels.empty());
  EXPECT_TRUE(c->endpoints.empty());
}

TEST(DockerApiTest, InspectErrorsNameTheField) {
  const std::string good = Fixture("container_inspect.json");
  struct Case {
    std::string from;
    std::string to;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"\"Pid\": 6721", "\"Pid\": \"6721\"", "container inspect: State.Pid: expected an integer"},
      {"\"Pid\": 6721", "\"Pid\": 0", "container inspect: State.Pid: not a process id"},
      {"\"Running\": true", "\"Running\": 1", "State.Running: expected true or false"},
      {"\"State\": {", "\"State\": [{", "container inspect: bad JSON"},
      {R"("app": "api")", R"("app": 7)", "container inspect: Config.Labels.app: expected a string"},
      {"\"Name\": \"/shop-api-1\"", "\"Name\": \"/\"", "container inspect: Name: empty"},
      {"\"Name\": \"/shop-api-1\"", "\"Nome\": \"x\"", "container inspect: Name: missing"},
      {"\"IPAddress\": \"10.99.0.2\"", "\"IPAddress\": \"10.99.0.999\"",
       "NetworkSettings.Networks.shop.IPAddress: not an IPv4 address"},
      {"\"GlobalIPv6Address\": \"fd99::2\"", "\"GlobalIPv6Address\": \"10.0.0.1\"",
       "NetworkSettings.Networks.shop.GlobalIPv6Address: not an IPv6 address"},
      {"\"MacAddress\": \"02:42:0a:63:00:02\"", "\"MacAddress\": \"02:42:0a:63:00\"",
       "NetworkSettings.Networks.shop.MacAddress: not a MAC address"},
      {"\"NetworkID\": \"1adc", "\"NetworkID\": \"../1adc",
       "NetworkSettings.Networks.shop.NetworkID: not a Docker id"},
      {"\"Id\": \"bd27", "\"Id\": \"/../bd27", "container inspect: Id: not a Docker id"},
      {"\"Networks\": {", "\"Networks\": {\"x\": 3, ",
       "container inspect: NetworkSettings.Networks.x: expected an object"},
  };
  for (const Case& c : cases) {
    const std::string error = ErrorOf(ParseContainerInspect(Edit(good, c.from, c.to)));
    EXPECT_NE(error.find(c.expect), std::string::npos) << "got: " << error;
  }
  EXPECT_EQ(ErrorOf(ParseContainerInspect("[]")), "container inspect: expected an object");
  EXPECT_EQ(ErrorOf(ParseContainerInspect(R"({"Id": "ab", "Name": "/x"})")),
            "container inspect: State: missing");
}

// Every truncation of a real answer, and every single-byte corruption of its first part, gives
// a value or an error: never a crash (ASan/UBSan build).
TEST(DockerApiTest, TruncatedOrCorruptAnswersNeverCrash) {
  const std::string good = Fixture("container_inspect.json");
  ASSERT_NE(good.rfind('}'), std::string::npos);
  for (std::size_t n = 0; n <= good.rfind('}'); ++n) {  // every prefix without the last brace
    auto r = ParseContainerInspect(std::string_view(good).substr(0, n));
    EXPECT_FALSE(r.has_value()) << n;
  }
  for (std::size_t i = 0; i < 600 && i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = '"';
    (void)ParseContainerInspect(bad);
    bad[i] = '\0';
    (void)ParseContainerInspect(bad);
  }
  for (const std::string& line : Lines(Fixture("events.jsonl"))) {
    for (std::size_t n = 0; n < line.size(); ++n) {
      EXPECT_FALSE(ParseEvent(std::string_view(line).substr(0, n)).has_value());
    }
  }
}

TEST(DockerApiTest, ContainerListGivesIds) {
  auto ids = ParseContainerIds(Fixture("containers_list.json"));
  ASSERT_TRUE(ids.has_value()) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<std::string>{
                      kApiId, "0af9ad5b0fb6fd3e112b13bb18e0750e8614a70ad6a80e8c8d19220417e31ad5"}));
  EXPECT_EQ(ErrorOf(ParseContainerIds("{}")), "container list: expected an array");
  EXPECT_EQ(ErrorOf(ParseContainerIds("[{}]")), "container list: [0].Id: missing");
  EXPECT_EQ(ErrorOf(ParseContainerIds(R"([{"Id": "abc"}, 5])")),
            "container list: [1]: expected an object");
  EXPECT_EQ(ErrorOf(ParseContainerIds(R"([{"Id": "ab/c"}])")),
            "container list: [0].Id: not a Docker id (hex digits)");
}

TEST(DockerApiTest, NetworkBridgeNameFromOptionElseDockerDefault) {
  auto named = ParseNetworkInspect(Fixture("network_inspect.json"));
  ASSERT_TRUE(named.has_value()) << named.error().message;
  EXPECT_EQ(named->id, kShopNet);
  EXPECT_EQ(named->name, "shop");
  EXPECT_EQ(named->driver, "bridge");
  EXPECT_EQ(named->bridge, "bhbr0");
  auto unnamed = ParseNetworkInspect(Fixture("network_inspect_unnamed.json"));
  ASSERT_TRUE(unnamed.has_value()) << unnamed.error().message;
  EXPECT_EQ(unnamed->bridge, "br-5f0e2a9c7d3b");
  auto host = ParseNetworkInspect(Edit(Fixture("network_inspect_unnamed.json"),
                                       "\"Driver\": \"bridge\"", "\"Driver\": \"host\""));
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->bridge, "");
  EXPECT_NE(ErrorOf(ParseNetworkInspect(Edit(Fixture("network_inspect.json"), "\"bhbr0\"", "0")))
                .find("network inspect: Options.com.docker.network.bridge.name: expected a string"),
            std::string::npos);
}

TEST(DockerApiTest, EventsOfTheCapturedStream) {
  const auto lines = Lines(Fixture("events.jsonl"));
  ASSERT_EQ(lines.size(), 5u);
  const std::string c2 = "0af9ad5b0fb6fd3e112b13bb18e0750e8614a70ad6a80e8c8d19220417e31ad5";
  std::vector<DockerEvent> events;
  for (const std::string& line : lines) {
    auto e = ParseEvent(line);
    ASSERT_TRUE(e.has_value()) << e.error().message;
    events.push_back(*e);
  }
  EXPECT_EQ(events[0].kind, DockerEventKind::kNetworkConnect);
  EXPECT_EQ(events[0].container_id, c2);
  EXPECT_EQ(events[0].network_id, kShopNet);
  EXPECT_EQ(events[0].time_nano, 1795930863444838281);
  EXPECT_EQ(events[1].kind, DockerEventKind::kContainerStart);
  EXPECT_EQ(events[1].container_id, c2);
  EXPECT_EQ(events[1].container_name, "c2");
  EXPECT_EQ(events[2].kind, DockerEventKind::kContainerDie);
  EXPECT_EQ(events[2].container_id, c2);
  EXPECT_EQ(events[3].kind, DockerEventKind::kNetworkDisconnect);
  EXPECT_EQ(events[4].kind, DockerEventKind::kExecCreate);
  EXPECT_EQ(events[4].exec_command, "sh");
  EXPECT_EQ(events[4].container_name, "c2");
  EXPECT_EQ(DockerEventKindName(events[2].kind), "die");
}

TEST(DockerApiTest, EventErrorsNameTheField) {
  EXPECT_EQ(ErrorOf(ParseEvent("{\"Type\":\"container\"")).substr(0, 15), "event: bad JSON");
  EXPECT_EQ(ErrorOf(ParseEvent(R"({"Type":"container","Action":"start"})")),
            "event: Actor: missing");
  EXPECT_EQ(ErrorOf(ParseEvent(R"({"Type":1,"Action":"start","Actor":{}})")),
            "event: Type: expected a string");
  EXPECT_EQ(ErrorOf(ParseEvent(R"({"Type":"container","Action":"start","Actor":{}})")),
            "event: Actor.ID: missing");
  EXPECT_EQ(ErrorOf(ParseEvent(
                R"({"Type":"network","Action":"connect","Actor":{"ID":"ab","Attributes":{}}})")),
            "event: Actor.Attributes.container: missing");
  EXPECT_EQ(
      ErrorOf(ParseEvent(
          R"({"Type":"network","Action":"connect","Actor":{"ID":"ab","Attributes":{"container":"x y"}}})")),
      "event: Actor.Attributes.container: not a Docker id (hex digits)");
  EXPECT_EQ(
      ErrorOf(ParseEvent(
          R"({"Type":"container","Action":"die","Actor":{"ID":"ab","Attributes":{"n":[]}}})")),
      "event: Actor.Attributes.n: expected a string");
  EXPECT_EQ(ErrorOf(ParseEvent(
                R"({"Type":"container","Action":"die","timeNano":"1","Actor":{"ID":"ab"}})")),
            "event: timeNano: expected an integer");
}

TEST(DockerApiTest, ApiVersion) {
  auto v = ParseApiVersion(Fixture("version.json"));
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(*v, "1.41");
  EXPECT_EQ(ErrorOf(ParseApiVersion(R"({"ApiVersion": "1.41/../x"})")),
            "version: ApiVersion: not a version like 1.41");
  EXPECT_EQ(ErrorOf(ParseApiVersion(R"({"ApiVersion": 1.41})")),
            "version: ApiVersion: expected a string");
  EXPECT_EQ(ErrorOf(ParseApiVersion("{}")), "version: ApiVersion: missing");
}

TEST(DockerApiTest, ErrorMessageOfDockerErrorAnswers) {
  EXPECT_EQ(DockerErrorMessage(R"({"message":"No such container: x\n"})"), "No such container: x");
  EXPECT_EQ(DockerErrorMessage("page not found"), "");
  EXPECT_EQ(DockerErrorMessage(R"({"message":5})"), "");
}

DockerContainer Container(std::string name, std::string id, std::string started,
                          std::vector<DockerEndpoint> endpoints, bool running = true) {
  DockerContainer c;
  c.name = std::move(name);
  c.id = std::move(id);
  c.started_at = std::move(started);
  c.running = running;
  c.pid = running ? 100 : 0;
  c.endpoints = std::move(endpoints);
  return c;
}

DockerEndpoint Endpoint(std::string v4, std::string v6, std::string mac) {
  DockerEndpoint e;
  e.network_name = "shop";
  e.network_id = kShopNet;
  e.ipv4 = std::move(v4);
  e.ipv6 = std::move(v6);
  e.gateway = "10.99.0.1";
  e.ipv6_gateway = "fd99::1";
  e.mac = std::move(mac);
  return e;
}

TEST(DockerApiTest, InventoryFromContainers) {
  auto api = ParseContainerInspect(Fixture("container_inspect.json"));
  ASSERT_TRUE(api.has_value());
  std::vector<DockerContainer> containers = {
      *api,
      Container("shop-db-1", "aa", "2026-11-29T05:41:00.000000000Z",
                {Endpoint("10.99.0.3", "", "02:42:0a:63:00:03")}),
      Container("stopped", "bb", "2026-11-29T05:00:00.000000000Z",
                {Endpoint("10.99.0.9", "", "02:42:0a:63:00:09")}, false),
  };
  const policy::Inventory inv =
      BuildInventory("node-1", containers, {{kApiId, "vethe927d50"}, {"bb", "vethx"}});
  EXPECT_EQ(inv.host.name, "node-1");
  EXPECT_EQ(inv.host.addresses, (std::vector<std::string>{"10.99.0.1", "172.20.0.1", "fd99::1"}));
  ASSERT_EQ(inv.workloads.size(), 2u);
  const policy::Workload& w = inv.workloads[0];
  EXPECT_EQ(w.name, "shop-api-1");
  EXPECT_EQ(w.id, kApiId);
  EXPECT_EQ(w.labels.at("app"), "api");
  EXPECT_EQ(w.addresses, (std::vector<std::string>{"172.20.0.5", "10.99.0.2", "fd99::2"}));
  EXPECT_EQ(w.mac, "02:42:ac:14:00:05");  // the first endpoint by network name: backend
  EXPECT_EQ(w.interface, "vethe927d50");
  EXPECT_EQ(inv.workloads[1].name, "shop-db-1");
  EXPECT_EQ(inv.workloads[1].interface, "");
  EXPECT_EQ(inv.workloads[1].addresses, (std::vector<std::string>{"10.99.0.3"}));
}

// A container died without its die event being applied yet (or dockerd still reports its old
// endpoint), and a new one got its address: the address belongs to the newer container only,
// whatever the input order.
TEST(DockerApiTest, ReusedAddressGoesToTheContainerThatStartedLast) {
  const DockerContainer old_one =
      Container("old", "a1", "2026-11-29T05:00:00.000000000Z",
                {Endpoint("10.99.0.7", "fd99::7", "02:00:00:00:00:07")});
  const DockerContainer new_one =
      Container("new", "b2", "2026-11-29T06:00:00.000000000Z",
                {Endpoint("10.99.0.7", "fd99::8", "02:00:00:00:00:08")});
  for (const auto& order : {std::vector<DockerContainer>{old_one, new_one},
                            std::vector<DockerContainer>{new_one, old_one}}) {
    const policy::Inventory inv = BuildInventory("h", order, {});
    ASSERT_EQ(inv.workloads.size(), 2u);
    EXPECT_EQ(inv.workloads[0].name, "new");
    EXPECT_EQ(inv.workloads[0].addresses, (std::vector<std::string>{"10.99.0.7", "fd99::8"}));
    EXPECT_EQ(inv.workloads[1].name, "old");
    EXPECT_EQ(inv.workloads[1].addresses, (std::vector<std::string>{"fd99::7"}));
  }
}

TEST(DockerApiTest, SocketPathFromDockerHost) {
  EXPECT_EQ(*DockerSocketPath(nullptr), "/var/run/docker.sock");
  EXPECT_EQ(*DockerSocketPath(""), "/var/run/docker.sock");
  EXPECT_EQ(*DockerSocketPath("unix:///tmp/d.sock"), "/tmp/d.sock");
  EXPECT_EQ(ErrorOf(DockerSocketPath("tcp://10.0.0.1:2375")),
            "DOCKER_HOST=tcp://10.0.0.1:2375: only unix:// sockets are supported (e.g. "
            "unix:///var/run/docker.sock)");
  EXPECT_EQ(ErrorOf(DockerSocketPath("unix://")),
            "DOCKER_HOST=unix://: no socket path after unix://");
}

TEST(DockerApiTest, EventsTargetFiltersContainerAndNetworkActions) {
  const std::string t = EventsTarget();
  EXPECT_EQ(t.rfind("/events?filters=", 0), 0u);
  EXPECT_NE(t.find("%22container%22%2C%22network%22"), std::string::npos);
  EXPECT_NE(t.find("%22exec_create%22%2C%22exec_start%22%2C%22exec_die%22"), std::string::npos);
  EXPECT_EQ(t.find_first_of(" {}\"[]"), std::string::npos);
}

const std::string kExec = "5d2f1a0e9c3b4a7f8e6d5c4b3a29180716253443526170819a0b1c2d3e4f5061";

std::string ExecEventLine(const std::string& action, const std::string& extra) {
  return R"({"Type":"container","Action":")" + action + R"(","Actor":{"ID":")" + kApiId +
         R"(","Attributes":{"name":"shop-api-1","execID":")" + kExec + "\"" + extra +
         R"(}},"timeNano":1700000000123456789})";
}

// Docker 20.10's exec events: the command follows the action's name in Action.
TEST(DockerApiTest, ParsesExecEvents) {
  auto create = ParseEvent(ExecEventLine("exec_create: /bin/sh -c echo hi", ""));
  ASSERT_TRUE(create) << create.error().message;
  EXPECT_EQ(create->kind, DockerEventKind::kExecCreate);
  EXPECT_EQ(create->container_id, kApiId);
  EXPECT_EQ(create->container_name, "shop-api-1");
  EXPECT_EQ(create->exec_id, kExec);
  EXPECT_EQ(create->exec_command, "/bin/sh -c echo hi");
  auto start = ParseEvent(ExecEventLine("exec_start: sh", ""));
  ASSERT_TRUE(start);
  EXPECT_EQ(start->kind, DockerEventKind::kExecStart);
  EXPECT_EQ(start->exec_command, "sh");
  auto die = ParseEvent(ExecEventLine("exec_die", R"(,"exitCode":"130")"));
  ASSERT_TRUE(die);
  EXPECT_EQ(die->kind, DockerEventKind::kExecDie);
  EXPECT_EQ(die->exit_code, 130);
  EXPECT_EQ(die->exec_command, "");
  // Not an exec: an action that only starts like one.
  auto other = ParseEvent(ExecEventLine("exec_dies", ""));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->kind, DockerEventKind::kOther);
}

TEST(DockerApiTest, RefusesBadExecEvents) {
  auto no_id = ParseEvent(R"({"Type":"container","Action":"exec_die","Actor":{"ID":")" + kApiId +
                          R"(","Attributes":{}}})");
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().message,
            "event: Actor.Attributes.execID: missing or not a Docker id (hex digits)");
  auto bad_code = ParseEvent(ExecEventLine("exec_die", R"(,"exitCode":"-1")"));
  ASSERT_FALSE(bad_code);
  EXPECT_EQ(bad_code.error().message, "event: Actor.Attributes.exitCode: not an exit code");
}

TEST(DockerApiTest, ParsesExecInspect) {
  const std::string body = R"({"ID":")" + kExec + R"(","Running":true,"ExitCode":null,)" +
                           R"("ProcessConfig":{"tty":true,"entrypoint":"sh","arguments":["-l"],)" +
                           R"("privileged":true,"user":"1000"},"OpenStdin":true,"ContainerID":")" +
                           kApiId + R"(","Pid":4242})";
  auto x = ParseExecInspect(body);
  ASSERT_TRUE(x) << x.error().message;
  EXPECT_EQ(x->id, kExec);
  EXPECT_EQ(x->container_id, kApiId);
  EXPECT_EQ(x->command, (std::vector<std::string>{"sh", "-l"}));
  EXPECT_TRUE(x->tty);
  EXPECT_TRUE(x->privileged);
  EXPECT_EQ(x->user, "1000");
  EXPECT_TRUE(x->running);
  auto bad = ParseExecInspect(Edit(body, R"("tty":true)", R"("tty":"yes")"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "exec inspect: ProcessConfig.tty: expected true or false");
  auto no_args = ParseExecInspect(Edit(body, R"("arguments":["-l"])", R"("arguments":[1])"));
  ASSERT_FALSE(no_args);
  EXPECT_EQ(no_args.error().message,
            "exec inspect: ProcessConfig.arguments: expected an array of strings");
}

TEST(DockerApiTest, ReadsTheHealthcheckFromTheContainerInspect) {
  const std::string body = Edit(
      Fixture("container_inspect.json"), R"("Image": "bhbox:1",)",
      R"("Image": "bhbox:1", "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1000000000},)");
  auto c = ParseContainerInspect(body);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->healthcheck, (std::vector<std::string>{"CMD-SHELL", "true"}));
  EXPECT_EQ(HealthcheckCommand(*c), "/bin/sh -c true");
  auto bad = ParseContainerInspect(Edit(Fixture("container_inspect.json"), R"("Image": "bhbox:1",)",
                                        R"("Image": "bhbox:1", "Healthcheck": {"Test": "true"},)"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "container inspect: Config.Healthcheck.Test: expected an array");
}

TEST(DockerApiTest, HealthcheckCommandIsWhatItsExecShows) {
  DockerContainer c;
  EXPECT_EQ(HealthcheckCommand(c), "");
  c.healthcheck = {"CMD-SHELL", "wget -q -O- http://127.0.0.1/"};
  EXPECT_EQ(HealthcheckCommand(c), "/bin/sh -c wget -q -O- http://127.0.0.1/");
  c.shell = {"/bin/ash", "-c"};
  EXPECT_EQ(HealthcheckCommand(c), "/bin/ash -c wget -q -O- http://127.0.0.1/");
  c.healthcheck = {"CMD", "/check", "--fast"};
  EXPECT_EQ(HealthcheckCommand(c), "/check --fast");
  c.healthcheck = {"NONE"};
  EXPECT_EQ(HealthcheckCommand(c), "");
}

}  // namespace
}  // namespace bulkhead::inventory
