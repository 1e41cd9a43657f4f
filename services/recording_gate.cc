#include "services/recording_gate.h"

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

#include "proto/error_details.h"
#include "proto/status_macros.h"
#include "services/envelope.h"

namespace hub::services {
namespace {

// What a case's history costs in memory, near enough to budget by: hash
// table slots and the heap strings of keys (measured with jemalloc's heap
// profile at 200-event cases when every event was kept: about 320 bytes an
// event, a slot, an id and a digest).
size_t EstimatedBytes(const auth::CaseWriteState& state, size_t event_slots) {
  constexpr size_t kPerEvent = 320;
  constexpr size_t kPerEntity = 160;
  return 1024 + kPerEvent * event_slots + kPerEntity * state.entities.size() +
         state.relations.SpaceUsedLong();
}

// What an event says, without what the hub stamped on it when it was
// stored (the time), so a stored event and its resend compare equal.
storage::Sha256Digest ContentDigest(const hub::v1::EventEnvelope& envelope) {
  hub::v1::EventEnvelope content = envelope;
  content.clear_recorded_time();
  content.clear_global_position();
  content.clear_stream_version();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    content.SerializeToCodedStream(&out);
  }
  return storage::Sha256(bytes);
}

}  // namespace

RecordingGate::RecordingGate(const storage::EventLog* log,
                             std::shared_ptr<const auth::RecordingPolicy> policy,
                             const auth::FieldSealer* sealer, size_t history_budget_bytes)
    : log_(log),
      sealer_(sealer),
      history_budget_bytes_(history_budget_bytes),
      policy_(std::move(policy)) {}

void RecordingGate::ReplacePolicy(std::shared_ptr<const auth::RecordingPolicy> policy) {
  absl::MutexLock lock(&mu_);
  policy_ = std::move(policy);
  // Cases with publishes in flight are reloaded once those finish.
  for (auto it = cases_.begin(); it != cases_.end();) {
    if (it->second.pending == 0) {
      EraseLocked(it++);
    } else {
      it->second.broken = true;
      ++it;
    }
  }
}

std::shared_ptr<const auth::RecordingPolicy> RecordingGate::policy() const {
  absl::MutexLock lock(&mu_);
  return policy_;
}

absl::StatusOr<RecordingGate::Entry> RecordingGate::Load(
    const std::string& case_id, const auth::RecordingPolicy& policy) const {
  Entry entry;
  const size_t page = log_->limits().max_read_events;
  for (;;) {
    HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> events,
                         log_->ReadCase(case_id, entry.state.version + 1, page));
    for (const storage::StoredEvent& stored : events) {
      HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(stored, sealer_));
      policy.Apply(envelope, &entry.state);
    }
    // Its events stay in the log, looked up when a publish names them.
    entry.state.recorded = {};
    if (events.size() < page) return entry;
  }
}

absl::StatusOr<absl::flat_hash_map<std::string, auth::CaseWriteState::Recorded>>
RecordingGate::StoredEvents(const std::string& case_id,
                            const std::vector<std::string>& event_ids) const {
  absl::flat_hash_map<std::string, auth::CaseWriteState::Recorded> found;
  for (const std::string& event_id : event_ids) {
    if (found.contains(event_id)) continue;
    HUB_ASSIGN_OR_RETURN(std::optional<storage::StoredEvent> stored, log_->FindEvent(event_id));
    // An id another case holds is not this case's: the log refuses it.
    if (!stored.has_value() || stored->case_id != case_id) continue;
    HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(*stored, sealer_));
    auth::CaseWriteState::Recorded recorded = auth::RecordedEvent(envelope);
    recorded.content_digest = ContentDigest(envelope);
    found.emplace(event_id, std::move(recorded));
  }
  return found;
}

void RecordingGate::EraseLocked(absl::flat_hash_map<std::string, Entry>::iterator it) {
  cached_bytes_ -= it->second.bytes;
  cases_.erase(it);
}

void RecordingGate::RecountLocked(Entry& entry, bool used) {
  const size_t bytes = EstimatedBytes(entry.state, entry.in_flight.capacity());
  cached_bytes_ += bytes - entry.bytes;
  entry.bytes = bytes;
  if (used) entry.last_used = ++clock_;
}

void RecordingGate::TrimLocked() {
  if (cached_bytes_ <= history_budget_bytes_) return;
  // Only histories with nothing in flight can go: the others order their
  // publishes' submission to the log.
  std::vector<std::pair<uint64_t, std::string>> idle;
  for (const auto& [case_id, entry] : cases_) {
    // The history just used stays, however large: it is about to be judged on.
    if (entry.pending == 0 && entry.last_used != clock_) {
      idle.emplace_back(entry.last_used, case_id);
    }
  }
  std::sort(idle.begin(), idle.end());
  for (const auto& [last_used, case_id] : idle) {
    // Down to three quarters of the budget, so that trimming is rare.
    if (cached_bytes_ <= history_budget_bytes_ / 4 * 3) break;
    EraseLocked(cases_.find(case_id));
  }
}

