#include "services/evaluation_extract.h"

#include <algorithm>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"

#include "services/governance_report.h"

namespace hub::services {
namespace {

using hub::v1::CaseFacts;

// What a column needs to compute its value for a case.
struct CaseContext {
  const std::string& case_id;
  const CaseFacts& facts;
  const auth::Pseudonymiser& pseudonyms;
  // Whether the perpetrator was referred (in any case) in the 365 days
  // before this case's first referral.
  bool repeat_referral;
};

struct Column {
  hub::v1::ExtractColumn description;
  std::function<std::string(const CaseContext&)> value;
};

std::string Month(int32_t day) {
  if (day == 0) return "";
  const absl::CivilDay civil = absl::CivilDay(1970, 1, 1) + day;
  return absl::StrFormat("%04d-%02d", civil.year(), civil.month());
}

template <typename Entries>
const typename Entries::value_type* First(const Entries& entries) {
  const typename Entries::value_type* first = nullptr;
  for (const auto& entry : entries) {
    if (first == nullptr || entry.day() < first->day()) first = &entry;
  }
  return first;
}
template <typename Entries>
const typename Entries::value_type* Latest(const Entries& entries) {
  const typename Entries::value_type* latest = nullptr;
  for (const auto& entry : entries) {
    if (latest == nullptr || entry.day() >= latest->day()) latest = &entry;
  }
  return latest;
}

template <typename Enum>
std::string Names(const google::protobuf::RepeatedField<int>& values,
                  const std::string& (*name)(Enum)) {
  std::vector<std::string> names;
  for (int value : values) names.push_back(name(static_cast<Enum>(value)));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return absl::StrJoin(names, ";");
}

std::string Bool(bool value) { return value ? "true" : "false"; }

uint64_t CountKinds(const google::protobuf::RepeatedPtrField<CaseFacts::Dated>& entries,
                    std::initializer_list<int> kinds) {
  return std::count_if(entries.begin(), entries.end(), [&](const CaseFacts::Dated& entry) {
    return std::find(kinds.begin(), kinds.end(), entry.kind()) != kinds.end();
  });
}

const CaseFacts::FollowUp* FollowUpAt(const CaseFacts& facts, int months) {
  const CaseFacts::FollowUp* found = nullptr;
  for (const auto& check : facts.follow_ups()) {
    if (check.months_after_closure() == months) found = &check;
  }
  return found;
}

Column Make(const char* name, const char* type, hub::v1::DataClass data_class, const char* meaning,
            const char* source, std::function<std::string(const CaseContext&)> value) {
  Column column;
  column.description.set_name(name);
  column.description.set_type(type);
  column.description.set_data_class(data_class);
  column.description.set_meaning(meaning);
  column.description.set_source(source);
  column.value = std::move(value);
  return column;
}

const std::vector<Column>& Columns() {
  using namespace hub::v1;  // NOLINT(google-build-using-namespace): the table reads as the domain
  static const auto* columns = new std::vector<Column>{
      Make("case", "pseudonym", CASE_ADMINISTRATION,
           "The case, under a keyed pseudonym stable for the evaluation key",
           "the case id (HMAC-SHA-256 under the evaluation key)",
           [](const CaseContext& c) { return c.pseudonyms.Of("case", c.case_id); }),
      Make("person", "pseudonym", PERPETRATOR_IDENTITY,
           "The perpetrator, under a keyed pseudonym: the same person in two cases has the same "
           "pseudonym",
           "subject_linked.perpetrator.subject_id",
           [](const CaseContext& c) {
             return c.facts.perpetrator_ids().empty()
                        ? std::string()
                        : c.pseudonyms.Of("person", c.facts.perpetrator_ids(0));
           }),
      Make("referral_month", "month", CASE_ADMINISTRATION, "When the case was first referred",
           "referral_received.referred_on",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr ? std::string() : Month(first->day());
           }),
      Make("referral_route", "category", CASE_ADMINISTRATION, "How the case was referred",
           "referral_received.route",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr ? std::string() : ReferralRoute_Name(first->route());
           }),
      Make("marac_criterion", "category", RISK, "The MARAC referral criterion that applied",
           "referral_received.marac_criterion",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr ? std::string() : MaracCriterion_Name(first->criterion());
           }),
      Make("eligibility", "category", CASE_ADMINISTRATION, "Whether the referral was accepted",
           "referral_received.eligibility",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr ? std::string() : Eligibility_Name(first->eligibility());
           }),
      Make("decline_reason", "category", CASE_ADMINISTRATION, "Why a referral was declined",
           "referral_received.decline_category",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr || first->eligibility() != DECLINED
                        ? std::string()
                        : DeclineReason_Name(first->decline_category());
           }),
      Make("serial_perpetrator", "boolean", OFFENDING, "Abuses different victims",
           "referral_received.serial_perpetrator",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr ? std::string() : Bool(first->serial_perpetrator());
           }),
      Make("repeat_perpetrator", "boolean", OFFENDING, "Abuses the same victim repeatedly",
           "referral_received.repeat_perpetrator",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr ? std::string() : Bool(first->repeat_perpetrator());
           }),
      Make("police_incidents_before", "count", OFFENDING,
           "Police incidents in the six months before referral",
           "referral_received.police_incidents_prior_six_months",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.referrals());
             return first == nullptr ? std::string()
                                     : absl::StrCat(first->police_incidents_prior_six_months());
           }),
      Make("repeat_referral_within_12_months", "boolean", CASE_ADMINISTRATION,
           "The perpetrator was referred (in any case) in the 365 days before this referral",
           "referral_received.referred_on, subject_linked.perpetrator.subject_id",
           [](const CaseContext& c) { return Bool(c.repeat_referral); }),
      Make("victims", "count", CASE_ADMINISTRATION, "Adult victims linked to the case",
           "subject_linked.victim",
           [](const CaseContext& c) { return absl::StrCat(c.facts.victim_ids_size()); }),
      Make("children", "count", CASE_ADMINISTRATION, "Children linked to the case",
           "subject_linked.child",
           [](const CaseContext& c) { return absl::StrCat(c.facts.child_ids_size()); }),
      Make("allocation_month", "month", CASE_ADMINISTRATION,
           "When a case manager was first allocated", "case_allocated.allocated_on",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.allocations());
             return first == nullptr ? std::string() : Month(first->day());
           }),
      Make("risk_at_start", "category", RISK, "Risk level at the first assessment",
           "risk_assessed.risk_level",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.assessments());
             return first == nullptr ? std::string() : RiskLevel_Name(first->level());
           }),
      Make("risk_at_latest", "category", RISK, "Risk level at the latest assessment",
           "risk_assessed.risk_level",
           [](const CaseContext& c) {
             const auto* latest = Latest(c.facts.assessments());
             return latest == nullptr ? std::string() : RiskLevel_Name(latest->level());
           }),
      Make("abuse_types_at_start", "categories", RISK,
           "Abuse types when the intervention began (the plan's, else the first assessment's)",
           "intervention_plan_agreed.abuse_types_at_start, risk_assessed.abuse_types",
           [](const CaseContext& c) {
             if (!c.facts.abuse_types_at_start().empty()) {
               return Names(c.facts.abuse_types_at_start(), &AbuseType_Name<AbuseType>);
             }
             const auto* first = First(c.facts.assessments());
             return first == nullptr ? std::string()
                                     : Names(first->abuse_types(), &AbuseType_Name<AbuseType>);
           }),
      Make("abuse_types_at_exit", "categories", RISK, "Abuse types when the case closed",
           "case_closed.abuse_types_at_exit",
           [](const CaseContext& c) {
             const auto* closure = Latest(c.facts.closures());
             return closure == nullptr
                        ? std::string()
                        : Names(closure->abuse_types_at_exit(), &AbuseType_Name<AbuseType>);
           }),
      Make("needs", "categories", INTERVENTION, "Needs found at the needs assessments",
           "needs_assessed.needs",
           [](const CaseContext& c) {
             google::protobuf::RepeatedField<int> kinds;
             for (const auto& need : c.facts.needs()) kinds.Add(need.kind());
             return Names(kinds, &PerpetratorNeed_Name<PerpetratorNeed>);
           }),
      Make("intervention_plan_agreed", "boolean", INTERVENTION, "An intervention plan was agreed",
           "intervention_plan_agreed",
           [](const CaseContext& c) { return Bool(!c.facts.plan_days().empty()); }),
      Make("sessions_attended", "count", INTERVENTION, "Sessions the perpetrator attended",
           "engagement_recorded.kind",
           [](const CaseContext& c) {
             return absl::StrCat(CountKinds(c.facts.engagements(), {SESSION_ATTENDED}));
           }),
      Make("sessions_missed", "count", INTERVENTION, "Sessions the perpetrator missed",
           "engagement_recorded.kind",
           [](const CaseContext& c) {
             return absl::StrCat(CountKinds(c.facts.engagements(), {SESSION_MISSED}));
           }),
      Make("contacts_refused_or_failed", "count", INTERVENTION,
           "Contacts refused, failed or disengagement recorded", "engagement_recorded.kind",
           [](const CaseContext& c) {
             return absl::StrCat(CountKinds(c.facts.engagements(),
                                            {CONTACT_REFUSED, UNABLE_TO_CONTACT, DISENGAGED}));
           }),
      Make("support_referrals", "count", INTERVENTION,
           "Referrals of the perpetrator to support services", "support_referral_made",
           [](const CaseContext& c) { return absl::StrCat(c.facts.support_referrals_size()); }),
      Make("support_referrals_accepted", "count", INTERVENTION, "... of which accepted",
           "support_referral_made.accepted",
           [](const CaseContext& c) {
             return absl::StrCat(std::count_if(c.facts.support_referrals().begin(),
                                               c.facts.support_referrals().end(),
                                               [](const auto& s) { return s.accepted(); }));
           }),
      Make("arrests_and_charges", "count", OFFENDING, "Arrests and charges",
           "disruption_recorded.kind",
           [](const CaseContext& c) {
             return absl::StrCat(CountKinds(c.facts.disruptions(), {ARREST, CHARGE}));
           }),
      Make("protective_orders", "count", OFFENDING,
           "Bail conditions, DVPNs, DVPOs, DAPOs, non-molestation and restraining orders",
           "disruption_recorded.kind",
           [](const CaseContext& c) {
             return absl::StrCat(CountKinds(
                 c.facts.disruptions(),
                 {BAIL_CONDITIONS, DVPN, DVPO, DAPO, NON_MOLESTATION_ORDER, RESTRAINING_ORDER}));
           }),
      Make("breaches", "count", OFFENDING, "Breaches of orders or conditions",
           "disruption_recorded.kind",
           [](const CaseContext& c) {
             return absl::StrCat(CountKinds(c.facts.disruptions(), {BREACH}));
           }),
      Make("recalls_and_convictions", "count", OFFENDING, "Recalls to prison and convictions",
           "disruption_recorded.kind",
           [](const CaseContext& c) {
             return absl::StrCat(CountKinds(c.facts.disruptions(), {RECALL, CONVICTION}));
           }),
      Make("panel", "category", PANEL, "The panel that first heard the case", "panel_outcome.panel",
           [](const CaseContext& c) {
             const auto* first = First(c.facts.panels());
             return first == nullptr ? std::string() : PanelType_Name(first->panel());
           }),
      Make("panel_hearings", "count", PANEL, "Times the case was heard at a panel", "panel_outcome",
           [](const CaseContext& c) { return absl::StrCat(c.facts.panels_size()); }),
      Make("victim_support_referrals", "count", VICTIM_RISK_SUMMARY,
           "Referrals of victims to support beyond the IDVA", "victim_support_referred",
           [](const CaseContext& c) { return absl::StrCat(c.facts.victim_support_size()); }),
      Make("victim_support_taken_up", "count", VICTIM_RISK_SUMMARY, "... of which taken up",
           "victim_support_referred.outcome",
           [](const CaseContext& c) {
             return absl::StrCat(
                 std::count_if(c.facts.victim_support().begin(), c.facts.victim_support().end(),
                               [](const auto& s) { return s.outcome() == SUPPORT_TAKEN_UP; }));
           }),
      Make("child_worker_contacts", "count", CHILD_SAFEGUARDING,
           "Children and young people's workers' contacts with the case's children",
           "child_worker_contact",
           [](const CaseContext& c) { return absl::StrCat(c.facts.child_contacts_size()); }),
      Make("victim_risk_latest", "category", VICTIM_RISK_SUMMARY,
           "The IDVA's latest view of how the victim's risk has moved",
           "victim_safety_information.risk_change",
           [](const CaseContext& c) {
             const auto* latest = Latest(c.facts.victim_risk_changes());
             return latest == nullptr ? std::string()
                                      : RiskChange_Name(static_cast<RiskChange>(latest->kind()));
           }),
      Make("closure_month", "month", CASE_ADMINISTRATION, "When the case closed",
           "case_closed.closed_on",
           [](const CaseContext& c) {
             const auto* closure = Latest(c.facts.closures());
             return closure == nullptr ? std::string() : Month(closure->day());
           }),
      Make("closure_reason", "category", CASE_ADMINISTRATION, "Why the case closed",
           "case_closed.reason",
           [](const CaseContext& c) {
             const auto* closure = Latest(c.facts.closures());
             return closure == nullptr ? std::string() : ClosureReason_Name(closure->reason());
           }),
      Make("victim_risk_at_exit", "category", VICTIM_RISK_SUMMARY,
           "The IDVA-reported change in the victim's risk at closure",
           "case_closed.idva_reported_risk_change",
           [](const CaseContext& c) {
             const auto* closure = Latest(c.facts.closures());
             return closure == nullptr ? std::string()
                                       : RiskChange_Name(closure->idva_reported_risk_change());
           }),
      Make("police_incidents_after", "count", OFFENDING,
           "Police incidents in the six months after closure, where recorded at closure",
           "case_closed.police_incidents_following_six_months",
           [](const CaseContext& c) {
             const auto* closure = Latest(c.facts.closures());
             return closure == nullptr
                        ? std::string()
                        : absl::StrCat(closure->police_incidents_following_six_months());
           }),
      Make("follow_up_6_police_incidents", "count", OFFENDING,
           "Police incidents since closure found at the 6-month follow-up",
           "follow_up_checked.police_incidents_since_closure",
           [](const CaseContext& c) {
             const auto* check = FollowUpAt(c.facts, 6);
             return check == nullptr ? std::string() : absl::StrCat(check->police_incidents());
           }),
      Make("follow_up_6_repeat_referral", "boolean", CASE_ADMINISTRATION,
           "Referred again by the 6-month follow-up", "follow_up_checked.repeat_referral",
           [](const CaseContext& c) {
             const auto* check = FollowUpAt(c.facts, 6);
             return check == nullptr ? std::string() : Bool(check->repeat_referral());
           }),
      Make("follow_up_12_police_incidents", "count", OFFENDING,
           "Police incidents since closure found at the 12-month follow-up",
           "follow_up_checked.police_incidents_since_closure",
           [](const CaseContext& c) {
             const auto* check = FollowUpAt(c.facts, 12);
             return check == nullptr ? std::string() : absl::StrCat(check->police_incidents());
           }),
      Make("follow_up_12_repeat_referral", "boolean", CASE_ADMINISTRATION,
           "Referred again by the 12-month follow-up", "follow_up_checked.repeat_referral",
           [](const CaseContext& c) {
             const auto* check = FollowUpAt(c.facts, 12);
             return check == nullptr ? std::string() : Bool(check->repeat_referral());
           }),
  };
  return *columns;
}

}  // namespace

