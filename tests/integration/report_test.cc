// The governance report (ReportService, `hubctl report`) against a real
// hubd: every programme figure of every month of the demonstration site
// equals a fold of the site's raw events written here, apart from the
// projection; the information-governance figures count what the test did;
// only the governance group and coordinators get it; small numbers are
// withheld for publication; the page and its PDF render in Chromium.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/report_service.grpc.pb.h"
#include "tools/demo/demo_site.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Figures = std::map<std::string, std::string>;

// Large enough for every figure to be non-zero in some month.
constexpr double kDemoScale = 0.2;

// ---------------------------------------------------------------- the fold

// A day of the site, as the events give it.
absl::CivilDay DayOf(const hub::v1::CalendarDate& date, const hub::v1::EventEnvelope& event) {
  if (date.year() != 0) return absl::CivilDay(date.year(), date.month(), date.day());
  return absl::ToCivilDay(absl::FromUnixSeconds(event.occurred_time().seconds()),
                          absl::UTCTimeZone());
}

struct DemoEvents {
  std::string case_id;
  std::vector<hub::v1::EventEnvelope> events;
};

std::vector<DemoEvents> EventsOf(const tools::DemoSite& site) {
  std::vector<DemoEvents> cases;
  for (const tools::DemoCase& demo_case : site.cases) {
    DemoEvents& events = cases.emplace_back();
    events.case_id = demo_case.case_id;
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        events.events.push_back(event);
      }
    }
  }
  return cases;
}

// Whether the case is open (allocated, not closed, or reopened since) on
// `day`.
bool OpenOn(const DemoEvents& c, absl::CivilDay day) {
  bool allocated = false;
  std::optional<absl::CivilDay> last_closed;
  std::optional<absl::CivilDay> last_reopened;
  for (const hub::v1::EventEnvelope& e : c.events) {
    if (e.has_case_allocated() && DayOf(e.case_allocated().allocated_on(), e) <= day) {
      allocated = true;
    }
    if (e.has_case_closed()) {
      const absl::CivilDay closed = DayOf(e.case_closed().closed_on(), e);
      if (closed <= day && (!last_closed || closed > *last_closed)) last_closed = closed;
    }
    if (e.has_case_reopened()) {
      const absl::CivilDay reopened = DayOf(e.case_reopened().reopened_on(), e);
      if (reopened <= day && (!last_reopened || reopened > *last_reopened)) {
        last_reopened = reopened;
      }
    }
  }
  if (!allocated) return false;
  return !last_closed || (last_reopened && *last_reopened >= *last_closed);
}

std::string Count(uint64_t n) { return absl::StrCat(n); }

