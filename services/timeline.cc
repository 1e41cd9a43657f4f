#include "services/timeline.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

#include "auth/data_classes.h"
#include "proto/enum_words.h"

namespace hub::services {
namespace {

using hub::v1::CalendarDate;

// Longer free text is cut in a summary line; the full event is beside it.
constexpr size_t kMaxTextInSummary = 80;

bool IsSet(const CalendarDate& date) { return date.year() != 0; }

std::string Date(const CalendarDate& date) {
  return absl::StrFormat("%04d-%02d-%02d", date.year(), date.month(), date.day());
}

// An enum value in words (proto/enum_words.h). The prefix argument is the
// one the values share; it documents what is dropped. Each type's words are
// made once: every entry of every timeline is described.
template <typename Enum>
std::string Words(Enum value, std::string_view /*shared_prefix*/ = "") {
  static const auto* const kWords = [] {
    auto* words = new absl::flat_hash_map<int, std::string>();
    const google::protobuf::EnumDescriptor* type = google::protobuf::GetEnumDescriptor<Enum>();
    for (int i = 0; i < type->value_count(); ++i) {
      words->emplace(type->value(i)->number(), EnumWords(type->value(i)));
    }
    return words;
  }();
  const auto found = kWords->find(static_cast<int>(value));
  return found != kWords->end()
             ? found->second
             : EnumWords(static_cast<const google::protobuf::EnumValueDescriptor*>(nullptr));
}

std::string Cut(const std::string& text) {
  if (text.size() <= kMaxTextInSummary) return text;
  // Cut at a character boundary: never in the middle of a UTF-8 sequence.
  size_t end = kMaxTextInSummary;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(text.substr(0, end), "...");
}

// Joins the non-empty parts with ", ".
std::string Details(std::vector<std::string> parts) {
  parts.erase(std::remove(parts.begin(), parts.end(), std::string()), parts.end());
  return absl::StrJoin(parts, ", ");
}

// "Title: details" or "Title" when nothing further is visible.
std::string Line(const std::string& title, const std::string& details) {
  return details.empty() ? title : absl::StrCat(title, ": ", details);
}

std::string DescribeSubject(const hub::v1::SubjectLinked& linked) {
  switch (linked.subject_case()) {
    case hub::v1::SubjectLinked::kPerpetrator:
      return Line("Perpetrator linked", linked.perpetrator().subject_id());
    case hub::v1::SubjectLinked::kVictim: {
      const hub::v1::VictimSubject& victim = linked.victim();
      return Line("Victim linked",
                  Details({victim.subject_id(),
                           victim.relationship_to_perpetrator() == 0
                               ? ""
                               : Words(victim.relationship_to_perpetrator()),
                           victim.supporting_agencies().empty()
                               ? ""
                               : absl::StrCat("supported by ",
                                              absl::StrJoin(victim.supporting_agencies(), ", "))}));
    }
    case hub::v1::SubjectLinked::kChild: {
      const hub::v1::ChildSubject& child = linked.child();
      return Line(
          "Child linked",
          Details({child.subject_id(), child.relationship() == 0 ? "" : Words(child.relationship()),
                   child.age_years() == 0 ? "" : absl::StrCat("age ", child.age_years())}));
    }
    default:
      return "Subject linked";
  }
}

}  // namespace

TimelinePlace PlaceOf(const hub::v1::EventEnvelope& event) {
  const google::protobuf::Timestamp& time =
      event.has_occurred_time() ? event.occurred_time() : event.recorded_time();
  return TimelinePlace{time.seconds(), time.nanos(), event.stream_version()};
}

std::string TimelinePageToken(const std::string& case_id, const TimelinePlace& last) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("t2\n", case_id, "\n", last.seconds, "\n", last.nanos, "\n", last.version));
}

