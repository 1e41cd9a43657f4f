#include "auth/checkpoint.h"

#include <algorithm>
#include <utility>

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
constexpr absl::string_view kNextKeyPrefix = "next-key ";

absl::StatusOr<std::string> KeyId(std::string_view public_key_pem) {
  absl::StatusOr<std::string> der = PublicKeyDer(public_key_pem);
  if (!der.ok()) return der.status();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der->data()), der->size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), 4);
}

}  // namespace

absl::StatusOr<std::string> CheckpointText(const Checkpoint& checkpoint) {
  std::string text = absl::StrCat(
      checkpoint.origin, "\n", checkpoint.size, "\n",
      absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(checkpoint.root.data()),
                                           checkpoint.root.size())),
      "\n");
  if (!checkpoint.next_key_pem.empty()) {
    absl::StatusOr<std::string> der = PublicKeyDer(checkpoint.next_key_pem);
    if (!der.ok()) return der.status();
    absl::StrAppend(&text, kNextKeyPrefix, absl::Base64Escape(*der), "\n");
  }
  return text;
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const std::vector<const TreeHeadSigner*>& signers,
                                           std::string_view key_name) {
  absl::StatusOr<std::string> text = CheckpointText(checkpoint);
  if (!text.ok()) return text.status();
  std::string note = absl::StrCat(*text, "\n");
  for (const TreeHeadSigner* signer : signers) {
    absl::StatusOr<std::string> signature = signer->SignMessage(*text);
    if (!signature.ok()) return signature.status();
    absl::StatusOr<std::string> key_id = KeyId(signer->public_key_pem());
    if (!key_id.ok()) return key_id.status();
    // Signed-note type 0x02 (ECDSA): the key id is the hash of the key alone.
    absl::StrAppend(&note, kSignaturePrefix, AsAbsl(key_name), " ",
                    absl::Base64Escape(*key_id + *signature), "\n");
  }
  return note;
}

absl::StatusOr<std::string> SignCheckpoint(const Checkpoint& checkpoint,
                                           const TreeHeadSigner& signer,
                                           std::string_view key_name) {
  return SignCheckpoint(checkpoint, std::vector<const TreeHeadSigner*>{&signer}, key_name);
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
  // lines come before it.
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
  for (size_t i = 3; i + 1 < lines.size(); ++i) {
    absl::string_view extension = lines[i];
    // Other extension lines are someone else's: a verifier ignores them.
    if (!absl::ConsumePrefix(&extension, kNextKeyPrefix)) continue;
    std::string der;
    if (!absl::Base64Unescape(extension, &der)) {
      return absl::InvalidArgumentError("a next-key line holds a base64 DER public key");
    }
    absl::StatusOr<std::string> pem = PublicKeyPemFromDer(der);
    if (!pem.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the next-key line of checkpoint ",
                                                     checkpoint.origin, " size ", checkpoint.size,
                                                     " is not a key: ", pem.status().message()));
    }
    checkpoint.next_key_pem = *std::move(pem);
  }

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

CheckpointKeyChain::CheckpointKeyChain(std::string first_key_pem)
    : key_pem_(std::move(first_key_pem)) {}

absl::StatusOr<Checkpoint> CheckpointKeyChain::Open(std::string_view note,
                                                    std::string_view key_name) {
  absl::StatusOr<Checkpoint> checkpoint = OpenCheckpoint(note, key_pem_, key_name);
  if (!checkpoint.ok()) {
    if (checkpoint.status().code() != absl::StatusCode::kPermissionDenied) return checkpoint;
    for (size_t i = 0; i < retired_.size(); ++i) {
      absl::StatusOr<Checkpoint> by_retired = OpenCheckpoint(note, retired_[i], key_name);
      if (!by_retired.ok()) continue;
      // A rotation already followed, handed over again (witnesses append the
      // hub's list of rotations): it is signed by the key it announced too.
      const std::string& announced = by_retired->next_key_pem;
      const bool followed =
          announced == key_pem_ ||
          std::find(retired_.begin() + i + 1, retired_.end(), announced) != retired_.end();
      if (!announced.empty() && followed && OpenCheckpoint(note, announced, key_name).ok()) {
        return by_retired;
      }
      return absl::PermissionDeniedError(absl::StrCat(
          checkpoint.status().message(), "; it is signed by a key retired at rotation ", i + 1,
          ", which signs nothing after it (was the old key stolen?)"));
    }
    return checkpoint;
  }
  if (!checkpoint->next_key_pem.empty() && checkpoint->next_key_pem != key_pem_) {
    // The new key must have signed too, or anyone could announce theirs in a
    // note the hub signed for another reason.
    absl::StatusOr<Checkpoint> by_next = OpenCheckpoint(note, checkpoint->next_key_pem, key_name);
    if (!by_next.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("checkpoint ", checkpoint->origin, " size ", checkpoint->size,
                       " announces a next key that did not sign it: ", by_next.status().message()));
    }
    retired_.push_back(std::exchange(key_pem_, checkpoint->next_key_pem));
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
