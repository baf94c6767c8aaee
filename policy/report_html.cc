// The review page (policy/report.h). Everything is inline: the style, the SVG and a short
// script for the group filter; a Content-Security-Policy forbids every fetch, so a page that
// tried one would fail loudly in the browser test instead of leaking the reviewer's visit.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "codec/text_escape.h"
#include "policy/analysis.h"
#include "policy/internal/report_model.h"
#include "policy/report.h"

namespace bulkhead::policy {
namespace {

using codec::HtmlEscape;
using internal::ReportModel;

constexpr std::string_view kStyle = R"(body{font:14px/1.4 sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;
text-align:left;vertical-align:top}th{background:#f2f2f2}td.n{text-align:right}
#graph{overflow:auto;border:1px solid #ddd;max-height:80vh}#graph svg{max-width:none}
.dim{opacity:.12}tr.dim{display:none}.mark{font-weight:bold}.sensitive{color:#c0392b}
.host{color:#d35400}.unapproved{color:#b8008a}.unseen{color:#8e44ad}.add{color:#1e7e34}
.del{color:#c0392b}.legend span{margin-right:1.2em}code{font-size:.95em}
)";

// Dims what does not touch the chosen group: nodes and edges of the picture and table rows
// carry class "f" and the classes of the groups they belong to.
constexpr std::string_view kScript = R"((function () {
  var select = document.getElementById('filter');
  function apply() {
    var want = select.value;
    var items = document.querySelectorAll('.f');
    for (var i = 0; i < items.length; i++) {
      var on = !want || items[i].classList.contains(want);
      items[i].classList.toggle('dim', !on);
    }
  }
  select.addEventListener('change', apply);
  apply();
})();
)";

std::string Td(std::string_view text) { return "<td>" + HtmlEscape(text) + "</td>"; }
std::string TdNum(std::uint64_t n) { return "<td class=\"n\">" + std::to_string(n) + "</td>"; }

std::string Percent(double share) { return std::to_string(std::lround(share * 100)) + "%"; }

std::string RowClass(const ReportModel& model, const std::vector<std::string>& groups) {
  std::string classes = "f";
  for (const auto& g : groups) {
    classes += " " + model.NodeClass(g);
  }
  return "<tr class=\"" + classes + "\">";
}

std::string Head(const std::vector<std::string_view>& columns) {
  std::string out = "<table><tr>";
  for (auto c : columns) {
    out += "<th>" + std::string(c) + "</th>";
  }
  return out + "</tr>\n";
}

std::string JoinEscaped(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + HtmlEscape(item);
  }
  return out;
}

std::string GroupsSection(const ReportInput& input, const ReportModel& model) {
  std::string out =
      "<h2 id=\"groups\">Groups</h2>\n" + Head({"group", "members", "selector", "workloads"});
  for (const auto& group : input.graph.groups) {
    std::vector<std::string> selector;
    for (const auto& [key, value] : group.selector) {
      selector.push_back(key);
      selector.back().append("=").append(value);
    }
    out += RowClass(model, {group.name}) + Td(group.name) + TdNum(group.members.size()) + "<td>" +
           JoinEscaped(selector) + "</td><td>" + JoinEscaped(group.members) + "</td></tr>\n";
  }
  return out + "</table>\n";
}

std::string EdgeMarks(const ReportModel& model, const Edge& edge) {
  std::string marks;
  if (edge.key.to == kHostGroup) {
    marks += "<span class=\"mark host\">into host</span> ";
  }
  if (auto service = SensitiveService(edge.key.protocol, {edge.key.port, edge.key.port});
      !service.empty()) {
    marks += "<span class=\"mark sensitive\">" + HtmlEscape(service) + "</span> ";
  }
  if (model.unapproved.count(edge.key) > 0) {
    marks += "<span class=\"mark unapproved\">not in policy</span>";
  }
  return marks;
}

std::string EdgesSection(const ReportInput& input, const ReportModel& model) {
  std::string out = "<h2 id=\"edges\">Edges</h2>\n" +
                    Head({"from", "to", "protocol/port", "connections", "packets", "bytes",
                          "first seen", "last seen", "examples", "marks"});
  for (const auto& edge : input.graph.edges) {
    std::vector<std::string> examples;
    for (const auto& pair : edge.stats.examples) {
      examples.push_back(pair.from + " \u2192 " + pair.to);
    }
    out += RowClass(model, {edge.key.from, edge.key.to}) + Td(edge.key.from) + Td(edge.key.to) +
           Td(std::string(ProtocolName(edge.key.protocol)) + "/" + std::to_string(edge.key.port)) +
           TdNum(edge.stats.connections) + TdNum(edge.stats.packets) + TdNum(edge.stats.bytes) +
           Td(FormatTimestamp(edge.stats.first_seen_usec)) +
           Td(FormatTimestamp(edge.stats.last_seen_usec)) + "<td>" + JoinEscaped(examples) +
           "</td><td>" + EdgeMarks(model, edge) + "</td></tr>\n";
  }
  return out + "</table>\n";
}

