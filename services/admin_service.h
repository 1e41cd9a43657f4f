// AdminService: operating the hub (backups, erasure, restriction, retention,
// subject access), for the operator's admin role only; every call is audited.
#ifndef HUB_SERVICES_ADMIN_SERVICE_H_
#define HUB_SERVICES_ADMIN_SERVICE_H_

#include <functional>
#include <memory>

#include "auth/data_keys.h"
#include "auth/field_sealing.h"
#include "services/authenticator.h"
#include "services/backups.h"
#include "services/metrics.h"
#include "services/retention.h"
#include "storage/event_log.h"

#include "hub/v1/admin_service.grpc.pb.h"

namespace hub::services {

class AdminService final : public hub::v1::AdminService::CallbackService {
 public:
  // `data_keys`: where erasure destroys keys (null: erasure is refused);
  // `take_restrictions`: has the views take a restriction placed or lifted
  // (it changes what they may show); `forget_erased`: takes what an erasure
  // left unreadable out of the views.
  AdminService(std::shared_ptr<const Authenticator> authenticator, storage::EventLog* log,
               Backups* backups, Metrics* metrics, auth::DataKeyStore* data_keys = nullptr,
               TakeRestrictions take_restrictions = {}, ForgetErased forget_erased = {},
               Retention* retention = nullptr, bool allow_simulated_clock = false,
               const auth::FieldSealer* sealer = nullptr)
      : authenticator_(std::move(authenticator)),
        log_(log),
        backups_(backups),
        metrics_(metrics),
        data_keys_(data_keys),
        take_restrictions_(std::move(take_restrictions)),
        forget_erased_(std::move(forget_erased)),
        retention_(retention),
        allow_simulated_clock_(allow_simulated_clock),
        sealer_(sealer) {}

  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context,
                                   const hub::v1::BackupRequest* request,
                                   hub::v1::BackupResponse* response) override;
  grpc::ServerUnaryReactor* EraseSubject(grpc::CallbackServerContext* context,
                                         const hub::v1::EraseSubjectRequest* request,
                                         hub::v1::EraseSubjectResponse* response) override;
  grpc::ServerUnaryReactor* RestrictProcessing(
      grpc::CallbackServerContext* context, const hub::v1::RestrictProcessingRequest* request,
      hub::v1::RestrictProcessingResponse* response) override;
  grpc::ServerUnaryReactor* SubjectAccess(grpc::CallbackServerContext* context,
                                          const hub::v1::SubjectAccessRequest* request,
                                          hub::v1::SubjectAccessResponse* response) override;
  grpc::ServerUnaryReactor* RunRetention(grpc::CallbackServerContext* context,
                                         const hub::v1::RunRetentionRequest* request,
                                         hub::v1::RunRetentionResponse* response) override;

 private:
  std::shared_ptr<const Authenticator> authenticator_;
  storage::EventLog* const log_;
  Backups* const backups_;
  Metrics* const metrics_;
  auth::DataKeyStore* const data_keys_;
  const TakeRestrictions take_restrictions_;
  const ForgetErased forget_erased_;
  Retention* const retention_;
  const bool allow_simulated_clock_;
  // Opens sealed events for subject access (null: the hub seals nothing).
  const auth::FieldSealer* const sealer_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_ADMIN_SERVICE_H_
