#include "services/subscriptions.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "proto/error_details.h"
#include "proto/thread_name.h"

namespace hub::services {

namespace {

// How often every stream checks its caller may still receive; with the CRL
// reload interval it bounds how long a revoked certificate keeps a stream.
constexpr absl::Duration kRecheckInterval = absl::Seconds(1);

}  // namespace

SubscriptionHub::SubscriptionHub(WaitAfter wait_after, size_t max_subscriptions,
                                 size_t max_subscriptions_per_principal)
    : wait_after_(std::move(wait_after)),
      max_subscriptions_(max_subscriptions),
      max_subscriptions_per_principal_(max_subscriptions_per_principal),
      watcher_([this] {
        NameThisThread("subscriptions");
        WatchLoop();
      }) {}

SubscriptionHub::~SubscriptionHub() {
  Shutdown(absl::UnavailableError("the hub is shutting down"));
  if (watcher_.joinable()) watcher_.join();
}

absl::Status SubscriptionHub::Register(const std::shared_ptr<Subscriber>& subscriber,
                                       const std::string& principal) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return absl::UnavailableError("the hub is shutting down");
  size_t& held = per_principal_[principal];
  if (held >= max_subscriptions_per_principal_) {
    return WithErrorInfo(
        WithQuotaViolation(
            absl::ResourceExhaustedError(absl::StrCat(
                principal, " already holds ", held,
                " subscriptions, its quota (limits.max_subscriptions_per_principal); close one (or "
                "share one stream between readers) and retry")),
            "limits.max_subscriptions_per_principal",
            absl::StrCat(held, " of ", max_subscriptions_per_principal_, " held by ", principal)),
        "QUOTA_EXCEEDED", {{"setting", "limits.max_subscriptions_per_principal"}});
  }
  if (subscribers_.size() >= max_subscriptions_) {
    if (held == 0) per_principal_.erase(principal);
    return WithErrorInfo(
        WithQuotaViolation(
            absl::ResourceExhaustedError(
                absl::StrCat("the hub already serves ", subscribers_.size(),
                             " subscriptions, its limit (limits.max_subscriptions); retry later")),
            "limits.max_subscriptions", absl::StrCat(subscribers_.size(), " subscriptions served")),
        "QUOTA_EXCEEDED", {{"setting", "limits.max_subscriptions"}});
  }
  ++held;
  subscribers_[subscriber.get()] = Registration{subscriber, principal};
  return absl::OkStatus();
}

void SubscriptionHub::Unregister(const Subscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  auto found = subscribers_.find(subscriber);
  if (found == subscribers_.end()) return;
  auto count = per_principal_.find(found->second.principal);
  if (count != per_principal_.end() && --count->second == 0) per_principal_.erase(count);
  subscribers_.erase(found);
}

std::vector<std::shared_ptr<SubscriptionHub::Subscriber>> SubscriptionHub::Live() {
  std::vector<std::shared_ptr<Subscriber>> live;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, registration] : subscribers_) {
    if (std::shared_ptr<Subscriber> subscriber = registration.subscriber.lock()) {
      live.push_back(subscriber);
    }
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
  absl::Time next_recheck = absl::Now() + kRecheckInterval;
  bool backlogged = false;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (shutting_down_) return;
    }
    // Wakes on every advance; the timeout lets the loop notice shutdown and
    // recheck callers. Backlogged subscribers are woken at once, each
    // reading one bounded batch per round, so none waits on another's scan.
    const uint64_t last = wait_after_(
        seen, backlogged ? std::chrono::milliseconds(0) : std::chrono::milliseconds(200));
    const std::vector<std::shared_ptr<Subscriber>> live = Live();
    if (const absl::Time now = absl::Now(); now >= next_recheck) {
      next_recheck = now + kRecheckInterval;
      for (const std::shared_ptr<Subscriber>& subscriber : live) subscriber->Recheck(now);
    }
    backlogged = false;
    for (const std::shared_ptr<Subscriber>& subscriber : live) {
      if (last != seen || subscriber->Backlogged()) subscriber->OnLogAdvanced();
      backlogged |= subscriber->Backlogged();
    }
    seen = last;
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
