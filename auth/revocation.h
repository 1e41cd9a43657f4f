// Certificate revocation: the CRLs an operator publishes with deploy/certs.sh.
//
// gRPC checks CRLs during the handshake only when its CRL directory holds a
// usable one, and silently accepts revoked certificates otherwise; and an
// expired CRL makes OpenSSL refuse every client. So the hub loads the
// directory itself: it refuses to start without a valid CRL from its CA,
// warns ahead of nextUpdate, and checks each caller's certificate against the
// newest CRL on every call, which also applies a new CRL without a restart.
#ifndef HUB_AUTH_REVOCATION_H_
#define HUB_AUTH_REVOCATION_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hub::auth {

class RevocationList {
 public:
  // Loads every CRL (PEM) in `crl_dir` that is signed by the CA certificate
  // at `ca_cert_path`. FAILED_PRECONDITION, saying what to do, when the
  // folder holds none, when a CRL is not signed by the CA, or when the newest
  // one's nextUpdate has passed at `now`.
  static absl::StatusOr<RevocationList> Load(const std::string& crl_dir,
                                             const std::string& ca_cert_path, absl::Time now);

  // Whether the certificate with this serial (upper-case hex) is revoked.
  bool IsRevoked(std::string_view serial_hex) const;

  // The earliest nextUpdate of the loaded CRLs: renew before then.
  absl::Time next_update() const { return next_update_; }
  size_t revoked_count() const { return revoked_serials_.size(); }

 private:
  absl::flat_hash_set<std::string> revoked_serials_;
  absl::Time next_update_ = absl::InfiniteFuture();
};

// The serial number (upper-case hex) of a PEM certificate; INVALID_ARGUMENT
// if it cannot be parsed.
absl::StatusOr<std::string> CertificateSerial(std::string_view pem);

// When a PEM certificate stops being valid (its notAfter); INVALID_ARGUMENT
// if it cannot be parsed.
absl::StatusOr<absl::Time> CertificateNotAfter(std::string_view pem);

}  // namespace hub::auth

#endif  // HUB_AUTH_REVOCATION_H_
