#include "auth/data_keys.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include "auth/aead.h"
#include "auth/key_files.h"
#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

constexpr char kIndexSecretFile[] = "index.secret";
constexpr char kKeySuffix[] = ".key";
constexpr char kErasureSuffix[] = ".erased";

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A wrap is bound to the key's id: a key file copied under another name
// does not open.
std::string WrapContext(const std::string& key_id) { return absl::StrCat("data key ", key_id); }

absl::Status SyncFolder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", folder));
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return absl::UnavailableError(absl::StrCat("cannot sync ", folder));
  return absl::OkStatus();
}

std::string OneLine(std::string_view text) {
  return absl::StrReplaceAll(AsAbsl(text), {{"\n", " "}, {"\r", " "}});
}

struct ClosesDir {
  void operator()(DIR* dir) const { closedir(dir); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<DataKeyStore>> DataKeyStore::Open(
    const std::string& folder, const std::string& data_dir,
    std::shared_ptr<const KeyEncryptionService> keks) {
  if (absl::Status ensured = EnsureSecretKeyFolder(folder, data_dir); !ensured.ok()) {
    return ensured;
  }
  const std::string secret_path = absl::StrCat(folder, "/", kIndexSecretFile);
  std::unique_ptr<DIR, ClosesDir> listing(opendir(folder.c_str()));
  if (listing == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("cannot list ", folder));
  }
  std::vector<std::string> key_ids;
  std::vector<std::string> erased;
  while (const dirent* entry = readdir(listing.get())) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, kErasureSuffix)) {
      erased.push_back(name.substr(0, name.size() - (sizeof(kErasureSuffix) - 1)));
    } else if (absl::EndsWith(name, kKeySuffix)) {
      key_ids.push_back(name);
    }
  }
  if (ReadSmallFile(secret_path) == std::nullopt) {
    // A new secret would name every key differently: the keys held would
    // never be found again, and the data they seal would be lost unseen.
    if (!key_ids.empty() || !erased.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          folder, " holds data keys but no ", kIndexSecretFile,
          ", without which none of them can be found; restore it from the keys folder's backup"));
    }
    absl::StatusOr<std::string> secret = NewAeadKey();
    if (!secret.ok()) return secret.status();
    std::string encoded = absl::StrCat(absl::Base64Escape(*secret), "\n");
    OPENSSL_cleanse(secret->data(), secret->size());
    const absl::Status written = WriteNewKeyFile(secret_path, encoded, 0400);
    OPENSSL_cleanse(encoded.data(), encoded.size());
    if (!written.ok() && !absl::IsAlreadyExists(written)) return written;
  }
  if (absl::Status checked = CheckSecretKeyFile(secret_path, data_dir); !checked.ok()) {
    return checked;
  }
  std::optional<std::string> encoded = ReadSmallFile(secret_path);
  std::string secret;
  if (!encoded.has_value() ||
      !absl::Base64Unescape(absl::StripAsciiWhitespace(*encoded), &secret) ||
      secret.size() != kAeadKeyBytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(secret_path, " is not the data key store's index secret (32 bytes, base64)"));
  }
  auto store =
      std::unique_ptr<DataKeyStore>(new DataKeyStore(folder, std::move(keks), std::move(secret)));
  // An erasure interrupted between its record and the key's removal is
  // finished now.
  for (const std::string& key_id : erased) {
    if (::unlink(store->KeyPath(key_id).c_str()) == 0) {
      if (absl::Status synced = SyncFolder(folder); !synced.ok()) return synced;
    }
  }
  return store;
}

DataKeyStore::~DataKeyStore() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, key] : cache_) OPENSSL_cleanse(key.data(), key.size());
}