const std::vector<hub::v1::ExtractColumn>& ExtractColumns() {
  static const auto* descriptions = [] {
    auto* all = new std::vector<hub::v1::ExtractColumn>;
    for (const Column& column : Columns()) all->push_back(column.description);
    return all;
  }();
  return *descriptions;
}

void BuildExtract(const std::vector<std::string>& case_ids,
                  const std::vector<const hub::v1::CaseFacts*>& cases,
                  const auth::ClassMask& allowed, const auth::Pseudonymiser& pseudonyms,
                  hub::v1::GetEvaluationExtractResponse* extract) {
  std::vector<const Column*> kept;
  for (const Column& column : Columns()) {
    const int data_class = column.description.data_class();
    if (data_class > 0 && data_class < hub::v1::DataClass_ARRAYSIZE && allowed[data_class]) {
      kept.push_back(&column);
      *extract->add_columns() = column.description;
    } else {
      *extract->add_withheld_columns() = column.description;
    }
  }
  const RepeatReferrals repeats(cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    const hub::v1::CaseFacts& facts = *cases[i];
    const auto* first = First(facts.referrals());
    if (first == nullptr) continue;  // the hub's own records, or a case erased whole
    const CaseContext context{case_ids[i], facts, pseudonyms,
                              repeats.IsRepeat(facts, first->day())};
    hub::v1::ExtractRow* row = extract->add_rows();
    for (const Column* column : kept) row->add_values(column->value(context));
  }
}

}  // namespace hub::services
