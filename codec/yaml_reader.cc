#include "codec/yaml_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <set>
#include <tuple>

#include "codec/text_escape.h"

namespace bulkhead::codec {
namespace {

// Our formats nest four levels deep at most. The limit keeps a hostile `[[[[...` from building
// (and recursively destroying) a node chain deep enough to exhaust the stack.
constexpr std::size_t kMaxDepth = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int ToInt(std::size_t value) { return static_cast<int>(std::min<std::size_t>(value, INT_MAX)); }

Mark ToMark(const yaml_mark_t& mark) { return Mark{ToInt(mark.line), ToInt(mark.column)}; }

// yaml-cpp's null spellings (YAML 1.2 core schema), for plain scalars only.
bool IsNullText(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";  // U+FFFD

bool IsHexOrColonOrDot(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

// libyaml follows YAML 1.1, where a ':' inside [..] or {..} always separates a key from its
// value, so an unquoted IPv6 address that starts with "::" (`[::1, fd00::1]`, which YAML 1.2
// and yaml-cpp, the previous reader, accept) is a syntax error. Such an address, found where a
// flow item or value starts, is quoted before parsing. The text after it on the same line
// moves right by two columns.
bool QuoteLeadingColonAddresses(std::string& text) {
  bool changed = false;
  int flow_depth = 0;
  char quote = 0;
  char previous = '\n';  // the last character that was not a blank
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      previous = c;
      continue;
    }
    if (c == '#' && (previous == '\n' || i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
      previous = '\n';
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++flow_depth;
    } else if ((c == ']' || c == '}') && flow_depth > 0) {
      --flow_depth;
    } else if (c == ':' && flow_depth > 0 && i + 1 < text.size() && text[i + 1] == ':' &&
               (previous == '[' || previous == '{' || previous == ',' || previous == ':')) {
      std::size_t end = i;
      while (end < text.size() && IsHexOrColonOrDot(text[end])) {
        ++end;
      }
      const char after = end < text.size() ? text[end] : '\n';
      if (after == ' ' || after == '\t' || after == ',' || after == ']' || after == '}' ||
          after == '\r' || after == '\n') {
        text.insert(end, 1, '"');
        text.insert(i, 1, '"');
        changed = true;
        i = end + 1;
        previous = '"';
        continue;
      }
    }
    if (c != ' ' && c != '\t') {
      previous = c;
    }
  }
  return changed;
}

// Owns one libyaml parser over a text and its current event. After a syntax error (recorded
// with its position) or Stop() it yields no more events.
class EventStream {
 public:
  EventStream(std::string_view text, ErrorList& errors) : text_(text), errors_(errors) {
    // libyaml stops at the first byte that is not UTF-8, with no line or column. Replaced by
    // U+FFFD, the text parses on and the string holding it is reported where it is (ReadString).
    if (!IsValidUtf8(text_)) {
      prepared_ = ReplaceInvalidUtf8(text_);
      repaired_utf8_ = true;
    }
    if (text_.find("::") != std::string_view::npos) {
      std::string copy = prepared_ ? std::move(*prepared_) : std::string(text_);
      if (QuoteLeadingColonAddresses(copy) || repaired_utf8_) {
        prepared_ = std::move(copy);
      }
    }
    if (prepared_) {
      text_ = *prepared_;
    }
    if (yaml_parser_initialize(&parser_) == 0) {
      Stop(Mark{}, "cannot read the file: out of memory");
      return;
    }
    initialized_ = true;
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text_.data()),
                                 text_.size());
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  ~EventStream() {
    ClearEvent();
    if (initialized_) {
      yaml_parser_delete(&parser_);
    }
  }

  // Moves to the next event; false once stopped.
  bool Next() {
    ClearEvent();
    if (stopped_) {
      return false;
    }
    if (yaml_parser_parse(&parser_, &event_) == 0) {
      RecordSyntaxError();
      stopped_ = true;
      return false;
    }
    has_event_ = true;
    return true;
  }

  yaml_event_type_t type() const { return has_event_ ? event_.type : YAML_NO_EVENT; }
  const yaml_event_t& event() const { return event_; }
  Mark Where() const { return ToMark(event_.start_mark); }
  bool stopped() const { return stopped_; }
  bool repaired_utf8() const { return repaired_utf8_; }

  void Stop(Mark mark, std::string message) {
    errors_.Add(mark, std::move(message));
    stopped_ = true;
  }

 private:
  void ClearEvent() {
    if (has_event_) {
      yaml_event_delete(&event_);
      has_event_ = false;
    }
  }

  void RecordSyntaxError() {
    if (parser_.error == YAML_READER_ERROR) {
      // Encoding problems carry a byte offset rather than a mark.
      errors_.Add(Mark{}, std::string(parser_.problem != nullptr ? parser_.problem
                                                                 : "cannot decode the text") +
                              " at byte " + std::to_string(parser_.problem_offset));
      return;
    }
    if (parser_.error == YAML_MEMORY_ERROR) {
      errors_.Add(Mark{}, "cannot read the file: out of memory");
      return;
    }
    std::string message = parser_.problem != nullptr ? parser_.problem : "not valid YAML";
    const std::size_t at = parser_.problem_mark.index;
    if (at < text_.size() && (text_[at] == ']' || text_[at] == '}')) {
      // A closing bracket with no opening one. yaml-cpp, the previous reader, called it an
      // "illegal flow end"; the name says more than libyaml's "did not find expected key".
      message = "illegal flow end";
    } else if (parser_.context != nullptr) {
      const Mark context = ToMark(parser_.context_mark);
      message += " (" + std::string(parser_.context) + " at line " +
                 std::to_string(context.line + 1) + ")";
    }
    errors_.Add(ToMark(parser_.problem_mark), std::move(message));
  }

  std::optional<std::string> prepared_;  // the text as changed before parsing, if it was
  std::string_view text_;
  bool repaired_utf8_ = false;
  ErrorList& errors_;
  yaml_parser_t parser_{};
  yaml_event_t event_{};
  bool initialized_ = false;
  bool has_event_ = false;
  bool stopped_ = false;
};

}  // namespace

// Builds Nodes from events without recursion (a hostile file may nest deeply).
class NodeBuilder {
 public:
  // Reads the node whose first event is the stream's current one, through its last event.
  // nullopt when the stream stopped (the error is recorded).
  static std::optional<Node> Read(EventStream& events) {
    std::vector<Node> open;
    std::optional<Node> done;
    while (true) {
      switch (events.type()) {
        case YAML_SCALAR_EVENT:
          Attach(open, Scalar(events), done);
          break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
          if (open.size() >= kMaxDepth) {
            events.Stop(events.Where(),
                        "nested deeper than " + std::to_string(kMaxDepth) + " levels");
            return std::nullopt;
          }
          open.emplace_back(
              events.type() == YAML_MAPPING_START_EVENT ? Node::Kind::kMap : Node::Kind::kSequence,
              events.Where());
          break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
          Node finished = std::move(open.back());
          open.pop_back();
          Attach(open, std::move(finished), done);
          break;
        }
        case YAML_ALIAS_EVENT: {
          // A streaming reader cannot go back to an anchored value, and aliases are how
          // "billion laughs" files multiply a small text into a huge one. Nothing bulkhead
          // writes uses them.
          const char* anchor = reinterpret_cast<const char*>(events.event().data.alias.anchor);
          events.Stop(events.Where(), "aliases (*" + std::string(anchor != nullptr ? anchor : "") +
                                          ") are not supported; write the value out");
          return std::nullopt;
        }
        default:
          if (!events.stopped()) {
            events.Stop(events.Where(), "unexpected YAML structure");
          }
          return std::nullopt;
      }
      if (done) {
        return done;
      }
      if (!events.Next()) {
        return std::nullopt;
      }
    }
  }

