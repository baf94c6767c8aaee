// The enforcer benchmark's C++ half (bench/enforce_bench.sh drives it inside network namespaces
// of its own). It generates a synthetic Policy + Inventory of a given size in-process, so that
// every figure of one run comes from the same ruleset:
//
//   enforce_bench write DIR [size]      DIR/bulkhead.nft (the compiled ruleset as nft text, for
//                                       `nft -f`) and DIR/naive.nft (one rule per edge)
//   enforce_bench apply [size] [--repeat R]
//                                       R x (compile + ApplyRuleset) in the current namespace;
//                                       per run: compile, encode, encode+commit, total (ms)
//   enforce_bench update [size] [--repeat R]
//                                       applies the ruleset, then R x (one workload added by an
//                                       element update; the same removed); per-update ms
//   enforce_bench server PORT           accept, write one byte, close (forever)
//   enforce_bench client ADDR PORT SECONDS
//                                       sequential connect/read/close; prints connections/s
//
// size: --workloads N (10000) --groups G (1000) --edges E (100000). Two workloads are real: the
// client 10.40.0.2 (group g0000, interface vbc or --client-if, MAC --client-mac) and the server
// 10.40.0.3 (group g0001, vbs or --server-if, --server-mac); every workload has a MAC, so the
// bridge table binds every port (enforcer/README.md);
// the policy allows g0000 -> g0001 tcp/5201 (iperf3) and tcp/7000 (connection rate).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "enforcer/batch_builder.h"
#include "enforcer/compiler.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/membership_update.h"
#include "enforcer/render.h"

