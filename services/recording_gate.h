// The write side of the sharing protocol on the publish path: every publish
// is judged by auth::RecordingPolicy against the recording rules and the
// history of its case before it reaches the log, and the judgement and the
// append are made atomic by the log's expected_version check.
//
// The history of each case (auth::CaseWriteState) is folded from the log on
// first use and kept in memory, advanced by every publish admitted; the
// histories kept are bounded in bytes, the least recently used forgotten
// first (and folded again when their case is next published to). An
// admitted publish is appended at the exact version it was judged at: if
// anything else reached the case first, the log refuses it, so a publish is
// never stored against a history it was not judged on. When an admitted
// publish fails, the case's history is reloaded from the log once the
// publishes admitted on it have finished; until then the case's publishes
// are refused with ABORTED (retry with the same event ids).
//
// Admitted publishes reach the log in the order they were admitted
// (Submit()): two publishes to one case judged at versions 5 and 6 must be
// queued in that order, or the second would be refused for a version the
// first was about to create.
//
// Thread safety: all methods may be called concurrently.
#ifndef HUB_SERVICES_RECORDING_GATE_H_
#define HUB_SERVICES_RECORDING_GATE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "auth/field_sealing.h"
#include "auth/recording_policy.h"
#include "storage/event_log.h"
#include "storage/hash_chain.h"

#include "hub/v1/events.pb.h"
#include "hub/v1/sharing_protocol.pb.h"

namespace hub::services {

class RecordingGate {
 public:
  // Memory for the case histories kept between publishes. A history holds
  // what constrains the case's next event (its version, its entities and
  // who is related to it), not its events: the events a publish names (its
  // own ids, the events its corrections name) are looked up in the log's
  // event-id index. A few KiB a case, so the budget holds thousands of
  // cases; one forgotten is folded from the log again on its next publish
  // (about a millisecond for 200 events).
  static constexpr size_t kDefaultHistoryBudgetBytes = 48 << 20;

  // `sealer` opens the log's sealed events (null: it holds none).
  RecordingGate(const storage::EventLog* log, std::shared_ptr<const auth::RecordingPolicy> policy,
                const auth::FieldSealer* sealer = nullptr,
                size_t history_budget_bytes = kDefaultHistoryBudgetBytes);

  // A new protocol: later publishes are judged by `policy`; every case's
  // history is reloaded (entities are whatever the protocol says they are).
  void ReplacePolicy(std::shared_ptr<const auth::RecordingPolicy> policy);

  // What Admit() decided, to hand back to Finished().
  struct Admission {
    // The recording rules that allowed the events (distinct).
    std::vector<std::string> rules;
    // Whether the case's history counts this publish as in flight.
    bool tracked = false;
    uint64_t lineage = 0;
    // Its place in the case's order of submission to the log.
    uint64_t ticket = 0;
    // The ids it admitted, in flight until Finished().
    std::vector<std::string> event_ids;
  };

  // Judges `envelopes` (stamped, in order) of `append`, recorded by
  // `principal`, and on success sets append->expected_version to the
  // version they were judged at. Refusals are those of
  // auth::RecordingPolicy::Check, a version conflict when the caller's
  // expected_version is not the case's, ABORTED while the case's history is
  // being reloaded, and the log's read errors. A publish that resends event
  // ids the case holds is passed to the log unjudged at the case's version
  // (a retry: the log answers already_stored) if it is the same content;
  // ALREADY_EXISTS if an id holds other content than the one stored.
  // Every OK must be followed by exactly one Submit().
  absl::StatusOr<Admission> Admit(const hub::v1::Principal& principal,
                                  const std::vector<hub::v1::EventEnvelope>& envelopes,
                                  storage::AppendRequest* append);

  // Runs `enqueue` (which hands the append to the log, or gives it up) once
  // every publish admitted earlier on the case has run its own, possibly on
  // another caller's thread; never with the gate's lock held. `enqueue` must
  // be quick and must lead to exactly one Finished().
  void Submit(const std::string& case_id, const Admission& admission,
              std::function<void()> enqueue);

  void Finished(const std::string& case_id, const Admission& admission, bool stored);

  // The policy in force.
  std::shared_ptr<const auth::RecordingPolicy> policy() const;

  // Memory the case histories kept are estimated to hold.
  size_t CachedBytes() const;

 private:
  struct Entry {
    // Its recorded events are those the publish being judged names, and
    // only while it is judged.
    auth::CaseWriteState state;
    // Events admitted and not yet finished (the log may not hold them yet),
    // with their content digests: a resend of one is a retry only if it
    // says the same.
    absl::flat_hash_map<std::string, auth::CaseWriteState::Recorded> in_flight;
    // Admitted publishes not yet finished.
    int pending = 0;
    // stored_publishes_ when a publish to the case was last stored (or the
    // history loaded): an event looked up in the log before then may have
    // been stored since.
    uint64_t stored_at = 0;
    // One of them failed: the state may hold events the log does not.
    bool broken = false;
    uint64_t lineage = 0;
    // Tickets handed out by Admit(), and the next one whose enqueue may run.
    uint64_t next_ticket = 0;
    uint64_t next_to_submit = 0;
    // Enqueues that arrived before their turn, by ticket.
    absl::btree_map<uint64_t, std::function<void()>> waiting;
    // A caller is running enqueues in ticket order.
    bool submitting = false;
    // Its estimated memory, as counted in cached_bytes_, and when it was
    // last admitted to (on the gate's own clock).
    size_t bytes = 0;
    uint64_t last_used = 0;
  };
  // The events of `case_id` the log holds under `event_ids` (others, and
  // ids held by another case, are left out), with their content digests.
  absl::StatusOr<absl::flat_hash_map<std::string, auth::CaseWriteState::Recorded>> StoredEvents(
      const std::string& case_id, const std::vector<std::string>& event_ids) const;
  // The case's history folded from the log.
  absl::StatusOr<Entry> Load(const std::string& case_id, const auth::RecordingPolicy& policy) const;
  // Keeps the histories within their memory budget: forgets the least
  // recently used with nothing in flight.
  void TrimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(absl::flat_hash_map<std::string, Entry>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts `entry`'s estimated memory afresh, and marks it used.
  void RecountLocked(Entry& entry, bool used = true) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const storage::EventLog* const log_;
  const auth::FieldSealer* const sealer_;
  const size_t history_budget_bytes_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const auth::RecordingPolicy> policy_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Entry> cases_ ABSL_GUARDED_BY(mu_);
  uint64_t next_lineage_ ABSL_GUARDED_BY(mu_) = 1;
  size_t cached_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;
  // Publishes finished as stored, counted (changed under mu_).
  std::atomic<uint64_t> stored_publishes_{0};
};

}  // namespace hub::services

#endif  // HUB_SERVICES_RECORDING_GATE_H_