  // Consumes the node at the current event without keeping it (an unknown or repeated key's
  // value). False when the stream stopped.
  static bool Skip(EventStream& events) {
    std::size_t depth = 0;
    while (true) {
      const auto type = events.type();
      if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
        ++depth;
      } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
        --depth;
      } else if (type != YAML_SCALAR_EVENT && type != YAML_ALIAS_EVENT) {
        return false;
      }
      if (depth == 0) {
        return true;
      }
      if (!events.Next()) {
        return false;
      }
    }
  }

  // Adds a key and its value to a map node. An empty value takes its key's position: libyaml
  // marks it at the next token, often on the next line.
  static void AddEntry(Node& map, Node key, Node value) {
    if (value.IsNull()) {
      value.mark_ = key.mark_;
    }
    map.children_.push_back(std::move(key));
    map.children_.push_back(std::move(value));
  }

 private:
  static Node Scalar(const EventStream& events) {
    const auto& scalar = events.event().data.scalar;
    std::string text(reinterpret_cast<const char*>(scalar.value), scalar.length);
    const bool plain = scalar.style == YAML_PLAIN_SCALAR_STYLE;
    const bool tagged = scalar.tag != nullptr;
    Node node(plain && !tagged && IsNullText(text) ? Node::Kind::kNull : Node::Kind::kScalar,
              events.Where());
    if (node.IsScalar()) {
      node.invalid_utf8_ =
          events.repaired_utf8() && text.find(kReplacementUtf8) != std::string::npos;
      node.value_ = std::move(text);
    }
    node.tag_ = tagged ? std::string(reinterpret_cast<const char*>(scalar.tag))
                       : std::string(plain ? "?" : "!");
    return node;
  }

  static void Attach(std::vector<Node>& open, Node node, std::optional<Node>& done) {
    if (open.empty()) {
      done = std::move(node);
      return;
    }
    Node& parent = open.back();
    if (parent.IsMap() && parent.children_.size() % 2 == 1 && node.IsNull()) {
      node.mark_ = parent.children_.back().mark_;
    }
    parent.children_.push_back(std::move(node));
  }
};