namespace {

using namespace bulkhead;
using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// CPU time of this process (user + system) in ms: the kernel's commit runs in the sendmsg
// call, so it is counted here too; less sensitive to other load than wall time.
double CpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

double Median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Size {
  std::size_t workloads = 10000;
  std::size_t groups = 1000;
  std::size_t edges = 100000;
  std::size_t repeat = 5;
  // The host-side interfaces of the two real ends (Docker names its veths).
  std::string client_if = "vbc";
  std::string server_if = "vbs";
  // Their MACs (Docker's own scheme derives them from the address; newer ones pick at random).
  std::string client_mac = "02:42:0a:28:00:02";
  std::string server_mac = "02:42:0a:28:00:03";
};

std::string GroupName(std::size_t g) { return fmt::format("g{:04}", g); }

constexpr std::uint16_t kIperfPort = 5201;
constexpr std::uint16_t kConnPort = 7000;

// Workload i (i >= 2) lives at 10.(100 + i/65536).x.y and fd64::i; 0 and 1 are the real ends.
policy::Workload MakeWorkload(std::size_t i, const Size& s) {
  const std::size_t groups = s.groups;
  policy::Workload w;
  if (i == 0 || i == 1) {
    w.name = i == 0 ? "bench-client" : "bench-server";
    w.labels = {{"app", GroupName(i)}};
    w.addresses = {i == 0 ? "10.40.0.2" : "10.40.0.3"};
    w.interface = i == 0 ? s.client_if : s.server_if;
    w.mac = i == 0 ? s.client_mac : s.server_mac;
    return w;
  }
  w.name = fmt::format("w{:06}", i);
  w.labels = {{"app", GroupName(i % groups)}};
  w.addresses = {fmt::format("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256),
                 fmt::format("fd64::{:x}", i)};
  w.interface = fmt::format("v{:06}", i);
  w.mac = fmt::format("02:64:00:{:02x}:{:02x}:{:02x}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
  return w;
}

struct Input {
  policy::Policy policy;
  policy::Inventory inventory;
};

// Edges: for each k, every group g talks to group g + 1 + k on port 1024 + k (tcp; every tenth
// k udp), so all (from, to, protocol, port) are distinct; the two bench edges come first.
Input Generate(const Size& s) {
  Input in;
  in.policy.mode = policy::Mode::kEnforce;
  in.policy.group_by = {"app"};
  for (std::size_t g = 0; g < s.groups; ++g) {
    in.policy.groups.push_back({GroupName(g), {}, std::nullopt});
  }
  in.policy.allow.push_back(
      {GroupName(0), GroupName(1), policy::Protocol::kTcp, {kIperfPort, kIperfPort}});
  in.policy.allow.push_back(
      {GroupName(0), GroupName(1), policy::Protocol::kTcp, {kConnPort, kConnPort}});
  for (std::size_t e = 2; e < s.edges; ++e) {
    const std::size_t from = e % s.groups;
    const std::size_t k = e / s.groups;
    const std::size_t to = (from + 1 + k % (s.groups - 1)) % s.groups;
    const auto port = static_cast<std::uint16_t>(1024 + k);
    in.policy.allow.push_back({GroupName(from),
                               GroupName(to),
                               k % 10 == 9 ? policy::Protocol::kUdp : policy::Protocol::kTcp,
                               {port, port}});
  }
  in.policy.failsafe.push_back({"any", "host", policy::Protocol::kTcp, {22, 22}});
  in.inventory.host.name = "node";
  in.inventory.host.addresses = {"10.40.0.1"};
  for (std::size_t i = 0; i < s.workloads; ++i) {
    in.inventory.workloads.push_back(MakeWorkload(i, s));
  }
  return in;
}

std::optional<enforcer::CompiledPolicy> Compile(const Input& in) {
  auto c = enforcer::CompileRuleset(in.policy, in.inventory, {});
  if (!c) {
    std::cerr << "compile: " << c.error().front() << "\n";
    return std::nullopt;
  }
  return std::move(*c);
}

// One rule per edge over named address sets, the bench's own edges LAST: the worst case for a
// new connection of the bench (it walks every rule). Established traffic is accepted first.
std::string RenderNaive(const Input& in) {
  std::string out = "table inet naive {}\ndelete table inet naive\ntable inet naive {\n";
  std::map<std::string, std::vector<std::string>> members;
  for (const auto& w : in.inventory.workloads) {
    for (const auto& a : w.addresses) {
      if (a.find(':') == std::string::npos) {
        members[w.labels.at("app")].push_back(a);
      }
    }
  }
  for (const auto& [g, addrs] : members) {
    out += fmt::format("\tset {} {{\n\t\ttype ipv4_addr\n\t\telements = {{ {} }}\n\t}}\n", g,
                       fmt::join(addrs, ", "));
  }
  out += "\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n";
  out += "\t\tct state established,related accept\n";
  auto rule = [&](const policy::AllowRule& r) {
    out += fmt::format("\t\tip saddr @{} ip daddr @{} {} dport {} accept\n", r.from, r.to,
                       r.protocol == policy::Protocol::kUdp ? "udp" : "tcp", r.ports.first);
  };
  for (std::size_t i = 2; i < in.policy.allow.size(); ++i) {
    rule(in.policy.allow[i]);
  }
  rule(in.policy.allow[0]);
  rule(in.policy.allow[1]);
  out += "\t\tip saddr @g0000 ip daddr @g0001 drop\n\t}\n}\n";
  return out;
}

int Write(const std::string& dir, const Size& s) {
  Input in = Generate(s);
  auto c = Compile(in);
  if (!c) {
    return 1;
  }
  std::ofstream(dir + "/bulkhead.nft") << enforcer::RenderNft(c->ruleset);
  std::ofstream(dir + "/naive.nft") << RenderNaive(in);
  std::size_t elements = 0;
  for (const auto& t : c->ruleset.tables) {
    for (const auto& set : t.sets) {
      elements += set.elements.size();
    }
  }
  std::cout << fmt::format("workloads {} groups {} edges {} set_elements {}\n", s.workloads,
                           s.groups, in.policy.allow.size(), elements);
  return 0;
}

int Apply(const Size& s) {
  auto t = enforcer::OpenMnlTransport();
  if (!t) {
    std::cerr << t.error() << "\n";
    return 1;
  }
  Input in = Generate(s);
  std::vector<double> compile, encode, commit, total, cpu;
  std::size_t messages = 0;
  std::size_t bytes = 0;
  for (std::size_t r = 0; r < s.repeat; ++r) {
    const double cpu0 = CpuMs();
    auto t0 = Clock::now();
    auto c = Compile(in);
    auto t1 = Clock::now();
    if (!c) {
      return 1;
    }
    auto applied = enforcer::ApplyRuleset(**t, c->ruleset);
    auto t2 = Clock::now();
    cpu.push_back(CpuMs() - cpu0);
    if (!applied) {
      std::cerr << applied.error().summary << "\n";
      return 1;
    }
    // Encoding alone, outside the timed apply, to split encode from the kernel's commit.
    auto t3 = Clock::now();
    auto batch = enforcer::BuildReplaceBatch(c->ruleset, 1);
    auto t4 = Clock::now();
    messages = applied->messages;
    bytes = applied->bytes;
    compile.push_back(Ms(t0, t1));
    encode.push_back(Ms(t3, t4));
    commit.push_back(Ms(t1, t2));
    total.push_back(Ms(t0, t2));
    std::cout << fmt::format(
        "run {} compile_ms {:.1f} encode_commit_ms {:.1f} total_ms {:.1f} cpu_ms {:.1f}\n", r,
        Ms(t0, t1), Ms(t1, t2), Ms(t0, t2), cpu.back());
  }
  std::cout << fmt::format(
      "apply messages {} bytes {} median compile_ms {:.1f} encode_ms {:.1f} "
      "encode_commit_ms {:.1f} total_ms {:.1f} cpu_ms {:.1f}\n",
      messages, bytes, Median(compile), Median(encode), Median(commit), Median(total), Median(cpu));
  return 0;
}

int Update(const Size& s) {
  auto t = enforcer::OpenMnlTransport();
  if (!t) {
    std::cerr << t.error() << "\n";
    return 1;
  }
  Input base = Generate(s);
  Input grown = base;
  // A new replica of group g0001 (the server's group) starts: addresses and interface unused.
  grown.inventory.workloads.push_back(MakeWorkload(s.workloads + 7, s));
  grown.inventory.workloads.back().labels = {{"app", GroupName(1)}};
  auto t0 = Clock::now();
  auto a = Compile(base);
  auto t1 = Clock::now();
  auto b = Compile(grown);
  if (!a || !b) {
    return 1;
  }
  if (auto applied = enforcer::ApplyRuleset(**t, a->ruleset); !applied) {
    std::cerr << applied.error().summary << "\n";
    return 1;
  }
  std::vector<double> add, remove, diff;
  std::size_t elements = 0;
  for (std::size_t r = 0; r < s.repeat; ++r) {
    for (int dir = 0; dir < 2; ++dir) {
      const auto& from = dir == 0 ? a->ruleset : b->ruleset;
      const auto& to = dir == 0 ? b->ruleset : a->ruleset;
      auto u0 = Clock::now();
      auto u = enforcer::UpdateElements(**t, from, to);
      auto u1 = Clock::now();
      if (!u || u->structure_changed) {
        std::cerr << "update failed: " << (u ? "structure changed" : u.error().summary) << "\n";
        return 1;
      }
      elements = u->added + u->removed;
      (dir == 0 ? add : remove).push_back(Ms(u0, u1));
      auto d0 = Clock::now();
      auto d = enforcer::DiffElements(from, to);
      auto d1 = Clock::now();
      if (d) {
        diff.push_back(Ms(d0, d1));
      }
    }
  }
  // The kernel batch alone: deltas computed once, applied alternately.
  auto d_add = enforcer::DiffElements(a->ruleset, b->ruleset);
  auto d_remove = enforcer::DiffElements(b->ruleset, a->ruleset);
  std::vector<double> batch_add, batch_remove;
  for (std::size_t r = 0; r < s.repeat; ++r) {
    for (int dir = 0; dir < 2; ++dir) {
      auto u0 = Clock::now();
      auto u = enforcer::ApplyElementDelta(**t, dir == 0 ? *d_add : *d_remove);
      auto u1 = Clock::now();
      if (!u) {
        std::cerr << "delta failed: " << u.error().summary << "\n";
        return 1;
      }
      (dir == 0 ? batch_add : batch_remove).push_back(Ms(u0, u1));
    }
  }
  std::cout << fmt::format(
      "update_diff elements_per_change {} runs {} median add_ms {:.2f} remove_ms {:.2f} "
      "of_which_diff_ms {:.2f} batch_only_add_ms {:.2f} batch_only_remove_ms {:.2f} "
      "max_add_ms {:.2f} max_remove_ms {:.2f} recompile_ms {:.1f}\n",
      elements, s.repeat, Median(add), Median(remove), Median(diff), Median(batch_add),
      Median(batch_remove), *std::max_element(add.begin(), add.end()),
      *std::max_element(remove.begin(), remove.end()), Ms(t0, t1));

  // enforcer::MembershipTracker: the elements of the workload that changed, sent as one batch,
  // then recorded. Latency = plan + batch (the kernel has the change); the commit (bookkeeping)
  // follows. Planned from the change itself (a container event: PlanWorkloads) and, for
  // comparison, from comparing whole inventories (PlanChange, plan only).
  enforcer::MembershipTracker tracker(base.policy, base.inventory, {}, *a);
  const policy::Workload& extra = grown.inventory.workloads.back();
  std::vector<double> t_add, t_remove, plan_ms, batch_ms, commit_ms, inventory_plan_ms, copy_ms;
  std::size_t tracked_elements = 0;
  for (std::size_t r = 0; r < s.repeat; ++r) {
    {
      // The agent keeps its own copy of each Docker snapshot's inventory before planning.
      auto c0 = Clock::now();
      policy::Inventory copy = grown.inventory;
      copy_ms.push_back(Ms(c0, Clock::now()));
      if (copy.workloads.size() != grown.inventory.workloads.size()) {
        return 1;  // never; reading the copy keeps the compiler from dropping it
      }
      auto p0 = Clock::now();
      auto p = tracker.PlanChange(grown.inventory);
      inventory_plan_ms.push_back(Ms(p0, Clock::now()));
      if (!p || p->delta.Added() == 0) {
        std::cerr << "tracker: PlanChange found no change\n";
        return 1;
      }
    }
    for (int dir = 0; dir < 2; ++dir) {
      auto u0 = Clock::now();
      auto plan =
          dir == 0 ? tracker.PlanWorkloads({extra}, {}) : tracker.PlanWorkloads({}, {extra.name});
      auto u1 = Clock::now();
      if (!plan) {
        std::cerr << "tracker: the change needs a full compile\n";
        return 1;
      }
      auto u = enforcer::ApplyElementDelta(**t, plan->delta);
      auto u2 = Clock::now();
      if (!u) {
        std::cerr << "tracker delta failed: " << u.error().summary << "\n";
        return 1;
      }
      tracker.Commit(*plan);
      auto u3 = Clock::now();
      tracked_elements = plan->delta.Added() + plan->delta.Removed();
      (dir == 0 ? t_add : t_remove).push_back(Ms(u0, u2));
      plan_ms.push_back(Ms(u0, u1));
      batch_ms.push_back(Ms(u1, u2));
      commit_ms.push_back(Ms(u2, u3));
    }
  }
  std::cout << fmt::format(
      "update elements_per_change {} runs {} median add_ms {:.2f} remove_ms {:.2f} "
      "plan_ms {:.3f} batch_ms {:.2f} commit_ms {:.2f} max_add_ms {:.2f} max_remove_ms {:.2f} "
      "plan_by_inventory_compare_ms {:.2f} inventory_copy_ms {:.2f}\n",
      tracked_elements, s.repeat, Median(t_add), Median(t_remove), Median(plan_ms),
      Median(batch_ms), Median(commit_ms), *std::max_element(t_add.begin(), t_add.end()),
      *std::max_element(t_remove.begin(), t_remove.end()), Median(inventory_plan_ms),
      Median(copy_ms));
  return 0;
}

int Server(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) {
      continue;
    }
    const char b = 'x';
    (void)!write(c, &b, 1);
    close(c);
  }
}

int Client(const std::string& host, std::uint16_t port, double seconds) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return 2;
  }
  std::size_t ok = 0;
  std::size_t failed = 0;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    // RST on close: no TIME_WAIT, so the ephemeral ports never run out.
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    char b = 0;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        read(fd, &b, 1) == 1) {
      ++ok;
    } else {
      ++failed;
    }
    close(fd);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << fmt::format("connections {} failed {} per_second {:.0f}\n", ok, failed,
                           static_cast<double>(ok) / secs);
  return failed == 0 ? 0 : 1;
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << "usage: see the comment at the top of enforce_bench.cc\n";
    return 2;
  }
  Size s;
  for (std::size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i].rfind("--", 0) != 0) {
      continue;
    }
    if (args[i] == "--client-if" || args[i] == "--server-if") {
      (args[i] == "--client-if" ? s.client_if : s.server_if) = args[i + 1];
      continue;
    }
    if (args[i] == "--client-mac" || args[i] == "--server-mac") {
      (args[i] == "--client-mac" ? s.client_mac : s.server_mac) = args[i + 1];
      continue;
    }
    const auto n = static_cast<std::size_t>(std::stoul(args[i + 1]));
    if (args[i] == "--workloads") {
      s.workloads = n;
    } else if (args[i] == "--groups") {
      s.groups = n;
    } else if (args[i] == "--edges") {
      s.edges = n;
    } else if (args[i] == "--repeat") {
      s.repeat = n;
    }
  }
  s.workloads = std::max<std::size_t>(s.workloads, 2);
  s.groups = std::max<std::size_t>(s.groups, 2);
  s.edges = std::max<std::size_t>(s.edges, 2);
  const std::string& cmd = args[0];
  if (cmd == "write" && args.size() >= 2) {
    return Write(args[1], s);
  }
  if (cmd == "apply") {
    return Apply(s);
  }
  if (cmd == "update") {
    return Update(s);
  }
  if (cmd == "server" && args.size() >= 2) {
    return Server(static_cast<std::uint16_t>(std::stoul(args[1])));
  }
  if (cmd == "client" && args.size() >= 4) {
    return Client(args[1], static_cast<std::uint16_t>(std::stoul(args[2])), std::stod(args[3]));
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) { return Main(std::vector<std::string>(argv + 1, argv + argc)); }
