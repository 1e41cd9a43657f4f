// Where the hub's secret keys may live. Whoever holds the data folder or a
// backup of it must not hold the keys too: a key-encryption key next to the
// data it protects protects nothing, and a signing key next to the log it
// signs lets the log be rewritten and re-signed. So key files live outside
// the data folder, readable by the hub's own user only.
#ifndef HUB_AUTH_KEY_FILES_H_
#define HUB_AUTH_KEY_FILES_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace hub::auth {

// OK if `path` is a regular file owned by this process's user, neither
// group- nor world-accessible, and not inside `data_dir` (resolving
// symbolic links on both). FAILED_PRECONDITION saying what to change
// otherwise; NOT_FOUND if it does not exist.
absl::Status CheckSecretKeyFile(const std::string& path, const std::string& data_dir);

// The same for a folder of key files: owned by this user, mode 0700 or
// stricter, outside `data_dir`.
absl::Status CheckSecretKeyFolder(const std::string& path, const std::string& data_dir);

// Writes `contents` into a new file `path` with `mode`, then syncs it and
// its folder, so that a key is never half-written or lost in a crash.
// Never replaces a file (a key overwritten destroys all it protected):
// ALREADY_EXISTS if `path` exists, FAILED_PRECONDITION if it cannot be
// written (nothing is left behind then).
absl::Status WriteNewKeyFile(const std::string& path, std::string_view contents,
                             unsigned int mode = 0600);

// Creates `path` (mode 0700) if it does not exist, then checks it as
// CheckSecretKeyFolder does.
absl::Status EnsureSecretKeyFolder(const std::string& path, const std::string& data_dir);

}  // namespace hub::auth

#endif  // HUB_AUTH_KEY_FILES_H_
