// How hubctl shows the governance report (ReportService): a text report for
// the terminal, and a self-contained printable HTML page with bar charts
// drawn as inline SVG (no scripts, no external resources, every value
// escaped), which `hubctl report --pdf` prints through headless Chromium.
#ifndef HUB_TOOLS_HUBCTL_REPORT_VIEW_H_
#define HUB_TOOLS_HUBCTL_REPORT_VIEW_H_

#include <string>

#include "hub/v1/report_service.pb.h"

namespace hub::tools {

// A count as shown: "12", or "<5" where it was withheld for publication.
std::string CountWords(const hub::v1::Tally& tally, uint32_t threshold);
// A label in words: an enum value's name through EnumWords ("ROUTE_MARAC"
// -> "MARAC"), "RISK_HIGH to RISK_MEDIUM" -> "high to medium", anything
// else (agencies, case managers) as it is.
std::string LabelWords(const std::string& label);

std::string ReportText(const hub::v1::GetGovernanceReportResponse& report);
// `prepared_for`: who asked, e.g. "Governance group (governance/auditor)".
std::string ReportHtml(const hub::v1::GetGovernanceReportResponse& report,
                       const std::string& prepared_for);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_REPORT_VIEW_H_
