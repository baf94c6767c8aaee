// The cluster identity benchmark (bench/README.md, "Cluster identity"; bench/identity_bench.sh
// runs it in a network namespace of its own). A generated cluster (5,000 nodes, 150,000 pods
// in a few hundred Deployments) goes through the agent's own path: the API's JSON (list pages
// and watch lines in the core/v1 shape) parsed by inventory::ParseKubeList / ParseKubeEvent,
// applied to daemon::ClusterIdentity, and, for the kernel, planned by
// enforcer::MembershipTracker::PlanWorkloads and sent by enforcer::ApplyElementDelta, as
// EnforcementLoop::OnWorkloads does. Measured:
//   memory   the identity table's bytes per pod (malloc's own count, mallinfo2) and RSS; the
//            enforcement state (tracker + inventory) per workload;
//   event    one watch line (ADDED of a new pod on another node, then its DELETED) to the
//            kernel's sets: median and p99, against a bare ApplyElementDelta of one element,
//            and the same change planned from the whole inventory (PlanChange);
//   relist   300 pages of 500 pods parsed and applied as a relist: unchanged (nothing may
//            reach the kernel; the kernel is verified to hold every element), and with 1% of
//            the pods changed (exactly their elements, checked against a full compile).
// Usage: identity_bench [--nodes N] [--pods P] [--deployments D] [--events E] [--page S]
//        [--single-stack]. Root, in a network namespace that is not the machine's own.
#include <malloc.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "daemon/cluster_identity.h"
#include "enforcer/compiler.h"
#include "enforcer/element_delta.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/membership_update.h"
#include "enforcer/ruleset_verify.h"
#include "inventory/kube_api.h"
#include "policy/grouping.h"

namespace {

using namespace bulkhead;
using Clock = std::chrono::steady_clock;
using inventory::KubeResource;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto at = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(at, v.size() - 1)];
}

std::size_t HeapBytes() {
  return mallinfo2().uordblks;  // bytes in use, as malloc counts them (chunk overhead included)
}

std::size_t RssBytes() {
  malloc_trim(0);  // hand freed pages back first: RSS then shows what is held
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoul(line.substr(6)) * 1024;
    }
  }
  return 0;
}

struct Shape {
  std::size_t nodes = 5000;
  std::size_t pods = 150000;
  std::size_t deployments = 300;
  std::size_t namespaces = 4;
  std::size_t apps = 5;  // groups: namespaces x apps (each Deployment has one app)
  std::size_t events = 200;
  std::size_t page = 500;
  bool dual_stack = true;
};

constexpr std::array<const char*, 5> kApps = {"api", "web", "cart", "search", "auth"};

