#pragma once

// The reading side of every bulkhead file (Policy, FlowGraph, Inventory, agent configuration),
// over libyaml's event API. Nothing builds a tree of the whole document: the long top-level
// lists (groups, allow, edges, workloads) are read one item at a time and each item, a small
// map, is handed to the format's reader as a Node and dropped. Memory follows the largest item,
// not the file. (yaml-cpp's node tree cost ~24x the file size and 6.2 s for a 5.5 MB policy;
// libyaml's events read it in 0.25 s and 1.7 MiB; bench/README.md.)
//
// Every problem is recorded with its 1-based line and column and reading carries on, so a file
// with five mistakes reports five (STYLE.md rule 11). Only codec/yaml_reader.cc includes libyaml.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "codec/file_error.h"

namespace bulkhead::codec {

inline constexpr std::string_view kApiVersion = "bulkhead/v1";

// The largest Policy, Inventory or agent configuration a reader accepts. Streaming keeps the
// reader itself small; what is left is the model and what the enforcer compiles from it. Measured
// (bench/README.md, "Formats"): `enforce --dry-run` of the 5.6 MB, 100,000-rule policy with its
// 10,000-workload inventory peaks at ~136 MiB, almost all of it the compiled ruleset, and parsing
// that policy alone at ~30 MiB. 8 MiB of policy keeps the agent's compile near 200 MiB, inside a
// 256 MiB container.
inline constexpr std::size_t kMaxInputBytes = std::size_t{8} << 20;

// A position in the text, 0-based as libyaml counts; -1 when unknown.
struct Mark {
  int line = -1;
  int column = -1;
};

// One YAML value: a scalar (or null), a list or a map. Small by construction: the streaming
// reader builds one per list item, never one for the whole document.
class Node {
 public:
  enum class Kind : std::uint8_t { kNull, kScalar, kSequence, kMap };

  Node() = default;
  Node(Kind kind, Mark mark) : kind_(kind), mark_(mark) {}

  bool IsNull() const { return kind_ == Kind::kNull; }
  bool IsScalar() const { return kind_ == Kind::kScalar; }
  bool IsSequence() const { return kind_ == Kind::kSequence; }
  bool IsMap() const { return kind_ == Kind::kMap; }
  Kind kind() const { return kind_; }
  Mark Where() const { return mark_; }
  // The text of a scalar (empty for other kinds).
  const std::string& Scalar() const { return value_; }
  // As yaml-cpp spells it: "?" for a plain scalar, "!" for a quoted or block one (so `"80"` is a
  // string, never a number), otherwise the explicit tag.
  const std::string& Tag() const { return tag_; }
  // Items of a list, or entries of a map.
  std::size_t size() const { return IsMap() ? children_.size() / 2 : children_.size(); }
  const std::vector<Node>& Items() const { return children_; }
  const Node& Key(std::size_t i) const { return children_[2 * i]; }
  const Node& Value(std::size_t i) const { return children_[2 * i + 1]; }
  // The scalar held bytes that are not UTF-8 (they read as U+FFFD).
  bool HadInvalidUtf8() const { return invalid_utf8_; }

 private:
  friend class NodeBuilder;
  Kind kind_ = Kind::kNull;
  Mark mark_;
  std::string value_;
  std::string tag_;
  std::vector<Node> children_;  // a map's keys and values alternate
  bool invalid_utf8_ = false;
};

// Collects the errors of one file. Past kMaxErrors it stops recording (a hostile file could
// otherwise produce one error per byte) and says how many it dropped.
class ErrorList {
 public:
  static constexpr std::size_t kMaxErrors = 1000;

  explicit ErrorList(std::string_view file) : file_(file) {}

  void Add(Mark mark, std::string message);
  // At the node. An empty value (`name:` with nothing after it) carries its key's position.
  void Add(const Node& node, std::string message);
  bool empty() const { return errors_.empty(); }
  // The errors sorted by position (file order), with a final note if some were dropped.
  FileErrors Take();

 private:
  std::string file_;
  std::vector<FileError> errors_;
  std::size_t dropped_ = 0;
};

// Untrusted text for a one-line message: JSON-escaped, double-quoted, cut at 64 bytes.
std::string Quote(std::string_view text);

// "a map", "a list", "a scalar", "an empty value": for messages about wrong node types.
std::string_view KindOf(const Node& node);

// A top-level list read item by item: `on_item` gets each item and keeps what it needs. With
// `whole_value`, `on_item` gets the key's whole value instead (any kind), in file order.
struct ListKey {
  std::string_view key;
  std::function<void(const Node& item)> on_item;
  bool whole_value = false;
};

// Reads `text` as exactly one YAML (or JSON) document whose root is a map with the `allowed`
// keys (`where` names it in messages: "the Policy"). Unknown and repeated top-level keys are
// errors at the key; the values of `lists` keys go item by item to their callbacks (a value
// that is not a list is an error); every other value is returned in a map Node located at the
// root, for Fields. nullopt when reading stopped early: a syntax error, a root that is not a
// map, an empty document. The caller then checks nothing more (what is missing is unknown).
std::optional<Node> StreamDocument(std::string_view text, std::string_view where,
                                   std::initializer_list<std::string_view> allowed,
                                   const std::vector<ListKey>& lists, ErrorList& errors);

// The value of the root mapping's `kind` key, read without building the document (the root's
// other values are skipped, not kept): which reader a file of several possible kinds needs.
// nullopt when there is none to find (not a mapping, no `kind`, a syntax error before it); the
// chosen reader then reports what is wrong, with its line and column.
std::optional<std::string> PeekKind(std::string_view text);

// Reads `text` as exactly one small document (the agent configuration) into a Node.
std::optional<Node> ReadDocument(std::string_view text, ErrorList& errors);

// The known keys of one mapping, each with its value node. Unknown keys (typos) and keys given
// twice are errors located at the key. The Fields refer into `map`, which must outlive them.
class Fields {
 public:
  Fields(const Node& map, std::initializer_list<std::string_view> allowed, std::string_view where,
         ErrorList& errors);

