#include "services/report_service.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

#include "proto/status_macros.h"
#include "proto/thread_name.h"
#include "services/audit_trail.h"
#include "services/evaluation_extract.h"
#include "services/grpc_status.h"
#include "services/server_log.h"
#include "services/tree_head_publisher.h"

namespace hub::services {
namespace {

constexpr absl::Duration kAuditFoldInterval = absl::Seconds(1);

}  // namespace

ReportService::ReportService(std::shared_ptr<const Authenticator> authenticator,
                             storage::EventLog* log, const Views* views,
                             std::shared_ptr<const auth::TreeHeadSigner> signer,
                             std::string checkpoint_origin, hub::v1::ReportConfig config,
                             Metrics* metrics,
                             std::unique_ptr<const auth::Pseudonymiser> pseudonyms)
    : authenticator_(std::move(authenticator)),
      log_(log),
      views_(views),
      signer_(std::move(signer)),
      checkpoint_origin_(std::move(checkpoint_origin)),
      config_(std::move(config)),
      metrics_(metrics),
      pseudonyms_(std::move(pseudonyms)),
      audit_figures_(log) {
  folding_ = std::thread([this] {
    NameThisThread("audit-figures");
    absl::MutexLock lock(&mu_);
    bool facts_read = false;
    while (!stopping_) {
      mu_.Unlock();
      // Once the views serve, their facts are read into memory, so that the
      // first report does not wait for it.
      if (!facts_read) {
        facts_read = views_->ReadReportFacts([](const auto&, uint64_t, const std::string&) {}).ok();
      }
      if (absl::Status folded = audit_figures_.CatchUp(); !folded.ok()) {
        LogError("folding the audit into the report's figures failed",
                 {{"error", folded.ToString()}});
      }
      mu_.Lock();
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), kAuditFoldInterval);
    }
  });
}

ReportService::~ReportService() { Stop(); }

void ReportService::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (folding_.joinable()) folding_.join();
}

absl::Status ReportService::Produce(const hub::v1::GetGovernanceReportRequest& request,
                                    hub::v1::GetGovernanceReportResponse* response) {
  const absl::Time now = absl::Now();
  HUB_ASSIGN_OR_RETURN(const ReportPeriod period, MonthPeriod(request.month(), now));
  HUB_RETURN_IF_ERROR(audit_figures_.CatchUp());
  response->set_month(period.month);
  auto set_date = [](int32_t day, hub::v1::CalendarDate* date) {
    const absl::CivilDay civil = absl::CivilDay(1970, 1, 1) + day;
    date->set_year(static_cast<int32_t>(civil.year()));
    date->set_month(civil.month());
    date->set_day(civil.day());
  };
  set_date(period.first_day, response->mutable_period_start());
  set_date(period.last_day, response->mutable_period_end());
  *response->mutable_produced_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  auto [governance, records] = audit_figures_.For(period);
  *response->mutable_information_governance() = std::move(governance);
  HUB_RETURN_IF_ERROR(views_->ReadReportFacts([&](const Projector::FactsByCase& facts,
                                                  uint64_t projected,
                                                  const std::string& protocol_version) {
    std::vector<const hub::v1::CaseFacts*> cases;
    cases.reserve(facts.size());
    for (const auto& [case_id, case_facts] : facts) cases.push_back(case_facts.get());
    *response->mutable_programme() = ProgrammeFiguresOf(cases, period, config_.caseload_target());
    AddConsentFigures(cases, period, response->mutable_information_governance());
    response->set_log_position(projected);
    response->set_protocol_version(protocol_version);
  }));
  response->set_audit_records(records);
  response->set_suppression_threshold(config_.suppression_threshold());
  response->set_for_publication(request.for_publication());
  if (request.for_publication()) SuppressSmallNumbers(config_.suppression_threshold(), response);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ReportService::GetGovernanceReport(
    grpc::CallbackServerContext* context, const hub::v1::GetGovernanceReportRequest* request,
    hub::v1::GetGovernanceReportResponse* response) {
  CountedCall call(metrics_, "GetGovernanceReport");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  if (principal->role() != hub::v1::AUDITOR && principal->role() != hub::v1::COORDINATOR) {
    return FinishUnary(
        context, call,
        AuditDenial(log_, *principal, hub::v1::AUDIT_READ_REPORT, "",
                    absl::PermissionDeniedError(absl::StrCat(
                        "principal ", principal->identity(), " has role ",
                        hub::v1::Role_Name(principal->role()),
                        "; the governance report is for the governance group (auditor role) "
                        "and coordinators")),
                    hub::v1::PURPOSE_GOVERNANCE));
  }
  if (absl::Status produced = Produce(*request, response); !produced.ok()) {
    response->Clear();
    if (produced.code() == absl::StatusCode::kInvalidArgument) {
      produced = AuditDenial(log_, *principal, hub::v1::AUDIT_READ_REPORT, "", produced,
                             hub::v1::PURPOSE_GOVERNANCE);
    }
    return FinishUnary(context, call, produced);
  }
  // In the audit before it leaves; then a checkpoint that covers that record.
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_READ_REPORT, hub::v1::AUDIT_ALLOWED);
  record.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
  record.set_last_position(response->log_position());
  record.set_reason(absl::StrCat("governance report for ", response->month(),
                                 request->for_publication() ? ", for publication" : ""));
  if (absl::Status audited = StoreAudit(log_, record); !audited.ok()) {
    response->Clear();
    return FinishUnary(context, call, audited);
  }
  const uint64_t audit_size = log_->AuditSize();
  absl::StatusOr<storage::Sha256Digest> root = storage::MerkleRoot(log_->AuditTree(), audit_size);
  absl::StatusOr<std::string> checkpoint =
      root.ok() ? SignedAuditCheckpoint(*signer_, checkpoint_origin_, audit_size, *root)
                : absl::StatusOr<std::string>(root.status());
  if (!checkpoint.ok()) {
    response->Clear();
    return FinishUnary(context, call, checkpoint.status());
  }
  response->set_audit_checkpoint(*checkpoint);
  return FinishUnary(context, call, absl::OkStatus());
}