// Every programme figure of `month` ("programme.<figure>[<label>]" -> value,
// zeros left out), and the consent figures, folded from the raw events.
Figures ExpectedProgramme(const std::vector<DemoEvents>& cases, int year, int month) {
  const absl::CivilDay first(year, month, 1);
  const absl::CivilDay last = absl::CivilDay(absl::CivilMonth(year, month) + 1) - 1;
  auto in_month = [&](absl::CivilDay day) { return day >= first && day <= last; };
  std::map<std::string, uint64_t> n;
  auto add = [&n](const std::string& key, uint64_t by = 1) { n["programme." + key] += by; };

  std::map<std::string, std::vector<absl::CivilDay>> referrals_of;  // by perpetrator
  for (const DemoEvents& c : cases) {
    std::vector<std::string> perpetrators;
    std::vector<absl::CivilDay> referrals;
    for (const auto& e : c.events) {
      if (e.has_subject_linked() && e.subject_linked().has_perpetrator()) {
        perpetrators.push_back(e.subject_linked().perpetrator().subject_id());
      }
      if (e.has_referral_received()) {
        referrals.push_back(DayOf(e.referral_received().referred_on(), e));
      }
    }
    for (const std::string& p : perpetrators) {
      referrals_of[p].insert(referrals_of[p].end(), referrals.begin(), referrals.end());
    }
  }

  std::vector<int> days_to_allocation;
  std::set<std::string> reached_in[3], reached_to[3];
  for (const DemoEvents& c : cases) {
    std::vector<std::string> perpetrators;
    std::optional<absl::CivilDay> first_referral, first_allocation;
    struct Action {
      std::string agency;
      absl::CivilDay tasked;
      std::optional<absl::CivilDay> due, finished;
      bool completed = false;
    };
    std::map<std::string, Action> actions;
    std::string case_manager;
    std::optional<absl::CivilDay> case_manager_since;
    std::optional<std::pair<absl::CivilDay, hub::v1::RiskLevel>> first_risk, latest_risk;
    std::optional<std::pair<absl::CivilDay, hub::v1::RiskChange>> latest_change;
    std::vector<std::string> subjects[3];
    for (const auto& e : c.events) {
      if (e.has_subject_linked()) {
        const auto& s = e.subject_linked();
        if (s.has_perpetrator()) subjects[0].push_back(s.perpetrator().subject_id());
        if (s.has_victim()) subjects[1].push_back(s.victim().subject_id());
        if (s.has_child()) subjects[2].push_back(s.child().subject_id());
      }
    }
    perpetrators = subjects[0];
    for (const auto& e : c.events) {
      const absl::CivilDay occurred = DayOf(hub::v1::CalendarDate(), e);
      if (e.has_referral_received()) {
        const auto& r = e.referral_received();
        const absl::CivilDay day = DayOf(r.referred_on(), e);
        if (!first_referral || day < *first_referral) first_referral = day;
        if (!in_month(day)) continue;
        add("referrals_received");
        add(absl::StrCat("referrals_by_route[", hub::v1::ReferralRoute_Name(r.route()), "]"));
        add(absl::StrCat("referrals_by_criterion[",
                         hub::v1::MaracCriterion_Name(r.marac_criterion()), "]"));
        if (r.eligibility() == hub::v1::ACCEPTED) add("referrals_accepted");
        if (r.eligibility() == hub::v1::DECLINED) {
          add("referrals_declined");
          add(absl::StrCat("declined_by_reason[", hub::v1::DeclineReason_Name(r.decline_category()),
                           "]"));
        }
        bool repeat = false;
        for (const std::string& p : perpetrators) {
          for (absl::CivilDay before : referrals_of[p]) {
            repeat = repeat || (before < day && day - before <= 365);
          }
        }
        if (repeat) add("repeat_referrals_within_12_months");
      } else if (e.has_case_allocated()) {
        const absl::CivilDay day = DayOf(e.case_allocated().allocated_on(), e);
        if (!first_allocation || day < *first_allocation) first_allocation = day;
        if (day <= last && (!case_manager_since || day >= *case_manager_since)) {
          case_manager_since = day;
          case_manager = e.case_allocated().case_manager_id();
        }
      } else if (e.has_engagement_recorded()) {
        if (in_month(DayOf(e.engagement_recorded().session_date(), e))) {
          add(absl::StrCat("engagement_by_kind[",
                           hub::v1::EngagementKind_Name(e.engagement_recorded().kind()), "]"));
        }
      } else if (e.has_intervention_plan_agreed()) {
        if (in_month(occurred)) add("intervention_plans_agreed");
      } else if (e.has_disruption_recorded()) {
        if (in_month(DayOf(e.disruption_recorded().effective_on(), e))) {
          add(absl::StrCat("disruption_by_kind[",
                           hub::v1::DisruptionKind_Name(e.disruption_recorded().kind()), "]"));
        }
      } else if (e.has_support_referral_made()) {
        if (in_month(occurred)) {
          add(absl::StrCat("support_referrals_by_service[",
                           hub::v1::SupportService_Name(e.support_referral_made().service()), "]"));
          if (e.support_referral_made().accepted()) add("support_referrals_accepted");
        }
      } else if (e.has_action_tasked()) {
        Action& a = actions[e.action_tasked().action_id()];
        a.agency = e.action_tasked().owner_agency();
        a.tasked = occurred;
        if (e.action_tasked().has_due_on()) a.due = DayOf(e.action_tasked().due_on(), e);
      } else if (e.has_action_updated()) {
        Action& a = actions[e.action_updated().action_id()];
        if (e.action_updated().has_due_on()) a.due = DayOf(e.action_updated().due_on(), e);
      } else if (e.has_action_completed()) {
        Action& a = actions[e.action_completed().action_id()];
        a.finished = DayOf(e.action_completed().completed_on(), e);
        a.completed = e.action_completed().final_status() == hub::v1::ACTION_COMPLETED;
      } else if (e.has_risk_assessed()) {
        if (occurred <= last) {
          if (!first_risk || occurred < first_risk->first) {
            first_risk = {occurred, e.risk_assessed().risk_level()};
          }
          if (!latest_risk || occurred >= latest_risk->first) {
            latest_risk = {occurred, e.risk_assessed().risk_level()};
          }
        }
      } else if (e.has_victim_safety_information()) {
        if (e.victim_safety_information().risk_change() != hub::v1::RISK_CHANGE_UNSPECIFIED &&
            occurred <= last && (!latest_change || occurred >= latest_change->first)) {
          latest_change = {occurred, e.victim_safety_information().risk_change()};
        }
      } else if (e.has_case_closed()) {
        if (in_month(DayOf(e.case_closed().closed_on(), e))) {
          add(absl::StrCat("closed_by_reason[",
                           hub::v1::ClosureReason_Name(e.case_closed().reason()), "]"));
        }
      } else if (e.has_needs_assessed()) {
        if (in_month(DayOf(e.needs_assessed().assessed_on(), e))) {
          add("needs_assessments");
          for (int need : e.needs_assessed().needs()) {
            add(absl::StrCat(
                "needs_identified[",
                hub::v1::PerpetratorNeed_Name(static_cast<hub::v1::PerpetratorNeed>(need)), "]"));
          }
        }
      } else if (e.has_victim_support_referred()) {
        const auto& support = e.victim_support_referred();
        if (in_month(DayOf(support.referred_on(), e))) {
          add(absl::StrCat("victim_support_by_service[",
                           hub::v1::VictimSupportService_Name(support.service()), "]"));
          add(absl::StrCat("victim_support_by_outcome[",
                           hub::v1::SupportOutcome_Name(support.outcome()), "]"));
        }
      } else if (e.has_child_worker_contact()) {
        if (in_month(DayOf(e.child_worker_contact().contact_on(), e))) {
          add(absl::StrCat("child_contacts_by_kind[",
                           hub::v1::ChildContactKind_Name(e.child_worker_contact().kind()), "]"));
        }
      } else if (e.has_panel_outcome()) {
        if (in_month(DayOf(e.panel_outcome().held_on(), e))) {
          add(absl::StrCat("panel_hearings_by_panel[",
                           hub::v1::PanelType_Name(e.panel_outcome().panel()), "]"));
          for (const std::string& agency : e.panel_outcome().agencies_present()) {
            add(absl::StrCat("panel_attendance_by_agency[", agency, "]"));
          }
        }
      } else if (e.has_follow_up_checked()) {
        const auto& check = e.follow_up_checked();
        if (in_month(DayOf(check.checked_on(), e))) {
          add(absl::StrCat("follow_ups_by_months[", check.months_after_closure(), "]"));
          if (check.police_incidents_since_closure() > 0) {
            add("follow_ups_with_police_incidents");
            add("police_incidents_at_follow_up",
                static_cast<uint64_t>(check.police_incidents_since_closure()));
          }
          if (check.repeat_referral()) add("follow_ups_with_repeat_referral");
        }
      }
      // Each sharing of victim information, with her consent to it.
      const hub::v1::SharingConsent* consent =
          e.has_risk_assessed() && e.risk_assessed().has_consent() ? &e.risk_assessed().consent()
          : e.has_victim_safety_information() && e.victim_safety_information().has_consent()
              ? &e.victim_safety_information().consent()
              : nullptr;
      if (consent != nullptr && in_month(occurred)) {
        n[absl::StrCat("information_governance.victim_sharing_by_consent[",
                       hub::v1::ConsentDecision_Name(consent->decision()), "]")]++;
        if (consent->decision() != hub::v1::CONSENT_GIVEN && consent->ground() != 0) {
          n[absl::StrCat("information_governance.consent_overridden_by_ground[",
                         hub::v1::ConsentOverrideGround_Name(consent->ground()), "]")]++;
        }
      }
    }
    if (first_allocation && in_month(*first_allocation) && first_referral &&
        *first_referral <= *first_allocation) {
      days_to_allocation.push_back(static_cast<int>(*first_allocation - *first_referral));
    }
    const bool open_at_end = OpenOn(c, last);
    if (open_at_end) {
      add("open_caseload");
      add(absl::StrCat("caseload_by_case_manager[", case_manager, "]"));
      if (latest_change) {
        add(absl::StrCat("victim_risk_change[", hub::v1::RiskChange_Name(latest_change->second),
                         "]"));
      }
      if (first_risk) {
        add(absl::StrCat("risk_first_to_latest[", hub::v1::RiskLevel_Name(first_risk->second),
                         " to ", hub::v1::RiskLevel_Name(latest_risk->second), "]"));
      }
    }
    for (const auto& [id, a] : actions) {
      const std::string row = absl::StrCat("actions_by_agency[", a.agency, "].");
      if (in_month(a.tasked)) add(row + "tasked");
      if (a.finished && in_month(*a.finished)) add(row + (a.completed ? "completed" : "not_done"));
      const bool open = a.tasked <= last && (!a.finished || *a.finished > last);
      if (open) add(row + "open");
      if (open && a.due && *a.due <= last) add(row + "overdue");
    }
    bool active = false;
    for (absl::CivilDay day = first; day <= last && !active; ++day) active = OpenOn(c, day);
    const bool reached = first_allocation && *first_allocation <= last;
    for (int kind = 0; kind < 3; ++kind) {
      for (const std::string& id : subjects[kind]) {
        if (active) reached_in[kind].insert(id);
        if (reached) reached_to[kind].insert(id);
      }
    }
  }
  const char* kinds[] = {"perpetrators", "victims", "children"};
  for (int kind = 0; kind < 3; ++kind) {
    add(absl::StrCat("reached_in_period.", kinds[kind]), reached_in[kind].size());
    add(absl::StrCat("reached_to_date.", kinds[kind]), reached_to[kind].size());
  }
  std::sort(days_to_allocation.begin(), days_to_allocation.end());
  Figures figures;
  for (const auto& [key, value] : n) {
    if (value != 0) figures[key] = Count(value);
  }
  if (!days_to_allocation.empty()) {
    const size_t size = days_to_allocation.size();
    const double median =
        size % 2 == 1 ? days_to_allocation[size / 2]
                      : (days_to_allocation[size / 2 - 1] + days_to_allocation[size / 2]) / 2.0;
    const size_t rank = static_cast<size_t>(std::ceil(0.9 * static_cast<double>(size)));
    figures["programme.referral_to_allocation.cases"] = Count(size);
    figures["programme.referral_to_allocation.median_days"] = absl::StrFormat("%.1f", median);
    figures["programme.referral_to_allocation.p90_days"] = absl::StrFormat(
        "%.1f", static_cast<double>(days_to_allocation[std::max<size_t>(rank, 1) - 1]));
  }
  return figures;
}