absl::StatusOr<TimelinePlace> TimelinePlaceFromToken(const std::string& token,
                                                     const std::string& case_id) {
  std::string decoded;
  const std::vector<std::string> parts =
      absl::WebSafeBase64Unescape(token, &decoded)
          ? std::vector<std::string>(absl::StrSplit(decoded, '\n'))
          : std::vector<std::string>();
  TimelinePlace place;
  if (parts.size() != 5 || parts[0] != "t2" || !absl::SimpleAtoi(parts[2], &place.seconds) ||
      !absl::SimpleAtoi(parts[3], &place.nanos) || !absl::SimpleAtoi(parts[4], &place.version)) {
    return absl::InvalidArgumentError("page_token is not a timeline token this hub issued");
  }
  if (parts[1] != case_id) {
    return absl::InvalidArgumentError("page_token belongs to another case's timeline");
  }
  return place;
}

std::string DescribeEvent(const hub::v1::EventEnvelope& visible) {
  using hub::v1::EventEnvelope;
  switch (visible.event_case()) {
    case EventEnvelope::kReferralReceived: {
      const hub::v1::ReferralReceived& referral = visible.referral_received();
      return Line(
          "Referral received",
          Details(
              {referral.route() == 0 ? "" : absl::StrCat("via ", Words(referral.route(), "ROUTE_")),
               referral.referring_agency().empty()
                   ? ""
                   : absl::StrCat("from ", referral.referring_agency()),
               referral.marac_criterion() == hub::v1::MARAC_CRITERION_UNSPECIFIED ||
                       referral.marac_criterion() == hub::v1::NOT_A_MARAC_REFERRAL
                   ? ""
                   : Words(referral.marac_criterion()),
               referral.eligibility() == 0 ? "" : Words(referral.eligibility(), "ELIGIBILITY_"),
               referral.decline_reason().empty() ? "" : Cut(referral.decline_reason()),
               referral.serial_perpetrator() ? "serial perpetrator" : "",
               referral.repeat_perpetrator() ? "repeat perpetrator" : ""}));
    }
    case EventEnvelope::kSubjectLinked:
      return DescribeSubject(visible.subject_linked());
    case EventEnvelope::kRiskAssessed: {
      const hub::v1::RiskAssessed& risk = visible.risk_assessed();
      std::string score;
      if (risk.tool() == hub::v1::DASH && risk.dash_yes_count() > 0) {
        score = absl::StrCat("DASH ", risk.dash_yes_count(), " of 24");
      } else if (risk.tool() == hub::v1::RFG && risk.rfg_score() > 0) {
        score = absl::StrCat("RFG score ", risk.rfg_score());
      } else if (risk.tool() != 0) {
        score = Words(risk.tool());
      }
      return Line(
          "Risk assessed",
          Details(
              {risk.risk_level() == 0 ? "" : Words(risk.risk_level(), "RISK_"), score,
               risk.raised_by_professional_judgement() ? "raised by professional judgement" : ""}));
    }
    case EventEnvelope::kCaseAllocated: {
      const hub::v1::CaseAllocated& allocated = visible.case_allocated();
      return Line("Case allocated",
                  Details({allocated.case_manager_id().empty()
                               ? ""
                               : absl::StrCat("to case manager ", allocated.case_manager_id()),
                           IsSet(allocated.allocated_on())
                               ? absl::StrCat("on ", Date(allocated.allocated_on()))
                               : ""}));
    }
    case EventEnvelope::kEngagementRecorded: {
      const hub::v1::EngagementRecorded& engagement = visible.engagement_recorded();
      return Line("Engagement", Details({engagement.kind() == 0 ? "" : Words(engagement.kind()),
                                         IsSet(engagement.session_date())
                                             ? absl::StrCat("on ", Date(engagement.session_date()))
                                             : ""}));
    }
    case EventEnvelope::kInterventionPlanAgreed: {
      const hub::v1::InterventionPlanAgreed& plan = visible.intervention_plan_agreed();
      std::vector<std::string> support;
      for (int service : plan.support_goals()) {
        support.push_back(Words(static_cast<hub::v1::SupportService>(service)));
      }
      return Line(
          "Intervention plan agreed",
          Details(
              {plan.disruption_goals().empty()
                   ? ""
                   : absl::StrCat(plan.disruption_goals_size(), " disruption goal",
                                  plan.disruption_goals_size() == 1 ? "" : "s"),
               support.empty() ? "" : absl::StrCat("support: ", absl::StrJoin(support, ", ")),
               IsSet(plan.review_on()) ? absl::StrCat("review on ", Date(plan.review_on())) : ""}));
    }
    case EventEnvelope::kActionTasked: {
      const hub::v1::ActionTasked& action = visible.action_tasked();
      return Line(
          absl::StrCat("Action ", action.action_id(), " tasked"),
          Details({action.owner_agency().empty() ? "" : absl::StrCat("to ", action.owner_agency()),
                   IsSet(action.due_on()) ? absl::StrCat("due ", Date(action.due_on())) : "",
                   Cut(action.description())}));
    }
    case EventEnvelope::kActionUpdated: {
      const hub::v1::ActionUpdated& action = visible.action_updated();
      return Line(
          absl::StrCat("Action ", action.action_id(), " updated"),
          Details({action.status() == 0 ? "" : Words(action.status(), "ACTION_"),
                   IsSet(action.due_on()) ? absl::StrCat("now due ", Date(action.due_on())) : ""}));
    }
    case EventEnvelope::kActionCompleted: {
      const hub::v1::ActionCompleted& action = visible.action_completed();
      return Line(
          absl::StrCat("Action ", action.action_id(), " closed"),
          Details({action.final_status() == 0 ? "" : Words(action.final_status(), "ACTION_"),
                   IsSet(action.completed_on()) ? absl::StrCat("on ", Date(action.completed_on()))
                                                : ""}));
    }
    case EventEnvelope::kDisruptionRecorded: {
      const hub::v1::DisruptionRecorded& disruption = visible.disruption_recorded();
      return Line("Disruption",
                  Details({disruption.kind() == 0 ? "" : Words(disruption.kind()),
                           IsSet(disruption.effective_on())
                               ? absl::StrCat("from ", Date(disruption.effective_on()))
                               : "",
                           IsSet(disruption.expires_on())
                               ? absl::StrCat("until ", Date(disruption.expires_on()))
                               : "",
                           disruption.electronic_monitoring() ? "electronic monitoring" : ""}));
    }
    case EventEnvelope::kSupportReferralMade: {
      const hub::v1::SupportReferralMade& support = visible.support_referral_made();
      return Line("Support referral",
                  Details({support.service() == 0 ? "" : Words(support.service()),
                           support.provider_agency().empty()
                               ? ""
                               : absl::StrCat("to ", support.provider_agency()),
                           support.accepted() ? "accepted" : ""}));
    }
    case EventEnvelope::kVictimSafetyInformation: {
      const hub::v1::VictimSafetyInformation& safety = visible.victim_safety_information();
      return Line(
          "Victim safety update",
          Details(
              {safety.victim_subject_id(),
               safety.risk_change() == 0 ? "" : absl::StrCat("risk ", Words(safety.risk_change())),
               safety.safety_plan_in_place() ? "safety plan in place" : ""}));
    }
    case EventEnvelope::kChildSafeguardingInformation: {
      const hub::v1::ChildSafeguardingInformation& child = visible.child_safeguarding_information();
      return Line("Child safeguarding update",
                  Details({child.child_subject_id(),
                           child.plan_status() == 0 ? "" : Words(child.plan_status())}));
    }
    case EventEnvelope::kPanelOutcome: {
      const hub::v1::PanelOutcome& panel = visible.panel_outcome();
      return Line(
          panel.panel() == 0 ? std::string("Panel outcome")
                             : absl::StrCat(Words(panel.panel(), ""), " outcome"),
          Details({IsSet(panel.held_on()) ? absl::StrCat("held ", Date(panel.held_on())) : "",
                   panel.actions_agreed() == 0
                       ? ""
                       : absl::StrCat(panel.actions_agreed(), " actions agreed"),
                   panel.repeat_referral() ? "repeat referral" : "",
                   IsSet(panel.next_review_on())
                       ? absl::StrCat("next review ", Date(panel.next_review_on()))
                       : ""}));
    }
    case EventEnvelope::kDisclosureSchemeDecision: {
      const hub::v1::DisclosureSchemeDecision& decision = visible.disclosure_scheme_decision();
      return Line(
          "Disclosure scheme decision",
          Details({decision.route() == 0 ? "" : Words(decision.route()),
                   decision.disclosed() ? "disclosed" : "",
                   IsSet(decision.decided_on()) ? absl::StrCat("on ", Date(decision.decided_on()))
                                                : ""}));
    }
    case EventEnvelope::kCaseClosed: {
      const hub::v1::CaseClosed& closed = visible.case_closed();
      return Line("Case closed",
                  Details({closed.reason() == 0 ? "" : Words(closed.reason()),
                           IsSet(closed.closed_on()) ? absl::StrCat("on ", Date(closed.closed_on()))
                                                     : ""}));
    }
    case EventEnvelope::kCaseReopened: {
      const hub::v1::CaseReopened& reopened = visible.case_reopened();
      return Line("Case reopened", Details({reopened.reason(),
                                            IsSet(reopened.reopened_on())
                                                ? absl::StrCat("on ", Date(reopened.reopened_on()))
                                                : ""}));
    }
    case EventEnvelope::kNeedsAssessed: {
      const hub::v1::NeedsAssessed& assessed = visible.needs_assessed();
      std::vector<std::string> needs;
      for (int need : assessed.needs()) {
        needs.push_back(Words(static_cast<hub::v1::PerpetratorNeed>(need), "NEED_"));
      }
      return Line("Needs assessed", Details({absl::StrJoin(needs, ", "),
                                             IsSet(assessed.assessed_on())
                                                 ? absl::StrCat("on ", Date(assessed.assessed_on()))
                                                 : ""}));
    }
    case EventEnvelope::kVictimSupportReferred: {
      const hub::v1::VictimSupportReferred& support = visible.victim_support_referred();
      return Line(
          "Victim referred for support",
          Details({support.victim_subject_id(),
                   support.service() == 0 ? "" : Words(support.service()),
                   support.outcome() == 0 ? "" : Words(support.outcome(), "SUPPORT_"),
                   IsSet(support.referred_on()) ? absl::StrCat("on ", Date(support.referred_on()))
                                                : ""}));
    }
    case EventEnvelope::kChildWorkerContact: {
      const hub::v1::ChildWorkerContact& contact = visible.child_worker_contact();
      return Line(
          "Children's worker contact",
          Details({contact.child_subject_id(),
                   contact.kind() == 0 ? "" : Words(contact.kind(), "CHILD_"),
                   IsSet(contact.contact_on()) ? absl::StrCat("on ", Date(contact.contact_on()))
                                               : ""}));
    }
    case EventEnvelope::kFollowUpChecked: {
      const hub::v1::FollowUpChecked& check = visible.follow_up_checked();
      return Line(
          check.months_after_closure() == 0
              ? std::string("Follow-up check")
              : absl::StrCat(check.months_after_closure(), "-month follow-up"),
          Details({IsSet(check.checked_on()) ? absl::StrCat("on ", Date(check.checked_on())) : "",
                   check.police_incidents_since_closure() == 0
                       ? ""
                       : absl::StrCat(check.police_incidents_since_closure(),
                                      " police incident(s) since closure"),
                   check.repeat_referral() ? "referred again" : ""}));
    }
    case EventEnvelope::kProtocolChanged:
      return Line("Sharing protocol changed", visible.protocol_changed().version());
    case EventEnvelope::kDataErased:
      return Line("Personal data erased",
                  Details({visible.data_erased().scope(), visible.data_erased().rule(),
                           visible.data_erased().reference()}));
    case EventEnvelope::kProcessingRestricted:
      return Line(visible.processing_restricted().lifted() ? "Restriction of processing lifted"
                                                           : "Processing restricted",
                  Details({visible.processing_restricted().scope(),
                           visible.processing_restricted().reference()}));
    case EventEnvelope::kRecordCorrected: {
      const hub::v1::RecordCorrected& correction = visible.record_corrected();
      const google::protobuf::FieldDescriptor* member = auth::CorrectedTypeOf(correction);
      const std::string corrected = member == nullptr ? "" : member->name();
      return Line(
          "Record corrected",
          Details({corrected.empty() ? "" : absl::StrReplaceAll(corrected, {{"_", " "}}),
                   correction.fields().empty()
                       ? ""
                       : absl::StrCat("fields: ",
                                      absl::StrReplaceAll(absl::StrJoin(correction.fields(), ", "),
                                                          {{"_", " "}})),
                   correction.reason()}));
    }
    case EventEnvelope::EVENT_NOT_SET:
      break;
  }
  return "Event (no detail visible)";
}

