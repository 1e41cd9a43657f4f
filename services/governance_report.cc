#include "services/governance_report.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

#include "proto/absl_compat.h"
#include "proto/status_macros.h"
#include "services/report_facts.h"

namespace hub::services {
namespace {

using Counts = std::map<std::string, std::map<std::string, uint64_t>>;

constexpr int32_t kStillOpen = INT32_MAX;
// A referral counts as a repeat if the perpetrator was referred within
// this many days before it.
constexpr int32_t kRepeatWindowDays = 365;
const absl::CivilDay kEpochDay(1970, 1, 1);

bool InPeriod(int32_t day, const ReportPeriod& period) {
  return day >= period.first_day && day <= period.last_day;
}

bool OpenAt(const std::vector<OpenSpan>& spans, int32_t day) {
  return std::any_of(spans.begin(), spans.end(),
                     [day](const OpenSpan& span) { return span.from <= day && day < span.to; });
}

bool ActiveIn(const std::vector<OpenSpan>& spans, const ReportPeriod& period) {
  return std::any_of(spans.begin(), spans.end(), [&period](const OpenSpan& span) {
    return span.from <= period.last_day && span.to > period.first_day;
  });
}

// The value at quantile q of sorted `values`: the median averages the two
// middle values of an even count; other quantiles take the nearest rank.
double Median(const std::vector<int32_t>& sorted) {
  const size_t n = sorted.size();
  if (n == 0) return 0;
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}
double NearestRank(const std::vector<int32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::max<size_t>(rank, 1) - 1];
}

std::string Label(const std::string& text) { return text.empty() ? "(not recorded)" : text; }

// The latest entry with day <= `day` (ties: the one recorded last).
template <typename Entries>
const typename Entries::value_type* LatestBy(const Entries& entries, int32_t day) {
  const typename Entries::value_type* latest = nullptr;
  for (const auto& entry : entries) {
    if (entry.day() <= day && (latest == nullptr || entry.day() >= latest->day())) latest = &entry;
  }
  return latest;
}

}  // namespace

absl::StatusOr<ReportPeriod> MonthPeriod(std::string_view month, absl::Time now) {
  ReportPeriod period;
  if (month.empty()) {
    const absl::CivilMonth current = absl::ToCivilMonth(now, absl::UTCTimeZone());
    period.year = static_cast<int>(current.year());
    period.month_of_year = current.month();
  } else if (month.size() != 7 || month[4] != '-' ||
             !absl::SimpleAtoi(AsAbsl(month.substr(0, 4)), &period.year) ||
             !absl::SimpleAtoi(AsAbsl(month.substr(5, 2)), &period.month_of_year) ||
             period.year < 1970 || period.year > 9999 || period.month_of_year < 1 ||
             period.month_of_year > 12) {
    return absl::InvalidArgumentError(absl::StrCat(
        "month \"", AsAbsl(month.substr(0, 16)), "\" is not a month: write YYYY-MM, e.g. 2026-10"));
  }
  const absl::CivilMonth first(period.year, period.month_of_year);
  period.month = absl::StrFormat("%04d-%02d", period.year, period.month_of_year);
  period.first_day = static_cast<int32_t>(absl::CivilDay(first) - kEpochDay);
  period.last_day = static_cast<int32_t>(absl::CivilDay(first + 1) - kEpochDay) - 1;
  return period;
}

RepeatReferrals::RepeatReferrals(const std::vector<const hub::v1::CaseFacts*>& cases) {
  for (const hub::v1::CaseFacts* facts : cases) {
    for (const std::string& perpetrator : facts->perpetrator_ids()) {
      for (const auto& referral : facts->referrals()) {
        referral_days_[perpetrator].push_back(referral.day());
      }
    }
  }
}

bool RepeatReferrals::IsRepeat(const hub::v1::CaseFacts& facts, int32_t day) const {
  for (const std::string& perpetrator : facts.perpetrator_ids()) {
    auto found = referral_days_.find(perpetrator);
    if (found == referral_days_.end()) continue;
    for (int32_t earlier : found->second) {
      if (earlier < day && earlier >= day - kRepeatWindowDays) return true;
    }
  }
  return false;
}

