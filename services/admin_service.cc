#include "services/admin_service.h"

#include "absl/strings/str_cat.h"

#include "services/audit_trail.h"
#include "services/grpc_status.h"
#include "services/metrics.h"

namespace hub::services {

grpc::ServerUnaryReactor* AdminService::Backup(grpc::CallbackServerContext* context,
                                               const hub::v1::BackupRequest* /*request*/,
                                               hub::v1::BackupResponse* response) {
  CountedCall call(metrics_, "Backup");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (principal->role() != hub::v1::ADMIN) {
    return FinishUnary(context,
                       AuditDenial(log_, *principal, hub::v1::AUDIT_BACKUP, "",
                                   absl::PermissionDeniedError(absl::StrCat(
                                       "principal ", principal->identity(), " has role ",
                                       hub::v1::Role_Name(principal->role()),
                                       "; only the hub operator (admin role) takes backups"))));
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

}  // namespace hub::services