size_t RecordingGate::CachedBytes() const {
  absl::MutexLock lock(&mu_);
  return cached_bytes_;
}

absl::StatusOr<RecordingGate::Admission> RecordingGate::Admit(
    const hub::v1::Principal& principal, const std::vector<hub::v1::EventEnvelope>& envelopes,
    storage::AppendRequest* append) {
  const std::string& case_id = append->case_id;
  // A malformed request is refused as the log would refuse it, before the
  // case it names is looked up.
  HUB_RETURN_IF_ERROR(storage::ValidateAppendRequest(*append, log_->limits()));
  std::shared_ptr<const auth::RecordingPolicy> policy = this->policy();
  // What each event says, hashed before the lock that every publish takes.
  std::vector<storage::Sha256Digest> digests;
  digests.reserve(envelopes.size());
  for (const hub::v1::EventEnvelope& envelope : envelopes) {
    digests.push_back(ContentDigest(envelope));
  }
  // The events the publish names, looked up in the log before the lock
  // that every publish takes: its own ids (a resend is told from a new
  // event by them) and the events its corrections name.
  std::vector<std::string> named;
  for (const hub::v1::EventEnvelope& envelope : envelopes) {
    named.push_back(envelope.event_id());
    if (envelope.has_record_corrected()) {
      named.push_back(envelope.record_corrected().corrected_event_id());
    }
  }
  const uint64_t looked_up_after = stored_publishes_.load(std::memory_order_acquire);
  HUB_ASSIGN_OR_RETURN(auto stored_events, StoredEvents(case_id, named));
  absl::MutexLock lock(&mu_);
  // The case's history, loaded from the log without the lock if need be
  // (a history loaded meanwhile by another publish wins).
  auto found = cases_.end();
  for (int attempt = 0;; ++attempt) {
    if (policy_ != policy) {
      return absl::AbortedError(
          absl::StrCat("the sharing protocol changed while the publish to case ", case_id,
                       " was judged; retry it with the same event ids"));
    }
    found = cases_.find(case_id);
    if (found != cases_.end() && found->second.broken) {
      if (found->second.pending > 0) {
        return absl::AbortedError(absl::StrCat(
            "a concurrent publish to case ", case_id,
            " failed and the hub is reloading the case; retry with the same event ids"));
      }
      EraseLocked(found);
      found = cases_.end();
    }
    if (found != cases_.end()) break;
    if (attempt == 3) {
      return absl::AbortedError(absl::StrCat("case ", case_id,
                                             " kept changing while the publish was judged; retry "
                                             "with the same event ids"));
    }
    mu_.Unlock();
    absl::StatusOr<Entry> loaded = Load(case_id, *policy);
    mu_.Lock();
    if (!loaded.ok()) return loaded.status();
    if (policy_ == policy && !cases_.contains(case_id)) {
      loaded->lineage = next_lineage_++;
      // It may hold publishes stored since the events were looked up.
      loaded->stored_at = stored_publishes_.load(std::memory_order_relaxed);
      RecountLocked(cases_.emplace(case_id, *std::move(loaded)).first->second);
      TrimLocked();
    }
  }
  Entry& entry = found->second;
  auth::CaseWriteState& state = entry.state;
  // A publish to the case was stored meanwhile: what it stored may have
  // been looked up as missing. Rare (concurrent publishes to one case, or a
  // history loaded meanwhile): looked up again.
  if (entry.stored_at > looked_up_after) {
    HUB_ASSIGN_OR_RETURN(stored_events, StoredEvents(case_id, named));
  }
  state.recorded = std::move(stored_events);
  for (const std::string& event_id : named) {
    if (auto in_flight = entry.in_flight.find(event_id); in_flight != entry.in_flight.end()) {
      state.recorded.insert(*in_flight);
    }
  }
  // Only while this publish is judged (its memory too: clear() keeps up to
  // 127 slots, and thousands of histories are kept).
  absl::Cleanup forget_events = [&state] { state.recorded = {}; };
  // Before anything the case holds is looked at: a principal that does not
  // know of the case learns nothing of it (not even which event ids it
  // holds), in the words a case that does not exist gets.
  if (!envelopes.empty()) {
    HUB_RETURN_IF_ERROR(
        policy->CheckRuleAndStanding(principal, envelopes.front(), state, case_id, "events[0]"));
  }
  // A resend must be a retry: the same id with other content would be
  // answered already_stored and the new content silently dropped.
  for (size_t i = 0; i < envelopes.size(); ++i) {
    auto stored = state.recorded.find(envelopes[i].event_id());
    if (stored != state.recorded.end() && stored->second.content_digest != digests[i]) {
      return WithErrorInfo(
          absl::AlreadyExistsError(absl::StrCat(
              "events[", i, "].event_id ", envelopes[i].event_id(), " is already stored in case ",
              case_id,
              " with different content; a retry must resend exactly the same event, and a new "
              "event needs a new event id")),
          "EVENT_ID_REUSED", {{"event_id", envelopes[i].event_id()}});
    }
  }
  if (append->expected_version.has_value() && *append->expected_version != state.version) {
    bool retry = true;
    for (const hub::v1::EventEnvelope& envelope : envelopes) {
      retry &= state.Holds(envelope.event_id());
    }
    // A retry of a stored append is answered by the log (already_stored),
    // whatever version the case has reached since.
    if (!(retry && entry.pending == 0)) {
      return storage::VersionConflictError(case_id, state.version, *append->expected_version);
    }
    return Admission{};
  }
  bool resends = false;
  for (const hub::v1::EventEnvelope& envelope : envelopes) {
    resends |= state.Holds(envelope.event_id());
  }
  Admission admission;
  if (resends) {
    // The log recognises the retry or refuses the batch; it never writes
    // these ids anew, unless the publish that held them failed, in which
    // case the version no longer matches.
    append->expected_version = state.version;
    return admission;
  }
  // Judged on a copy when several events build on each other.
  std::optional<auth::CaseWriteState> scratch;
  if (envelopes.size() > 1) scratch = state;
  auth::CaseWriteState& judged = scratch.has_value() ? *scratch : state;
  const uint64_t version = state.version;
  for (size_t i = 0; i < envelopes.size(); ++i) {
    std::string rule;
    HUB_RETURN_IF_ERROR(policy->Check(principal, envelopes[i], judged, case_id,
                                      absl::StrCat("events[", i, "]"), &rule));
    policy->Apply(envelopes[i], &judged);
    if (std::find(admission.rules.begin(), admission.rules.end(), rule) == admission.rules.end()) {
      admission.rules.push_back(std::move(rule));
    }
  }
  if (scratch.has_value()) state = *std::move(scratch);
  for (size_t i = 0; i < envelopes.size(); ++i) {
    auth::CaseWriteState::Recorded recorded = auth::RecordedEvent(envelopes[i]);
    recorded.content_digest = digests[i];
    entry.in_flight.insert_or_assign(envelopes[i].event_id(), std::move(recorded));
    admission.event_ids.push_back(envelopes[i].event_id());
  }
  append->expected_version = version;
  RecountLocked(entry);
  ++entry.pending;
  admission.tracked = true;
  admission.lineage = entry.lineage;
  admission.ticket = entry.next_ticket++;
  return admission;
}

