// AuditService: the governance group's view of the access audit.
#ifndef HUB_SERVICES_AUDIT_SERVICE_H_
#define HUB_SERVICES_AUDIT_SERVICE_H_

#include <memory>

#include "auth/tree_head_signer.h"
#include "services/authenticator.h"
#include "services/metrics.h"
#include "storage/event_log.h"

#include "hub/v1/audit_service.grpc.pb.h"

namespace hub::services {

class AuditService final : public hub::v1::AuditService::CallbackService {
 public:
  // `checkpoint_origin`: the name in signed checkpoints (origins
  // "<name>/log" and "<name>/audit", and the signature's key name).
  // `key_rotations_path`: the file of key rotation notes (see
  // CompleteAuditKeyRotation), handed to witnesses with the checkpoints.
  AuditService(std::shared_ptr<const Authenticator> authenticator, storage::EventLog* log,
               std::shared_ptr<const auth::TreeHeadSigner> signer, Metrics* metrics,
               std::string checkpoint_origin, std::string key_rotations_path)
      : authenticator_(std::move(authenticator)),
        log_(log),
        signer_(std::move(signer)),
        metrics_(metrics),
        checkpoint_origin_(std::move(checkpoint_origin)),
        key_rotations_path_(std::move(key_rotations_path)) {}

  grpc::ServerUnaryReactor* QueryAudit(grpc::CallbackServerContext* context,
                                       const hub::v1::QueryAuditRequest* request,
                                       hub::v1::QueryAuditResponse* response) override;
  grpc::ServerUnaryReactor* GetSignedTreeHead(grpc::CallbackServerContext* context,
                                              const hub::v1::GetSignedTreeHeadRequest* request,
                                              hub::v1::SignedTreeHead* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(grpc::CallbackServerContext* context,
                                              const hub::v1::GetInclusionProofRequest* request,
                                              hub::v1::InclusionProof* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(grpc::CallbackServerContext* context,
                                                const hub::v1::GetConsistencyProofRequest* request,
                                                hub::v1::ConsistencyProof* response) override;
  grpc::ServerUnaryReactor* ExportAudit(grpc::CallbackServerContext* context,
                                        const hub::v1::ExportAuditRequest* request,
                                        hub::v1::ExportAuditResponse* response) override;
  grpc::ServerUnaryReactor* GetCheckpoints(grpc::CallbackServerContext* context,
                                           const hub::v1::GetCheckpointsRequest* request,
                                           hub::v1::GetCheckpointsResponse* response) override;

 private:
  // The auditor making the call, after auditing the call itself (`what`
  // describes it); PERMISSION_DENIED (also audited) for any other role.
  absl::StatusOr<hub::v1::Principal> Auditor(grpc::CallbackServerContext* context,
                                             const std::string& what) const;
  absl::Status Query(const hub::v1::QueryAuditRequest& request,
                     hub::v1::QueryAuditResponse* response) const;
  absl::Status Export(const hub::v1::ExportAuditRequest& request,
                      hub::v1::ExportAuditResponse* response) const;

  std::shared_ptr<const Authenticator> authenticator_;
  storage::EventLog* const log_;
  std::shared_ptr<const auth::TreeHeadSigner> signer_;
  Metrics* const metrics_;
  const std::string checkpoint_origin_;
  const std::string key_rotations_path_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_AUDIT_SERVICE_H_
