#include "codec/yaml_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bulkhead::codec {
namespace {

// Reads `text` (a map whose `items` list is streamed) and returns each item's scalars, or the
// errors as "line:col: message".
std::vector<std::string> Stream(const std::string& text) {
  ErrorList errors("t.yaml");
  std::vector<std::string> out;
  auto top = StreamDocument(text, "the test", {"items", "other"},
                            {{"items",
                              [&](const Node& item) {
                                if (item.IsSequence()) {
                                  for (const Node& v : item.Items()) {
                                    out.push_back(v.Scalar() + "|" + v.Tag());
                                  }
                                } else {
                                  out.push_back(item.Scalar() + "|" + item.Tag());
                                }
                              }}},
                            errors);
  if (!errors.empty()) {
    out.clear();
    for (const auto& e : errors.Take().errors) {
      out.push_back(std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message);
    }
  } else if (!top) {
    out.push_back("stopped without an error");
  }
  return out;
}

TEST(StreamDocumentTest, ItemsGoOneByOneAndKeysAreChecked) {
  EXPECT_EQ(Stream("items: [a, \"b\", 80]\nother: x\n"),
            (std::vector<std::string>{"a|?", "b|!", "80|?"}));
  EXPECT_EQ(
      Stream("items: [a]\nitems: [b]\nnope: 1\n"),
      (std::vector<std::string>{"2:1: key \"items\" given twice in the test",
                                "3:1: unknown key \"nope\" in the test (known: items, other)"}));
  EXPECT_EQ(Stream("items:\nother: 1\n"),
            (std::vector<std::string>{"1:1: items must be a list, not an empty value"}));
}

// libyaml (YAML 1.1) reads a ':' inside [..] as a separator, so `[::1]` would be a syntax
// error; the reader quotes such addresses first, and nothing else.
TEST(StreamDocumentTest, UnquotedAddressesStartingWithColons) {
  EXPECT_EQ(Stream("items: [::1, '::2', \"::3\", fd00::4, [::5]]  # [::6\n"),
            (std::vector<std::string>{"::1|!", "::2|!", "::3|!", "fd00::4|?", "::5|!"}));
  EXPECT_EQ(Stream("items:\n  - ::1\n"), (std::vector<std::string>{"::1|?"}));
}

TEST(StreamDocumentTest, InvalidUtf8IsReportedWhereItIs) {
  ErrorList errors("t.yaml");
  std::string seen;
  auto top = StreamDocument("items: [ok, \"b\xff\"]\n", "the test", {"items"},
                            {{"items",
                              [&](const Node& item) {
                                if (auto s = ReadString(item, "an item", errors)) {
                                  seen += *s;
                                }
                              }}},
                            errors);
  ASSERT_TRUE(top);
  EXPECT_EQ(seen, "ok");
  EXPECT_EQ(errors.Take().ToString(), "t.yaml:1:13: an item is not valid UTF-8");
}

TEST(StreamDocumentTest, DeepNestingStops) {
  const auto out = Stream("items: " + std::string(100000, '['));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0], "1:73: nested deeper than 64 levels");
}

}  // namespace
}  // namespace bulkhead::codec

namespace bulkhead::codec {
namespace {

TEST(PeekKind, FindsTheRootKindWithoutReadingTheRest) {
  EXPECT_EQ(PeekKind("apiVersion: bulkhead/v1\nkind: Policy\ngroups: []\n"), "Policy");
  EXPECT_EQ(PeekKind("{\"edges\": [{\"kind\": \"x\"}], \"kind\": \"FlowGraph\"}"), "FlowGraph");
  // A nested `kind` is not the document's; later syntax errors are the reader's to report.
  EXPECT_EQ(PeekKind("groups:\n  - kind: Policy\n"), std::nullopt);
  EXPECT_EQ(PeekKind("kind: Inventory\nworkloads: [\n"), "Inventory");
  EXPECT_EQ(PeekKind("kind: [Policy]\n"), std::nullopt);
  EXPECT_EQ(PeekKind("- kind: Policy\n"), std::nullopt);
  EXPECT_EQ(PeekKind(""), std::nullopt);
  EXPECT_EQ(PeekKind("a: [\nkind: Policy\n"), std::nullopt);
}

}  // namespace
}  // namespace bulkhead::codec
