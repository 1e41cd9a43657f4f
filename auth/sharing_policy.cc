#include "auth/sharing_policy.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"

#include "auth/data_classes.h"
#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

using google::protobuf::FieldDescriptor;

bool InRange(int value, int size) { return value >= 0 && value < size; }

// Every subject id `message` names through a subject_reference field.
void CollectSubjects(const google::protobuf::Message& message, std::vector<std::string>* subjects,
                     int depth = 0) {
  if (depth > 8) return;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CollectSubjects(reflection->GetRepeatedMessage(message, field, i), subjects, depth + 1);
        }
      } else {
        CollectSubjects(reflection->GetMessage(message, field), subjects, depth + 1);
      }
      continue;
    }
    if (field->type() != FieldDescriptor::TYPE_STRING ||
        !field->options().GetExtension(hub::v1::subject_reference)) {
      continue;
    }
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        subjects->push_back(reflection->GetRepeatedString(message, field, i));
      }
    } else {
      subjects->push_back(reflection->GetString(message, field));
    }
  }
}

hub::v1::CaseRelations::AgencyRelations* AgencyEntry(const std::string& agency,
                                                     hub::v1::CaseRelations* relations) {
  for (hub::v1::CaseRelations::AgencyRelations& entry : *relations->mutable_agencies()) {
    if (entry.agency() == agency) return &entry;
  }
  hub::v1::CaseRelations::AgencyRelations* entry = relations->add_agencies();
  entry->set_agency(agency);
  return entry;
}

// Whether it added the relationship.
bool Relate(const std::string& agency, hub::v1::CaseRelation relation,
            hub::v1::CaseRelations* relations) {
  if (agency.empty()) return false;
  hub::v1::CaseRelations::AgencyRelations* entry = AgencyEntry(agency, relations);
  for (int held : entry->relations()) {
    if (held == relation) return false;
  }
  entry->add_relations(relation);
  return true;
}

// Whether it added anything.
bool Support(const std::string& subject_id,
             const google::protobuf::RepeatedPtrField<std::string>& agencies,
             hub::v1::CaseRelations* relations) {
  if (subject_id.empty()) return false;
  bool added = false;
  hub::v1::CaseRelations::SubjectSupport* entry = nullptr;
  for (hub::v1::CaseRelations::SubjectSupport& subject : *relations->mutable_subjects()) {
    if (subject.subject_id() == subject_id) entry = &subject;
  }
  if (entry == nullptr) {
    entry = relations->add_subjects();
    entry->set_subject_id(subject_id);
    added = true;
  }
  for (const std::string& agency : agencies) {
    if (std::find(entry->agencies().begin(), entry->agencies().end(), agency) ==
        entry->agencies().end()) {
      entry->add_agencies(agency);
      added = true;
    }
  }
  return added;
}

}  // namespace

SharingPolicy::SharingPolicy(const hub::v1::SharingProtocol& protocol)
    : version_(protocol.version()), rules_(protocol.rules().begin(), protocol.rules().end()) {
  PrincipalRules empty;
  for (auto& row : empty.unconditional) row.fill(kNoRule);
  for (RuleTable& table : empty.by_relation) {
    for (auto& row : table) row.fill(kNoRule);
  }
  for (const hub::v1::Principal& principal : protocol.principals()) {
    PrincipalRules& rules = by_identity_.emplace(principal.identity(), empty).first->second;
    rules.agency = principal.agency();
  }
  for (const hub::v1::PanelMembership& panel : protocol.panel_members()) {
    std::vector<std::string>& members = panel_members_[panel.panel()];
    members.insert(members.end(), panel.agencies().begin(), panel.agencies().end());
  }
  for (int r = 0; r < static_cast<int>(rules_.size()); ++r) {
    const hub::v1::SharingRule& rule = rules_[r];
    std::vector<int> relations;
    for (int relation : rule.requires_relation()) {
      if (relation > 0 && relation < hub::v1::CaseRelation_ARRAYSIZE) relations.push_back(relation);
    }
    has_relation_rules_ |= !relations.empty();
    for (const std::string& identity : rule.principals()) {
      auto found = by_identity_.find(identity);
      if (found == by_identity_.end()) continue;
      PrincipalRules& rules = found->second;
      for (int purpose : rule.purposes()) {
        if (!InRange(purpose, hub::v1::Purpose_ARRAYSIZE)) continue;
        for (int data_class : rule.data_classes()) {
          if (!InRange(data_class, hub::v1::DataClass_ARRAYSIZE)) continue;
          if (relations.empty()) {
            int& slot = rules.unconditional[purpose][data_class];
            if (slot == kNoRule) slot = r;
            rules.unconditional_classes[purpose].set(data_class);
          }
          for (int relation : relations) {
            int& slot = rules.by_relation[relation][purpose][data_class];
            if (slot == kNoRule) slot = r;
            rules.classes_by_relation[purpose][relation].set(data_class);
          }
        }
      }
    }
  }
}

