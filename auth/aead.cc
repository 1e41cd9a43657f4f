#include "auth/aead.h"

#include <algorithm>
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
  if (RAND_bytes(out, kAeadNonceBytes) != 1) {
    return absl::InternalError("OpenSSL's random generator failed");
  }
  CipherContext context(EVP_CIPHER_CTX_new());
  int length = 0;
  int final_length = 0;
  const bool sealed_ok =
      context != nullptr &&
      EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), out) == 1 &&
      EVP_EncryptUpdate(context.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_EncryptUpdate(context.get(), out + kAeadNonceBytes, &length, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(context.get(), out + kAeadNonceBytes + length, &final_length) == 1 &&
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagBytes,
                          out + kAeadNonceBytes + plaintext.size()) == 1;
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
  CipherContext context(EVP_CIPHER_CTX_new());
  int length = 0;
  int final_length = 0;
  const bool opened =
      context != nullptr &&
      EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), nonce) == 1 &&
      EVP_DecryptUpdate(context.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(context.get(), out, &length, ciphertext, static_cast<int>(text_size)) ==
          1 &&
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(context.get(), out + length, &final_length) == 1;
  if (!opened) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::DataLossError(
        "sealed data does not authenticate: altered, or sealed under another key or for another "
        "place");
  }
  return plaintext;
}

}  // namespace hub::auth
