#include "enforcer/apply_error_text.h"

#include <cstring>

#include <fmt/format.h>

namespace bulkhead::enforcer {

std::string ApplyErrorText(const ApplyError& error) {
  std::string out = error.summary;
  for (const auto& e : error.errors) {
    out += fmt::format("; {}: {}{}", e.origin.empty() ? "the batch" : e.origin,
                       std::strerror(e.error), e.message.empty() ? "" : " (" + e.message + ")");
  }
  return out;
}

}  // namespace bulkhead::enforcer
