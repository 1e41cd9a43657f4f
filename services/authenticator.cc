#include "services/authenticator.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "proto/error_details.h"
#include "proto/thread_name.h"
#include "services/grpc_status.h"
#include "services/server_log.h"

namespace hub::services {
namespace {

constexpr size_t kMaxCachedSerials = 1024;

std::string FirstProperty(const grpc::AuthContext& context, const char* name) {
  const std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<RevocationWatcher>> RevocationWatcher::Start(
    const hub::v1::TlsConfig& tls) {
  std::unique_ptr<RevocationWatcher> watcher(new RevocationWatcher(tls));
  if (tls.allow_no_crl()) {
    LogWarning("revocation checking is off (tls.allow_no_crl): revoked certificates are accepted",
               {});
    return watcher;
  }
  absl::Status loaded = watcher->Reload();
  if (!loaded.ok()) return loaded;
  watcher->watcher_ = std::thread([w = watcher.get()] {
    NameThisThread("cert-watch");
    w->WatchLoop();
  });
  return watcher;
}

RevocationWatcher::~RevocationWatcher() {
  stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

absl::Status RevocationWatcher::Reload() {
  const absl::Time now = absl::Now();
  absl::StatusOr<auth::RevocationList> list =
      auth::RevocationList::Load(tls_.crl_dir(), tls_.ca_cert_path(), now);
  if (!list.ok()) return list.status();
  const absl::Duration left = list->next_update() - now;
  if (left < absl::Hours(24) * tls_.crl_warning_days()) {
    LogWarning(
        "a CRL expires soon: publish a fresh one with deploy/certs.sh crl, or every "
        "client will be refused",
        {{"crl_dir", tls_.crl_dir()},
         {"next_update", absl::FormatTime(list->next_update(), absl::UTCTimeZone())}});
  }
  absl::MutexLock lock(&mu_);
  list_ = std::make_shared<const auth::RevocationList>(*std::move(list));
  return absl::OkStatus();
}

void RevocationWatcher::WatchLoop() {
  const absl::Duration interval = absl::Seconds(tls_.reload_interval_seconds());
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    absl::Status reloaded = Reload();
    if (!reloaded.ok()) {
      LogError("cannot reload the CRLs; the previous ones stay in force",
               {{"error", reloaded.ToString()}});
    }
  }
}

bool RevocationWatcher::IsRevoked(const std::string& serial_hex) const {
  std::shared_ptr<const auth::RevocationList> list;
  {
    absl::MutexLock lock(&mu_);
    list = list_;
  }
  return list != nullptr && list->IsRevoked(serial_hex);
}

absl::StatusOr<std::string> Authenticator::SerialOf(const std::string& pem) const {
  {
    absl::MutexLock lock(&serial_mu_);
    if (auto it = serial_cache_.find(pem); it != serial_cache_.end()) return it->second;
  }
  absl::StatusOr<std::string> serial = auth::CertificateSerial(pem);
  if (!serial.ok()) return serial;
  absl::MutexLock lock(&serial_mu_);
  if (serial_cache_.size() >= kMaxCachedSerials) serial_cache_.clear();
  serial_cache_[pem] = *serial;
  return serial;
}

grpc::Status Authenticator::Process(const InputMetadata&, grpc::AuthContext* context,
                                    OutputMetadata*, OutputMetadata*) {
  if (context == nullptr || !context->IsPeerAuthenticated()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "a client certificate issued by the partnership CA is required");
  }
  const std::string pem = FirstProperty(*context, "x509_pem_cert");
  absl::StatusOr<std::string> serial = SerialOf(pem);
  if (!serial.ok())
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unreadable certificate");
  const std::string identity = FirstProperty(*context, kPeerIdentityProperty);
  if (revocation_ != nullptr && revocation_->IsRevoked(*serial)) {
    const std::string reason = absl::StrCat("the client certificate (serial ", *serial,
                                            ") has been revoked by the partnership CA");
    if (refusal_sink_) refusal_sink_(identity, reason);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, reason);
  }
  absl::StatusOr<hub::v1::Principal> principal = directory()->Find(identity);
  if (!principal.ok()) {
    LogWarning("call refused: unknown identity", {{"identity", identity}});
    if (refusal_sink_) refusal_sink_(identity, std::string(principal.status().message()));
    return ToGrpcStatus(principal.status());
  }
  // Nothing is added to the context: it belongs to the connection and is
  // shared by every call on it, so writing to it per call would race with
  // the calls reading it (and grow without bound). Handlers look the
  // principal up again from the certificate's identity (PrincipalOf).
  return grpc::Status::OK;
}

absl::StatusOr<hub::v1::Principal> Authenticator::PrincipalOf(
    const grpc::AuthContext& context) const {
  // Process() has admitted the call: a peer certificate from the CA, not
  // revoked, naming a principal. The identity is the certificate's (set at
  // the handshake and never changed afterwards).
  if (!context.IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("the call was not authenticated");
  }
  const std::string identity = FirstProperty(context, kPeerIdentityProperty);
  if (identity.empty()) return absl::UnauthenticatedError("the call was not authenticated");
  return directory()->Find(identity);
}

absl::StatusOr<Authenticator::Credential> Authenticator::CredentialOf(
    const grpc::AuthContext& context) const {
  if (!context.IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("the call was not authenticated");
  }
  const std::string pem = FirstProperty(context, "x509_pem_cert");
  Credential credential;
  credential.identity = FirstProperty(context, kPeerIdentityProperty);
  absl::StatusOr<std::string> serial = SerialOf(pem);
  absl::StatusOr<absl::Time> not_after = auth::CertificateNotAfter(pem);
  if (!serial.ok() || !not_after.ok()) return absl::UnauthenticatedError("unreadable certificate");
  credential.serial = *std::move(serial);
  credential.not_after = *not_after;
  return credential;
}

absl::Status Authenticator::Recheck(const Credential& credential, absl::Time now) const {
  absl::Status refused;
  if (revocation_ != nullptr && revocation_->IsRevoked(credential.serial)) {
    refused = WithErrorInfo(absl::UnauthenticatedError(absl::StrCat(
                                "the client certificate (serial ", credential.serial,
                                ") has been revoked by the partnership CA; the call has ended")),
                            "CERTIFICATE_REVOKED", {{"serial", credential.serial}});
  } else if (now >= credential.not_after) {
    refused = WithErrorInfo(
        absl::UnauthenticatedError(absl::StrCat(
            "the client certificate expired at ",
            absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", credential.not_after, absl::UTCTimeZone()),
            "; the call has ended (reconnect with a renewed certificate)")),
        "CERTIFICATE_EXPIRED", {{"serial", credential.serial}});
  } else if (absl::StatusOr<hub::v1::Principal> principal = directory()->Find(credential.identity);
             !principal.ok()) {
    refused =
        WithErrorInfo(absl::PermissionDeniedError(absl::StrCat(
                          credential.identity,
                          " is no longer a principal of the sharing protocol in force; the call "
                          "has ended")),
                      "NOT_A_PRINCIPAL", {{"principal", credential.identity}});
  }
  if (!refused.ok() && refusal_sink_) {
    refusal_sink_(credential.identity, std::string(refused.message()));
  }
  return refused;
}

absl::Time RevocationWatcher::NextUpdate() const {
  absl::MutexLock lock(&mu_);
  return list_ != nullptr ? list_->next_update() : absl::InfiniteFuture();
}

absl::Time Authenticator::CrlNextUpdate() const {
  return revocation_ != nullptr ? revocation_->NextUpdate() : absl::InfiniteFuture();
}

std::shared_ptr<const auth::PrincipalDirectory> Authenticator::directory() const {
  absl::MutexLock lock(&directory_mu_);
  return directory_;
}

void Authenticator::ReplaceDirectory(std::shared_ptr<const auth::PrincipalDirectory> directory) {
  absl::MutexLock lock(&directory_mu_);
  directory_ = std::move(directory);
}

}  // namespace hub::services
