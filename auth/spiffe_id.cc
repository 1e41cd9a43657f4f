#include "auth/spiffe_id.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

constexpr std::string_view kScheme = "spiffe://";

bool IsSegment(absl::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (char c : text) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string RoleSegment(hub::v1::Role role) {
  switch (role) {
    case hub::v1::AGENCY:
      return "agency";
    case hub::v1::COORDINATOR:
      return "coordinator";
    case hub::v1::AUDITOR:
      return "auditor";
    case hub::v1::ADMIN:
      return "admin";
    case hub::v1::EVALUATOR:
      return "evaluator";
    default:
      return "";
  }
}

absl::StatusOr<HubSpiffeId> ParseHubSpiffeId(std::string_view uri) {
  const std::string expected_form = "spiffe://<partnership>/agency/<agency>/<role>";
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity \"", AsAbsl(uri), "\" is not of the form ", expected_form));
  }
  const std::vector<absl::string_view> parts =
      absl::StrSplit(AsAbsl(uri.substr(kScheme.size())), '/');
  if (parts.size() != 4 || parts[1] != "agency" || !IsSegment(parts[0]) || !IsSegment(parts[2]) ||
      !IsSegment(parts[3])) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity \"", AsAbsl(uri), "\" is not of the form ", expected_form,
                     " (lower-case letters, digits, '-', '.' and '_' in each part)"));
  }
  HubSpiffeId id;
  id.partnership = std::string(parts[0]);
  id.agency = std::string(parts[2]);
  for (hub::v1::Role role : {hub::v1::AGENCY, hub::v1::COORDINATOR, hub::v1::AUDITOR,
                             hub::v1::ADMIN, hub::v1::EVALUATOR}) {
    if (parts[3] == RoleSegment(role)) id.role = role;
  }
  if (id.role == hub::v1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity \"", AsAbsl(uri), "\" names role \"", parts[3],
                     "\"; roles are agency, coordinator, auditor, admin and evaluator"));
  }
  return id;
}

}  // namespace hub::auth
