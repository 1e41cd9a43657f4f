#include "auth/recording_policy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "auth/data_classes.h"
#include "auth/field_sealing.h"
#include "proto/absl_compat.h"
#include "proto/error_details.h"
#include "proto/status_macros.h"

namespace hub::auth {
namespace {

using google::protobuf::FieldDescriptor;

constexpr int kNoRule = -1;

const google::protobuf::OneofDescriptor& EventOneof() {
  return *hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
}

std::string EventTypeOf(const hub::v1::EventEnvelope& envelope) {
  const FieldDescriptor* field =
      envelope.GetReflection()->GetOneofFieldDescriptor(envelope, &EventOneof());
  return field == nullptr ? "" : field->name();
}

std::string Join(const absl::flat_hash_set<std::string>& names) {
  std::vector<std::string> sorted(names.begin(), names.end());
  std::sort(sorted.begin(), sorted.end());
  return absl::StrJoin(sorted, " or ");
}

}  // namespace

absl::StatusOr<FieldPath> ResolveFieldPath(std::string_view text) {
  FieldPath path;
  path.text = std::string(text);
  const google::protobuf::Descriptor* message = hub::v1::EventEnvelope::descriptor();
  const std::vector<std::string> parts = absl::StrSplit(AsAbsl(text), '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* field =
        message == nullptr ? nullptr : message->FindFieldByName(parts[i]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field path \"", AsAbsl(text), "\": ",
          message == nullptr
              ? "nothing follows a string field"
              : absl::StrCat(message->full_name(), " has no field \"", parts[i], "\"")));
    }
    if (i == 0 && field->containing_oneof() != &EventOneof()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field path \"", AsAbsl(text), "\" must begin with an event type, e.g. ",
                       "action_tasked; \"", parts[i], "\" is not one"));
    }
    if (field->is_repeated()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field path \"", AsAbsl(text), "\": ", field->full_name(), " is repeated"));
    }
    path.fields.push_back(field);
    const bool last = i + 1 == parts.size();
    if (last && field->type() != FieldDescriptor::TYPE_STRING) {
      return absl::InvalidArgumentError(absl::StrCat("field path \"", AsAbsl(text),
                                                     "\" must end at a string field; ",
                                                     field->full_name(), " is not one"));
    }
    if (!last && field->type() != FieldDescriptor::TYPE_MESSAGE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field path \"", AsAbsl(text), "\": ", field->full_name(), " is not a message"));
    }
    message = last ? nullptr : field->message_type();
  }
  if (path.fields.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("field path \"", AsAbsl(text),
                                                   "\" must name a field inside an event, e.g. ",
                                                   "action_tasked.action_id"));
  }
  return path;
}

bool ValueAt(const hub::v1::EventEnvelope& envelope, const FieldPath& path, std::string* value) {
  const google::protobuf::Message* message = &envelope;
  for (size_t i = 0; i + 1 < path.fields.size(); ++i) {
    const google::protobuf::Reflection* reflection = message->GetReflection();
    if (!reflection->HasField(*message, path.fields[i])) return false;
    message = &reflection->GetMessage(*message, path.fields[i]);
  }
  *value = message->GetReflection()->GetString(*message, path.fields.back());
  return true;
}

std::vector<std::string> PublishableEventTypes() {
  std::vector<std::string> types;
  const google::protobuf::OneofDescriptor& events = EventOneof();
  for (int i = 0; i < events.field_count(); ++i) {
    // The hub's own records.
    const std::string& name = events.field(i)->name();
    if (name != "protocol_changed" && name != "data_erased" && name != "processing_restricted") {
      types.push_back(name);
    }
  }
  return types;
}