// The sources seen scanning: no edge and not in the picture (their attempts failed), listed so
// the reviewer knows who probed what before approving. Absent when the graph has none.
std::string ScansSection(const ReportInput& input, const ReportModel& model) {
  if (input.graph.scans.empty()) {
    return {};
  }
  std::string out = "<h2 id=\"scans\">Scans (" + std::to_string(input.graph.scans.size()) +
                    ")</h2>\n<p>Sources whose failed connection attempts reached many ports or "
                    "peers. Their attempts are not edges: nothing of them is drawn or approved."
                    "</p>\n" +
                    Head({"source", "group", "ports", "peers", "refused", "incomplete",
                          "first seen", "last seen"});
  for (const auto& scan : input.graph.scans) {
    out += RowClass(model, {scan.group}) + Td(scan.source) + Td(scan.group) + TdNum(scan.ports) +
           TdNum(scan.peers) + TdNum(scan.refused) + TdNum(scan.incomplete) +
           Td(FormatTimestamp(scan.first_seen_usec)) + Td(FormatTimestamp(scan.last_seen_usec)) +
           "</tr>\n";
  }
  return out + "</table>\n";
}

std::string AnalysisSection(const ReportInput& input, const ReportModel& model) {
  const Analysis a = Analyze(ReachGraphFromFlowGraph(input.graph));
  std::string out =
      "<h2 id=\"analysis\">Lateral movement</h2>\n<p>" + std::to_string(a.reachable_pairs) +
      " of " + std::to_string(a.flat_pairs) +
      " group pairs reachable (a flat network reaches all); mean blast radius " +
      Percent(a.mean_group_share) + ", largest " + Percent(a.max_group_share) + ", longest path " +
      std::to_string(a.max_hops) +
      " hops. Paths go through the host and through the outside world where edges allow; "
      "ICMP is not counted as movement.</p>\n" +
      Head({"group", "groups reached", "workloads reached", "host", "world", "by hops"});
  for (const auto& g : a.groups) {
    std::string hops;
    for (std::size_t k = 0; k < g.hops.size(); ++k) {
      hops += std::to_string(k + 1) + ": " + JoinEscaped(g.hops[k]) + "<br>";
    }
    out += RowClass(model, {g.name}) + Td(g.name) +
           Td(std::to_string(g.groups_reached) + " (" + Percent(g.group_share) + ")") +
           Td(std::to_string(g.workloads_reached) + " (" + Percent(g.workload_share) + ")") +
           Td(g.reaches_host ? "yes" : "") + Td(g.reaches_world ? "yes" : "") + "<td>" + hops +
           "</td></tr>\n";
  }
  out += "</table>\n<h3>Findings (" + std::to_string(a.findings.size()) + ")</h3>\n" +
         Head({"kind", "detail"});
  for (const auto& f : a.findings) {
    out += RowClass(model, {f.link.from, f.link.to}) + Td(FindingKindName(f.kind)) + Td(f.detail) +
           "</tr>\n";
  }
  return out + "</table>\n";
}

std::string PolicySection(const ReportModel& model) {
  if (!model.comparison) {
    return {};
  }
  const auto& c = *model.comparison;
  std::string out = "<h2 id=\"policy\">Against the policy</h2>\n<p>" +
                    std::to_string(c.unapproved.size()) + " learned edges no rule allows, " +
                    std::to_string(c.unseen.size()) + " allow rules never seen" +
                    (c.not_comparable > 0 ? ", " + std::to_string(c.not_comparable) +
                                                " edges not comparable (host to host, port 0)"
                                          : std::string()) +
                    ".</p>\n" + Head({"", "from", "to", "protocol/port", "connections"});
  for (const auto& edge : c.unapproved) {
    out += RowClass(model, {edge.key.from, edge.key.to}) +
           "<td class=\"unapproved mark\">not allowed</td>" + Td(edge.key.from) + Td(edge.key.to) +
           Td(std::string(ProtocolName(edge.key.protocol)) + "/" + std::to_string(edge.key.port)) +
           TdNum(edge.stats.connections) + "</tr>\n";
  }
  for (const auto& rule : c.unseen) {
    out += RowClass(model, {rule.from, rule.to}) + "<td class=\"unseen mark\">never seen</td>" +
           Td(rule.from) + Td(rule.to) +
           Td(LinkPortText({rule.from, rule.to, rule.protocol, rule.ports})) + "<td></td></tr>\n";
  }
  return out + "</table>\n";
}

