// hubctl's connection to a hub: a gRPC channel over mutual TLS with the same
// client certificates agency systems use.
#ifndef HUB_TOOLS_HUBCTL_CONNECTION_H_
#define HUB_TOOLS_HUBCTL_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"

namespace hub::tools {

struct ConnectionOptions {
  std::string hub_address;  // host:port
  std::string ca_cert_path;
  std::string cert_path;
  std::string key_path;
};

// Reads the certificate files and creates the channel (it connects lazily).
// NOT_FOUND naming the file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options);

// Who the hub says the caller is, as a page prepared for it names them:
// "Partnership governance group (spiffe://.../governance/auditor)".
// The call's status (described for a person) if it fails.
absl::StatusOr<std::string> PreparedFor(const std::shared_ptr<grpc::Channel>& channel,
                                        int timeout_ms);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_CONNECTION_H_
