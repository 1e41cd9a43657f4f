#include "tools/hubctl/protocol_check.h"

#include <cstdio>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

#include "auth/recording_policy.h"
#include "auth/sharing_policy.h"
#include "auth/sharing_protocol.h"

namespace hub::tools {
namespace {

std::string PurposeWord(int purpose) {
  std::string name = hub::v1::Purpose_Name(static_cast<hub::v1::Purpose>(purpose));
  return absl::StartsWith(name, "PURPOSE_") ? name.substr(8) : name;
}

// The purposes, per `what`, for which `allowed(what, purpose)` names a rule;
// purposes that share a rule are listed together.
template <typename Allowed>
std::vector<Permission> Collect(const std::vector<std::string>& whats, Allowed allowed) {
  std::vector<Permission> permissions;
  for (const std::string& what : whats) {
    std::map<std::string, Permission> by_rule;
    for (int purpose = 1; purpose < hub::v1::Purpose_ARRAYSIZE; ++purpose) {
      std::string rule;
      std::string basis;
      if (!allowed(what, static_cast<hub::v1::Purpose>(purpose), &rule, &basis)) continue;
      Permission& permission = by_rule[rule];
      permission.what = what;
      permission.rule = rule;
      permission.basis = basis;
      permission.purposes.push_back(PurposeWord(purpose));
    }
    for (auto& [rule, permission] : by_rule) permissions.push_back(std::move(permission));
  }
  return permissions;
}

}  // namespace

std::vector<PrincipalExplanation> ExplainProtocol(const hub::v1::SharingProtocol& protocol,
                                                  const std::string& principal_suffix) {
  const auth::SharingPolicy reading(protocol);
  const auth::RecordingPolicy recording(protocol);
  std::vector<std::string> classes;
  for (int data_class = 1; data_class < hub::v1::DataClass_ARRAYSIZE; ++data_class) {
    if (hub::v1::DataClass_IsValid(data_class)) {
      classes.push_back(hub::v1::DataClass_Name(static_cast<hub::v1::DataClass>(data_class)));
    }
  }
  std::vector<PrincipalExplanation> explanations;
  for (const hub::v1::Principal& principal : protocol.principals()) {
    if (!principal_suffix.empty() && !absl::EndsWith(principal.identity(), principal_suffix)) {
      continue;
    }
    PrincipalExplanation& explanation = explanations.emplace_back();
    explanation.principal = principal;
    const std::string& identity = principal.identity();
    explanation.may_record = Collect(
        auth::PublishableEventTypes(), [&](const std::string& type, hub::v1::Purpose purpose,
                                           std::string* rule, std::string* basis) {
          const auth::RecordingDecision decision = recording.MayRecord(identity, type, purpose);
          *rule = decision.rule;
          *basis = decision.authority;
          return decision.allowed;
        });
    // Each class is read without a relationship to the case, or only with
    // one: "VICTIM_LOCATION where SUPPORTS_SUBJECT".
    std::vector<std::string> conditions = {""};
    std::vector<auth::RelationMask> masks = {auth::kNoRelation};
    for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
      conditions.push_back(absl::StrCat(
          " where ", hub::v1::CaseRelation_Name(static_cast<hub::v1::CaseRelation>(relation))));
      masks.emplace_back().set(relation);
    }
    for (size_t c = 0; c < masks.size(); ++c) {
      std::vector<Permission> read =
          Collect(classes, [&](const std::string& name, hub::v1::Purpose purpose, std::string* rule,
                               std::string* basis) {
            hub::v1::DataClass data_class = hub::v1::DATA_CLASS_UNSPECIFIED;
            hub::v1::DataClass_Parse(name, &data_class);
            const auth::Decision decision = reading.Decide(identity, data_class, purpose, masks[c]);
            // Listed once: under no relationship if it needs none.
            if (c > 0 && reading.Decide(identity, data_class, purpose, auth::kNoRelation).allowed) {
              return false;
            }
            *rule = decision.rule;
            *basis = decision.lawful_basis;
            return decision.allowed;
          });
      for (Permission& permission : read) {
        permission.what += conditions[c];
        explanation.may_read.push_back(std::move(permission));
      }
    }
    if (explanation.may_record.empty()) continue;
    // Which cases it may record in at all: those it knows of.
    if (reading.SeesEveryCase(identity)) {
      explanation.constraints.push_back("records in any case (it sees every case)");
    } else {
      std::vector<std::string> involving;
      for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
        if (relation == hub::v1::SUPPORTS_SUBJECT) continue;  // Per event, not per case.
        hub::v1::CaseRelations relations;
        hub::v1::CaseRelations::AgencyRelations* agency = relations.add_agencies();
        agency->set_agency(principal.agency());
        agency->add_relations(static_cast<hub::v1::CaseRelation>(relation));
        if (reading.SeesCase(identity, relations)) {
          involving.push_back(
              hub::v1::CaseRelation_Name(static_cast<hub::v1::CaseRelation>(relation)));
        }
      }
      explanation.constraints.push_back(
          involving.empty()
              ? std::string("records in no case: no reading rule lets it see a case's "
                            "administration")
              : absl::StrCat("records only in cases it is involved in (",
                             absl::StrJoin(involving, ", "),
                             "); any other case id is answered NOT_FOUND, as if the case did "
                             "not exist"));
    }
    for (const hub::v1::CaseEntity& entity : protocol.case_entities()) {
      std::string constraint = absl::StrCat("each ", entity.name(), " is created once per case (",
                                            absl::StrJoin(entity.created_by(), ", "), ")");
      if (entity.max_per_case() > 0) {
        absl::StrAppend(&constraint, ", at most ", entity.max_per_case(), " per case");
      }
      if (!entity.owner_field().empty()) {
        const bool also =
            std::find(entity.also_changed_by().begin(), entity.also_changed_by().end(), identity) !=
            entity.also_changed_by().end();
        absl::StrAppend(&constraint, "; changed (", absl::StrJoin(entity.changed_by(), ", "),
                        ") only by the agency named in ", entity.owner_field(),
                        also ? ", or by this principal" : "");
      }
      explanation.constraints.push_back(constraint);
    }
    const hub::v1::CaseLifecycle& lifecycle = protocol.case_lifecycle();
    if (!lifecycle.opened_by().empty()) {
      explanation.constraints.push_back(absl::StrCat(
          "a case begins with ", absl::StrJoin(lifecycle.opened_by(), " or "), ", once"));
    }
    if (!lifecycle.closed_by().empty()) {
      explanation.constraints.push_back(absl::StrCat(
          "a case closed (", absl::StrJoin(lifecycle.closed_by(), ", "), ") accepts only ",
          lifecycle.reopened_by().empty() ? "nothing more"
                                          : absl::StrJoin(lifecycle.reopened_by(), " or "),
          ", from a principal that may close cases"));
    }
  }
  return explanations;
}

