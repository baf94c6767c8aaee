// A small driver for the enforcer's kernel integration tests: reads a line-based policy spec
// (below), compiles it and applies, renders, evaluates or removes it. It exists until the
// `bulkhead enforce` command and the Policy YAML codec land; it links bulkhead::enforcer only.
//
// Spec lines (# comments):
//   mode monitor|enforce
//   host <name> <addr>...
//   workload <name> <key=value[,key=value]> <addr[,addr]> [interface [mac]]
//   group <name> [monitor|enforce] [key=value,...]
//   allow <from> <to> <proto> <port|first-last>
//   failsafe <from> <to> <proto> <port|first-last>
//
// Commands:
//   enforcer_tool apply SPEC [--mode M] [--bad-element]   one netlink batch; exit 1 if refused
//   enforcer_tool render SPEC [--mode M]                  nft -f text on stdout
//   enforcer_tool eval SPEC HOOK SRC DST PROTO PORT [BRIDGE_PORT] [--mode M]
//                                                         prints "accept"/"drop" + the deciding
//                                                         object
//   enforcer_tool update OLD_SPEC NEW_SPEC [--mode M]     element-only update from the applied
//                                                         OLD to NEW; exit 3: structure changed
//   enforcer_tool counters SPEC                           named and per-edge counters
//   enforcer_tool disable                                 deletes bulkhead's tables
//   enforcer_tool sysctl [--no-sysctl]                    br_netfilter switches
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "enforcer/br_netfilter.h"
#include "enforcer/compiler.h"
#include "enforcer/evaluator.h"
#include "enforcer/kernel_ruleset.h"
#include "enforcer/render.h"

namespace {

using namespace bulkhead;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) {
    if (!part.empty()) {
      out.push_back(part);
    }
  }
  return out;
}

policy::Labels ParseLabels(const std::string& s) {
  policy::Labels out;
  for (const auto& kv : Split(s, ',')) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) {
      out[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return out;
}

std::optional<policy::Protocol> Proto(const std::string& s) {
  if (s == "tcp") return policy::Protocol::kTcp;
  if (s == "udp") return policy::Protocol::kUdp;
  if (s == "icmp") return policy::Protocol::kIcmp;
  if (s == "icmpv6") return policy::Protocol::kIcmpv6;
  if (s == "sctp") return policy::Protocol::kSctp;
  return std::nullopt;
}

bool ReadSpec(const std::string& path, policy::Policy& p, policy::Inventory& inv) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    return false;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto w = Split(line.substr(0, line.find('#')), ' ');
    if (w.empty()) {
      continue;
    }
    auto bad = [&] {
      std::cerr << path << ":" << n << ": cannot parse: " << line << "\n";
      return false;
    };
    if (w[0] == "mode" && w.size() == 2) {
      p.mode = w[1] == "enforce" ? policy::Mode::kEnforce : policy::Mode::kMonitor;
    } else if (w[0] == "host" && w.size() >= 2) {
      inv.host.name = w[1];
      inv.host.addresses.assign(w.begin() + 2, w.end());
    } else if (w[0] == "workload" && w.size() >= 4 && w.size() <= 6) {
      policy::Workload wl;
      wl.name = w[1];
      wl.labels = ParseLabels(w[2]);
      wl.addresses = Split(w[3], ',');
      wl.interface = w.size() >= 5 ? w[4] : "";
      wl.mac = w.size() == 6 ? w[5] : "";
      inv.workloads.push_back(wl);
    } else if (w[0] == "group" && w.size() >= 2) {
      policy::PolicyGroup g;
      g.name = w[1];
      for (std::size_t i = 2; i < w.size(); ++i) {
        if (w[i] == "monitor")
          g.mode = policy::Mode::kMonitor;
        else if (w[i] == "enforce")
          g.mode = policy::Mode::kEnforce;
        else
          g.selector = ParseLabels(w[i]);
      }
      p.groups.push_back(g);
    } else if ((w[0] == "allow" || w[0] == "failsafe") && w.size() == 5) {
      auto proto = Proto(w[3]);
      auto ports = Split(w[4], '-');
      if (!proto || ports.empty()) {
        return bad();
      }
      policy::AllowRule r{w[1],
                          w[2],
                          *proto,
                          {static_cast<std::uint16_t>(std::stoul(ports[0])),
                           static_cast<std::uint16_t>(std::stoul(ports.back()))}};
      (w[0] == "allow" ? p.allow : p.failsafe).push_back(r);
    } else {
      return bad();
    }
  }
  return true;
}

std::optional<enforcer::CompiledPolicy> Compile(const std::string& spec,
                                                const std::vector<std::string>& args) {
  policy::Policy p;
  policy::Inventory inv;
  if (!ReadSpec(spec, p, inv)) {
    return std::nullopt;
  }
  enforcer::CompileOptions o;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--mode") {
      o.mode = args[i + 1] == "enforce" ? policy::Mode::kEnforce : policy::Mode::kMonitor;
    }
  }
  auto c = enforcer::CompileRuleset(p, inv, o);
  if (!c) {
    for (const auto& e : c.error()) {
      std::cerr << "error: " << e << "\n";
    }
    return std::nullopt;
  }
  return std::move(*c);
}

