// EventService: publish to the event log; read a case and subscribe, always
// from the caller's own view, shaped by the sharing protocol. Nothing reads
// the log directly on a principal's behalf. Auditors and operators read no
// case content at all.
#ifndef HUB_SERVICES_EVENT_SERVICE_H_
#define HUB_SERVICES_EVENT_SERVICE_H_

#include <memory>

#include "auth/field_sealing.h"
#include "services/authenticator.h"
#include "services/metrics.h"
#include "services/recording_gate.h"
#include "services/shared_view_reads.h"
#include "services/subscriptions.h"
#include "services/views.h"
#include "storage/event_log.h"

#include "hub/v1/config.pb.h"
#include "hub/v1/event_service.grpc.pb.h"

namespace hub::services {

// Subscribe is registered raw: it streams the views' stored bytes as they
// are, without parsing and re-serializing every event it delivers. Publish
// is raw so that the hub, not gRPC, answers a request that does not parse.
using EventServiceBase = hub::v1::EventService::WithRawCallbackMethod_Publish<
    hub::v1::EventService::WithCallbackMethod_ReadCase<
        hub::v1::EventService::WithRawCallbackMethod_Subscribe<hub::v1::EventService::Service>>>;

class EventService final : public EventServiceBase {
 public:
  EventService(std::shared_ptr<const Authenticator> authenticator, storage::EventLog* log,
               const Views* views, RecordingGate* gate, SubscriptionHub* subscriptions,
               hub::v1::LimitsConfig limits, Metrics* metrics,
               const auth::FieldSealer* sealer = nullptr)
      : authenticator_(std::move(authenticator)),
        log_(log),
        views_(views),
        gate_(gate),
        subscriptions_(subscriptions),
        limits_(std::move(limits)),
        metrics_(metrics),
        sealer_(sealer) {
    // Reads kept for other subscriptions are let go as soon as the views
    // change under them (an erasure): not when someone next reads.
    if (views_ != nullptr) {
      views_listener_ = views_->NotifyOnChange([this] { shared_reads_.ForgetAll(); });
    }
  }
  ~EventService() override {
    if (views_ != nullptr) views_->StopNotifying(views_listener_);
  }

  // A serialized hub.v1.PublishRequest in, parsed by the hub so that bytes
  // that are not one get INVALID_ARGUMENT; a serialized PublishResponse out.
  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* ReadCase(grpc::CallbackServerContext* context,
                                     const hub::v1::ReadCaseRequest* request,
                                     hub::v1::ReadCaseResponse* response) override;

  // A serialized hub.v1.SubscribeRequest in; serialized SubscribeResponses
  // out.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request) override;

 private:
  // Replaces the payloads of an admitted append with its events sealed
  // (auth/field_sealing.h); FAILED_PRECONDITION about an erased subject.
  // For a conditional publish: refuses it (VERSION_CONFLICT) unless the
  // case is at the caller's expected_version as the caller sees it; then
  // makes the append conditional on the case's own version at that moment.
  absl::Status CheckVersionInView(const hub::v1::Principal& principal,
                                  const hub::v1::PublishRequest& request,
                                  storage::AppendRequest* append) const;
  absl::Status SealPayloads(const std::vector<hub::v1::EventEnvelope>& stamped,
                            storage::AppendRequest* append) const;

  std::shared_ptr<const Authenticator> authenticator_;
  storage::EventLog* const log_;
  const Views* const views_;
  RecordingGate* const gate_;
  SubscriptionHub* const subscriptions_;
  const hub::v1::LimitsConfig limits_;
  Metrics* const metrics_;
  // Seals the personal fields of what is published (null: stored as sent).
  const auth::FieldSealer* const sealer_;
  // Reads of the views shared by the subscriptions of one principal.
  SharedViewReads shared_reads_;
  int views_listener_ = 0;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_EVENT_SERVICE_H_
