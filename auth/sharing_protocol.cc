#include "auth/sharing_protocol.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

#include "auth/data_classes.h"
#include "auth/field_sealing.h"
#include "auth/recording_policy.h"
#include "auth/sharing_policy.h"
#include "auth/spiffe_id.h"
#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

using google::protobuf::TextFormat;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string_view source) : source_(source) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, message);
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

// "file:line:col: " of a parsed field, for validation errors.
class Locator {
 public:
  Locator(std::string_view source, const TextFormat::ParseInfoTree* tree)
      : source_(source), tree_(tree) {}

  // The position of a principal's field.
  std::string At(const TextFormat::ParseInfoTree* tree, const std::string& field_name) const {
    return AtField(tree, *hub::v1::Principal::descriptor(), field_name, -1);
  }

  // The position of a rule's field (element `index` of a repeated one, which
  // must exist: protobuf refuses to look up a missing element).
  std::string AtRule(int rule, const std::string& field_name, int index = -1) const {
    return AtField(Nested("rules", rule), *hub::v1::SharingRule::descriptor(), field_name, index);
  }

  const TextFormat::ParseInfoTree* principal_tree(int index) const {
    return Nested("principals", index);
  }

  // The position of a field of element `index` of the protocol's repeated
  // message field `list` (or of the singular message `list`, index -1).
  std::string AtIn(const std::string& list, int index, const google::protobuf::Descriptor& message,
                   const std::string& field_name, int element = -1) const {
    return AtField(Nested(list, index), message, field_name, element);
  }

 private:
  const TextFormat::ParseInfoTree* Nested(const std::string& field, int index) const {
    return tree_->GetTreeForNested(hub::v1::SharingProtocol::descriptor()->FindFieldByName(field),
                                   index);
  }

  std::string AtField(const TextFormat::ParseInfoTree* tree,
                      const google::protobuf::Descriptor& message, const std::string& field_name,
                      int index) const {
    const auto location = tree == nullptr
                              ? TextFormat::ParseLocation()
                              : tree->GetLocation(message.FindFieldByName(field_name), index);
    if (location.line < 0 && index > 0) {
      // Protobuf records where a list's later elements are only in some
      // syntaxes; the list's first element is close enough.
      return AtField(tree, message, field_name, 0);
    }
    if (location.line < 0) return absl::StrCat(source_, ": ");
    return absl::StrCat(source_, ":", location.line + 1, ":", location.column + 1, ": ");
  }

 public:
 private:
  std::string source_;
  const TextFormat::ParseInfoTree* tree_;
};

