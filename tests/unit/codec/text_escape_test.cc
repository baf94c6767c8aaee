#include "codec/text_escape.h"

#include <gtest/gtest.h>

namespace bulkhead::codec {
namespace {

TEST(TextEscapeTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain é 漢 🙂"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe6\xbc"));          // cut short
}

TEST(TextEscapeTest, YamlScalarPlainOrQuoted) {
  EXPECT_EQ(YamlScalar("shop-api-1"), "shop-api-1");
  EXPECT_EQ(YamlScalar("com.docker.compose.service"), "com.docker.compose.service");
  EXPECT_EQ(YamlScalar("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(YamlScalar(""), "\"\"");
  EXPECT_EQ(YamlScalar("123"), "\"123\"");
  EXPECT_EQ(YamlScalar("1.5"), "\"1.5\"");
  EXPECT_EQ(YamlScalar("True"), "\"True\"");
  EXPECT_EQ(YamlScalar("no"), "\"no\"");
  EXPECT_EQ(YamlScalar("a: b"), "\"a: b\"");
  EXPECT_EQ(YamlScalar("#x"), "\"#x\"");
  EXPECT_EQ(YamlScalar(" x"), "\" x\"");
  EXPECT_EQ(YamlScalar("-x"), "\"-x\"");
  EXPECT_EQ(YamlScalar("q\"b\\"), "\"q\\\"b\\\\\"");
  EXPECT_EQ(YamlScalar("a\nb\tc\x01"), "\"a\\nb\\tc\\u0001\"");
  EXPECT_EQ(YamlScalar("x\u2028"), "\"x\\u2028\"");
  EXPECT_EQ(YamlScalar("é"), "\"é\"");
}

TEST(TextEscapeTest, JsonString) {
  EXPECT_EQ(JsonString("a"), "\"a\"");
  EXPECT_EQ(JsonString("\"\\/\b\f\n\r\t\x1f\x7f"), "\"\\\"\\\\/\\b\\f\\n\\r\\t\\u001F\\u007F\"");
  EXPECT_EQ(JsonString("漢\u2029"), "\"漢\\u2029\"");
  EXPECT_EQ(JsonString(std::string("a\0b", 3)), "\"a\\u0000b\"");
  EXPECT_EQ(JsonString("\xff"), "\"\uFFFD\"");
}

TEST(TextEscapeTest, DotEscape) {
  EXPECT_EQ(DotEscape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(DotEscape("a\nb"), "a\\\\x0Ab");
}

TEST(HtmlEscapeTest, MarkupBecomesText) {
  EXPECT_EQ(HtmlEscape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape("a&b \"c\""), "a&amp;b &quot;c&quot;");
  EXPECT_EQ(HtmlEscape("tab\there\nline"), "tab\there\nline");
  // Controls and invalid UTF-8 cannot reach the page as they are.
  EXPECT_EQ(HtmlEscape(std::string("a\x01"
                                   "b\xff",
                                   4)),
            "a\uFFFDb\uFFFD");
  EXPECT_EQ(HtmlEscape("caf\u00e9"), "caf\u00e9");
}

}  // namespace
}  // namespace bulkhead::codec
