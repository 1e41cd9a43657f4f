// Keeps track of live subscriptions: wakes them when the views grow (one
// watcher thread, no polling per subscriber), has them check every second
// that their caller may still receive (a revoked or expired certificate, an
// identity removed from the protocol), bounds how many there are in all and
// per principal, and ends them all cleanly when the hub shuts down.
#ifndef HUB_SERVICES_SUBSCRIPTIONS_H_
#define HUB_SERVICES_SUBSCRIPTIONS_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hub::services {

class SubscriptionHub {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // The log has events after the ones the subscriber may have seen.
    virtual void OnLogAdvanced() = 0;
    // The hub is shutting down: end the stream with `status`.
    virtual void EndStream(const absl::Status& status) = 0;
    // The next log position the subscriber will be sent (for its lag).
    virtual uint64_t NextPosition() const = 0;
    // Ends the stream if its caller may no longer receive at `now`.
    virtual void Recheck(absl::Time now) = 0;
    // The subscriber stopped at its read budget with more of the views to
    // look through (everything it read was filtered out): it is woken again
    // at once rather than when the log next grows.
    virtual bool Backlogged() const = 0;
  };

  // `wait_after(position, timeout)` blocks until what subscribers read has
  // advanced past `position` (or the timeout) and returns the new position.
  using WaitAfter = std::function<uint64_t(uint64_t, std::chrono::milliseconds)>;
  SubscriptionHub(WaitAfter wait_after, size_t max_subscriptions,
                  size_t max_subscriptions_per_principal);
  ~SubscriptionHub();
  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  // RESOURCE_EXHAUSTED when max_subscriptions are live, or
  // max_subscriptions_per_principal of `principal` (its identity), so that
  // one agency cannot take every subscription; UNAVAILABLE after
  // Shutdown(). The hub keeps only a weak reference.
  absl::Status Register(const std::shared_ptr<Subscriber>& subscriber,
                        const std::string& principal);
  void Unregister(const Subscriber* subscriber);

  // Live subscriptions, and how far behind `log_last_position` the furthest
  // behind of them is.
  struct Lag {
    size_t subscribers = 0;
    uint64_t max_lag = 0;
  };
  Lag MeasureLag(uint64_t log_last_position);

  // Ends every live stream with `status` and refuses new ones. Idempotent.
  void Shutdown(const absl::Status& status);

 private:
  void WatchLoop();
  std::vector<std::shared_ptr<Subscriber>> Live();

  const WaitAfter wait_after_;
  const size_t max_subscriptions_;
  const size_t max_subscriptions_per_principal_;
  absl::Mutex mu_;
  struct Registration {
    std::weak_ptr<Subscriber> subscriber;
    std::string principal;
  };
  absl::flat_hash_map<const Subscriber*, Registration> subscribers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_principal_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_SUBSCRIPTIONS_H_
