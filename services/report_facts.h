// Folding a case's events, as stored, into what the governance report
// counts (hub.v1.CaseFacts): the projector keeps the facts of every case
// with its summaries, so that a report aggregates them without reading
// the log.
#ifndef HUB_SERVICES_REPORT_FACTS_H_
#define HUB_SERVICES_REPORT_FACTS_H_

#include <cstdint>

#include "google/protobuf/timestamp.pb.h"

#include "hub/v1/events.pb.h"
#include "hub/v1/views.pb.h"

namespace hub::services {

// Days since 1970-01-01 of a calendar date (0 for an unset or invalid one).
int32_t DayNumber(const hub::v1::CalendarDate& date);
// The UTC day of a time.
int32_t DayNumber(const google::protobuf::Timestamp& time);

// Applies one event of the case (opened and corrected; erased or
// restricted content simply absent) to `facts`, in the case's order.
void ApplyToFacts(const hub::v1::EventEnvelope& event, hub::v1::CaseFacts* facts);

}  // namespace hub::services

#endif  // HUB_SERVICES_REPORT_FACTS_H_
