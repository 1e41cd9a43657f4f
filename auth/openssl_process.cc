#include "auth/openssl_process.h"

#include <openssl/crypto.h>

namespace hub::auth {

void KeepOpenSslUntilExit() { OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr); }

}  // namespace hub::auth
