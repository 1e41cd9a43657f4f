// Data keys: one per subject (or per case where no subject applies), the
// keys personal data is encrypted with at rest. Each is stored only wrapped
// by a key-encryption key (auth/key_encryption.h), one file per key, in a
// folder outside the data folder, so that no backup of the data holds one.
// Erasing a data key deletes its file: whatever it encrypted, in the log,
// the views and every backup, can no longer be read (crypto-shredding),
// while the log stays append-only and its proofs intact.
//
// Key file names are key ids: a keyed hash (HMAC-SHA-256 under the folder's
// own index secret) of what the key is for, so that the folder does not
// list subject ids, which are personal data too.
//
// Thread safety: all methods may be called concurrently.
#ifndef HUB_AUTH_DATA_KEYS_H_
#define HUB_AUTH_DATA_KEYS_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include <openssl/types.h>

#include "auth/key_encryption.h"

namespace hub::auth {

// Why and when a data key was destroyed: kept (with no key material) so
// that reads can say that a field was erased, when and under which rule.
struct Erasure {
  absl::Time erased_at;
  // The retention rule, or "request".
  std::string rule;
  // The request's reference or the rule's reason, for the record.
  std::string reference;
};

class DataKeyStore {
 public:
  // Opens (creating if need be, 0700) the store in `folder`, which must lie
  // outside `data_dir`, with its data keys wrapped by `keks`.
  static absl::StatusOr<std::unique_ptr<DataKeyStore>> Open(
      const std::string& folder, const std::string& data_dir,
      std::shared_ptr<const KeyEncryptionService> keks);
  ~DataKeyStore();
  DataKeyStore(const DataKeyStore&) = delete;
  DataKeyStore& operator=(const DataKeyStore&) = delete;

  // The id of the key for `scope` ("subject", "case") and `name` (a subject
  // or case id): 32 hex characters that reveal neither.
  std::string KeyId(std::string_view scope, std::string_view name) const;

  // The data key `key_id`, made (and stored durably) if it does not exist.
  // FAILED_PRECONDITION if it was erased: nothing more is encrypted under
  // an erased subject's key (a new key would let content of the same
  // subject be read again after its erasure).
  absl::StatusOr<std::string> GetOrCreate(const std::string& key_id);
  // The data key, NOT_FOUND if it never existed or was erased (Erased()
  // says which), DATA_LOSS if its file was altered.
  absl::StatusOr<std::string> Get(const std::string& key_id) const;

  // Destroys the key for good and records why. Idempotent (the first
  // erasure's record stays).
  absl::Status Erase(const std::string& key_id, const Erasure& why);
  std::optional<Erasure> Erased(const std::string& key_id) const;

  // Wraps every data key again under the active KEK (after a KEK was
  // added), so that the old KEK can be removed; returns how many.
  absl::StatusOr<size_t> Rewrap();

 private:
  DataKeyStore(std::string folder, std::shared_ptr<const KeyEncryptionService> keks,
               std::string index_secret);
  std::string KeyPath(const std::string& key_id) const;
  std::string ErasurePath(const std::string& key_id) const;
  absl::StatusOr<std::string> Load(const std::string& key_id) const;

  const std::string folder_;
  const std::shared_ptr<const KeyEncryptionService> keks_;
  const std::string index_secret_;
  struct MacContextFree {
    void operator()(EVP_MAC_CTX* context) const;
  };
  // HMAC-SHA-256 keyed with the index secret once; each KeyId copies it
  // (one-shot HMAC() looked the digest up and keyed it anew every call, on
  // every publish's path).
  std::unique_ptr<EVP_MAC_CTX, MacContextFree> keyed_index_mac_;
  // Ids already computed (a publish names the same few keys as the last
  // one); cleared, not evicted piecemeal, when it reaches kRememberedIds.
  static constexpr size_t kRememberedIds = 1 << 16;
  mutable absl::Mutex ids_mu_;
  mutable absl::flat_hash_map<std::string, std::string> ids_ ABSL_GUARDED_BY(ids_mu_);
  mutable absl::Mutex mu_;
  // Unwrapped keys in use (wiped when erased or on destruction).
  mutable std::map<std::string, std::string> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hub::auth

#endif  // HUB_AUTH_DATA_KEYS_H_
