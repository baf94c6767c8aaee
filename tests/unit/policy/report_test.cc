#include "policy/report.h"

#include <gtest/gtest.h>

namespace bulkhead::policy {
namespace {

Edge MakeEdge(std::string from, std::string to, Protocol protocol, std::uint16_t port,
              std::uint64_t connections) {
  Edge edge;
  edge.key = {std::move(from), std::move(to), protocol, port};
  edge.stats.connections = connections;
  edge.stats.examples = {{"w-1", "w-2"}};
  return edge;
}

ReportInput Input() {
  ReportInput input;
  input.graph_name = "g.yaml";
  input.graph.groups = {{"api", {{"app", "api"}}, {"api-1", "api-2"}},
                        {"db", {}, {"db-1"}},
                        {"<script>alert(1)</script>", {}, {"<img src=x onerror=alert(1)>"}}};
  input.graph.edges = {MakeEdge("api", "db", Protocol::kTcp, 5432, 7),
                       MakeEdge("api", "db", Protocol::kTcp, 8080, 1),
                       MakeEdge("api", "host", Protocol::kUdp, 53, 2),
                       MakeEdge("<script>alert(1)</script>", "api", Protocol::kTcp, 80, 3)};
  input.graph.Normalize();
  return input;
}

TEST(ReportDotTest, OneEdgePerPairWithEveryPort) {
  const auto dot = WriteReportDot(Input());
  // api -> db once, labelled with both ports, marked sensitive (PostgreSQL).
  EXPECT_NE(dot.find("label=\"tcp/5432 x7\\ltcp/8080 x1\\l\", color=\"#c0392b\""),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find("class=\"f g1 g3 host\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("shape=house"), std::string::npos);
  EXPECT_NE(dot.find("api\\n2 members"), std::string::npos);
}

TEST(ReportDotTest, ManyPairsGetTooltipsInsteadOfLabels) {
  ReportInput input;
  for (int i = 0; i < 20; ++i) {
    input.graph.groups.push_back({"g" + std::to_string(i), {}, {"w" + std::to_string(i)}});
  }
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 20; ++j) {
      if (i != j) {  // 380 pairs
        input.graph.edges.push_back(
            MakeEdge("g" + std::to_string(i), "g" + std::to_string(j), Protocol::kTcp, 80, 1));
      }
    }
  }
  input.graph.Normalize();
  const auto dot = WriteReportDot(input);
  EXPECT_EQ(dot.find("label=\"tcp/80"), std::string::npos);
  EXPECT_NE(dot.find("tooltip=\"tcp/80 x1\\l\""), std::string::npos) << dot.substr(0, 2000);
  // A small graph keeps its labels.
  EXPECT_NE(WriteReportDot(Input()).find("label=\"tcp/80 x3\\l\""), std::string::npos);
}

TEST(ReportDotTest, PolicyMarksUnapprovedAndUnseen) {
  auto input = Input();
  Policy policy;
  policy.groups = {{"api", {}, {}}, {"db", {}, {}}};
  policy.allow = {{"api", "db", Protocol::kTcp, {5432, 5432}},
                  {"db", "api", Protocol::kTcp, {9000, 9000}}};
  input.policy = policy;
  const auto dot = WriteReportDot(input);
  EXPECT_NE(dot.find("tcp/8080 x1 NEW"), std::string::npos) << dot;
  EXPECT_NE(dot.find("unseen tcp/9000"), std::string::npos) << dot;
  EXPECT_NE(dot.find(" unseen\""), std::string::npos) << dot;
  const auto html = WriteReportHtml(input, "<svg></svg>");
  EXPECT_NE(html.find("never seen"), std::string::npos);
  EXPECT_NE(html.find("not in policy"), std::string::npos);
}

TEST(ReportHtmlTest, HostileLabelsAreText) {
  auto input = Input();
  input.violations = std::vector<ReportViolation>{{"2026-11-28T10:00:00.000Z", "connection",
                                                   "blocked", "<script>alert(1)</script>", "db",
                                                   "x\"'&", "db-1", "tcp", 5432}};
  const auto html = WriteReportHtml(input, "<svg></svg>");
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("x&quot;&#39;&amp;"), std::string::npos);
  // Exactly one script: the page's own filter.
  EXPECT_EQ(html.find("<script>"), html.rfind("<script>"));
  EXPECT_NE(html.find("Violations (1)"), std::string::npos);
  // Nothing to fetch: no external address in the page, and a CSP that forbids it anyway.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
}

TEST(ReportHtmlTest, ScansAreListedAsTextAndNotDrawn) {
  auto input = Input();
  const auto without = WriteReportHtml(input, "<svg></svg>");
  EXPECT_EQ(without.find("Scans"), std::string::npos);
  const auto dot_without = WriteReportDot(input);
  input.graph.scans = {{"api-1", "api", 1795860000000000ULL, 1795860060500000ULL, 1000, 1, 999, 1},
                       {"<img src=x onerror=alert(2)>", "world", 1000, 2000, 3, 40, 0, 120}};
  input.graph.Normalize();
  const auto html = WriteReportHtml(input, "<svg></svg>");
  EXPECT_NE(html.find("<h2 id=\"scans\">Scans (2)</h2>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>api-1</td><td>api</td><td class=\"n\">1000</td><td class=\"n\">1"
                      "</td><td class=\"n\">999</td><td class=\"n\">1</td>"
                      "<td>2026-11-28T10:00:00.000Z</td><td>2026-11-28T10:01:00.500Z</td>"),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
  // After the edges, before the analysis; the picture is unchanged.
  EXPECT_LT(html.find("id=\"edges\""), html.find("id=\"scans\""));
  EXPECT_LT(html.find("id=\"scans\""), html.find("id=\"analysis\""));
  EXPECT_EQ(WriteReportDot(input), dot_without);
}

TEST(ReportHtmlTest, SameInputsSameBytes) {
  auto a = Input();
  auto b = Input();
  std::reverse(b.graph.edges.begin(), b.graph.edges.end());
  b.graph.Normalize();
  EXPECT_EQ(WriteReportHtml(a, "<svg/>"), WriteReportHtml(b, "<svg/>"));
  EXPECT_EQ(WriteReportDot(a), WriteReportDot(b));
}

TEST(ReportHtmlTest, InlineSvgDropsPrologAndComments) {
  EXPECT_EQ(InlineSvg("<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"x\" "
                      "\"http://www.w3.org/x.dtd\">\n<!-- Generated by graphviz 2.43 -->\n"
                      "<svg a=\"1\"><!-- n1 --><g/></svg>\n"),
            "<svg a=\"1\"><g/></svg>\n");
  EXPECT_EQ(InlineSvg("no picture"), "");
}

TEST(ReportHtmlTest, DiffPageColoursLines) {
  const auto html = WriteDiffHtml(
      "old.yaml", "new<.yaml",
      {{'-', "- a -> b tcp/1 (1 connection)"}, {'+', "+ a -> <b> tcp/2 (2 connections)"}});
  EXPECT_NE(html.find("<span class=\"del\">- a -&gt; b tcp/1"), std::string::npos) << html;
  EXPECT_NE(html.find("<span class=\"add\">+ a -&gt; &lt;b&gt; tcp/2"), std::string::npos);
  EXPECT_NE(html.find("new&lt;.yaml"), std::string::npos);
}

}  // namespace
}  // namespace bulkhead::policy
