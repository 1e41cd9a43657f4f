#include "services/metrics.h"

#include <exception>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "proto/absl_compat.h"
#include "proto/version.h"

#include "prometheus/collectable.h"
#include "prometheus/gauge.h"
#include "prometheus/metric_family.h"

namespace hub::services {
namespace {

// Computes the gauges from the hub's state when Prometheus scrapes, so they
// are never stale and cost nothing between scrapes.
class StateCollector : public prometheus::Collectable {
 public:
  void Set(std::function<HubState()> source) {
    absl::MutexLock lock(&mu_);
    source_ = std::move(source);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    HubState state;
    {
      absl::MutexLock lock(&mu_);
      if (!source_) return {};
      state = source_();
    }
    std::vector<prometheus::MetricFamily> families;
    auto gauge = [&](const char* name, const char* help, double value) {
      prometheus::MetricFamily family;
      family.name = name;
      family.help = help;
      family.type = prometheus::MetricType::Gauge;
      prometheus::ClientMetric metric;
      metric.gauge.value = value;
      family.metric.push_back(metric);
      families.push_back(std::move(family));
    };
    gauge("hub_log_last_position", "Last durable position of the event log.",
          static_cast<double>(state.log_last_position));
    gauge("hub_view_projection_lag_events",
          "Log positions acknowledged but not yet projected into the views.",
          static_cast<double>(state.log_last_position > state.views_projected
                                  ? state.log_last_position - state.views_projected
                                  : 0));
    gauge("hub_audit_tree_size", "Records in the access audit's Merkle tree.",
          static_cast<double>(state.audit_size));
    gauge("hub_audit_last_signed_head_timestamp_seconds",
          "When the last signed tree head was published (0: none yet).",
          static_cast<double>(state.last_signed_head_ms) / 1000.0);
    gauge("hub_crl_next_update_timestamp_seconds",
          "The earliest nextUpdate of the loaded CRLs: publish a new CRL before then (0: no CRL).",
          state.crl_next_update == absl::InfiniteFuture()
              ? 0.0
              : absl::ToDoubleSeconds(state.crl_next_update - absl::UnixEpoch()));
    gauge("hub_subscribers", "Live subscriptions.", static_cast<double>(state.subscribers));
    gauge("hub_subscriber_lag_events",
          "How many log positions the furthest-behind subscription has still to receive.",
          static_cast<double>(state.max_subscriber_lag));
    return families;
  }

 private:
  mutable absl::Mutex mu_;
  std::function<HubState()> source_ ABSL_GUARDED_BY(mu_);
};

std::string CodeName(absl::StatusCode code) {
  return absl::AsciiStrToUpper(absl::StatusCodeToString(code));
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("hub_requests_total")
                   .Help("Calls by method, calling principal (agency/role) and status code.")
                   .Register(*registry_);
  delivered_ = &prometheus::BuildCounter()
                    .Name("hub_events_delivered_total")
                    .Help("Events delivered to subscribers, by principal.")
                    .Register(*registry_);
  // Durable publishes wait for an fsync: buckets from 0.5 ms to 1 s.
  durations_ = &prometheus::BuildHistogram()
                    .Name("hub_request_duration_seconds")
                    .Help("How long calls took to answer, by method (a publish: until durable).")
                    .Register(*registry_);
  // Which build is running, as Prometheus conventions have it: a gauge of 1
  // whose labels say what it is.
  prometheus::BuildGauge()
      .Name("hub_build_info")
      .Help("The running hubd's version and the git commit it was built from (always 1).")
      .Register(*registry_)
      .Add({{"version", hub::kVersion}, {"commit", hub::kGitCommit}})
      .Set(1);
  state_collector_ = std::make_shared<StateCollector>();
}

Metrics::~Metrics() { exposer_.reset(); }

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(const std::string& listen_address) {
  std::unique_ptr<Metrics> metrics(new Metrics());
  if (listen_address == "off") return metrics;
  try {
    metrics->exposer_ = std::make_unique<prometheus::Exposer>(listen_address, 1);
  } catch (const std::exception& error) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen_address, ": ",
                                               error.what(), " (metrics.listen_address)"));
  }
  metrics->exposer_->RegisterCollectable(metrics->registry_);
  metrics->exposer_->RegisterCollectable(metrics->state_collector_);
  const std::vector<int> ports = metrics->exposer_->GetListeningPorts();
  metrics->address_ = absl::StrCat(listen_address.substr(0, listen_address.rfind(':')), ":",
                                   ports.empty() ? 0 : ports.front());
  return metrics;
}

void Metrics::SetStateSource(std::function<HubState()> state) {
  static_cast<StateCollector*>(state_collector_.get())->Set(std::move(state));
}

std::string Metrics::PrincipalLabel(const hub::v1::Principal* principal) {
  if (principal == nullptr) return "unauthenticated";
  return absl::StrCat(principal->agency(), "/",
                      absl::AsciiStrToLower(hub::v1::Role_Name(principal->role())));
}

void Metrics::CountRequest(std::string_view method, const std::string& principal,
                           absl::StatusCode code) {
  requests_
      ->Add({{"method", std::string(method)}, {"principal", principal}, {"code", CodeName(code)}})
      .Increment();
}

void Metrics::ObserveDuration(std::string_view method, absl::Duration duration) {
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0};
  durations_->Add({{"method", std::string(method)}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::CountDelivered(const std::string& principal, uint64_t events) {
  delivered_->Add({{"principal", principal}}).Increment(static_cast<double>(events));
}

}  // namespace hub::services
