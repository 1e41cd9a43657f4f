#include "services/backups.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "proto/status_macros.h"
#include "proto/thread_name.h"
#include "services/server_log.h"

namespace hub::services {
namespace {

namespace fs = std::filesystem;

constexpr char kPartialPrefix[] = ".partial-";

absl::Status Io(const std::error_code& error, const std::string& what) {
  if (!error) return absl::OkStatus();
  if (error == std::errc::no_space_on_device) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", error.message()));
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", error.message()));
}

}  // namespace

Backups::Backups(storage::EventLog* log, std::string data_dir, hub::v1::BackupConfig config)
    : log_(log), data_dir_(std::move(data_dir)), config_(std::move(config)) {}

Backups::~Backups() { Stop(); }

absl::StatusOr<hub::v1::BackupResponse> Backups::Take() {
  absl::MutexLock lock(&take_mu_);
  const absl::Time started = absl::Now();
  const std::string name = absl::FormatTime("%Y%m%dT%H%M%E3SZ", started, absl::UTCTimeZone());
  const fs::path root(config_.directory());
  const fs::path partial = root / (kPartialPrefix + name);
  const fs::path final_path = root / name;
  std::error_code error;
  fs::create_directories(root, error);
  HUB_RETURN_IF_ERROR(Io(error, "creating the backup directory " + root.string()));
  fs::permissions(root, fs::perms::owner_all, fs::perm_options::replace, error);
  fs::remove_all(partial, error);
  fs::create_directory(partial, error);
  HUB_RETURN_IF_ERROR(Io(error, "creating " + partial.string()));
  auto abandon = [&](absl::Status status) {
    std::error_code ignored;
    fs::remove_all(partial, ignored);
    return status;
  };

  absl::StatusOr<storage::EventLog::CheckpointInfo> checkpoint =
      log_->Checkpoint((partial / "events").string());
  if (!checkpoint.ok()) return abandon(checkpoint.status());
  // The signing key and the heads signed with it: a restored hub signs on
  // with the same key, so heads from before and after stay comparable.
  const fs::path audit = fs::path(data_dir_) / "audit";
  if (fs::exists(audit)) {
    fs::copy(audit, partial / "audit", fs::copy_options::recursive, error);
    if (error) return abandon(Io(error, "copying " + audit.string()));
  }
  {
    std::ofstream manifest(partial / kBackupManifest);
    manifest << "created: " << absl::FormatTime(absl::RFC3339_full, started, absl::UTCTimeZone())
             << "\nlast_position: " << checkpoint->last_position
             << "\naudit_size: " << checkpoint->audit_size << "\nrestore: hubctl restore "
             << final_path.string() << " --data_dir=<a new data folder>\n";
    if (!manifest) return abandon(absl::UnavailableError("cannot write the backup manifest"));
  }
  fs::rename(partial, final_path, error);
  if (error) return abandon(Io(error, "naming the backup " + final_path.string()));

  hub::v1::BackupResponse response;
  response.set_path(final_path.string());
  response.set_last_position(checkpoint->last_position);
  response.set_audit_size(checkpoint->audit_size);
  response.set_milliseconds(absl::ToInt64Milliseconds(absl::Now() - started));
  // Oldest first by name (names are UTC times); keep the newest `keep`.
  std::vector<fs::path> complete;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, error)) {
    const std::string entry_name = entry.path().filename().string();
    if (entry.is_directory() && !absl::StartsWith(entry_name, kPartialPrefix) &&
        fs::exists(entry.path() / kBackupManifest)) {
      complete.push_back(entry.path());
    }
  }
  std::sort(complete.begin(), complete.end());
  for (size_t i = 0; i + config_.keep() < complete.size(); ++i) {
    std::error_code ignored;
    fs::remove_all(complete[i], ignored);
    response.add_pruned(complete[i].string());
  }
  LogInfo("backup taken", {{"path", response.path()},
                           {"last_position", std::to_string(response.last_position())},
                           {"audit_size", std::to_string(response.audit_size())},
                           {"ms", std::to_string(response.milliseconds())}});
  return response;
}

void Backups::StartSchedule() {
  if (config_.interval_seconds() == 0) return;
  scheduler_ = std::thread([this] {
    NameThisThread("backups");
    absl::MutexLock lock(&schedule_mu_);
    for (;;) {
      schedule_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                    absl::Seconds(config_.interval_seconds()));
      if (stopping_) return;
      schedule_mu_.Unlock();
      absl::StatusOr<hub::v1::BackupResponse> taken = Take();
      if (!taken.ok()) {
        LogError("a scheduled backup failed", {{"error", taken.status().ToString()}});
      }
      schedule_mu_.Lock();
    }
  });
}

void Backups::Stop() {
  {
    absl::MutexLock lock(&schedule_mu_);
    stopping_ = true;
  }
  if (scheduler_.joinable()) scheduler_.join();
}

}  // namespace hub::services
