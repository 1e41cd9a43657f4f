#include "auth/aead.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace hub::auth {
namespace {

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree>;

const unsigned char* Bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

absl::Status CheckKey(std::string_view key) {
  if (key.size() != kAeadKeyBytes) {
    return absl::InvalidArgumentError("an AES-256-GCM key is 32 bytes");
  }
  return absl::OkStatus();
}

bool FitsInt(size_t size) { return size <= static_cast<size_t>(std::numeric_limits<int>::max()); }

// Fetched once: OpenSSL 3 looks an algorithm up in its provider tables on
// every implicit use (EVP_aes_256_gcm() at each init), which cost more than
// encrypting a field.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

// One context per thread, reset (its key schedule wiped) after each
// message: the key schedule is per message anyway, the allocation need not be.
EVP_CIPHER_CTX* ThreadCipherContext() {
  thread_local CipherContext context(EVP_CIPHER_CTX_new());
  return context.get();
}

// Nonces drawn from the CSPRNG a page at a time per thread: RAND_bytes per
// 12-byte nonce spent more in OpenSSL's DRBG bookkeeping than in AES. The
// bytes are the same generator's output, each used once. A forked child
// would inherit its parent's unused bytes and repeat the parent's next
// nonces, so a fork empties the pools (as OpenSSL reseeds its own).
std::atomic<uint64_t> nonce_pools_generation{0};

void EmptyNoncePoolsAfterFork() { nonce_pools_generation.fetch_add(1); }

bool NextNonce(unsigned char* nonce) {
  static const bool registered = pthread_atfork(nullptr, nullptr, EmptyNoncePoolsAfterFork) == 0;
  constexpr size_t kPoolBytes = 4096 - 4096 % kAeadNonceBytes;
  thread_local unsigned char pool[kPoolBytes];
  thread_local size_t used = kPoolBytes;
  thread_local uint64_t generation = 0;
  const uint64_t current = nonce_pools_generation.load();
  if (!registered) return RAND_bytes(nonce, static_cast<int>(kAeadNonceBytes)) == 1;
  if (used == kPoolBytes || generation != current) {
    if (RAND_bytes(pool, static_cast<int>(kPoolBytes)) != 1) return false;
    used = 0;
    generation = current;
  }
  std::copy(pool + used, pool + used + kAeadNonceBytes, nonce);
  OPENSSL_cleanse(pool + used, kAeadNonceBytes);
  used += kAeadNonceBytes;
  return true;
}

}  // namespace

absl::StatusOr<std::string> NewAeadKey() {
  std::string key(kAeadKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("OpenSSL's random generator failed");
  }
  return key;
}

absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view associated_data) {
  if (absl::Status valid = CheckKey(key); !valid.ok()) return valid;
  if (!FitsInt(plaintext.size()) || !FitsInt(associated_data.size())) {
    return absl::InvalidArgumentError("too large to seal in one message");
  }
  std::string sealed(kAeadNonceBytes + plaintext.size() + kAeadTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  if (!NextNonce(out)) return absl::InternalError("OpenSSL's random generator failed");
  EVP_CIPHER_CTX* context = ThreadCipherContext();
  int length = 0;
  int final_length = 0;
  const bool sealed_ok =
      context != nullptr && Aes256Gcm() != nullptr &&
      EVP_EncryptInit_ex(context, Aes256Gcm(), nullptr, Bytes(key), out) == 1 &&
      EVP_EncryptUpdate(context, nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_EncryptUpdate(context, out + kAeadNonceBytes, &length, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(context, out + kAeadNonceBytes + length, &final_length) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, kAeadTagBytes,
                          out + kAeadNonceBytes + plaintext.size()) == 1;
  if (context != nullptr) EVP_CIPHER_CTX_reset(context);
  if (!sealed_ok) return absl::InternalError("AES-256-GCM encryption failed in OpenSSL");
  return sealed;
}

absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view associated_data) {
  if (absl::Status valid = CheckKey(key); !valid.ok()) return valid;
  if (sealed.size() < kAeadOverheadBytes || !FitsInt(sealed.size()) ||
      !FitsInt(associated_data.size())) {
    return absl::DataLossError("sealed data is too short to be AES-256-GCM output");
  }
  const size_t text_size = sealed.size() - kAeadOverheadBytes;
  std::string plaintext(text_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  const unsigned char* nonce = Bytes(sealed);
  const unsigned char* ciphertext = nonce + kAeadNonceBytes;
  // EVP_CIPHER_CTX_ctrl takes a non-const tag it only reads.
  unsigned char tag[kAeadTagBytes];
  std::copy(ciphertext + text_size, ciphertext + text_size + kAeadTagBytes, tag);
  EVP_CIPHER_CTX* context = ThreadCipherContext();
  int length = 0;
  int final_length = 0;
  const bool opened =
      context != nullptr && Aes256Gcm() != nullptr &&
      EVP_DecryptInit_ex(context, Aes256Gcm(), nullptr, Bytes(key), nonce) == 1 &&
      EVP_DecryptUpdate(context, nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(context, out, &length, ciphertext, static_cast<int>(text_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(context, out + length, &final_length) == 1;
  if (context != nullptr) EVP_CIPHER_CTX_reset(context);
  if (!opened) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::DataLossError(
        "sealed data does not authenticate: altered, or sealed under another key or for another "
        "place");
  }
  return plaintext;
}

}  // namespace hub::auth
