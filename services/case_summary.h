// Folding the events a principal may see into its summary of a case: risk
// level, referral route, case manager, open actions, last activity.
#ifndef HUB_SERVICES_CASE_SUMMARY_H_
#define HUB_SERVICES_CASE_SUMMARY_H_

#include <cstddef>

#include "hub/v1/events.pb.h"
#include "hub/v1/views.pb.h"

namespace hub::services {

// How much of an action's description a summary keeps: enough to recognise
// it in a panel list. The full text is in the view's event, so a summary
// (kept per principal per case, and held whole in memory while it is
// folded) does not grow with free text.
inline constexpr size_t kSummaryDescriptionBytes = 280;

// Applies one (already redacted) event to `summary`. Uses only fields that
// are present, so it never adds what the principal could not read.
void ApplyToSummary(const hub::v1::EventEnvelope& visible, hub::v1::CaseSummary* summary);

}  // namespace hub::services

#endif  // HUB_SERVICES_CASE_SUMMARY_H_