bool Has(const std::vector<std::string>& args, const std::string& flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

int Main(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << "usage: see the comment at the top of enforcer_tool.cc\n";
    return 2;
  }
  const std::string& cmd = args[0];
  if (cmd == "disable" || cmd == "sysctl") {
    if (cmd == "sysctl") {
      auto r = enforcer::EnsureBridgeNetfilter("/proc/sys/net/bridge", !Has(args, "--no-sysctl"));
      if (!r) {
        std::cerr << "error: " << r.error() << "\n";
        return 1;
      }
      std::cout << (r->changed ? "changed" : "unchanged") << "\n";
      return 0;
    }
    auto t = enforcer::OpenMnlTransport();
    if (!t) {
      std::cerr << "error: " << t.error() << "\n";
      return 1;
    }
    auto r = enforcer::DeleteTables(**t);
    if (!r) {
      std::cerr << "error: " << r.error().summary << "\n";
      return 1;
    }
    return 0;
  }
  if (args.size() < 2) {
    return 2;
  }
  auto compiled = Compile(args[1], args);
  if (!compiled) {
    return 2;
  }
  if (cmd == "render") {
    std::cout << enforcer::RenderNft(compiled->ruleset);
    return 0;
  }
  if (cmd == "eval") {
    if (args.size() < 7) {
      return 2;
    }
    enforcer::PacketInfo pkt;
    pkt.hook = args[2];
    auto s = enforcer::Value::Address(args[3]);
    auto d = enforcer::Value::Address(args[4]);
    auto proto = Proto(args[5]);
    if (!s || !d || !proto) {
      return 2;
    }
    pkt.saddr = *s;
    pkt.daddr = *d;
    const std::uint8_t numbers[] = {6, 17, 1, 58, 132};
    pkt.l4proto = numbers[static_cast<int>(*proto)];
    auto port = static_cast<std::uint16_t>(std::stoul(args[6]));
    pkt.dport = port;
    pkt.sport = 40000;
    pkt.icmp_type = static_cast<std::uint8_t>(port);
    if (args.size() > 7 && args[7].rfind("--", 0) != 0) {
      pkt.bridge_port = args[7];
    }
    auto r = enforcer::Evaluate(compiled->ruleset, pkt);
    if (!r) {
      std::cerr << "error: " << r.error() << "\n";
      return 2;
    }
    std::cout << (r->accepted ? "accept" : "drop") << " " << r->verdict_chain << " | " << r->matched
              << "\n";
    return 0;
  }
  auto t = enforcer::OpenMnlTransport();
  if (!t) {
    std::cerr << "error: " << t.error() << "\n";
    return 1;
  }
  if (cmd == "apply") {
    if (Has(args, "--bad-element")) {
      // A verdict-map element that jumps to a chain that does not exist: the kernel refuses
      // the element (ENOENT) after accepting everything before it in the same batch.
      for (auto& table : compiled->ruleset.tables) {
        for (auto& set : table.sets) {
          if (set.name == "edges_fwd") {
            enforcer::Element e;
            e.key = {enforcer::Value::Number(enforcer::DataType::kMark, 9999)};
            e.verdict = enforcer::Verdict{enforcer::Verdict::Kind::kJump, "no_such_chain"};
            e.origin = "group injected-bad";
            set.elements.push_back(e);
          }
        }
      }
    }
    auto start = std::chrono::steady_clock::now();
    auto r = enforcer::ApplyRuleset(**t, compiled->ruleset);
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    if (!r) {
      std::cerr << "error: " << r.error().summary << "\n";
      for (const auto& e : r.error().errors) {
        std::cerr << "  seq " << e.seq << ": " << e.origin << "\n";
      }
      return 1;
    }
    std::cout << "applied " << r->messages << " messages, " << r->bytes << " bytes in "
              << ms.count() << " ms\n";
    return 0;
  }
  if (cmd == "update") {
    if (args.size() < 3) {
      return 2;
    }
    auto next = Compile(args[2], args);
    if (!next) {
      return 2;
    }
    auto start = std::chrono::steady_clock::now();
    auto r = enforcer::UpdateElements(**t, compiled->ruleset, next->ruleset);
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    if (!r) {
      std::cerr << "error: " << r.error().summary << "\n";
      return 1;
    }
    if (r->structure_changed) {
      std::cout << "structure changed\n";
      return 3;
    }
    std::cout << "updated +" << r->added << " -" << r->removed << " elements in "
              << r->stats.messages << " messages, " << ms.count() << " ms\n";
    return 0;
  }
  if (cmd == "counters") {
    auto named = enforcer::ReadNamedCounters(**t);
    if (!named) {
      std::cerr << "error: " << named.error() << "\n";
      return 1;
    }
    for (const auto& c : *named) {
      std::cout << c.name << " " << c.packets << " " << c.bytes << "\n";
    }
    const auto* table = compiled->ruleset.FindTable(enforcer::Family::kInet, "bulkhead");
    auto edges = enforcer::ReadEdgeCounters(**t, *table);
    if (!edges) {
      std::cerr << "error: " << edges.error() << "\n";
      return 1;
    }
    for (const auto& c : *edges) {
      std::cout << c.name << " " << c.packets << " " << c.bytes << "\n";
    }
    return 0;
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) { return Main(std::vector<std::string>(argv + 1, argv + argc)); }