absl::Status ValidatePrincipals(const hub::v1::SharingProtocol& protocol, const Locator& at) {
  absl::flat_hash_set<std::string> identities;
  for (int i = 0; i < protocol.principals_size(); ++i) {
    const hub::v1::Principal& principal = protocol.principals(i);
    const TextFormat::ParseInfoTree* tree = at.principal_tree(i);
    absl::StatusOr<HubSpiffeId> id = ParseHubSpiffeId(principal.identity());
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at.At(tree, "identity"), id.status().message()));
    }
    if (id->partnership != protocol.partnership()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.At(tree, "identity"), "identity ", principal.identity(), " belongs to partnership \"",
          id->partnership, "\", not \"", protocol.partnership(), "\""));
    }
    if (id->agency != principal.agency()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.At(tree, "agency"), "agency \"", principal.agency(), "\" does not match \"",
          id->agency, "\" in identity ", principal.identity()));
    }
    if (id->role != principal.role()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.At(tree, "role"), "role ", hub::v1::Role_Name(principal.role()), " does not match \"",
          RoleSegment(id->role), "\" in identity ", principal.identity()));
    }
    if (principal.agency_kind() == hub::v1::AGENCY_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(at.At(tree, "identity"), "principal ",
                                                     principal.identity(), " has no agency_kind"));
    }
    if (!identities.insert(principal.identity()).second) {
      return absl::InvalidArgumentError(absl::StrCat(at.At(tree, "identity"), "identity ",
                                                     principal.identity(), " is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRules(const hub::v1::SharingProtocol& protocol, const Locator& at,
                           std::vector<std::string>* warnings) {
  absl::flat_hash_set<std::string> identities;
  absl::flat_hash_map<std::string, hub::v1::Role> roles;
  for (const hub::v1::Principal& principal : protocol.principals()) {
    identities.insert(principal.identity());
    roles[principal.identity()] = principal.role();
  }
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<int> mentioned_classes;
  for (int r = 0; r < protocol.rules_size(); ++r) {
    const hub::v1::SharingRule& rule = protocol.rules(r);
    if (rule.name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at.AtRule(r, "name"), "rule ", r + 1, " has no name"));
    }
    if (!names.insert(rule.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(at.AtRule(r, "name"), "rule name \"", rule.name(), "\" is used twice"));
    }
    const std::string rule_name = absl::StrCat("rule \"", rule.name(), "\"");
    if (rule.principals().empty() || rule.data_classes().empty() || rule.purposes().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at.AtRule(r, "name"), rule_name,
                       " needs at least one principal, data class and purpose"));
    }
    for (int i = 0; i < rule.principals_size(); ++i) {
      const std::string& identity = rule.principals(i);
      if (!identities.contains(identity)) {
        return absl::InvalidArgumentError(absl::StrCat(at.AtRule(r, "principals", i), rule_name,
                                                       " names unknown principal ", identity,
                                                       "; list it under principals first"));
      }
      const hub::v1::Role role = roles[identity];
      if (role == hub::v1::AUDITOR || role == hub::v1::ADMIN) {
        return absl::InvalidArgumentError(absl::StrCat(
            at.AtRule(r, "principals", i), rule_name, " gives case content to ", identity,
            ", whose role is ", hub::v1::Role_Name(role),
            "; auditors see access records and operators run the hub, neither sees cases"));
      }
    }
    for (int i = 0; i < rule.data_classes_size(); ++i) {
      const int data_class = rule.data_classes(i);
      if (!hub::v1::DataClass_IsValid(data_class) ||
          data_class == hub::v1::DATA_CLASS_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(at.AtRule(r, "data_classes", i), rule_name,
                                                       " names unknown data class ", data_class));
      }
      mentioned_classes.insert(data_class);
    }
    for (int i = 0; i < rule.purposes_size(); ++i) {
      const int purpose = rule.purposes(i);
      if (!hub::v1::Purpose_IsValid(purpose) || purpose == hub::v1::PURPOSE_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(at.AtRule(r, "purposes", i), rule_name,
                                                       " names unknown purpose ", purpose));
      }
    }
    for (int i = 0; i < rule.principals_size(); ++i) {
      if (roles[rule.principals(i)] != hub::v1::EVALUATOR) continue;
      for (int k = 0; k < rule.purposes_size(); ++k) {
        if (rule.purposes(k) != hub::v1::PURPOSE_EVALUATION) {
          return absl::InvalidArgumentError(absl::StrCat(
              at.AtRule(r, "purposes", k), rule_name, " gives ", rule.principals(i),
              ", an evaluator, content for ",
              hub::v1::Purpose_Name(static_cast<hub::v1::Purpose>(rule.purposes(k))),
              "; evaluators are given only PURPOSE_EVALUATION, through the pseudonymised "
              "extract"));
        }
      }
    }
    for (int i = 0; i < rule.requires_relation_size(); ++i) {
      const int relation = rule.requires_relation(i);
      if (!hub::v1::CaseRelation_IsValid(relation) ||
          relation == hub::v1::CASE_RELATION_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(
            at.AtRule(r, "requires_relation", i), rule_name, " names unknown relation ", relation));
      }
    }
    if (rule.lawful_basis().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.AtRule(r, "name"), rule_name,
          " has no lawful_basis; every disclosure must cite one (e.g. UK GDPR Art 6(1)(e))"));
    }
    if (rule.legal_gateway().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at.AtRule(r, "name"), rule_name,
                       " has no legal_gateway (e.g. Crime and Disorder Act 1998 s115)"));
    }
  }
  for (int data_class = 1; data_class < hub::v1::DataClass_ARRAYSIZE; ++data_class) {
    if (hub::v1::DataClass_IsValid(data_class) && !mentioned_classes.contains(data_class) &&
        data_class != hub::v1::PROTOCOL_GOVERNANCE) {
      warnings->push_back(
          absl::StrCat("no rule mentions data class ",
                       hub::v1::DataClass_Name(static_cast<hub::v1::DataClass>(data_class)),
                       ": nobody will see it"));
    }
  }
  return absl::OkStatus();
}

