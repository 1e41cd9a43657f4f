// What every hubctl command shares: how failures are reported and how long
// a call may take.
#ifndef HUB_TOOLS_HUBCTL_CLI_H_
#define HUB_TOOLS_HUBCTL_CLI_H_

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace hub::tools {

// Prints "hubctl: <message>" to stderr and returns exit status 1.
inline int Fail(const std::string& message) {
  std::fprintf(stderr, "hubctl: %s\n", message.c_str());
  return 1;
}

// The hub's answer, code and reason, for a failed call.
inline std::string Describe(const grpc::Status& status) {
  return absl::StrCat("the hub answered ", status.error_code(), ": ", status.error_message());
}

inline void SetDeadline(grpc::ClientContext* context, int timeout_ms) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
}

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_CLI_H_