std::uint64_t Mix(std::uint64_t x) {  // splitmix64: stable pseudo-random text from an index
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

// Five characters of kubelet's alphabet, one-to-one with n below 27^5 (names never collide).
std::string PodSuffix(std::size_t n) {
  constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  constexpr std::size_t kSpace = 27UL * 27 * 27 * 27 * 27;
  std::size_t x = (n * 4294967291UL) % kSpace;  // a multiplier prime to 27: a permutation
  std::string out;
  for (int i = 0; i < 5; ++i) {
    out += kAlphabet[x % 27];
    x /= 27;
  }
  return out;
}

std::string NodeName(std::size_t n) { return fmt::format("node-{:05}", n); }
std::string NamespaceName(std::size_t ns) { return fmt::format("team-{}", ns); }

// One pod as the generator makes it: Deployment d's replica, on node n, in slot s of the node's
// pod range (10.64.0.0/11 cut into a /24 per node, and fd00:10:244:<node>::/64).
struct PodSpec {
  std::size_t index = 0;
  std::size_t deployment = 0;
  std::size_t node = 0;
  std::size_t slot = 0;
  std::uint64_t generation = 0;  // a replacement pod (a rollout) gets a new name and uid
};

struct PodText {
  std::string uid, name, ns, app, instance, hash, node, ipv4, ipv6;
};

PodText Describe(const PodSpec& p, const Shape& shape) {
  PodText t;
  const std::uint64_t r = Mix(p.index * 1000003ULL + p.generation);
  t.uid = fmt::format("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", r >> 32U, (r >> 16U) & 0xffffU,
                      r & 0xfffU, (r >> 20U) & 0xfffU, Mix(r) & 0xffffffffffffULL);
  const std::size_t group = p.deployment % (shape.namespaces * shape.apps);
  t.ns = NamespaceName(group / shape.apps);
  t.app = kApps.at(group % shape.apps);
  t.instance = fmt::format("{}-{}", t.app, p.deployment);
  t.hash = fmt::format("{:010x}", Mix(p.deployment) & 0xffffffffffULL);
  t.name = fmt::format("{}-{}-{}", t.instance, t.hash, PodSuffix(p.index + p.generation * 7000000));
  t.node = NodeName(p.node);
  t.ipv4 = fmt::format("10.{}.{}.{}", 64 + p.node / 256, p.node % 256, p.slot + 2);
  t.ipv6 = fmt::format("fd00:10:244:{:x}::{:x}", p.node, p.slot + 2);
  return t;
}

// The pod object as the API serves it (about 2.6 kB: metadata with owner, one container,
// four conditions, a container status; a real one with managedFields is larger still).
std::string PodJson(const PodSpec& p, const Shape& shape) {
  const PodText t = Describe(p, shape);
  const std::string ips = shape.dual_stack
                              ? fmt::format(R"([{{"ip":"{}"}},{{"ip":"{}"}}])", t.ipv4, t.ipv6)
                              : fmt::format(R"([{{"ip":"{}"}}])", t.ipv4);
  const std::string when = "2026-12-01T10:00:00Z";
  return fmt::format(
      R"({{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"{name}","generateName":"{inst}-{hash}-","namespace":"{ns}","uid":"{uid}","resourceVersion":"{rv}","creationTimestamp":"{when}",)"
      R"("labels":{{"app":"{app}","app.kubernetes.io/instance":"{inst}","pod-template-hash":"{hash}"}},"annotations":{{"kubectl.kubernetes.io/restartedAt":"{when}"}},)"
      R"("ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"{inst}-{hash}","uid":"{owner}","controller":true,"blockOwnerDeletion":true}}]}},)"
      R"("spec":{{"volumes":[{{"name":"kube-api-access-{hash5}","projected":{{"sources":[{{"serviceAccountToken":{{"expirationSeconds":3607,"path":"token"}}}}],"defaultMode":420}}}}],)"
      R"("containers":[{{"name":"{app}","image":"registry.example/{app}:1.4.2","ports":[{{"containerPort":8080,"protocol":"TCP"}}],"resources":{{"limits":{{"cpu":"500m","memory":"256Mi"}},"requests":{{"cpu":"100m","memory":"128Mi"}}}},)"
      R"("volumeMounts":[{{"name":"kube-api-access-{hash5}","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}}],"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"}}],)"
      R"("restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","nodeName":"{node}","securityContext":{{}},"schedulerName":"default-scheduler",)"
      R"("tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}},{{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}],"priority":0,"enableServiceLinks":true}},)"
      R"("status":{{"phase":"Running","conditions":[{{"type":"Initialized","status":"True","lastTransitionTime":"{when}"}},{{"type":"Ready","status":"True","lastTransitionTime":"{when}"}},{{"type":"ContainersReady","status":"True","lastTransitionTime":"{when}"}},{{"type":"PodScheduled","status":"True","lastTransitionTime":"{when}"}}],)"
      R"("hostIP":"192.168.{n1}.{n2}","podIP":"{ip4}","podIPs":{ips},"startTime":"{when}","containerStatuses":[{{"name":"{app}","state":{{"running":{{"startedAt":"{when}"}}}},"lastState":{{}},"ready":true,"restartCount":0,)"
      R"("image":"registry.example/{app}:1.4.2","imageID":"registry.example/{app}@sha256:{sha}","containerID":"containerd://{sha}","started":true}}],"qosClass":"Burstable"}}}})",
      fmt::arg("name", t.name), fmt::arg("inst", t.instance), fmt::arg("hash", t.hash),
      fmt::arg("ns", t.ns), fmt::arg("uid", t.uid), fmt::arg("rv", 1000 + p.index),
      fmt::arg("when", when), fmt::arg("app", t.app), fmt::arg("owner", t.hash + t.uid.substr(10)),
      fmt::arg("hash5", t.hash.substr(0, 5)), fmt::arg("node", t.node),
      fmt::arg("n1", p.node / 256), fmt::arg("n2", p.node % 256), fmt::arg("ip4", t.ipv4),
      fmt::arg("ips", ips),
      fmt::arg("sha", fmt::format("{:016x}{:016x}{:016x}{:016x}", Mix(p.index), Mix(p.index + 1),
                                  Mix(p.index + 2), Mix(p.index + 3))));
}

std::string NodeJson(std::size_t n) {
  return fmt::format(
      R"({{"kind":"Node","apiVersion":"v1","metadata":{{"name":"{0}","uid":"{1:016x}","resourceVersion":"{2}","labels":{{"kubernetes.io/hostname":"{0}","kubernetes.io/os":"linux"}}}},)"
      R"("spec":{{"podCIDR":"10.{3}.{4}.0/24"}},"status":{{"addresses":[{{"type":"InternalIP","address":"192.168.{5}.{6}"}},{{"type":"Hostname","address":"{0}"}}]}}}})",
      NodeName(n), Mix(n), 500 + n, 64 + n / 256, n % 256, n / 256, n % 256);
}

