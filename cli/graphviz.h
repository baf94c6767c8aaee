#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

// Runs Graphviz's `dot` (found on PATH at run time) on DOT text and returns its SVG. The one
// place bulkhead starts another program for a review command.
namespace bulkhead::cli {

// The error is one line: `dot` missing ("install graphviz"), failed to start, killed, or
// exited non-zero with its first line of stderr.
struct DotError {
  std::string message;
};
boost::system::result<std::string, DotError> RenderSvgWithDot(std::string_view dot_source);

}  // namespace bulkhead::cli
