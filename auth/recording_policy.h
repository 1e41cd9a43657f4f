// The sharing protocol's write side: which principal may record which event
// types (recording rules), and what a case's own history forbids (an entity
// created twice, an action changed by an agency that does not own it, an
// event in a closed case). Both are data in the protocol; this engine only
// interprets them. Default deny: an event type no recording rule allows is
// refused. No gRPC types here.
//
// The engine is pure: a case's relevant history is a CaseWriteState, folded
// from the case's events with Apply(); Check() judges the next event against
// it. Callers keep the state coherent with the log (services/ caches it).
#ifndef HUB_AUTH_RECORDING_POLICY_H_
#define HUB_AUTH_RECORDING_POLICY_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

#include "auth/sharing_policy.h"

#include "hub/v1/events.pb.h"
#include "hub/v1/sharing_protocol.pb.h"

namespace hub::auth {

// What a case's events established that constrains the next event.
struct CaseWriteState {
  // Events in the case so far (its stream version).
  uint64_t version = 0;
  bool closed = false;
  // (entity name, key) -> owning agency ("" when the entity has no owner).
  absl::flat_hash_map<std::pair<std::string, std::string>, std::string> entities;
  // How many of each entity (by name) the case holds.
  absl::flat_hash_map<std::string, uint32_t> entity_counts;
  // Events of the case a judgement needs, by id (a retry is told from a
  // new event by it), with what a correction must match: the event's type,
  // the agency that recorded it and the subjects it names. Apply() adds
  // each event folded; a keeper of many cases' states need not keep them
  // (the recording gate keeps none between publishes: it looks up in the
  // log the events a publish names, its own ids and those its corrections
  // name, so that a case's state does not grow with its events).
  struct Recorded {
    std::string type;
    std::string agency;
    std::vector<std::string> subjects;
    // What the event says, without the hub's stamps, as a SHA-256 digest:
    // set by whoever keeps the state (the recording gate) to tell a retry
    // from an id reused for other content; zero until then.
    std::array<uint8_t, 32> content_digest{};
  };
  absl::flat_hash_map<std::string, Recorded> recorded;
  bool Holds(const std::string& event_id) const { return recorded.contains(event_id); }
  // Who is related to the case (as the views derive it), for deciding who
  // knows of it.
  hub::v1::CaseRelations relations;
};

// What CaseWriteState::recorded keeps of an event (its digest unset).
CaseWriteState::Recorded RecordedEvent(const hub::v1::EventEnvelope& envelope);

// A path of fields from EventEnvelope to a string field, e.g.
// "action_tasked.action_id": the first field is the event type.
struct FieldPath {
  std::string text;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  const std::string& event_type() const { return fields.front()->name(); }
};

// Resolves "a.b.c" from EventEnvelope. The first field must be an event
// type (a member of the `event` oneof), the last a singular string field,
// the ones between singular messages. INVALID_ARGUMENT saying which part
// fails otherwise.
absl::StatusOr<FieldPath> ResolveFieldPath(std::string_view text);

// The value `path` names in `envelope`; false when the event is another
// type or a message on the way is not set.
bool ValueAt(const hub::v1::EventEnvelope& envelope, const FieldPath& path, std::string* value);

// Every event type a principal may publish: the names of EventEnvelope's
// `event` oneof members, without the hub's own protocol_changed.
std::vector<std::string> PublishableEventTypes();

struct RecordingDecision {
  bool allowed = false;
  // The allowing recording rule and its authority; empty when refused.
  std::string rule;
  std::string authority;
  // Why it was refused.
  std::string reason;
};

class RecordingPolicy {
 public:
  // `protocol` must have been validated (sharing_protocol.h): unresolvable
  // paths and unknown event types are ignored here.
  explicit RecordingPolicy(const hub::v1::SharingProtocol& protocol);

  // May `identity` record events of `event_type` shared for `purpose`?
  RecordingDecision MayRecord(std::string_view identity, std::string_view event_type,
                              hub::v1::Purpose purpose) const;