// A list page as GET /api/v1/<resource>?limit=...&continue=... answers it.
std::string ListPage(std::string_view kind, const std::vector<std::string>& items, bool last,
                     std::size_t page) {
  std::string out = fmt::format(
      R"({{"kind":"{}","apiVersion":"v1","metadata":{{"resourceVersion":"90000000")", kind);
  if (!last) {
    out += fmt::format(
        R"(,"continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTAwMDAwMDAsInN0YXJ0IjoiI{}")", page);
  }
  out += R"(},"items":[)";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "" : ",";
    out += items[i];
  }
  out += "]}";
  return out;
}

// The cluster: pod i is Deployment i % D's replica on node i % N. Node 0 is the bench's own
// node: its pods come from the runtime (with interfaces), the API's copy of them is not a
// remote workload.
struct Cluster {
  Shape shape;
  std::vector<PodSpec> pods;
  std::string own_node;
};

Cluster MakeCluster(const Shape& shape) {
  Cluster c;
  c.shape = shape;
  c.own_node = NodeName(0);
  c.pods.reserve(shape.pods);
  for (std::size_t i = 0; i < shape.pods; ++i) {
    c.pods.push_back({i, i % shape.deployments, i % shape.nodes, i / shape.nodes, 0});
  }
  return c;
}

policy::Policy MakePolicy(const Shape& shape) {
  policy::Policy p;
  p.mode = policy::Mode::kEnforce;
  p.group_by = policy::DefaultGroupBy();
  const std::size_t groups = shape.namespaces * shape.apps;
  for (std::size_t g = 0; g < groups; ++g) {
    p.groups.push_back(
        {fmt::format("{}/{}", NamespaceName(g / shape.apps), kApps.at(g % shape.apps)), {}, {}});
  }
  p.groups.push_back({"nodes", {}, {}});
  for (std::size_t g = 0; g < groups; ++g) {
    const auto& from = p.groups[g].name;
    p.allow.push_back(
        {from, p.groups[(g + 1) % groups].name, policy::Protocol::kTcp, {8080, 8080}});
    p.allow.push_back(
        {from, p.groups[(g + 7) % groups].name, policy::Protocol::kTcp, {9090, 9090}});
    p.allow.push_back({"nodes", from, policy::Protocol::kTcp, {8080, 8080}});  // kubelet probes
  }
  p.failsafe.push_back({"any", "host", policy::Protocol::kTcp, {22, 22}});
  return p;
}

// This node's own pods as the runtime (CRI) gives them: the same name and labels, and a veth.
policy::Inventory LocalInventory(const Cluster& c) {
  policy::Inventory inv;
  inv.host.name = c.own_node;
  inv.host.addresses = {"192.168.0.0"};
  for (const auto& p : c.pods) {
    if (p.node != 0) {
      continue;
    }
    const PodText t = Describe(p, c.shape);
    policy::Workload w;
    w.name = t.ns + "/" + t.name;
    w.id = t.uid;
    w.labels = {{"app", t.app},
                {"app.kubernetes.io/instance", t.instance},
                {"pod-template-hash", t.hash},
                {std::string(policy::kPodNamespaceLabel), t.ns},
                {std::string(policy::kPodNameLabel), t.name},
                {std::string(policy::kPodUidLabel), t.uid}};
    w.addresses = {t.ipv4};
    if (c.shape.dual_stack) {
      w.addresses.push_back(t.ipv6);
    }
    w.interface = fmt::format("veth{:08x}", Mix(p.index) & 0xffffffffULL);
    w.node = c.own_node;
    inv.workloads.push_back(std::move(w));
  }
  return inv;
}

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "identity_bench: " << why << "\n";
  std::exit(1);
}

// What parsing the same pages costs below ParseKubeList: Boost.JSON's parse alone, with the
// default allocator (what kube_api.cc does) and with a monotonic arena per page.
struct JsonBaseline {
  double default_ms = 0;
  double arena_ms = 0;
  std::size_t bytes = 0;
};

void TimeJsonAlone(const std::string& body, JsonBaseline& out) {
  const auto t0 = Clock::now();
  boost::system::error_code ec;
  {
    const boost::json::value v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) {
      Die("baseline parse: " + ec.message());
    }
  }
  const auto t1 = Clock::now();
  {
    boost::json::monotonic_resource arena;
    const boost::json::value v = boost::json::parse(body, ec, &arena);
    if (ec || !v.is_object()) {
      Die("baseline parse: " + ec.message());
    }
  }
  const auto t2 = Clock::now();
  out.default_ms += Ms(t0, t1);
  out.arena_ms += Ms(t1, t2);
  out.bytes += body.size();
}

