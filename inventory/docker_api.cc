#include "inventory/docker_api.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include <boost/json.hpp>

namespace bulkhead::inventory {
namespace {

namespace json = boost::json;
using Error = DockerError;  // in this file, every error is about the Docker API

// Docker ids are 64 lowercase hex digits; names of containers come from users. An id goes into
// a request target, so anything else is refused rather than escaped.
bool IsDockerId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool IsIpv4(const std::string& text) {
  in_addr a{};
  return ::inet_pton(AF_INET, text.c_str(), &a) == 1;
}

bool IsIpv6(const std::string& text) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, text.c_str(), &a) == 1;
}

bool IsMac(std::string_view text) {
  if (text.size() != 17) {
    return false;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (i % 3 == 2 ? c != ':' : !hex) {
      return false;
    }
  }
  return true;
}

boost::system::result<json::value, Error> Parse(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    return DockerFail(std::string(what) + ": bad JSON: " + ec.message());
  }
  return v;
}

// An answer that must be one JSON object (inspect, events, version).
boost::system::result<json::object, Error> ParseObject(std::string_view body,
                                                       std::string_view what) {
  auto v = Parse(body, what);
  if (!v) {
    return v.error();
  }
  if (!v->is_object()) {
    return DockerFail(std::string(what) + ": expected an object");
  }
  return std::move(v->get_object());
}

// Typed field access that names the field on failure. `path` is the dotted path of `obj` in the
// answer ("NetworkSettings.Networks.bhnet"), for messages only.
class Fields {
 public:
  Fields(std::string_view what, const json::object& obj, std::string path)
      : what_(what), obj_(obj), path_(std::move(path)) {}

  std::string Name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  Error Fail(std::string_view key, std::string_view problem) const {
    return DockerFail(std::string(what_) + ": " + Name(key) + ": " + std::string(problem));
  }
  const json::value* Find(std::string_view key) const { return obj_.if_contains(key); }

  boost::system::result<std::string, Error> String(std::string_view key, bool required) const {
    const json::value* v = Find(key);
    if (v == nullptr || v->is_null()) {
      if (required) {
        return Fail(key, "missing");
      }
      return std::string();
    }
    if (!v->is_string()) {
      return Fail(key, "expected a string");
    }
    return std::string(v->get_string());
  }
  boost::system::result<std::int64_t, Error> Int(std::string_view key) const {
    const json::value* v = Find(key);
    if (v == nullptr) {
      return Fail(key, "missing");
    }
    if (v->is_int64()) {
      return v->get_int64();
    }
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    return Fail(key, "expected an integer");
  }
  boost::system::result<bool, Error> Bool(std::string_view key) const {
    const json::value* v = Find(key);
    if (v == nullptr) {
      return Fail(key, "missing");
    }
    if (!v->is_bool()) {
      return Fail(key, "expected true or false");
    }
    return v->get_bool();
  }
  // A nested object; `null` and absence give nullptr when not required (Docker writes null for
  // empty maps).
  boost::system::result<const json::object*, Error> Object(std::string_view key,
                                                           bool required) const {
    const json::value* v = Find(key);
    if (v == nullptr || v->is_null()) {
      if (required) {
        return Fail(key, "missing");
      }
      return nullptr;
    }
    if (!v->is_object()) {
      return Fail(key, "expected an object");
    }
    return &v->get_object();
  }
  // An array of strings; `null` and absence give an empty list.
  boost::system::result<std::vector<std::string>, Error> StringList(std::string_view key) const {
    const json::value* v = Find(key);
    std::vector<std::string> out;
    if (v == nullptr || v->is_null()) {
      return out;
    }
    if (!v->is_array()) {
      return Fail(key, "expected an array");
    }
    for (const json::value& item : v->get_array()) {
      if (!item.is_string()) {
        return Fail(key, "expected an array of strings");
      }
      out.emplace_back(item.get_string());
    }
    return out;
  }
  Fields Sub(const json::object& obj, std::string_view key) const {
    return Fields(what_, obj, Name(key));
  }

