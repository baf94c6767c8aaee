#pragma once

// The one place (with the codec .cc files) that sees yaml-cpp (STYLE.md rule 11). Readers walk
// the yaml-cpp node tree with these helpers, which never throw, record every problem with the
// node's 1-based line and column and keep going, so a file with five mistakes reports five.
//
// yaml-cpp gotcha: `YAML::Node a = ...; a = b;` rebinds the *document* node, so helpers only
// ever copy-construct nodes and never assign them.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>
#include <yaml-cpp/yaml.h>

#include "policy/atomic_file.h"
#include "policy/file_error.h"
#include "policy/model.h"

namespace bulkhead::policy::internal {

inline constexpr std::string_view kApiVersion = "bulkhead/v1";

// Collects the errors of one file. Past kMaxErrors it stops recording (a hostile file could
// otherwise produce one error per byte) and says how many it dropped.
class ErrorList {
 public:
  static constexpr std::size_t kMaxErrors = 1000;

  explicit ErrorList(std::string_view file) : file_(file) {}

  void Add(const YAML::Mark& mark, std::string message);
  // At the node; an empty value (`name:` with nothing after it) is located at its key, because
  // yaml-cpp marks it at the next token, often on the next line.
  void Add(const YAML::Node& node, std::string message);
  void NoteEmptyValue(const YAML::Node& value, const YAML::Mark& key_mark);
  bool empty() const { return errors_.empty(); }
  // The errors sorted by position (file order), with a final note if some were dropped.
  FileErrors Take();

 private:
  std::string file_;
  std::vector<FileError> errors_;
  std::size_t dropped_ = 0;
  std::vector<std::pair<YAML::Node, YAML::Mark>> empty_values_;
};

// Parses `text` as exactly one YAML (or JSON) document. Syntax errors, an empty input and a
// second document are reported; the result is empty then.
std::optional<YAML::Node> LoadDocument(std::string_view text, ErrorList& errors);

// Untrusted text for a one-line message: JSON-escaped, double-quoted, cut at 64 bytes.
std::string Quote(std::string_view text);

// "a map", "a list", "a string", "an empty value": for messages about wrong node types.
std::string_view KindOf(const YAML::Node& node);

// The known keys of one mapping, each with its value node. Unknown keys (typos) and keys given
// twice are errors located at the key.
class Fields {
 public:
  Fields(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
         std::string_view where, ErrorList& errors);

  // The value of `key`, or nullptr when the key is absent.
  const YAML::Node* Find(std::string_view key) const;
  // As Find, but a missing key is an error located at the mapping.
  const YAML::Node* Require(std::string_view key);

 private:
  YAML::Node map_;
  std::string where_;
  ErrorList& errors_;
  std::vector<std::pair<std::string, YAML::Node>> values_;
};

// `node` must be a mapping / a sequence; otherwise an error naming `what` and what it was.
bool ExpectMap(const YAML::Node& node, std::string_view what, ErrorList& errors);
bool ExpectSequence(const YAML::Node& node, std::string_view what, ErrorList& errors);

// A scalar holding valid UTF-8 (names and label values are untrusted and are written back out).
std::optional<std::string> ReadString(const YAML::Node& node, std::string_view what,
                                      ErrorList& errors);
// An unquoted decimal integer in 0..max (no sign, no leading zeros, no exponent).
std::optional<std::uint64_t> ReadUnsigned(const YAML::Node& node, std::string_view what,
                                          std::uint64_t max, ErrorList& errors);
// A list of strings; each item with its node, for callers that check items further.
std::vector<std::pair<std::string, YAML::Node>> ReadStringList(const YAML::Node& node,
                                                               std::string_view what,
                                                               ErrorList& errors);
// A mapping of strings to strings (labels, selectors); duplicate keys are errors.
// `groupBy`: a list of non-empty, distinct labels (FlowGraph and Policy share it).
std::vector<std::string> ReadGroupBy(const YAML::Node& node, ErrorList& errors);

Labels ReadStringMap(const YAML::Node& node, std::string_view what, ErrorList& errors);

// Checks `apiVersion: bulkhead/v1` and `kind: <kind>` of a top-level mapping.
void CheckHeader(Fields& fields, std::string_view kind, ErrorList& errors);

// Runs `body`, turning any exception (yaml-cpp's, or an allocation failure) into an error so
// none escapes a codec function. Returns false when `body` threw.
template <typename Body>
bool Guarded(ErrorList& errors, Body&& body) {
  try {
    body();
    return true;
  } catch (const YAML::Exception& e) {
    errors.Add(e.mark, e.msg);
  } catch (const std::exception& e) {
    errors.Add(YAML::Mark::null_mark(), std::string("cannot read the file: ") + e.what());
  }
  return false;
}

// The common shape of every codec's Parse function: load one YAML document, let `read` fill a
// T, and turn exceptions and collected errors into FileErrors (never empty on failure).
template <typename T, typename Read>
boost::system::result<T, FileErrors> ParseDocument(std::string_view text,
                                                   std::string_view file_name, Read&& read) {
  ErrorList errors(file_name);
  T value;
  const bool completed = Guarded(errors, [&] {
    if (auto root = LoadDocument(text, errors)) {
      read(*root, errors, value);
    }
  });
  if (!completed || !errors.empty()) {
    FileErrors out = errors.Take();
    if (out.errors.empty()) {
      out.errors.push_back(FileError{std::string(file_name), 0, 0, "cannot read the file"});
    }
    return out;
  }
  return value;
}

// Reads `path` ("-" = standard input) and parses it with `parse(text, name)`. A file that cannot
// be read is one FileError naming the file (once: ReadWholeFile's message already starts with it).
template <typename Parse>
auto LoadDocumentFile(const std::string& path, Parse&& parse)
    -> decltype(parse(std::string_view(), std::string_view())) {
  const std::string name = path == "-" ? std::string("standard input") : path;
  auto text = ReadWholeFile(path);
  if (!text) {
    std::string message = text.error();
    if (message.rfind(name + ": ", 0) == 0) {
      message.erase(0, name.size() + 2);
    }
    return FileErrors{{FileError{name, 0, 0, std::move(message)}}};
  }
  return parse(*text, name);
}

}  // namespace bulkhead::policy::internal
