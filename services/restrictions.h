// Restriction of processing (UK GDPR Art 18, DPA 2018 s47(2)): a subject's
// or a case's personal content kept but shown to no one until lifted. The
// log records each restriction and lift (ProcessingRestricted in case
// "hub.restrictions", naming data keys, never the subject); the views are
// derived from the log with the restricted keys' content withheld.
#ifndef HUB_SERVICES_RESTRICTIONS_H_
#define HUB_SERVICES_RESTRICTIONS_H_

#include "absl/status/statusor.h"

#include "auth/field_sealing.h"
#include "storage/event_log.h"

namespace hub::services {

// The case restriction records are kept in.
inline constexpr char kRestrictionsCase[] = "hub.restrictions";

// The keys restricted now, by the log's records in order (a lift ends a
// restriction), each with when its restriction began.
absl::StatusOr<auth::WithheldKeys> RestrictionsOf(const storage::EventLog& log);

}  // namespace hub::services

#endif  // HUB_SERVICES_RESTRICTIONS_H_
