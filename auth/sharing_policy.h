// The sharing-protocol engine: one decision function answers "may principal
// P see data class C of an event shared for purpose U", and says which rule
// and lawful basis allowed it. Default deny: an unknown principal, class or
// purpose, or one no rule covers, is denied. No gRPC types here.
#ifndef HUB_AUTH_SHARING_POLICY_H_
#define HUB_AUTH_SHARING_POLICY_H_

#include <array>
#include <bitset>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "hub/v1/events.pb.h"
#include "hub/v1/options.pb.h"
#include "hub/v1/sharing_protocol.pb.h"
#include "hub/v1/views.pb.h"

namespace hub::auth {

// The data classes a principal may see for one purpose.
using ClassMask = std::bitset<hub::v1::DataClass_ARRAYSIZE>;

// The relationships a principal has to a case (and to an event's subjects).
using RelationMask = std::bitset<hub::v1::CaseRelation_ARRAYSIZE>;
// No relationship at all: only unconditional rules apply.
inline const RelationMask kNoRelation;
// Every relationship: what a principal could see in the case it is most
// involved in (audit citations, the purposes a principal has rules for).
inline const RelationMask kEveryRelation = RelationMask().set();

struct Decision {
  bool allowed = false;
  // The allowing rule and what it cites; empty when denied.
  std::string rule;
  std::string lawful_basis;
  std::string legal_gateway;
  // Why it was denied, for audit records and error messages.
  std::string reason;
};

class SharingPolicy {
 public:
  // `protocol` must have been validated (sharing_protocol.h); rules naming
  // unknown principals, classes or purposes are ignored (denied).
  explicit SharingPolicy(const hub::v1::SharingProtocol& protocol);

  // `relations`: the principal's relationships to the case the data is in
  // (rules that require one apply only if it holds). A rule that needs no
  // relationship is cited before one that does.
  Decision Decide(std::string_view identity, hub::v1::DataClass data_class,
                  hub::v1::Purpose purpose, RelationMask relations) const;

  // Every class Decide() allows for (identity, purpose, relations).
  ClassMask Allowed(std::string_view identity, hub::v1::Purpose purpose,
                    RelationMask relations) const;

  // Whether `identity` may see the administration of a case
  // (CASE_ADMINISTRATION: a referral's route, date and referrer) whose
  // relationships are `relations`, for some purpose: whether the case is
  // one it knows of. Per case, not per event (SUPPORTS_SUBJECT does not
  // count).
  bool SeesCase(std::string_view identity, const hub::v1::CaseRelations& relations) const;
  // Whether it sees that of every case, whatever its relationships.
  bool SeesEveryCase(std::string_view identity) const;

  // Whether any rule requires a relationship (if not, relations never
  // change what anyone sees).
  bool has_relation_rules() const { return has_relation_rules_; }

  // Folds an event of a case, as stored, into the case's relationships;
  // whether they grew (they never shrink).
  bool ApplyToRelations(const hub::v1::EventEnvelope& event,
                        hub::v1::CaseRelations* relations) const;
  // The relationships of `identity`'s agency to the case of `relations`,
  // with SUPPORTS_SUBJECT if it supports every subject `event` names (an
  // event naming a subject it does not support, or none, does not count).
  RelationMask RelationsOf(std::string_view identity, const hub::v1::CaseRelations& relations,
                           const hub::v1::EventEnvelope& event) const;
  // The same, given the subjects the event is about (SubjectsOf), for
  // callers that judge one event for many principals.
  RelationMask RelationsOf(std::string_view identity, const hub::v1::CaseRelations& relations,
                           const std::vector<std::string>& subjects) const;
  // The subject ids an event names (its subject_reference fields).
  static std::vector<std::string> SubjectsOf(const hub::v1::EventEnvelope& event);
  // The classes of every field that decides who is related to a case or
  // whom an event is about (ApplyToRelations, SubjectsOf). Erasing content
  // of no such class never changes who sees which event, only what they
  // see of it: the views can then be reshaped where they stand.
  static ClassMask RoutingClasses();
  // The fields ApplyToRelations reads besides the subject references: the
  // producing agency, an action's owner, a referral's provider, a panel,
  // the agencies supporting a subject.
  static const std::vector<const google::protobuf::FieldDescriptor*>& RelationshipFields();

  const std::string& version() const { return version_; }

 private:
  static constexpr int kNoRule = -1;
  // [purpose][class] -> index of the first allowing rule, or kNoRule.
  using RuleTable =
      std::array<std::array<int, hub::v1::DataClass_ARRAYSIZE>, hub::v1::Purpose_ARRAYSIZE>;
  struct PrincipalRules {
    std::string agency;
    // Rules that need no relationship.
    RuleTable unconditional;
    // [relation] -> the rules that need that relationship.
    std::array<RuleTable, hub::v1::CaseRelation_ARRAYSIZE> by_relation;
    // [purpose][relation] -> the classes those rules allow, and the same
    // for unconditional rules.
    std::array<std::array<ClassMask, hub::v1::CaseRelation_ARRAYSIZE>, hub::v1::Purpose_ARRAYSIZE>
        classes_by_relation;
    std::array<ClassMask, hub::v1::Purpose_ARRAYSIZE> unconditional_classes;
  };

  std::string version_;
  std::vector<hub::v1::SharingRule> rules_;
  absl::flat_hash_map<std::string, PrincipalRules> by_identity_;
  // Panel type -> the agencies that sit on it.
  absl::flat_hash_map<int, std::vector<std::string>> panel_members_;
  bool has_relation_rules_ = false;
};

}  // namespace hub::auth

#endif  // HUB_AUTH_SHARING_POLICY_H_