grpc::ServerUnaryReactor* ReportService::GetEvaluationExtract(
    grpc::CallbackServerContext* context, const hub::v1::GetEvaluationExtractRequest*,
    hub::v1::GetEvaluationExtractResponse* response) {
  CountedCall call(metrics_, "GetEvaluationExtract");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  auto refuse = [&](const std::string& why) {
    return FinishUnary(context, call,
                       AuditDenial(log_, *principal, hub::v1::AUDIT_READ_EXTRACT, "",
                                   absl::PermissionDeniedError(why), hub::v1::PURPOSE_EVALUATION));
  };
  if (principal->role() != hub::v1::EVALUATOR) {
    return refuse(absl::StrCat("principal ", principal->identity(), " has role ",
                               hub::v1::Role_Name(principal->role()),
                               "; the evaluation extract is for the evaluator role only"));
  }
  // The columns follow the caller's PURPOSE_EVALUATION rules, and the
  // audit cites them.
  auth::ClassMask allowed;
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_READ_EXTRACT, hub::v1::AUDIT_ALLOWED);
  record.set_purpose(hub::v1::PURPOSE_EVALUATION);
  for (int data_class = 1; data_class < hub::v1::DataClass_ARRAYSIZE; ++data_class) {
    if (!hub::v1::DataClass_IsValid(data_class)) continue;
    const auth::Decision decision =
        views_->Decide(principal->identity(), static_cast<hub::v1::DataClass>(data_class),
                       hub::v1::PURPOSE_EVALUATION);
    if (!decision.allowed) continue;
    allowed.set(data_class);
    AddDistinct(decision.rule, record.mutable_rules());
    AddDistinct(decision.lawful_basis, record.mutable_lawful_bases());
  }
  if (allowed.none()) {
    return refuse(absl::StrCat("no PURPOSE_EVALUATION rule of the sharing protocol names ",
                               principal->identity(),
                               "; the protocol decides what evaluators get"));
  }
  absl::Status read =
      views_->ReadReportFacts([&](const Projector::FactsByCase& facts, uint64_t projected,
                                  const std::string& protocol_version) {
        std::vector<std::string> case_ids;
        std::vector<const hub::v1::CaseFacts*> cases;
        for (const auto& [case_id, case_facts] : facts) {
          case_ids.push_back(case_id);
          cases.push_back(case_facts.get());
        }
        BuildExtract(case_ids, cases, allowed, *pseudonyms_, response);
        response->set_log_position(projected);
        response->set_protocol_version(protocol_version);
      });
  if (!read.ok()) {
    response->Clear();
    return FinishUnary(context, call, read);
  }
  *response->mutable_produced_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  response->set_key_id(pseudonyms_->key_id());
  record.set_last_position(response->log_position());
  record.set_event_count(response->rows_size());
  for (const hub::v1::ExtractColumn& column : response->columns()) {
    AddDistinctValue(column.data_class(), record.mutable_data_classes());
  }
  record.set_reason(absl::StrCat("evaluation extract: ", response->rows_size(), " cases, ",
                                 response->columns_size(), " columns, evaluation key ",
                                 response->key_id()));
  if (absl::Status audited = StoreAudit(log_, record); !audited.ok()) {
    response->Clear();
    return FinishUnary(context, call, audited);
  }
  return FinishUnary(context, call, absl::OkStatus());
}

}  // namespace hub::services
