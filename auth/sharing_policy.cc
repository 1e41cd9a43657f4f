#include "auth/sharing_policy.h"

#include "absl/strings/str_cat.h"

#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

bool InRange(int value, int size) { return value >= 0 && value < size; }

}  // namespace

SharingPolicy::SharingPolicy(const hub::v1::SharingProtocol& protocol)
    : version_(protocol.version()), rules_(protocol.rules().begin(), protocol.rules().end()) {
  RuleTable empty;
  for (auto& row : empty) row.fill(kNoRule);
  for (const hub::v1::Principal& principal : protocol.principals()) {
    by_identity_.emplace(principal.identity(), empty);
  }
  for (int r = 0; r < static_cast<int>(rules_.size()); ++r) {
    const hub::v1::SharingRule& rule = rules_[r];
    for (const std::string& identity : rule.principals()) {
      auto table = by_identity_.find(identity);
      if (table == by_identity_.end()) continue;
      for (int purpose : rule.purposes()) {
        if (!InRange(purpose, hub::v1::Purpose_ARRAYSIZE)) continue;
        for (int data_class : rule.data_classes()) {
          if (!InRange(data_class, hub::v1::DataClass_ARRAYSIZE)) continue;
          int& slot = table->second[purpose][data_class];
          if (slot == kNoRule) slot = r;
        }
      }
    }
  }
}

Decision SharingPolicy::Decide(std::string_view identity, hub::v1::DataClass data_class,
                               hub::v1::Purpose purpose) const {
  Decision decision;
  auto table = by_identity_.find(AsAbsl(identity));
  if (table == by_identity_.end()) {
    decision.reason = absl::StrCat(AsAbsl(identity), " is not a principal of protocol ", version_);
    return decision;
  }
  if (data_class == hub::v1::DATA_CLASS_UNSPECIFIED ||
      !InRange(data_class, hub::v1::DataClass_ARRAYSIZE) ||
      purpose == hub::v1::PURPOSE_UNSPECIFIED || !InRange(purpose, hub::v1::Purpose_ARRAYSIZE)) {
    decision.reason = "unclassified data or unspecified purpose is never shared";
    return decision;
  }
  const int rule = table->second[purpose][data_class];
  if (rule == kNoRule) {
    decision.reason =
        absl::StrCat("no rule of protocol ", version_, " lets ", AsAbsl(identity), " see ",
                     hub::v1::DataClass_Name(data_class), " for ", hub::v1::Purpose_Name(purpose));
    return decision;
  }
  decision.allowed = true;
  decision.rule = rules_[rule].name();
  decision.lawful_basis = rules_[rule].lawful_basis();
  decision.legal_gateway = rules_[rule].legal_gateway();
  return decision;
}

ClassMask SharingPolicy::Allowed(std::string_view identity, hub::v1::Purpose purpose) const {
  ClassMask mask;
  auto table = by_identity_.find(AsAbsl(identity));
  if (table == by_identity_.end() || purpose == hub::v1::PURPOSE_UNSPECIFIED ||
      !InRange(purpose, hub::v1::Purpose_ARRAYSIZE)) {
    return mask;
  }
  for (int data_class = 1; data_class < hub::v1::DataClass_ARRAYSIZE; ++data_class) {
    mask[data_class] = table->second[purpose][data_class] != kNoRule;
  }
  return mask;
}

}  // namespace hub::auth
