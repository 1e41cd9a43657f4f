#include "services/view_access.h"

#include <chrono>

#include "absl/strings/str_cat.h"

#include "auth/data_classes.h"
#include "proto/error_details.h"
#include "services/audit_trail.h"

namespace hub::services {

absl::StatusOr<hub::v1::Principal> CaseContentReader(const Authenticator& authenticator,
                                                     const grpc::CallbackServerContext& context,
                                                     storage::EventLog* log,
                                                     hub::v1::AuditAction action,
                                                     const std::string& case_id) {
  absl::StatusOr<hub::v1::Principal> principal = authenticator.PrincipalOf(*context.auth_context());
  if (!principal.ok()) return principal;
  if (principal->role() == hub::v1::AUDITOR || principal->role() == hub::v1::ADMIN ||
      principal->role() == hub::v1::EVALUATOR) {
    const absl::Status denial = absl::PermissionDeniedError(absl::StrCat(
        "principal ", principal->identity(), " has role ", hub::v1::Role_Name(principal->role()),
        ", which reads no case content (auditors read the access log, evaluators the "
        "pseudonymised evaluation extract)"));
    return AuditDenial(log, *principal, action, case_id, denial);
  }
  return principal;
}

absl::Status CheckDeclaredPurpose(const Views& views, const hub::v1::Principal& principal,
                                  hub::v1::Purpose purpose, storage::EventLog* log,
                                  hub::v1::AuditAction action, const std::string& case_id) {
  if (purpose == hub::v1::PURPOSE_UNSPECIFIED) return absl::OkStatus();
  if (!hub::v1::Purpose_IsValid(purpose)) {
    return absl::InvalidArgumentError(
        absl::StrCat("purpose ", static_cast<int>(purpose), " is not a purpose of the protocol"));
  }
  for (int data_class = 0; data_class < hub::v1::DataClass_ARRAYSIZE; ++data_class) {
    if (!hub::v1::DataClass_IsValid(data_class)) continue;
    if (views.Decide(principal.identity(), static_cast<hub::v1::DataClass>(data_class), purpose)
            .allowed) {
      return absl::OkStatus();
    }
  }
  return AuditDenial(
      log, principal, action, case_id,
      WithErrorInfo(
          absl::PermissionDeniedError(
              absl::StrCat("the sharing protocol gives ", principal.identity(), " no rule for ",
                           hub::v1::Purpose_Name(purpose),
                           "; read for a purpose you have a rule for, or leave purpose unset")),
          "NO_READING_RULE",
          {{"principal", principal.identity()}, {"purpose", hub::v1::Purpose_Name(purpose)}}),
      purpose);
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
  CiteRule(views, identity, event.classification(), event.purpose(), record);
  AddDistinct(auth::EventTypeName(event), record->mutable_event_types());
}

void CiteRule(const Views& views, const std::string& identity, hub::v1::DataClass classification,
              hub::v1::Purpose purpose, hub::v1::AuditRecord* record) {
  const auth::Decision decision = views.Decide(identity, classification, purpose);
  AddDistinct(decision.rule, record->mutable_rules());
  AddDistinct(decision.lawful_basis, record->mutable_lawful_bases());
  AddDistinctValue(purpose, record->mutable_event_purposes());
  AddDistinctValue(classification, record->mutable_data_classes());
  // A read for a declared purpose also cites the rule for that purpose: the
  // one that bound what it was shown.
  if (record->purpose() != hub::v1::PURPOSE_UNSPECIFIED && record->purpose() != purpose) {
    const auth::Decision declared = views.Decide(identity, classification, record->purpose());
    AddDistinct(declared.rule, record->mutable_rules());
    AddDistinct(declared.lawful_basis, record->mutable_lawful_bases());
  }
}

void ReadCitations::Cite(const hub::v1::EventEnvelope& event) {
  if (cited_.insert({event.classification(), event.purpose(), event.event_case()}).second) {
    CiteRule(views_, identity_, event, record_);
  }
}

}  // namespace hub::services
