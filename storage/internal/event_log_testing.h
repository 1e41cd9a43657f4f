// Test-only entry point: opens the event log on a caller-supplied RocksDB
// Env, so that tests can inject file-system faults (for example, losing
// every write that was not synced, as a power cut would).
#ifndef HUB_STORAGE_INTERNAL_EVENT_LOG_TESTING_H_
#define HUB_STORAGE_INTERNAL_EVENT_LOG_TESTING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rocksdb/env.h"

#include "storage/event_log.h"

namespace hub::storage::internal {

// As EventLog::Open, with `env` (not owned; must outlive the log).
absl::StatusOr<std::unique_ptr<EventLog>> OpenEventLogWithEnv(const std::string& directory,
                                                              const EventLogOptions& options,
                                                              rocksdb::Env* env);

}  // namespace hub::storage::internal

#endif  // HUB_STORAGE_INTERNAL_EVENT_LOG_TESTING_H_