 private:
  std::string_view what_;
  const json::object& obj_;
  std::string path_;
};

boost::system::result<std::string, Error> Id(const Fields& f, std::string_view key) {
  auto id = f.String(key, true);
  if (!id) {
    return id.error();
  }
  if (!IsDockerId(*id)) {
    return f.Fail(key, "not a Docker id (hex digits)");
  }
  return *id;
}

boost::system::result<policy::Labels, Error> StringMap(const Fields& f, std::string_view key) {
  auto obj = f.Object(key, false);
  if (!obj) {
    return obj.error();
  }
  policy::Labels out;
  if (*obj == nullptr) {
    return out;
  }
  const Fields sub = f.Sub(**obj, key);
  for (const auto& kv : **obj) {
    if (!kv.value().is_string()) {
      return sub.Fail(kv.key(), "expected a string");
    }
    out.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
  }
  return out;
}

boost::system::result<DockerEndpoint, Error> Endpoint(const Fields& f, std::string name) {
  DockerEndpoint ep;
  ep.network_name = std::move(name);
  auto id = Id(f, "NetworkID");
  auto ipv4 = f.String("IPAddress", false);
  auto ipv6 = f.String("GlobalIPv6Address", false);
  auto gw = f.String("Gateway", false);
  auto gw6 = f.String("IPv6Gateway", false);
  auto mac = f.String("MacAddress", false);
  for (const auto* r : {&ipv4, &ipv6, &gw, &gw6, &mac}) {
    if (!*r) {
      return r->error();
    }
  }
  if (!id) {
    return id.error();
  }
  ep.network_id = *id;
  ep.ipv4 = *ipv4;
  ep.ipv6 = *ipv6;
  ep.gateway = *gw;
  ep.ipv6_gateway = *gw6;
  ep.mac = *mac;
  if (!ep.ipv4.empty() && !IsIpv4(ep.ipv4)) {
    return f.Fail("IPAddress", "not an IPv4 address");
  }
  if (!ep.gateway.empty() && !IsIpv4(ep.gateway)) {
    return f.Fail("Gateway", "not an IPv4 address");
  }
  if (!ep.ipv6.empty() && !IsIpv6(ep.ipv6)) {
    return f.Fail("GlobalIPv6Address", "not an IPv6 address");
  }
  if (!ep.ipv6_gateway.empty() && !IsIpv6(ep.ipv6_gateway)) {
    return f.Fail("IPv6Gateway", "not an IPv6 address");
  }
  if (!ep.mac.empty() && !IsMac(ep.mac)) {
    return f.Fail("MacAddress", "not a MAC address");
  }
  return ep;
}

// Config: the labels, and what tells a health check's exec from a person's.
std::optional<Error> ReadConfig(const Fields& config, DockerContainer& c) {
  auto labels = StringMap(config, "Labels");
  if (!labels) {
    return labels.error();
  }
  c.labels = std::move(*labels);
  auto shell = config.StringList("Shell");
  if (!shell) {
    return shell.error();
  }
  c.shell = std::move(*shell);
  auto health = config.Object("Healthcheck", false);
  if (!health) {
    return health.error();
  }
  if (*health != nullptr) {
    auto test = config.Sub(**health, "Healthcheck").StringList("Test");
    if (!test) {
      return test.error();
    }
    c.healthcheck = std::move(*test);
  }
  return std::nullopt;
}

// The inspect answer's "State": running, pid, start time.
boost::system::result<void, Error> ReadState(const Fields& top, DockerContainer& c) {
  auto state = top.Object("State", true);
  if (!state) {
    return state.error();
  }
  const Fields st = top.Sub(**state, "State");
  auto running = st.Bool("Running");
  if (!running) {
    return running.error();
  }
  auto pid = st.Int("Pid");
  if (!pid) {
    return pid.error();
  }
  auto started = st.String("StartedAt", false);
  if (!started) {
    return started.error();
  }
  c.running = *running;
  if (*pid < 0 || (c.running && *pid == 0)) {
    return st.Fail("Pid", "not a process id");
  }
  c.pid = *pid;
  c.started_at = std::move(*started);
  return {};
}