// Parses pages [first, last) of the pod list into `batch` (the source's List loop); returns
// the time spent parsing (generating the text is not counted).
double ParsePodPages(const std::vector<PodSpec>& pods, const Shape& shape, std::size_t first,
                     std::size_t last, inventory::KubeBatch& batch,
                     JsonBaseline* baseline = nullptr) {
  double parse_ms = 0;
  const std::size_t pages = (pods.size() + shape.page - 1) / shape.page;
  std::vector<std::string> items;
  for (std::size_t page = first; page < last; ++page) {
    items.clear();
    for (std::size_t i = page * shape.page; i < std::min(pods.size(), (page + 1) * shape.page);
         ++i) {
      items.push_back(PodJson(pods[i], shape));
    }
    const std::string body = ListPage("PodList", items, page + 1 == pages, page);
    if (baseline != nullptr) {
      TimeJsonAlone(body, *baseline);
    }
    const auto t0 = Clock::now();
    auto parsed = inventory::ParseKubeList(KubeResource::kPods, body);
    if (!parsed || !parsed->skipped.empty()) {
      Die(parsed ? parsed->skipped.front() : parsed.error().message);
    }
    std::move(parsed->pods.begin(), parsed->pods.end(), std::back_inserter(batch.pods));
    parse_ms += Ms(t0, Clock::now());
  }
  return parse_ms;
}

std::size_t Pages(const Shape& shape) { return (shape.pods + shape.page - 1) / shape.page; }

void ApplyNodesAndNamespaces(daemon::ClusterIdentity& identity, const Shape& shape) {
  inventory::KubeBatch nodes;
  nodes.resource = KubeResource::kNodes;
  nodes.relist = true;
  const std::size_t pages = (shape.nodes + shape.page - 1) / shape.page;
  for (std::size_t page = 0; page < pages; ++page) {
    std::vector<std::string> items;
    for (std::size_t n = page * shape.page; n < std::min(shape.nodes, (page + 1) * shape.page);
         ++n) {
      items.push_back(NodeJson(n));
    }
    auto parsed = inventory::ParseKubeList(KubeResource::kNodes,
                                           ListPage("NodeList", items, page + 1 == pages, page));
    if (!parsed) {
      Die(parsed.error().message);
    }
    std::move(parsed->nodes.begin(), parsed->nodes.end(), std::back_inserter(nodes.nodes));
  }
  (void)identity.Apply(nodes);
  std::vector<std::string> items;
  for (std::size_t ns = 0; ns < shape.namespaces; ++ns) {
    items.push_back(fmt::format(
        R"({{"kind":"Namespace","metadata":{{"name":"{}","labels":{{"kubernetes.io/metadata.name":"{}"}}}}}})",
        NamespaceName(ns), NamespaceName(ns)));
  }
  auto parsed = inventory::ParseKubeList(KubeResource::kNamespaces,
                                         ListPage("NamespaceList", items, true, 0));
  if (!parsed) {
    Die(parsed.error().message);
  }
  inventory::KubeBatch namespaces;
  namespaces.resource = KubeResource::kNamespaces;
  namespaces.relist = true;
  namespaces.namespaces = std::move(parsed->namespaces);
  (void)identity.Apply(namespaces);
}

// --- memory ---------------------------------------------------------------------------------

struct Memory {
  double bytes_per_pod = 0;     // (heap after all pods - heap before) / pods
  double marginal_per_pod = 0;  // (heap after all - heap after half) / (pods - half)
  std::size_t base_bytes = 0;   // the table with nodes and namespaces, before any pod
  std::size_t rss_filled = 0;
  std::size_t label_sets = 0;
};

// Fills the table through the API path: the first half of the pod pages, then the rest.
Memory FillIdentity(daemon::ClusterIdentity& identity, const Cluster& c) {
  Memory m;
  const std::size_t h0 = HeapBytes();
  ApplyNodesAndNamespaces(identity, c.shape);
  const std::size_t h_base = HeapBytes();
  m.base_bytes = h_base - h0;
  const std::size_t pages = Pages(c.shape);
  std::size_t h_half = 0;
  std::size_t half_pods = 0;
  for (int part = 0; part < 2; ++part) {
    inventory::KubeBatch batch;
    batch.resource = KubeResource::kPods;
    (void)ParsePodPages(c.pods, c.shape, part == 0 ? 0 : pages / 2, part == 0 ? pages / 2 : pages,
                        batch);
    (void)identity.Apply(batch);
    if (part == 0) {
      batch = {};
      h_half = HeapBytes();
      half_pods = identity.pods();
    }
  }
  const std::size_t h_full = HeapBytes();
  m.bytes_per_pod = static_cast<double>(h_full - h_base) / static_cast<double>(identity.pods());
  m.marginal_per_pod =
      static_cast<double>(h_full - h_half) / static_cast<double>(identity.pods() - half_pods);
  m.rss_filled = RssBytes();
  m.label_sets = identity.label_sets();
  return m;
}

