#include "services/subject_access.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "auth/data_classes.h"
#include "proto/field_words.h"
#include "proto/status_macros.h"
#include "services/envelope.h"

namespace hub::services {
namespace {

using hub::v1::SubjectDataDisposition;

constexpr size_t kReadBatchEvents = 1024;
constexpr size_t kReadBatchBytes = 8 << 20;
constexpr size_t kAuditBatch = 1024;

template <typename Container, typename Value>
bool Holds(const Container& container, const Value& value) {
  return std::find(container.begin(), container.end(), value) != container.end();
}

// Whose data a value is, seen from the subject of the request.
SubjectDataDisposition DispositionOf(const google::protobuf::FieldDescriptor& field,
                                     hub::v1::DataClass data_class, const std::string& words,
                                     const std::string& subject, bool subject_is_perpetrator,
                                     const CaseSubjects& case_subjects,
                                     const std::set<std::string>& victims_and_children) {
  if (field.options().GetExtension(hub::v1::subject_reference)) {
    return words == subject ? hub::v1::SUBJECTS_OWN : hub::v1::OTHER_PEOPLES;
  }
  if (auth::BelongsToTheSubject(data_class)) {
    // Victim and child content is about the victims and children the event
    // names; naming none (a closure's reported risk change), about the
    // case's victims, which a perpetrator's request never covers.
    if (victims_and_children.empty()) {
      return subject_is_perpetrator ? hub::v1::OTHER_PEOPLES : hub::v1::CONCERNS_OTHERS_TOO;
    }
    if (victims_and_children.count(subject) == 0) return hub::v1::OTHER_PEOPLES;
    return victims_and_children.size() == 1 ? hub::v1::SUBJECTS_OWN : hub::v1::CONCERNS_OTHERS_TOO;
  }
  // The rest is the case's record, about its perpetrator; in an event that
  // names a victim or a child, about them as well.
  if (subject_is_perpetrator) {
    return case_subjects.perpetrators.size() == 1 ? hub::v1::SUBJECTS_OWN
                                                  : hub::v1::CONCERNS_OTHERS_TOO;
  }
  return hub::v1::CONCERNS_OTHERS_TOO;
}

bool IsHubRecord(const std::string& case_id) {
  return absl::StartsWith(case_id, kReservedCasePrefix);
}

// The role a subject_linked event gives its subject, and who that is.
std::pair<std::string, hub::v1::SubjectRole> LinkedSubject(const hub::v1::SubjectLinked& linked) {
  switch (linked.subject_case()) {
    case hub::v1::SubjectLinked::kPerpetrator:
      return {linked.perpetrator().subject_id(), hub::v1::PERPETRATOR};
    case hub::v1::SubjectLinked::kVictim:
      return {linked.victim().subject_id(), hub::v1::ADULT_VICTIM};
    case hub::v1::SubjectLinked::kChild:
      return {linked.child().subject_id(), hub::v1::CHILD};
    default:
      return {"", hub::v1::SUBJECT_ROLE_UNSPECIFIED};
  }
}

}  // namespace

hub::v1::HeldEvent HeldEventOf(const hub::v1::EventEnvelope& envelope, uint64_t position,
                               const std::string& subject, const CaseSubjects& case_subjects) {
  hub::v1::HeldEvent held;
  held.set_log_position(position);
  held.set_case_id(envelope.case_id());
  held.set_event_id(envelope.event_id());
  held.set_event_type(auth::EventTypeName(envelope));
  held.set_producing_agency(envelope.producing_agency());
  *held.mutable_recorded_time() = envelope.recorded_time();
  *held.mutable_occurred_time() = envelope.occurred_time();
  held.set_purpose(envelope.purpose());
  held.set_lawful_basis(envelope.lawful_basis());
  *held.mutable_erased() = envelope.erased();
  const google::protobuf::Message* body = auth::EventOf(envelope);
  if (body == nullptr) return held;
  const bool subject_is_perpetrator = case_subjects.perpetrators.count(subject) > 0;
  std::set<std::string> victims_and_children;
  for (const std::string& named : auth::SubjectsOf(envelope)) {
    if (case_subjects.perpetrators.count(named) == 0) victims_and_children.insert(named);
  }
  ForEachValue(*body, held.event_type(),
               [&](const google::protobuf::FieldDescriptor* field, const std::string& path,
                   int /*index*/, std::string words) {
                 const hub::v1::DataClass data_class = auth::FieldClass(*field);
                 const SubjectDataDisposition disposition =
                     DispositionOf(*field, data_class, words, subject, subject_is_perpetrator,
                                   case_subjects, victims_and_children);
                 hub::v1::HeldValue* value = held.add_values();
                 value->set_field(path);
                 value->set_data_class(data_class);
                 value->set_disposition(disposition);
                 // Other people's values never leave the hub in a pack.
                 if (disposition != hub::v1::OTHER_PEOPLES) value->set_value(std::move(words));
               });
  return held;
}

bool DisclosureOf(const hub::v1::AuditRecord& record, uint64_t audit_index,
                  const std::string& case_id, const hub::v1::SubjectAccessResponse& held,
                  bool perpetrator_of_case, hub::v1::SubjectDataDisclosure* disclosure) {
  if (record.decision() != hub::v1::AUDIT_ALLOWED) return false;
  const bool overview = record.action() == hub::v1::AUDIT_LIST_CASES;
  if (!overview && record.action() != hub::v1::AUDIT_READ_CASE &&
      record.action() != hub::v1::AUDIT_READ_TIMELINE &&
      record.action() != hub::v1::AUDIT_DELIVER) {
    return false;
  }
  const bool in_case = record.case_id() == case_id || Holds(record.disclosed_case_ids(), case_id) ||
                       (overview && Holds(record.listed_case_ids(), case_id));
  if (!in_case) return false;
  disclosure->Clear();
  if (overview) {
    // An overview names no event: it is the case's summary, about its
    // perpetrator.
    if (!perpetrator_of_case) return false;
  } else {
    for (const hub::v1::HeldEvent& event : held.events()) {
      if (event.case_id() != case_id || event.log_position() < record.first_position() ||
          event.log_position() > record.last_position()) {
        continue;
      }
      // A range may hold events of types the record says were not sent.
      if (record.event_types_size() > 0 && !Holds(record.event_types(), event.event_type())) {
        continue;
      }
      const bool holds_subjects_data = std::any_of(
          event.values().begin(), event.values().end(),
          [](const auto& value) { return value.disposition() != hub::v1::OTHER_PEOPLES; });
      if (holds_subjects_data) disclosure->add_log_positions(event.log_position());
    }
    if (disclosure->log_positions_size() == 0) return false;
  }
  disclosure->set_audit_index(audit_index);
  *disclosure->mutable_time() = record.time();
  disclosure->set_recipient_identity(record.principal_identity());
  disclosure->set_recipient_agency(record.agency());
  disclosure->set_action(record.action());
  disclosure->set_purpose(record.purpose());
  disclosure->set_case_id(case_id);
  *disclosure->mutable_data_classes() = record.data_classes();
  *disclosure->mutable_rules() = record.rules();
  *disclosure->mutable_lawful_bases() = record.lawful_bases();
  disclosure->set_protocol_version(record.protocol_version());
  return true;
}

absl::StatusOr<hub::v1::SubjectAccessResponse> GatherSubjectAccess(const storage::EventLog& log,
                                                                   const auth::FieldSealer* sealer,
                                                                   const std::string& subject_id,
                                                                   absl::Time now,
                                                                   size_t max_bytes) {
  hub::v1::SubjectAccessResponse response;
  response.set_subject_id(subject_id);
  *response.mutable_produced_at() = ToTimestamp(now);
  const uint64_t last = log.LastPosition();
  response.set_log_position(last);

  // Subject ids are sealed, so no index can name a subject's cases: every
  // event is opened once to find them, and each case's perpetrators.
  std::map<std::string, CaseSubjects> case_subjects;
  std::map<std::string, hub::v1::SubjectRole> roles;
  for (uint64_t next = 1; next <= last;) {
    HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> events,
                         log.ReadFrom(next, kReadBatchEvents, kReadBatchBytes));
    if (events.empty()) break;
    for (const storage::StoredEvent& event : events) {
      if (event.position > last) break;
      if (IsHubRecord(event.case_id)) continue;
      HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(event, sealer));
      if (envelope.has_subject_linked()) {
        const auto [linked, role] = LinkedSubject(envelope.subject_linked());
        if (role == hub::v1::PERPETRATOR) case_subjects[event.case_id].perpetrators.insert(linked);
        if (linked == subject_id) roles[event.case_id] = role;
      }
      if (Holds(auth::SubjectsOf(envelope), subject_id)) {
        roles.emplace(event.case_id, hub::v1::SUBJECT_ROLE_UNSPECIFIED);
      }
    }
    next = events.back().position + 1;
  }

  size_t bytes = 0;
  std::vector<hub::v1::HeldEvent> held;
  for (const auto& [case_id, role] : roles) {
    hub::v1::SubjectInCase* in_case = response.add_cases();
    in_case->set_case_id(case_id);
    in_case->set_role(role);
    const CaseSubjects& subjects = case_subjects[case_id];
    const bool perpetrator = subjects.perpetrators.count(subject_id) > 0;
    for (uint64_t version = 1;;) {
      HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> events,
                           log.ReadCase(case_id, version, kReadBatchEvents));
      if (events.empty()) break;
      for (const storage::StoredEvent& event : events) {
        if (event.position > last) continue;
        HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(event, sealer));
        if (!perpetrator && !Holds(auth::SubjectsOf(envelope), subject_id)) continue;
        held.push_back(HeldEventOf(envelope, event.position, subject_id, subjects));
        bytes += held.back().ByteSizeLong();
        if (bytes > max_bytes) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "what the hub holds about this subject exceeds ", max_bytes >> 20,
              " MiB, more than one reply carries; answer the request case by case from the "
              "timelines"));
        }
      }
      version = events.back().stream_version + 1;
    }
  }
  std::sort(held.begin(), held.end(),
            [](const auto& a, const auto& b) { return a.log_position() < b.log_position(); });
  for (hub::v1::HeldEvent& event : held) *response.add_events() = std::move(event);

  // The disclosure history: every read, timeline and delivery of a
  // subject's case whose range covers a held event.
  const uint64_t audit_size = log.AuditSize();
  response.set_audit_size(audit_size);
  for (uint64_t from = 0; from < audit_size;) {
    HUB_ASSIGN_OR_RETURN(std::vector<std::string> raw,
                         log.ReadAudit(from, std::min<uint64_t>(kAuditBatch, audit_size - from)));
    if (raw.empty()) break;
    for (size_t i = 0; i < raw.size(); ++i) {
      hub::v1::AuditRecord record;
      if (!record.ParseFromString(raw[i])) {
        return absl::DataLossError(absl::StrCat("audit record ", from + i, " does not parse"));
      }
      std::set<std::string> cases(record.disclosed_case_ids().begin(),
                                  record.disclosed_case_ids().end());
      cases.insert(record.listed_case_ids().begin(), record.listed_case_ids().end());
      if (!record.case_id().empty()) cases.insert(record.case_id());
      for (const std::string& case_id : cases) {
        if (roles.count(case_id) == 0) continue;
        hub::v1::SubjectDataDisclosure disclosure;
        if (DisclosureOf(record, from + i, case_id, response,
                         case_subjects[case_id].perpetrators.count(subject_id) > 0, &disclosure)) {
          *response.add_disclosures() = std::move(disclosure);
        }
      }
    }
    from += raw.size();
  }
  if (response.ByteSizeLong() > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("what the hub holds about this subject, with its disclosures, exceeds ",
                     max_bytes >> 20, " MiB, more than one reply carries"));
  }
  return response;
}

}  // namespace hub::services
