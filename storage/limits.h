// The event log's bounds, in one place. Every value is enforced with an error
// that names the limit; nothing in storage grows because a client is slow or
// hostile. services/ sets gRPC's message limits from the same numbers.
#ifndef HUB_STORAGE_LIMITS_H_
#define HUB_STORAGE_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace hub::storage {

struct EventLogLimits {
  // Serialized event (envelope) size.
  size_t max_event_bytes = 64 * 1024;
  // Events in one atomic append to one case.
  size_t max_events_per_append = 256;
  // Case ids are short pseudonymous references such as "C-2026-00172".
  size_t max_case_id_bytes = 64;
  // Client-chosen event ids (a UUID is 36 bytes).
  size_t max_event_id_bytes = 64;
  // Appends waiting for the group commit; beyond this, appends are refused
  // with RESOURCE_EXHAUSTED instead of queueing without bound.
  size_t max_pending_appends = 4096;
  // One group commit writes at most this many events / bytes in one synced
  // RocksDB write; the rest wait for the next group.
  size_t max_group_events = 4096;
  size_t max_group_bytes = 16 * 1024 * 1024;
  // One read returns at most this many events / bytes.
  size_t max_read_events = 10000;
  size_t max_read_bytes = 8 * 1024 * 1024;
};

}  // namespace hub::storage

#endif  // HUB_STORAGE_LIMITS_H_
