// TimelineService: a case's consolidated timeline and the list of cases for
// panel preparation, both read from the caller's own view (shaped by the
// sharing protocol) and audited before the answer leaves.
#ifndef HUB_SERVICES_TIMELINE_SERVICE_H_
#define HUB_SERVICES_TIMELINE_SERVICE_H_

#include <memory>

#include "services/authenticator.h"
#include "services/metrics.h"
#include "services/views.h"
#include "storage/event_log.h"

#include "hub/v1/timeline_service.grpc.pb.h"

namespace hub::services {

class TimelineService final : public hub::v1::TimelineService::CallbackService {
 public:
  TimelineService(std::shared_ptr<const Authenticator> authenticator, storage::EventLog* log,
                  const Views* views, Metrics* metrics)
      : authenticator_(std::move(authenticator)), log_(log), views_(views), metrics_(metrics) {}

  grpc::ServerUnaryReactor* GetCaseTimeline(grpc::CallbackServerContext* context,
                                            const hub::v1::GetCaseTimelineRequest* request,
                                            hub::v1::GetCaseTimelineResponse* response) override;

  grpc::ServerUnaryReactor* ListCases(grpc::CallbackServerContext* context,
                                      const hub::v1::ListCasesRequest* request,
                                      hub::v1::ListCasesResponse* response) override;

 private:
  absl::Status Timeline(const hub::v1::Principal& principal,
                        const hub::v1::GetCaseTimelineRequest& request,
                        hub::v1::GetCaseTimelineResponse* response) const;
  absl::Status List(const hub::v1::Principal& principal, const hub::v1::ListCasesRequest& request,
                    hub::v1::ListCasesResponse* response) const;
  // Stores the audit record of a list about to be returned (emptying the
  // response if that fails).
  absl::Status AuditList(const hub::v1::Principal& principal, hub::v1::Purpose purpose,
                         const Views::Handle& view, hub::v1::ListCasesResponse* response) const;

  std::shared_ptr<const Authenticator> authenticator_;
  storage::EventLog* const log_;
  const Views* const views_;
  Metrics* const metrics_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_TIMELINE_SERVICE_H_
