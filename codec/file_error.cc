#include "codec/file_error.h"

namespace bulkhead::codec {

std::string FileError::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += (out.empty() ? "" : ":") + std::to_string(line);
    if (column > 0) {
      out += ":" + std::to_string(column);
    }
  }
  if (!out.empty()) {
    out += ": ";
  }
  out += message;
  return out;
}

std::string FileErrors::ToString() const {
  std::string out;
  for (const auto& error : errors) {
    if (!out.empty()) {
      out += '\n';
    }
    out += error.ToString();
  }
  return out;
}

}  // namespace bulkhead::codec