// One DockerEndpoint per entry of "NetworkSettings.Networks" (both optional).
boost::system::result<void, Error> ReadEndpoints(const Fields& top, DockerContainer& c) {
  auto settings = top.Object("NetworkSettings", false);
  if (!settings) {
    return settings.error();
  }
  if (*settings != nullptr) {
    const Fields ns = top.Sub(**settings, "NetworkSettings");
    auto networks = ns.Object("Networks", false);
    if (!networks) {
      return networks.error();
    }
    if (*networks != nullptr) {
      const Fields nets = ns.Sub(**networks, "Networks");
      for (const auto& kv : **networks) {
        if (!kv.value().is_object()) {
          return nets.Fail(kv.key(), "expected an object");
        }
        auto ep = Endpoint(nets.Sub(kv.value().get_object(), kv.key()), std::string(kv.key()));
        if (!ep) {
          return ep.error();
        }
        c.endpoints.push_back(std::move(*ep));
      }
    }
  }
  return {};
}

// The exec kinds by the Action's first word: "exec_create: CMD", "exec_start: CMD", "exec_die".
std::optional<DockerEventKind> ExecKind(std::string_view action, std::string& command) {
  for (const auto& [prefix, kind] :
       {std::pair{std::string_view("exec_create"), DockerEventKind::kExecCreate},
        std::pair{std::string_view("exec_start"), DockerEventKind::kExecStart},
        std::pair{std::string_view("exec_die"), DockerEventKind::kExecDie}}) {
    if (action == prefix) {
      return kind;
    }
    if (action.starts_with(prefix) && action.substr(prefix.size()).starts_with(": ")) {
      command = std::string(action.substr(prefix.size() + 2));
      return kind;
    }
  }
  return std::nullopt;
}

boost::system::result<DockerEvent, Error> ExecEvent(const Fields& actor,
                                                    const policy::Labels& attributes,
                                                    DockerEvent e) {
  auto id = Id(actor, "ID");
  if (!id) {
    return id.error();
  }
  e.container_id = std::move(*id);
  auto exec = attributes.find("execID");
  if (exec == attributes.end() || !IsDockerId(exec->second)) {
    return actor.Fail("Attributes.execID", "missing or not a Docker id (hex digits)");
  }
  e.exec_id = exec->second;
  if (auto name = attributes.find("name"); name != attributes.end()) {
    e.container_name = name->second;
  }
  if (auto code = attributes.find("exitCode"); code != attributes.end()) {
    const std::string& text = code->second;
    if (text.empty() || text.size() > 9 ||
        !std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      return actor.Fail("Attributes.exitCode", "not an exit code");
    }
    e.exit_code = std::stoll(text);
  }
  return e;
}

}  // namespace

std::string_view DockerEventKindName(DockerEventKind kind) {
  switch (kind) {
    case DockerEventKind::kContainerStart:
      return "start";
    case DockerEventKind::kContainerDie:
      return "die";
    case DockerEventKind::kNetworkConnect:
      return "connect";
    case DockerEventKind::kNetworkDisconnect:
      return "disconnect";
    case DockerEventKind::kExecCreate:
      return "exec_create";
    case DockerEventKind::kExecStart:
      return "exec_start";
    case DockerEventKind::kExecDie:
      return "exec_die";
    case DockerEventKind::kOther:
      return "other";
    case DockerEventKind::kResync:
      return "resync";
  }
  return "other";
}

