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
};

// The note text (three lines, each ending in a newline).
std::string CheckpointText(const Checkpoint& checkpoint);

// The signed note: text, blank line, one signature line by `signer`.
absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const TreeHeadSigner& signer, std::string_view key_name);

// The checkpoint in `note`, if a signature line by `key_name` with the id of
// `public_key_pem` verifies over its text (lines by other keys are
// ignored, as signed-note verifiers must). INVALID_ARGUMENT for a note that
// does not parse, PERMISSION_DENIED if no signature by the key verifies.
absl::StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, std::string_view public_key_pem,
                                          std::string_view key_name);

// The notes of a file that holds several, one after another (blank lines
// between them are allowed).
std::vector<std::string> SplitNotes(std::string_view text);

}  // namespace hub::auth

#endif  // HUB_AUTH_CHECKPOINT_H_
