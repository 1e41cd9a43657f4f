#include "services/tree_head_publisher.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "auth/checkpoint.h"
#include "proto/status_macros.h"
#include "proto/thread_name.h"
#include "services/server_log.h"
#include "storage/merkle_tree.h"

namespace hub::services {

TreeHeadPublisher::TreeHeadPublisher(storage::EventLog* log,
                                     std::shared_ptr<const auth::TreeHeadSigner> signer,
                                     std::string path, std::string checkpoints_path,
                                     std::string origin, std::chrono::seconds interval)
    : log_(log),
      signer_(std::move(signer)),
      path_(std::move(path)),
      checkpoints_path_(std::move(checkpoints_path)),
      origin_(std::move(origin)) {
  thread_ = std::thread([this, interval] {
    NameThisThread("checkpoints");
    while (!stop_.WaitForNotificationWithTimeout(absl::FromChrono(interval))) {
      absl::Status published = PublishIfGrown();
      if (!published.ok()) {
        LogError("cannot publish a signed tree head", {{"error", published.ToString()}});
      }
    }
  });
}

TreeHeadPublisher::~TreeHeadPublisher() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

namespace {

absl::Status AppendDurably(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", path));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> SignedLogCheckpoint(const storage::EventLog& log,
                                                const auth::TreeHeadSigner& signer,
                                                const std::string& origin, uint64_t size) {
  auth::Checkpoint checkpoint;
  checkpoint.origin = absl::StrCat(origin, "/log");
  checkpoint.size = size;
  if (size > 0) {
    HUB_ASSIGN_OR_RETURN(checkpoint.root, log.ChainDigestAt(size));
  }
  return auth::SignCheckpoint(checkpoint, signer, origin);
}

absl::Status CompleteAuditKeyRotation(const storage::EventLog& log, const std::string& key_path,
                                      const std::string& next_key_path, const std::string& origin,
                                      const std::string& checkpoints_path,
                                      const std::string& rotations_path) {
  std::error_code error;
  if (!std::filesystem::exists(next_key_path, error)) return absl::OkStatus();
  HUB_ASSIGN_OR_RETURN(std::unique_ptr<auth::TreeHeadSigner> current,
                       auth::TreeHeadSigner::LoadOrCreate(key_path));
  HUB_ASSIGN_OR_RETURN(std::unique_ptr<auth::TreeHeadSigner> next,
                       auth::TreeHeadSigner::LoadOrCreate(next_key_path));
  auth::Checkpoint checkpoint;
  checkpoint.origin = absl::StrCat(origin, "/log");
  checkpoint.size = log.LastPosition();
  if (checkpoint.size > 0) {
    HUB_ASSIGN_OR_RETURN(checkpoint.root, log.ChainDigestAt(checkpoint.size));
  }
  checkpoint.next_key_pem = next->public_key_pem();
  HUB_ASSIGN_OR_RETURN(std::string note,
                       auth::SignCheckpoint(checkpoint, {current.get(), next.get()}, origin));
  // Announced before the old key goes: witnesses must be able to follow.
  HUB_RETURN_IF_ERROR(AppendDurably(checkpoints_path, note + "\n"));
  HUB_RETURN_IF_ERROR(AppendDurably(rotations_path, note + "\n"));
  const std::string retired_public =
      absl::StrCat(key_path, ".retired-",
                   absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()), ".pub");
  std::ofstream(retired_public) << current->public_key_pem();
  // The rename replaces the old private key in one step.
  std::filesystem::rename(next_key_path, key_path, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot move ", next_key_path, " to ", key_path, ": ", error.message()));
  }
  std::filesystem::rename(next_key_path + ".pub", key_path + ".pub", error);
  if (error) {
    // The private key moved: its public half can be derived again.
    std::ofstream(key_path + ".pub") << next->public_key_pem();
  }
  const int folder = ::open(std::filesystem::path(key_path).parent_path().c_str(), O_RDONLY);
  if (folder >= 0) {
    ::fsync(folder);
    ::close(folder);
  }
  LogInfo("audit key rotated: the new key is announced in a checkpoint signed by both",
          {{"log_size", std::to_string(checkpoint.size)}, {"retired_public_key", retired_public}});
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignedAuditCheckpoint(const auth::TreeHeadSigner& signer,
                                                  const std::string& origin, uint64_t size,
                                                  const storage::Sha256Digest& root) {
  auth::Checkpoint checkpoint;
  checkpoint.origin = absl::StrCat(origin, "/audit");
  checkpoint.size = size;
  checkpoint.root = root;
  return auth::SignCheckpoint(checkpoint, signer, origin);
}

absl::Status TreeHeadPublisher::PublishIfGrown() {
  // The event log's checkpoint: its size and chain digest there.
  const uint64_t log_size = log_->LastPosition();
  if (log_size != 0 && log_size != last_log_size_) {
    HUB_ASSIGN_OR_RETURN(std::string note, SignedLogCheckpoint(*log_, *signer_, origin_, log_size));
    HUB_RETURN_IF_ERROR(AppendDurably(checkpoints_path_, note + "\n"));
    last_log_size_ = log_size;
  }
  auth::TreeHead head;
  head.tree_size = log_->AuditSize();
  if (head.tree_size == 0 || head.tree_size == last_size_) return absl::OkStatus();
  HUB_ASSIGN_OR_RETURN(head.root_hash, storage::MerkleRoot(log_->AuditTree(), head.tree_size));
  head.timestamp_ms = absl::ToUnixMillis(absl::Now());
  HUB_ASSIGN_OR_RETURN(std::string signature, signer_->Sign(head));
  const std::string line =
      absl::StrCat(head.tree_size, " ", storage::DigestToHex(head.root_hash), " ",
                   head.timestamp_ms, " ", absl::Base64Escape(signature), "\n");
  HUB_RETURN_IF_ERROR(AppendDurably(path_, line));
  HUB_ASSIGN_OR_RETURN(std::string note,
                       SignedAuditCheckpoint(*signer_, origin_, head.tree_size, head.root_hash));
  HUB_RETURN_IF_ERROR(AppendDurably(checkpoints_path_, note + "\n"));
  last_size_ = head.tree_size;
  last_published_ms_.store(head.timestamp_ms);
  LogInfo("signed tree head published", {{"tree_size", std::to_string(head.tree_size)},
                                         {"root", storage::DigestToHex(head.root_hash)}});
  return absl::OkStatus();
}

}  // namespace hub::services
