// Whether the event log extends the signed checkpoints a witness collected
// (auth/checkpoint.h): `hubctl log verify --checkpoints` and `hubctl
// restore --checkpoints` stand on it.
#ifndef HUB_TOOLS_HUBCTL_CHECKPOINT_CHECK_H_
#define HUB_TOOLS_HUBCTL_CHECKPOINT_CHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

#include "storage/event_log.h"

namespace hub::tools {

struct CheckpointsChecked {
  size_t count = 0;
  uint64_t largest_size = 0;
  // With `log_may_be_older`: checkpoints beyond the log's end (events
  // witnessed after it was copied), and the largest of them.
  size_t later = 0;
  uint64_t largest_later_size = 0;
};

// Checks every log checkpoint (origin ending "/log") in `checkpoints_text`:
// signed by `public_key_pem` under its origin's name, and the log's chain
// digest at its size equal to its root. A checkpoint of size S commits to
// every event up to S, so an event changed at or before S (whatever digests
// were recomputed after it) or a log shorter than S fails. FAILED_PRECONDITION
// naming the first checkpoint that fails, or if there is none.
// A backup may be older than some checkpoints (`log_may_be_older`): those are
// counted, not failed; every one it reaches must still match.
absl::StatusOr<CheckpointsChecked> CheckLogExtendsCheckpoints(const storage::EventLog& log,
                                                              const std::string& checkpoints_text,
                                                              const std::string& public_key_pem,
                                                              bool log_may_be_older = false);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_CHECKPOINT_CHECK_H_
