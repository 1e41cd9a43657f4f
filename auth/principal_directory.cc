#include "auth/principal_directory.h"

#include "absl/strings/str_cat.h"

#include "proto/absl_compat.h"

namespace hub::auth {

PrincipalDirectory::PrincipalDirectory(const hub::v1::SharingProtocol& protocol)
    : partnership_(protocol.partnership()), protocol_version_(protocol.version()) {
  for (const hub::v1::Principal& principal : protocol.principals()) {
    by_identity_[principal.identity()] = principal;
  }
}

absl::StatusOr<hub::v1::Principal> PrincipalDirectory::Find(std::string_view identity) const {
  if (identity.empty()) {
    return absl::PermissionDeniedError(
        "the client certificate carries no spiffe:// identity (a single SAN URI of the form "
        "spiffe://<partnership>/agency/<agency>/<role>)");
  }
  auto it = by_identity_.find(AsAbsl(identity));
  if (it == by_identity_.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate identity ", AsAbsl(identity), " is not a principal of partnership ",
        partnership_, " (sharing protocol version ", protocol_version_,
        "); ask the hub operator to add it to the protocol"));
  }
  return it->second;
}

}  // namespace hub::auth