DataKeyStore::DataKeyStore(std::string folder, std::shared_ptr<const KeyEncryptionService> keks,
                           std::string index_secret)
    : folder_(std::move(folder)), keks_(std::move(keks)), index_secret_(std::move(index_secret)) {
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac == nullptr) return;
  keyed_index_mac_.reset(EVP_MAC_CTX_new(hmac));
  EVP_MAC_free(hmac);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
  if (keyed_index_mac_ != nullptr &&
      EVP_MAC_init(keyed_index_mac_.get(),
                   reinterpret_cast<const unsigned char*>(index_secret_.data()),
                   index_secret_.size(), params) != 1) {
    keyed_index_mac_.reset();
  }
}

void DataKeyStore::MacContextFree::operator()(EVP_MAC_CTX* context) const {
  EVP_MAC_CTX_free(context);
}

std::string DataKeyStore::KeyId(std::string_view scope, std::string_view name) const {
  const std::string message = absl::StrCat(AsAbsl(scope), "\n", AsAbsl(name));
  {
    absl::MutexLock lock(&ids_mu_);
    if (const auto found = ids_.find(message); found != ids_.end()) return found->second;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  size_t length = 0;
  std::unique_ptr<EVP_MAC_CTX, MacContextFree> mac(
      keyed_index_mac_ != nullptr ? EVP_MAC_CTX_dup(keyed_index_mac_.get()) : nullptr);
  const bool hashed =
      mac != nullptr &&
      EVP_MAC_update(mac.get(), reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) == 1 &&
      EVP_MAC_final(mac.get(), digest, &length, sizeof(digest)) == 1;
  if (!hashed) {
    // Only if OpenSSL cannot copy a context (out of memory): the one-shot
    // form gives the same id.
    unsigned int one_shot_length = 0;
    HMAC(EVP_sha256(), index_secret_.data(), static_cast<int>(index_secret_.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
         &one_shot_length);
    length = one_shot_length;
  }
  std::string id = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), std::min<size_t>(length, 16)));
  absl::MutexLock lock(&ids_mu_);
  if (ids_.size() >= kRememberedIds) ids_.clear();
  ids_.emplace(message, id);
  return id;
}

std::string DataKeyStore::KeyPath(const std::string& key_id) const {
  return absl::StrCat(folder_, "/", key_id, kKeySuffix);
}

std::string DataKeyStore::ErasurePath(const std::string& key_id) const {
  return absl::StrCat(folder_, "/", key_id, kErasureSuffix);
}

absl::StatusOr<std::string> DataKeyStore::Load(const std::string& key_id) const {
  std::optional<std::string> text = ReadSmallFile(KeyPath(key_id));
  if (!text.has_value()) {
    return absl::NotFoundError(absl::StrCat("no data key ", key_id));
  }
  const std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  WrappedKey wrapped;
  if (lines.size() != 2 || !absl::Base64Unescape(lines[1], &wrapped.sealed)) {
    return absl::DataLossError(absl::StrCat("data key file ", KeyPath(key_id), " is damaged"));
  }
  wrapped.kek_id = lines[0];
  return keks_->Unwrap(wrapped, WrapContext(key_id));
}

absl::StatusOr<std::string> DataKeyStore::GetOrCreate(const std::string& key_id) {
  absl::MutexLock lock(&mu_);
  if (const auto found = cache_.find(key_id); found != cache_.end()) return found->second;
  if (ReadSmallFile(ErasurePath(key_id)).has_value()) {
    return absl::FailedPreconditionError(
        "the data key of this subject or case was erased; nothing more is recorded under it");
  }
  absl::StatusOr<std::string> key = Load(key_id);
  if (absl::IsNotFound(key.status())) {
    absl::StatusOr<std::string> made = NewAeadKey();
    if (!made.ok()) return made.status();
    absl::StatusOr<WrappedKey> wrapped = keks_->Wrap(*made, WrapContext(key_id));
    if (!wrapped.ok()) return wrapped.status();
    const absl::Status written = WriteNewKeyFile(
        KeyPath(key_id),
        absl::StrCat(wrapped->kek_id, "\n", absl::Base64Escape(wrapped->sealed), "\n"), 0400);
    if (!written.ok()) return written;
    key = std::move(made);
  }
  if (!key.ok()) return key.status();
  cache_[key_id] = *key;
  return key;
}

