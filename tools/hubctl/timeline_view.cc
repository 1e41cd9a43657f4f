#include "tools/hubctl/timeline_view.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"

#include "auth/data_classes.h"
#include "proto/enum_words.h"
#include "proto/field_words.h"

namespace hub::tools {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string Label(const std::string& field_name) {
  return absl::StrReplaceAll(field_name, {{"_", " "}});
}

std::string Date(const hub::v1::CalendarDate& date) { return DateWords(date); }

std::string Time(const google::protobuf::Timestamp& time) {
  return absl::FormatTime("%Y-%m-%d %H:%M",
                          absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos()),
                          absl::UTCTimeZone());
}

// Each field's values on one line: "abuse types" -> "physical, sexual".
void Flatten(const Message& message, std::vector<std::pair<std::string, std::string>>* out) {
  ForEachValue(
      message, "",
      [out](const FieldDescriptor* /*field*/, const std::string& path, int index,
            std::string words) {
        if (index > 0) {
          absl::StrAppend(&out->back().second, ", ", words);
        } else {
          out->emplace_back(absl::StrReplaceAll(path, {{"_", " "}, {".", " "}}), std::move(words));
        }
      });
}

std::string RiskWords(hub::v1::RiskLevel level) {
  return level == hub::v1::RISK_LEVEL_UNSPECIFIED ? "not known" : EnumWords(level);
}

std::string RouteWords(hub::v1::ReferralRoute route) {
  return route == hub::v1::REFERRAL_ROUTE_UNSPECIFIED ? "not known" : EnumWords(route);
}

std::string ActionsByAgency(const hub::v1::CaseOverview& overview) {
  std::vector<std::string> parts;
  for (const hub::v1::AgencyActions& agency : overview.actions()) {
    parts.push_back(agency.overdue() > 0 ? absl::StrCat(agency.agency(), " ", agency.open(), " (",
                                                        agency.overdue(), " overdue)")
                                         : absl::StrCat(agency.agency(), " ", agency.open()));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

constexpr char kStyle[] = R"css(
  :root { --ink: #1b1b1b; --muted: #505a5f; --rule: #b1b4b6; --band: #f3f2f1; --alert: #d4351c; }
  * { box-sizing: border-box; }
  body { font: 11pt/1.4 "DejaVu Sans", Arial, sans-serif; color: var(--ink); margin: 24px; }
  .marking { text-align: center; font-weight: bold; letter-spacing: .08em; border: 2px solid var(--ink);
             padding: 2px 0; margin-bottom: 12px; }
  h1 { font-size: 18pt; margin: 0 0 4px; }
  h2 { font-size: 13pt; margin: 18px 0 6px; border-bottom: 1px solid var(--rule); }
  .meta { color: var(--muted); margin: 0 0 12px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: 4px 6px; border-bottom: 1px solid var(--rule); }
  thead th { background: var(--band); border-bottom: 2px solid var(--ink); }
  table.overview th { width: 28%; background: var(--band); }
  td.when { white-space: nowrap; width: 9.5em; }
  td.agency { white-space: nowrap; width: 9em; }
  .summary { font-weight: bold; }
  .kind { color: var(--muted); font-size: 9pt; }
  dl.details { margin: 4px 0 0; display: grid; grid-template-columns: max-content 1fr; gap: 0 10px;
               font-size: 9.5pt; }
  dl.details dt { color: var(--muted); }
  dl.details dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
  .overdue { color: var(--alert); font-weight: bold; }
  footer { margin-top: 16px; color: var(--muted); font-size: 9pt; }
)css";

}  // namespace

const char kPrintStyle[] = R"css(
  @page { size: A4; margin: 14mm; }
  @media print {
    body { margin: 0; }
    thead { display: table-header-group; }
    tr { break-inside: avoid; }
  }
)css";

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> EventDetails(const hub::v1::EventEnvelope& event) {
  std::vector<std::pair<std::string, std::string>> details;
  const Message* body = auth::EventOf(event);
  if (body != nullptr) Flatten(*body, &details);
  if (event.purpose() != hub::v1::PURPOSE_UNSPECIFIED) {
    details.emplace_back(
        "shared for", Label(absl::AsciiStrToLower(
                          hub::v1::Purpose_Name(event.purpose()).substr(sizeof("PURPOSE_") - 1))));
  }
  if (!event.lawful_basis().empty()) details.emplace_back("lawful basis", event.lawful_basis());
  return details;
}

