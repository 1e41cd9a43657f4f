#include "auth/pseudonyms.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/key_files.h"
#include "proto/absl_compat.h"
#include "proto/status_macros.h"

namespace hub::auth {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kPseudonymBytes = 12;

std::string Hmac(const std::string& key, const std::string& message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Pseudonymiser>> Pseudonymiser::LoadOrCreate(
    const std::string& path, const std::string& data_dir) {
  absl::Status checked = CheckSecretKeyFile(path, data_dir);
  if (absl::IsNotFound(checked)) {
    unsigned char key[kKeyBytes];
    if (RAND_bytes(key, sizeof(key)) != 1) {
      return absl::InternalError("the random generator failed making the evaluation key");
    }
    const std::string hex =
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(key), sizeof(key)));
    absl::Status written = WriteNewKeyFile(path, absl::StrCat(hex, "\n"));
    // Another caller may have made it first: use theirs.
    if (!written.ok() && !absl::IsAlreadyExists(written)) return written;
    checked = CheckSecretKeyFile(path, data_dir);
    // Made where it must not be (inside the data folder): not left there.
    if (!checked.ok() && written.ok()) std::remove(path.c_str());
  }
  HUB_RETURN_IF_ERROR(checked);
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string hex = text.str();
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
  if (hex.size() != 2 * kKeyBytes ||
      hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::FailedPreconditionError(
        absl::StrCat("the evaluation key ", path,
                     " is not 64 lower-case hex digits; restore it from its "
                     "backup (a new key gives every case and person new pseudonyms)"));
  }
  return std::make_unique<Pseudonymiser>(absl::HexStringToBytes(hex));
}

std::string Pseudonymiser::Of(std::string_view kind, std::string_view id) const {
  const std::string digest = Hmac(key_, absl::StrCat(AsAbsl(kind), ":", AsAbsl(id)));
  return absl::StrCat(AsAbsl(kind), "-",
                      absl::BytesToHexString(absl::string_view(digest.data(), kPseudonymBytes)));
}

std::string Pseudonymiser::key_id() const {
  const std::string digest = Hmac(key_, "hub evaluation key id");
  return absl::BytesToHexString(absl::string_view(digest.data(), 8));
}

}  // namespace hub::auth
