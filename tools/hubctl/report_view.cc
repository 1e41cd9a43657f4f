#include "tools/hubctl/report_view.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"

#include "proto/enum_words.h"

#include "hub/v1/audit.pb.h"
#include "hub/v1/events.pb.h"
#include "tools/hubctl/timeline_view.h"

namespace hub::tools {
namespace {

using hub::v1::GetGovernanceReportResponse;
using hub::v1::Tally;

// One line of a block: a label, its values (one per column) and the count
// a chart draws (nullopt: not drawn, e.g. withheld).
struct Row {
  std::string label;
  std::vector<std::string> values;
  std::optional<uint64_t> bar;
};
struct Block {
  std::string title;
  std::vector<std::string> columns;  // after the label column
  std::vector<Row> rows;
  bool chart = false;
  std::string note;
  // A line the chart marks across its bars (the site's target caseload).
  uint64_t target = 0;
};
struct Section {
  std::string title;
  std::vector<Block> blocks;
};

std::string DateText(const hub::v1::CalendarDate& date) {
  return absl::StrFormat("%04d-%02d-%02d", date.year(), date.month(), date.day());
}

Row TallyRow(const std::string& label, const Tally& tally, uint32_t threshold) {
  Row row{label, {CountWords(tally, threshold)}, std::nullopt};
  if (!tally.suppressed()) row.bar = tally.count();
  return row;
}

Block Tallies(const std::string& title, const google::protobuf::RepeatedPtrField<Tally>& tallies,
              uint32_t threshold, bool chart = true) {
  Block block{title, {"count"}, {}, chart, ""};
  for (const Tally& tally : tallies) {
    block.rows.push_back(TallyRow(LabelWords(tally.label()), tally, threshold));
  }
  if (block.rows.empty()) block.note = "none in the period";
  return block;
}

std::vector<Section> SectionsOf(const GetGovernanceReportResponse& report) {
  const uint32_t t = report.for_publication() ? report.suppression_threshold() : 0;
  const hub::v1::ProgrammeFigures& p = report.programme();
  const hub::v1::InformationGovernanceFigures& g = report.information_governance();
  std::vector<Section> sections;

  Section referrals{"Referrals", {}};
  Block totals{"Referrals received", {"count"}, {}, false, ""};
  totals.rows.push_back(TallyRow("received", p.referrals_received(), t));
  totals.rows.push_back(TallyRow("accepted", p.referrals_accepted(), t));
  totals.rows.push_back(TallyRow("declined", p.referrals_declined(), t));
  totals.rows.push_back(
      TallyRow("repeat referrals within 12 months", p.repeat_referrals_within_12_months(), t));
  referrals.blocks.push_back(std::move(totals));
  referrals.blocks.push_back(Tallies("By route", p.referrals_by_route(), t));
  referrals.blocks.push_back(Tallies("By MARAC criterion", p.referrals_by_criterion(), t));
  referrals.blocks.push_back(Tallies("Declined, by reason", p.declined_by_reason(), t));
  Block allocation{"Referral to allocation", {"value"}, {}, false, ""};
  const hub::v1::DayFigures& days = p.referral_to_allocation();
  if (days.suppressed()) {
    allocation.note = absl::StrCat("withheld: fewer than ", t, " cases allocated");
  } else {
    allocation.rows.push_back({"cases allocated in the period", {absl::StrCat(days.cases())}, {}});
    allocation.rows.push_back(
        {"median days from referral", {absl::StrFormat("%.1f", days.median_days())}, {}});
    allocation.rows.push_back(
        {"90th percentile days", {absl::StrFormat("%.1f", days.p90_days())}, {}});
  }
  referrals.blocks.push_back(std::move(allocation));
  sections.push_back(std::move(referrals));

  Section work{"Casework", {}};
  Block caseload = Tallies("Open caseload per case manager", p.caseload_by_case_manager(), t);
  caseload.rows.insert(caseload.rows.begin(), TallyRow("all case managers", p.open_caseload(), t));
  caseload.rows.front().bar.reset();
  if (p.caseload_target() > 0) {
    caseload.note = absl::StrCat("the site's target is ", p.caseload_target(),
                                 " open cases per case manager (the dashed line)");
    caseload.target = p.caseload_target();
  }
  work.blocks.push_back(std::move(caseload));
  work.blocks.push_back(Tallies("Engagement recorded", p.engagement_by_kind(), t));
  Block plans{"Needs assessments and intervention plans", {"count"}, {}, false, ""};
  plans.rows.push_back(TallyRow("needs assessments", p.needs_assessments(), t));
  plans.rows.push_back(TallyRow("intervention plans agreed", p.intervention_plans_agreed(), t));
  work.blocks.push_back(std::move(plans));
  work.blocks.push_back(Tallies("Needs identified", p.needs_identified(), t));
  work.blocks.push_back(Tallies("Disruption activity", p.disruption_by_kind(), t));
  Block support = Tallies("Support referrals", p.support_referrals_by_service(), t);
  support.rows.push_back(TallyRow("of which accepted", p.support_referrals_accepted(), t));
  support.rows.back().bar.reset();
  work.blocks.push_back(std::move(support));
  work.blocks.push_back(Tallies("Cases heard at panels", p.panel_hearings_by_panel(), t));
  work.blocks.push_back(
      Tallies("Panel hearings attended, by agency", p.panel_attendance_by_agency(), t));
  Block actions{"Actions by owning agency",
                {"tasked", "completed", "not done", "open at end", "overdue at end"},
                {},
                false,
                ""};
  for (const hub::v1::ActionFigures& row : p.actions_by_agency()) {
    actions.rows.push_back(
        {row.owner_agency(),
         {CountWords(row.tasked(), t), CountWords(row.completed(), t),
          CountWords(row.not_done(), t), CountWords(row.open(), t), CountWords(row.overdue(), t)},
         {}});
  }
  if (actions.rows.empty()) actions.note = "none";
  work.blocks.push_back(std::move(actions));
  sections.push_back(std::move(work));

  Section outcomes{"Risk and outcomes", {}};
  outcomes.blocks.push_back(
      Tallies("Risk at first and latest assessment (open cases)", p.risk_first_to_latest(), t));
  outcomes.blocks.push_back(Tallies("Victim's risk as the IDVA last reported it (open cases)",
                                    p.victim_risk_change(), t));
  outcomes.blocks.push_back(Tallies("Victims referred for further support, by service",
                                    p.victim_support_by_service(), t));
  outcomes.blocks.push_back(Tallies("... and what came of it", p.victim_support_by_outcome(), t));
  outcomes.blocks.push_back(
      Tallies("Children and young people's workers' contacts", p.child_contacts_by_kind(), t));
  outcomes.blocks.push_back(Tallies("Cases closed, by reason", p.closed_by_reason(), t));
  Block follow_ups =
      Tallies("Follow-up checks after closure, by months", p.follow_ups_by_months(), t, false);
  follow_ups.rows.push_back(
      TallyRow("finding police incidents since closure", p.follow_ups_with_police_incidents(), t));
  follow_ups.rows.push_back(
      TallyRow("police incidents found", p.police_incidents_at_follow_up(), t));
  follow_ups.rows.push_back(
      TallyRow("finding a repeat referral", p.follow_ups_with_repeat_referral(), t));
  outcomes.blocks.push_back(std::move(follow_ups));
  Block reach{"People reached", {"in the period", "to date"}, {}, false, ""};
  reach.rows.push_back({"perpetrators",
                        {CountWords(p.reached_in_period().perpetrators(), t),
                         CountWords(p.reached_to_date().perpetrators(), t)},
                        {}});
  reach.rows.push_back({"victims",
                        {CountWords(p.reached_in_period().victims(), t),
                         CountWords(p.reached_to_date().victims(), t)},
                        {}});
  reach.rows.push_back({"children",
                        {CountWords(p.reached_in_period().children(), t),
                         CountWords(p.reached_to_date().children(), t)},
                        {}});
  outcomes.blocks.push_back(std::move(reach));
  sections.push_back(std::move(outcomes));

  Section governance{"Information governance", {}};
  governance.blocks.push_back(
      Tallies("Events recorded, by agency", g.events_recorded_by_agency(), t));
  governance.blocks.push_back(
      Tallies("Disclosures (reads, timelines, deliveries, case lists), by recipient agency",
              g.disclosures_by_agency(), t));
  governance.blocks.push_back(
      Tallies("Events disclosed, by recipient agency", g.events_disclosed_by_agency(), t));
  governance.blocks.push_back(Tallies("Disclosures by recipient agency and data class",
                                      g.disclosures_by_agency_and_class(), t, false));
  governance.blocks.push_back(Tallies("Victim information shared, by the victim's consent",
                                      g.victim_sharing_by_consent(), t));
  governance.blocks.push_back(
      Tallies("Shared without consent, on the ground of", g.consent_overridden_by_ground(), t));
  governance.blocks.push_back(Tallies("Requests denied, by agency", g.denials_by_agency(), t));
  governance.blocks.push_back(Tallies("Requests denied, by request", g.denials_by_action(), t));
  Block oversight{"Oversight", {"count"}, {}, false, ""};
  oversight.rows.push_back(
      TallyRow("callers refused (revoked or unknown)", g.refused_callers(), t));
  oversight.rows.push_back(TallyRow("sharing protocol changes", g.protocol_changes(), t));
  oversight.rows.push_back(TallyRow("erasures", g.erasures(), t));
  oversight.rows.push_back(TallyRow("restrictions of processing", g.restrictions(), t));
  oversight.rows.push_back(TallyRow("subject access requests", g.subject_access_requests(), t));
  oversight.rows.push_back(TallyRow("backups", g.backups(), t));
  governance.blocks.push_back(std::move(oversight));
  sections.push_back(std::move(governance));
  return sections;
}

std::string Heading(const GetGovernanceReportResponse& report) {
  return absl::StrCat("Governance report for ", report.month(), " (",
                      DateText(report.period_start()), " to ", DateText(report.period_end()), ")");
}

std::string Provenance(const GetGovernanceReportResponse& report) {
  return absl::StrCat(
      "Produced ", google::protobuf::util::TimeUtil::ToString(report.produced_at()),
      " from the log up to position ", report.log_position(), " and ", report.audit_records(),
      " audit records, under sharing protocol ", report.protocol_version(), ".",
      report.for_publication()
          ? absl::StrCat(" For publication: counts from 1 to ", report.suppression_threshold() - 1,
                         " are shown as <", report.suppression_threshold(), ".")
          : " Not for publication: small numbers are shown.");
}

// A horizontal bar chart of a block's drawable rows, as inline SVG.
std::string BarChart(const Block& block) {
  std::vector<const Row*> bars;
  uint64_t most = 0;
  for (const Row& row : block.rows) {
    if (!row.bar.has_value()) continue;
    bars.push_back(&row);
    most = std::max(most, *row.bar);
  }
  most = std::max(most, block.target);
  if (bars.size() < 2 || most == 0) return "";
  constexpr int kLabelWidth = 230, kBarWidth = 360, kRow = 20;
  const int height = static_cast<int>(bars.size()) * kRow + 4;
  std::string svg = absl::StrFormat(
      "<svg class=\"chart\" role=\"img\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
      "xmlns=\"http://www.w3.org/2000/svg\"><title>%s</title>",
      kLabelWidth + kBarWidth + 60, height, kLabelWidth + kBarWidth + 60, height,
      HtmlEscape(block.title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const int y = static_cast<int>(i) * kRow + 2;
    const int width = static_cast<int>(static_cast<double>(*bars[i]->bar) / most * kBarWidth);
    absl::StrAppend(&svg,
                    absl::StrFormat("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>",
                                    kLabelWidth - 6, y + 13, HtmlEscape(bars[i]->label)),
                    absl::StrFormat("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>",
                                    kLabelWidth, y, std::max(width, 1), kRow - 6),
                    absl::StrFormat("<text x=\"%d\" y=\"%d\">%s</text>", kLabelWidth + width + 6,
                                    y + 13, HtmlEscape(bars[i]->values.front())));
  }
  if (block.target > 0) {
    const int x =
        kLabelWidth + static_cast<int>(static_cast<double>(block.target) / most * kBarWidth);
    absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%d\" y1=\"0\" x2=\"%d\" y2=\"%d\" "
                                          "stroke=\"#b00020\" stroke-width=\"2\" "
                                          "stroke-dasharray=\"4 3\"/>",
                                          x, x, height));
  }
  svg += "</svg>";
  return svg;
}

}  // namespace

