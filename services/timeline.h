// The logic behind TimelineService, apart from gRPC and storage: the order
// of a case's timeline, the one-line summary of an event, and a case's
// overview for panel preparation (open and overdue actions by agency).
// Everything here works on events and summaries as the caller may see them,
// so nothing it writes can hold more than the caller's view.
#ifndef HUB_SERVICES_TIMELINE_H_
#define HUB_SERVICES_TIMELINE_H_

#include <cstdint>
#include <string>
#include <tuple>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"

#include "hub/v1/events.pb.h"
#include "hub/v1/timeline_service.pb.h"
#include "hub/v1/views.pb.h"

namespace hub::services {

// Where an event sits in a timeline: when it happened (recorded time if
// the publisher gave none), then its version in the reader's view of the
// case, so the order is total.
struct TimelinePlace {
  int64_t seconds = 0;
  int32_t nanos = 0;
  uint64_t version = 0;
  friend bool operator<(const TimelinePlace& a, const TimelinePlace& b) {
    return std::tie(a.seconds, a.nanos, a.version) < std::tie(b.seconds, b.nanos, b.version);
  }
};
// Of an event as a reader received it (stream_version its view version).
TimelinePlace PlaceOf(const hub::v1::EventEnvelope& event);

// A page token for the entry after `last` of `case_id`'s timeline, and back.
// A token names its case, so it cannot be replayed against another.
std::string TimelinePageToken(const std::string& case_id, const TimelinePlace& last);
absl::StatusOr<TimelinePlace> TimelinePlaceFromToken(const std::string& token,
                                                     const std::string& case_id);

// One line for a person ("Risk assessed: high (DASH 16 of 24)"), from the
// fields present in `visible` only: a redacted field is simply not
// mentioned.
std::string DescribeEvent(const hub::v1::EventEnvelope& visible);

// What of `visible` was erased, when and under which rule, for a person
// (" — erased: victim location, victim disclosure on 2026-11-30 (request)"),
// or "" if nothing the caller could have seen was erased.
std::string DescribeErasures(const hub::v1::EventEnvelope& visible);
// " — corrected on 2026-12-04 by idva: current address", per correction
// the reader is told of (EventEnvelope.corrections); empty if none.
std::string DescribeCorrections(const hub::v1::EventEnvelope& visible);

// INVALID_ARGUMENT naming the first entry that is not an event type
// (EventEnvelope's oneof field names, e.g. "risk_assessed").
absl::Status ValidateEventTypeNames(const google::protobuf::RepeatedPtrField<std::string>& types);

// Whether `event` passes the request's time, agency and type filters.
bool InTimeline(const hub::v1::GetCaseTimelineRequest& request,
                const hub::v1::EventEnvelope& event);

// A case's overview as of a day: an open action is overdue when its due
// date is before `as_of`.
hub::v1::CaseOverview OverviewOf(const hub::v1::CaseSummary& summary,
                                 const hub::v1::CalendarDate& as_of);

// Whether an overview passes ListCases' filters.
bool MatchesFilters(const hub::v1::ListCasesRequest& request,
                    const hub::v1::CaseOverview& overview);

// INVALID_ARGUMENT for a date that is set but not a real calendar date.
absl::Status ValidateDate(const hub::v1::CalendarDate& date, const std::string& field);

// The UTC calendar date of `time`.
hub::v1::CalendarDate DateOf(absl::Time time);

}  // namespace hub::services

#endif  // HUB_SERVICES_TIMELINE_H_
