#include "storage/hash_chain.h"

#include <memory>

#include <openssl/evp.h>

#include "proto/status_macros.h"

namespace hub::storage {

namespace {

// OpenSSL 3 looks an algorithm up in its provider tables on every implicit
// use (EVP_sha256()); fetched once, hashing a record costs half as much.
const EVP_MD* FetchedSha256() {
  static const EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return kSha256;
}

struct ContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  // One context per thread, reused: every log record read or written is hashed.
  thread_local const std::unique_ptr<EVP_MD_CTX, ContextDeleter> context(EVP_MD_CTX_new());
  Sha256Digest digest;
  unsigned int length = 0;
  // These only fail on allocation failure or a broken OpenSSL; a record
  // without a valid hash must never be written, so that is fatal.
  HUB_CHECK(FetchedSha256() != nullptr && context != nullptr);
  HUB_CHECK(EVP_DigestInit_ex2(context.get(), FetchedSha256(), nullptr) == 1);
  HUB_CHECK(EVP_DigestUpdate(context.get(), data.data(), data.size()) == 1);
  HUB_CHECK(EVP_DigestFinal_ex(context.get(), digest.data(), &length) == 1);
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
