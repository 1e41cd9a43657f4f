// Signed checkpoints of the hub's two logs, in the format transparency-log
// tooling reads (c2sp.org/tlog-checkpoint inside a c2sp.org/signed-note):
//
//   <origin>                 e.g. drive-hub/log or drive-hub/audit
//   <size>                   records covered, decimal
//   <base64 root hash>       the event log's chain digest at that size, or
//                            the audit's RFC 6962 Merkle root
//   (blank line)
//   — <key name> <base64(4-byte key id || ECDSA P-256 signature)>
//
// A key rotation adds one extension line after the root hash,
//
//   next-key <base64 DER SubjectPublicKeyInfo of the new key>
//
// and that checkpoint is signed by both the key it retires and the new one:
// the old key vouches for the new, the new proves it is held. Verifiers
// (CheckpointKeyChain) start from the key they first trusted and follow.
//
// The signature is signed-note type 0x02 (ECDSA, SHA-256, DER) by the audit
// key, whose id is the first four bytes of SHA-256 of its DER
// SubjectPublicKeyInfo. Whoever collects checkpoints (the governance group,
// a partner: a witness) can later prove that the logs they are shown extend
// what they saw, which an insider who rewrites the data folder cannot fake
// without the key, held outside it.
#ifndef HUB_AUTH_CHECKPOINT_H_
#define HUB_AUTH_CHECKPOINT_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "auth/tree_head_signer.h"

namespace hub::auth {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  std::array<uint8_t, 32> root{};
  // Set on a key rotation: the PEM public key that signs the checkpoints
  // after this one.
  std::string next_key_pem;
};

// The note text (three lines, or four with a next key, each ending in a
// newline).
absl::StatusOr<std::string> CheckpointText(const Checkpoint& checkpoint);

// The signed note: text, blank line, one signature line by each of
// `signers` (a rotation needs the retiring key's and the next key's).
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const std::vector<const TreeHeadSigner*>& signers,
                                           std::string_view key_name);
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const TreeHeadSigner& signer, std::string_view key_name);

// The checkpoint in `note`, if a signature line by `key_name` with the id of
// `public_key_pem` verifies over its text (lines by other keys are
// ignored, as signed-note verifiers must). INVALID_ARGUMENT for a note that
// does not parse, PERMISSION_DENIED if no signature by the key verifies.
absl::StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, std::string_view public_key_pem,
                                          std::string_view key_name);

// Opens checkpoints in the order the hub published them, following its key
// through rotations: a note must be signed by the key in force; a note that
// announces a next key must also be signed by that key, which is in force
// from the next note on. The retired key is trusted for nothing after its
// rotation, so a stolen old key cannot sign a later checkpoint.
class CheckpointKeyChain {
 public:
  // `first_key_pem`: the key the witness trusted before any of the notes.
  explicit CheckpointKeyChain(std::string first_key_pem);

  // The checkpoint, signed under `key_name` (as OpenCheckpoint) by the key
  // in force. PERMISSION_DENIED names a note signed only by a retired key.
  absl::StatusOr<Checkpoint> Open(std::string_view note, std::string_view key_name);

  const std::string& key_in_force_pem() const { return key_pem_; }
  size_t rotations() const { return retired_.size(); }

 private:
  std::string key_pem_;
  std::vector<std::string> retired_;
};

// The notes of a file that holds several, one after another (blank lines
// between them are allowed).
std::vector<std::string> SplitNotes(std::string_view text);

}  // namespace hub::auth

#endif  // HUB_AUTH_CHECKPOINT_H_
