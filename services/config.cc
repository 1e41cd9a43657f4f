#include "services/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

#include "services/request_validation.h"

namespace hub::services {
namespace {

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string source) : source_(std::move(source)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

absl::Status Readable(const std::string& field, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": is required"));
  if (access(path.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read ", path));
  }
  return absl::OkStatus();
}

void Default(std::string* value, const std::string& fallback) {
  if (value->empty()) *value = fallback;
}

}  // namespace

void ApplyConfigDefaults(hub::v1::HubConfig* config) {
  Default(config->mutable_listen_address(), "127.0.0.1:7443");
  Default(config->mutable_data_dir(), "./data");
  const std::string certs = config->data_dir() + "/certs";
  hub::v1::TlsConfig* tls = config->mutable_tls();
  Default(tls->mutable_ca_cert_path(), certs + "/ca.crt");
  Default(tls->mutable_server_cert_path(), certs + "/server/hubd.crt");
  Default(tls->mutable_server_key_path(), certs + "/server/hubd.key");
  if (!tls->allow_no_crl()) Default(tls->mutable_crl_dir(), certs + "/crl");
  if (tls->crl_warning_days() == 0) tls->set_crl_warning_days(7);
  if (tls->reload_interval_seconds() == 0) tls->set_reload_interval_seconds(30);
  Default(config->mutable_sharing_protocol_path(), "deploy/examples/sharing_protocol.textproto");
  hub::v1::LimitsConfig* limits = config->mutable_limits();
  if (limits->max_event_bytes() == 0) limits->set_max_event_bytes(64 * 1024);
  if (limits->max_events_per_append() == 0) limits->set_max_events_per_append(256);
  if (limits->max_case_id_bytes() == 0) limits->set_max_case_id_bytes(64);
  if (limits->max_subscriptions() == 0) limits->set_max_subscriptions(256);
  if (limits->max_subscriptions_per_principal() == 0) {
    limits->set_max_subscriptions_per_principal(32);
  }
  if (!limits->has_min_free_disk_bytes()) limits->set_min_free_disk_bytes(256ull << 20);
  if (limits->max_text_bytes() == 0) limits->set_max_text_bytes(kDefaultMaxTextBytes);
  if (limits->max_free_text_bytes() == 0) limits->set_max_free_text_bytes(kDefaultMaxFreeTextBytes);
  hub::v1::BackupConfig* backup = config->mutable_backup();
  std::string data_dir = config->data_dir();
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  Default(backup->mutable_directory(), data_dir + "-backups");
  Default(config->mutable_keys_dir(), data_dir + "-keys");
  Default(config->mutable_encryption()->mutable_kek_dir(), config->keys_dir() + "/kek");
  Default(config->mutable_encryption()->mutable_data_keys_dir(), config->keys_dir() + "/data-keys");
  if (backup->keep() == 0) backup->set_keep(7);
  if (config->retention().interval_seconds() == 0) {
    config->mutable_retention()->set_interval_seconds(86400);
  }
  Default(config->mutable_metrics()->mutable_listen_address(), "127.0.0.1:9464");
  Default(config->mutable_health()->mutable_listen_address(), "off");
  hub::v1::KeepaliveConfig* keepalive = config->mutable_keepalive();
  if (keepalive->time_seconds() == 0) keepalive->set_time_seconds(60);
  if (keepalive->timeout_seconds() == 0) keepalive->set_timeout_seconds(20);
  if (keepalive->min_client_ping_interval_seconds() == 0) {
    keepalive->set_min_client_ping_interval_seconds(30);
  }
  Default(config->mutable_report()->mutable_evaluation_key_path(),
          config->keys_dir() + "/evaluation.key");
  if (config->report().suppression_threshold() == 0) {
    config->mutable_report()->set_suppression_threshold(5);
  }
  Default(config->mutable_audit()->mutable_checkpoint_origin(), "drive-hub");
  if (config->audit().tree_head_interval_seconds() == 0) {
    config->mutable_audit()->set_tree_head_interval_seconds(3600);
  }
}

