// The hub's Prometheus metrics (prometheus-cpp), exposed over plain HTTP on
// their own address (default 127.0.0.1:9464, `metrics.listen_address`) for
// the operator's monitoring. They carry no case content: labels are the gRPC
// method, the calling principal as "agency/role" and the status code.
//
//   hub_requests_total{method,principal,code}   every call of every hub service
//                                               (denials are
//                                               code="PERMISSION_DENIED")
//   hub_request_duration_seconds{method}        histogram: how long each call
//                                               took to answer (a publish:
//                                               until durable; a
//                                               subscription: how long it was
//                                               refused in, or lasted)
//   hub_events_delivered_total{principal}       events sent to subscribers
//   hub_subscribers, hub_subscriber_lag_events  live subscriptions, the most
//                                               any one is behind the log
//   hub_view_projection_lag_events              log positions not yet in the views
//   hub_log_last_position, hub_audit_tree_size
//   hub_audit_last_signed_head_timestamp_seconds
//   hub_crl_next_update_timestamp_seconds       renew the CRL before this
#ifndef HUB_SERVICES_METRICS_H_
#define HUB_SERVICES_METRICS_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "services/authenticator.h"
#include "services/grpc_status.h"

#include "hub/v1/sharing_protocol.pb.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace hub::services {

// The hub's state, read at each scrape.
struct HubState {
  uint64_t log_last_position = 0;
  uint64_t views_projected = 0;
  uint64_t audit_size = 0;
  int64_t last_signed_head_ms = 0;
  absl::Time crl_next_update = absl::InfiniteFuture();
  size_t subscribers = 0;
  uint64_t max_subscriber_lag = 0;
};

class Metrics {
 public:
  // Counts from now on; exposes on `listen_address` unless it is "off".
  // UNAVAILABLE if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(const std::string& listen_address);
  ~Metrics();

  // Where the metrics are served ("host:port"), or "" when off.
  const std::string& address() const { return address_; }

  // Reads the hub's state at each scrape (set once, before serving).
  void SetStateSource(std::function<HubState()> state);

  // "agency/role" of a principal, the label every counter uses.
  static std::string PrincipalLabel(const hub::v1::Principal* principal);

  void CountRequest(std::string_view method, const std::string& principal, absl::StatusCode code);
  // How long a call took to answer (unary) or lasted (a subscription).
  void ObserveDuration(std::string_view method, absl::Duration duration);
  void CountDelivered(const std::string& principal, uint64_t events);

 private:
  Metrics();

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Counter>* delivered_ = nullptr;
  prometheus::Family<prometheus::Histogram>* durations_ = nullptr;
  std::shared_ptr<prometheus::Collectable> state_collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
};

// One call as the metrics see it: which method, who, with what status, and
// (for publishes) how long it took. Record() is given the call's final
// status and passes it on.
class CountedCall {
 public:
  CountedCall(Metrics* metrics, std::string_view method)
      : metrics_(metrics), method_(method), started_(absl::Now()) {}
  void SetPrincipal(const hub::v1::Principal& principal) {
    principal_ = Metrics::PrincipalLabel(&principal);
  }
  // The caller of `context` as the authenticator sees it, if it is one.
  void SetPrincipalOf(const Authenticator& authenticator, const grpc::ServerContextBase& context) {
    if (absl::StatusOr<hub::v1::Principal> caller =
            authenticator.PrincipalOf(*context.auth_context());
        caller.ok()) {
      SetPrincipal(*caller);
    }
  }
  const std::string& principal() const { return principal_; }
  const absl::Status& Record(const absl::Status& status) {
    if (metrics_ != nullptr) {
      metrics_->CountRequest(method_, principal_, status.code());
      metrics_->ObserveDuration(method_, absl::Now() - started_);
    }
    return status;
  }

 private:
  Metrics* const metrics_;
  const std::string method_;
  const absl::Time started_;
  std::string principal_ = Metrics::PrincipalLabel(nullptr);
};

// Finishes a unary call with `status`, counted.
inline grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                             CountedCall& call, const absl::Status& status) {
  return FinishUnary(context, call.Record(status));
}

}  // namespace hub::services

#endif  // HUB_SERVICES_METRICS_H_
