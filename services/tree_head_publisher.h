// Periodically signs a tree head of the access audit, when it has grown, and
// appends it to a file the governance group collects, so that later
// exports can be checked for consistency with heads it already holds; and
// signed checkpoints (auth/checkpoint.h) of the event log and the audit to
// another, which witnesses collect so that a later log can be proved to
// extend them (`hubctl log verify --checkpoints`).
#ifndef HUB_SERVICES_TREE_HEAD_PUBLISHER_H_
#define HUB_SERVICES_TREE_HEAD_PUBLISHER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"

#include "auth/tree_head_signer.h"
#include "storage/event_log.h"

namespace hub::services {

// The signed checkpoint (auth/checkpoint.h) of the event log's first `size`
// positions, origin "<origin>/log": its root is the chain digest there (all
// zero for an empty log).
absl::StatusOr<std::string> SignedLogCheckpoint(const storage::EventLog& log,
                                                const auth::TreeHeadSigner& signer,
                                                const std::string& origin, uint64_t size);
// The signed checkpoint of an audit tree of `size` records with `root`,
// origin "<origin>/audit".
absl::StatusOr<std::string> SignedAuditCheckpoint(const auth::TreeHeadSigner& signer,
                                                  const std::string& origin, uint64_t size,
                                                  const storage::Sha256Digest& root);

// Completes an audit key rotation an operator prepared (`hubctl keys
// rotate` wrote `next_key_path`): signs a checkpoint of the log announcing
// the next key with both keys, appends it durably to `checkpoints_path` and
// `rotations_path`, then puts the next key in place of `key_path` (whose
// private key is gone after; its public key stays, renamed
// "<key_path>.retired-<UTC time>.pub", for whoever verifies older heads).
// Does nothing when there is no next key. A crash part-way repeats the
// announcement at the next start, which verifiers accept.
absl::Status CompleteAuditKeyRotation(const storage::EventLog& log, const std::string& key_path,
                                      const std::string& next_key_path, const std::string& origin,
                                      const std::string& checkpoints_path,
                                      const std::string& rotations_path);

class TreeHeadPublisher {
 public:
  // Each line of `path`: tree size, root hash (hex), timestamp (ms),
  // signature (base64), separated by spaces.
  // `checkpoints_path` gets signed notes with origins "<origin>/log" and
  // "<origin>/audit", signed under the key name `origin`.
  TreeHeadPublisher(storage::EventLog* log, std::shared_ptr<const auth::TreeHeadSigner> signer,
                    std::string path, std::string checkpoints_path, std::string origin,
                    std::chrono::seconds interval);
  ~TreeHeadPublisher();

  // Signs and appends the current head now if the audit grew since the last
  // one. Thread-compatible with the periodic thread (it is the only caller
  // there).
  absl::Status PublishIfGrown();

  // When the last head was published (ms since the epoch; 0: none yet).
  int64_t last_published_ms() const { return last_published_ms_.load(); }

 private:
  storage::EventLog* const log_;
  const std::shared_ptr<const auth::TreeHeadSigner> signer_;
  const std::string path_;
  const std::string checkpoints_path_;
  const std::string origin_;
  uint64_t last_size_ = 0;
  uint64_t last_log_size_ = 0;
  std::atomic<int64_t> last_published_ms_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_TREE_HEAD_PUBLISHER_H_