// --- the kernel -------------------------------------------------------------------------------

struct Kernel {
  std::unique_ptr<enforcer::NetlinkTransport> transport;
  std::optional<enforcer::MembershipTracker> tracker;
  policy::Inventory local;  // this node's own workloads (the runtime's)
  policy::Inventory held;   // the agent's copy of the combined inventory (EnforcementLoop)
  policy::Policy policy;
  std::size_t workloads = 0;
  std::size_t elements = 0;
  double compile_ms = 0;
  double apply_ms = 0;
  double state_bytes_per_workload = 0;
};

std::size_t CountElements(const enforcer::Ruleset& r) {
  std::size_t n = 0;
  for (const auto& t : r.tables) {
    for (const auto& s : t.sets) {
      n += s.elements.size();
    }
  }
  return n;
}

void Verify(Kernel& k, const enforcer::Ruleset& expected, std::string_view when) {
  auto diff = enforcer::VerifyRuleset(*k.transport, expected);
  if (!diff) {
    Die(fmt::format("{}: reading the kernel: {}", when, diff.error()));
  }
  if (!diff->empty()) {
    Die(fmt::format("{}: the kernel differs: {}", when, diff->front().ToString()));
  }
}

policy::Inventory Combined(const Kernel& k, const daemon::ClusterIdentity& identity) {
  policy::Inventory inv = k.local;  // IdentityFeed::Combine
  identity.AppendWorkloads(inv.workloads);
  return inv;
}

void LoadKernel(Kernel& k, const Cluster& c, const daemon::ClusterIdentity& identity) {
  auto transport = enforcer::OpenMnlTransport();
  if (!transport) {
    Die(transport.error());
  }
  k.transport = std::move(*transport);
  k.policy = MakePolicy(c.shape);
  k.local = LocalInventory(c);
  const std::size_t h0 = HeapBytes();
  policy::Inventory inventory = Combined(k, identity);
  k.workloads = inventory.workloads.size();
  const auto t0 = Clock::now();
  auto compiled = enforcer::CompileRuleset(k.policy, inventory, {});
  const auto t1 = Clock::now();
  if (!compiled) {
    Die("compile: " + compiled.error().front());
  }
  auto applied = enforcer::ApplyRuleset(*k.transport, compiled->ruleset);
  const auto t2 = Clock::now();
  if (!applied) {
    Die("apply: " + applied.error().summary);
  }
  k.compile_ms = Ms(t0, t1);
  k.apply_ms = Ms(t1, t2);
  k.elements = CountElements(compiled->ruleset);
  // The agent keeps the combined inventory (EnforcementLoop::inventory_) and the tracker.
  k.held = inventory;
  k.tracker.emplace(k.policy, std::move(inventory), enforcer::CompileOptions{},
                    std::move(*compiled));
  k.state_bytes_per_workload =
      static_cast<double>(HeapBytes() - h0) / static_cast<double>(k.workloads);
}

// --- one event ---------------------------------------------------------------------------------

struct EventTimes {
  std::vector<double> to_kernel, total, parse_apply, plan, kernel, commit;
  std::vector<double> bare;          // ApplyElementDelta of one element
  std::vector<double> full_path;     // the same event planned by PlanChange on the inventory
  std::vector<double> full_combine;  // of which: building the whole inventory
  std::size_t elements_per_event = 0;
};

std::string EventLine(const char* type, const PodSpec& p, const Shape& shape) {
  return fmt::format(R"({{"type":"{}","object":{}}})", type, PodJson(p, shape));
}

inventory::KubeBatch EventBatch(std::string_view line) {
  auto event = inventory::ParseKubeEvent(KubeResource::kPods, line);
  if (!event) {
    Die(event.error().message);
  }
  inventory::KubeBatch batch;  // KubeSource's ApplyEvent
  batch.resource = KubeResource::kPods;
  if (event->type == inventory::KubeEventType::kDeleted) {
    batch.deleted.push_back(event->pod.uid);
  } else {
    batch.pods.push_back(std::move(event->pod));
  }
  return batch;
}

// A new pod (not in the cluster) on another node, in a slot no generated pod uses.
PodSpec EventPod(std::size_t e, const Cluster& c) {
  const std::size_t node = 1 + e % (c.shape.nodes - 1);
  return {c.shape.pods + e, e % c.shape.deployments, node, 200 + (e / (c.shape.nodes - 1)) % 50, 0};
}