absl::Status ValidateEventTypeNames(const google::protobuf::RepeatedPtrField<std::string>& types) {
  const google::protobuf::OneofDescriptor* events =
      hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
  for (const std::string& type : types) {
    bool known = false;
    for (int i = 0; i < events->field_count(); ++i) known |= events->field(i)->name() == type;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "event_types names \"", type,
          "\", which is not an event type; use EventEnvelope's event field names, e.g. "
          "risk_assessed"));
    }
  }
  return absl::OkStatus();
}

bool InTimeline(const hub::v1::GetCaseTimelineRequest& request,
                const hub::v1::EventEnvelope& event) {
  const TimelinePlace place = PlaceOf(event);
  if (request.has_from_time() &&
      std::make_tuple(place.seconds, place.nanos) <
          std::make_tuple(request.from_time().seconds(), request.from_time().nanos())) {
    return false;
  }
  if (request.has_to_time() &&
      std::make_tuple(request.to_time().seconds(), request.to_time().nanos()) <
          std::make_tuple(place.seconds, place.nanos)) {
    return false;
  }
  if (!request.agencies().empty() &&
      std::find(request.agencies().begin(), request.agencies().end(), event.producing_agency()) ==
          request.agencies().end()) {
    return false;
  }
  if (!request.event_types().empty() &&
      std::find(request.event_types().begin(), request.event_types().end(),
                auth::EventTypeName(event)) == request.event_types().end()) {
    return false;
  }
  return true;
}

