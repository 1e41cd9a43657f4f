// EventService: publish to the event log, read a case, subscribe to the log.
//
// Until the sharing protocol's per-agency views exist, case content is
// returned only to principals with the admin role; every other read is
// refused (PERMISSION_DENIED), never served unredacted.
#ifndef HUB_SERVICES_EVENT_SERVICE_H_
#define HUB_SERVICES_EVENT_SERVICE_H_

#include <memory>

#include "services/authenticator.h"
#include "services/subscriptions.h"
#include "storage/event_log.h"

#include "hub/v1/config.pb.h"
#include "hub/v1/event_service.grpc.pb.h"

namespace hub::services {

class EventService final : public hub::v1::EventService::CallbackService {
 public:
  EventService(std::shared_ptr<const Authenticator> authenticator, storage::EventLog* log,
               SubscriptionHub* subscriptions, hub::v1::LimitsConfig limits)
      : authenticator_(std::move(authenticator)),
        log_(log),
        subscriptions_(subscriptions),
        limits_(std::move(limits)) {}

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const hub::v1::PublishRequest* request,
                                    hub::v1::PublishResponse* response) override;

  grpc::ServerUnaryReactor* ReadCase(grpc::CallbackServerContext* context,
                                     const hub::v1::ReadCaseRequest* request,
                                     hub::v1::ReadCaseResponse* response) override;

  grpc::ServerWriteReactor<hub::v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context, const hub::v1::SubscribeRequest* request) override;

 private:
  // The principal of the call, if it may read case content.
  absl::StatusOr<hub::v1::Principal> Reader(grpc::CallbackServerContext* context) const;

  std::shared_ptr<const Authenticator> authenticator_;
  storage::EventLog* const log_;
  SubscriptionHub* const subscriptions_;
  const hub::v1::LimitsConfig limits_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_EVENT_SERVICE_H_