boost::system::result<std::vector<std::string>, DockerError> ParseContainerIds(
    std::string_view body) {
  constexpr std::string_view kWhat = "container list";
  auto v = Parse(body, kWhat);
  if (!v) {
    return v.error();
  }
  if (!v->is_array()) {
    return DockerFail(std::string(kWhat) + ": expected an array");
  }
  std::vector<std::string> ids;
  std::size_t i = 0;
  for (const json::value& item : v->get_array()) {
    const std::string where = "[" + std::to_string(i++) + "]";
    if (!item.is_object()) {
      return DockerFail(std::string(kWhat) + ": " + where + ": expected an object");
    }
    auto id = Id(Fields(kWhat, item.get_object(), where), "Id");
    if (!id) {
      return id.error();
    }
    ids.push_back(std::move(*id));
  }
  return ids;
}

boost::system::result<DockerContainer, DockerError> ParseContainerInspect(std::string_view body) {
  constexpr std::string_view kWhat = "container inspect";
  auto obj = ParseObject(body, kWhat);
  if (!obj) {
    return obj.error();
  }
  const Fields top(kWhat, *obj, "");
  DockerContainer c;
  auto id = Id(top, "Id");
  if (!id) {
    return id.error();
  }
  c.id = std::move(*id);
  auto name = top.String("Name", true);
  if (!name) {
    return name.error();
  }
  c.name = name->starts_with('/') ? name->substr(1) : *name;
  if (c.name.empty()) {
    return top.Fail("Name", "empty");
  }

  if (auto state = ReadState(top, c); !state) {
    return state.error();
  }
  auto config = top.Object("Config", false);
  if (!config) {
    return config.error();
  }
  if (*config != nullptr) {
    if (auto error = ReadConfig(top.Sub(**config, "Config"), c)) {
      return *error;
    }
  }

  if (auto endpoints = ReadEndpoints(top, c); !endpoints) {
    return endpoints.error();
  }
  std::sort(c.endpoints.begin(), c.endpoints.end(),
            [](const auto& a, const auto& b) { return a.network_name < b.network_name; });
  return c;
}

boost::system::result<DockerNetwork, DockerError> ParseNetworkInspect(std::string_view body) {
  constexpr std::string_view kWhat = "network inspect";
  auto obj = ParseObject(body, kWhat);
  if (!obj) {
    return obj.error();
  }
  const Fields top(kWhat, *obj, "");
  DockerNetwork n;
  auto id = Id(top, "Id");
  auto name = top.String("Name", true);
  auto driver = top.String("Driver", false);
  auto options = StringMap(top, "Options");
  if (!id) {
    return id.error();
  }
  if (!name) {
    return name.error();
  }
  if (!driver) {
    return driver.error();
  }
  if (!options) {
    return options.error();
  }
  n.id = std::move(*id);
  n.name = std::move(*name);
  n.driver = std::move(*driver);
  // Docker names the bridge of a user-defined network br-<first 12 of the id> unless told
  // otherwise; the default network's bridge (docker0) always carries the option.
  if (n.driver == "bridge") {
    auto it = options->find("com.docker.network.bridge.name");
    n.bridge = it != options->end() ? it->second : "br-" + n.id.substr(0, 12);
  }
  return n;
}

