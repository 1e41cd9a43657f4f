// The hub's certificate identities: a single SAN URI of the form
//   spiffe://<partnership>/agency/<agency>/<role>
#ifndef HUB_AUTH_SPIFFE_ID_H_
#define HUB_AUTH_SPIFFE_ID_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "hub/v1/sharing_protocol.pb.h"

namespace hub::auth {

struct HubSpiffeId {
  std::string partnership;  // the SPIFFE trust domain
  std::string agency;
  hub::v1::Role role = hub::v1::ROLE_UNSPECIFIED;
};

// Parses `uri`; INVALID_ARGUMENT naming what is wrong otherwise.
absl::StatusOr<HubSpiffeId> ParseHubSpiffeId(std::string_view uri);

// "agency", "coordinator", "auditor", "admin"; empty for ROLE_UNSPECIFIED.
std::string RoleSegment(hub::v1::Role role);

}  // namespace hub::auth

#endif  // HUB_AUTH_SPIFFE_ID_H_
