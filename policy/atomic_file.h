#pragma once

#include <string>
#include <string_view>

#include <boost/system/result.hpp>

namespace bulkhead::policy {

// Writes `content` to `path` so that readers see the old file or the new one, never half of it:
// a temporary file in the same directory, fsync, rename, fsync of the directory. "-" writes to
// standard output. The error is one line naming the path and the system error.
// Temporary files a crashed save of the same path left behind (named `.<name>.tmp-<pid>-<n>`)
// are removed first when their writer is dead or they have not changed for a few seconds.
boost::system::result<void, std::string> WriteFileAtomically(const std::string& path,
                                                             std::string_view content);

// Tells before any work starts whether WriteFileAtomically(path, ...) could write: a regular
// file (existing or not) needs a directory where a temporary file can be created (tried for
// real, so a read-only mount, a missing directory and missing permissions all show), a device
// or FIFO needs write permission, "-" is always writable. The error reads as the write's would.
boost::system::result<void, std::string> CheckWritable(const std::string& path);

// Reads a whole file (or standard input for "-"); the error names the path.
boost::system::result<std::string, std::string> ReadWholeFile(const std::string& path);

}  // namespace bulkhead::policy