absl::Status ValidateHubConfig(const hub::v1::HubConfig& config) {
  const std::string& address = config.listen_address();
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen_address: \"", address, "\" is not host:port (e.g. 127.0.0.1:7443)"));
  }
  const hub::v1::TlsConfig& tls = config.tls();
  for (const auto& [field, path] : std::vector<std::pair<std::string, std::string>>{
           {"tls.ca_cert_path", tls.ca_cert_path()},
           {"tls.server_cert_path", tls.server_cert_path()},
           {"tls.server_key_path", tls.server_key_path()},
           {"sharing_protocol_path", config.sharing_protocol_path()}}) {
    absl::Status readable = Readable(field, path);
    if (!readable.ok()) return readable;
  }
  if (tls.allow_no_crl() && !tls.crl_dir().empty()) {
    return absl::InvalidArgumentError(
        "tls.allow_no_crl: cannot be set together with tls.crl_dir; choose one");
  }
  if (!tls.allow_no_crl() && !std::filesystem::is_directory(tls.crl_dir())) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.crl_dir: ", tls.crl_dir(),
                     " is not a folder; publish a CRL with `deploy/certs.sh crl <ca dir>`"));
  }
  const hub::v1::LimitsConfig& limits = config.limits();
  if (limits.max_event_bytes() > 4 * 1024 * 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_event_bytes: ", limits.max_event_bytes(), " is above the 4 MiB ceiling"));
  }
  if (limits.max_events_per_append() > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.max_events_per_append: ", limits.max_events_per_append(),
                     " is above the ceiling of 10000"));
  }
  if (limits.max_free_text_bytes() > limits.max_event_bytes() ||
      limits.max_text_bytes() > limits.max_free_text_bytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.max_text_bytes (", limits.max_text_bytes(),
                     ") <= limits.max_free_text_bytes (", limits.max_free_text_bytes(),
                     ") <= limits.max_event_bytes (", limits.max_event_bytes(), ") must hold"));
  }
  const hub::v1::KeepaliveConfig& keepalive = config.keepalive();
  for (const auto& [field, seconds] : std::vector<std::pair<std::string, uint32_t>>{
           {"keepalive.time_seconds", keepalive.time_seconds()},
           {"keepalive.timeout_seconds", keepalive.timeout_seconds()},
           {"keepalive.min_client_ping_interval_seconds",
            keepalive.min_client_ping_interval_seconds()}}) {
    if (seconds > 86400) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", seconds, " is above the ceiling of 86400 (a day)"));
    }
  }
  if (limits.max_case_id_bytes() > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limits.max_case_id_bytes: ", limits.max_case_id_bytes(), " is above the ceiling of 256"));
  }
  return absl::OkStatus();
}

absl::StatusOr<hub::v1::HubConfig> LoadHubConfig(const std::string& path,
                                                 const ConfigOverrides& overrides) {
  hub::v1::HubConfig config;
  if (!path.empty()) {
    std::ifstream file(path);
    if (!file) return absl::NotFoundError(absl::StrCat("cannot read the configuration ", path));
    std::stringstream text;
    text << file.rdbuf();
    google::protobuf::TextFormat::Parser parser;
    CollectErrors errors(path);
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(text.str(), &config)) {
      return absl::InvalidArgumentError(absl::StrJoin(errors.errors(), "\n"));
    }
  }
  if (overrides.listen_address.has_value()) config.set_listen_address(*overrides.listen_address);
  if (overrides.data_dir.has_value()) config.set_data_dir(*overrides.data_dir);
  ApplyConfigDefaults(&config);
  absl::Status valid = ValidateHubConfig(config);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.empty() ? "configuration" : path, ": ", valid.message()));
  }
  return config;
}

}  // namespace hub::services