void RecordingGate::Submit(const std::string& case_id, const Admission& admission,
                           std::function<void()> enqueue) {
  if (!admission.tracked) {
    enqueue();
    return;
  }
  absl::MutexLock lock(&mu_);
  auto found = cases_.find(case_id);
  // An admission in flight keeps its entry (pending > 0), so this holds
  // unless a caller broke the contract; then ordering is moot.
  if (found == cases_.end() || found->second.lineage != admission.lineage) {
    mu_.Unlock();
    enqueue();
    mu_.Lock();
    return;
  }
  found->second.waiting.emplace(admission.ticket, std::move(enqueue));
  if (found->second.submitting) return;
  found->second.submitting = true;
  // Whoever finds the next ticket ready runs it, and every ready one after
  // it, so no caller waits for another.
  for (;;) {
    Entry& entry = found->second;
    auto next = entry.waiting.begin();
    if (next == entry.waiting.end() || next->first != entry.next_to_submit) {
      entry.submitting = false;
      return;
    }
    std::function<void()> run = std::move(next->second);
    entry.waiting.erase(next);
    ++entry.next_to_submit;
    const uint64_t lineage = entry.lineage;
    mu_.Unlock();
    run();
    mu_.Lock();
    // A refused enqueue may have finished the last publish in flight and
    // with it the entry; nothing else can be waiting then.
    found = cases_.find(case_id);
    if (found == cases_.end() || found->second.lineage != lineage) return;
  }
}

void RecordingGate::Finished(const std::string& case_id, const Admission& admission, bool stored) {
  if (!admission.tracked) return;
  absl::MutexLock lock(&mu_);
  auto found = cases_.find(case_id);
  if (found == cases_.end() || found->second.lineage != admission.lineage) return;
  Entry& entry = found->second;
  --entry.pending;
  for (const std::string& event_id : admission.event_ids) entry.in_flight.erase(event_id);
  // Erasing keeps the table's slots: a publish of 200 events would leave
  // 40 KB behind in every history it touched.
  if (entry.in_flight.empty()) entry.in_flight = {};
  RecountLocked(entry, /*used=*/false);
  if (stored) {
    entry.stored_at = stored_publishes_.fetch_add(1, std::memory_order_acq_rel) + 1;
  } else {
    entry.broken = true;
  }
  if (entry.broken && entry.pending == 0) {
    EraseLocked(found);
  } else if (entry.pending == 0) {
    TrimLocked();
  }
}

}  // namespace hub::services