RecordingPolicy::RecordingPolicy(const hub::v1::SharingProtocol& protocol)
    : version_(protocol.version()),
      reading_(protocol),
      rules_(protocol.recording_rules().begin(), protocol.recording_rules().end()) {
  for (const hub::v1::Principal& principal : protocol.principals()) {
    agencies_.insert(principal.agency());
  }
  for (int r = 0; r < static_cast<int>(rules_.size()); ++r) {
    const hub::v1::RecordingRule& rule = rules_[r];
    for (const std::string& identity : rule.principals()) {
      for (const std::string& type : rule.event_types()) {
        Allowed& allowed = allowed_[identity][type];
        if (allowed.rule_by_purpose.empty()) {
          allowed.rule_by_purpose.assign(hub::v1::Purpose_ARRAYSIZE, kNoRule);
        }
        for (int purpose : rule.purposes()) {
          if (purpose <= 0 || purpose >= hub::v1::Purpose_ARRAYSIZE) continue;
          if (allowed.rule_by_purpose[purpose] == kNoRule) allowed.rule_by_purpose[purpose] = r;
        }
      }
    }
  }
  for (const hub::v1::CaseEntity& declared : protocol.case_entities()) {
    Entity& entity = entities_.emplace_back();
    const size_t index = entities_.size() - 1;
    entity.name = declared.name();
    entity.max_per_case = declared.max_per_case();
    entity.also_changed_by.insert(declared.also_changed_by().begin(),
                                  declared.also_changed_by().end());
    if (!declared.owner_field().empty()) {
      absl::StatusOr<FieldPath> owner = ResolveFieldPath(declared.owner_field());
      if (owner.ok()) entity.owner = *std::move(owner);
    }
    for (const std::string& text : declared.created_by()) {
      absl::StatusOr<FieldPath> path = ResolveFieldPath(text);
      if (path.ok()) creates_[path->event_type()].push_back({index, *std::move(path)});
    }
    for (const std::string& text : declared.changed_by()) {
      absl::StatusOr<FieldPath> path = ResolveFieldPath(text);
      if (path.ok()) changes_[path->event_type()].push_back({index, *std::move(path)});
    }
  }
  const hub::v1::CaseLifecycle& lifecycle = protocol.case_lifecycle();
  opened_by_.insert(lifecycle.opened_by().begin(), lifecycle.opened_by().end());
  closed_by_.insert(lifecycle.closed_by().begin(), lifecycle.closed_by().end());
  reopened_by_.insert(lifecycle.reopened_by().begin(), lifecycle.reopened_by().end());
  accepted_when_closed_.insert(lifecycle.accepted_when_closed().begin(),
                               lifecycle.accepted_when_closed().end());
}

RecordingDecision RecordingPolicy::MayRecord(std::string_view identity, std::string_view event_type,
                                             hub::v1::Purpose purpose) const {
  RecordingDecision decision;
  const Allowed* allowed = nullptr;
  if (auto by_type = allowed_.find(AsAbsl(identity)); by_type != allowed_.end()) {
    if (auto found = by_type->second.find(AsAbsl(event_type)); found != by_type->second.end()) {
      allowed = &found->second;
    }
  }
  const int rule = allowed == nullptr || purpose <= 0 || purpose >= hub::v1::Purpose_ARRAYSIZE
                       ? kNoRule
                       : allowed->rule_by_purpose[purpose];
  if (rule == kNoRule) {
    decision.reason = absl::StrCat(
        "no recording rule of protocol ", version_, " lets ", AsAbsl(identity), " record ",
        AsAbsl(event_type),
        allowed == nullptr ? "" : absl::StrCat(" for ", hub::v1::Purpose_Name(purpose)));
    return decision;
  }
  decision.allowed = true;
  decision.rule = rules_[rule].name();
  decision.authority = rules_[rule].authority();
  return decision;
}

bool RecordingPolicy::MayClose(std::string_view identity) const {
  for (const std::string& type : closed_by_) {
    for (int purpose = 1; purpose < hub::v1::Purpose_ARRAYSIZE; ++purpose) {
      if (MayRecord(identity, type, static_cast<hub::v1::Purpose>(purpose)).allowed) return true;
    }
  }
  return false;
}