namespace {

bool Before(const CalendarDate& a, const CalendarDate& b) {
  return std::make_tuple(a.year(), a.month(), a.day()) <
         std::make_tuple(b.year(), b.month(), b.day());
}

}  // namespace

hub::v1::CaseOverview OverviewOf(const hub::v1::CaseSummary& summary, const CalendarDate& as_of) {
  hub::v1::CaseOverview overview;
  overview.set_case_id(summary.case_id());
  overview.set_risk_level(summary.risk_level());
  overview.set_referral_route(summary.referral_route());
  if (summary.has_referred_on()) *overview.mutable_referred_on() = summary.referred_on();
  overview.set_case_manager_id(summary.case_manager_id());
  if (summary.has_last_activity()) *overview.mutable_last_activity() = summary.last_activity();
  overview.set_closed(summary.closed());
  overview.set_visible_events(summary.visible_events());
  std::map<std::string, hub::v1::AgencyActions> by_agency;
  std::vector<hub::v1::OpenAction> open(summary.open_actions().begin(),
                                        summary.open_actions().end());
  for (const hub::v1::OpenAction& action : open) {
    hub::v1::AgencyActions& counts = by_agency[action.owner_agency()];
    counts.set_agency(action.owner_agency());
    counts.set_open(counts.open() + 1);
    if (IsSet(action.due_on()) && Before(action.due_on(), as_of)) {
      counts.set_overdue(counts.overdue() + 1);
      overview.set_overdue_actions(overview.overdue_actions() + 1);
    }
  }
  overview.set_open_actions(static_cast<uint32_t>(open.size()));
  for (auto& [agency, counts] : by_agency) *overview.add_actions() = std::move(counts);
  // Soonest due first; actions without a due date last.
  std::stable_sort(open.begin(), open.end(),
                   [](const hub::v1::OpenAction& a, const hub::v1::OpenAction& b) {
                     if (IsSet(a.due_on()) != IsSet(b.due_on())) return IsSet(a.due_on());
                     return Before(a.due_on(), b.due_on());
                   });
  for (hub::v1::OpenAction& action : open) *overview.add_open_action_details() = std::move(action);
  return overview;
}

