#include "services/health.h"

namespace hub::services {

void Health::Attach(grpc::HealthCheckServiceInterface* service) {
  absl::MutexLock lock(&mu_);
  service_ = service;
  ReportLocked();
}

void Health::Set(Reason reason, bool holds) {
  absl::MutexLock lock(&mu_);
  reasons_.set(static_cast<size_t>(reason), holds);
  ReportLocked();
}

bool Health::serving() const {
  absl::MutexLock lock(&mu_);
  return reasons_.none();
}

void Health::ReportLocked() {
  // gRPC answers for the server as a whole ("") and for each service name.
  if (service_ != nullptr) service_->SetServingStatus(reasons_.none());
}

}  // namespace hub::services
