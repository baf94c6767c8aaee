#include "policy/internal/yaml_util.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <yaml-cpp/eventhandler.h>

#include "policy/internal/text_escape.h"

namespace bulkhead::policy::internal {
namespace {

// yaml-cpp marks are 0-based and -1 when unknown; FileError wants 1-based and 0 when unknown.
int OneBased(int zero_based) { return zero_based >= 0 ? zero_based + 1 : 0; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Records where documents start and ignores everything else.
class DocumentMarks : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

std::string Quote(std::string_view text) {
  // Untrusted text in a one-line message: escaped, and cut short so a huge key cannot flood it.
  constexpr std::size_t kMaxShown = 64;
  if (text.size() > kMaxShown) {
    return JsonString(text.substr(0, kMaxShown)) + "...";
  }
  return JsonString(text);
}

void ErrorList::Add(const YAML::Mark& mark, std::string message) {
  if (errors_.size() >= kMaxErrors) {
    ++dropped_;
    return;
  }
  errors_.push_back(FileError{file_, OneBased(mark.line), OneBased(mark.column),
                              std::move(message)});
}

void ErrorList::Add(const YAML::Node& node, std::string message) {
  if (!node.IsDefined()) {
    Add(YAML::Mark::null_mark(), std::move(message));
    return;
  }
  if (node.IsNull()) {
    for (const auto& [value, key_mark] : empty_values_) {
      if (value.is(node)) {
        Add(key_mark, std::move(message));
        return;
      }
    }
  }
  Add(node.Mark(), std::move(message));
}

void ErrorList::NoteEmptyValue(const YAML::Node& value, const YAML::Mark& key_mark) {
  empty_values_.emplace_back(value, key_mark);
}

FileErrors ErrorList::Take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const FileError& a, const FileError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  FileErrors out{std::move(errors_)};
  if (dropped_ > 0) {
    out.errors.push_back(
        FileError{file_, 0, 0, "... and " + std::to_string(dropped_) + " more errors"});
  }
  errors_.clear();
  dropped_ = 0;
  return out;
}

std::optional<YAML::Node> LoadDocument(std::string_view text, ErrorList& errors) {
  // yaml-cpp reads JSON too (YAML 1.2 is a superset for our purposes). YAML::LoadAll is never
  // used: on some malformed inputs yaml-cpp 0.7 reports documents forever (found by fuzzing),
  // so LoadAll never returns. Load takes the first document; a bounded event pass checks
  // whether a second one follows, which would otherwise be silently ignored.
  const std::string buffer(text);
  YAML::Node root = YAML::Load(buffer);
  std::istringstream in(buffer);
  YAML::Parser parser(in);
  DocumentMarks marks;
  if (parser.HandleNextDocument(marks) && parser.HandleNextDocument(marks) &&
      marks.starts.size() > 1) {
    errors.Add(marks.starts[1], "more than one YAML document; expected exactly one");
  }
  if (!root.IsDefined() || root.IsNull()) {
    errors.Add(YAML::Mark{}, text.find_first_not_of(" \t\r\n") == std::string_view::npos
                                 ? "the file is empty; expected a YAML or JSON mapping"
                                 : "the document is empty; expected a mapping");
    return std::nullopt;
  }
  return root;
}

std::string_view KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "an empty value";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

Fields::Fields(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
               std::string_view where, ErrorList& errors)
    : map_(map), where_(where), errors_(errors) {
  if (!map.IsMap()) {
    return;
  }
  for (const auto& entry : map) {
    const YAML::Node key(entry.first);
    if (!key.IsScalar()) {
      errors.Add(key, "a key in " + where_ + " must be a string, not " + std::string(KindOf(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string known;
      for (const auto k : allowed) {
        known += known.empty() ? "" : ", ";
        known += k;
      }
      errors.Add(key, "unknown key " + Quote(name) + " in " + where_ + " (known: " + known + ")");
      continue;
    }
    const auto seen = std::find_if(values_.begin(), values_.end(),
                                   [&name](const auto& v) { return v.first == name; });
    if (seen != values_.end()) {
      errors.Add(key, "key " + Quote(name) + " given twice in " + where_);
      continue;
    }
    const YAML::Node value(entry.second);
    if (value.IsNull()) {
      errors.NoteEmptyValue(value, key.Mark());
    }
    values_.emplace_back(name, value);
  }
}

const YAML::Node* Fields::Find(std::string_view key) const {
  const auto it = std::find_if(values_.begin(), values_.end(),
                               [key](const auto& v) { return v.first == key; });
  return it == values_.end() ? nullptr : &it->second;
}

const YAML::Node* Fields::Require(std::string_view key) {
  const YAML::Node* value = Find(key);
  if (value == nullptr && map_.IsMap()) {
    errors_.Add(map_, "missing " + Quote(key) + " in " + where_);
  }
  return value;
}

bool ExpectMap(const YAML::Node& node, std::string_view what, ErrorList& errors) {
  if (node.IsMap()) {
    return true;
  }
  errors.Add(node, std::string(what) + " must be a map, not " + std::string(KindOf(node)));
  return false;
}

bool ExpectSequence(const YAML::Node& node, std::string_view what, ErrorList& errors) {
  if (node.IsSequence()) {
    return true;
  }
  errors.Add(node, std::string(what) + " must be a list, not " + std::string(KindOf(node)));
  return false;
}

std::optional<std::string> ReadString(const YAML::Node& node, std::string_view what,
                                      ErrorList& errors) {
  if (!node.IsScalar()) {
    errors.Add(node, std::string(what) + " must be a string, not " + std::string(KindOf(node)));
    return std::nullopt;
  }
  if (!IsValidUtf8(node.Scalar())) {
    errors.Add(node, std::string(what) + " is not valid UTF-8");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::uint64_t> ReadUnsigned(const YAML::Node& node, std::string_view what,
                                          std::uint64_t max, ErrorList& errors) {
  const std::string range = " (0.." + std::to_string(max) + ")";
  if (!node.IsScalar()) {
    errors.Add(node, std::string(what) + " must be an integer" + range + ", not " +
                         std::string(KindOf(node)));
    return std::nullopt;
  }
  const std::string& text = node.Scalar();
  // A quoted "80" is a string in YAML and in JSON; only plain scalars are numbers.
  if (node.Tag() == "!") {
    errors.Add(node, std::string(what) + " must be an integer" + range + ", not the string " +
                         Quote(text));
    return std::nullopt;
  }
  const bool negative = !text.empty() && text[0] == '-';
  const std::string_view digits = negative ? std::string_view(text).substr(1) : text;
  const bool all_digits =
      !digits.empty() && std::all_of(digits.begin(), digits.end(), IsDigit);
  if (!all_digits) {
    errors.Add(node, std::string(what) + " must be an integer" + range + ", not " + Quote(text));
    return std::nullopt;
  }
  if (negative) {
    errors.Add(node, std::string(what) + " must not be negative: " + text);
    return std::nullopt;
  }
  // YAML 1.1 reads a leading zero as octal; refuse the ambiguity.
  if (digits.size() > 1 && digits[0] == '0') {
    errors.Add(node, std::string(what) + " has a leading zero: " + Quote(text));
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : digits) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (d > max || value > (max - d) / 10) {
      errors.Add(node, std::string(what) + " " + Quote(text) + " is out of range" + range);
      return std::nullopt;
    }
    value = value * 10 + d;
  }
  return value;
}

std::vector<std::pair<std::string, YAML::Node>> ReadStringList(const YAML::Node& node,
                                                               std::string_view what,
                                                               ErrorList& errors) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  if (!ExpectSequence(node, what, errors)) {
    return out;
  }
  for (const auto& item : node) {
    const YAML::Node value(item);
    if (auto text = ReadString(value, std::string("an item of ") + std::string(what), errors)) {
      out.emplace_back(std::move(*text), value);
    }
  }
  return out;
}

Labels ReadStringMap(const YAML::Node& node, std::string_view what, ErrorList& errors) {
  Labels out;
  if (!ExpectMap(node, what, errors)) {
    return out;
  }
  for (const auto& entry : node) {
    const YAML::Node key(entry.first);
    const YAML::Node value(entry.second);
    auto k = ReadString(key, std::string("a key of ") + std::string(what), errors);
    auto v = ReadString(value, std::string("a value of ") + std::string(what), errors);
    if (!k || !v) {
      continue;
    }
    if (k->empty()) {
      errors.Add(key, std::string("a key of ") + std::string(what) + " is empty");
      continue;
    }
    if (!out.emplace(std::move(*k), std::move(*v)).second) {
      errors.Add(key, "key " + Quote(key.Scalar()) + " given twice in " + std::string(what));
    }
  }
  return out;
}

void CheckHeader(Fields& fields, std::string_view kind, ErrorList& errors) {
  if (const YAML::Node* api = fields.Require("apiVersion")) {
    if (auto text = ReadString(*api, "apiVersion", errors); text && *text != kApiVersion) {
      errors.Add(*api, "apiVersion must be " + std::string(kApiVersion) + ", not " + Quote(*text));
    }
  }
  if (const YAML::Node* k = fields.Require("kind")) {
    if (auto text = ReadString(*k, "kind", errors); text && *text != kind) {
      errors.Add(*k, "kind must be " + std::string(kind) + ", not " + Quote(*text));
    }
  }
}

std::vector<std::string> ReadGroupBy(const YAML::Node& node, ErrorList& errors) {
  std::vector<std::string> labels;
  std::set<std::string> seen;
  for (auto& [label, item] : ReadStringList(node, "groupBy", errors)) {
    if (label.empty()) {
      errors.Add(item, "a groupBy label is empty");
    } else if (!seen.insert(label).second) {
      errors.Add(item, "groupBy label " + Quote(label) + " given twice");
    } else {
      labels.push_back(std::move(label));
    }
  }
  return labels;
}

}  // namespace bulkhead::policy::internal
