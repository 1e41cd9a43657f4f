// Keyed pseudonyms for the evaluators' extract (UK GDPR Art 89, DPA 2018
// s19): HMAC-SHA-256 of an id under an evaluation key kept outside the
// data folder, so that the same case or person has the same pseudonym in
// every extract made with the key, and nobody without the key (evaluators
// included) can go back from a pseudonym to the hub's id by trying ids.
#ifndef HUB_AUTH_PSEUDONYMS_H_
#define HUB_AUTH_PSEUDONYMS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hub::auth {

class Pseudonymiser {
 public:
  // The key in `path` (64 hex digits), made with 256 random bits if there
  // is none yet; refused if it lies inside `data_dir` or others may read
  // it (auth/key_files.h).
  static absl::StatusOr<std::unique_ptr<Pseudonymiser>> LoadOrCreate(const std::string& path,
                                                                     const std::string& data_dir);
  // For tests: a key given directly (any length).
  explicit Pseudonymiser(std::string key) : key_(std::move(key)) {}

  // `kind` (e.g. "case", "person") and the id's keyed hash: "case-" then
  // 24 hex digits (96 bits). Kinds are hashed apart, so a case and a
  // person with the same id get unrelated pseudonyms.
  std::string Of(std::string_view kind, std::string_view id) const;
  // Names the key without revealing it: extracts with the same key id
  // have linkable pseudonyms.
  std::string key_id() const;

 private:
  std::string key_;
};

}  // namespace hub::auth

#endif  // HUB_AUTH_PSEUDONYMS_H_
