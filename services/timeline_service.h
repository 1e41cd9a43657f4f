// TimelineService: a case's consolidated timeline and the list of cases for
// panel preparation, both read from the caller's own view (shaped by the
// sharing protocol) and audited before the answer leaves.
#ifndef HUB_SERVICES_TIMELINE_SERVICE_H_
#define HUB_SERVICES_TIMELINE_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"

#include "services/arena_messages.h"
#include "services/authenticator.h"
#include "services/metrics.h"
#include "services/views.h"
#include "storage/event_log.h"

#include "hub/v1/audit.pb.h"
#include "hub/v1/timeline_service.grpc.pb.h"

namespace hub::services {

class TimelineService final : public hub::v1::TimelineService::CallbackService {
 public:
  TimelineService(std::shared_ptr<const Authenticator> authenticator, storage::EventLog* log,
                  const Views* views, Metrics* metrics)
      : authenticator_(std::move(authenticator)), log_(log), views_(views), metrics_(metrics) {
    SetMessageAllocatorFor_GetCaseTimeline(&timeline_messages_);
    SetMessageAllocatorFor_ListCases(&list_messages_);
  }

  grpc::ServerUnaryReactor* GetCaseTimeline(grpc::CallbackServerContext* context,
                                            const hub::v1::GetCaseTimelineRequest* request,
                                            hub::v1::GetCaseTimelineResponse* response) override;

  grpc::ServerUnaryReactor* ListCases(grpc::CallbackServerContext* context,
                                      const hub::v1::ListCasesRequest* request,
                                      hub::v1::ListCasesResponse* response) override;

 private:
  // Each fills the response and returns the audit record that must be
  // durable before it leaves.
  absl::StatusOr<hub::v1::AuditRecord> Timeline(const hub::v1::Principal& principal,
                                                const hub::v1::GetCaseTimelineRequest& request,
                                                hub::v1::GetCaseTimelineResponse* response) const;
  absl::StatusOr<hub::v1::AuditRecord> List(const hub::v1::Principal& principal,
                                            const hub::v1::ListCasesRequest& request,
                                            hub::v1::ListCasesResponse* response) const;
  // The audit record of a list about to be returned.
  static hub::v1::AuditRecord ListRecord(const hub::v1::Principal& principal,
                                         hub::v1::Purpose purpose, const Views::Handle& view,
                                         const hub::v1::ListCasesResponse& response);

  std::shared_ptr<const Authenticator> authenticator_;
  storage::EventLog* const log_;
  const Views* const views_;
  Metrics* const metrics_;
  ArenaMessageAllocator<hub::v1::GetCaseTimelineRequest, hub::v1::GetCaseTimelineResponse>
      timeline_messages_;
  ArenaMessageAllocator<hub::v1::ListCasesRequest, hub::v1::ListCasesResponse> list_messages_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_TIMELINE_SERVICE_H_