bool MatchesFilters(const hub::v1::ListCasesRequest& request,
                    const hub::v1::CaseOverview& overview) {
  if (overview.closed() && !request.include_closed()) return false;
  if (request.min_risk_level() != hub::v1::RISK_LEVEL_UNSPECIFIED &&
      overview.risk_level() < request.min_risk_level()) {
    return false;
  }
  if (request.referral_route() != hub::v1::REFERRAL_ROUTE_UNSPECIFIED &&
      overview.referral_route() != request.referral_route()) {
    return false;
  }
  if (!request.case_manager_id().empty() &&
      overview.case_manager_id() != request.case_manager_id()) {
    return false;
  }
  if (request.with_overdue_actions() && overview.overdue_actions() == 0) return false;
  if (IsSet(request.referred_on_or_after()) &&
      (!IsSet(overview.referred_on()) ||
       Before(overview.referred_on(), request.referred_on_or_after()))) {
    return false;
  }
  return true;
}

absl::Status ValidateDate(const CalendarDate& date, const std::string& field) {
  if (!IsSet(date) && date.month() == 0 && date.day() == 0) return absl::OkStatus();
  const absl::CivilDay day(date.year(), date.month(), date.day());
  if (date.year() < 1900 || date.year() > 9999 || day.month() != date.month() ||
      day.day() != date.day()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", Date(date), ", which is not a calendar date"));
  }
  return absl::OkStatus();
}

