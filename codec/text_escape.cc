#include "codec/text_escape.h"

#include <array>
#include <cstdint>
#include <cstdio>

namespace bulkhead::codec {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at `pos`. Returns its length in bytes, or 0 for an invalid sequence
// (then the caller emits U+FFFD and skips one byte).
std::size_t DecodeOne(std::string_view text, std::size_t pos, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1Fu;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0Fu;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07u;
    min = 0x10000;
  } else {
    return 0;
  }
  if (pos + len > text.size()) {
    return 0;
  }
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(text[pos + i]);
    if ((b & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Characters a reader might drop, fold or treat as a line break: C0/C1 controls, DEL, NEL,
// the Unicode line/paragraph separators, the byte-order mark and the BMP non-characters.
bool NeedsEscape(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF ||
         cp == 0xFFFE || cp == 0xFFFF;
}

void AppendHex4(std::string& out, const char* prefix, char32_t cp) {
  std::array<char, 16> buf{};
  std::snprintf(buf.data(), buf.size(), "%s%04X", prefix, static_cast<unsigned>(cp));
  out += buf.data();
}

// Calls `emit(cp)` for each code point, with U+FFFD for each invalid byte.
template <typename Emit>
void ForEachCodePoint(std::string_view text, Emit&& emit) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp = 0;
    const std::size_t len = DecodeOne(text, pos, cp);
    if (len == 0) {
      emit(kReplacement);
      ++pos;
    } else {
      emit(cp);
      pos += len;
    }
  }
}

bool IsPlainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == '/';
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (x != b[i]) {
      return false;
    }
  }
  return true;
}

// Plain only for text no YAML 1.1 or 1.2 reader turns into something else: letters, digits and
// `_.-/`, starting with a letter or '_' (so never a number, a date, `-`/`.`-indicators), or a
// dotted quad-like string with at least two dots (never a number either). Words that YAML 1.1
// reads as booleans or null are quoted.
bool CanBePlain(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  std::size_t dots = 0;
  for (const char c : text) {
    if (!IsPlainChar(c)) {
      return false;
    }
    dots += c == '.' ? 1 : 0;
  }
  const char first = text.front();
  const bool letter =
      (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_';
  const bool digit = first >= '0' && first <= '9';
  if (!letter && !(digit && dots >= 2)) {
    return false;
  }
  for (const std::string_view word :
       {"null", "true", "false", "yes", "no", "on", "off", "y", "n"}) {
    if (EqualsIgnoreCase(text, word)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp = 0;
    const std::size_t len = DecodeOne(text, pos, cp);
    if (len == 0) {
      return false;
    }
    pos += len;
  }
  return true;
}

std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  ForEachCodePoint(text, [&out](char32_t cp) { AppendUtf8(out, cp); });
  return out;
}

namespace {

// A double-quoted YAML or JSON string: both take \" \\ \n \t \r and \uXXXX. `json_short_escapes`
// adds JSON's \b and \f (a YAML scalar writes them as \u0008 and \u000C, as it always has).
std::string DoubleQuoted(std::string_view text, bool json_short_escapes) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  ForEachCodePoint(text, [&out, json_short_escapes](char32_t cp) {
    switch (cp) {
      case '"':
        out += "\\\"";
        return;
      case '\\':
        out += "\\\\";
        return;
      case '\n':
        out += "\\n";
        return;
      case '\t':
        out += "\\t";
        return;
      case '\r':
        out += "\\r";
        return;
      case '\b':
        if (json_short_escapes) {
          out += "\\b";
          return;
        }
        break;
      case '\f':
        if (json_short_escapes) {
          out += "\\f";
          return;
        }
        break;
      default:
        break;
    }
    // RFC 8259 requires only C0 controls to be escaped; the rest of NeedsEscape is escaped too
    // because JavaScript and some YAML readers treat U+2028/U+2029/NEL as line breaks.
    if (NeedsEscape(cp)) {
      AppendHex4(out, "\\u", cp);
    } else {
      AppendUtf8(out, cp);
    }
  });
  out += '"';
  return out;
}

}  // namespace

std::string YamlScalar(std::string_view text) {
  if (CanBePlain(text)) {
    return std::string(text);
  }
  return DoubleQuoted(text, false);
}

std::string JsonString(std::string_view text) { return DoubleQuoted(text, true); }

std::string DotEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  ForEachCodePoint(text, [&out](char32_t cp) {
    if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (NeedsEscape(cp)) {
      // Shown, not interpreted: "\\x0A" renders as the text \x0A in the drawing.
      std::array<char, 16> buf{};
      std::snprintf(buf.data(), buf.size(), "\\\\x%02X", static_cast<unsigned>(cp));
      out += buf.data();
    } else {
      AppendUtf8(out, cp);
    }
  });
  return out;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  ForEachCodePoint(text, [&out](char32_t cp) {
    switch (cp) {
      case '&':
        out += "&amp;";
        return;
      case '<':
        out += "&lt;";
        return;
      case '>':
        out += "&gt;";
        return;
      case '"':
        out += "&quot;";
        return;
      case '\'':
        out += "&#39;";
        return;
      case '\t':
      case '\n':
        out += static_cast<char>(cp);
        return;
      default:
        break;
    }
    AppendUtf8(out, NeedsEscape(cp) ? char32_t{0xFFFD} : cp);
  });
  return out;
}

std::string YamlFlowList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += i == 0 ? "" : ", ";
    out += YamlScalar(items[i]);
  }
  return out + "]";
}

std::string YamlFlowMap(const std::map<std::string, std::string>& entries) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : entries) {
    out += first ? "" : ", ";
    first = false;
    out += YamlScalar(key) + ": " + YamlScalar(value);
  }
  return out + "}";
}

}  // namespace bulkhead::codec
