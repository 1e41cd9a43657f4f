#include "services/tls_policy.h"

#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace hub::services {
namespace {

// The ssl_conf module's "system_default" section, which SSL_CTX_new applies
// to every context. Order matters with ServerPreference: AES-256 first.
constexpr char kPolicy[] =
    "openssl_conf = hub_openssl\n"
    "[hub_openssl]\n"
    "ssl_conf = hub_ssl\n"
    "[hub_ssl]\n"
    "system_default = hub_tls\n"
    "[hub_tls]\n"
    "MinProtocol = TLSv1.2\n"
    "Options = ServerPreference,-SessionTicket,NoRenegotiation\n"
    "CipherString = ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:@STRENGTH\n"
    "Ciphersuites = TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256\n"
    "Groups = P-256:X25519:P-384\n";

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  char text[256] = {};
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace

absl::Status ApplyServerTlsPolicy() {
  static std::once_flag once;
  static absl::Status result;
  std::call_once(once, [] {
    // The system's configuration first, so that ours replaces its
    // system_default rather than being replaced by it when libssl loads it.
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, nullptr) != 1) {
      result = absl::InternalError(absl::StrCat("cannot initialise OpenSSL: ", OpenSslError()));
      return;
    }
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(kPolicy, -1), BIO_free);
    std::unique_ptr<CONF, decltype(&NCONF_free)> conf(NCONF_new(nullptr), NCONF_free);
    long error_line = 0;
    if (bio == nullptr || conf == nullptr ||
        NCONF_load_bio(conf.get(), bio.get(), &error_line) != 1 ||
        CONF_modules_load(conf.get(), nullptr, 0) <= 0) {
      result =
          absl::InternalError(absl::StrCat("cannot put the TLS policy in force: ", OpenSslError()));
    }
  });
  return result;
}

}  // namespace hub::services