  // Judges the next event of a case, recorded by `principal`, against the
  // recording rules and the case's history `state`. OK, or:
  //  PERMISSION_DENIED  no recording rule allows it; an entity changed by an
  //                     agency that does not own it; a reopening by a
  //                     principal that may not close cases;
  //  ALREADY_EXISTS     an entity (or the case) created a second time;
  //  NOT_FOUND          a change to an entity the case does not hold;
  //  RESOURCE_EXHAUSTED an entity beyond its max_per_case;
  //  FAILED_PRECONDITION  a case that does not begin with an opening event,
  //                     anything but a reopening in a closed case, a
  //                     reopening of an open case;
  //  INVALID_ARGUMENT   an entity's key or owner left empty, an owner that
  //                     is no agency of the protocol; a correction of
  //                     another type than the event it names, or naming
  //                     other subjects.
  // A correction (record_corrected) must name an event of the case
  // (NOT_FOUND) that the caller's agency recorded (PERMISSION_DENIED); a
  // closed case accepts corrections.
  // `where` prefixes messages ("events[2]"); `case_id` names the case.
  // `rule`, if given, receives the recording rule that allowed the event.
  //
  // Every refusal but NO_RECORDING_RULE (which depends on no case) comes
  // after the principal's standing: it records only into a case it knows
  // of (SharingPolicy::SeesCase: the protocol lets it see the case's
  // administration, given its relationships to the case). Any other case,
  // whether it exists or not, is refused NOT_FOUND (CASE_NOT_KNOWN) in
  // the same words, so that a write tells it nothing a read would not, and
  // recording is never a way into a case. An event that opens a case needs
  // no standing; validation lets only principals that see every case open
  // one (a case id taken would otherwise say that a case exists).
  absl::Status Check(const hub::v1::Principal& principal, const hub::v1::EventEnvelope& envelope,
                     const CaseWriteState& state, std::string_view case_id, std::string_view where,
                     std::string* rule = nullptr) const;

  // The first steps of Check(): the recording rule, then the standing.
  // For a publish's resends, which are not judged again but must not tell
  // a principal what a case it does not know of holds.
  absl::Status CheckRuleAndStanding(const hub::v1::Principal& principal,
                                    const hub::v1::EventEnvelope& envelope,
                                    const CaseWriteState& state, std::string_view case_id,
                                    std::string_view where, std::string* rule = nullptr) const;

  // Folds an event that the case holds (stored, or accepted for storing)
  // into `state`.
  void Apply(const hub::v1::EventEnvelope& envelope, CaseWriteState* state) const;

  const std::string& version() const { return version_; }

 private:
  struct EntityField {
    size_t entity = 0;
    FieldPath path;
  };
  struct Entity {
    std::string name;
    // Resolved owner_field, if the entity has an owner.
    std::optional<FieldPath> owner;
    absl::flat_hash_set<std::string> also_changed_by;
    uint32_t max_per_case = 0;  // 0: no limit
  };
  // Event type -> rules allowing it: [purpose] -> rule index, per identity.
  struct Allowed {
    std::vector<int> rule_by_purpose;
  };
  bool IsClosing(const std::string& type) const { return closed_by_.contains(type); }
  bool MayClose(std::string_view identity) const;
  absl::Status CheckCorrection(const hub::v1::Principal& principal,
                               const hub::v1::EventEnvelope& envelope, const CaseWriteState& state,
                               std::string_view case_id, const std::string& prefix) const;

  std::string version_;
  // The reading rules, for who knows of which case.
  SharingPolicy reading_;
  std::vector<hub::v1::RecordingRule> rules_;
  // identity -> event type -> rule index per purpose (-1: none); looked up
  // by string_view, without building keys on the publish path.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Allowed>> allowed_;
  std::vector<Entity> entities_;
  // Event type -> the entity fields it creates / changes.
  absl::flat_hash_map<std::string, std::vector<EntityField>> creates_;
  absl::flat_hash_map<std::string, std::vector<EntityField>> changes_;
  absl::flat_hash_set<std::string> agencies_;
  absl::flat_hash_set<std::string> opened_by_;
  absl::flat_hash_set<std::string> closed_by_;
  absl::flat_hash_set<std::string> reopened_by_;
  absl::flat_hash_set<std::string> accepted_when_closed_;
};

}  // namespace hub::auth

#endif  // HUB_AUTH_RECORDING_POLICY_H_