Decision SharingPolicy::Decide(std::string_view identity, hub::v1::DataClass data_class,
                               hub::v1::Purpose purpose, RelationMask relations) const {
  Decision decision;
  auto found = by_identity_.find(AsAbsl(identity));
  if (found == by_identity_.end()) {
    decision.reason = absl::StrCat(AsAbsl(identity), " is not a principal of protocol ", version_);
    return decision;
  }
  if (data_class == hub::v1::DATA_CLASS_UNSPECIFIED ||
      !InRange(data_class, hub::v1::DataClass_ARRAYSIZE) ||
      purpose == hub::v1::PURPOSE_UNSPECIFIED || !InRange(purpose, hub::v1::Purpose_ARRAYSIZE)) {
    decision.reason = "unclassified data or unspecified purpose is never shared";
    return decision;
  }
  const PrincipalRules& rules = found->second;
  int rule = rules.unconditional[purpose][data_class];
  for (int relation = 1; rule == kNoRule && relation < hub::v1::CaseRelation_ARRAYSIZE;
       ++relation) {
    if (relations[relation]) rule = rules.by_relation[relation][purpose][data_class];
  }
  if (rule == kNoRule) {
    decision.reason =
        absl::StrCat("no rule of protocol ", version_, " lets ", AsAbsl(identity), " see ",
                     hub::v1::DataClass_Name(data_class), " for ", hub::v1::Purpose_Name(purpose),
                     relations == kEveryRelation ? "" : " with its relationship to the case");
    return decision;
  }
  decision.allowed = true;
  decision.rule = rules_[rule].name();
  decision.lawful_basis = rules_[rule].lawful_basis();
  decision.legal_gateway = rules_[rule].legal_gateway();
  return decision;
}

ClassMask SharingPolicy::Allowed(std::string_view identity, hub::v1::Purpose purpose,
                                 RelationMask relations) const {
  auto found = by_identity_.find(AsAbsl(identity));
  if (found == by_identity_.end() || purpose == hub::v1::PURPOSE_UNSPECIFIED ||
      !InRange(purpose, hub::v1::Purpose_ARRAYSIZE)) {
    return ClassMask();
  }
  const PrincipalRules& rules = found->second;
  ClassMask mask = rules.unconditional_classes[purpose];
  for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
    if (relations[relation]) mask |= rules.classes_by_relation[purpose][relation];
  }
  mask.reset(hub::v1::DATA_CLASS_UNSPECIFIED);
  return mask;
}

bool SharingPolicy::SeesEveryCase(std::string_view identity) const {
  auto found = by_identity_.find(AsAbsl(identity));
  if (found == by_identity_.end()) return false;
  for (const ClassMask& classes : found->second.unconditional_classes) {
    if (classes[hub::v1::CASE_ADMINISTRATION]) return true;
  }
  return false;
}

bool SharingPolicy::SeesCase(std::string_view identity,
                             const hub::v1::CaseRelations& relations) const {
  if (SeesEveryCase(identity)) return true;
  auto found = by_identity_.find(AsAbsl(identity));
  if (found == by_identity_.end() || !has_relation_rules_) return false;
  const RelationMask mask = RelationsOf(identity, relations, std::vector<std::string>());
  if (mask.none()) return false;
  for (const auto& by_relation : found->second.classes_by_relation) {
    for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
      if (mask[relation] && by_relation[relation][hub::v1::CASE_ADMINISTRATION]) return true;
    }
  }
  return false;
}

bool SharingPolicy::ApplyToRelations(const hub::v1::EventEnvelope& event,
                                     hub::v1::CaseRelations* relations) const {
  bool grew = Relate(event.producing_agency(), hub::v1::RECORDED_IN_CASE, relations);
  switch (event.event_case()) {
    case hub::v1::EventEnvelope::kActionTasked:
      grew |= Relate(event.action_tasked().owner_agency(), hub::v1::OWNS_ACTION, relations);
      break;
    case hub::v1::EventEnvelope::kSupportReferralMade:
      grew |= Relate(event.support_referral_made().provider_agency(), hub::v1::REFERRED_FOR_SUPPORT,
                     relations);
      break;
    case hub::v1::EventEnvelope::kCaseAllocated:
      grew |= Relate(event.producing_agency(), hub::v1::ALLOCATED_PROVIDER, relations);
      break;
    case hub::v1::EventEnvelope::kPanelOutcome: {
      const int panel = event.panel_outcome().panel();
      if (auto members = panel_members_.find(panel); members != panel_members_.end()) {
        for (const std::string& agency : members->second) {
          grew |= Relate(agency, hub::v1::HEARD_AT_PANEL, relations);
        }
      }
      break;
    }
    case hub::v1::EventEnvelope::kSubjectLinked: {
      const hub::v1::SubjectLinked& linked = event.subject_linked();
      if (linked.has_victim()) {
        grew |=
            Support(linked.victim().subject_id(), linked.victim().supporting_agencies(), relations);
      } else if (linked.has_child()) {
        grew |=
            Support(linked.child().subject_id(), linked.child().supporting_agencies(), relations);
      }
      break;
    }
    default:
      break;
  }
  return grew;
}