// Every data class an event of `message`'s type can carry.
void ClassesOf(const google::protobuf::Descriptor& message, hub::v1::DataClass holder,
               absl::flat_hash_set<int>* classes, int depth = 0) {
  if (depth > 8) return;
  for (int i = 0; i < message.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *message.field(i);
    hub::v1::DataClass data_class = FieldClass(field);
    if (data_class == hub::v1::DATA_CLASS_UNSPECIFIED) data_class = holder;
    classes->insert(data_class);
    if (field.message_type() != nullptr && !IsValueType(*field.message_type())) {
      ClassesOf(*field.message_type(), data_class, classes, depth + 1);
    }
  }
}

absl::Status ValidateRecording(const hub::v1::SharingProtocol& protocol, const Locator& at,
                               std::vector<std::string>* warnings) {
  absl::flat_hash_map<std::string, hub::v1::Role> roles;
  for (const hub::v1::Principal& principal : protocol.principals()) {
    roles[principal.identity()] = principal.role();
  }
  const std::vector<std::string> publishable = PublishableEventTypes();
  const absl::flat_hash_set<std::string> event_types(publishable.begin(), publishable.end());
  absl::flat_hash_set<int> readable;
  for (const hub::v1::SharingRule& rule : protocol.rules()) {
    readable.insert(rule.data_classes().begin(), rule.data_classes().end());
  }
  const google::protobuf::Descriptor& recording = *hub::v1::RecordingRule::descriptor();
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> unread_warned;
  for (int r = 0; r < protocol.recording_rules_size(); ++r) {
    const hub::v1::RecordingRule& rule = protocol.recording_rules(r);
    const auto at_rule = [&](const std::string& field, int element = -1) {
      return at.AtIn("recording_rules", r, recording, field, element);
    };
    if (rule.name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_rule("name"), "recording rule ", r + 1, " has no name"));
    }
    if (!names.insert(rule.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_rule("name"), "recording rule name \"", rule.name(), "\" is used twice"));
    }
    const std::string rule_name = absl::StrCat("recording rule \"", rule.name(), "\"");
    if (rule.principals().empty() || rule.event_types().empty() || rule.purposes().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at_rule("name"), rule_name, " needs at least one principal, event type and purpose"));
    }
    if (rule.authority().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at_rule("name"), rule_name,
          " has no authority: say why these principals may record this (their statutory role "
          "or the agreement's clause)"));
    }
    for (int i = 0; i < rule.principals_size(); ++i) {
      auto role = roles.find(rule.principals(i));
      if (role == roles.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at_rule("principals", i), rule_name, " names unknown principal ",
                         rule.principals(i), "; list it under principals first"));
      }
      if (role->second != hub::v1::AGENCY && role->second != hub::v1::COORDINATOR) {
        return absl::InvalidArgumentError(
            absl::StrCat(at_rule("principals", i), rule_name, " lets ", rule.principals(i),
                         ", whose role is ", hub::v1::Role_Name(role->second),
                         ", record case events; only agency systems and coordinators publish"));
      }
    }
    for (int i = 0; i < rule.event_types_size(); ++i) {
      const std::string& type = rule.event_types(i);
      if (!event_types.contains(type)) {
        return absl::InvalidArgumentError(absl::StrCat(
            at_rule("event_types", i), rule_name, " names \"", type,
            "\", which is not an event type a principal may publish; use EventEnvelope's event "
            "field names, e.g. risk_assessed"));
      }
      absl::flat_hash_set<int> classes;
      const google::protobuf::FieldDescriptor* field =
          hub::v1::EventEnvelope::descriptor()->FindFieldByName(type);
      ClassesOf(*field->message_type(), EventClass(*field->message_type()), &classes);
      classes.insert(EventClass(*field->message_type()));
      for (int data_class : classes) {
        if (data_class == hub::v1::DATA_CLASS_UNSPECIFIED || readable.contains(data_class)) {
          continue;
        }
        const std::string warning =
            absl::StrCat(at_rule("event_types", i), rule_name, " lets principals record ", type,
                         ", which carries ",
                         hub::v1::DataClass_Name(static_cast<hub::v1::DataClass>(data_class)),
                         ", but no rule lets anyone read that class");
        if (unread_warned.insert(absl::StrCat(type, "/", data_class)).second) {
          warnings->push_back(warning);
        }
      }
    }
    for (int i = 0; i < rule.purposes_size(); ++i) {
      const int purpose = rule.purposes(i);
      if (!hub::v1::Purpose_IsValid(purpose) || purpose == hub::v1::PURPOSE_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            absl::StrCat(at_rule("purposes", i), rule_name, " names unknown purpose ", purpose));
      }
    }
  }

  const google::protobuf::Descriptor& entity_descriptor = *hub::v1::CaseEntity::descriptor();
  absl::flat_hash_set<std::string> entity_names;
  for (int e = 0; e < protocol.case_entities_size(); ++e) {
    const hub::v1::CaseEntity& entity = protocol.case_entities(e);
    const auto at_entity = [&](const std::string& field, int element = -1) {
      return at.AtIn("case_entities", e, entity_descriptor, field, element);
    };
    if (entity.name().empty() || !entity_names.insert(entity.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(at_entity("name"), "case entity ", e + 1,
                                                     " needs a name of its own (\"", entity.name(),
                                                     "\")"));
    }
    const std::string entity_name = absl::StrCat("case entity \"", entity.name(), "\"");
    if (entity.created_by().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_entity("name"), entity_name, " is created by no field (created_by)"));
    }
    absl::flat_hash_set<std::string> creating_types;
    for (int i = 0; i < entity.created_by_size(); ++i) {
      absl::StatusOr<FieldPath> path = ResolveFieldPath(entity.created_by(i));
      if (!path.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at_entity("created_by", i), entity_name, ": ", path.status().message()));
      }
      creating_types.insert(path->event_type());
    }
    if (!entity.owner_field().empty()) {
      absl::StatusOr<FieldPath> path = ResolveFieldPath(entity.owner_field());
      if (!path.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at_entity("owner_field"), entity_name, ": ", path.status().message()));
      }
      if (creating_types.size() != 1 || !creating_types.contains(path->event_type())) {
        return absl::InvalidArgumentError(absl::StrCat(
            at_entity("owner_field"), entity_name, ": owner_field ", entity.owner_field(),
            " must be a field of the one event type that creates the entity"));
      }
    }
    for (int i = 0; i < entity.changed_by_size(); ++i) {
      absl::StatusOr<FieldPath> path = ResolveFieldPath(entity.changed_by(i));
      if (!path.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at_entity("changed_by", i), entity_name, ": ", path.status().message()));
      }
    }
    for (int i = 0; i < entity.also_changed_by_size(); ++i) {
      if (!roles.contains(entity.also_changed_by(i))) {
        return absl::InvalidArgumentError(absl::StrCat(at_entity("also_changed_by", i), entity_name,
                                                       " names unknown principal ",
                                                       entity.also_changed_by(i)));
      }
    }
  }

  const google::protobuf::Descriptor& lifecycle = *hub::v1::CaseLifecycle::descriptor();
  for (const char* list : {"opened_by", "closed_by", "reopened_by", "accepted_when_closed"}) {
    const google::protobuf::FieldDescriptor* field = lifecycle.FindFieldByName(list);
    const google::protobuf::Reflection* reflection = protocol.case_lifecycle().GetReflection();
    const int count = reflection->FieldSize(protocol.case_lifecycle(), field);
    for (int i = 0; i < count; ++i) {
      const std::string type = reflection->GetRepeatedString(protocol.case_lifecycle(), field, i);
      if (!event_types.contains(type)) {
        return absl::InvalidArgumentError(
            absl::StrCat(at.AtIn("case_lifecycle", -1, lifecycle, list, i), "case_lifecycle.", list,
                         " names \"", type, "\", which is not an event type"));
      }
    }
  }
  if (!protocol.case_lifecycle().reopened_by().empty() &&
      protocol.case_lifecycle().closed_by().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        at.AtIn("case_lifecycle", -1, lifecycle, "reopened_by", 0),
        "case_lifecycle.reopened_by needs closed_by: only a closed case can be reopened"));
  }
  // Case ids are the partnership's, not one agency's: a principal that
  // opens a case whose id is taken is told so, which says the case exists.
  // Only a principal that sees every case may be told that.
  const SharingPolicy reading(protocol);
  const absl::flat_hash_set<std::string> opening(protocol.case_lifecycle().opened_by().begin(),
                                                 protocol.case_lifecycle().opened_by().end());
  for (int r = 0; r < protocol.recording_rules_size(); ++r) {
    const hub::v1::RecordingRule& rule = protocol.recording_rules(r);
    const auto opens =
        std::find_if(rule.event_types().begin(), rule.event_types().end(),
                     [&](const std::string& type) { return opening.contains(type); });
    if (opens == rule.event_types().end()) continue;
    for (int i = 0; i < rule.principals_size(); ++i) {
      if (reading.SeesEveryCase(rule.principals(i))) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          at.AtIn("recording_rules", r, recording, "principals", i), "recording rule \"",
          rule.name(), "\" lets ", rule.principals(i), " open cases (", *opens,
          "), but no reading rule without requires_relation lets it see CASE_ADMINISTRATION: "
          "case ids are the partnership's, so opening a case whose id is taken would tell it "
          "that a case it may not see exists; leave opening cases to principals that see every "
          "case, or give it such a rule"));
    }
  }
  absl::flat_hash_set<std::string> agencies;
  for (const hub::v1::Principal& principal : protocol.principals()) {
    agencies.insert(principal.agency());
  }
  const google::protobuf::Descriptor& panel = *hub::v1::PanelMembership::descriptor();
  for (int p = 0; p < protocol.panel_members_size(); ++p) {
    const hub::v1::PanelMembership& members = protocol.panel_members(p);
    if (members.panel() == hub::v1::PANEL_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(at.AtIn("panel_members", p, panel, "panel"),
                                                     "panel_members ", p + 1, " names no panel"));
    }
    for (int i = 0; i < members.agencies_size(); ++i) {
      if (!agencies.contains(members.agencies(i))) {
        return absl::InvalidArgumentError(absl::StrCat(
            at.AtIn("panel_members", p, panel, "agencies", i), "panel_members names \"",
            members.agencies(i), "\", which is no principal's agency"));
      }
    }
  }
  if (protocol.recording_rules().empty() && protocol.principals_size() > 0) {
    warnings->push_back("no recording rules: no principal may publish anything");
  }
  return absl::OkStatus();
}

