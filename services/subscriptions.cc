#include "services/subscriptions.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace hub::services {

SubscriptionHub::SubscriptionHub(WaitAfter wait_after, size_t max_subscriptions)
    : wait_after_(std::move(wait_after)),
      max_subscriptions_(max_subscriptions),
      watcher_([this] { WatchLoop(); }) {}

SubscriptionHub::~SubscriptionHub() {
  Shutdown(absl::UnavailableError("the hub is shutting down"));
  if (watcher_.joinable()) watcher_.join();
}

absl::Status SubscriptionHub::Register(const std::shared_ptr<Subscriber>& subscriber) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return absl::UnavailableError("the hub is shutting down");
  if (subscribers_.size() >= max_subscriptions_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the hub already serves ", subscribers_.size(),
                     " subscriptions, its limit (limits.max_subscriptions); retry later"));
  }
  subscribers_[subscriber.get()] = subscriber;
  return absl::OkStatus();
}

void SubscriptionHub::Unregister(const Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(subscriber);
}

std::vector<std::shared_ptr<SubscriptionHub::Subscriber>> SubscriptionHub::Live() {
  std::vector<std::shared_ptr<Subscriber>> live;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, weak] : subscribers_) {
    if (std::shared_ptr<Subscriber> subscriber = weak.lock()) live.push_back(subscriber);
  }
  return live;
}

void SubscriptionHub::Shutdown(const absl::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
  }
  for (const std::shared_ptr<Subscriber>& subscriber : Live()) subscriber->EndStream(status);
}

void SubscriptionHub::WatchLoop() {
  uint64_t seen = wait_after_(0, std::chrono::milliseconds(0));
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (shutting_down_) return;
    }
    // Wakes on every advance; the timeout only lets the loop notice shutdown.
    const uint64_t last = wait_after_(seen, std::chrono::milliseconds(200));
    if (last == seen) continue;
    seen = last;
    for (const std::shared_ptr<Subscriber>& subscriber : Live()) subscriber->OnLogAdvanced();
  }
}

SubscriptionHub::Lag SubscriptionHub::MeasureLag(uint64_t log_last_position) {
  Lag lag;
  for (const std::shared_ptr<Subscriber>& subscriber : Live()) {
    ++lag.subscribers;
    const uint64_t next = subscriber->NextPosition();
    if (next <= log_last_position)
      lag.max_lag = std::max(lag.max_lag, log_last_position + 1 - next);
  }
  return lag;
}

}  // namespace hub::services
