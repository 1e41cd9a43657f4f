// Maps a verified certificate identity to the principal the sharing protocol
// lists for it. Handlers receive this principal, never a name taken from a
// request field.
#ifndef HUB_AUTH_PRINCIPAL_DIRECTORY_H_
#define HUB_AUTH_PRINCIPAL_DIRECTORY_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

#include "hub/v1/sharing_protocol.pb.h"

namespace hub::auth {

class PrincipalDirectory {
 public:
  // `protocol` must have been validated (see sharing_protocol.h).
  explicit PrincipalDirectory(const hub::v1::SharingProtocol& protocol);

  // The principal for a verified certificate's identity. PERMISSION_DENIED,
  // naming the identity, if the protocol does not list it (or it is empty).
  absl::StatusOr<hub::v1::Principal> Find(std::string_view identity) const;

  const std::string& partnership() const { return partnership_; }
  const std::string& protocol_version() const { return protocol_version_; }

 private:
  std::string partnership_;
  std::string protocol_version_;
  absl::flat_hash_map<std::string, hub::v1::Principal> by_identity_;
};

}  // namespace hub::auth

#endif  // HUB_AUTH_PRINCIPAL_DIRECTORY_H_
