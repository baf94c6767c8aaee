#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace bulkhead::policy {

// Writes `content` to `path` so that readers see the old file or the new one, never half of it:
// a temporary file in the same directory, fsync, rename, fsync of the directory. "-" writes to
// standard output. The error is one line naming the path and the system error.
boost::system::result<void, std::string> WriteFileAtomically(const std::string& path,
                                                             std::string_view content);

// Reads a whole file (or standard input for "-"); the error names the path.
boost::system::result<std::string, std::string> ReadWholeFile(const std::string& path);

}  // namespace bulkhead::policy
