#pragma once

#include "codec/file_error.h"

// The error type of every reader of bulkhead's files. It lives in codec/ (the library every
// format links); policy's callers keep spelling it policy::FileError.
namespace bulkhead::policy {

using FileError = codec::FileError;
using FileErrors = codec::FileErrors;

}  // namespace bulkhead::policy