std::string CountWords(const Tally& tally, uint32_t threshold) {
  if (tally.suppressed()) return absl::StrCat("<", std::max<uint32_t>(threshold, 1));
  return absl::StrCat(tally.count());
}

std::string LabelWords(const std::string& label) {
  if (const size_t to = label.find(" to "); to != std::string::npos) {
    return absl::StrCat(LabelWords(label.substr(0, to)), " to ", LabelWords(label.substr(to + 4)));
  }
  // "police VICTIM_LOCATION": an agency and a data class.
  if (const size_t space = label.find(' '); space != std::string::npos) {
    return absl::StrCat(label.substr(0, space), ": ", LabelWords(label.substr(space + 1)));
  }
  // The pool builds a file when something of it is first used, and an enum
  // value's name alone does not make it: the files of the labels' enums.
  static const bool loaded = hub::v1::EventEnvelope::descriptor() != nullptr &&
                             hub::v1::AuditRecord::descriptor() != nullptr;
  const google::protobuf::EnumValueDescriptor* value =
      loaded ? google::protobuf::DescriptorPool::generated_pool()->FindEnumValueByName("hub.v1." +
                                                                                       label)
             : nullptr;
  return value == nullptr ? label : EnumWords(value);
}

std::string ReportText(const GetGovernanceReportResponse& report) {
  std::string text = absl::StrCat(Heading(report), "\n", Provenance(report), "\n");
  for (const Section& section : SectionsOf(report)) {
    absl::StrAppend(&text, "\n", section.title, "\n", std::string(section.title.size(), '='), "\n");
    for (const Block& block : section.blocks) {
      absl::StrAppend(&text, "\n", block.title, "\n");
      if (block.columns.size() > 1) {
        absl::StrAppend(&text, absl::StrFormat("  %-36s", ""));
        for (const std::string& column : block.columns) {
          absl::StrAppend(&text, absl::StrFormat(" %14s", column));
        }
        text += "\n";
      }
      for (const Row& row : block.rows) {
        absl::StrAppend(&text, absl::StrFormat("  %-36s", row.label));
        for (const std::string& value : row.values) {
          absl::StrAppend(&text, absl::StrFormat(" %14s", value));
        }
        text += "\n";
      }
      if (!block.note.empty()) absl::StrAppend(&text, "  (", block.note, ")\n");
    }
  }
  if (!report.audit_checkpoint().empty()) {
    absl::StrAppend(&text, "\nAudit checkpoint after this report was recorded:\n",
                    report.audit_checkpoint());
  }
  return text;
}

