#include "storage/hash_chain.h"

#include <openssl/evp.h>

#include "proto/status_macros.h"

namespace hub::storage {

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest digest;
  unsigned int length = 0;
  // EVP_Digest only fails on allocation failure or a broken OpenSSL; a record
  // without a valid hash must never be written, so that is fatal.
  HUB_CHECK(EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) ==
            1);
  HUB_CHECK(length == digest.size());
  return digest;
}

std::string DigestToHex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (uint8_t byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0x0f]);
  }
  return hex;
}

}  // namespace hub::storage