enforcer::ElementDelta OneElement(const enforcer::ElementDelta& added, bool remove) {
  enforcer::ElementDelta one;
  one.sets.push_back(added.sets.front());
  auto& set = one.sets.front();
  set.set.elements.resize(1);
  set.removed.clear();
  if (remove) {
    set.removed = set.set.elements;
    set.set.elements.clear();
  }
  return one;
}

void RunEvents(Kernel& k, daemon::ClusterIdentity& identity, const Cluster& c, EventTimes& out) {
  std::optional<enforcer::ElementDelta> sample;
  for (std::size_t e = 0; e < c.shape.events; ++e) {
    const PodSpec pod = EventPod(e, c);
    for (const char* type : {"ADDED", "DELETED"}) {
      const std::string line = EventLine(type, pod, c.shape);
      const auto t0 = Clock::now();
      const daemon::IdentityChange change = identity.Apply(EventBatch(line));
      const auto t1 = Clock::now();
      auto plan = k.tracker->PlanWorkloads(change.came, change.gone);
      const auto t2 = Clock::now();
      if (!plan || plan->delta.Empty()) {
        Die(fmt::format("event {} {}: {}", e, type, plan ? "empty plan" : "needs a recompile"));
      }
      if (auto sent = enforcer::ApplyElementDelta(*k.transport, plan->delta); !sent) {
        Die("event: " + sent.error().summary);
      }
      const auto t3 = Clock::now();
      k.tracker->Commit(*plan);
      const auto t4 = Clock::now();
      out.parse_apply.push_back(Ms(t0, t1));
      out.plan.push_back(Ms(t1, t2));
      out.kernel.push_back(Ms(t2, t3));
      out.commit.push_back(Ms(t3, t4));
      out.to_kernel.push_back(Ms(t0, t3));
      out.total.push_back(Ms(t0, t4));
      out.elements_per_event = plan->delta.Added() + plan->delta.Removed();
      if (!sample) {
        sample = plan->delta;
      }
    }
  }
  const enforcer::ElementDelta add = OneElement(*sample, false);
  const enforcer::ElementDelta remove = OneElement(*sample, true);
  for (std::size_t e = 0; e < c.shape.events; ++e) {
    for (const auto* delta : {&add, &remove}) {
      const auto t0 = Clock::now();
      if (auto sent = enforcer::ApplyElementDelta(*k.transport, *delta); !sent) {
        Die("bare: " + sent.error().summary);
      }
      out.bare.push_back(Ms(t0, Clock::now()));
    }
  }
}

// The same events, planned the way a whole-inventory consumer would: the combined inventory
// rebuilt (IdentityFeed::Combine) and compared with the tracked one (PlanChange).
void RunFullPathEvents(Kernel& k, daemon::ClusterIdentity& identity, const Cluster& c,
                       std::size_t events, EventTimes& out) {
  for (std::size_t e = 0; e < events; ++e) {
    const PodSpec pod = EventPod(c.shape.events + e, c);
    for (const char* type : {"ADDED", "DELETED"}) {
      const std::string line = EventLine(type, pod, c.shape);
      const auto t0 = Clock::now();
      (void)identity.Apply(EventBatch(line));
      const policy::Inventory next = Combined(k, identity);
      const auto t1 = Clock::now();
      auto plan = k.tracker->PlanChange(next);
      if (!plan || plan->delta.Empty()) {
        Die(fmt::format("full path {} {}: {}", e, type, plan ? "empty plan" : "no plan"));
      }
      if (auto sent = enforcer::ApplyElementDelta(*k.transport, plan->delta); !sent) {
        Die("full path: " + sent.error().summary);
      }
      const auto t2 = Clock::now();
      k.tracker->Commit(*plan);
      out.full_combine.push_back(Ms(t0, t1));
      out.full_path.push_back(Ms(t0, t2));
    }
  }
}

// --- relist ------------------------------------------------------------------------------------

struct Relist {
  double parse_ms = 0;
  double apply_ms = 0;  // ClusterIdentity::Apply of the whole list
  double plan_ms = 0;
  double kernel_ms = 0;  // ApplyElementDelta (nothing, when nothing changed)
  double commit_ms = 0;  // MembershipTracker::Commit
  double total_ms = 0;
  std::size_t came = 0, gone = 0, added = 0, removed = 0;
};