std::string TimelineTable(const CaseTimeline& timeline) {
  std::string out = absl::StrFormat(
      "Case %s: %d of %d events in your view%s (sharing protocol %s)\n", timeline.case_id,
      timeline.entries.size(), timeline.visible_events,
      timeline.filters.empty() ? "" : absl::StrCat(", filtered by ", timeline.filters),
      timeline.protocol_version);
  if (timeline.overview.has_value()) {
    const hub::v1::CaseOverview& overview = *timeline.overview;
    absl::StrAppendFormat(
        &out, "Risk %s; referred via %s on %s; case manager %s; open actions: %s\n",
        RiskWords(overview.risk_level()), RouteWords(overview.referral_route()),
        overview.has_referred_on() ? Date(overview.referred_on()) : "(not known)",
        overview.case_manager_id().empty() ? "(none)" : overview.case_manager_id(),
        ActionsByAgency(overview));
  }
  absl::StrAppendFormat(&out, "\n%-16s  %-18s  %-30s  %s\n", "occurred (UTC)", "recorded by",
                        "event", "summary");
  for (const hub::v1::TimelineEntry& entry : timeline.entries) {
    absl::StrAppendFormat(&out, "%-16s  %-18s  %-30s  %s\n", Time(entry.occurred_time()),
                          entry.agency(), entry.kind(), entry.summary());
  }
  return out;
}

