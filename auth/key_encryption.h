// Key-encryption keys (KEKs). Personal data at rest is encrypted with data
// keys (one per subject, or per case where no subject applies); the data
// keys are stored only wrapped (encrypted) by a KEK, and the KEKs live
// outside the data folder. Destroying a data key erases what it encrypted
// (crypto-shredding) without rewriting the append-only log; rotating a KEK
// rewraps the data keys, never the log.
//
// KeyEncryptionService is what a hardware security module or a cloud key
// service would implement; KeyFolder keeps the keys in files.
#ifndef HUB_AUTH_KEY_ENCRYPTION_H_
#define HUB_AUTH_KEY_ENCRYPTION_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hub::auth {

// A data key wrapped by a KEK, and which KEK.
struct WrappedKey {
  std::string kek_id;
  // auth::Seal output: nonce, encrypted data key, tag.
  std::string sealed;
};

class KeyEncryptionService {
 public:
  virtual ~KeyEncryptionService() = default;

  // The KEK new wraps use.
  virtual std::string ActiveKeyId() const = 0;
  // Wraps `data_key` under the active KEK, bound to `context` (what the key
  // is for, e.g. "subject S-12 of case C-7"): it unwraps only for the same
  // context, so a wrapped key copied to another subject does not open.
  virtual absl::StatusOr<WrappedKey> Wrap(std::string_view data_key,
                                          std::string_view context) const = 0;
  // The data key, or NOT_FOUND if its KEK is not held (retired or lost),
  // DATA_LOSS if the wrapped key was altered or is for another context.
  virtual absl::StatusOr<std::string> Unwrap(const WrappedKey& wrapped,
                                             std::string_view context) const = 0;
};

// KEKs in a folder outside the data folder: one file per key, `<id>.kek`,
// holding 32 random bytes in base64, mode 0600 or stricter, the folder 0700.
// The greatest id (ids are UTC times, so the newest) wraps; every key held
// unwraps. Rotation: AddKey, rewrap every data key, then remove the old file.
class KeyFolder final : public KeyEncryptionService {
 public:
  // Reads every key in `folder`. FAILED_PRECONDITION (saying what to change)
  // if the folder or a key file is accessible to others or lies inside
  // `data_dir`, or a file is not a key; NOT_FOUND if there is no key.
  static absl::StatusOr<std::unique_ptr<KeyFolder>> Open(const std::string& folder,
                                                         const std::string& data_dir);
  // Writes a new random key into `folder` (created 0700 if missing), named
  // by `now` (e.g. 20261129T214500Z; a suffix keeps two in a second apart),
  // and returns its id.
  static absl::StatusOr<std::string> AddKey(const std::string& folder, absl::Time now);

  ~KeyFolder() override;
  KeyFolder(const KeyFolder&) = delete;
  KeyFolder& operator=(const KeyFolder&) = delete;

  std::string ActiveKeyId() const override;
  absl::StatusOr<WrappedKey> Wrap(std::string_view data_key,
                                  std::string_view context) const override;
  absl::StatusOr<std::string> Unwrap(const WrappedKey& wrapped,
                                     std::string_view context) const override;

 private:
  explicit KeyFolder(std::map<std::string, std::string> keys) : keys_(std::move(keys)) {}
  // KEK id -> key bytes; the last entry is the active key.
  std::map<std::string, std::string> keys_;
};

}  // namespace hub::auth

#endif  // HUB_AUTH_KEY_ENCRYPTION_H_
