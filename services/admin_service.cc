#include "services/admin_service.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "auth/field_sealing.h"
#include "auth/sharing_policy.h"
#include "services/audit_trail.h"
#include "services/envelope.h"
#include "services/grpc_status.h"
#include "services/metrics.h"
#include "services/restrictions.h"
#include "services/server_log.h"
#include "services/subject_access.h"

namespace hub::services {
namespace {

// The caller, if it is the hub operator; otherwise its refusal
// (UNAUTHENTICATED, or PERMISSION_DENIED, audited).
absl::StatusOr<hub::v1::Principal> OperatorCalling(const Authenticator& authenticator,
                                                   storage::EventLog* log,
                                                   const grpc::CallbackServerContext& context,
                                                   hub::v1::AuditAction action,
                                                   const std::string& case_id,
                                                   const std::string& what) {
  absl::StatusOr<hub::v1::Principal> principal = authenticator.PrincipalOf(*context.auth_context());
  if (!principal.ok() || principal->role() == hub::v1::ADMIN) return principal;
  return AuditDenial(
      log, *principal, action, case_id,
      absl::PermissionDeniedError(absl::StrCat("principal ", principal->identity(), " has role ",
                                               hub::v1::Role_Name(principal->role()),
                                               "; only the hub operator (admin role) ", what)));
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::Backup(grpc::CallbackServerContext* context,
                                               const hub::v1::BackupRequest* /*request*/,
                                               hub::v1::BackupResponse* response) {
  CountedCall call(metrics_, "Backup");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      OperatorCalling(*authenticator_, log_, *context, hub::v1::AUDIT_BACKUP, "", "takes backups");
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
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

constexpr size_t kMaxErasureText = 1000;

// Erasure and restriction requests name a subject or a case, and say why
// and under which reference, for the record.
template <typename Request>
absl::Status ValidateDataRequest(const Request& request, const char* what) {
  const std::string& target = request.has_subject_id() ? request.subject_id() : request.case_id();
  if (request.target_case() == Request::TARGET_NOT_SET || target.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("name what to ", what, ": subject_id or case_id"));
  }
  if (target.size() > 256) return absl::InvalidArgumentError("the id is longer than 256 bytes");
  if (request.reason().empty() || request.reference().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a request to ", what, " needs a reason and the request's reference, for the record"));
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
  absl::StatusOr<hub::v1::Principal> principal = OperatorCalling(
      *authenticator_, log_, *context, hub::v1::AUDIT_ERASE, request->case_id(), "erases data");
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (absl::Status valid = ValidateDataRequest(*request, "erase"); !valid.ok()) {
    return FinishUnary(context, call, valid);
  }
  if (data_keys_ == nullptr) {
    return FinishUnary(context, call,
                       absl::FailedPreconditionError("this hub stores no data under data keys"));
  }
  const bool subject = request->has_subject_id();
  const std::string scope = subject ? "subject" : "case";
  const auth::KeyOwner owner{scope, subject ? request->subject_id() : request->case_id()};
  const hub::v1::DataClass data_class = request->data_class();
  if (data_class != hub::v1::DATA_CLASS_UNSPECIFIED) {
    if (!hub::v1::DataClass_IsValid(data_class) || !auth::IsPersonalClass(data_class)) {
      return FinishUnary(context, call,
                         absl::InvalidArgumentError(absl::StrCat(
                             "data_class ", static_cast<int>(data_class),
                             " is not a personal class: only personal content is kept under "
                             "keys that can be erased")));
    }
    // Alone, it would leave the rest of the subject's content without the
    // id it is found by (retention could no longer find it), and it decides
    // who is related to her cases.
    if (auth::SharingPolicy::RoutingClasses()[data_class]) {
      return FinishUnary(
          context, call,
          absl::InvalidArgumentError(
              absl::StrCat(hub::v1::DataClass_Name(data_class),
                           " names the subject and decides who is related to the case: erase the ",
                           scope, " as a whole (without data_class)")));
    }
    if (subject && !auth::BelongsToTheSubject(data_class)) {
      return FinishUnary(
          context, call,
          absl::InvalidArgumentError(absl::StrCat(
              hub::v1::DataClass_Name(data_class),
              " is kept under its case's key, not a subject's: erase it with case_id")));
    }
  }
  // The owner's key from before keys were per class names the erasure of
  // the whole; the record covers every key of the owner. One class: its key.
  const std::vector<std::string> key_ids =
      data_class != hub::v1::DATA_CLASS_UNSPECIFIED
          ? std::vector<std::string>{auth::DataKeyIdOf(*data_keys_, owner, data_class)}
          : auth::AllDataKeyIdsOf(*data_keys_, owner);
  const std::string& key_id = key_ids.front();
  absl::MutexLock erasing(&ErasureMutex());
  const bool newly = !data_keys_->Erased(key_id).has_value();
  const absl::Time now = absl::Now();
  absl::StatusOr<uint64_t> erasures_before = log_->CaseVersion(kErasureCase);
  if (!erasures_before.ok()) return FinishUnary(context, call, erasures_before.status());

  // Recorded first: a key destroyed without a record would be a silent
  // loss. The event id makes a retry find the first record.
  hub::v1::EventEnvelope envelope =
      HubRecord(absl::StrCat("erasure-", key_id), kErasureCase, principal->identity(), now,
                "UK GDPR Art 17; DPA 2018 s47 (erasure)");
  hub::v1::DataErased* erased = envelope.mutable_data_erased();
  erased->set_key_id(key_id);
  erased->set_scope(scope);
  erased->set_rule("request");
  erased->set_reason(request->reason());
  erased->set_reference(request->reference());
  erased->set_erased_class(data_class);
  storage::AppendRequest append;
  append.case_id = kErasureCase;
  append.events.push_back({envelope.event_id(), envelope.SerializeAsString()});
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_ERASE, hub::v1::AUDIT_ALLOWED);
  record.set_case_id(subject ? "" : request->case_id());
  record.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
  record.set_reason(absl::StrCat("erased the data key ", key_id, " of a ", scope, ": ",
                                 request->reason(), " (reference ", request->reference(), ")"));
  AuditAppend(std::move(record), &append);
  absl::StatusOr<storage::AppendResult> stored = log_->Append(append);
  if (!stored.ok()) return FinishUnary(context, call, stored.status());
  for (const std::string& id : key_ids) {
    if (absl::Status destroyed = data_keys_->Erase(id, {now, "request", request->reference()});
        !destroyed.ok()) {
      return FinishUnary(context, call,
                         absl::UnavailableError(absl::StrCat(
                             "the erasure is recorded at position ", stored->first_position,
                             " but a key could not be destroyed yet (", destroyed.message(),
                             "); retry the same request")));
    }
  }
  // The views hold what was shown before: reshaped, or derived again, they
  // hold what can still be opened. Told on a retry as well, which finds the
  // first key gone (not `newly`): an attempt stopped by a key that could not
  // be destroyed told them nothing, so their digest is behind the log's
  // erasures and sends them to a rebuild (as a restart would). Telling them
  // at the stop of only the keys destroyed so far would make that digest
  // count the stopped key's erasure as taken.
  if (forget_erased_) {
    absl::StatusOr<ViewsAfterErasure> views =
        forget_erased_(absl::StrCat("erasure of ", key_id),
                       std::set<std::string>(key_ids.begin(), key_ids.end()), *erasures_before);
    if (!views.ok()) {
      return FinishUnary(context, call,
                         absl::UnavailableError(absl::StrCat(
                             "the data key is destroyed and the erasure recorded at position ",
                             stored->first_position, ", but the views could not be rebuilt (",
                             views.status().message(),
                             "); they are rebuilt at the next start of hubd, or remove the views "
                             "folder")));
    }
    response->set_views_rebuilt_through(views->rebuilt_through);
    response->set_views_reshaped_through(views->reshaped_through);
  }
  LogInfo(
      "data erased on request",
      {{"key_id", key_id}, {"scope", scope}, {"position", std::to_string(stored->first_position)}});
  response->set_position(stored->first_position);
  response->set_key_id(key_id);
  response->set_newly_erased(newly);
  return FinishUnary(context, call, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::RunRetention(grpc::CallbackServerContext* context,
                                                     const hub::v1::RunRetentionRequest* request,
                                                     hub::v1::RunRetentionResponse* response) {
  CountedCall call(metrics_, "RunRetention");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal = OperatorCalling(
      *authenticator_, log_, *context, hub::v1::AUDIT_ERASE, "", "applies retention");
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (retention_ == nullptr) {
    return FinishUnary(context, call,
                       absl::FailedPreconditionError("this hub stores no data under data keys"));
  }
  const absl::Time now = absl::Now();
  absl::Time as_of = now;
  if (request->has_as_of()) {
    if (request->as_of().seconds() <= 0 || request->as_of().seconds() > 253402300799) {
      return FinishUnary(context, call,
                         absl::InvalidArgumentError("as_of is not a time between 1970 and 9999"));
    }
    as_of = absl::FromUnixSeconds(request->as_of().seconds());
  }
  // Ahead of now, rules would erase content before its time: a preview
  // may look ahead, an erasure only on a site that simulates its clock.
  if (as_of > now + absl::Minutes(1) && !request->dry_run() && !allow_simulated_clock_) {
    return FinishUnary(
        context, call,
        absl::FailedPreconditionError(absl::StrCat(
            "as_of ", absl::FormatTime(as_of),
            " is in the future: erasing as of then would destroy content before its time. "
            "Look ahead with dry_run; only a demonstration or test site may set "
            "retention.allow_simulated_clock")));
  }
  absl::StatusOr<hub::v1::RunRetentionResponse> ran =
      retention_->Run(as_of, request->dry_run(), *principal);
  if (!ran.ok()) return FinishUnary(context, call, ran.status());
  *response = *std::move(ran);
  // A preview names subjects and cases to the operator: that is a
  // disclosure, and audited like one (a real run is audited with its
  // erasures).
  if (request->dry_run()) {
    hub::v1::AuditRecord record =
        AuditRecordFor(*principal, hub::v1::AUDIT_QUERY, hub::v1::AUDIT_ALLOWED);
    record.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
    record.set_reason(absl::StrCat("retention preview as of ", absl::FormatTime(as_of), ": ",
                                   response->erasures_size(), " data key(s) would be destroyed"));
    if (absl::Status audited = StoreAudit(log_, record); !audited.ok()) {
      return FinishUnary(context, call, audited);
    }
  }
  LogInfo(request->dry_run() ? "retention previewed" : "retention applied",
          {{"as_of", absl::FormatTime(as_of)},
           {"keys", std::to_string(response->erasures_size())},
           {"first_position", std::to_string(response->first_position())}});
  return FinishUnary(context, call, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::RestrictProcessing(
    grpc::CallbackServerContext* context, const hub::v1::RestrictProcessingRequest* request,
    hub::v1::RestrictProcessingResponse* response) {
  CountedCall call(metrics_, "RestrictProcessing");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      OperatorCalling(*authenticator_, log_, *context, hub::v1::AUDIT_RESTRICT, request->case_id(),
                      "restricts processing");
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (absl::Status valid = ValidateDataRequest(*request, "restrict"); !valid.ok()) {
    return FinishUnary(context, call, valid);
  }
  if (data_keys_ == nullptr || !take_restrictions_) {
    return FinishUnary(context, call,
                       absl::FailedPreconditionError("this hub stores no data under data keys"));
  }
  const bool subject = request->has_subject_id();
  const auth::KeyOwner owner{subject ? "subject" : "case",
                             subject ? request->subject_id() : request->case_id()};
  absl::MutexLock restricting(&ErasureMutex());
  const absl::Time now = absl::Now();
  absl::StatusOr<uint64_t> restrictions_before = log_->CaseVersion(kRestrictionsCase);
  if (!restrictions_before.ok()) return FinishUnary(context, call, restrictions_before.status());
  hub::v1::EventEnvelope envelope = HubRecord(
      absl::StrCat(request->lift() ? "lift-" : "restrict-",
                   data_keys_->KeyId(owner.scope, owner.name), "-", absl::ToUnixNanos(now)),
      kRestrictionsCase, principal->identity(), now,
      "UK GDPR Art 18; DPA 2018 s47(2) (restriction of processing)");
  hub::v1::ProcessingRestricted* restricted = envelope.mutable_processing_restricted();
  for (const std::string& key_id : auth::AllDataKeyIdsOf(*data_keys_, owner)) {
    restricted->add_key_ids(key_id);
  }
  restricted->set_scope(owner.scope);
  restricted->set_lifted(request->lift());
  restricted->set_reason(request->reason());
  restricted->set_reference(request->reference());
  storage::AppendRequest append;
  append.case_id = kRestrictionsCase;
  append.events.push_back({envelope.event_id(), envelope.SerializeAsString()});
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_RESTRICT, hub::v1::AUDIT_ALLOWED);
  record.set_case_id(subject ? "" : request->case_id());
  record.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
  record.set_reason(absl::StrCat(request->lift() ? "lifted the restriction of processing of a "
                                                 : "restricted processing of a ",
                                 owner.scope, ": ", request->reason(), " (reference ",
                                 request->reference(), ")"));
  AuditAppend(std::move(record), &append);
  absl::StatusOr<storage::AppendResult> stored = log_->Append(append);
  if (!stored.ok()) return FinishUnary(context, call, stored.status());
  // The views take the new restrictions before the call returns; should
  // that fail, hubd derives them when it next starts.
  absl::StatusOr<ViewsAfterErasure> views = take_restrictions_(
      request->lift() ? "restriction lifted" : "processing restricted", *restrictions_before);
  if (!views.ok()) {
    return FinishUnary(context, call,
                       absl::UnavailableError(absl::StrCat(
                           "the restriction is recorded at position ", stored->first_position,
                           " but the views could not be rebuilt yet (", views.status().message(),
                           "); restart hubd, which rebuilds them under it before serving")));
  }
  LogInfo(request->lift() ? "restriction of processing lifted" : "processing restricted",
          {{"scope", owner.scope}, {"position", std::to_string(stored->first_position)}});
  response->set_position(stored->first_position);
  response->set_views_rebuilt_through(views->rebuilt_through);
  response->set_views_reshaped_through(views->reshaped_through);
  return FinishUnary(context, call, absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::SubjectAccess(grpc::CallbackServerContext* context,
                                                      const hub::v1::SubjectAccessRequest* request,
                                                      hub::v1::SubjectAccessResponse* response) {
  CountedCall call(metrics_, "SubjectAccess");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      OperatorCalling(*authenticator_, log_, *context, hub::v1::AUDIT_SUBJECT_ACCESS, "",
                      "answers subject access requests");
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (request->subject_id().empty() || request->subject_id().size() > 256) {
    return FinishUnary(context, call,
                       absl::InvalidArgumentError("name the subject: subject_id, 1 to 256 bytes"));
  }
  if (request->reference().empty() || request->reference().size() > kMaxErasureText) {
    return FinishUnary(context, call,
                       absl::InvalidArgumentError(absl::StrCat(
                           "a subject access request needs the request's reference (at most ",
                           kMaxErasureText, " bytes), for the record")));
  }
  absl::StatusOr<hub::v1::SubjectAccessResponse> pack =
      GatherSubjectAccess(*log_, sealer_, request->subject_id(), absl::Now());
  if (!pack.ok()) return FinishUnary(context, call, pack.status());
  // Stored before anything is handed over; the record names the subject's
  // data key, as erasures do, never the subject.
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_SUBJECT_ACCESS, hub::v1::AUDIT_ALLOWED);
  record.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
  record.set_last_position(pack->log_position());
  record.set_event_count(pack->events_size());
  record.set_reason(absl::StrCat(
      "subject access request ", request->reference(), ": what the hub holds about the subject ",
      data_keys_ != nullptr
          ? absl::StrCat("of data key ", data_keys_->KeyId("subject", request->subject_id()))
          : "",
      " (", pack->events_size(), " event(s) in ", pack->cases_size(), " case(s), ",
      pack->disclosures_size(), " disclosure(s))"));
  if (absl::Status audited = StoreAudit(log_, record); !audited.ok()) {
    return FinishUnary(context, call, audited);
  }
  LogInfo("subject access answered", {{"events", std::to_string(pack->events_size())},
                                      {"disclosures", std::to_string(pack->disclosures_size())}});
  *response = *std::move(pack);
  return FinishUnary(context, call, absl::OkStatus());
}

}  // namespace hub::services