boost::system::result<DockerEvent, DockerError> ParseEvent(std::string_view line) {
  constexpr std::string_view kWhat = "event";
  auto obj = ParseObject(line, kWhat);
  if (!obj) {
    return obj.error();
  }
  const Fields top(kWhat, *obj, "");
  auto type = top.String("Type", true);
  auto action = top.String("Action", true);
  auto actor = top.Object("Actor", true);
  if (!type) {
    return type.error();
  }
  if (!action) {
    return action.error();
  }
  if (!actor) {
    return actor.error();
  }
  DockerEvent e;
  if (top.Find("timeNano") != nullptr) {
    auto t = top.Int("timeNano");
    if (!t) {
      return t.error();
    }
    e.time_nano = *t;
  }
  const Fields act = top.Sub(**actor, "Actor");
  auto attributes = StringMap(act, "Attributes");
  if (!attributes) {
    return attributes.error();
  }
  const std::string attrs = act.Name("Attributes") + ".container: ";
  if (*type == "container") {
    if (auto kind = ExecKind(*action, e.exec_command)) {
      e.kind = *kind;
      return ExecEvent(act, *attributes, std::move(e));
    }
    if (*action == "start") {
      e.kind = DockerEventKind::kContainerStart;
    } else if (*action == "die") {
      e.kind = DockerEventKind::kContainerDie;
    } else {
      return e;
    }
    auto id = Id(act, "ID");
    if (!id) {
      return id.error();
    }
    e.container_id = std::move(*id);
    auto name = attributes->find("name");
    if (name != attributes->end()) {
      e.container_name = name->second;
    }
    return e;
  }
  if (*type == "network") {
    if (*action == "connect") {
      e.kind = DockerEventKind::kNetworkConnect;
    } else if (*action == "disconnect") {
      e.kind = DockerEventKind::kNetworkDisconnect;
    } else {
      return e;
    }
    auto id = Id(act, "ID");
    if (!id) {
      return id.error();
    }
    e.network_id = std::move(*id);
    auto container = attributes->find("container");
    if (container == attributes->end()) {
      return DockerFail(std::string(kWhat) + ": " + attrs + "missing");
    }
    if (!IsDockerId(container->second)) {
      return DockerFail(std::string(kWhat) + ": " + attrs + "not a Docker id (hex digits)");
    }
    e.container_id = container->second;
    return e;
  }
  return e;
}

boost::system::result<DockerExec, DockerError> ParseExecInspect(std::string_view body) {
  constexpr std::string_view kWhat = "exec inspect";
  auto obj = ParseObject(body, kWhat);
  if (!obj) {
    return obj.error();
  }
  const Fields top(kWhat, *obj, "");
  DockerExec x;
  auto id = Id(top, "ID");
  if (!id) {
    return id.error();
  }
  x.id = std::move(*id);
  auto container = Id(top, "ContainerID");
  if (!container) {
    return container.error();
  }
  x.container_id = std::move(*container);
  auto running = top.Bool("Running");
  if (!running) {
    return running.error();
  }
  x.running = *running;
  auto process = top.Object("ProcessConfig", true);
  if (!process) {
    return process.error();
  }
  const Fields pc = top.Sub(**process, "ProcessConfig");
  auto entrypoint = pc.String("entrypoint", true);
  if (!entrypoint) {
    return entrypoint.error();
  }
  auto arguments = pc.StringList("arguments");
  if (!arguments) {
    return arguments.error();
  }
  auto tty = pc.Bool("tty");
  if (!tty) {
    return tty.error();
  }
  auto user = pc.String("user", false);
  if (!user) {
    return user.error();
  }
  // Older daemons leave `privileged` out: not privileged.
  if (pc.Find("privileged") != nullptr) {
    auto privileged = pc.Bool("privileged");
    if (!privileged) {
      return privileged.error();
    }
    x.privileged = *privileged;
  }
  x.command.push_back(std::move(*entrypoint));
  x.command.insert(x.command.end(), arguments->begin(), arguments->end());
  x.tty = *tty;
  x.user = std::move(*user);
  return x;
}