std::vector<OpenSpan> OpenSpansOf(const hub::v1::CaseFacts& facts) {
  // (day, what): allocation 0, closure 1, reopening 2; on one day in
  // that order.
  std::vector<std::pair<int32_t, int>> moments;
  for (const auto& allocation : facts.allocations()) moments.emplace_back(allocation.day(), 0);
  for (const auto& closure : facts.closures()) moments.emplace_back(closure.day(), 1);
  for (int32_t day : facts.reopened_days()) moments.emplace_back(day, 2);
  std::stable_sort(moments.begin(), moments.end());
  std::vector<OpenSpan> spans;
  bool allocated = false;
  bool open = false;
  int32_t from = 0;
  for (const auto& [day, what] : moments) {
    if (what == 0) allocated = true;
    if ((what == 0 || (what == 2 && allocated)) && !open) {
      open = true;
      from = day;
    } else if (what == 1 && open) {
      spans.push_back({from, day});
      open = false;
    }
  }
  if (open) spans.push_back({from, kStillOpen});
  return spans;
}

hub::v1::ProgrammeFigures ProgrammeFiguresOf(const std::vector<const hub::v1::CaseFacts*>& cases,
                                             const ReportPeriod& period, uint32_t caseload_target) {
  Counts counts;
  auto count = [&counts](const char* figure, const std::string& label = "", uint64_t n = 1) {
    counts[figure][label] += n;
  };
  const RepeatReferrals repeats(cases);
  std::vector<int32_t> allocation_days;
  struct ActionCounts {
    uint64_t tasked = 0, completed = 0, not_done = 0, overdue = 0, open = 0;
  };
  std::map<std::string, ActionCounts> actions;
  std::set<std::string> perpetrators_in_period, victims_in_period, children_in_period;
  std::set<std::string> perpetrators_to_date, victims_to_date, children_to_date;

  for (const hub::v1::CaseFacts* facts : cases) {
    for (const auto& referral : facts->referrals()) {
      if (!InPeriod(referral.day(), period)) continue;
      count("referrals_received");
      count("referrals_by_route", hub::v1::ReferralRoute_Name(referral.route()));
      count("referrals_by_criterion", hub::v1::MaracCriterion_Name(referral.criterion()));
      if (referral.eligibility() == hub::v1::ACCEPTED) count("referrals_accepted");
      if (referral.eligibility() == hub::v1::DECLINED) {
        count("referrals_declined");
        count("declined_by_reason", hub::v1::DeclineReason_Name(referral.decline_category()));
      }
      if (repeats.IsRepeat(*facts, referral.day())) count("repeat_referrals_within_12_months");
    }

    const std::vector<OpenSpan> spans = OpenSpansOf(*facts);
    const bool open_at_end = OpenAt(spans, period.last_day);
    if (!facts->allocations().empty() && !facts->referrals().empty()) {
      const auto first_allocation =
          std::min_element(facts->allocations().begin(), facts->allocations().end(),
                           [](const auto& a, const auto& b) { return a.day() < b.day(); });
      const auto first_referral =
          std::min_element(facts->referrals().begin(), facts->referrals().end(),
                           [](const auto& a, const auto& b) { return a.day() < b.day(); });
      if (InPeriod(first_allocation->day(), period) &&
          first_referral->day() <= first_allocation->day()) {
        allocation_days.push_back(first_allocation->day() - first_referral->day());
      }
    }
    if (open_at_end) {
      count("open_caseload");
      const auto* allocation = LatestBy(facts->allocations(), period.last_day);
      count("caseload_by_case_manager", Label(allocation->case_manager_id()));
      if (const auto* latest = LatestBy(facts->victim_risk_changes(), period.last_day)) {
        count("victim_risk_change", hub::v1::RiskChange_Name(latest->kind()));
      }
      const hub::v1::CaseFacts::Assessment* first = nullptr;
      for (const auto& assessment : facts->assessments()) {
        if (assessment.day() <= period.last_day &&
            (first == nullptr || assessment.day() < first->day())) {
          first = &assessment;
        }
      }
      if (first != nullptr) {
        const auto* latest = LatestBy(facts->assessments(), period.last_day);
        count("risk_first_to_latest", absl::StrCat(hub::v1::RiskLevel_Name(first->level()), " to ",
                                                   hub::v1::RiskLevel_Name(latest->level())));
      }
    }
    for (const auto& engagement : facts->engagements()) {
      if (InPeriod(engagement.day(), period)) {
        count("engagement_by_kind", hub::v1::EngagementKind_Name(
                                        static_cast<hub::v1::EngagementKind>(engagement.kind())));
      }
    }
    for (int32_t day : facts->plan_days()) {
      if (InPeriod(day, period)) count("intervention_plans_agreed");
    }
    for (const auto& disruption : facts->disruptions()) {
      if (InPeriod(disruption.day(), period)) {
        count("disruption_by_kind", hub::v1::DisruptionKind_Name(
                                        static_cast<hub::v1::DisruptionKind>(disruption.kind())));
      }
    }
    for (const auto& support : facts->support_referrals()) {
      if (!InPeriod(support.day(), period)) continue;
      count("support_referrals_by_service", hub::v1::SupportService_Name(support.service()));
      if (support.accepted()) count("support_referrals_accepted");
    }
    for (const auto& action : facts->actions()) {
      ActionCounts& agency = actions[Label(action.owner_agency())];
      if (InPeriod(action.tasked_day(), period)) ++agency.tasked;
      if (action.finished_day() != 0 && InPeriod(action.finished_day(), period)) {
        ++(action.final_status() == hub::v1::ACTION_COMPLETED ? agency.completed : agency.not_done);
      }
      const bool open = action.tasked_day() <= period.last_day &&
                        (action.finished_day() == 0 || action.finished_day() > period.last_day);
      if (open) ++agency.open;
      if (open && action.due_day() != 0 && action.due_day() <= period.last_day) ++agency.overdue;
    }
    for (const auto& closure : facts->closures()) {
      if (InPeriod(closure.day(), period)) {
        count("closed_by_reason", hub::v1::ClosureReason_Name(closure.reason()));
      }
    }
    for (int32_t day : facts->needs_assessment_days()) {
      if (InPeriod(day, period)) count("needs_assessments");
    }
    for (const auto& need : facts->needs()) {
      if (InPeriod(need.day(), period)) {
        count("needs_identified",
              hub::v1::PerpetratorNeed_Name(static_cast<hub::v1::PerpetratorNeed>(need.kind())));
      }
    }
    for (const auto& support : facts->victim_support()) {
      if (!InPeriod(support.day(), period)) continue;
      count("victim_support_by_service", hub::v1::VictimSupportService_Name(support.service()));
      count("victim_support_by_outcome", hub::v1::SupportOutcome_Name(support.outcome()));
    }
    for (const auto& contact : facts->child_contacts()) {
      if (InPeriod(contact.day(), period)) {
        count(
            "child_contacts_by_kind",
            hub::v1::ChildContactKind_Name(static_cast<hub::v1::ChildContactKind>(contact.kind())));
      }
    }
    for (const auto& panel : facts->panels()) {
      if (!InPeriod(panel.day(), period)) continue;
      count("panel_hearings_by_panel", hub::v1::PanelType_Name(panel.panel()));
      for (const std::string& agency : panel.agencies_present()) {
        count("panel_attendance_by_agency", Label(agency));
      }
    }
    for (const auto& check : facts->follow_ups()) {
      if (!InPeriod(check.day(), period)) continue;
      count("follow_ups_by_months", absl::StrCat(check.months_after_closure()));
      if (check.police_incidents() > 0) {
        count("follow_ups_with_police_incidents");
        count("police_incidents_at_follow_up", "", static_cast<uint64_t>(check.police_incidents()));
      }
      if (check.repeat_referral()) count("follow_ups_with_repeat_referral");
    }
    const bool active = ActiveIn(spans, period);
    const bool reached = !spans.empty() && spans.front().from <= period.last_day;
    for (const std::string& id : facts->perpetrator_ids()) {
      if (active) perpetrators_in_period.insert(id);
      if (reached) perpetrators_to_date.insert(id);
    }
    for (const std::string& id : facts->victim_ids()) {
      if (active) victims_in_period.insert(id);
      if (reached) victims_to_date.insert(id);
    }
    for (const std::string& id : facts->child_ids()) {
      if (active) children_in_period.insert(id);
      if (reached) children_to_date.insert(id);
    }
  }

  hub::v1::ProgrammeFigures figures;
  FillTallies(counts, &figures);
  std::sort(allocation_days.begin(), allocation_days.end());
  hub::v1::DayFigures* to_allocation = figures.mutable_referral_to_allocation();
  to_allocation->set_cases(allocation_days.size());
  to_allocation->set_median_days(Median(allocation_days));
  to_allocation->set_p90_days(NearestRank(allocation_days, 0.9));
  figures.set_caseload_target(caseload_target);
  for (const auto& [agency, n] : actions) {
    if (n.tasked + n.completed + n.not_done + n.open == 0) continue;
    hub::v1::ActionFigures* row = figures.add_actions_by_agency();
    row->set_owner_agency(agency);
    row->mutable_tasked()->set_count(n.tasked);
    row->mutable_completed()->set_count(n.completed);
    row->mutable_not_done()->set_count(n.not_done);
    row->mutable_overdue()->set_count(n.overdue);
    row->mutable_open()->set_count(n.open);
  }
  figures.mutable_reached_in_period()->mutable_perpetrators()->set_count(
      perpetrators_in_period.size());
  figures.mutable_reached_in_period()->mutable_victims()->set_count(victims_in_period.size());
  figures.mutable_reached_in_period()->mutable_children()->set_count(children_in_period.size());
  figures.mutable_reached_to_date()->mutable_perpetrators()->set_count(perpetrators_to_date.size());
  figures.mutable_reached_to_date()->mutable_victims()->set_count(victims_to_date.size());
  figures.mutable_reached_to_date()->mutable_children()->set_count(children_to_date.size());
  return figures;
}

