// Authenticated encryption for data at rest: AES-256-GCM through OpenSSL's
// EVP interface, with a fresh random 96-bit nonce per message. The sealed
// form is nonce || ciphertext || 128-bit tag; the associated data (what the
// bytes are: e.g. a subject id, an event position and field) is
// authenticated but not stored, so sealed bytes moved to another place do
// not open there.
#ifndef HUB_AUTH_AEAD_H_
#define HUB_AUTH_AEAD_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hub::auth {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;
// How many bytes sealing adds to a plaintext.
inline constexpr size_t kAeadOverheadBytes = kAeadNonceBytes + kAeadTagBytes;

// A new random key of kAeadKeyBytes from OpenSSL's CSPRNG.
absl::StatusOr<std::string> NewAeadKey();

// Encrypts and authenticates `plaintext` with `associated_data` under `key`
// (kAeadKeyBytes; INVALID_ARGUMENT otherwise).
absl::StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                                 std::string_view associated_data);

// The plaintext of `sealed`, or DATA_LOSS if it was not sealed under `key`
// with `associated_data` or has been altered (nothing of it is returned).
absl::StatusOr<std::string> Open(std::string_view key, std::string_view sealed,
                                 std::string_view associated_data);

}  // namespace hub::auth

#endif  // HUB_AUTH_AEAD_H_
