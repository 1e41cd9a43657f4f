#include "auth/key_files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hub::auth {
namespace {

// The canonical absolute path, or nullopt if it does not exist.
std::optional<std::string> Resolved(const std::string& path) {
  std::unique_ptr<char, decltype(&free)> resolved(realpath(path.c_str(), nullptr), &free);
  if (resolved == nullptr) return std::nullopt;
  return std::string(resolved.get());
}

bool IsInside(const std::string& path, const std::string& folder) {
  return path == folder ||
         (path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 &&
          (folder.back() == '/' || path[folder.size()] == '/'));
}

absl::Status Check(const std::string& path, const std::string& data_dir, bool folder) {
  const char* what = folder ? "key folder" : "key file";
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT)
      return absl::NotFoundError(absl::StrCat(what, " ", path, " does not exist"));
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the ", what, " ", path, ": ", std::strerror(error)));
  }
  if (folder ? !S_ISDIR(info.st_mode) : !S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a ", folder ? "folder" : "regular file"));
  }
  if (info.st_uid != geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ", what, " ", path, " belongs to user ", info.st_uid,
                     ", not to the hub's user ", geteuid(), "; chown it to the user hubd runs as"));
  }
  const mode_t mode = info.st_mode & 07777;
  if ((mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("the %s %s is accessible to its group or others (mode %04o); chmod %s %s",
                        what, path, mode, folder ? "700" : "600", path));
  }
  const std::optional<std::string> resolved = Resolved(path);
  const std::optional<std::string> data = Resolved(data_dir);
  if (resolved.has_value() && data.has_value() && IsInside(*resolved, *data)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ", what, " ", path, " is inside the data folder ", data_dir,
        ", so every copy and backup of the data would carry it; keep keys elsewhere (e.g. "
        "/etc/hubd/keys)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSecretKeyFile(const std::string& path, const std::string& data_dir) {
  return Check(path, data_dir, /*folder=*/false);
}

absl::Status CheckSecretKeyFolder(const std::string& path, const std::string& data_dir) {
  return Check(path, data_dir, /*folder=*/true);
}

absl::Status WriteNewKeyFile(const std::string& path, std::string_view contents,
                             unsigned int mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST) {
    return absl::AlreadyExistsError(absl::StrCat(path, " already exists"));
  }
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  const bool written =
      write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
      fsync(fd) == 0;
  close(fd);
  if (!written) {
    unlink(path.c_str());
    return absl::FailedPreconditionError(absl::StrCat("cannot write ", path));
  }
  const std::string folder = path.substr(0, path.find_last_of('/') + 1);
  if (const int dir =
          open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return absl::OkStatus();
}

absl::Status EnsureSecretKeyFolder(const std::string& path, const std::string& data_dir) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the key folder ", path, ": ", std::strerror(errno)));
  }
  return CheckSecretKeyFolder(path, data_dir);
}

}  // namespace hub::auth
