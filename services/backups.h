// Online backups of a running hub: a consistent RocksDB checkpoint of the
// event log (events, indexes and access audit) plus the audit signing key
// and the signed tree heads, in one new folder per backup, on request and
// on a schedule, keeping a configured number. The views are not copied:
// they are derived, and rebuilt from the log when a restored hub starts.
//
// A backup folder is complete when it has its name: it is assembled under
// a ".partial-" name and renamed at the end, so a crash mid-backup never
// leaves something that looks like a backup.
#ifndef HUB_SERVICES_BACKUPS_H_
#define HUB_SERVICES_BACKUPS_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "storage/event_log.h"

#include "hub/v1/admin_service.pb.h"
#include "hub/v1/config.pb.h"

namespace hub::services {

// The file in every backup describing it (key: value lines).
inline constexpr char kBackupManifest[] = "BACKUP.txt";

class Backups {
 public:
  Backups(storage::EventLog* log, std::string data_dir, hub::v1::BackupConfig config);
  ~Backups();

  // Takes a backup now (one at a time).
  absl::StatusOr<hub::v1::BackupResponse> Take();

  // Takes one every config.interval_seconds, if set, until Stop().
  void StartSchedule();
  void Stop();

 private:
  storage::EventLog* const log_;
  const std::string data_dir_;
  const hub::v1::BackupConfig config_;
  absl::Mutex take_mu_;
  absl::Mutex schedule_mu_;
  bool stopping_ ABSL_GUARDED_BY(schedule_mu_) = false;
  std::thread scheduler_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_BACKUPS_H_
