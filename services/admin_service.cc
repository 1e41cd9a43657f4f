#include "services/admin_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "services/audit_trail.h"
#include "services/grpc_status.h"
#include "services/metrics.h"
#include "services/server_log.h"

namespace hub::services {
namespace {

// OK for the hub operator; otherwise PERMISSION_DENIED, audited.
absl::Status RequireOperator(storage::EventLog* log, const hub::v1::Principal& principal,
                             hub::v1::AuditAction action, const std::string& case_id,
                             const std::string& what) {
  if (principal.role() == hub::v1::ADMIN) return absl::OkStatus();
  return AuditDenial(
      log, principal, action, case_id,
      absl::PermissionDeniedError(absl::StrCat("principal ", principal.identity(), " has role ",
                                               hub::v1::Role_Name(principal.role()),
                                               "; only the hub operator (admin role) ", what)));
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::Backup(grpc::CallbackServerContext* context,
                                               const hub::v1::BackupRequest* /*request*/,
                                               hub::v1::BackupResponse* response) {
  CountedCall call(metrics_, "Backup");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (absl::Status operator_only =
          RequireOperator(log_, *principal, hub::v1::AUDIT_BACKUP, "", "takes backups");
      !operator_only.ok()) {
    return FinishUnary(context, call, operator_only);
  }
  absl::StatusOr<hub::v1::BackupResponse> taken = backups_->Take();
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_BACKUP,
                     taken.ok() ? hub::v1::AUDIT_ALLOWED : hub::v1::AUDIT_DENIED);
  if (taken.ok()) {
    record.set_last_position(taken->last_position());
    record.set_reason(absl::StrCat("backup ", taken->path()));
  } else {
    record.set_reason(std::string(taken.status().message()));
  }
  // A backup copies the whole log: who took it is recorded, whatever happened.
  absl::Status audited = StoreAudit(log_, record);
  if (!taken.ok()) return FinishUnary(context, call, taken.status());
  if (!audited.ok()) return FinishUnary(context, call, audited);
  *response = *std::move(taken);
  return FinishUnary(context, call, absl::OkStatus());
}

namespace {

constexpr char kErasureCase[] = "hub.erasures";
constexpr size_t kMaxErasureText = 1000;

absl::Status ValidateErasure(const hub::v1::EraseSubjectRequest& request) {
  const std::string& target = request.has_subject_id() ? request.subject_id() : request.case_id();
  if (request.target_case() == hub::v1::EraseSubjectRequest::TARGET_NOT_SET || target.empty()) {
    return absl::InvalidArgumentError("name what to erase: subject_id or case_id");
  }
  if (target.size() > 256) return absl::InvalidArgumentError("the id is longer than 256 bytes");
  if (request.reason().empty() || request.reference().empty()) {
    return absl::InvalidArgumentError(
        "an erasure needs a reason and the request's reference, for the record");
  }
  if (request.reason().size() > kMaxErasureText || request.reference().size() > kMaxErasureText) {
    return absl::InvalidArgumentError(
        absl::StrCat("reason and reference are at most ", kMaxErasureText, " bytes each"));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::EraseSubject(grpc::CallbackServerContext* context,
                                                     const hub::v1::EraseSubjectRequest* request,
                                                     hub::v1::EraseSubjectResponse* response) {
  CountedCall call(metrics_, "EraseSubject");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (absl::Status operator_only = RequireOperator(log_, *principal, hub::v1::AUDIT_ERASE,
                                                   request->case_id(), "erases data");
      !operator_only.ok()) {
    return FinishUnary(context, call, operator_only);
  }
  if (absl::Status valid = ValidateErasure(*request); !valid.ok()) {
    return FinishUnary(context, call, valid);
  }
  if (data_keys_ == nullptr) {
    return FinishUnary(context, call,
                       absl::FailedPreconditionError("this hub stores no data under data keys"));
  }
  const bool subject = request->has_subject_id();
  const std::string scope = subject ? "subject" : "case";
  const std::string key_id =
      data_keys_->KeyId(scope, subject ? request->subject_id() : request->case_id());
  const bool newly = !data_keys_->Erased(key_id).has_value();
  const absl::Time now = absl::Now();

  // Recorded first: a key destroyed without a record would be a silent
  // loss. The event id makes a retry find the first record.
  hub::v1::EventEnvelope envelope;
  envelope.set_event_id(absl::StrCat("erasure-", key_id));
  envelope.set_case_id(kErasureCase);
  envelope.set_producing_agency("hub");
  envelope.set_producer_identity(principal->identity());
  envelope.mutable_recorded_time()->set_seconds(absl::ToUnixSeconds(now));
  *envelope.mutable_occurred_time() = envelope.recorded_time();
  envelope.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
  envelope.set_lawful_basis("UK GDPR Art 17; DPA 2018 s47 (erasure)");
  envelope.set_classification(hub::v1::PROTOCOL_GOVERNANCE);
  hub::v1::DataErased* erased = envelope.mutable_data_erased();
  erased->set_key_id(key_id);
  erased->set_scope(scope);
  erased->set_rule("request");
  erased->set_reason(request->reason());
  erased->set_reference(request->reference());
  storage::AppendRequest append;
  append.case_id = kErasureCase;
  append.events.push_back({envelope.event_id(), envelope.SerializeAsString()});
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_ERASE, hub::v1::AUDIT_ALLOWED);
  record.set_case_id(subject ? "" : request->case_id());
  record.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
  record.set_reason(absl::StrCat("erased the data key ", key_id, " of a ", scope, ": ",
                                 request->reason(), " (reference ", request->reference(), ")"));
  append.audit_records = [record](const storage::AppendResult& result) mutable {
    record.set_first_position(result.first_position);
    record.set_last_position(result.last_position);
    return std::vector<std::string>{record.SerializeAsString()};
  };
  absl::StatusOr<storage::AppendResult> stored = log_->Append(append);
  if (!stored.ok()) return FinishUnary(context, call, stored.status());
  if (absl::Status destroyed = data_keys_->Erase(key_id, {now, "request", request->reference()});
      !destroyed.ok()) {
    return FinishUnary(context, call,
                       absl::UnavailableError(absl::StrCat(
                           "the erasure is recorded at position ", stored->first_position,
                           " but the key could not be destroyed yet (", destroyed.message(),
                           "); retry the same request")));
  }
  // The views hold what was shown before: derived again, they hold what
  // can still be opened.
  if (newly && rebuild_views_) {
    absl::StatusOr<uint64_t> rebuilt = rebuild_views_(absl::StrCat("erasure of ", key_id));
    if (!rebuilt.ok()) {
      return FinishUnary(context, call,
                         absl::UnavailableError(absl::StrCat(
                             "the data key is destroyed and the erasure recorded at position ",
                             stored->first_position, ", but the views could not be rebuilt (",
                             rebuilt.status().message(),
                             "); they are rebuilt at the next start of hubd, or remove the views "
                             "folder")));
    }
    response->set_views_rebuilt_through(*rebuilt);
  }
  LogInfo(
      "data erased on request",
      {{"key_id", key_id}, {"scope", scope}, {"position", std::to_string(stored->first_position)}});
  response->set_position(stored->first_position);
  response->set_key_id(key_id);
  response->set_newly_erased(newly);
  return FinishUnary(context, call, absl::OkStatus());
}

}  // namespace hub::services
