#pragma once

#include <string>
#include <vector>

namespace bulkhead::codec {

// One problem in an input file, located by 1-based line and column (0 when unknown).
struct FileError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;

  // "file:line:column: message" (the location parts that are known).
  std::string ToString() const;
};

// Every problem found in one file, in file order (STYLE.md rule 11: report all, not the first).
struct FileErrors {
  std::vector<FileError> errors;
  // One line per error.
  std::string ToString() const;
};

}  // namespace bulkhead::codec
