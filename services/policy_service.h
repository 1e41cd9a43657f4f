// PolicyService: the sharing protocol in force, and changing it.
#ifndef HUB_SERVICES_POLICY_SERVICE_H_
#define HUB_SERVICES_POLICY_SERVICE_H_

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"

#include "services/authenticator.h"
#include "services/health.h"
#include "services/metrics.h"
#include "services/recording_gate.h"
#include "services/views.h"
#include "storage/event_log.h"

#include "hub/v1/policy_service.grpc.pb.h"

namespace hub::services {

class PolicyService final : public hub::v1::PolicyService::CallbackService {
 public:
  // `health` (may be null) reports NOT_SERVING while views are rebuilt.
  // `gate` (may be null) takes each new protocol's recording rules.
  PolicyService(std::shared_ptr<Authenticator> authenticator, storage::EventLog* log, Views* views,
                RecordingGate* gate, Health* health, Metrics* metrics)
      : authenticator_(std::move(authenticator)),
        log_(log),
        views_(views),
        gate_(gate),
        health_(health),
        metrics_(metrics) {}

  grpc::ServerUnaryReactor* ApplyProtocol(grpc::CallbackServerContext* context,
                                          const hub::v1::ApplyProtocolRequest* request,
                                          hub::v1::ApplyProtocolResponse* response) override;

  grpc::ServerUnaryReactor* GetProtocol(grpc::CallbackServerContext* context,
                                        const hub::v1::GetProtocolRequest* request,
                                        hub::v1::GetProtocolResponse* response) override;

  // Builds the views again from the log under the protocol in force and
  // switches to them (after an erasure: what can no longer be opened leaves
  // the views). Serialized with protocol changes; returns the position the
  // new views reached.
  absl::StatusOr<uint64_t> RebuildViews(const std::string& why);
  // After content under `key_ids` was erased (its keys destroyed): takes it
  // out of the views where they stand (Views::ForgetInPlace), or else
  // builds them again. A ForgetErased.
  absl::StatusOr<ViewsAfterErasure> ForgetErased(const std::string& why,
                                                 const std::set<std::string>& key_ids,
                                                 uint64_t erasures_before);
  // After a restriction of processing was placed or lifted: takes the log's
  // restrictions into the views where they stand (Views::RestrictInPlace),
  // or else builds them again. A TakeRestrictions.
  absl::StatusOr<ViewsAfterErasure> TakeRestrictions(const std::string& why,
                                                     uint64_t restrictions_before);

 private:
  // `in_place` under the protocol in force (serialized with protocol
  // changes); if it did not take the change, the views are built again.
  absl::StatusOr<ViewsAfterErasure> InPlaceElseRebuild(
      const std::string& why,
      const std::function<absl::StatusOr<bool>(const hub::v1::SharingProtocol&)>& in_place);
  absl::Status Apply(const hub::v1::Principal& principal, const std::string& text,
                     hub::v1::ApplyProtocolResponse* response);

  std::shared_ptr<Authenticator> authenticator_;
  storage::EventLog* const log_;
  Views* const views_;
  RecordingGate* const gate_;
  Health* const health_;
  Metrics* const metrics_;
  absl::Mutex apply_mu_;  // one protocol change at a time
};

}  // namespace hub::services

#endif  // HUB_SERVICES_POLICY_SERVICE_H_