void AddConsentFigures(const std::vector<const hub::v1::CaseFacts*>& cases,
                       const ReportPeriod& period, hub::v1::InformationGovernanceFigures* figures) {
  Counts counts;
  for (const hub::v1::CaseFacts* facts : cases) {
    for (const auto& consent : facts->consents()) {
      if (!InPeriod(consent.day(), period)) continue;
      counts["victim_sharing_by_consent"][hub::v1::ConsentDecision_Name(consent.decision())]++;
      if (consent.decision() != hub::v1::CONSENT_GIVEN &&
          consent.ground() != hub::v1::CONSENT_OVERRIDE_GROUND_UNSPECIFIED) {
        counts["consent_overridden_by_ground"]
              [hub::v1::ConsentOverrideGround_Name(consent.ground())]++;
      }
    }
  }
  hub::v1::InformationGovernanceFigures consent;
  FillTallies(counts, &consent);
  figures->mutable_victim_sharing_by_consent()->MergeFrom(consent.victim_sharing_by_consent());
  figures->mutable_consent_overridden_by_ground()->MergeFrom(
      consent.consent_overridden_by_ground());
}

void AuditFigures::Count(const hub::v1::AuditRecord& record, Counts* month) {
  auto count = [month](const char* figure, const std::string& label = "", uint64_t n = 1) {
    (*month)[figure][label] += n;
  };
  const std::string agency = Label(record.agency());
  if (record.decision() == hub::v1::AUDIT_DENIED) {
    if (record.action() == hub::v1::AUDIT_AUTHENTICATE) {
      count("refused_callers");
    } else {
      count("denials_by_agency", agency);
      count("denials_by_action", hub::v1::AuditAction_Name(record.action()));
    }
    return;
  }
  if (record.decision() != hub::v1::AUDIT_ALLOWED) return;
  switch (record.action()) {
    case hub::v1::AUDIT_READ_CASE:
    case hub::v1::AUDIT_READ_TIMELINE:
    case hub::v1::AUDIT_DELIVER:
    case hub::v1::AUDIT_LIST_CASES:
      if (record.event_count() == 0) break;
      count("disclosures_by_agency", agency);
      count("events_disclosed_by_agency", agency, record.event_count());
      for (int data_class : record.data_classes()) {
        count("disclosures_by_agency_and_class",
              absl::StrCat(agency, " ",
                           hub::v1::DataClass_Name(static_cast<hub::v1::DataClass>(data_class))));
      }
      break;
    case hub::v1::AUDIT_PUBLISH:
      if (record.event_digests_size() > 0) {
        count("events_recorded_by_agency", agency, record.event_digests_size());
      }
      break;
    case hub::v1::AUDIT_PROTOCOL_CHANGE:
      count("protocol_changes");
      break;
    case hub::v1::AUDIT_ERASE:
      count("erasures");
      break;
    case hub::v1::AUDIT_RESTRICT:
      count("restrictions");
      break;
    case hub::v1::AUDIT_SUBJECT_ACCESS:
      count("subject_access_requests");
      break;
    case hub::v1::AUDIT_BACKUP:
      count("backups");
      break;
    default:
      break;
  }
}