std::string HealthcheckCommand(const DockerContainer& container) {
  const std::vector<std::string>& test = container.healthcheck;
  if (test.size() < 2 || (test[0] != "CMD" && test[0] != "CMD-SHELL")) {
    return {};
  }
  std::vector<std::string> words;
  if (test[0] == "CMD-SHELL") {
    // Docker's getShell: the container's Shell, else /bin/sh -c.
    words = container.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : container.shell;
  }
  words.insert(words.end(), test.begin() + 1, test.end());
  std::string out;
  for (const std::string& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

boost::system::result<std::string, DockerError> ParseApiVersion(std::string_view body) {
  constexpr std::string_view kWhat = "version";
  auto obj = ParseObject(body, kWhat);
  if (!obj) {
    return obj.error();
  }
  const Fields top(kWhat, *obj, "");
  auto version = top.String("ApiVersion", true);
  if (!version) {
    return version.error();
  }
  // It becomes part of every request target ("/v1.41/..."): digits, one dot, digits.
  const std::string& s = *version;
  const auto dot = s.find('.');
  const auto digits = [](std::string_view d) {
    return !d.empty() && d.size() <= 4 &&
           std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (dot == std::string::npos || !digits(std::string_view(s).substr(0, dot)) ||
      !digits(std::string_view(s).substr(dot + 1))) {
    return top.Fail("ApiVersion", "not a version like 1.41");
  }
  return s;
}

std::string DockerErrorMessage(std::string_view body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return {};
  }
  const json::value* m = v.get_object().if_contains("message");
  if (m == nullptr || !m->is_string()) {
    return {};
  }
  std::string out;
  for (char c : m->get_string()) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f && out.size() < 200) {
      out.push_back(c);
    }
  }
  return out;
}

std::string EventsTarget() {
  // {"type":["container","network"],"event":["start","die","connect","disconnect",
  // "exec_create","exec_start","exec_die"]}. dockerd matches exec_create and exec_start by
  // prefix (their Actions carry the command after a colon), the others exactly.
  return "/events?filters=%7B%22type%22%3A%5B%22container%22%2C%22network%22%5D%2C%22event%22"
         "%3A%5B%22start%22%2C%22die%22%2C%22connect%22%2C%22disconnect%22%2C%22exec_create%22"
         "%2C%22exec_start%22%2C%22exec_die%22%5D%7D";
}

policy::Inventory BuildInventory(std::string host_name,
                                 const std::vector<DockerContainer>& containers,
                                 const std::map<std::string, std::string>& interfaces) {
  // Who owns each address: the running container that started last. Docker's StartedAt is
  // RFC 3339 UTC with fixed-width nanoseconds, so text order is time order; the id breaks ties
  // so the choice never depends on input order.
  std::map<std::string, const DockerContainer*> owner;
  std::set<std::string> host_addresses;
  for (const DockerContainer& c : containers) {
    if (!c.running) {
      continue;
    }
    for (const DockerEndpoint& ep : c.endpoints) {
      for (const std::string* addr : {&ep.ipv4, &ep.ipv6}) {
        if (addr->empty()) {
          continue;
        }
        auto [it, inserted] = owner.emplace(*addr, &c);
        if (!inserted &&
            std::tie(it->second->started_at, it->second->id) < std::tie(c.started_at, c.id)) {
          it->second = &c;
        }
      }
      for (const std::string* gw : {&ep.gateway, &ep.ipv6_gateway}) {
        if (!gw->empty()) {
          host_addresses.insert(*gw);
        }
      }
    }
  }

  policy::Inventory inv;
  inv.host.name = std::move(host_name);
  inv.host.addresses.assign(host_addresses.begin(), host_addresses.end());
  for (const DockerContainer& c : containers) {
    if (!c.running) {
      continue;
    }
    policy::Workload w;
    w.name = c.name;
    w.id = c.id;
    w.labels = c.labels;
    for (const DockerEndpoint& ep : c.endpoints) {
      for (const std::string* addr : {&ep.ipv4, &ep.ipv6}) {
        if (!addr->empty() && owner.at(*addr) == &c) {
          w.addresses.push_back(*addr);
        }
      }
      if (w.mac.empty()) {
        w.mac = ep.mac;
      }
    }
    if (auto it = interfaces.find(c.id); it != interfaces.end()) {
      w.interface = it->second;
    }
    inv.workloads.push_back(std::move(w));
  }
  std::sort(inv.workloads.begin(), inv.workloads.end(), [](const auto& a, const auto& b) {
    return std::tie(a.name, a.id) < std::tie(b.name, b.id);
  });
  return inv;
}

}  // namespace bulkhead::inventory
