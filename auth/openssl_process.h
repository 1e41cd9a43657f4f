// How a hub program holds OpenSSL for its whole life.
#ifndef HUB_AUTH_OPENSSL_PROCESS_H_
#define HUB_AUTH_OPENSSL_PROCESS_H_

namespace hub::auth {

// OpenSSL frees each thread's state when the thread ends, and the rest from
// an atexit handler. gRPC's threads outlive that handler: once it has run,
// the state of threads still running was left unowned (LeakSanitizer reported
// it in CI, now and then, as a leak of OpenSSL's per-thread error state). A
// process that is exiting needs no cleanup, so the handler is not installed.
// Call first thing in main, before any thread uses OpenSSL.
void KeepOpenSslUntilExit();

}  // namespace hub::auth

#endif  // HUB_AUTH_OPENSSL_PROCESS_H_
