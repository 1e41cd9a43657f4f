#include "tools/hubctl/checkpoint_check.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "auth/checkpoint.h"
#include "storage/hash_chain.h"

namespace hub::tools {

absl::StatusOr<CheckpointsChecked> CheckLogExtendsCheckpoints(const storage::EventLog& log,
                                                              const std::string& checkpoints_text,
                                                              const std::string& public_key_pem,
                                                              bool log_may_be_older) {
  CheckpointsChecked checked;
  auth::CheckpointKeyChain keys(public_key_pem);
  for (const std::string& note : auth::SplitNotes(checkpoints_text)) {
    const std::string origin = note.substr(0, note.find('\n'));
    const bool of_the_log = absl::EndsWith(origin, "/log");
    // The audit's checkpoints are opened too: one may rotate the key.
    const std::string key_name = origin.substr(0, origin.rfind('/'));
    absl::StatusOr<auth::Checkpoint> checkpoint = keys.Open(note, key_name);
    if (!of_the_log) {
      if (checkpoint.ok()) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "a checkpoint among the log's is not the hub's: ", checkpoint.status().message()));
    }
    if (!checkpoint.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("log checkpoint ", checked.count + 1,
                       " is not the hub's: ", checkpoint.status().message()));
    }
    if (checkpoint->size > log.LastPosition() && log_may_be_older) {
      ++checked.later;
      checked.largest_later_size = std::max(checked.largest_later_size, checkpoint->size);
      continue;
    }
    if (checkpoint->size > log.LastPosition()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the event log does NOT extend checkpoint ", origin, " size ",
                       checkpoint->size, ": it holds only ", log.LastPosition(),
                       " events (rolled back, or the events were removed)"));
    }
    absl::StatusOr<storage::Sha256Digest> digest = log.ChainDigestAt(checkpoint->size);
    if (!digest.ok()) return digest.status();
    if (*digest != checkpoint->root) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the event log does NOT extend checkpoint ", origin, " size ", checkpoint->size,
          ": its chain digest there is ", storage::DigestToHex(*digest), ", the checkpoint says ",
          storage::DigestToHex(checkpoint->root), " (an event at or before position ",
          checkpoint->size, " was changed, and the digests recomputed)"));
    }
    ++checked.count;
    checked.largest_size = std::max(checked.largest_size, checkpoint->size);
  }
  if (checked.count == 0 && checked.later == 0) {
    return absl::FailedPreconditionError(
        "the checkpoints file holds no checkpoint of the event log");
  }
  return checked;
}

}  // namespace hub::tools
