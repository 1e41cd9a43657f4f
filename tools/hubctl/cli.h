// What every hubctl command shares: how failures are reported and how long
// a call may take.
#ifndef HUB_TOOLS_HUBCTL_CLI_H_
#define HUB_TOOLS_HUBCTL_CLI_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace hub::tools {

// Prints "hubctl: <message>" to stderr and returns exit status 1.
inline int Fail(const std::string& message) {
  std::fprintf(stderr, "hubctl: %s\n", message.c_str());
  return 1;
}

// The hub's answer for a failed call: the code's name, the message, and
// what its google.rpc details say (the stable reason and its particulars,
// the fields at fault, the quota, when to retry), e.g.
//   the hub answered PERMISSION_DENIED: ... [NO_RECORDING_RULE event_type=...]
inline std::string Describe(const grpc::Status& status) {
  std::string described =
      absl::StrCat("the hub answered ",
                   absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                   ": ", status.error_message());
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return described;
  }
  std::vector<std::string> parts;
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    google::rpc::QuotaFailure quota;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&info)) {
      std::map<std::string, std::string> sorted(info.metadata().begin(), info.metadata().end());
      std::string part = info.reason();
      for (const auto& [key, value] : sorted) absl::StrAppend(&part, " ", key, "=", value);
      parts.push_back(part);
    } else if (any.UnpackTo(&bad_request)) {
      for (const auto& violation : bad_request.field_violations()) {
        parts.push_back(absl::StrCat("field ", violation.field()));
      }
    } else if (any.UnpackTo(&quota)) {
      for (const auto& violation : quota.violations()) {
        parts.push_back(absl::StrCat("quota ", violation.subject()));
      }
    } else if (any.UnpackTo(&retry)) {
      parts.push_back(absl::StrCat("retry after ", retry.retry_delay().seconds(), " s"));
    }
  }
  if (!parts.empty()) absl::StrAppend(&described, " [", absl::StrJoin(parts, "; "), "]");
  return described;
}

// Writes `contents` to `path` readable by its owner only (created 0600, or
// narrowed if it existed): hubctl's pages and packs hold personal data.
inline bool WriteOwnerOnlyFile(const std::string& path, const std::string& contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool written = ::fchmod(fd, 0600) == 0;
  for (size_t done = 0; written && done < contents.size();) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      written = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  return ::close(fd) == 0 && written;
}

inline void SetDeadline(grpc::ClientContext* context, int timeout_ms) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
}

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_CLI_H_