Relist RunRelist(Kernel& k, daemon::ClusterIdentity& identity, const std::vector<PodSpec>& pods,
                 const Shape& shape, JsonBaseline* baseline = nullptr) {
  Relist r;
  inventory::KubeBatch batch;
  batch.resource = KubeResource::kPods;
  batch.relist = true;
  r.parse_ms =
      ParsePodPages(pods, shape, 0, (pods.size() + shape.page - 1) / shape.page, batch, baseline);
  const auto t0 = Clock::now();
  const daemon::IdentityChange change = identity.Apply(batch);
  const auto t1 = Clock::now();
  auto plan = k.tracker->PlanWorkloads(change.came, change.gone);
  const auto t2 = Clock::now();
  if (!plan) {
    Die("relist: the change needs a recompile");
  }
  if (!plan->delta.Empty()) {
    if (auto sent = enforcer::ApplyElementDelta(*k.transport, plan->delta); !sent) {
      Die("relist: " + sent.error().summary);
    }
  }
  const auto t3 = Clock::now();
  k.tracker->Commit(*plan);
  r.commit_ms = Ms(t3, Clock::now());
  r.apply_ms = Ms(t0, t1);
  r.plan_ms = Ms(t1, t2);
  r.kernel_ms = Ms(t2, t3);
  r.total_ms = r.parse_ms + Ms(t0, Clock::now());
  r.came = change.came.size();
  r.gone = change.gone.size();
  r.added = plan->delta.Added();
  r.removed = plan->delta.Removed();
  return r;
}

// 1% of the pods changed while the watch was away: a third gone, a third with a new address
// (a restarted sandbox), a third replaced by a new pod of their Deployment (a rollout).
std::vector<PodSpec> ChangedPods(const Cluster& c, std::set<std::string>& changed_names) {
  std::vector<PodSpec> out;
  for (const auto& p : c.pods) {
    if (p.index % 100 != 1) {
      out.push_back(p);
      continue;
    }
    const PodText old = Describe(p, c.shape);
    changed_names.insert(old.ns + "/" + old.name);
    PodSpec next = p;
    switch ((p.index / 100) % 3) {
      case 0:
        continue;  // gone
      case 1:
        next.slot += 100;
        break;
      default:
        next.generation = 1;
        next.slot += 100;
        changed_names.insert(old.ns + "/" + Describe(next, c.shape).name);
        break;
    }
    out.push_back(next);
  }
  return out;
}

Shape ParseArgs(int argc, char** argv) {
  Shape s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::size_t {
      if (i + 1 >= argc) {
        Die(arg + ": needs a value");
      }
      return std::stoul(argv[++i]);
    };
    if (arg == "--nodes") {
      s.nodes = value();
    } else if (arg == "--pods") {
      s.pods = value();
    } else if (arg == "--deployments") {
      s.deployments = value();
    } else if (arg == "--events") {
      s.events = value();
    } else if (arg == "--page") {
      s.page = value();
    } else if (arg == "--single-stack") {
      s.dual_stack = false;
    } else {
      Die("unknown argument " + arg);
    }
  }
  if (s.nodes < 2 || s.pods < s.nodes || s.deployments < s.namespaces * s.apps || s.page == 0) {
    Die("need nodes >= 2, pods >= nodes, deployments >= 20, page >= 1");
  }
  return s;
}

// A namespace the bench made has loopback alone; the machine's own has its real interfaces.
// (/proc/1/ns/net cannot be read in every container, so compare what the namespace holds.)
bool InOwnNetns() {
  struct if_nameindex* names = if_nameindex();
  if (names == nullptr) {
    return false;
  }
  bool only_lo = true;
  for (const struct if_nameindex* it = names; it->if_index != 0; ++it) {
    only_lo = only_lo && std::string_view(it->if_name) == "lo";
  }
  if_freenameindex(names);
  return only_lo;
}

}  // namespace

