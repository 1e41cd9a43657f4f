#include "tools/hubctl/subject_access_view.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

#include "proto/enum_words.h"

#include "tools/hubctl/timeline_view.h"

namespace hub::tools {
namespace {

std::string Time(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

std::string Words(const std::string& name) {
  return absl::StrReplaceAll(name, {{"_", " "}, {".", " "}});
}

// A value's field without the event type it sits in: "current address".
std::string FieldWords(const hub::v1::HeldValue& value, const std::string& event_type) {
  std::string field = value.field();
  if (field.rfind(event_type + ".", 0) == 0) field.erase(0, event_type.size() + 1);
  return Words(field);
}

std::string RoleWords(hub::v1::SubjectRole role) {
  return role == hub::v1::SUBJECT_ROLE_UNSPECIFIED ? "named in an event" : EnumWords(role);
}

std::string ActionWords(hub::v1::AuditAction action) {
  switch (action) {
    case hub::v1::AUDIT_READ_CASE:
      return "read the case";
    case hub::v1::AUDIT_READ_TIMELINE:
      return "read the case timeline";
    case hub::v1::AUDIT_DELIVER:
      return "delivered by subscription";
    case hub::v1::AUDIT_LIST_CASES:
      return "case overview";
    default:
      return EnumWords(action);
  }
}

std::string ErasedWords(const hub::v1::ErasedContent& erased) {
  return absl::StrCat(
      EnumWords(erased.erased_class()),
      erased.restricted() ? ": withheld, processing restricted since " : ": erased on ",
      Time(erased.erased_at()), erased.restricted() ? "" : absl::StrCat(" (", erased.rule(), ")"));
}

struct Counts {
  int own = 0;
  int review = 0;
  int withheld = 0;
};

Counts CountsOf(const hub::v1::HeldEvent& event) {
  Counts counts;
  for (const hub::v1::HeldValue& value : event.values()) {
    switch (value.disposition()) {
      case hub::v1::SUBJECTS_OWN:
        ++counts.own;
        break;
      case hub::v1::CONCERNS_OTHERS_TOO:
        ++counts.review;
        break;
      default:
        ++counts.withheld;
    }
  }
  return counts;
}

constexpr char kStyle[] = R"css(
  :root { --ink: #1b1b1b; --muted: #555; --rule: #c8c8c8; --review: #8a4b00; --band: #f3f3f3; }
  body { font: 11pt/1.4 "DejaVu Sans", Arial, sans-serif; color: var(--ink); margin: 24px; }
  h1 { font-size: 18pt; margin: 0 0 4px; }
  h2 { font-size: 13pt; margin: 20px 0 6px; border-bottom: 1px solid var(--rule); }
  .meta, footer { color: var(--muted); font-size: 9.5pt; }
  .notice { border: 1px solid var(--review); padding: 8px 10px; margin: 12px 0; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: 4px 6px;
           border-bottom: 1px solid var(--rule); }
  thead th { background: var(--band); }
  dl { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; }
  dt { color: var(--muted); }
  dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
  .review { color: var(--review); font-weight: bold; }
  .gone { color: var(--muted); font-style: italic; }
)css";

}  // namespace

std::string SubjectAccessSummary(const hub::v1::SubjectAccessResponse& pack) {
  std::string out = absl::StrFormat(
      "Subject %s: %d event(s) in %d case(s), %d disclosure(s) (log through position %d, audit "
      "through record %d)\n",
      pack.subject_id(), pack.events_size(), pack.cases_size(), pack.disclosures_size(),
      pack.log_position(), pack.audit_size());
  for (const hub::v1::SubjectInCase& in_case : pack.cases()) {
    absl::StrAppendFormat(&out, "  case %s: %s\n", in_case.case_id(), RoleWords(in_case.role()));
  }
  absl::StrAppendFormat(&out, "\n%-9s  %-16s  %-16s  %-30s  %-16s  %s\n", "position",
                        "occurred (UTC)", "case", "event", "recorded by", "own/review/withheld");
  for (const hub::v1::HeldEvent& event : pack.events()) {
    const Counts counts = CountsOf(event);
    absl::StrAppendFormat(&out, "%-9d  %-16s  %-16s  %-30s  %-16s  %d/%d/%d%s\n",
                          event.log_position(), Time(event.occurred_time()), event.case_id(),
                          Words(event.event_type()), event.producing_agency(), counts.own,
                          counts.review, counts.withheld,
                          event.erased_size() > 0 ? " (part erased or restricted)" : "");
  }
  if (pack.disclosures_size() > 0) {
    absl::StrAppendFormat(&out, "\n%-16s  %-28s  %-26s  %s\n", "when (UTC)", "recipient", "how",
                          "events");
    for (const hub::v1::SubjectDataDisclosure& disclosure : pack.disclosures()) {
      absl::StrAppendFormat(&out, "%-16s  %-28s  %-26s  %s\n", Time(disclosure.time()),
                            disclosure.recipient_identity(), ActionWords(disclosure.action()),
                            absl::StrJoin(disclosure.log_positions(), ","));
    }
  }
  return out;
}

std::string SubjectAccessHtml(const hub::v1::SubjectAccessResponse& pack,
                              const std::string& reference) {
  // Events are numbered in the pack so that disclosures can point at them.
  std::map<uint64_t, int> number_of;
  for (const hub::v1::HeldEvent& event : pack.events()) {
    number_of.emplace(event.log_position(), static_cast<int>(number_of.size()) + 1);
  }
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>Subject access pack: ",
      HtmlEscape(pack.subject_id()), "</title>\n<style>", kStyle, kPrintStyle,
      "</style>\n</head>\n<body>\n<h1>Subject access pack: ", HtmlEscape(pack.subject_id()),
      "</h1>\n<p class=\"meta\">Request reference ", HtmlEscape(reference), ". Produced on ",
      HtmlEscape(Time(pack.produced_at())), " UTC from the hub's event log (through position ",
      pack.log_position(), ") and its access audit (through record ", pack.audit_size(),
      "). UK GDPR Art 15; DPA 2018 s45.</p>\n"
      "<div class=\"notice\"><strong>Before release.</strong> Items marked "
      "<span class=\"review\">review</span> also concern other people: release them only after "
      "considering DPA 2018 s45(4). Items about other people only are withheld; the hub did not "
      "hand over their values, and only how many there were is shown.</div>\n");

