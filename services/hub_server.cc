#include "services/hub_server.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

#include "auth/data_keys.h"
#include "auth/field_sealing.h"
#include "auth/key_encryption.h"
#include "auth/key_files.h"
#include "auth/sharing_protocol.h"
#include "proto/status_macros.h"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/authenticator.h"
#include "services/backups.h"
#include "services/event_service.h"
#include "services/health.h"
#include "services/identity_service.h"
#include "services/metrics.h"
#include "services/policy_service.h"
#include "services/protocol_records.h"
#include "services/recording_gate.h"
#include "services/refusal_auditor.h"
#include "services/report_service.h"
#include "services/retention.h"
#include "services/server_log.h"
#include "services/subscriptions.h"
#include "services/timeline_service.h"
#include "services/tls_policy.h"
#include "services/tree_head_publisher.h"
#include "services/views.h"
#include "storage/event_log.h"

namespace hub::services {
namespace {

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Releases up to 0.1 kept the audit signing key in <data_dir>/audit, where
// every backup copied it. Moves it to the keys folder (once, durably) and
// says that the copies in earlier backups expose it.
absl::Status MoveAuditKeyOutOfTheDataFolder(const std::string& old_path,
                                            const std::string& new_path) {
  const std::optional<std::string> old_key = ReadWholeFile(old_path);
  if (!old_key.has_value()) return absl::OkStatus();
  if (const std::optional<std::string> new_key = ReadWholeFile(new_path); new_key.has_value()) {
    if (*new_key != *old_key) {
      return absl::FailedPreconditionError(
          absl::StrCat("two audit keys: ", old_path, " (in the data folder) and ", new_path,
                       "; keep the one the governance group holds the public key of in ", new_path,
                       " and delete the other"));
    }
  } else {
    HUB_RETURN_IF_ERROR(auth::WriteNewKeyFile(new_path, *old_key));
    if (const std::optional<std::string> public_key = ReadWholeFile(old_path + ".pub")) {
      std::ofstream(new_path + ".pub") << *public_key;
    }
  }
  std::error_code ignored;
  std::filesystem::remove(old_path, ignored);
  std::filesystem::remove(old_path + ".pub", ignored);
  LogWarning(
      "moved the audit signing key out of the data folder; backups taken before hold a copy of "
      "it, so keep them as safe as the key (docs/OPERATIONS.md)",
      {{"from", old_path}, {"to", new_path}});
  return absl::OkStatus();
}

// What sealing adds to an event at most: per sealed class a key id, the
// class, a nonce and a tag, and the framing.
constexpr uint32_t kSealingAllowanceBytes = 4096;
// What RocksDB may hold in memory for the log and the views together
// (cached blocks and memtables), and the memtables' share of it.
constexpr size_t kStorageMemoryBytes = 160 << 20;
constexpr size_t kStorageMemtableBytes = 64 << 20;

// The key-encryption keys (the first made if there is none: a development
// hub, or the first start of a new one) and the data keys they wrap.
absl::StatusOr<std::unique_ptr<auth::DataKeyStore>> OpenDataKeys(const hub::v1::HubConfig& config) {
  const std::string& kek_dir = config.encryption().kek_dir();
  HUB_RETURN_IF_ERROR(auth::EnsureSecretKeyFolder(kek_dir, config.data_dir()));
  absl::StatusOr<std::unique_ptr<auth::KeyFolder>> keks =
      auth::KeyFolder::Open(kek_dir, config.data_dir());
  if (absl::IsNotFound(keks.status())) {
    HUB_ASSIGN_OR_RETURN(std::string made, auth::KeyFolder::AddKey(kek_dir, absl::Now()));
    LogInfo(
        "created the first key-encryption key; back up the keys folder apart from the data "
        "(docs/OPERATIONS.md)",
        {{"kek_dir", kek_dir}, {"kek_id", made}});
    keks = auth::KeyFolder::Open(kek_dir, config.data_dir());
  }
  if (!keks.ok()) return keks.status();
  return auth::DataKeyStore::Open(config.encryption().data_keys_dir(), config.data_dir(),
                                  std::shared_ptr<const auth::KeyFolder>(*std::move(keks)));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const hub::v1::TlsConfig& tls) {
  HUB_RETURN_IF_ERROR(ApplyServerTlsPolicy());
  // The provider re-reads the key, certificate and CA files when they change,
  // so certificates are replaced without a restart.
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.server_key_path(), tls.server_cert_path(), tls.ca_cert_path(),
      tls.reload_interval_seconds());
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!tls.crl_dir().empty()) options.set_crl_directory(tls.crl_dir());
  return grpc::experimental::TlsServerCredentials(options);
}