absl::Status AuditFigures::CatchUp() {
  absl::MutexLock serial(&catch_up_mu_);
  uint64_t from = 0;
  {
    absl::MutexLock lock(&mu_);
    from = folded_;
  }
  constexpr uint64_t kChunk = 4096;
  for (;;) {
    const uint64_t size = log_->AuditSize();
    if (from >= size) return absl::OkStatus();
    HUB_ASSIGN_OR_RETURN(std::vector<std::string> raw,
                         log_->ReadAudit(from, std::min(kChunk, size - from)));
    if (raw.empty()) return absl::OkStatus();
    std::map<int, Counts> folded;
    for (const std::string& bytes : raw) {
      hub::v1::AuditRecord record;
      if (!record.ParseFromString(bytes)) {
        return absl::DataLossError(absl::StrCat("audit record ", from, " does not parse"));
      }
      const absl::CivilMonth month =
          absl::ToCivilMonth(absl::FromUnixSeconds(record.time().seconds()), absl::UTCTimeZone());
      Count(record, &folded[static_cast<int>(month.year()) * 12 + month.month() - 1]);
      ++from;
    }
    absl::MutexLock lock(&mu_);
    for (auto& [month, figures] : folded) {
      Counts& into = months_[month];
      for (auto& [figure, labels] : figures) {
        for (auto& [label, n] : labels) into[figure][label] += n;
      }
    }
    folded_ = from;
  }
}