absl::StatusOr<std::string> DataKeyStore::Get(const std::string& key_id) const {
  absl::MutexLock lock(&mu_);
  if (const auto found = cache_.find(key_id); found != cache_.end()) return found->second;
  if (ReadSmallFile(ErasurePath(key_id)).has_value()) {
    return absl::NotFoundError(absl::StrCat("data key ", key_id, " was erased"));
  }
  absl::StatusOr<std::string> key = Load(key_id);
  if (key.ok()) cache_[key_id] = *key;
  return key;
}

absl::Status DataKeyStore::Erase(const std::string& key_id, const Erasure& why) {
  absl::MutexLock lock(&mu_);
  // The record first: a crash before the key's removal is finished by Open.
  const absl::Status recorded =
      WriteNewKeyFile(ErasurePath(key_id),
                      absl::StrCat("erased_at ", absl::ToUnixSeconds(why.erased_at), "\nrule ",
                                   OneLine(why.rule), "\nreference ", OneLine(why.reference), "\n"),
                      0400);
  if (!recorded.ok() && !absl::IsAlreadyExists(recorded)) return recorded;
  if (::unlink(KeyPath(key_id).c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(
        absl::StrCat("cannot remove data key ", KeyPath(key_id), ": ", std::strerror(errno)));
  }
  if (absl::Status synced = SyncFolder(folder_); !synced.ok()) return synced;
  if (auto found = cache_.find(key_id); found != cache_.end()) {
    OPENSSL_cleanse(found->second.data(), found->second.size());
    cache_.erase(found);
  }
  return absl::OkStatus();
}

std::optional<Erasure> DataKeyStore::Erased(const std::string& key_id) const {
  std::optional<std::string> text = ReadSmallFile(ErasurePath(key_id));
  if (!text.has_value()) return std::nullopt;
  Erasure erasure;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> field =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    int64_t seconds = 0;
    if (field.first == "erased_at" && absl::SimpleAtoi(field.second, &seconds)) {
      erasure.erased_at = absl::FromUnixSeconds(seconds);
    } else if (field.first == "rule") {
      erasure.rule = std::string(field.second);
    } else if (field.first == "reference") {
      erasure.reference = std::string(field.second);
    }
  }
  return erasure;
}

absl::StatusOr<size_t> DataKeyStore::Rewrap() {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<DIR, ClosesDir> listing(opendir(folder_.c_str()));
  if (listing == nullptr) return absl::UnavailableError(absl::StrCat("cannot list ", folder_));
  std::vector<std::string> key_ids;
  while (const dirent* entry = readdir(listing.get())) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, kKeySuffix)) {
      key_ids.push_back(name.substr(0, name.size() - (sizeof(kKeySuffix) - 1)));
    }
  }
  size_t rewrapped = 0;
  for (const std::string& key_id : key_ids) {
    std::optional<std::string> text = ReadSmallFile(KeyPath(key_id));
    if (!text.has_value() || absl::StartsWith(*text, keks_->ActiveKeyId() + "\n")) continue;
    absl::StatusOr<std::string> key = Load(key_id);
    if (!key.ok()) return key.status();
    absl::StatusOr<WrappedKey> wrapped = keks_->Wrap(*key, WrapContext(key_id));
    OPENSSL_cleanse(key->data(), key->size());
    if (!wrapped.ok()) return wrapped.status();
    const std::string next = KeyPath(key_id) + ".next";
    ::unlink(next.c_str());  // a rewrap interrupted before
    if (absl::Status written = WriteNewKeyFile(
            next, absl::StrCat(wrapped->kek_id, "\n", absl::Base64Escape(wrapped->sealed), "\n"),
            0400);
        !written.ok()) {
      return written;
    }
    if (std::rename(next.c_str(), KeyPath(key_id).c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot replace ", KeyPath(key_id)));
    }
    ++rewrapped;
  }
  if (absl::Status synced = SyncFolder(folder_); !synced.ok()) return synced;
  return rewrapped;
}

}  // namespace hub::auth
