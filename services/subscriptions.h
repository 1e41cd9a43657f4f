// Keeps track of live subscriptions: wakes them when the views grow (one
// watcher thread, no polling per subscriber), bounds how many there are, and
// ends them all cleanly when the hub shuts down.
#ifndef HUB_SERVICES_SUBSCRIPTIONS_H_
#define HUB_SERVICES_SUBSCRIPTIONS_H_

#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

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
  };

  // `wait_after(position, timeout)` blocks until what subscribers read has
  // advanced past `position` (or the timeout) and returns the new position.
  using WaitAfter = std::function<uint64_t(uint64_t, std::chrono::milliseconds)>;
  SubscriptionHub(WaitAfter wait_after, size_t max_subscriptions);
  ~SubscriptionHub();
  SubscriptionHub(const SubscriptionHub&) = delete;
  SubscriptionHub& operator=(const SubscriptionHub&) = delete;

  // RESOURCE_EXHAUSTED when max_subscriptions are live; UNAVAILABLE after
  // Shutdown(). The hub keeps only a weak reference.
  absl::Status Register(const std::shared_ptr<Subscriber>& subscriber);
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
  absl::Mutex mu_;
  absl::flat_hash_map<const Subscriber*, std::weak_ptr<Subscriber>> subscribers_
      ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_SUBSCRIPTIONS_H_
