// ReportService: the governance group's monthly report, for the auditor
// role and coordinators. Aggregates only, computed from the projector's case
// facts and the audit's running figures; audited before it leaves.
#ifndef HUB_SERVICES_REPORT_SERVICE_H_
#define HUB_SERVICES_REPORT_SERVICE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"

#include "auth/pseudonyms.h"
#include "auth/tree_head_signer.h"
#include "services/authenticator.h"
#include "services/governance_report.h"
#include "services/metrics.h"
#include "services/views.h"
#include "storage/event_log.h"

#include "hub/v1/config.pb.h"
#include "hub/v1/report_service.grpc.pb.h"

namespace hub::services {

class ReportService final : public hub::v1::ReportService::CallbackService {
 public:
  // Folds the audit into its running figures every second, so that a
  // report only adds what came since.
  // `pseudonyms` makes the evaluation extract's pseudonyms.
  ReportService(std::shared_ptr<const Authenticator> authenticator, storage::EventLog* log,
                const Views* views, std::shared_ptr<const auth::TreeHeadSigner> signer,
                std::string checkpoint_origin, hub::v1::ReportConfig config, Metrics* metrics,
                std::unique_ptr<const auth::Pseudonymiser> pseudonyms);
  ~ReportService() override;
  // Stops folding the audit (before the log closes). Idempotent.
  void Stop();
  ReportService(const ReportService&) = delete;
  ReportService& operator=(const ReportService&) = delete;

  grpc::ServerUnaryReactor* GetGovernanceReport(
      grpc::CallbackServerContext* context, const hub::v1::GetGovernanceReportRequest* request,
      hub::v1::GetGovernanceReportResponse* response) override;

  grpc::ServerUnaryReactor* GetEvaluationExtract(
      grpc::CallbackServerContext* context, const hub::v1::GetEvaluationExtractRequest* request,
      hub::v1::GetEvaluationExtractResponse* response) override;

  // The report of a month, without authorization or audit (for hubd's own
  // use and benchmarks).
  absl::Status Produce(const hub::v1::GetGovernanceReportRequest& request,
                       hub::v1::GetGovernanceReportResponse* response);

 private:
  std::shared_ptr<const Authenticator> authenticator_;
  storage::EventLog* const log_;
  const Views* const views_;
  const std::shared_ptr<const auth::TreeHeadSigner> signer_;
  const std::string checkpoint_origin_;
  const hub::v1::ReportConfig config_;
  Metrics* const metrics_;
  const std::unique_ptr<const auth::Pseudonymiser> pseudonyms_;
  AuditFigures audit_figures_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread folding_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_REPORT_SERVICE_H_
