// How hubctl shows a case timeline and a list of cases: a table for the
// terminal, and a self-contained printable HTML page for a panel pack (no
// scripts, no external resources, every value escaped). Only what the hub
// returned is shown: the hub has already shaped it for the caller.
#ifndef HUB_TOOLS_HUBCTL_TIMELINE_VIEW_H_
#define HUB_TOOLS_HUBCTL_TIMELINE_VIEW_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

#include "hub/v1/timeline_service.pb.h"

namespace hub::tools {

struct CaseTimeline {
  std::string case_id;
  std::vector<hub::v1::TimelineEntry> entries;
  uint64_t visible_events = 0;
  std::string protocol_version;
  // The case's overview in the same view, when the caller has one.
  std::optional<hub::v1::CaseOverview> overview;
  // The day the overview judged actions overdue against.
  hub::v1::CalendarDate as_of;
  // Who the page was prepared for, e.g. "dapp (COORDINATOR)".
  std::string prepared_for;
  absl::Time generated_at;
  // The filters applied, in words; empty for the whole timeline.
  std::string filters;
};

// The visible fields of an entry's event, as (label, value) pairs in field
// order: "dash yes count" -> "16", "due on" -> "2026-12-01".
std::vector<std::pair<std::string, std::string>> EventDetails(const hub::v1::EventEnvelope& event);

std::string TimelineTable(const CaseTimeline& timeline);
std::string TimelineHtml(const CaseTimeline& timeline);
std::string CasesTable(const hub::v1::ListCasesResponse& cases);

// Escapes text for HTML element content and attribute values.
std::string HtmlEscape(const std::string& text);

// The print rules every hubctl page shares: A4, table headers on every
// page, rows kept whole.
extern const char kPrintStyle[];

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_TIMELINE_VIEW_H_
