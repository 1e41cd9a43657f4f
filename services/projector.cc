#include "services/projector.h"

#include <array>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

#include "auth/redactor.h"
#include "proto/status_macros.h"
#include "services/case_summary.h"
#include "services/envelope.h"
#include "services/server_log.h"

namespace hub::services {
namespace {

constexpr size_t kBatchEvents = 1024;
// How long a failing projection waits before trying again.
constexpr absl::Duration kRetryInterval = absl::Seconds(1);
constexpr size_t kBatchBytes = 8 << 20;

}  // namespace

Projector::Projector(storage::EventLog* log, storage::ViewStore* views,
                     storage::GenerationInfo generation,
                     std::shared_ptr<const auth::SharingPolicy> policy)
    : log_(log), views_(views), generation_(std::move(generation)), policy_(std::move(policy)) {}

Projector::~Projector() { Stop(); }

absl::Status Projector::Start() {
  HUB_ASSIGN_OR_RETURN(uint64_t checkpoint, views_->Checkpoint(generation_.generation));
  checkpoint_.store(checkpoint, std::memory_order_release);
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void Projector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    advanced_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status Projector::health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

uint64_t Projector::WaitForCheckpointAfter(uint64_t after,
                                           std::chrono::milliseconds timeout) const {
  const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  absl::MutexLock lock(&mu_);
  while (checkpoint() <= after && !stopping_ && health_.ok()) {
    if (advanced_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return checkpoint();
}

absl::StatusOr<uint64_t> Projector::ProjectOnce(size_t max_events) {
  const uint64_t from = checkpoint() + 1;
  const uint64_t last = log_->LastPosition();
  if (from > last) return 0;
  HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> stored,
                       log_->ReadFrom(from, std::min(max_events, kBatchEvents), kBatchBytes));
  storage::ProjectionBatch batch;
  // Summaries touched by this batch: (principal, case) -> summary.
  std::map<std::pair<uint16_t, std::string>, hub::v1::CaseSummary> summaries;
  const std::vector<std::string>& principals = generation_.principals;
  // What each principal may see, per purpose: decided once per batch, not
  // once per event.
  std::vector<std::array<auth::ClassMask, hub::v1::Purpose_ARRAYSIZE>> allowed_by_purpose(
      principals.size());
  for (size_t p = 0; p < principals.size(); ++p) {
    for (int purpose = 0; purpose < hub::v1::Purpose_ARRAYSIZE; ++purpose) {
      allowed_by_purpose[p][purpose] =
          policy_->Allowed(principals[p], static_cast<hub::v1::Purpose>(purpose));
    }
  }
  for (const storage::StoredEvent& event : stored) {
    batch.checkpoint = event.position;
    HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(event));
    storage::ProjectionBatch::Shaped shaped;
    shaped.position = event.position;
    shaped.stream_version = event.stream_version;
    shaped.case_id = event.case_id;
    // Principals allowed the same classes see the same shape: redact once
    // per distinct set, not once per principal.
    absl::flat_hash_map<unsigned long, std::pair<int, hub::v1::EventEnvelope>> by_mask;
    for (size_t p = 0; p < principals.size(); ++p) {
      const int purpose = envelope.purpose();
      if (purpose < 0 || purpose >= hub::v1::Purpose_ARRAYSIZE) continue;
      const auth::ClassMask& allowed = allowed_by_purpose[p][purpose];
      if (allowed.none()) continue;
      auto [it, inserted] = by_mask.try_emplace(allowed.to_ulong(), -1, hub::v1::EventEnvelope());
      if (inserted) {
        hub::v1::EventEnvelope copy = envelope;
        if (auth::Redact(allowed, &copy)) {
          it->second.first = static_cast<int>(shaped.variants.size());
          shaped.variants.push_back(copy.SerializeAsString());
          it->second.second = std::move(copy);
        }
      }
      if (it->second.first < 0) continue;
      shaped.visible_to.emplace_back(static_cast<uint16_t>(p),
                                     static_cast<uint8_t>(it->second.first));
      const auto key = std::make_pair(static_cast<uint16_t>(p), event.case_id);
      auto summary = summaries.find(key);
      if (summary == summaries.end()) {
        hub::v1::CaseSummary loaded;
        HUB_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                             views_->Summary(generation_.generation, key.first, key.second));
        if (bytes.has_value() && !loaded.ParseFromString(*bytes)) {
          return absl::DataLossError(
              absl::StrCat("a case summary of ", key.second, " does not parse"));
        }
        summary = summaries.emplace(key, std::move(loaded)).first;
      }
      ApplyToSummary(it->second.second, &summary->second);
    }
    if (shaped.variants.size() > 255) {
      return absl::InternalError("more than 255 distinct shapes of one event");
    }
    if (!shaped.visible_to.empty()) batch.events.push_back(std::move(shaped));
  }
  for (auto& [key, summary] : summaries) {
    batch.summaries.emplace_back(key.first, key.second, summary.SerializeAsString());
  }
  HUB_RETURN_IF_ERROR(views_->Apply(generation_.generation, batch));
  {
    absl::MutexLock lock(&mu_);
    checkpoint_.store(batch.checkpoint, std::memory_order_release);
    advanced_.SignalAll();
  }
  return stored.size();
}

void Projector::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (checkpoint() >= log_->LastPosition()) {
      log_->WaitForPositionAfter(checkpoint(), std::chrono::milliseconds(200));
      continue;
    }
    absl::StatusOr<uint64_t> projected = ProjectOnce(kBatchEvents);
    if (projected.ok()) {
      absl::MutexLock lock(&mu_);
      if (!health_.ok()) {
        LogInfo("projecting the views again",
                {{"generation", std::to_string(generation_.generation)}});
        health_ = absl::OkStatus();
      }
      continue;
    }
    // A full disk or a failing device may pass: each batch is written with
    // its checkpoint in one atomic write, so projecting again from the
    // checkpoint is safe. Anything else (a record that does not parse)
    // will not pass by waiting.
    const absl::StatusCode code = projected.status().code();
    const bool transient =
        code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kUnavailable;
    absl::MutexLock lock(&mu_);
    if (health_.ok() || !transient) {
      LogError(transient ? "projecting the views is failing; reads are refused until it recovers"
                         : "projecting the views stopped; reads of this view generation are "
                           "refused",
               {{"generation", std::to_string(generation_.generation)},
                {"error", projected.status().ToString()}});
    }
    health_ = projected.status();
    advanced_.SignalAll();
    if (!transient) return;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), kRetryInterval);
    if (stopping_) return;
    mu_.Unlock();
    views_->Resume().IgnoreError();  // the next attempt reports what still fails
    mu_.Lock();
  }
}

}  // namespace hub::services
