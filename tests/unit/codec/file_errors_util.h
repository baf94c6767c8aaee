#pragma once
// What the codec test of every file format checks of a FileErrors: where the errors are, and the
// one error of a text with exactly one problem.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "codec/file_error.h"

namespace bulkhead::codec::test {

// "line:col" of every error, in order.
inline std::vector<std::string> Locations(const FileErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors.errors) {
    out.push_back(std::to_string(e.line) + ":" + std::to_string(e.column));
  }
  return out;
}

// The errors of `parsed`, the result of reading `text`: a test failure (showing the text) when
// it was accepted.
template <typename Result>
FileErrors ExpectFailed(const Result& parsed, std::string_view text) {
  EXPECT_FALSE(parsed) << "accepted:\n" << text;
  if (parsed) {
    return {};
  }
  return parsed.error();
}

// The one error of `errors`, which must name `file`, as "line:col: message".
inline std::string OnlyError(const FileErrors& errors, std::string_view file) {
  EXPECT_EQ(errors.errors.size(), 1U) << errors.ToString();
  if (errors.errors.empty()) {
    return "";
  }
  const auto& e = errors.errors.front();
  EXPECT_EQ(e.file, file);
  return std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message;
}

}  // namespace bulkhead::codec::test
