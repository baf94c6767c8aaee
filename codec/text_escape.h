#pragma once

// Escaping for the writers. Names, label keys and values come from the inventory and, later,
// from Docker: attacker-controlled text that must come back out unchanged or, when that is
// impossible (invalid UTF-8), in a harmless form. Shared by every writer (YAML, JSON, DOT) and by
// the log and violation formatters, which quote untrusted names the same way.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bulkhead::codec {

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view text);
// `text` with each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD (one
// character for one byte, so character columns stay where they were).
std::string ReplaceInvalidUtf8(std::string_view text);

// A YAML scalar for block and flow context: plain when it cannot be misread (a name like
// `shop-api-1`, an IPv4 address), otherwise double-quoted with every control, line-separator
// and non-character escaped, so Parse(Write(s)) == s for every valid UTF-8 string. Invalid
// UTF-8 sequences become U+FFFD.
std::string YamlScalar(std::string_view text);

// YAML flow collections of YamlScalar items: `[a, b]` and `{k: v, ...}` (keys in map order).
std::string YamlFlowList(const std::vector<std::string>& items);
std::string YamlFlowMap(const std::map<std::string, std::string>& entries);

// A JSON string literal (RFC 8259 section 7), quotes included; invalid UTF-8 becomes U+FFFD.
std::string JsonString(std::string_view text);

// The inside of a Graphviz quoted ID: '"' and '\' escaped, controls shown as \xNN text,
// invalid UTF-8 as U+FFFD.
std::string DotEscape(std::string_view text);

// Text for HTML (and SVG) element content and double-quoted attribute values: & < > " '
// as character references, controls other than tab and newline (and non-characters) as U+FFFD,
// invalid UTF-8 as U+FFFD. A name like `<script>` is shown as that text, never parsed.
std::string HtmlEscape(std::string_view text);

}  // namespace bulkhead::codec
