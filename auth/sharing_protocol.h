// Loading and validating the partnership's information-sharing protocol
// (proto/hub/v1/sharing_protocol.proto) from its protobuf text-format file.
#ifndef HUB_AUTH_SHARING_PROTOCOL_H_
#define HUB_AUTH_SHARING_PROTOCOL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "hub/v1/sharing_protocol.pb.h"

namespace hub::auth {

struct LoadedProtocol {
  hub::v1::SharingProtocol protocol;
  // Problems that do not stop the protocol from being used.
  std::vector<std::string> warnings;
};

// Parses and validates protocol text. `source_name` (a path) prefixes every
// error, with the line and column: "example.textproto:12:3: ...". Errors
// (INVALID_ARGUMENT): syntax, unknown fields or enum values, no partnership
// or version, an identity that is malformed, belongs to another partnership,
// disagrees with its principal's agency or role, or is listed twice; a rule
// without a name (or with a used one), principals, classes or purposes, that
// names an unknown principal, class or purpose, lacks a lawful basis or a
// legal gateway, or gives case content to an auditor or operator. Warnings:
// a data class that no rule mentions, no principals at all.
absl::StatusOr<LoadedProtocol> ParseSharingProtocol(std::string_view text,
                                                    std::string_view source_name);

// Reads `path` and parses it; NOT_FOUND if it cannot be read.
absl::StatusOr<LoadedProtocol> LoadSharingProtocolFile(const std::string& path);

}  // namespace hub::auth

#endif  // HUB_AUTH_SHARING_PROTOCOL_H_
