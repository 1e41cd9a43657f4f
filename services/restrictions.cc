#include "services/restrictions.h"

#include "absl/strings/str_cat.h"

#include "proto/status_macros.h"
#include "services/envelope.h"

namespace hub::services {

absl::StatusOr<auth::WithheldKeys> RestrictionsOf(const storage::EventLog& log) {
  constexpr size_t kBatch = 256;
  auth::WithheldKeys withheld;
  for (uint64_t version = 1;;) {
    HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> events,
                         log.ReadCase(kRestrictionsCase, version, kBatch));
    if (events.empty()) break;
    for (const storage::StoredEvent& event : events) {
      // Governance records: never sealed.
      HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(event));
      if (!envelope.has_processing_restricted()) continue;
      const hub::v1::ProcessingRestricted& record = envelope.processing_restricted();
      const absl::Time since = absl::FromUnixSeconds(envelope.recorded_time().seconds());
      for (const std::string& key_id : record.key_ids()) {
        if (record.lifted()) {
          withheld.erase(key_id);
        } else {
          withheld.try_emplace(key_id, since);
        }
      }
    }
    version = events.back().stream_version + 1;
  }
  return withheld;
}

}  // namespace hub::services