struct ViolationPair {
  std::size_t count = 0;
  std::string first;
  std::string last;
  std::set<std::string> kinds;
  std::set<std::string> services;   // "tcp/5432 blocked"
  std::set<std::string> workloads;  // "a -> b", at most a few
};

std::string ViolationsSection(const ReportInput& input, const ReportModel& model) {
  if (!input.violations) {
    return {};
  }
  constexpr std::size_t kMaxExamples = 3;
  std::map<std::pair<std::string, std::string>, ViolationPair> pairs;
  for (const auto& v : *input.violations) {
    auto& p = pairs[{v.from_group, v.to_group}];
    ++p.count;
    p.first = p.first.empty() ? v.time : std::min(p.first, v.time);
    p.last = std::max(p.last, v.time);
    p.kinds.insert(v.kind);
    p.services.insert(v.protocol + "/" + std::to_string(v.port) + " " + v.verdict);
    if (p.workloads.size() < kMaxExamples) {
      p.workloads.insert(v.from_workload + " \u2192 " + v.to_workload);
    }
  }
  std::string out = "<h2 id=\"violations\">Violations (" +
                    std::to_string(input.violations->size()) + ")</h2>\n" +
                    Head({"from", "to", "count", "kind", "what", "first", "last", "examples"});
  for (const auto& [key, p] : pairs) {
    out += RowClass(model, {key.first, key.second}) + Td(key.first) + Td(key.second) +
           TdNum(p.count) + "<td>" + JoinEscaped({p.kinds.begin(), p.kinds.end()}) + "</td><td>" +
           JoinEscaped({p.services.begin(), p.services.end()}) + "</td>" + Td(p.first) +
           Td(p.last) + "<td>" + JoinEscaped({p.workloads.begin(), p.workloads.end()}) +
           "</td></tr>\n";
  }
  return out + "</table>\n";
}

std::string FilterControl(const ReportModel& model) {
  std::string out =
      "<p><label for=\"filter\">Show group: </label><select id=\"filter\">"
      "<option value=\"\">all groups</option>";
  for (const auto& name : model.nodes) {
    out += "<option value=\"" + model.NodeClass(name) + "\">" + HtmlEscape(name) + "</option>";
  }
  return out + "</select></p>\n";
}

std::string PageStart(std::string_view title) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n<title>" +
         HtmlEscape(title) + "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n";
}

}  // namespace

std::string WriteReportHtml(const ReportInput& input, std::string_view svg) {
  const ReportModel model = internal::BuildReportModel(input);
  std::size_t workloads = 0;
  for (const auto& group : input.graph.groups) {
    workloads += group.members.size();
  }
  std::string out = PageStart("bulkhead review: " + input.graph_name);
  out += "<body>\n<h1>bulkhead review: " + HtmlEscape(input.graph_name) + "</h1>\n<p>" +
         std::to_string(input.graph.groups.size()) + " groups, " + std::to_string(workloads) +
         " workloads, " + std::to_string(input.graph.edges.size()) + " edges" +
         (input.policy ? ", compared with a policy of " +
                             std::to_string(input.policy->allow.size()) + " allow rules"
                       : std::string()) +
         ".</p>\n";
  out += FilterControl(model);
  out +=
      "<p class=\"legend\"><span class=\"sensitive mark\">red: sensitive port</span>"
      "<span class=\"host mark\">orange: into the host</span>"
      "<span class=\"unapproved mark\">dashed, NEW: not in the policy</span>"
      "<span class=\"unseen mark\">dotted: allowed, never seen</span></p>\n";
  out += "<div id=\"graph\">\n" + std::string(svg) + "</div>\n";
  out += GroupsSection(input, model) + EdgesSection(input, model) + ScansSection(input, model) +
         AnalysisSection(input, model) + PolicySection(model) + ViolationsSection(input, model);
  out += "<script>\n" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return out;
}

std::string WriteDiffHtml(std::string_view first_name, std::string_view second_name,
                          const std::vector<DiffLine>& lines) {
  const std::string title =
      "bulkhead diff: " + std::string(first_name) + " \u2192 " + std::string(second_name);
  std::string out = PageStart(title) + "<body>\n<h1>" + HtmlEscape(title) + "</h1>\n<p>" +
                    std::to_string(lines.size()) + " differences.</p>\n<pre>\n";
  for (const auto& line : lines) {
    out += "<span class=\"" + std::string(line.sign == '+' ? "add" : "del") + "\">" +
           HtmlEscape(line.text) + "</span>\n";
  }
  return out + "</pre>\n</body>\n</html>\n";
}

}  // namespace bulkhead::policy