absl::Status ValidateRetention(const hub::v1::SharingProtocol& protocol, const Locator& at,
                               std::vector<std::string>* warnings) {
  const std::vector<std::string> publishable = PublishableEventTypes();
  const absl::flat_hash_set<std::string> event_types(publishable.begin(), publishable.end());
  const google::protobuf::Descriptor& descriptor = *hub::v1::RetentionRule::descriptor();
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_map<int, std::string> rule_of_class;
  for (int r = 0; r < protocol.retention_size(); ++r) {
    const hub::v1::RetentionRule& rule = protocol.retention(r);
    auto at_rule = [&](const char* field, int element = -1) {
      return at.AtIn("retention", r, descriptor, field, element);
    };
    if (rule.name().empty() || !names.insert(rule.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(at_rule("name"), "retention rule ", r + 1,
                                                     " needs a name of its own (\"", rule.name(),
                                                     "\")"));
    }
    const std::string named = absl::StrCat("retention rule \"", rule.name(), "\"");
    if (rule.data_classes().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_rule("name"), named, " names no data_classes"));
    }
    for (int i = 0; i < rule.data_classes_size(); ++i) {
      const auto data_class = static_cast<hub::v1::DataClass>(rule.data_classes(i));
      if (!IsPersonalClass(data_class)) {
        return absl::InvalidArgumentError(absl::StrCat(
            at_rule("data_classes", i), named, ": ", hub::v1::DataClass_Name(data_class),
            " is not a personal class; only personal content is sealed, and so can be erased"));
      }
      auto [it, inserted] = rule_of_class.try_emplace(data_class, rule.name());
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(
            at_rule("data_classes", i), named, ": ", hub::v1::DataClass_Name(data_class),
            " is already kept by retention rule \"", it->second, "\"; one rule per class"));
      }
    }
    if (!event_types.contains(rule.after())) {
      return absl::InvalidArgumentError(absl::StrCat(at_rule("after"), named, ": after names \"",
                                                     rule.after(),
                                                     "\", which is not an event type"));
    }
    if (rule.keep_days() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_rule("keep_days"), named, " needs keep_days of 1 or more"));
    }
    if (rule.reason().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at_rule("name"), named, " needs a reason (the policy or law it follows)"));
    }
  }
  // A victim's other content is found through her id (VICTIM_IDENTITY):
  // once a rule destroys the id, content of hers still kept can no longer
  // be found to be erased, by a later rule or on request.
  auto rule_for = [&](hub::v1::DataClass data_class) -> const hub::v1::RetentionRule* {
    const auto found = rule_of_class.find(data_class);
    if (found == rule_of_class.end()) return nullptr;
    for (const hub::v1::RetentionRule& rule : protocol.retention()) {
      if (rule.name() == found->second) return &rule;
    }
    return nullptr;
  };
  if (const hub::v1::RetentionRule* identity = rule_for(hub::v1::VICTIM_IDENTITY)) {
    for (const hub::v1::DataClass data_class :
         {hub::v1::VICTIM_LOCATION, hub::v1::VICTIM_DISCLOSURE, hub::v1::VICTIM_RISK_SUMMARY}) {
      const hub::v1::RetentionRule* kept = rule_for(data_class);
      if (kept == nullptr || kept->after() != identity->after() ||
          kept->keep_days() > identity->keep_days()) {
        warnings->push_back(absl::StrCat(
            "retention: ", hub::v1::DataClass_Name(data_class),
            " may outlive VICTIM_IDENTITY (retention rule \"", identity->name(),
            "\"); once a victim's id is destroyed, her remaining ",
            hub::v1::DataClass_Name(data_class),
            " can no longer be found to be erased. Keep it no longer than her id, from the same "
            "event"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoadedProtocol> ParseSharingProtocol(std::string_view text,
                                                    std::string_view source_name) {
  LoadedProtocol loaded;
  TextFormat::Parser parser;
  CollectErrors errors(source_name);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &loaded.protocol)) {
    return absl::InvalidArgumentError(absl::StrJoin(errors.errors(), "\n"));
  }
  const Locator at(source_name, &tree);
  if (loaded.protocol.partnership().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(source_name), ": the protocol names no partnership"));
  }
  if (loaded.protocol.version().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(source_name), ": the protocol has no version"));
  }
  absl::Status principals = ValidatePrincipals(loaded.protocol, at);
  if (!principals.ok()) return principals;
  absl::Status rules = ValidateRules(loaded.protocol, at, &loaded.warnings);
  if (!rules.ok()) return rules;
  absl::Status recording = ValidateRecording(loaded.protocol, at, &loaded.warnings);
  if (!recording.ok()) return recording;
  absl::Status retention = ValidateRetention(loaded.protocol, at, &loaded.warnings);
  if (!retention.ok()) return retention;
  if (loaded.protocol.principals_size() == 0) {
    loaded.warnings.push_back(
        absl::StrCat(AsAbsl(source_name), ": no principals are listed; every caller is refused"));
  }
  return loaded;
}

absl::StatusOr<LoadedProtocol> LoadSharingProtocolFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot read the sharing protocol ", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  return ParseSharingProtocol(text.str(), path);
}

}  // namespace hub::auth