CalendarDate DateOf(absl::Time time) {
  const absl::CivilDay day = absl::ToCivilDay(time, absl::UTCTimeZone());
  CalendarDate date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

std::string DescribeCorrections(const hub::v1::EventEnvelope& visible) {
  std::string text;
  for (const hub::v1::CorrectionNote& note : visible.corrections()) {
    std::vector<std::string> fields;
    for (const hub::v1::CorrectedField& field : note.fields()) {
      fields.push_back(absl::StrReplaceAll(field.field(), {{"_", " "}}));
    }
    absl::StrAppend(
        &text, " — corrected on ",
        absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(note.corrected_at().seconds()),
                         absl::UTCTimeZone()),
        " by ", note.corrected_by(), ": ", absl::StrJoin(fields, ", "));
  }
  return text;
}

std::string DescribeErasures(const hub::v1::EventEnvelope& visible) {
  // One clause per (kind, date, rule), naming the classes that went together.
  std::map<std::tuple<bool, std::string, std::string>, std::vector<std::string>> clauses;
  for (const hub::v1::ErasedContent& erased : visible.erased()) {
    const std::string day = absl::FormatTime(
        "%Y-%m-%d", absl::FromUnixSeconds(erased.erased_at().seconds()), absl::UTCTimeZone());
    clauses[{erased.restricted(), day, erased.rule()}].push_back(Words(erased.erased_class()));
  }
  std::string text;
  for (const auto& [when, classes] : clauses) {
    const auto& [restricted, day, rule] = when;
    absl::StrAppend(
        &text, text.empty() ? " — " : "; ",
        restricted ? "withheld (processing restricted since " : "erased: ",
        restricted ? day : absl::StrJoin(classes, ", "), restricted ? "): " : " on ",
        restricted ? absl::StrJoin(classes, ", ") : day,
        restricted ? "" : absl::StrCat(" (", rule.empty() ? "no rule recorded" : rule, ")"));
  }
  return text;
}

}  // namespace hub::services
