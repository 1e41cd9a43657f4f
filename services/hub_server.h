// The hub's gRPC server: mutual TLS, per-call authentication, the hub's
// services, gRPC health checking and server reflection, on top of storage/.
#ifndef HUB_SERVICES_HUB_SERVER_H_
#define HUB_SERVICES_HUB_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "hub/v1/config.pb.h"

namespace hub::services {

class HubServer {
 public:
  // Opens storage, loads the sharing protocol and the CRLs, and starts
  // serving. Fails, saying why, if any of them is unusable.
  static absl::StatusOr<std::unique_ptr<HubServer>> Start(const hub::v1::HubConfig& config);

  virtual ~HubServer() = default;

  // "host:port" actually listened on (the port is chosen when configured as 0).
  virtual std::string address() const = 0;

  // Reports NOT_SERVING, lets in-flight calls finish (for at most
  // `grace_ms`), ends streams, and closes storage. Idempotent.
  virtual void Shutdown(int grace_ms) = 0;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_HUB_SERVER_H_
