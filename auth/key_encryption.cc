#include "auth/key_encryption.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <openssl/crypto.h>

#include "auth/aead.h"
#include "auth/key_files.h"
#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

constexpr char kSuffix[] = ".kek";

struct ClosesDir {
  void operator()(DIR* dir) const { closedir(dir); }
};

// What a wrap is bound to: the KEK's id and the data key's context, so that
// neither can be swapped.
std::string AssociatedData(std::string_view kek_id, std::string_view context) {
  return absl::StrCat("hub data key\n", AsAbsl(kek_id), "\n", AsAbsl(context));
}

absl::StatusOr<std::string> ReadKey(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) return absl::FailedPreconditionError(absl::StrCat("cannot read key file ", path));
  std::string encoded = text.str();
  std::string key;
  const bool decoded = absl::Base64Unescape(absl::StripAsciiWhitespace(encoded), &key);
  OPENSSL_cleanse(encoded.data(), encoded.size());
  if (!decoded || key.size() != kAeadKeyBytes) {
    OPENSSL_cleanse(key.data(), key.size());
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a key-encryption key (32 bytes in base64, as `hubctl keys add` writes)"));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyFolder>> KeyFolder::Open(const std::string& folder,
                                                           const std::string& data_dir) {
  if (absl::Status checked = CheckSecretKeyFolder(folder, data_dir); !checked.ok()) return checked;
  std::unique_ptr<DIR, ClosesDir> listing(opendir(folder.c_str()));
  if (listing == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot list key folder ", folder, ": ", std::strerror(errno)));
  }
  std::map<std::string, std::string> keys;
  absl::Status failed;
  while (const dirent* entry = readdir(listing.get())) {
    const std::string name = entry->d_name;
    if (!absl::EndsWith(name, kSuffix)) continue;
    const std::string path = absl::StrCat(folder, "/", name);
    failed = CheckSecretKeyFile(path, data_dir);
    if (!failed.ok()) break;
    absl::StatusOr<std::string> key = ReadKey(path);
    if (!key.ok()) {
      failed = key.status();
      break;
    }
    keys.emplace(name.substr(0, name.size() - (sizeof(kSuffix) - 1)), *std::move(key));
  }
  if (failed.ok() && keys.empty()) {
    failed = absl::NotFoundError(absl::StrCat("key folder ", folder,
                                              " holds no key (*.kek); create one with "
                                              "`hubctl keys add`"));
  }
  if (!failed.ok()) {
    for (auto& [id, key] : keys) OPENSSL_cleanse(key.data(), key.size());
    return failed;
  }
  return std::unique_ptr<KeyFolder>(new KeyFolder(std::move(keys)));
}

absl::StatusOr<std::string> KeyFolder::AddKey(const std::string& folder, absl::Time now) {
  if (mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create key folder ", folder, ": ", std::strerror(errno)));
  }
  const std::string stamp = absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
  absl::StatusOr<std::string> key = NewAeadKey();
  if (!key.ok()) return key.status();
  std::string encoded = absl::StrCat(absl::Base64Escape(*key), "\n");
  OPENSSL_cleanse(key->data(), key->size());
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string id = attempt == 0 ? stamp : absl::StrCat(stamp, "-", attempt);
    const absl::Status written =
        WriteNewKeyFile(absl::StrCat(folder, "/", id, kSuffix), encoded, 0400);
    if (absl::IsAlreadyExists(written)) continue;
    OPENSSL_cleanse(encoded.data(), encoded.size());
    if (!written.ok()) return written;
    return id;
  }
  OPENSSL_cleanse(encoded.data(), encoded.size());
  return absl::FailedPreconditionError(
      absl::StrCat("key folder ", folder, " already holds 100 keys made in this second"));
}

KeyFolder::~KeyFolder() {
  for (auto& [id, key] : keys_) OPENSSL_cleanse(key.data(), key.size());
}

std::string KeyFolder::ActiveKeyId() const { return keys_.rbegin()->first; }

absl::StatusOr<WrappedKey> KeyFolder::Wrap(std::string_view data_key,
                                           std::string_view context) const {
  const auto& [id, kek] = *keys_.rbegin();
  absl::StatusOr<std::string> sealed = Seal(kek, data_key, AssociatedData(id, context));
  if (!sealed.ok()) return sealed.status();
  return WrappedKey{id, *std::move(sealed)};
}

absl::StatusOr<std::string> KeyFolder::Unwrap(const WrappedKey& wrapped,
                                              std::string_view context) const {
  const auto found = keys_.find(wrapped.kek_id);
  if (found == keys_.end()) {
    return absl::NotFoundError(absl::StrCat("key-encryption key ", wrapped.kek_id,
                                            " is not in the key folder (retired or lost)"));
  }
  return auth::Open(found->second, wrapped.sealed, AssociatedData(wrapped.kek_id, context));
}

}  // namespace hub::auth
