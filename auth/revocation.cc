#include "auth/revocation.h"

#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

struct OpenSslFree {
  void operator()(X509* x) const { X509_free(x); }
  void operator()(X509_CRL* x) const { X509_CRL_free(x); }
  void operator()(BIO* x) const { BIO_free(x); }
  void operator()(EVP_PKEY* x) const { EVP_PKEY_free(x); }
  void operator()(BIGNUM* x) const { BN_free(x); }
  void operator()(char* x) const { OPENSSL_free(x); }
};
template <typename T>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree>;

std::string SerialHex(const ASN1_INTEGER* serial) {
  OpenSslPtr<BIGNUM> number(ASN1_INTEGER_to_BN(serial, nullptr));
  if (number == nullptr) return "";
  OpenSslPtr<char> hex(BN_bn2hex(number.get()));
  return hex == nullptr ? "" : std::string(hex.get());
}

absl::Time ToTime(const ASN1_TIME* time) {
  struct tm parsed = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parsed) != 1) return absl::InfinitePast();
  return absl::FromTM(parsed, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<RevocationList> RevocationList::Load(const std::string& crl_dir,
                                                    const std::string& ca_cert_path,
                                                    absl::Time now) {
  OpenSslPtr<BIO> ca_file(BIO_new_file(ca_cert_path.c_str(), "r"));
  OpenSslPtr<X509> ca(
      ca_file == nullptr ? nullptr : PEM_read_bio_X509(ca_file.get(), nullptr, nullptr, nullptr));
  if (ca == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the CA certificate ", ca_cert_path));
  }
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());

  std::error_code error;
  std::filesystem::directory_iterator entries(crl_dir, error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the CRL folder ", crl_dir, " (", error.message(),
        "); publish a CRL with `deploy/certs.sh crl <ca dir>` or set tls.allow_no_crl"));
  }
  RevocationList list;
  int loaded = 0;
  absl::Time newest_next_update = absl::InfinitePast();
  for (const auto& entry : entries) {
    if (!entry.is_regular_file() || entry.path().extension() != ".pem") continue;
    OpenSslPtr<BIO> file(BIO_new_file(entry.path().c_str(), "r"));
    OpenSslPtr<X509_CRL> crl(
        file == nullptr ? nullptr : PEM_read_bio_X509_CRL(file.get(), nullptr, nullptr, nullptr));
    if (crl == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(entry.path().string(), " is not a PEM CRL"));
    }
    if (X509_CRL_verify(crl.get(), ca_key) != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat(entry.path().string(), " is not signed by the CA in ", ca_cert_path));
    }
    const absl::Time next_update = ToTime(X509_CRL_get0_nextUpdate(crl.get()));
    list.next_update_ = std::min(list.next_update_, next_update);
    newest_next_update = std::max(newest_next_update, next_update);
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
    for (int i = 0; revoked != nullptr && i < sk_X509_REVOKED_num(revoked); ++i) {
      list.revoked_serials_.insert(
          SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
    }
    ++loaded;
  }
  if (loaded == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the CRL folder ", crl_dir,
        " holds no CRL (*.pem) from the CA; without one, revoked "
        "certificates would be accepted. Publish one with `deploy/certs.sh crl <ca dir>`"));
  }
  if (newest_next_update <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "every CRL in ", crl_dir, " has expired (nextUpdate ",
        absl::FormatTime(newest_next_update, absl::UTCTimeZone()),
        "); TLS would refuse every client. Publish a fresh one with `deploy/certs.sh crl`"));
  }
  return list;
}

bool RevocationList::IsRevoked(std::string_view serial_hex) const {
  return revoked_serials_.contains(AsAbsl(serial_hex));
}

absl::StatusOr<std::string> CertificateSerial(std::string_view pem) {
  OpenSslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  OpenSslPtr<X509> certificate(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (certificate == nullptr) {
    return absl::InvalidArgumentError("the peer certificate could not be parsed");
  }
  return SerialHex(X509_get0_serialNumber(certificate.get()));
}

absl::StatusOr<absl::Time> CertificateNotAfter(std::string_view pem) {
  OpenSslPtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  OpenSslPtr<X509> certificate(
      bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  std::tm not_after{};
  if (certificate == nullptr ||
      ASN1_TIME_to_tm(X509_get0_notAfter(certificate.get()), &not_after) != 1) {
    return absl::InvalidArgumentError("the peer certificate could not be parsed");
  }
  return absl::FromTM(not_after, absl::UTCTimeZone());
}

}  // namespace hub::auth