absl::Status RecordingPolicy::CheckRuleAndStanding(const hub::v1::Principal& principal,
                                                   const hub::v1::EventEnvelope& envelope,
                                                   const CaseWriteState& state,
                                                   std::string_view case_id, std::string_view where,
                                                   std::string* rule) const {
  const std::string type = EventTypeOf(envelope);
  RecordingDecision decision = MayRecord(principal.identity(), type, envelope.purpose());
  if (!decision.allowed) {
    return WithErrorInfo(
        absl::PermissionDeniedError(absl::StrCat(
            AsAbsl(where), " (", type, ") is refused: ", decision.reason, "; nothing was stored")),
        "NO_RECORDING_RULE",
        {{"event_type", type},
         {"purpose", hub::v1::Purpose_Name(envelope.purpose())},
         {"principal", principal.identity()}});
  }
  if (rule != nullptr) *rule = std::move(decision.rule);
  if (opened_by_.contains(type) || reading_.SeesCase(principal.identity(), state.relations)) {
    return absl::OkStatus();
  }
  // Nothing in these words depends on the case: the same for one that
  // does not exist.
  return WithErrorInfo(
      absl::NotFoundError(absl::StrCat(
          AsAbsl(where), " (", type, "): case ", AsAbsl(case_id), " is not a case ",
          principal.identity(), " knows of: under protocol ", version_,
          " it records only into cases it is involved in (tasked with an action, referred a "
          "client, heard at panel, or recorded in before), and any other case id is answered "
          "as one that does not exist; nothing was stored")),
      "CASE_NOT_KNOWN", {{"case_id", std::string(case_id)}});
}

