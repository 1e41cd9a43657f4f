// What grpc.health.v1 reports: SERVING only when the hub is fully serving,
// NOT_SERVING while any reason not to holds - starting (the views are being
// built), rebuilding the views for a new sharing protocol, or draining for
// shutdown. Orchestrators and load balancers act on it.
#ifndef HUB_SERVICES_HEALTH_H_
#define HUB_SERVICES_HEALTH_H_

#include <bitset>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/health_check_service_interface.h"

namespace hub::services {

class Health {
 public:
  enum class Reason { kStarting = 0, kRebuildingViews, kDraining, kCount };

  // Starts as kStarting.
  Health() { reasons_.set(static_cast<size_t>(Reason::kStarting)); }

  // Reports through `service` too from now on (gRPC's default health
  // service of a server, which exists once the server is built).
  void Attach(grpc::HealthCheckServiceInterface* service);
  // Stops reporting through `service` (before its server goes away).
  void Detach(grpc::HealthCheckServiceInterface* service);
  void Set(Reason reason, bool holds);
  bool serving() const;

  // Holds `reason` for the lifetime of the scope.
  class Scope {
   public:
    Scope(Health* health, Reason reason) : health_(health), reason_(reason) {
      if (health_ != nullptr) health_->Set(reason_, true);
    }
    ~Scope() {
      if (health_ != nullptr) health_->Set(reason_, false);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Health* const health_;
    const Reason reason_;
  };

 private:
  void ReportLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::bitset<static_cast<size_t>(Reason::kCount)> reasons_ ABSL_GUARDED_BY(mu_);
  std::vector<grpc::HealthCheckServiceInterface*> services_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hub::services

#endif  // HUB_SERVICES_HEALTH_H_
