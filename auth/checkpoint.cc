#include "auth/checkpoint.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include <openssl/sha.h>

#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

// "— " (U+2014 EM DASH, space) begins every signature line.
constexpr absl::string_view kSignaturePrefix = "\xe2\x80\x94 ";

absl::StatusOr<std::string> KeyId(std::string_view public_key_pem) {
  absl::StatusOr<std::string> der = PublicKeyDer(public_key_pem);
  if (!der.ok()) return der.status();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der->data()), der->size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), 4);
}

}  // namespace

std::string CheckpointText(const Checkpoint& checkpoint) {
  return absl::StrCat(
      checkpoint.origin, "\n", checkpoint.size, "\n",
      absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(checkpoint.root.data()),
                                           checkpoint.root.size())),
      "\n");
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const TreeHeadSigner& signer,
                                           std::string_view key_name) {
  const std::string text = CheckpointText(checkpoint);
  absl::StatusOr<std::string> signature = signer.SignMessage(text);
  if (!signature.ok()) return signature.status();
  absl::StatusOr<std::string> key_id = KeyId(signer.public_key_pem());
  if (!key_id.ok()) return key_id.status();
  // Signed-note type 0x02 (ECDSA): the key id is the hash of the key alone.
  return absl::StrCat(text, "\n", kSignaturePrefix, AsAbsl(key_name), " ",
                      absl::Base64Escape(*key_id + *signature), "\n");
}

absl::StatusOr<Checkpoint> OpenCheckpoint(std::string_view std_note,
                                          std::string_view public_key_pem,
                                          std::string_view std_key_name) {
  const absl::string_view note = AsAbsl(std_note);
  const absl::string_view key_name = AsAbsl(std_key_name);
  const size_t split = note.find("\n\n");
  if (split == std::string_view::npos) {
    return absl::InvalidArgumentError("not a signed note: no blank line before the signatures");
  }
  const absl::string_view text = note.substr(0, split + 1);
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  // Three lines and the empty string after the final newline; extension
  // lines (none written here) would come before it.
  if (lines.size() < 4) {
    return absl::InvalidArgumentError("a checkpoint has an origin, a size and a root hash");
  }
  Checkpoint checkpoint;
  checkpoint.origin = std::string(lines[0]);
  std::string root;
  if (checkpoint.origin.empty() || !absl::SimpleAtoi(lines[1], &checkpoint.size) ||
      !absl::Base64Unescape(lines[2], &root) || root.size() != checkpoint.root.size()) {
    return absl::InvalidArgumentError(
        "a checkpoint's lines are an origin, a decimal size and a base64 SHA-256 root hash");
  }
  std::copy(root.begin(), root.end(), checkpoint.root.begin());

  absl::StatusOr<std::string> key_id = KeyId(public_key_pem);
  if (!key_id.ok()) return key_id.status();
  bool signed_by_key = false;
  for (absl::string_view line : absl::StrSplit(note.substr(split + 2), '\n')) {
    if (line.empty()) continue;
    if (!absl::ConsumePrefix(&line, kSignaturePrefix)) {
      return absl::InvalidArgumentError("a signed note's signature lines begin with an em dash");
    }
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) {
      return absl::InvalidArgumentError("a signature line is a key name and a signature");
    }
    std::string decoded;
    if (line.substr(0, space) != key_name ||
        !absl::Base64Unescape(line.substr(space + 1), &decoded) || decoded.size() < 5 ||
        decoded.compare(0, 4, *key_id) != 0) {
      continue;  // another key's
    }
    if (!VerifyMessage(public_key_pem, AsStd(text), std::string_view(decoded).substr(4))) {
      return absl::PermissionDeniedError(
          absl::StrCat("the signature of ", key_name, " on checkpoint ", checkpoint.origin,
                       " size ", checkpoint.size, " does not verify: the checkpoint was altered"));
    }
    signed_by_key = true;
  }
  if (!signed_by_key) {
    return absl::PermissionDeniedError(absl::StrCat("checkpoint ", checkpoint.origin, " size ",
                                                    checkpoint.size, " carries no signature by ",
                                                    key_name, " with this public key"));
  }
  return checkpoint;
}

std::vector<std::string> SplitNotes(std::string_view std_text) {
  const absl::string_view text = AsAbsl(std_text);
  std::vector<std::string> notes;
  std::string current;
  bool in_signatures = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const bool signature = absl::StartsWith(line, kSignaturePrefix);
    if (in_signatures && !signature) {
      notes.push_back(std::move(current));
      current.clear();
      in_signatures = false;
    }
    if (line.empty() && current.empty()) continue;  // between notes
    if (line.empty() && !in_signatures) {
      current.append("\n");  // the blank line before the signatures
      in_signatures = true;
      continue;
    }
    absl::StrAppend(&current, line, "\n");
  }
  if (!current.empty()) notes.push_back(std::move(current));
  return notes;
}

}  // namespace hub::auth