namespace {

// Adds the class of every subject_reference field under `message`.
void AddSubjectReferenceClasses(const google::protobuf::Descriptor& message, ClassMask* classes,
                                int depth = 0) {
  if (depth > 8) return;
  for (int i = 0; i < message.field_count(); ++i) {
    const FieldDescriptor& field = *message.field(i);
    if (field.type() == FieldDescriptor::TYPE_MESSAGE) {
      AddSubjectReferenceClasses(*field.message_type(), classes, depth + 1);
    } else if (field.options().GetExtension(hub::v1::subject_reference)) {
      classes->set(FieldClass(field));
    }
  }
}

}  // namespace

ClassMask SharingPolicy::RoutingClasses() {
  static const ClassMask classes = [] {
    ClassMask routing;
    AddSubjectReferenceClasses(*hub::v1::EventEnvelope::descriptor(), &routing);
    for (const FieldDescriptor* field : RelationshipFields()) routing.set(FieldClass(*field));
    routing.reset(hub::v1::DATA_CLASS_UNSPECIFIED);
    return routing;
  }();
  return classes;
}

const std::vector<const FieldDescriptor*>& SharingPolicy::RelationshipFields() {
  static const std::vector<const FieldDescriptor*>* const fields = [] {
    const std::pair<const google::protobuf::Descriptor*, const char*> named[] = {
        {hub::v1::EventEnvelope::descriptor(), "producing_agency"},
        {hub::v1::ActionTasked::descriptor(), "owner_agency"},
        {hub::v1::SupportReferralMade::descriptor(), "provider_agency"},
        {hub::v1::PanelOutcome::descriptor(), "panel"},
        {hub::v1::VictimSubject::descriptor(), "supporting_agencies"},
        {hub::v1::ChildSubject::descriptor(), "supporting_agencies"},
    };
    auto* found = new std::vector<const FieldDescriptor*>();
    for (const auto& [message, name] : named) {
      const FieldDescriptor* field = message->FindFieldByName(name);
      // A renamed field must not silently drop out of the set: the
      // contract's tests would fail first (SharingPolicyTest).
      if (field == nullptr) std::abort();
      found->push_back(field);
    }
    return found;
  }();
  return *fields;
}

std::vector<std::string> SharingPolicy::SubjectsOf(const hub::v1::EventEnvelope& event) {
  std::vector<std::string> subjects;
  if (const google::protobuf::Message* payload = EventOf(event)) {
    CollectSubjects(*payload, &subjects);
  }
  return subjects;
}

RelationMask SharingPolicy::RelationsOf(std::string_view identity,
                                        const hub::v1::CaseRelations& relations,
                                        const hub::v1::EventEnvelope& event) const {
  return RelationsOf(identity, relations,
                     relations.subjects().empty() ? std::vector<std::string>() : SubjectsOf(event));
}

RelationMask SharingPolicy::RelationsOf(std::string_view identity,
                                        const hub::v1::CaseRelations& relations,
                                        const std::vector<std::string>& subjects) const {
  RelationMask mask;
  auto found = by_identity_.find(AsAbsl(identity));
  if (found == by_identity_.end()) return mask;
  const std::string& agency = found->second.agency;
  for (const hub::v1::CaseRelations::AgencyRelations& entry : relations.agencies()) {
    if (entry.agency() != agency) continue;
    for (int relation : entry.relations()) {
      if (relation > 0 && relation < hub::v1::CaseRelation_ARRAYSIZE) mask.set(relation);
    }
  }
  // Only if the agency supports every subject the event names: an order
  // protecting two victims names where both can be found, and supporting
  // one of them is no reason to learn where the other is.
  const auto supports = [&](const std::string& subject) {
    for (const hub::v1::CaseRelations::SubjectSupport& support : relations.subjects()) {
      if (support.subject_id() != subject) continue;
      return std::find(support.agencies().begin(), support.agencies().end(), agency) !=
             support.agencies().end();
    }
    return false;
  };
  if (!subjects.empty() && std::all_of(subjects.begin(), subjects.end(), supports)) {
    mask.set(hub::v1::SUPPORTS_SUBJECT);
  }
  return mask;
}

}  // namespace hub::auth