  absl::StrAppend(&html,
                  "<section>\n<h2>Cases</h2>\n<table>\n<thead><tr><th>Case</th><th>The subject "
                  "is</th></tr></thead>\n<tbody>\n");
  for (const hub::v1::SubjectInCase& in_case : pack.cases()) {
    absl::StrAppend(&html, "<tr><td>", HtmlEscape(in_case.case_id()), "</td><td>",
                    HtmlEscape(RoleWords(in_case.role())), "</td></tr>\n");
  }
  absl::StrAppend(&html, "</tbody>\n</table>\n</section>\n");

  absl::StrAppend(&html,
                  "<section>\n<h2>What the hub holds</h2>\n<table>\n<thead><tr><th>#</th>"
                  "<th>Occurred (UTC)</th><th>Case</th><th>Recorded by</th><th>Event</th>"
                  "</tr></thead>\n<tbody>\n");
  for (const hub::v1::HeldEvent& event : pack.events()) {
    std::string details;
    std::set<std::string> withheld_classes;
    int withheld = 0;
    for (const hub::v1::HeldValue& value : event.values()) {
      if (value.disposition() == hub::v1::OTHER_PEOPLES) {
        ++withheld;
        withheld_classes.insert(EnumWords(value.data_class()));
        continue;
      }
      absl::StrAppend(&details, "<dt>", HtmlEscape(FieldWords(value, event.event_type())),
                      "</dt><dd>", HtmlEscape(value.value()),
                      value.disposition() == hub::v1::CONCERNS_OTHERS_TOO
                          ? " <span class=\"review\">review: also concerns others</span>"
                          : "",
                      "</dd>");
    }
    if (event.purpose() != hub::v1::PURPOSE_UNSPECIFIED) {
      absl::StrAppend(&details, "<dt>shared for</dt><dd>", HtmlEscape(EnumWords(event.purpose())),
                      "</dd>");
    }
    if (!event.lawful_basis().empty()) {
      absl::StrAppend(&details, "<dt>lawful basis</dt><dd>", HtmlEscape(event.lawful_basis()),
                      "</dd>");
    }
    for (const hub::v1::ErasedContent& erased : event.erased()) {
      absl::StrAppend(&details, "<dt class=\"gone\">no longer held</dt><dd class=\"gone\">",
                      HtmlEscape(ErasedWords(erased)), "</dd>");
    }
    if (withheld > 0) {
      absl::StrAppend(&details, "<dt class=\"gone\">withheld</dt><dd class=\"gone\">", withheld,
                      " item(s) about other people (",
                      HtmlEscape(absl::StrJoin(withheld_classes, ", ")), ")</dd>");
    }
    absl::StrAppend(&html, "<tr><td>", number_of[event.log_position()], "</td><td>",
                    HtmlEscape(Time(event.occurred_time())), "</td><td>",
                    HtmlEscape(event.case_id()), "</td><td>", HtmlEscape(event.producing_agency()),
                    "</td><td><strong>", HtmlEscape(Words(event.event_type())), "</strong><dl>",
                    details, "</dl></td></tr>\n");
  }
  absl::StrAppend(&html, "</tbody>\n</table>\n</section>\n");