// ---------------------------------------------------------------- the report

// A report's figures by path, zeros left out: "programme.referrals_received",
// "programme.referrals_by_route[ROUTE_MARAC]",
// "programme.actions_by_agency[police].tasked".
void Flatten(const google::protobuf::Message& message, const std::string& path, Figures* out) {
  using google::protobuf::FieldDescriptor;
  if (const auto* tally = dynamic_cast<const hub::v1::Tally*>(&message)) {
    if (tally->count() != 0) (*out)[path] = Count(tally->count());
    if (tally->suppressed()) (*out)[path] = "suppressed";
    return;
  }
  if (const auto* days = dynamic_cast<const hub::v1::DayFigures*>(&message)) {
    if (days->suppressed()) (*out)[path] = "suppressed";
    if (days->cases() == 0) return;
    (*out)[path + ".cases"] = Count(days->cases());
    (*out)[path + ".median_days"] = absl::StrFormat("%.1f", days->median_days());
    (*out)[path + ".p90_days"] = absl::StrFormat("%.1f", days->p90_days());
    return;
  }
  const auto* reflection = message.GetReflection();
  for (int i = 0; i < message.GetDescriptor()->field_count(); ++i) {
    const FieldDescriptor* field = message.GetDescriptor()->field(i);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string at = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (!field->is_repeated()) {
      if (reflection->HasField(message, field)) {
        Flatten(reflection->GetMessage(message, field), at, out);
      }
      continue;
    }
    for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
      const auto& element = reflection->GetRepeatedMessage(message, field, k);
      std::string key;
      if (const auto* tally = dynamic_cast<const hub::v1::Tally*>(&element)) key = tally->label();
      if (const auto* row = dynamic_cast<const hub::v1::ActionFigures*>(&element)) {
        key = row->owner_agency();
      }
      Flatten(element, absl::StrCat(at, "[", key, "]"), out);
    }
  }
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_, R"pb(
                                       report { caseload_target: 12 suppression_threshold: 5 }
                                     )pb"));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  grpc::Status Report(const std::string& as, const std::string& month, bool for_publication,
                      hub::v1::GetGovernanceReportResponse* report) {
    hub::v1::GetGovernanceReportRequest request;
    request.set_month(month);
    request.set_for_publication(for_publication);
    grpc::ClientContext context;
    return hub::v1::ReportService::NewStub(pki_.Channel(hub_->address(), as))
        ->GetGovernanceReport(&context, request, report);
  }

  // The programme figures, and the information-governance figures folded
  // from the events (consent to sharing).
  Figures ProgrammeOf(const hub::v1::GetGovernanceReportResponse& report) {
    Figures figures;
    Flatten(report.programme(), "programme", &figures);
    Figures governance;
    Flatten(report.information_governance(), "information_governance", &governance);
    for (auto& [path, value] : governance) {
      if (path.find("consent") != std::string::npos) figures[path] = value;
    }
    return figures;
  }

  void LoadDemo() {
    const CommandResult demo = Hubctl(pki_, hub_->address(), "operator-admin",
                                      absl::StrCat("demo --scale=", kDemoScale, " --parallel=4"));
    ASSERT_EQ(demo.exit_status, 0) << demo.output;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  const std::string data_ = dir_.Sub("data");
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(ReportTest, EveryFigureOfEveryMonthOfTheDemoSiteEqualsAFoldOfItsEvents) {
  LoadDemo();
  tools::DemoOptions options;
  options.scale = kDemoScale;
  const std::vector<DemoEvents> cases = EventsOf(tools::GenerateDemoSite(options));
  int months_with_referrals = 0;
  size_t most_figures = 0;
  std::set<std::string> figures_seen;
  for (absl::CivilMonth month(2024, 12); month <= absl::CivilMonth(2026, 12); ++month) {
    const std::string name = absl::StrFormat("%04d-%02d", month.year(), month.month());
    hub::v1::GetGovernanceReportResponse report;
    ASSERT_TRUE(Report("governance-auditor", name, false, &report).ok()) << name;
    EXPECT_EQ(report.month(), name);
    EXPECT_EQ(report.programme().caseload_target(), 12u);
    const Figures expected =
        ExpectedProgramme(cases, static_cast<int>(month.year()), month.month());
    EXPECT_EQ(ProgrammeOf(report), expected) << "month " << name;
    if (expected.count("programme.referrals_received") > 0) ++months_with_referrals;
    for (const auto& [path, value] : expected) {
      const size_t dot = path.find('.');
      figures_seen.insert(path.substr(dot + 1, path.find_first_of(".[", dot + 1) - dot - 1));
    }
    most_figures = std::max(most_figures, expected.size());
  }
  // The site's months of referrals (about one a month at this scale), a
  // month busy enough to exercise most figures, and the people reached.
  EXPECT_GE(months_with_referrals, 10);
  EXPECT_GE(most_figures, 40u);
  // Every programme figure is exercised by the site, in some month.
  const google::protobuf::Descriptor* programme = hub::v1::ProgrammeFigures::descriptor();
  for (int i = 0; i < programme->field_count(); ++i) {
    if (programme->field(i)->name() == "caseload_target") continue;
    EXPECT_EQ(figures_seen.count(programme->field(i)->name()), 1u) << programme->field(i)->name();
  }
  EXPECT_EQ(figures_seen.count("victim_sharing_by_consent"), 1u);
  EXPECT_EQ(figures_seen.count("consent_overridden_by_ground"), 1u);
  hub::v1::GetGovernanceReportResponse november;
  ASSERT_TRUE(Report("dapp-coordinator", "2026-11", false, &november).ok());
  EXPECT_GT(november.programme().reached_to_date().perpetrators().count(), 10u);
  EXPECT_GT(november.programme().reached_to_date().children().count(), 10u);
}

TEST_F(ReportTest, TheInformationGovernanceFiguresCountWhatHappenedThisMonth) {
  ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-1", "C-2"}).ok());
  // Two reads by the police, one by the IDVA.
  ASSERT_FALSE(ReadCaseAs(pki_, hub_->address(), "police-agency", "C-1").empty());
  ASSERT_FALSE(ReadCaseAs(pki_, hub_->address(), "police-agency", "C-2").empty());
  // Health may not record a disruption: a denied publish.
  const grpc::Status refused =
      PublishOne(pki_, hub_->address(), "health-agency", "C-1", "7e7e7000-0000-4000-8000-", 1,
                 hub::v1::PURPOSE_CASE_MANAGEMENT, [](hub::v1::EventEnvelope* e) {
                   e->mutable_disruption_recorded()->set_kind(hub::v1::ARREST);
                 });
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();

  hub::v1::GetGovernanceReportResponse report;
  ASSERT_TRUE(Report("governance-auditor", "", false, &report).ok());
  const absl::CivilMonth now = absl::ToCivilMonth(absl::Now(), absl::UTCTimeZone());
  EXPECT_EQ(report.month(), absl::StrFormat("%04d-%02d", now.year(), now.month()));
  Figures figures;
  Flatten(report.information_governance(), "ig", &figures);
  // OpenCases published one referral per case, as the police.
  EXPECT_EQ(figures["ig.events_recorded_by_agency[police]"], "2");
  EXPECT_EQ(figures["ig.disclosures_by_agency[police]"], "2");
  EXPECT_EQ(figures["ig.events_disclosed_by_agency[police]"], "2");
  EXPECT_EQ(figures["ig.disclosures_by_agency_and_class[police CASE_ADMINISTRATION]"], "2");
  EXPECT_EQ(figures["ig.denials_by_agency[health]"], "1");
  EXPECT_EQ(figures["ig.denials_by_action[AUDIT_PUBLISH]"], "1");
  EXPECT_EQ(figures.count("ig.refused_callers"), 0u);
  // The report itself is in the audit, and the checkpoint covers it.
  EXPECT_THAT(report.audit_checkpoint(), HasSubstr("/audit\n"));
  const CommandResult audit =
      Hubctl(pki_, hub_->address(), "governance-auditor", "audit query --newest_first");
  EXPECT_THAT(audit.output, HasSubstr("AUDIT_READ_REPORT"));
}

TEST_F(ReportTest, OnlyTheGovernanceGroupAndCoordinatorsGetItAndBadMonthsAreRefused) {
  hub::v1::GetGovernanceReportResponse report;
  for (const char* as : {"police-agency", "idva-agency", "operator-admin"}) {
    const grpc::Status denied = Report(as, "2026-10", false, &report);
    EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << as;
    EXPECT_THAT(denied.error_message(), HasSubstr("governance report")) << as;
  }
  for (const char* month : {"2026-13", "26-10", "2026/10", "October", "2026-10-01"}) {
    const grpc::Status refused = Report("governance-auditor", month, false, &report);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << month;
    EXPECT_THAT(refused.error_message(), HasSubstr("YYYY-MM")) << month;
  }
  // The governance group sees the refusals.
  const CommandResult audit =
      Hubctl(pki_, hub_->address(), "governance-auditor", "audit query --agency=police");
  EXPECT_THAT(audit.output, HasSubstr("AUDIT_READ_REPORT"));
}

TEST_F(ReportTest, ForPublicationNoCountBelowTheThresholdIsShown) {
  LoadDemo();
  hub::v1::GetGovernanceReportResponse exact, published;
  ASSERT_TRUE(Report("governance-auditor", "2026-06", false, &exact).ok());
  ASSERT_TRUE(Report("governance-auditor", "2026-06", true, &published).ok());
  Figures exact_figures, published_figures;
  Flatten(exact.programme(), "programme", &exact_figures);
  Flatten(published.programme(), "programme", &published_figures);
  int withheld = 0, kept = 0;
  for (const auto& [path, value] : exact_figures) {
    if (path.find("referral_to_allocation") != std::string::npos) continue;
    const uint64_t count = std::stoull(value);
    if (count < 5) {
      EXPECT_EQ(published_figures[path], "suppressed") << path;
      ++withheld;
    } else {
      EXPECT_EQ(published_figures[path], value) << path;
      ++kept;
    }
  }
  EXPECT_GT(withheld, 0);
  EXPECT_GT(kept, 0);
  // Nothing from 1 to 4 anywhere in the published report.
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(published.programme(), &json).ok());
  for (int small = 1; small < 5; ++small) {
    EXPECT_THAT(json, Not(HasSubstr(absl::StrCat("\"count\":\"", small, "\"")))) << small;
  }
  EXPECT_TRUE(published.for_publication());
  EXPECT_EQ(published.suppression_threshold(), 5u);
}