namespace {

void AddEmptyError(std::string_view text, ErrorList& errors) {
  errors.Add(Mark{0, 0}, text.find_first_not_of(" \t\r\n") == std::string_view::npos
                             ? "the file is empty; expected a YAML or JSON mapping"
                             : "the document is empty; expected a mapping");
}

// From the stream start to the root node's first event. False for an empty file (recorded).
bool StartDocument(std::string_view text, EventStream& events, ErrorList& errors) {
  if (!events.Next() || !events.Next()) {
    return false;
  }
  if (events.type() == YAML_STREAM_END_EVENT) {
    AddEmptyError(text, errors);
    return false;
  }
  return events.Next();
}

// After the root node: a second document would otherwise be silently ignored.
void FinishDocument(EventStream& events, ErrorList& errors) {
  if (events.Next() && events.Next() && events.type() == YAML_DOCUMENT_START_EVENT) {
    errors.Add(events.Where(), "more than one YAML document; expected exactly one");
  }
}

std::string KnownKeys(std::initializer_list<std::string_view> allowed) {
  std::string known;
  for (const auto k : allowed) {
    known += known.empty() ? "" : ", ";
    known += k;
  }
  return known;
}

// A top-level list value: item by item to `list.on_item`. False when the stream stopped.
bool StreamList(EventStream& events, const Node& key, const ListKey& list, ErrorList& errors) {
  if (events.type() == YAML_SEQUENCE_START_EVENT && !list.whole_value) {
    while (events.Next()) {
      if (events.type() == YAML_SEQUENCE_END_EVENT) {
        return true;
      }
      auto item = NodeBuilder::Read(events);
      if (!item) {
        return false;
      }
      list.on_item(*item);
    }
    return false;
  }
  auto value = NodeBuilder::Read(events);
  if (!value) {
    return false;
  }
  Node holder(Node::Kind::kMap, key.Where());
  NodeBuilder::AddEntry(holder, key, std::move(*value));
  if (list.whole_value) {
    list.on_item(holder.Value(0));
  } else {
    ExpectSequence(holder.Value(0), list.key, errors);
  }
  return true;
}

// The root map, key by key. Returns the values that are not streamed lists.
std::optional<Node> StreamRootMap(EventStream& events, std::string_view where,
                                  std::initializer_list<std::string_view> allowed,
                                  const std::vector<ListKey>& lists, ErrorList& errors) {
  Node top(Node::Kind::kMap, events.Where());
  std::set<std::string, std::less<>> seen;
  while (events.Next()) {
    if (events.type() == YAML_MAPPING_END_EVENT) {
      return top;
    }
    auto key = NodeBuilder::Read(events);
    if (!key || !events.Next()) {
      return std::nullopt;
    }
    const std::string& name = key->Scalar();
    bool skip = true;
    if (!key->IsScalar()) {
      errors.Add(*key, "a key in " + std::string(where) + " must be a string, not " +
                           std::string(KindOf(*key)));
    } else if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      errors.Add(*key, "unknown key " + Quote(name) + " in " + std::string(where) +
                           " (known: " + KnownKeys(allowed) + ")");
    } else if (!seen.insert(name).second) {
      errors.Add(*key, "key " + Quote(name) + " given twice in " + std::string(where));
    } else {
      skip = false;
    }
    if (skip) {
      if (!NodeBuilder::Skip(events)) {
        return std::nullopt;
      }
      continue;
    }
    const auto list = std::find_if(lists.begin(), lists.end(),
                                   [&name](const ListKey& l) { return l.key == name; });
    if (list != lists.end()) {
      if (!StreamList(events, *key, *list, errors)) {
        return std::nullopt;
      }
      continue;
    }
    auto value = NodeBuilder::Read(events);
    if (!value) {
      return std::nullopt;
    }
    NodeBuilder::AddEntry(top, std::move(*key), std::move(*value));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Node> StreamDocument(std::string_view text, std::string_view where,
                                   std::initializer_list<std::string_view> allowed,
                                   const std::vector<ListKey>& lists, ErrorList& errors) {
  EventStream events(text, errors);
  if (!StartDocument(text, events, errors)) {
    return std::nullopt;
  }
  if (events.type() != YAML_MAPPING_START_EVENT) {
    auto root = NodeBuilder::Read(events);
    if (root && root->IsNull()) {
      AddEmptyError(text, errors);
    } else if (root) {
      ExpectMap(*root, std::string(where) + " document", errors);
    }
    return std::nullopt;
  }
  auto top = StreamRootMap(events, where, allowed, lists, errors);
  if (top) {
    FinishDocument(events, errors);
  }
  return top;
}

std::optional<std::string> PeekKind(std::string_view text) {
  ErrorList errors("");  // the reader that follows reports them
  EventStream events(text, errors);
  if (!StartDocument(text, events, errors) || events.type() != YAML_MAPPING_START_EVENT) {
    return std::nullopt;
  }
  while (events.Next() && events.type() != YAML_MAPPING_END_EVENT) {
    auto key = NodeBuilder::Read(events);
    if (!key || !events.Next()) {
      return std::nullopt;
    }
    if (key->IsScalar() && key->Scalar() == "kind") {
      auto value = NodeBuilder::Read(events);
      if (!value || !value->IsScalar()) {
        return std::nullopt;
      }
      return value->Scalar();
    }
    if (!NodeBuilder::Skip(events)) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<Node> ReadDocument(std::string_view text, ErrorList& errors) {
  EventStream events(text, errors);
  if (!StartDocument(text, events, errors)) {
    return std::nullopt;
  }
  auto root = NodeBuilder::Read(events);
  if (!root) {
    return std::nullopt;
  }
  if (root->IsNull()) {
    AddEmptyError(text, errors);
    return std::nullopt;
  }
  FinishDocument(events, errors);
  return root;
}

std::string Quote(std::string_view text) {
  // Untrusted text in a one-line message: escaped, and cut short so a huge key cannot flood it.
  constexpr std::size_t kMaxShown = 64;
  if (text.size() > kMaxShown) {
    return JsonString(text.substr(0, kMaxShown)) + "...";
  }
  return JsonString(text);
}

void ErrorList::Add(Mark mark, std::string message) {
  if (errors_.size() >= kMaxErrors) {
    ++dropped_;
    return;
  }
  // libyaml counts from 0; FileError from 1, with 0 for unknown.
  errors_.push_back(FileError{file_, mark.line >= 0 ? mark.line + 1 : 0,
                              mark.column >= 0 ? mark.column + 1 : 0, std::move(message)});
}

void ErrorList::Add(const Node& node, std::string message) {
  Add(node.Where(), std::move(message));
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

std::string_view KindOf(const Node& node) {
  switch (node.kind()) {
    case Node::Kind::kMap:
      return "a map";
    case Node::Kind::kSequence:
      return "a list";
    case Node::Kind::kScalar:
      return "a scalar";
    case Node::Kind::kNull:
      return "an empty value";
  }
  return "nothing";
}

Fields::Fields(const Node& map, std::initializer_list<std::string_view> allowed,
               std::string_view where, ErrorList& errors)
    : map_(map), where_(where), errors_(errors) {
  if (!map.IsMap()) {
    return;
  }
  values_.reserve(map.size());
  for (std::size_t i = 0; i < map.size(); ++i) {
    const Node& key = map.Key(i);
    if (!key.IsScalar()) {
      errors.Add(key, "a key in " + std::string(where_) + " must be a string, not " +
                          std::string(KindOf(key)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      errors.Add(key, "unknown key " + Quote(name) + " in " + std::string(where_) +
                          " (known: " + KnownKeys(allowed) + ")");
      continue;
    }
    const auto seen = std::find_if(values_.begin(), values_.end(),
                                   [&name](const auto& v) { return v.first == name; });
    if (seen != values_.end()) {
      errors.Add(key, "key " + Quote(name) + " given twice in " + std::string(where_));
      continue;
    }
    values_.emplace_back(name, &map.Value(i));
  }
}

const Node* Fields::Find(std::string_view key) const {
  const auto it =
      std::find_if(values_.begin(), values_.end(), [key](const auto& v) { return v.first == key; });
  return it == values_.end() ? nullptr : it->second;
}

const Node* Fields::Require(std::string_view key) {
  const Node* value = Find(key);
  if (value == nullptr && map_.IsMap()) {
    errors_.Add(map_, "missing " + Quote(key) + " in " + std::string(where_));
  }
  return value;
}

bool ExpectMap(const Node& node, std::string_view what, ErrorList& errors) {
  if (node.IsMap()) {
    return true;
  }
  errors.Add(node, std::string(what) + " must be a map, not " + std::string(KindOf(node)));
  return false;
}

bool ExpectSequence(const Node& node, std::string_view what, ErrorList& errors) {
  if (node.IsSequence()) {
    return true;
  }
  errors.Add(node, std::string(what) + " must be a list, not " + std::string(KindOf(node)));
  return false;
}

std::optional<std::string> ReadString(const Node& node, std::string_view what, ErrorList& errors) {
  if (!node.IsScalar()) {
    errors.Add(node, std::string(what) + " must be a string, not " + std::string(KindOf(node)));
    return std::nullopt;
  }
  if (node.HadInvalidUtf8() || !IsValidUtf8(node.Scalar())) {
    errors.Add(node, std::string(what) + " is not valid UTF-8");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::uint64_t> ReadUnsigned(const Node& node, std::string_view what,
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
  const bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(), IsDigit);
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

std::vector<std::pair<std::string, const Node*>> ReadStringList(const Node& node,
                                                                std::string_view what,
                                                                ErrorList& errors) {
  std::vector<std::pair<std::string, const Node*>> out;
  if (!ExpectSequence(node, what, errors)) {
    return out;
  }
  out.reserve(node.size());
  for (const Node& item : node.Items()) {
    if (auto text = ReadString(item, std::string("an item of ") + std::string(what), errors)) {
      out.emplace_back(std::move(*text), &item);
    }
  }
  return out;
}

std::map<std::string, std::string> ReadStringMap(const Node& node, std::string_view what,
                                                 ErrorList& errors) {
  std::map<std::string, std::string> out;
  if (!ExpectMap(node, what, errors)) {
    return out;
  }
  for (std::size_t i = 0; i < node.size(); ++i) {
    const Node& key = node.Key(i);
    auto k = ReadString(key, std::string("a key of ") + std::string(what), errors);
    auto v = ReadString(node.Value(i), std::string("a value of ") + std::string(what), errors);
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
  if (const Node* api = fields.Require("apiVersion")) {
    if (auto text = ReadString(*api, "apiVersion", errors); text && *text != kApiVersion) {
      errors.Add(*api, "apiVersion must be " + std::string(kApiVersion) + ", not " + Quote(*text));
    }
  }
  if (const Node* k = fields.Require("kind")) {
    if (auto text = ReadString(*k, "kind", errors); text && *text != kind) {
      errors.Add(*k, "kind must be " + std::string(kind) + ", not " + Quote(*text));
    }
  }
}

std::vector<std::string> ReadGroupBy(const Node& node, ErrorList& errors) {
  std::vector<std::string> labels;
  std::set<std::string> seen;
  for (auto& [label, item] : ReadStringList(node, "groupBy", errors)) {
    if (label.empty()) {
      errors.Add(*item, "a groupBy label is empty");
    } else if (!seen.insert(label).second) {
      errors.Add(*item, "groupBy label " + Quote(label) + " given twice");
    } else {
      labels.push_back(std::move(label));
    }
  }
  return labels;
}

std::string TooLargeMessage(std::size_t size, std::size_t max_bytes) {
  std::array<char, 32> mib{};
  std::snprintf(mib.data(), mib.size(), "%.1f", static_cast<double>(size) / (1 << 20));
  return "the file is " + std::string(mib.data()) + " MiB; bulkhead reads such files up to " +
         std::to_string(max_bytes >> 20) + " MiB, so that it runs in a 256 MiB container";
}

boost::system::result<std::string, std::string> ReadInputFile(const std::string& path,
                                                              std::size_t max_bytes) {
  using Result = boost::system::result<std::string, std::string>;
  const bool from_stdin = path == "-";
  const std::string name = from_stdin ? std::string("standard input") : path;
  const int fd = from_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Result(boost::system::in_place_error, name + ": cannot open: " + std::strerror(errno));
  }
  // Closes the file on every way out (standard input stays open).
  struct Closer {
    int fd;
    bool own;
    ~Closer() {
      if (own) {
        ::close(fd);
      }
    }
  } closer{fd, !from_stdin};
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return Result(boost::system::in_place_error, name + ": is a directory");
    }
    // Refuse before reading: the point of the limit is to never hold such a file in memory.
    if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
      return Result(boost::system::in_place_error,
                    name + ": " + TooLargeMessage(static_cast<std::size_t>(st.st_size), max_bytes));
    }
  }
  std::string out;
  std::array<char, 65536> buf{};
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Result(boost::system::in_place_error, name + ": cannot read: " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      return Result(
          boost::system::in_place_error,
          name + ": " + TooLargeMessage(out.size() + static_cast<std::size_t>(n), max_bytes));
    }
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return Result(boost::system::in_place_value, std::move(out));
}

}  // namespace bulkhead::codec