int main(int argc, char** argv) {
  const Shape shape = ParseArgs(argc, argv);
  if (!InOwnNetns()) {
    Die("run me in a network namespace of my own (bench/identity_bench.sh does)");
  }
  const Cluster cluster = MakeCluster(shape);
  daemon::ClusterIdentity identity(cluster.own_node);
  const Memory mem = FillIdentity(identity, cluster);
  std::cout << fmt::format(
      "shape nodes {} pods {} deployments {} groups {} dual_stack {} remote_workloads {} "
      "label_sets {}\n",
      shape.nodes, shape.pods, shape.deployments, shape.namespaces * shape.apps,
      shape.dual_stack ? 1 : 0, identity.remote_workloads(), mem.label_sets);
  std::cout << fmt::format(
      "memory identity_bytes_per_pod {:.0f} marginal_bytes_per_pod {:.0f} base_bytes {} "
      "rss_after_fill_mb {:.0f}\n",
      mem.bytes_per_pod, mem.marginal_per_pod, mem.base_bytes,
      static_cast<double>(mem.rss_filled) / 1e6);

  Kernel k;
  LoadKernel(k, cluster, identity);
  std::cout << fmt::format(
      "kernel workloads {} set_elements {} compile_ms {:.0f} apply_ms {:.0f} "
      "enforcement_state_bytes_per_workload {:.0f} rss_with_tracker_mb {:.0f}\n",
      k.workloads, k.elements, k.compile_ms, k.apply_ms, k.state_bytes_per_workload,
      static_cast<double>(RssBytes()) / 1e6);

  EventTimes ev;
  RunEvents(k, identity, cluster, ev);
  RunFullPathEvents(k, identity, cluster, 10, ev);
  std::cout << fmt::format(
      "event n {} elements {} median_ms {:.3f} p99_ms {:.3f} max_ms {:.3f} "
      "with_commit_median_ms {:.3f} with_commit_p99_ms {:.3f} parse_apply_ms {:.3f} "
      "plan_ms {:.3f} kernel_ms {:.3f} commit_ms {:.3f} bare_one_element_median_ms {:.3f} "
      "bare_p99_ms {:.3f} full_inventory_path_median_ms {:.1f} of_which_combine_ms {:.1f}\n",
      ev.to_kernel.size(), ev.elements_per_event, Quantile(ev.to_kernel, 0.5),
      Quantile(ev.to_kernel, 0.99), Quantile(ev.to_kernel, 1), Quantile(ev.total, 0.5),
      Quantile(ev.total, 0.99), Quantile(ev.parse_apply, 0.5), Quantile(ev.plan, 0.5),
      Quantile(ev.kernel, 0.5), Quantile(ev.commit, 0.5), Quantile(ev.bare, 0.5),
      Quantile(ev.bare, 0.99), Quantile(ev.full_path, 0.5), Quantile(ev.full_combine, 0.5));

  // Relist, nothing changed: no element may move, and the kernel still holds all of them.
  JsonBaseline json;
  const Relist same = RunRelist(k, identity, cluster.pods, shape, &json);
  if (same.came + same.gone + same.added + same.removed != 0) {
    Die(fmt::format("unchanged relist changed something: +{} -{} workloads, +{} -{} elements",
                    same.came, same.gone, same.added, same.removed));
  }
  Verify(k, k.tracker->compiled().ruleset, "after the unchanged relist");
  std::cout << fmt::format(
      "relist_same pods {} parse_ms {:.0f} apply_ms {:.0f} plan_ms {:.1f} total_ms {:.0f} "
      "elements_sent 0 kernel_verified 1 json_mb {:.0f} json_parse_alone_ms {:.0f} "
      "json_parse_arena_ms {:.0f}\n",
      shape.pods, same.parse_ms, same.apply_ms, same.plan_ms, same.total_ms,
      static_cast<double>(json.bytes) / 1e6, json.default_ms, json.arena_ms);

  // Relist with 1% changed: exactly those workloads, and the kernel equals a full compile.
  std::set<std::string> expected;
  const std::vector<PodSpec> changed = ChangedPods(cluster, expected);
  const enforcer::Ruleset before = k.tracker->compiled().ruleset;
  const Relist diff = RunRelist(k, identity, changed, shape);
  auto oracle = enforcer::CompileRuleset(k.policy, Combined(k, identity), {});
  if (!oracle) {
    Die("oracle compile: " + oracle.error().front());
  }
  auto oracle_delta = enforcer::DiffElements(before, oracle->ruleset);
  if (!oracle_delta || oracle_delta->Added() != diff.added ||
      oracle_delta->Removed() != diff.removed) {
    Die(fmt::format("1% relist sent +{} -{} elements; a full compile differs by +{} -{}",
                    diff.added, diff.removed, oracle_delta ? oracle_delta->Added() : 0,
                    oracle_delta ? oracle_delta->Removed() : 0));
  }
  if (diff.came + diff.gone != expected.size()) {
    Die(fmt::format("1% relist: {} workloads changed, expected {}", diff.came + diff.gone,
                    expected.size()));
  }
  Verify(k, oracle->ruleset, "after the 1% relist");
  std::cout << fmt::format(
      "relist_1pct pods {} changed_workloads {} parse_ms {:.0f} apply_ms {:.0f} plan_ms {:.1f} "
      "kernel_ms {:.1f} commit_ms {:.0f} total_ms {:.0f} elements_added {} elements_removed {} "
      "matches_full_compile 1 kernel_verified 1\n",
      changed.size(), diff.came + diff.gone, diff.parse_ms, diff.apply_ms, diff.plan_ms,
      diff.kernel_ms, diff.commit_ms, diff.total_ms, diff.added, diff.removed);
  std::cout << fmt::format("process rss_end_mb {:.0f} heap_in_use_mb {:.0f}\n",
                           static_cast<double>(RssBytes()) / 1e6,
                           static_cast<double>(HeapBytes()) / 1e6);
  if (auto gone = enforcer::DeleteTables(*k.transport); !gone) {
    Die("cleanup: " + gone.error().summary);
  }
  return 0;
}