  absl::StrAppend(&html,
                  "<section>\n<h2>Who received it</h2>\n<p class=\"meta\">From the hub's access "
                  "audit: each time an agency read or was sent the events above, under which "
                  "rules.</p>\n<table>\n<thead><tr><th>When (UTC)</th><th>Recipient</th>"
                  "<th>How</th><th>Events</th><th>Under</th></tr></thead>\n<tbody>\n");
  for (const hub::v1::SubjectDataDisclosure& disclosure : pack.disclosures()) {
    std::vector<std::string> events;
    for (uint64_t position : disclosure.log_positions()) {
      events.push_back(absl::StrCat("#", number_of[position]));
    }
    std::vector<std::string> under(disclosure.rules().begin(), disclosure.rules().end());
    under.insert(under.end(), disclosure.lawful_bases().begin(), disclosure.lawful_bases().end());
    absl::StrAppend(&html, "<tr><td>", HtmlEscape(Time(disclosure.time())), "</td><td>",
                    HtmlEscape(disclosure.recipient_agency()), "<br><span class=\"meta\">",
                    HtmlEscape(disclosure.recipient_identity()), "</span></td><td>",
                    HtmlEscape(ActionWords(disclosure.action())),
                    disclosure.purpose() != hub::v1::PURPOSE_UNSPECIFIED
                        ? absl::StrCat(", for ", HtmlEscape(EnumWords(disclosure.purpose())))
                        : "",
                    "</td><td>",
                    HtmlEscape(events.empty() ? absl::StrCat("overview of ", disclosure.case_id())
                                              : absl::StrJoin(events, ", ")),
                    "</td><td>", HtmlEscape(absl::StrJoin(under, "; ")), "</td></tr>\n");
  }
  if (pack.disclosures_size() == 0) {
    absl::StrAppend(&html,
                    "<tr><td colspan=\"5\">No agency has read or been sent these "
                    "events.</td></tr>\n");
  }
  absl::StrAppend(&html,
                  "</tbody>\n</table>\n</section>\n<footer>Drive multi-agency hub: subject access "
                  "pack for review by the data protection officer.</footer>\n</body>\n</html>\n");
  return html;
}

}  // namespace hub::tools