absl::Status RecordingPolicy::Check(const hub::v1::Principal& principal,
                                    const hub::v1::EventEnvelope& envelope,
                                    const CaseWriteState& state, std::string_view case_id,
                                    std::string_view where, std::string* rule) const {
  HUB_RETURN_IF_ERROR(CheckRuleAndStanding(principal, envelope, state, case_id, where, rule));
  const std::string type = EventTypeOf(envelope);
  const auto prefix = [&] { return absl::StrCat(AsAbsl(where), " (", type, "): "); };
  // A correction creates and changes no entity, and may come after closure:
  // a record is put right whenever it is found wrong.
  if (envelope.has_record_corrected()) {
    return CheckCorrection(principal, envelope, state, case_id, prefix());
  }
  if (!opened_by_.empty()) {
    if (state.version == 0 && !opened_by_.contains(type)) {
      return WithErrorInfo(absl::FailedPreconditionError(absl::StrCat(
                               prefix(), "case ", AsAbsl(case_id),
                               " has no events yet; a case begins with ", Join(opened_by_))),
                           "CASE_NOT_OPENED",
                           {{"case_id", std::string(case_id)}, {"opened_by", Join(opened_by_)}});
    }
    if (state.version > 0 && opened_by_.contains(type)) {
      return WithErrorInfo(
          absl::AlreadyExistsError(absl::StrCat(
              prefix(), "case ", AsAbsl(case_id), " exists already; ", type,
              " begins a case and is recorded once (use a new case id for a new referral)")),
          "CASE_EXISTS", {{"case_id", std::string(case_id)}});
    }
  }
  if (reopened_by_.contains(type)) {
    if (!state.closed) {
      return WithErrorInfo(absl::FailedPreconditionError(
                               absl::StrCat(prefix(), "case ", AsAbsl(case_id), " is not closed")),
                           "CASE_NOT_CLOSED", {{"case_id", std::string(case_id)}});
    }
    if (!MayClose(principal.identity())) {
      return WithErrorInfo(
          absl::PermissionDeniedError(
              absl::StrCat(prefix(), "only a principal that may close cases (", Join(closed_by_),
                           ") may reopen one; ", principal.identity(), " may not")),
          "MAY_NOT_REOPEN", {{"principal", principal.identity()}});
    }
  } else if (state.closed && !accepted_when_closed_.contains(type)) {
    absl::flat_hash_set<std::string> accepted = reopened_by_;
    accepted.insert(accepted_when_closed_.begin(), accepted_when_closed_.end());
    return WithErrorInfo(absl::FailedPreconditionError(absl::StrCat(
                             prefix(), "case ", AsAbsl(case_id), " is closed; it accepts only ",
                             accepted.empty() ? "nothing more" : Join(accepted))),
                         "CASE_CLOSED", {{"case_id", std::string(case_id)}});
  }
  // The entity key an event names at `field`: nullopt if the event does not
  // reach the field, INVALID_ARGUMENT if it leaves the key empty.
  const auto key_at = [&](const EntityField& field) -> absl::StatusOr<std::optional<std::string>> {
    std::string key;
    if (!ValueAt(envelope, field.path, &key)) return std::optional<std::string>();
    if (key.empty()) {
      return WithFieldViolation(absl::InvalidArgumentError(absl::StrCat(
                                    prefix(), field.path.text, " is required: it names the ",
                                    entities_[field.entity].name)),
                                absl::StrCat(AsAbsl(where), ".", field.path.text), "required");
    }
    return std::optional<std::string>(std::move(key));
  };
  if (auto creates = creates_.find(type); creates != creates_.end()) {
    for (const EntityField& field : creates->second) {
      absl::StatusOr<std::optional<std::string>> named = key_at(field);
      if (!named.ok()) return named.status();
      if (!named->has_value()) continue;
      const std::string& key = **named;
      const Entity& entity = entities_[field.entity];
      if (state.entities.contains(std::make_pair(entity.name, key))) {
        return WithErrorInfo(absl::AlreadyExistsError(absl::StrCat(
                                 prefix(), entity.name, " ", key, " exists already in case ",
                                 AsAbsl(case_id), "; a ", entity.name, " is created once")),
                             "ENTITY_EXISTS", {{"entity", entity.name}, {"key", key}});
      }
      if (entity.max_per_case > 0) {
        auto count = state.entity_counts.find(entity.name);
        if (count != state.entity_counts.end() && count->second >= entity.max_per_case) {
          return WithErrorInfo(
              WithoutRetry(absl::ResourceExhaustedError(absl::StrCat(
                  prefix(), "case ", AsAbsl(case_id), " holds ", count->second, " ", entity.name,
                  "s, the most protocol ", version_, " allows a case (case_entities ", entity.name,
                  " max_per_case); nothing was stored"))),
              "ENTITY_LIMIT",
              {{"entity", entity.name}, {"limit", absl::StrCat(entity.max_per_case)}});
        }
      }
      std::string owner;
      if (entity.owner.has_value() && ValueAt(envelope, *entity.owner, &owner)) {
        if (owner.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(prefix(), entity.owner->text,
                           " is required: it names the agency that owns the ", entity.name));
        }
        if (!agencies_.contains(owner)) {
          return absl::InvalidArgumentError(absl::StrCat(prefix(), entity.owner->text, " \"", owner,
                                                         "\" is no agency of protocol ", version_));
        }
      }
    }
  }
  if (auto changes = changes_.find(type); changes != changes_.end()) {
    for (const EntityField& field : changes->second) {
      absl::StatusOr<std::optional<std::string>> named = key_at(field);
      if (!named.ok()) return named.status();
      if (!named->has_value()) continue;
      const std::string& key = **named;
      const Entity& entity = entities_[field.entity];
      auto found = state.entities.find(std::make_pair(entity.name, key));
      if (found == state.entities.end()) {
        return WithErrorInfo(absl::NotFoundError(absl::StrCat(prefix(), "case ", AsAbsl(case_id),
                                                              " has no ", entity.name, " ", key)),
                             "ENTITY_NOT_FOUND", {{"entity", entity.name}, {"key", key}});
      }
      const std::string& owner = found->second;
      if (!owner.empty() && owner != principal.agency() &&
          !entity.also_changed_by.contains(principal.identity())) {
        return WithErrorInfo(
            absl::PermissionDeniedError(absl::StrCat(
                prefix(), entity.name, " ", key, " is owned by ", owner, "; only its owner",
                entity.also_changed_by.empty() ? "" : " or ", Join(entity.also_changed_by),
                " may change it, not ", principal.identity())),
            "NOT_THE_OWNER", {{"entity", entity.name}, {"key", key}, {"owner", owner}});
      }
    }
  }
  return absl::OkStatus();
}

