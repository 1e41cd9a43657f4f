// Authenticates every call before any handler runs: the TLS layer has
// verified the client certificate against the partnership CA; this checks it
// against the newest CRL and maps its spiffe:// identity to a principal of
// the sharing protocol. Unlisted identities get PERMISSION_DENIED naming the
// identity, revoked certificates UNAUTHENTICATED, on every call (health and
// reflection included).
#ifndef HUB_SERVICES_AUTHENTICATOR_H_
#define HUB_SERVICES_AUTHENTICATOR_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/security/auth_metadata_processor.h"

#include "auth/principal_directory.h"
#include "auth/revocation.h"

#include "hub/v1/config.pb.h"

namespace hub::services {

// Keeps the CRLs current: reloads the folder every reload interval, keeps
// the previous list if a new one is unusable, and warns before nextUpdate.
class RevocationWatcher {
 public:
  // Loads the CRLs once; FAILED_PRECONDITION if they are unusable (the hub
  // must not start). With tls.allow_no_crl, nothing is loaded or checked.
  static absl::StatusOr<std::unique_ptr<RevocationWatcher>> Start(const hub::v1::TlsConfig& tls);
  ~RevocationWatcher();

  // Whether the certificate with this serial is revoked by the current CRLs.
  bool IsRevoked(const std::string& serial_hex) const;
  // The loaded CRLs' earliest nextUpdate (InfiniteFuture without CRLs).
  absl::Time NextUpdate() const;

 private:
  explicit RevocationWatcher(const hub::v1::TlsConfig& tls) : tls_(tls) {}
  absl::Status Reload();
  void WatchLoop();

  const hub::v1::TlsConfig tls_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const auth::RevocationList> list_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread watcher_;
};

class Authenticator : public grpc::AuthMetadataProcessor {
 public:
  // The SPIFFE id of the client certificate's URI SAN, as gRPC's TLS sets it.
  static constexpr char kPeerIdentityProperty[] = "peer_spiffe_id";

  Authenticator(std::shared_ptr<const auth::PrincipalDirectory> directory,
                std::shared_ptr<const RevocationWatcher> revocation)
      : directory_(std::move(directory)), revocation_(std::move(revocation)) {}

  // Told of every caller refused after the TLS handshake (identity, why), so
  // that refusals are audited. Must not block. Set before serving.
  using RefusalSink = std::function<void(const std::string&, const std::string&)>;
  void SetRefusalSink(RefusalSink sink) { refusal_sink_ = std::move(sink); }

  // Cheap (hash lookups), so it runs inline on the call's thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // The principal of an already authenticated call (for handlers).
  absl::StatusOr<hub::v1::Principal> PrincipalOf(const grpc::AuthContext& context) const;

  // What admitted a call, kept by long-lived calls (subscriptions) to check
  // again while they run: the admission at the call's start is not enough
  // when a stream outlives its certificate or its place in the protocol.
  struct Credential {
    std::string identity;
    std::string serial;
    absl::Time not_after = absl::InfiniteFuture();
  };
  absl::StatusOr<Credential> CredentialOf(const grpc::AuthContext& context) const;
  // OK while a call admitted on `credential` may go on at `now`; otherwise
  // UNAUTHENTICATED (the certificate has been revoked or has expired) or
  // PERMISSION_DENIED (the identity left the sharing protocol), and the
  // refusal goes to the refusal sink like a refused call.
  absl::Status Recheck(const Credential& credential, absl::Time now) const;

  // The principals in force; replaced when a new sharing protocol applies.
  std::shared_ptr<const auth::PrincipalDirectory> directory() const;
  // When the CRLs in use must be renewed by (InfiniteFuture without CRLs).
  absl::Time CrlNextUpdate() const;
  void ReplaceDirectory(std::shared_ptr<const auth::PrincipalDirectory> directory);

 private:
  absl::StatusOr<std::string> SerialOf(const std::string& pem) const;

  mutable absl::Mutex directory_mu_;
  std::shared_ptr<const auth::PrincipalDirectory> directory_ ABSL_GUARDED_BY(directory_mu_);
  std::shared_ptr<const RevocationWatcher> revocation_;
  RefusalSink refusal_sink_;
  // Certificate PEM -> serial, so a connection's calls parse it once. Bounded.
  mutable absl::Mutex serial_mu_;
  mutable absl::flat_hash_map<std::string, std::string> serial_cache_ ABSL_GUARDED_BY(serial_mu_);
};

}  // namespace hub::services

#endif  // HUB_SERVICES_AUTHENTICATOR_H_
