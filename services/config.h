// hubd's configuration: proto/hub/v1/config.proto, read from a text-format
// file, with defaults for every absent field and command-line overrides.
#ifndef HUB_SERVICES_CONFIG_H_
#define HUB_SERVICES_CONFIG_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

#include "hub/v1/config.pb.h"

namespace hub::services {

struct ConfigOverrides {
  std::optional<std::string> listen_address;
  std::optional<std::string> data_dir;
};

// Reads `path` (empty: defaults only), applies `overrides` and the defaults,
// and validates. INVALID_ARGUMENT naming the field ("tls.ca_cert_path: ...")
// or the file position of a syntax error.
absl::StatusOr<hub::v1::HubConfig> LoadHubConfig(const std::string& path,
                                                 const ConfigOverrides& overrides);

// Fills every absent field with its default. Paths that default to the data
// folder (the development certificates) follow data_dir.
void ApplyConfigDefaults(hub::v1::HubConfig* config);

// Checks values and that every file the hub needs can be read.
absl::Status ValidateHubConfig(const hub::v1::HubConfig& config);

}  // namespace hub::services

#endif  // HUB_SERVICES_CONFIG_H_
