#include "services/policy_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "auth/principal_directory.h"
#include "auth/sharing_protocol.h"
#include "proto/status_macros.h"
#include "services/audit_trail.h"
#include "services/grpc_status.h"
#include "services/metrics.h"
#include "services/protocol_records.h"
#include "services/retention.h"
#include "services/server_log.h"

namespace hub::services {
namespace {

// Rebuilding the views of a national-scale log takes a while.
constexpr std::chrono::minutes kRebuildTimeout(30);

}  // namespace

absl::Status PolicyService::Apply(const hub::v1::Principal& principal, const std::string& text,
                                  hub::v1::ApplyProtocolResponse* response) {
  if (principal.role() != hub::v1::ADMIN) {
    return absl::PermissionDeniedError(absl::StrCat(
        "principal ", principal.identity(), " has role ", hub::v1::Role_Name(principal.role()),
        "; only the hub operator (admin role) applies sharing protocols"));
  }
  HUB_ASSIGN_OR_RETURN(auth::LoadedProtocol loaded,
                       auth::ParseSharingProtocol(text, "protocol_text"));
  // The new views' digest counts the erasure and restriction records: none
  // may stand between its record and its keys meanwhile. Always taken
  // before apply_mu_, as an erasure taking the views along takes them.
  absl::MutexLock erasing(&ErasureMutex());
  absl::MutexLock lock(&apply_mu_);
  HUB_ASSIGN_OR_RETURN(std::optional<RecordedProtocol> current, LatestRecordedProtocol(*log_));
  const std::string previous = current.has_value() ? current->protocol.version() : "";
  if (current.has_value() && loaded.protocol.version() == previous) {
    return absl::FailedPreconditionError(
        absl::StrCat("protocol version ", previous,
                     " is already in force; give the new protocol a new version"));
  }
  if (current.has_value() && loaded.protocol.partnership() != current->protocol.partnership()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the protocol is for partnership ", loaded.protocol.partnership(),
                     ", this hub serves ", current->protocol.partnership()));
  }
  // Readers keep the current views meanwhile, but the hub is not fully
  // serving: health says so (before the log does) until the new views are
  // in force.
  Health::Scope rebuilding(health_, Health::Reason::kRebuildingViews);
  const absl::Time started = absl::Now();
  LogInfo("rebuilding views for a new sharing protocol", {{"version", loaded.protocol.version()},
                                                          {"previous_version", previous},
                                                          {"applied_by", principal.identity()}});
  // Build first: if it fails, nothing is recorded and nothing changes.
  HUB_ASSIGN_OR_RETURN(std::unique_ptr<Projector> next,
                       views_->BuildNext(loaded.protocol, kRebuildTimeout));
  const absl::Duration projecting = absl::Now() - started;
  HUB_ASSIGN_OR_RETURN(
      uint64_t position,
      RecordProtocol(log_, loaded.protocol, text, previous,
                     current.has_value() ? current->case_version : 0, principal.identity()));
  const uint64_t rebuilt_through = next->checkpoint();
  HUB_RETURN_IF_ERROR(views_->Activate(std::move(next)));
  authenticator_->ReplaceDirectory(std::make_shared<auth::PrincipalDirectory>(loaded.protocol));
  if (gate_ != nullptr) {
    gate_->ReplacePolicy(std::make_shared<const auth::RecordingPolicy>(loaded.protocol));
  }
  response->set_version(loaded.protocol.version());
  response->set_previous_version(previous);
  response->set_recorded_at_position(position);
  for (const std::string& warning : loaded.warnings) response->add_warnings(warning);
  response->set_rebuild_milliseconds(absl::ToInt64Milliseconds(absl::Now() - started));
  response->set_rebuilt_through_position(rebuilt_through);
  LogInfo("sharing protocol applied",
          {{"version", loaded.protocol.version()},
           {"position", std::to_string(position)},
           {"rebuild_ms", std::to_string(response->rebuild_milliseconds())},
           {"projecting_ms", std::to_string(absl::ToInt64Milliseconds(projecting))}});
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PolicyService::RebuildViews(const std::string& why) {
  absl::MutexLock lock(&apply_mu_);
  HUB_ASSIGN_OR_RETURN(std::optional<RecordedProtocol> current, LatestRecordedProtocol(*log_));
  if (!current.has_value()) return absl::FailedPreconditionError("no protocol is in force");
  Health::Scope rebuilding(health_, Health::Reason::kRebuildingViews);
  const absl::Time started = absl::Now();
  HUB_ASSIGN_OR_RETURN(std::unique_ptr<Projector> next,
                       views_->BuildNext(current->protocol, kRebuildTimeout));
  const uint64_t rebuilt_through = next->checkpoint();
  HUB_RETURN_IF_ERROR(views_->Activate(std::move(next)));
  LogInfo("views rebuilt",
          {{"why", why},
           {"through_position", std::to_string(rebuilt_through)},
           {"ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() - started))}});
  return rebuilt_through;
}

absl::StatusOr<ViewsAfterErasure> PolicyService::ForgetErased(const std::string& why,
                                                              const std::set<std::string>& key_ids,
                                                              uint64_t erasures_before) {
  return InPlaceElseRebuild(why, [&](const hub::v1::SharingProtocol& protocol) {
    return views_->ForgetInPlace(protocol, key_ids, erasures_before, why);
  });
}

absl::StatusOr<ViewsAfterErasure> PolicyService::TakeRestrictions(const std::string& why,
                                                                  uint64_t restrictions_before) {
  return InPlaceElseRebuild(why, [&](const hub::v1::SharingProtocol& protocol) {
    return views_->RestrictInPlace(protocol, restrictions_before, why);
  });
}

absl::StatusOr<ViewsAfterErasure> PolicyService::InPlaceElseRebuild(
    const std::string& why,
    const std::function<absl::StatusOr<bool>(const hub::v1::SharingProtocol&)>& in_place) {
  {
    absl::MutexLock lock(&apply_mu_);
    HUB_ASSIGN_OR_RETURN(std::optional<RecordedProtocol> current, LatestRecordedProtocol(*log_));
    if (!current.has_value()) return absl::FailedPreconditionError("no protocol is in force");
    absl::StatusOr<bool> taken = in_place(current->protocol);
    if (taken.ok() && *taken) return ViewsAfterErasure{0, views_->Projected()};
    if (!taken.ok()) {
      LogError("the views could not take the change where they stand; building them again",
               {{"why", why}, {"error", taken.status().ToString()}});
    }
  }
  HUB_ASSIGN_OR_RETURN(const uint64_t rebuilt, RebuildViews(why));
  return ViewsAfterErasure{rebuilt, 0};
}

grpc::ServerUnaryReactor* PolicyService::ApplyProtocol(grpc::CallbackServerContext* context,
                                                       const hub::v1::ApplyProtocolRequest* request,
                                                       hub::v1::ApplyProtocolResponse* response) {
  CountedCall call(metrics_, "ApplyProtocol");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  absl::Status applied = Apply(*principal, request->protocol_text(), response);
  if (applied.code() == absl::StatusCode::kPermissionDenied) {
    return FinishUnary(context,
                       AuditDenial(log_, *principal, hub::v1::AUDIT_PROTOCOL_CHANGE, "", applied));
  }
  if (applied.ok()) {
    hub::v1::AuditRecord record =
        AuditRecordFor(*principal, hub::v1::AUDIT_PROTOCOL_CHANGE, hub::v1::AUDIT_ALLOWED);
    record.set_first_position(response->recorded_at_position());
    record.set_last_position(response->recorded_at_position());
    record.set_protocol_version(response->version());
    record.set_reason(absl::StrCat("replaced version ", response->previous_version()));
    // The change is in force and recorded in the log; an audit failure here
    // is reported but cannot undo it.
    absl::Status audited = StoreAudit(log_, record);
    if (!audited.ok())
      LogError("a protocol change could not be audited", {{"error", audited.ToString()}});
  }
  return FinishUnary(context, call, applied);
}

grpc::ServerUnaryReactor* PolicyService::GetProtocol(grpc::CallbackServerContext* context,
                                                     const hub::v1::GetProtocolRequest*,
                                                     hub::v1::GetProtocolResponse* response) {
  CountedCall call(metrics_, "GetProtocol");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  absl::StatusOr<std::optional<RecordedProtocol>> current = LatestRecordedProtocol(*log_);
  if (!current.ok()) return FinishUnary(context, call, current.status());
  if (!current->has_value()) {
    return FinishUnary(context, call,
                       absl::FailedPreconditionError("no protocol has been recorded"));
  }
  *response->mutable_protocol() = (*current)->protocol;
  response->set_protocol_text((*current)->text);
  response->set_digest((*current)->digest);
  response->set_recorded_at_position((*current)->position);
  // Which partner read the agreement, and which version, is governance
  // business too.
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_READ_PROTOCOL, hub::v1::AUDIT_ALLOWED);
  record.set_protocol_version((*current)->protocol.version());
  record.set_first_position((*current)->position);
  record.set_last_position((*current)->position);
  if (absl::Status audited = StoreAudit(log_, record); !audited.ok()) {
    response->Clear();
    return FinishUnary(context, call, audited);
  }
  return FinishUnary(context, call, absl::OkStatus());
}

}  // namespace hub::services
