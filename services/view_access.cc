#include "services/view_access.h"

#include <chrono>

#include "absl/strings/str_cat.h"

#include "services/audit_trail.h"

namespace hub::services {

absl::StatusOr<hub::v1::Principal> CaseContentReader(const Authenticator& authenticator,
                                                     const grpc::CallbackServerContext& context,
                                                     storage::EventLog* log,
                                                     hub::v1::AuditAction action,
                                                     const std::string& case_id) {
  absl::StatusOr<hub::v1::Principal> principal = authenticator.PrincipalOf(*context.auth_context());
  if (!principal.ok()) return principal;
  if (principal->role() == hub::v1::AUDITOR || principal->role() == hub::v1::ADMIN) {
    const absl::Status denial = absl::PermissionDeniedError(absl::StrCat(
        "principal ", principal->identity(), " has role ", hub::v1::Role_Name(principal->role()),
        ", which reads no case content (auditors read the access log)"));
    return AuditDenial(log, *principal, action, case_id, denial);
  }
  return principal;
}

absl::Status AwaitViews(const storage::EventLog& log, const Views& views) {
  const uint64_t acknowledged = log.LastPosition();
  if (views.WaitProjected(acknowledged, std::chrono::seconds(5)) < acknowledged) {
    return absl::UnavailableError("the views are catching up with the log; retry shortly");
  }
  return absl::OkStatus();
}

void CiteRule(const Views& views, const std::string& identity, const hub::v1::EventEnvelope& event,
              hub::v1::AuditRecord* record) {
  const auth::Decision decision = views.Decide(identity, event.classification(), event.purpose());
  AddDistinct(decision.rule, record->mutable_rules());
  AddDistinct(decision.lawful_basis, record->mutable_lawful_bases());
}

}  // namespace hub::services