std::string FormatExplanation(const std::vector<PrincipalExplanation>& explanations, bool json) {
  std::string out;
  for (const PrincipalExplanation& explanation : explanations) {
    const hub::v1::Principal& principal = explanation.principal;
    if (json) {
      // Built as a Struct so that protobuf does the JSON escaping.
      google::protobuf::Struct object;
      auto& fields = *object.mutable_fields();
      fields["identity"].set_string_value(principal.identity());
      fields["agency"].set_string_value(principal.agency());
      fields["role"].set_string_value(hub::v1::Role_Name(principal.role()));
      const auto permissions = [](const std::vector<Permission>& list, const char* key,
                                  google::protobuf::Value* value) {
        for (const Permission& p : list) {
          auto& item = *value->mutable_list_value()->add_values()->mutable_struct_value();
          (*item.mutable_fields())[key].set_string_value(p.what);
          (*item.mutable_fields())["rule"].set_string_value(p.rule);
          (*item.mutable_fields())["basis"].set_string_value(p.basis);
          auto& purposes = *(*item.mutable_fields())["purposes"].mutable_list_value();
          for (const std::string& purpose : p.purposes) {
            purposes.add_values()->set_string_value(purpose);
          }
        }
        value->mutable_list_value();
      };
      permissions(explanation.may_record, "event_type", &fields["may_record"]);
      permissions(explanation.may_read, "data_class", &fields["may_read"]);
      for (const std::string& constraint : explanation.constraints) {
        fields["constraints"].mutable_list_value()->add_values()->set_string_value(constraint);
      }
      std::string line;
      // A Struct of strings always converts.
      if (google::protobuf::util::MessageToJsonString(object, &line).ok()) {
        absl::StrAppend(&out, line, "\n");
      }
      continue;
    }
    absl::StrAppend(&out, principal.identity(), "\n  ", principal.display_name(), " (role ",
                    hub::v1::Role_Name(principal.role()), ")\n");
    const auto list = [&out](const char* heading, const std::vector<Permission>& permissions) {
      absl::StrAppend(&out, "  ", heading, permissions.empty() ? " nothing\n" : "\n");
      for (const Permission& p : permissions) {
        absl::StrAppend(&out, "    ", p.what, " for ", absl::StrJoin(p.purposes, ", "), "  (rule ",
                        p.rule, ")\n");
      }
    };
    list("may record:", explanation.may_record);
    list("may read:", explanation.may_read);
    for (const std::string& constraint : explanation.constraints) {
      absl::StrAppend(&out, "  constraint: ", constraint, "\n");
    }
    out += "\n";
  }
  return out;
}

int CheckProtocolFile(const std::string& path, const std::string& principal_suffix, bool json) {
  absl::StatusOr<auth::LoadedProtocol> loaded = auth::LoadSharingProtocolFile(path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "hubctl: the protocol is not valid: %s\n",
                 std::string(loaded.status().message()).c_str());
    return 1;
  }
  for (const std::string& warning : loaded->warnings) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  const std::vector<PrincipalExplanation> explanations =
      ExplainProtocol(loaded->protocol, principal_suffix);
  if (explanations.empty()) {
    std::fprintf(stderr, "hubctl: no principal of %s ends with \"%s\"\n", path.c_str(),
                 principal_suffix.c_str());
    return 2;
  }
  if (!json) {
    std::printf(
        "protocol %s of %s is valid (%d principals, %d sharing rules, %d recording rules)\n\n",
        loaded->protocol.version().c_str(), loaded->protocol.partnership().c_str(),
        loaded->protocol.principals_size(), loaded->protocol.rules_size(),
        loaded->protocol.recording_rules_size());
  }
  std::printf("%s", FormatExplanation(explanations, json).c_str());
  return 0;
}

}  // namespace hub::tools