std::string TimelineHtml(const CaseTimeline& timeline) {
  const std::string id = HtmlEscape(timeline.case_id);
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>Case timeline ",
      id, "</title>\n<style>", kStyle, kPrintStyle, "</style>\n</head>\n<body>\n",
      "<div class=\"marking\">OFFICIAL-SENSITIVE</div>\n<header>\n<h1>Case timeline: ", id,
      "</h1>\n<p class=\"meta\">Prepared for ", HtmlEscape(timeline.prepared_for), " on ",
      HtmlEscape(
          absl::FormatTime("%Y-%m-%d %H:%M UTC", timeline.generated_at, absl::UTCTimeZone())),
      " from the hub under sharing protocol ", HtmlEscape(timeline.protocol_version), ". ",
      timeline.entries.size(), " of ", timeline.visible_events, " events in this view",
      timeline.filters.empty() ? "" : absl::StrCat(", filtered by ", HtmlEscape(timeline.filters)),
      ".</p>\n</header>\n");
  if (timeline.overview.has_value()) {
    const hub::v1::CaseOverview& overview = *timeline.overview;
    auto row = [&html](const std::string& label, const std::string& value) {
      absl::StrAppend(&html, "<tr><th scope=\"row\">", HtmlEscape(label), "</th><td>", value,
                      "</td></tr>\n");
    };
    absl::StrAppend(&html, "<section>\n<h2>Overview</h2>\n<table class=\"overview\">\n");
    row("Risk level", HtmlEscape(RiskWords(overview.risk_level())));
    row("Referral",
        HtmlEscape(absl::StrCat(
            "via ", RouteWords(overview.referral_route()),
            overview.has_referred_on() ? absl::StrCat(" on ", Date(overview.referred_on())) : "")));
    row("Case manager",
        HtmlEscape(overview.case_manager_id().empty() ? "none allocated"
                                                      : overview.case_manager_id()));
    row("Status", overview.closed() ? "closed" : "open");
    row("Last activity",
        overview.has_last_activity() ? HtmlEscape(Time(overview.last_activity()) + " UTC") : "");
    std::string actions;
    for (const hub::v1::OpenAction& action : overview.open_action_details()) {
      const bool overdue =
          action.has_due_on() &&
          std::make_tuple(action.due_on().year(), action.due_on().month(), action.due_on().day()) <
              std::make_tuple(timeline.as_of.year(), timeline.as_of.month(), timeline.as_of.day());
      absl::StrAppend(
          &actions, "<li>", HtmlEscape(action.owner_agency()), ": ",
          HtmlEscape(action.description()),
          action.has_due_on()
              ? absl::StrCat(overdue ? " <span class=\"overdue\">(overdue: due " : " (due ",
                             Date(action.due_on()), overdue ? ")</span>" : ")")
              : "",
          "</li>");
    }
    row(absl::StrCat("Open actions as of ", Date(timeline.as_of)),
        absl::StrCat(overview.open_actions(), " open",
                     overview.overdue_actions() > 0
                         ? absl::StrCat(", <span class=\"overdue\">", overview.overdue_actions(),
                                        " overdue</span>")
                         : "",
                     " &mdash; ", HtmlEscape(ActionsByAgency(overview)),
                     actions.empty() ? "" : absl::StrCat("<ul>", actions, "</ul>")));
    absl::StrAppend(&html, "</table>\n</section>\n");
  }
  absl::StrAppend(&html,
                  "<section>\n<h2>Timeline</h2>\n<table class=\"timeline\">\n<thead><tr>"
                  "<th>Occurred (UTC)</th><th>Recorded by</th><th>Event</th></tr></thead>\n"
                  "<tbody>\n");
  for (const hub::v1::TimelineEntry& entry : timeline.entries) {
    absl::StrAppend(&html, "<tr><td class=\"when\">", HtmlEscape(Time(entry.occurred_time())),
                    "</td><td class=\"agency\">", HtmlEscape(entry.agency()),
                    "</td><td><div class=\"summary\">", HtmlEscape(entry.summary()),
                    "</div><div class=\"kind\">", HtmlEscape(Label(entry.kind())),
                    "</div>\n<dl class=\"details\">");
    for (const auto& [label, value] : EventDetails(entry.event())) {
      absl::StrAppend(&html, "<dt>", HtmlEscape(label), "</dt><dd>", HtmlEscape(value), "</dd>");
    }
    absl::StrAppend(&html, "</dl></td></tr>\n");
  }
  if (timeline.entries.empty()) {
    absl::StrAppend(&html,
                    "<tr><td colspan=\"3\">No events of this case in your view.</td></tr>\n");
  }
  absl::StrAppend(
      &html,
      "</tbody>\n</table>\n</section>\n<footer>This page shows only what the sharing "
      "protocol lets its recipient see; the hub recorded this access in its audit. Handle, "
      "store and destroy it as the partnership's information sharing agreement requires."
      "</footer>\n<div class=\"marking\">OFFICIAL-SENSITIVE</div>\n</body>\n</html>\n");
  return html;
}

std::string CasesTable(const hub::v1::ListCasesResponse& cases) {
  std::string out = absl::StrFormat("%-16s  %-9s  %-6s  %-10s  %-8s  %5s  %7s  %-16s  %s\n", "case",
                                    "risk", "route", "referred", "manager", "open", "overdue",
                                    "last activity", "actions by agency");
  for (const hub::v1::CaseOverview& overview : cases.cases()) {
    absl::StrAppendFormat(&out, "%-16s  %-9s  %-6s  %-10s  %-8s  %5d  %7d  %-16s  %s\n",
                          overview.case_id(), RiskWords(overview.risk_level()),
                          RouteWords(overview.referral_route()), Date(overview.referred_on()),
                          overview.case_manager_id(), overview.open_actions(),
                          overview.overdue_actions(),
                          overview.has_last_activity() ? Time(overview.last_activity()) : "",
                          ActionsByAgency(overview));
  }
  return out;
}

}  // namespace hub::tools
