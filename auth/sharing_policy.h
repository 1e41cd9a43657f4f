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

namespace hub::auth {

// The data classes a principal may see for one purpose.
using ClassMask = std::bitset<hub::v1::DataClass_ARRAYSIZE>;

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

  Decision Decide(std::string_view identity, hub::v1::DataClass data_class,
                  hub::v1::Purpose purpose) const;

  // Every class Decide() allows for (identity, purpose).
  ClassMask Allowed(std::string_view identity, hub::v1::Purpose purpose) const;

  const std::string& version() const { return version_; }

 private:
  static constexpr int kNoRule = -1;
  // [purpose][class] -> index of the first allowing rule, or kNoRule.
  using RuleTable =
      std::array<std::array<int, hub::v1::DataClass_ARRAYSIZE>, hub::v1::Purpose_ARRAYSIZE>;

  std::string version_;
  std::vector<hub::v1::SharingRule> rules_;
  absl::flat_hash_map<std::string, RuleTable> by_identity_;
};

}  // namespace hub::auth

#endif  // HUB_AUTH_SHARING_POLICY_H_
