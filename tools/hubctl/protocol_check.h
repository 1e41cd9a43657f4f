// `hubctl protocol check FILE`: validates a sharing protocol offline, as the
// hub would before applying it, and explains for each principal what it may
// record and read, rule by rule, so that a partnership can review an
// agreement before it is put in force.
#ifndef HUB_TOOLS_HUBCTL_PROTOCOL_CHECK_H_
#define HUB_TOOLS_HUBCTL_PROTOCOL_CHECK_H_

#include <string>
#include <vector>

#include "hub/v1/sharing_protocol.pb.h"

namespace hub::tools {

// One permission of a principal: what (an event type or a data class), for
// which purposes, by which rule, citing what.
struct Permission {
  std::string what;
  std::vector<std::string> purposes;
  std::string rule;
  // The recording rule's authority, or the sharing rule's lawful basis.
  std::string basis;
};

struct PrincipalExplanation {
  hub::v1::Principal principal;
  std::vector<Permission> may_record;
  std::vector<Permission> may_read;
  // The case constraints that bind what it records, in words.
  std::vector<std::string> constraints;
};

// What each principal of a validated `protocol` may record and read; only
// the principals whose identity ends with `principal_suffix` (e.g.
// "police/agency"), or all when it is empty.
std::vector<PrincipalExplanation> ExplainProtocol(const hub::v1::SharingProtocol& protocol,
                                                  const std::string& principal_suffix);

// The explanation as text, or as one JSON object per principal and line.
std::string FormatExplanation(const std::vector<PrincipalExplanation>& explanations, bool json);

// Loads and validates `path`, prints warnings on stderr and the explanation
// on stdout. 0 when the protocol is valid, 1 when it is not (the error, with
// its line, on stderr), 2 when no principal matches `principal_suffix`.
int CheckProtocolFile(const std::string& path, const std::string& principal_suffix, bool json);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_PROTOCOL_CHECK_H_