// Keeps the reflection plugin (which registers itself in every server when
// its library loads) out of a server being built.
class WithoutReflection : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
                                    return plugin->name() == "proto_server_reflection";
                                  }),
                   plugins->end());
  }
};

// On the health-only port, every method but grpc.health.v1's (registered,
// so it takes precedence) is refused with a status saying what the port is
// for. gRPC also needs some method of its own on a server to build it.
class HealthOnlyRefusals : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    // A reactor owns itself until gRPC calls OnDone, as gRPC's callback API
    // has it.
    class Refusal : public grpc::ServerGenericBidiReactor {
     public:
      Refusal() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "this port answers grpc.health.v1.Health only; the hub's API is on "
                            "its mutual-TLS port"));
      }
      void OnDone() override { delete this; }
    };
    return new Refusal();
  }
};

class GrpcHubServer final : public HubServer {
 public:
  ~GrpcHubServer() override { Shutdown(0); }

  absl::Status Init(const hub::v1::HubConfig& config) {
    storage::EventLogOptions log_options;
    // The configured limit is on what a publisher sends (checked before
    // sealing); sealed personal fields carry key ids and tags on top.
    log_options.limits.max_event_bytes = config.limits().max_event_bytes() + kSealingAllowanceBytes;
    log_options.limits.max_events_per_append = config.limits().max_events_per_append();
    log_options.limits.max_case_id_bytes = config.limits().max_case_id_bytes();
    log_options.min_free_bytes = config.limits().min_free_disk_bytes();
    // The log and the views share one block cache with their memtables
    // charged to it: 160 MiB where each kept 128 MiB of its own (hubd's
    // resident memory must stay within 512 MiB at a million events).
    const std::shared_ptr<storage::StorageMemory> storage_memory =
        storage::StorageMemory::Create(kStorageMemoryBytes, kStorageMemtableBytes);
    log_options.memory = storage_memory;
    HUB_ASSIGN_OR_RETURN(event_log_,
                         storage::EventLog::Open(config.data_dir() + "/events", log_options));

    HUB_ASSIGN_OR_RETURN(hub::v1::SharingProtocol protocol, ProtocolInForce(config));
    HUB_ASSIGN_OR_RETURN(std::unique_ptr<RevocationWatcher> revocation,
                         RevocationWatcher::Start(config.tls()));
    authenticator_ = std::make_shared<Authenticator>(
        std::make_shared<auth::PrincipalDirectory>(protocol), std::move(revocation));
    refusals_ = std::make_unique<RefusalAuditor>(event_log_.get(), /*max_pending=*/1024);
    authenticator_->SetRefusalSink(
        [refusals = refusals_.get()](const std::string& identity, const std::string& reason) {
          refusals->Record(identity, reason);
        });
    // Whoever holds the data folder or a backup must not hold the keys that
    // open it, nor the audit's signing key.
    HUB_RETURN_IF_ERROR(auth::EnsureSecretKeyFolder(config.keys_dir(), config.data_dir()));
    HUB_ASSIGN_OR_RETURN(data_keys_, OpenDataKeys(config));
    sealer_ = std::make_unique<auth::FieldSealer>(data_keys_.get());
    HUB_ASSIGN_OR_RETURN(views_, Views::Open(event_log_.get(), config.data_dir() + "/views",
                                             sealer_.get(), storage_memory));
    HUB_ASSIGN_OR_RETURN(metrics_, Metrics::Start(config.metrics().listen_address()));
    recording_gate_ = std::make_unique<RecordingGate>(
        event_log_.get(), std::make_shared<const auth::RecordingPolicy>(protocol), sealer_.get());
    policy_service_ =
        std::make_unique<PolicyService>(authenticator_, event_log_.get(), views_.get(),
                                        recording_gate_.get(), &health_, metrics_.get());
    const std::string audit_key = config.keys_dir() + "/audit-key.pem";
    HUB_RETURN_IF_ERROR(
        MoveAuditKeyOutOfTheDataFolder(config.data_dir() + "/audit/audit-key.pem", audit_key));
    if (std::filesystem::exists(audit_key)) {
      HUB_RETURN_IF_ERROR(auth::CheckSecretKeyFile(audit_key, config.data_dir()));
    }
    std::error_code unused;
    std::filesystem::create_directories(config.data_dir() + "/audit", unused);
    const std::string next_audit_key = config.keys_dir() + "/audit-key.next.pem";
    if (std::filesystem::exists(next_audit_key)) {
      HUB_RETURN_IF_ERROR(auth::CheckSecretKeyFile(next_audit_key, config.data_dir()));
      HUB_RETURN_IF_ERROR(CompleteAuditKeyRotation(*event_log_, audit_key, next_audit_key,
                                                   config.audit().checkpoint_origin(),
                                                   config.data_dir() + "/audit/checkpoints.txt",
                                                   config.data_dir() + "/audit/key-rotations.txt"));
    }
    HUB_ASSIGN_OR_RETURN(std::unique_ptr<auth::TreeHeadSigner> created_signer,
                         auth::TreeHeadSigner::LoadOrCreate(audit_key));
    std::shared_ptr<const auth::TreeHeadSigner> signer = std::move(created_signer);
    audit_service_ = std::make_unique<AuditService>(
        authenticator_, event_log_.get(), signer, metrics_.get(),
        config.audit().checkpoint_origin(), config.data_dir() + "/audit/key-rotations.txt");
    // The signed heads the governance group collects (no secret in them).
    tree_heads_ = std::make_unique<TreeHeadPublisher>(
        event_log_.get(), signer, config.data_dir() + "/audit/tree-heads.txt",
        config.data_dir() + "/audit/checkpoints.txt", config.audit().checkpoint_origin(),
        std::chrono::seconds(config.audit().tree_head_interval_seconds()));

    identity_service_ = std::make_unique<IdentityService>(authenticator_, metrics_.get());
    subscriptions_ = std::make_unique<SubscriptionHub>(
        [views = views_.get()](uint64_t after, std::chrono::milliseconds timeout) {
          return views->WaitProjected(after + 1, timeout);
        },
        config.limits().max_subscriptions(), config.limits().max_subscriptions_per_principal());
    metrics_->SetStateSource([this] {
      HubState state;
      state.log_last_position = event_log_->LastPosition();
      state.views_projected = views_->Projected();
      state.audit_size = event_log_->AuditSize();
      state.last_signed_head_ms = tree_heads_ != nullptr ? tree_heads_->last_published_ms() : 0;
      state.crl_next_update = authenticator_->CrlNextUpdate();
      if (subscriptions_ != nullptr) {
        const SubscriptionHub::Lag lag = subscriptions_->MeasureLag(state.log_last_position);
        state.subscribers = lag.subscribers;
        state.max_subscriber_lag = lag.max_lag;
      }
      return state;
    });
    if (!metrics_->address().empty()) {
      LogInfo("metrics served", {{"address", metrics_->address()}});
    }
    event_service_ = std::make_unique<EventService>(authenticator_, event_log_.get(), views_.get(),
                                                    recording_gate_.get(), subscriptions_.get(),
                                                    config.limits(), metrics_.get(), sealer_.get());
    timeline_service_ = std::make_unique<TimelineService>(authenticator_, event_log_.get(),
                                                          views_.get(), metrics_.get());
    HUB_ASSIGN_OR_RETURN(std::unique_ptr<auth::Pseudonymiser> pseudonyms,
                         auth::Pseudonymiser::LoadOrCreate(config.report().evaluation_key_path(),
                                                           config.data_dir()));
    report_service_ = std::make_unique<ReportService>(
        authenticator_, event_log_.get(), views_.get(), signer, config.audit().checkpoint_origin(),
        config.report(), metrics_.get(), std::move(pseudonyms));
    backups_ = std::make_unique<Backups>(event_log_.get(), config.data_dir(), config.backup());
    auto take_restrictions = [policy = policy_service_.get()](const std::string& why,
                                                              uint64_t restrictions_before) {
      return policy->TakeRestrictions(why, restrictions_before);
    };
    auto forget_erased = [policy = policy_service_.get()](const std::string& why,
                                                          const std::set<std::string>& key_ids,
                                                          uint64_t erasures_before) {
      return policy->ForgetErased(why, key_ids, erasures_before);
    };
    retention_ = std::make_unique<Retention>(event_log_.get(), data_keys_.get(), sealer_.get(),
                                             forget_erased);
    retention_->StartSchedule(absl::Seconds(config.retention().interval_seconds()));
    admin_service_ = std::make_unique<AdminService>(
        authenticator_, event_log_.get(), backups_.get(), metrics_.get(), data_keys_.get(),
        take_restrictions, forget_erased, retention_.get(),
        config.retention().allow_simulated_clock(), sealer_.get());

    grpc::EnableDefaultHealthCheckService(true);
    HUB_RETURN_IF_ERROR(StartHealthServer(config.health()));
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    HUB_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                         ServerCredentials(config.tls()));
    credentials->SetAuthMetadataProcessor(authenticator_);
    int port = 0;
    builder.AddListeningPort(config.listen_address(), credentials, &port);
    builder.RegisterService(identity_service_.get());
    builder.RegisterService(event_service_.get());
    builder.RegisterService(policy_service_.get());
    builder.RegisterService(audit_service_.get());
    builder.RegisterService(timeline_service_.get());
    builder.RegisterService(admin_service_.get());
    builder.RegisterService(report_service_.get());
    // Long-lived subscriptions cross NAT and firewalls that forget idle
    // flows: the hub pings, and lets clients ping within reason, even
    // while no call is active.
    const hub::v1::KeepaliveConfig& keepalive = config.keepalive();
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                               static_cast<int>(keepalive.time_seconds() * 1000));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                               static_cast<int>(keepalive.timeout_seconds() * 1000));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(
        GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
        static_cast<int>(keepalive.min_client_ping_interval_seconds() * 1000));
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // A message holds at most one append: its events plus envelope overhead.
    builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<uint64_t>(
        config.limits().max_event_bytes() * uint64_t{config.limits().max_events_per_append()} +
            (1 << 20),
        uint64_t{1} << 30)));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen_address(),
                                                 " (in use, or not an address of this machine?)"));
    }
    const std::string& configured = config.listen_address();
    address_ = absl::StrCat(configured.substr(0, configured.rfind(':')), ":", port);
    // Listening already, so that health checks see NOT_SERVING while the
    // views are built (a large log takes a while); calls that need the
    // views get UNAVAILABLE until then.
    health_.Attach(server_->GetHealthCheckService());
    LogInfo("hubd listening; not serving until the views are built", {{"address", address_}});
    HUB_RETURN_IF_ERROR(views_->Start(protocol));
    health_.Set(Health::Reason::kStarting, false);
    backups_->StartSchedule();
    return absl::OkStatus();
  }

  std::string address() const override { return address_; }

  // The protocol recorded in the log is in force; the configured file only
  // seeds an empty log. A file that differs from the recorded protocol is
  // reported, not applied: changes go through PolicyService.ApplyProtocol so
  // that they are validated, recorded and never silently reverted.
  absl::StatusOr<hub::v1::SharingProtocol> ProtocolInForce(const hub::v1::HubConfig& config) {
    std::ifstream file(config.sharing_protocol_path());
    if (!file) {
      return absl::NotFoundError(
          absl::StrCat("cannot read the sharing protocol ", config.sharing_protocol_path()));
    }
    std::stringstream text;
    text << file.rdbuf();
    HUB_ASSIGN_OR_RETURN(auth::LoadedProtocol configured,
                         auth::ParseSharingProtocol(text.str(), config.sharing_protocol_path()));
    for (const std::string& warning : configured.warnings) LogWarning(warning, {});
    HUB_ASSIGN_OR_RETURN(std::optional<RecordedProtocol> recorded,
                         LatestRecordedProtocol(*event_log_));
    if (!recorded.has_value()) {
      HUB_ASSIGN_OR_RETURN(uint64_t position,
                           RecordProtocol(event_log_.get(), configured.protocol, text.str(), "", 0,
                                          "hubd (from " + config.sharing_protocol_path() + ")"));
      LogInfo("sharing protocol recorded",
              {{"version", configured.protocol.version()}, {"position", std::to_string(position)}});
      return configured.protocol;
    }
    if (recorded->digest != ProtocolDigest(configured.protocol)) {
      LogWarning(
          "the configured protocol file differs from the protocol in force; apply it with "
          "`hubctl protocol apply` to change the protocol",
          {{"file", config.sharing_protocol_path()},
           {"file_version", configured.protocol.version()},
           {"in_force_version", recorded->protocol.version()},
           {"recorded_at", std::to_string(recorded->position)}});
    }
    return recorded->protocol;
  }

  void Shutdown(int grace_ms) override {
    absl::MutexLock lock(&shutdown_mu_);
    health_.Set(Health::Reason::kDraining, true);
    // The metrics read the members below; stop serving them first.
    metrics_.reset();
    if (server_ != nullptr) {
      // Subscriptions never end by themselves: end them, telling clients to
      // come back; in-flight publishes finish and are acknowledged.
      if (subscriptions_ != nullptr) {
        subscriptions_->Shutdown(absl::UnavailableError(
            "the hub is shutting down; resubscribe with after_position = the last position "
            "received"));
      }
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
      // The health service goes with the server.
      health_.Detach(server_->GetHealthCheckService());
      server_.reset();
    }
    if (health_server_ != nullptr) {
      health_server_->Shutdown(std::chrono::system_clock::now());
      health_.Detach(health_server_->GetHealthCheckService());
      health_server_.reset();
    }
    subscriptions_.reset();
    if (backups_ != nullptr) backups_->Stop();
    if (refusals_ != nullptr) refusals_->Stop();
    // A last signed head covers everything recorded up to the shutdown.
    if (tree_heads_ != nullptr) {
      absl::Status published = tree_heads_->PublishIfGrown();
      if (!published.ok()) LogError("no final tree head", {{"error", published.ToString()}});
      tree_heads_.reset();
    }
    if (report_service_ != nullptr) report_service_->Stop();
    if (views_ != nullptr) views_->Stop();
    if (event_log_ != nullptr) event_log_->Close();
  }

 private:
  // The plain-text server that answers health checks only (config.health),
  // so that probes need no client certificate. It reports what the main
  // server's health reports.
  absl::Status StartHealthServer(const hub::v1::HealthConfig& config) {
    if (config.listen_address() == "off") return absl::OkStatus();
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(config.listen_address(), grpc::InsecureServerCredentials(), &port);
    // Only the default health service: no other service is registered, and
    // no reflection.
    builder.SetOption(std::make_unique<WithoutReflection>());
    builder.RegisterCallbackGenericService(&health_only_refusals_);
    health_server_ = builder.BuildAndStart();
    if (health_server_ == nullptr || port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot serve health on ", config.listen_address(),
                                                 " (health.listen_address)"));
    }
    health_.Attach(health_server_->GetHealthCheckService());
    const std::string& configured = config.listen_address();
    LogInfo("health served",
            {{"address", absl::StrCat(configured.substr(0, configured.rfind(':')), ":", port)}});
    return absl::OkStatus();
  }

  absl::Mutex shutdown_mu_;
  Health health_;
  std::shared_ptr<Authenticator> authenticator_;
  std::unique_ptr<storage::EventLog> event_log_;
  std::unique_ptr<auth::DataKeyStore> data_keys_;
  std::unique_ptr<auth::FieldSealer> sealer_;
  std::unique_ptr<Views> views_;
  std::unique_ptr<RecordingGate> recording_gate_;
  std::unique_ptr<RefusalAuditor> refusals_;
  std::unique_ptr<TreeHeadPublisher> tree_heads_;
  std::unique_ptr<IdentityService> identity_service_;
  std::unique_ptr<SubscriptionHub> subscriptions_;
  std::unique_ptr<EventService> event_service_;
  std::unique_ptr<PolicyService> policy_service_;
  std::unique_ptr<AuditService> audit_service_;
  std::unique_ptr<TimelineService> timeline_service_;
  std::unique_ptr<Backups> backups_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<ReportService> report_service_;
  std::unique_ptr<grpc::Server> server_;
  HealthOnlyRefusals health_only_refusals_;
  std::unique_ptr<grpc::Server> health_server_;
  std::string address_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HubServer>> HubServer::Start(const hub::v1::HubConfig& config) {
  auto server = std::make_unique<GrpcHubServer>();
  HUB_RETURN_IF_ERROR(server->Init(config));
  return server;
}

}  // namespace hub::services