TEST_F(ReportTest, HubctlWritesAPageAndAPdfThatChromiumRenders) {
  LoadDemo();
  const std::string html = dir_.Sub("report.html");
  const std::string pdf = dir_.Sub("report.pdf");
  const CommandResult result =
      Hubctl(pki_, hub_->address(), "governance-auditor",
             absl::StrCat("report --month=2026-10 --html=", html, " --pdf=", pdf));
  ASSERT_EQ(result.exit_status, 0) << result.output;
  std::ifstream page_file(html);
  std::stringstream page;
  page << page_file.rdbuf();
  EXPECT_THAT(page.str(), HasSubstr("Governance report for 2026-10"));
  EXPECT_THAT(page.str(), HasSubstr("<svg class=\"chart\""));
  EXPECT_THAT(page.str(), Not(HasSubstr("<script")));
  EXPECT_THAT(page.str(), Not(HasSubstr("http://www.w3.org/1999")));  // nothing but SVG's own
  std::ifstream pdf_file(pdf, std::ios::binary);
  std::string head(5, '\0');
  pdf_file.read(head.data(), 5);
  EXPECT_EQ(head, "%PDF-");
  for (const std::string& file : {html, pdf}) {
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
  // And as text, for the terminal.
  const CommandResult text =
      Hubctl(pki_, hub_->address(), "dapp-coordinator", "report --month=2026-10");
  ASSERT_EQ(text.exit_status, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("Referrals received"));
  EXPECT_THAT(text.output, HasSubstr("MARAC"));
}

}  // namespace
}  // namespace hub::testing