std::string ReportHtml(const GetGovernanceReportResponse& report, const std::string& prepared_for) {
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; img-src data:\">"
      "<title>",
      HtmlEscape(Heading(report)), "</title><style>",
      R"css(
  body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10.5pt; color: #1b1b1b;
         max-width: 190mm; margin: 12mm auto; }
  h1 { font-size: 17pt; margin-bottom: 2mm; }
  h2 { font-size: 13pt; border-bottom: 2px solid #1d4f91; padding-bottom: 1mm; margin-top: 8mm; }
  h3 { font-size: 11pt; margin: 5mm 0 1.5mm; }
  p.meta { color: #444; font-size: 9pt; }
  p.mark { font-weight: bold; border: 1px solid #1b1b1b; padding: 2mm; }
  table { border-collapse: collapse; margin-bottom: 2mm; }
  th, td { padding: 0.8mm 3mm; border-bottom: 1px solid #ddd; text-align: right; }
  th:first-child, td:first-child { text-align: left; min-width: 70mm; }
  p.note { color: #555; font-style: italic; margin: 1mm 0; }
  svg.chart text { font-size: 11px; fill: #1b1b1b; font-family: "DejaVu Sans", sans-serif; }
  svg.chart rect { fill: #1d4f91; }
  pre { font-size: 8pt; white-space: pre-wrap; word-break: break-all; }
  section.block { break-inside: avoid; }
)css",
      kPrintStyle, "</style></head><body>\n");
  absl::StrAppend(&html, "<h1>", HtmlEscape(Heading(report)), "</h1>\n");
  absl::StrAppend(&html, "<p class=\"mark\">",
                  report.for_publication()
                      ? absl::StrCat("For publication: counts below ",
                                     report.suppression_threshold(), " are withheld.")
                      : "OFFICIAL-SENSITIVE: for the governance group. Small numbers are shown; "
                        "do not publish.",
                  "</p>\n");
  absl::StrAppend(&html, "<p class=\"meta\">", HtmlEscape(Provenance(report)),
                  prepared_for.empty() ? "" : " Prepared for ", HtmlEscape(prepared_for),
                  ".</p>\n");
  for (const Section& section : SectionsOf(report)) {
    absl::StrAppend(&html, "<h2>", HtmlEscape(section.title), "</h2>\n");
    for (const Block& block : section.blocks) {
      absl::StrAppend(&html, "<section class=\"block\"><h3>", HtmlEscape(block.title), "</h3>\n");
      if (block.chart) html += BarChart(block);
      if (!block.rows.empty()) {
        html += "<table><thead><tr><th></th>";
        for (const std::string& column : block.columns) {
          absl::StrAppend(&html, "<th>", HtmlEscape(column), "</th>");
        }
        html += "</tr></thead><tbody>";
        for (const Row& row : block.rows) {
          absl::StrAppend(&html, "<tr><td>", HtmlEscape(row.label), "</td>");
          for (const std::string& value : row.values) {
            absl::StrAppend(&html, "<td>", HtmlEscape(value), "</td>");
          }
          html += "</tr>";
        }
        html += "</tbody></table>\n";
      }
      if (!block.note.empty()) {
        absl::StrAppend(&html, "<p class=\"note\">", HtmlEscape(block.note), "</p>\n");
      }
      html += "</section>\n";
    }
  }
  if (!report.audit_checkpoint().empty()) {
    absl::StrAppend(&html,
                    "<h2>Audit checkpoint</h2><p class=\"meta\">Signed after this report's own "
                    "audit record was stored; check it with <code>hubctl audit verify "
                    "--checkpoints</code>.</p><pre>",
                    HtmlEscape(report.audit_checkpoint()), "</pre>\n");
  }
  html += "</body></html>\n";
  return html;
}

}  // namespace hub::tools
