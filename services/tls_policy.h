// The hub's TLS policy, stated by the server rather than left to each
// client: TLS 1.2 and 1.3 only, AEAD suites with forward secrecy only, and
// the server's order of preference (strongest first) rather than the
// client's. gRPC does not expose its OpenSSL context, so the policy is
// OpenSSL's own "system_default" configuration, which every TLS context the
// process creates afterwards applies; gRPC then narrows the suites further.
#ifndef HUB_SERVICES_TLS_POLICY_H_
#define HUB_SERVICES_TLS_POLICY_H_

#include "absl/status/status.h"

namespace hub::services {

// Puts the policy in force for this process. Call before the first gRPC
// server or channel is created; idempotent.
absl::Status ApplyServerTlsPolicy();

}  // namespace hub::services

#endif  // HUB_SERVICES_TLS_POLICY_H_