  // The value of `key`, or nullptr when the key is absent.
  const Node* Find(std::string_view key) const;
  // As Find, but a missing key is an error located at the mapping.
  const Node* Require(std::string_view key);

 private:
  const Node& map_;
  std::string_view where_;
  ErrorList& errors_;
  std::vector<std::pair<std::string_view, const Node*>> values_;
};

// `node` must be a mapping / a sequence; otherwise an error naming `what` and what it was.
bool ExpectMap(const Node& node, std::string_view what, ErrorList& errors);
bool ExpectSequence(const Node& node, std::string_view what, ErrorList& errors);

// A scalar holding valid UTF-8 (names and label values are untrusted and are written back out).
std::optional<std::string> ReadString(const Node& node, std::string_view what, ErrorList& errors);
// An unquoted decimal integer in 0..max (no sign, no leading zeros, no exponent).
std::optional<std::uint64_t> ReadUnsigned(const Node& node, std::string_view what,
                                          std::uint64_t max, ErrorList& errors);
// A list of strings; each item with its node, for callers that check items further.
std::vector<std::pair<std::string, const Node*>> ReadStringList(const Node& node,
                                                                std::string_view what,
                                                                ErrorList& errors);
// A mapping of strings to strings (labels, selectors); duplicate keys are errors.
std::map<std::string, std::string> ReadStringMap(const Node& node, std::string_view what,
                                                 ErrorList& errors);
// `groupBy`: a list of non-empty, distinct labels (FlowGraph and agent configuration share it).
std::vector<std::string> ReadGroupBy(const Node& node, ErrorList& errors);

// Checks `apiVersion: bulkhead/v1` and `kind: <kind>` of a top-level mapping.
void CheckHeader(Fields& fields, std::string_view kind, ErrorList& errors);

// The common shape of every codec's Parse function: refuse a text over `max_bytes`, let
// `read(text, errors, value)` fill a T, and turn an allocation failure and the collected errors
// into FileErrors (never empty on failure).
template <typename T, typename Read>
boost::system::result<T, FileErrors> ParseDocument(std::string_view text,
                                                   std::string_view file_name, Read&& read,
                                                   std::size_t max_bytes = kMaxInputBytes);

// Reads `path` ("-" = standard input), refusing one over kMaxInputBytes before it is all in
// memory. The error is one line naming the file.
boost::system::result<std::string, std::string> ReadInputFile(const std::string& path,
                                                              std::size_t max_bytes);

// Reads `path` with ReadInputFile and parses it with `parse(text, name)`. A file that cannot be
// read is one FileError naming the file.
template <typename Parse>
auto LoadDocumentFile(const std::string& path, Parse&& parse,
                      std::size_t max_bytes = kMaxInputBytes)
    -> decltype(parse(std::string_view(), std::string_view())) {
  const std::string name = path == "-" ? std::string("standard input") : path;
  auto text = ReadInputFile(path, max_bytes);
  if (!text) {
    std::string message = text.error();
    if (message.rfind(name + ": ", 0) == 0) {
      message.erase(0, name.size() + 2);
    }
    return FileErrors{{FileError{name, 0, 0, std::move(message)}}};
  }
  return parse(*text, name);
}

// "the file is 20.0 MiB; bulkhead reads files of this kind of at most 8 MiB ...".
std::string TooLargeMessage(std::size_t size, std::size_t max_bytes);

template <typename T, typename Read>
boost::system::result<T, FileErrors> ParseDocument(std::string_view text,
                                                   std::string_view file_name, Read&& read,
                                                   std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return FileErrors{
        {FileError{std::string(file_name), 0, 0, TooLargeMessage(text.size(), max_bytes)}}};
  }
  ErrorList errors(file_name);
  T value;
  try {
    read(text, errors, value);
  } catch (const std::exception& e) {
    // Only allocation failures can get here: the readers themselves do not throw.
    errors.Add(Mark{}, std::string("cannot read the file: ") + e.what());
  }
  if (!errors.empty()) {
    return errors.Take();
  }
  return value;
}

}  // namespace bulkhead::codec
