// The one place where rocksdb::Status becomes absl::Status.
#ifndef HUB_STORAGE_INTERNAL_ROCKSDB_STATUS_H_
#define HUB_STORAGE_INTERNAL_ROCKSDB_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace hub::storage::internal {

// Maps a RocksDB status to the code a caller can act on: a full disk is
// RESOURCE_EXHAUSTED, corruption is DATA_LOSS, I/O trouble is UNAVAILABLE.
// `context` says what was being done ("writing the event log").
absl::Status FromRocksStatus(const rocksdb::Status& status, std::string_view context);

}  // namespace hub::storage::internal

#endif  // HUB_STORAGE_INTERNAL_ROCKSDB_STATUS_H_
