#include "services/health.h"

#include <algorithm>

namespace hub::services {

void Health::Attach(grpc::HealthCheckServiceInterface* service) {
  absl::MutexLock lock(&mu_);
  if (service == nullptr) return;
  services_.push_back(service);
  ReportLocked();
}

void Health::Detach(grpc::HealthCheckServiceInterface* service) {
  absl::MutexLock lock(&mu_);
  services_.erase(std::remove(services_.begin(), services_.end(), service), services_.end());
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
  for (grpc::HealthCheckServiceInterface* service : services_) {
    service->SetServingStatus(reasons_.none());
  }
}

}  // namespace hub::services
