// The hub's audit key: signs tree heads of the audit log (size, root hash,
// time) so that the governance group can later prove, offline and with the
// exported public key alone, that a record was in the log or that a later
// log extends an earlier one. ECDSA P-256 with SHA-256, through OpenSSL.
#ifndef HUB_AUTH_TREE_HEAD_SIGNER_H_
#define HUB_AUTH_TREE_HEAD_SIGNER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hub::auth {

struct TreeHead {
  uint64_t tree_size = 0;
  std::array<uint8_t, 32> root_hash{};
  int64_t timestamp_ms = 0;  // milliseconds since the Unix epoch
};

// The bytes a tree head signature covers, in the manner of RFC 6962's
// TreeHeadSignature: version 0, signature type 1 (tree hash), timestamp,
// tree size (big-endian 64-bit each), root hash.
std::string TreeHeadSignedBytes(const TreeHead& head);

class TreeHeadSigner {
 public:
  // Loads the private key at `key_path` (PEM), or creates one there (mode
  // 0600) with its public key next to it as `<key_path>.pub`, for the
  // governance group. FAILED_PRECONDITION if the file exists but is not an
  // ECDSA P-256 key, or the folder cannot be written.
  static absl::StatusOr<std::unique_ptr<TreeHeadSigner>> LoadOrCreate(const std::string& key_path);
  ~TreeHeadSigner();
  TreeHeadSigner(const TreeHeadSigner&) = delete;
  TreeHeadSigner& operator=(const TreeHeadSigner&) = delete;

  // A DER-encoded ECDSA signature of TreeHeadSignedBytes(head).
  absl::StatusOr<std::string> Sign(const TreeHead& head) const;
  // A DER-encoded ECDSA (SHA-256) signature of `message`, e.g. a checkpoint.
  absl::StatusOr<std::string> SignMessage(std::string_view message) const;

  // The public key, PEM (SubjectPublicKeyInfo).
  const std::string& public_key_pem() const { return public_key_pem_; }

 private:
  explicit TreeHeadSigner(void* key) : key_(key) {}
  void* key_;  // EVP_PKEY*, kept out of the header
  std::string public_key_pem_;
};

// Checks `signature` over `head` with a PEM public key; false on any
// mismatch or malformed input. Needs nothing from the hub.
bool VerifyTreeHead(std::string_view public_key_pem, const TreeHead& head,
                    std::string_view signature);
// The same for any message signed with SignMessage.
bool VerifyMessage(std::string_view public_key_pem, std::string_view message,
                   std::string_view signature);
// The public key's DER SubjectPublicKeyInfo.
absl::StatusOr<std::string> PublicKeyDer(std::string_view public_key_pem);
// The PEM of a DER SubjectPublicKeyInfo of an ECDSA P-256 key;
// INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> PublicKeyPemFromDer(std::string_view der);

}  // namespace hub::auth

#endif  // HUB_AUTH_TREE_HEAD_SIGNER_H_