absl::Status RecordingPolicy::CheckCorrection(const hub::v1::Principal& principal,
                                              const hub::v1::EventEnvelope& envelope,
                                              const CaseWriteState& state, std::string_view case_id,
                                              const std::string& prefix) const {
  const hub::v1::RecordCorrected& correction = envelope.record_corrected();
  auto target = state.recorded.find(correction.corrected_event_id());
  if (target == state.recorded.end()) {
    return WithErrorInfo(
        absl::NotFoundError(absl::StrCat(prefix, "case ", AsAbsl(case_id), " has no event ",
                                         correction.corrected_event_id(),
                                         " (a correction names an earlier event of its case)")),
        "CORRECTED_EVENT_NOT_FOUND", {{"event_id", correction.corrected_event_id()}});
  }
  const google::protobuf::FieldDescriptor* member = CorrectedTypeOf(correction);
  const std::string corrected_type = member != nullptr ? member->name() : "";
  if (corrected_type != target->second.type) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "event ", correction.corrected_event_id(), " is a ", target->second.type,
        "; the correction holds ", corrected_type.empty() ? "nothing" : corrected_type));
  }
  if (target->second.agency != principal.agency()) {
    return WithErrorInfo(
        absl::PermissionDeniedError(absl::StrCat(
            prefix, "event ", correction.corrected_event_id(), " was recorded by ",
            target->second.agency, "; only the agency that recorded an event corrects it")),
        "NOT_THE_RECORDER",
        {{"event_id", correction.corrected_event_id()}, {"recorded_by", target->second.agency}});
  }
  if (SubjectsOf(envelope) != target->second.subjects) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "a correction repeats the subject ids event ", correction.corrected_event_id(),
        " names, in the same fields: it changes values, never whom an event is "
        "about (link the right subject instead)"));
  }
  return absl::OkStatus();
}

CaseWriteState::Recorded RecordedEvent(const hub::v1::EventEnvelope& envelope) {
  return CaseWriteState::Recorded{EventTypeOf(envelope), envelope.producing_agency(),
                                  SubjectsOf(envelope)};
}

void RecordingPolicy::Apply(const hub::v1::EventEnvelope& envelope, CaseWriteState* state) const {
  ++state->version;
  reading_.ApplyToRelations(envelope, &state->relations);
  const std::string type = EventTypeOf(envelope);
  state->recorded.try_emplace(envelope.event_id(), RecordedEvent(envelope));
  if (IsClosing(type)) state->closed = true;
  if (reopened_by_.contains(type)) state->closed = false;
  auto creates = creates_.find(type);
  if (creates == creates_.end()) return;
  for (const EntityField& field : creates->second) {
    std::string key;
    if (!ValueAt(envelope, field.path, &key) || key.empty()) continue;
    const Entity& entity = entities_[field.entity];
    std::string owner;
    if (entity.owner.has_value()) ValueAt(envelope, *entity.owner, &owner);
    // The first creation wins: a log written before the rule existed may
    // hold a second one, which changes nothing.
    if (state->entities.try_emplace(std::make_pair(entity.name, key), std::move(owner)).second) {
      ++state->entity_counts[entity.name];
    }
  }
}

}  // namespace hub::auth