std::pair<hub::v1::InformationGovernanceFigures, uint64_t> AuditFigures::For(
    const ReportPeriod& period) const {
  hub::v1::InformationGovernanceFigures figures;
  absl::MutexLock lock(&mu_);
  if (auto found = months_.find(period.year * 12 + period.month_of_year - 1);
      found != months_.end()) {
    FillTallies(found->second, &figures);
  } else {
    FillTallies({}, &figures);
  }
  return {std::move(figures), folded_};
}

void FillTallies(const Counts& counts, google::protobuf::Message* figures) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* descriptor = figures->GetDescriptor();
  const google::protobuf::Reflection* reflection = figures->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->message_type() != hub::v1::Tally::descriptor()) continue;
    auto found = counts.find(field->name());
    if (field->is_repeated()) {
      if (found == counts.end()) continue;
      for (const auto& [label, n] : found->second) {
        auto* tally = static_cast<hub::v1::Tally*>(reflection->AddMessage(figures, field));
        tally->set_label(label);
        tally->set_count(n);
      }
    } else {
      auto* tally = static_cast<hub::v1::Tally*>(reflection->MutableMessage(figures, field));
      if (found != counts.end()) {
        if (auto single = found->second.find(""); single != found->second.end()) {
          tally->set_count(single->second);
        }
      }
    }
  }
}

void SuppressSmallNumbers(uint32_t threshold, google::protobuf::Message* report) {
  using google::protobuf::FieldDescriptor;
  if (auto* tally = dynamic_cast<hub::v1::Tally*>(report)) {
    if (tally->count() > 0 && tally->count() < threshold) {
      tally->set_count(0);
      tally->set_suppressed(true);
    }
    return;
  }
  if (auto* days = dynamic_cast<hub::v1::DayFigures*>(report)) {
    if (days->cases() > 0 && days->cases() < threshold) {
      days->Clear();
      days->set_suppressed(true);
    }
    return;
  }
  const google::protobuf::Descriptor* descriptor = report->GetDescriptor();
  const google::protobuf::Reflection* reflection = report->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int k = 0; k < reflection->FieldSize(*report, field); ++k) {
        SuppressSmallNumbers(threshold, reflection->MutableRepeatedMessage(report, field, k));
      }
    } else if (reflection->HasField(*report, field)) {
      SuppressSmallNumbers(threshold, reflection->MutableMessage(report, field));
    }
  }
}

}  // namespace hub::services
