// The consolidated timeline and the case list over real mutual TLS: the
// same case as the DAPP coordinator, the police and the Drive case manager
// see it differs exactly as the sharing protocol says; paging, filters,
// overdue actions as of a day, the audit of every read, and refusals.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "auth/data_classes.h"
#include "auth/redactor.h"
#include "auth/sharing_policy.h"
#include "auth/sharing_protocol.h"
#include "tests/integration/error_details.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/audit_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/timeline_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kCase[] = "C-2026-00042";
constexpr char kAddress[] = "Flat 9, 3 Example Close, Exampletown";
constexpr char kDisclosure[] = "Told the IDVA he tracks her phone";
constexpr char kClinical[] = "Prescribed naltrexone by the community alcohol team";
constexpr char kPrefix[] = "spiffe://drive.example-county.gov.uk/agency/";
constexpr int64_t kDay = 86400;
// 2026-10-01T00:00:00Z.
constexpr int64_t kOctober1 = 1790812800;

hub::v1::CalendarDate Date(int year, int month, int day) {
  hub::v1::CalendarDate date;
  date.set_year(year);
  date.set_month(month);
  date.set_day(day);
  return date;
}

class TimelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    auto loaded = auth::LoadSharingProtocolFile(ExampleProtocolPath());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    protocol_ = loaded->protocol;

    // A case as the agencies record it. The IDVA records its update a week
    // late: it happened before the panel, though it reaches the hub after.
    Publish("police-agency", 0, hub::v1::PURPOSE_CASE_MANAGEMENT, [](hub::v1::EventEnvelope* e) {
      auto* referral = e->mutable_referral_received();
      referral->set_route(hub::v1::ROUTE_MARAC);
      referral->set_referring_agency("police");
      *referral->mutable_referred_on() = Date(2026, 10, 1);
      referral->set_marac_criterion(hub::v1::VISIBLE_HIGH_RISK);
      referral->set_eligibility(hub::v1::ACCEPTED);
    });
    Publish("police-agency", 1, hub::v1::PURPOSE_SAFEGUARDING, [](hub::v1::EventEnvelope* e) {
      auto* risk = e->mutable_risk_assessed();
      risk->set_tool(hub::v1::DASH);
      risk->set_dash_yes_count(17);
      risk->set_risk_level(hub::v1::RISK_HIGH);
      risk->set_victim_subject_id("V-42");
    });
    Publish("dapp-coordinator", 10, hub::v1::PURPOSE_PANEL, [](hub::v1::EventEnvelope* e) {
      auto* panel = e->mutable_panel_outcome();
      panel->set_panel(hub::v1::MARAC_PANEL);
      panel->set_panel_id("MARAC-2026-10-11");
      panel->set_actions_agreed(3);
    });
    const std::vector<std::pair<std::string, hub::v1::CalendarDate>> actions = {
        {"housing", Date(2026, 10, 20)},
        {"police", Date(2026, 10, 25)},
        {"health", Date(2026, 11, 5)}};
    for (size_t i = 0; i < actions.size(); ++i) {
      Publish("dapp-coordinator", 10, hub::v1::PURPOSE_PANEL, [&](hub::v1::EventEnvelope* e) {
        auto* action = e->mutable_action_tasked();
        action->set_action_id(absl::StrCat("A-", i + 1));
        action->set_owner_agency(actions[i].first);
        *action->mutable_due_on() = actions[i].second;
        action->set_description(absl::StrCat("Action for ", actions[i].first));
      });
    }
    Publish("drive-agency", 12, hub::v1::PURPOSE_CASE_MANAGEMENT, [](hub::v1::EventEnvelope* e) {
      e->mutable_case_allocated()->set_case_manager_id("CM-02");
    });
    Publish("drive-agency", 14, hub::v1::PURPOSE_CASE_MANAGEMENT, [](hub::v1::EventEnvelope* e) {
      auto* support = e->mutable_support_referral_made();
      support->set_service(hub::v1::SUBSTANCE_MISUSE);
      support->set_provider_agency("health");
      support->set_clinical_notes(kClinical);
    });
    Publish("police-agency", 15, hub::v1::PURPOSE_CASE_MANAGEMENT, [](hub::v1::EventEnvelope* e) {
      auto* done = e->mutable_action_completed();
      done->set_action_id("A-2");
      done->set_final_status(hub::v1::ACTION_COMPLETED);
    });
    Publish("idva-agency", 5, hub::v1::PURPOSE_SAFEGUARDING, [](hub::v1::EventEnvelope* e) {
      auto* safety = e->mutable_victim_safety_information();
      safety->set_victim_subject_id("V-42");
      safety->set_risk_change(hub::v1::REDUCED);
      safety->set_current_address(kAddress);
      safety->set_disclosure_notes(kDisclosure);
    });
    // Another case, so that filters and lists have something to leave out.
    Publish(
        "police-agency", 2, hub::v1::PURPOSE_CASE_MANAGEMENT,
        [](hub::v1::EventEnvelope* e) {
          e->mutable_referral_received()->set_route(hub::v1::ROUTE_DAPP);
        },
        "C-2026-00043");
    Publish(
        "police-agency", 2, hub::v1::PURPOSE_SAFEGUARDING,
        [](hub::v1::EventEnvelope* e) {
          e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_MEDIUM);
        },
        "C-2026-00043");
  }

  void Publish(const std::string& as, int day, hub::v1::Purpose purpose,
               const std::function<void(hub::v1::EventEnvelope*)>& fill,
               const std::string& case_id = kCase) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(
        absl::StrCat("7e57a000-0000-4000-8000-", absl::Dec(++published_, absl::kZeroPad12)));
    event->mutable_occurred_time()->set_seconds(kOctober1 + day * kDay + published_);
    event->set_purpose(purpose);
    event->set_lawful_basis("UK GDPR Art 6(1)(e)");
    fill(event);
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    grpc::Status status = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as))
                              ->Publish(&context, request, &response);
    ASSERT_TRUE(status.ok()) << as << ": " << status.error_message();
    if (case_id == kCase) published_events_[++published_in_case_] = *event;
  }

  grpc::Status Timeline(const std::string& as, const hub::v1::GetCaseTimelineRequest& request,
                        hub::v1::GetCaseTimelineResponse* response) {
    grpc::ClientContext context;
    return hub::v1::TimelineService::NewStub(pki_.Channel(hub_->address(), as))
        ->GetCaseTimeline(&context, request, response);
  }

  hub::v1::GetCaseTimelineResponse WholeTimeline(const std::string& as) {
    hub::v1::GetCaseTimelineRequest request;
    request.set_case_id(kCase);
    hub::v1::GetCaseTimelineResponse response;
    grpc::Status status = Timeline(as, request, &response);
    EXPECT_TRUE(status.ok()) << as << ": " << status.error_message();
    return response;
  }

  grpc::Status List(const std::string& as, const hub::v1::ListCasesRequest& request,
                    hub::v1::ListCasesResponse* response) {
    grpc::ClientContext context;
    return hub::v1::TimelineService::NewStub(pki_.Channel(hub_->address(), as))
        ->ListCases(&context, request, response);
  }

  // The audit records of `case_id` other than publishes, as the
  // governance auditor queries them.
  std::vector<hub::v1::AuditRecord> AccessesTo(const std::string& case_id) {
    grpc::ClientContext context;
    hub::v1::QueryAuditRequest query;
    query.set_case_id(case_id);
    hub::v1::QueryAuditResponse audit;
    const grpc::Status status =
        hub::v1::AuditService::NewStub(pki_.Channel(hub_->address(), "governance-auditor"))
            ->QueryAudit(&context, query, &audit);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<hub::v1::AuditRecord> records;
    for (const hub::v1::AuditEntry& entry : audit.entries()) {
      if (entry.record().action() != hub::v1::AUDIT_PUBLISH) records.push_back(entry.record());
    }
    return records;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
  hub::v1::SharingProtocol protocol_;
  int published_ = 0;
  // The events of kCase as published, in order.
  std::map<uint64_t, hub::v1::EventEnvelope> published_events_;
  uint64_t published_in_case_ = 0;
};

// What the protocol says `identity` sees of each published event of the
// case, by event id, computed here from the protocol file, apart from the hub.
std::map<std::string, hub::v1::EventEnvelope> Expected(
    const hub::v1::SharingProtocol& protocol, const std::string& identity,
    const std::map<uint64_t, hub::v1::EventEnvelope>& published) {
  const auth::SharingPolicy policy(protocol);
  std::map<std::string, hub::v1::EventEnvelope> expected;
  for (const auto& [position, event] : published) {
    hub::v1::EventEnvelope visible = event;
    // The principals checked here have rules that need no relationship.
    if (auth::Redact(policy.Allowed(identity, event.purpose(), auth::kNoRelation), &visible)) {
      expected[event.event_id()] = visible;
    }
  }
  return expected;
}

TEST_F(TimelineTest, EachPrincipalSeesTheCaseExactlyAsTheProtocolSays) {
  for (const std::string as : {"dapp-coordinator", "police-agency", "drive-agency"}) {
    SCOPED_TRACE(as);
    const std::string identity =
        absl::StrCat(kPrefix, as == "dapp-coordinator" ? "dapp/coordinator"
                                                       : as.substr(0, as.find('-')) + "/agency");
    const hub::v1::GetCaseTimelineResponse timeline = WholeTimeline(as);
    const std::map<std::string, hub::v1::EventEnvelope> expected =
        Expected(protocol_, identity, published_events_);
    ASSERT_EQ(static_cast<size_t>(timeline.entries_size()), expected.size());
    EXPECT_EQ(timeline.visible_events(), expected.size());
    // Versions and positions count only what this principal sees: 1..n.
    std::set<uint64_t> versions;
    std::set<uint64_t> positions;
    for (const hub::v1::TimelineEntry& entry : timeline.entries()) {
      versions.insert(entry.stream_version());
      positions.insert(entry.global_position() % 1'000'000'000'000);
    }
    EXPECT_EQ(versions.size(), expected.size());
    EXPECT_EQ(*versions.begin(), 1u);
    EXPECT_EQ(*versions.rbegin(), expected.size());
    EXPECT_EQ(positions.size(), expected.size());
    for (const hub::v1::TimelineEntry& entry : timeline.entries()) {
      hub::v1::EventEnvelope shown = entry.event();
      // The hub stamps these; the rest must be exactly the protocol's shape.
      shown.clear_case_id();
      shown.clear_producing_agency();
      shown.clear_producer_identity();
      shown.clear_recorded_time();
      shown.clear_global_position();
      shown.clear_stream_version();
      shown.clear_classification();
      ASSERT_TRUE(expected.count(entry.event().event_id())) << entry.event().event_id();
      const hub::v1::EventEnvelope& want = expected.at(entry.event().event_id());
      EXPECT_EQ(shown.SerializeAsString(), want.SerializeAsString())
          << entry.kind() << "\nshown:    " << shown.ShortDebugString()
          << "\nexpected: " << want.ShortDebugString();
      EXPECT_EQ(entry.kind(), auth::EventTypeName(entry.event()));
      EXPECT_FALSE(entry.summary().empty());
    }
  }

  // In words: the police see where the victim is, not what she told the
  // IDVA; the coordinator's panel papers and the Drive case manager see
  // neither; only Drive sees the clinical note it needs for case management.
  const std::string police = WholeTimeline("police-agency").SerializeAsString();
  const std::string coordinator = WholeTimeline("dapp-coordinator").SerializeAsString();
  const std::string drive = WholeTimeline("drive-agency").SerializeAsString();
  EXPECT_THAT(police, HasSubstr(kAddress));
  EXPECT_THAT(police, ::testing::Not(HasSubstr(kDisclosure)));
  EXPECT_THAT(police, ::testing::Not(HasSubstr(kClinical)));
  for (const std::string& view : {coordinator, drive}) {
    EXPECT_THAT(view, ::testing::Not(HasSubstr(kAddress)));
    EXPECT_THAT(view, ::testing::Not(HasSubstr(kDisclosure)));
  }
  EXPECT_THAT(drive, HasSubstr(kClinical));
  EXPECT_THAT(coordinator, ::testing::Not(HasSubstr(kClinical)));
}

TEST_F(TimelineTest, EntriesAreInTheOrderThingsHappenedWithWhoRecordedThem) {
  const hub::v1::GetCaseTimelineResponse timeline = WholeTimeline("dapp-coordinator");
  std::vector<std::string> kinds;
  int64_t previous = 0;
  for (const hub::v1::TimelineEntry& entry : timeline.entries()) {
    kinds.push_back(absl::StrCat(entry.agency(), ":", entry.kind()));
    EXPECT_GE(entry.occurred_time().seconds(), previous);
    previous = entry.occurred_time().seconds();
  }
  // The IDVA's late update sits where it happened (day 5), before the panel.
  EXPECT_THAT(kinds, ElementsAre("police:referral_received", "police:risk_assessed",
                                 "idva:victim_safety_information", "dapp:panel_outcome",
                                 "dapp:action_tasked", "dapp:action_tasked", "dapp:action_tasked",
                                 "drive:case_allocated", "drive:support_referral_made",
                                 "police:action_completed"));
  EXPECT_EQ(timeline.entries(1).summary(), "Risk assessed: high, DASH 17 of 24");
  EXPECT_EQ(timeline.entries(2).summary(), "Victim safety update: V-42, risk reduced");
  EXPECT_EQ(timeline.entries(0).producer_identity(), absl::StrCat(kPrefix, "police/agency"));
}

TEST_F(TimelineTest, PagesAndFiltersSelectTheSameEntriesInTheSameOrder) {
  const hub::v1::GetCaseTimelineResponse whole = WholeTimeline("police-agency");
  hub::v1::GetCaseTimelineRequest request;
  request.set_case_id(kCase);
  request.set_page_size(3);
  std::vector<uint64_t> paged;
  int pages = 0;
  do {
    hub::v1::GetCaseTimelineResponse page;
    ASSERT_TRUE(Timeline("police-agency", request, &page).ok());
    EXPECT_LE(page.entries_size(), 3);
    for (const auto& entry : page.entries()) paged.push_back(entry.global_position());
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 20);
  std::vector<uint64_t> all;
  for (const auto& entry : whole.entries()) all.push_back(entry.global_position());
  EXPECT_EQ(paged, all);
  EXPECT_EQ(pages, 4);  // 10 entries, 3 a page

  hub::v1::GetCaseTimelineRequest by_agency;
  by_agency.set_case_id(kCase);
  by_agency.add_agencies("dapp");
  hub::v1::GetCaseTimelineResponse dapp_only;
  ASSERT_TRUE(Timeline("police-agency", by_agency, &dapp_only).ok());
  EXPECT_EQ(dapp_only.entries_size(), 4);
  for (const auto& entry : dapp_only.entries()) EXPECT_EQ(entry.agency(), "dapp");
  EXPECT_EQ(dapp_only.visible_events(), 10u);

  hub::v1::GetCaseTimelineRequest by_type_and_time;
  by_type_and_time.set_case_id(kCase);
  by_type_and_time.add_event_types("action_tasked");
  by_type_and_time.add_event_types("action_completed");
  by_type_and_time.mutable_from_time()->set_seconds(kOctober1 + 11 * kDay);
  hub::v1::GetCaseTimelineResponse later_actions;
  ASSERT_TRUE(Timeline("police-agency", by_type_and_time, &later_actions).ok());
  ASSERT_EQ(later_actions.entries_size(), 1);
  EXPECT_EQ(later_actions.entries(0).kind(), "action_completed");

  // A page token only resumes its own case's timeline.
  hub::v1::GetCaseTimelineRequest other = request;
  request.set_page_token("");
  hub::v1::GetCaseTimelineResponse first_page;
  ASSERT_TRUE(Timeline("police-agency", request, &first_page).ok());
  other.set_case_id("C-2026-00043");
  other.set_page_token(first_page.next_page_token());
  hub::v1::GetCaseTimelineResponse refused;
  grpc::Status status = Timeline("police-agency", other, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("another case"));
}

TEST_F(TimelineTest, BadRequestsAreRefusedWithAReason) {
  hub::v1::GetCaseTimelineResponse response;
  hub::v1::GetCaseTimelineRequest no_case;
  grpc::Status status = Timeline("police-agency", no_case, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("case_id is required"));
  hub::v1::GetCaseTimelineRequest bad_type;
  bad_type.set_case_id(kCase);
  bad_type.add_event_types("panel");
  status = Timeline("police-agency", bad_type, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("\"panel\""));
  hub::v1::GetCaseTimelineRequest big_page;
  big_page.set_case_id(kCase);
  big_page.set_page_size(5000);
  {
    hub::v1::GetCaseTimelineResponse served;
    EXPECT_TRUE(Timeline("police-agency", big_page, &served).ok()) << "AIP-158: served, clamped";
  }
  big_page.set_page_size(-1);
  EXPECT_EQ(Timeline("police-agency", big_page, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  hub::v1::ListCasesRequest bad_date;
  *bad_date.mutable_as_of() = Date(2026, 2, 31);
  hub::v1::ListCasesResponse list;
  status = List("dapp-coordinator", bad_date, &list);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("as_of is 2026-02-31"));

  // Auditors and operators read no case content, timelines included.
  for (const std::string as : {"governance-auditor", "operator-admin"}) {
    hub::v1::GetCaseTimelineRequest request;
    request.set_case_id(kCase);
    status = Timeline(as, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << as;
    EXPECT_EQ(response.entries_size(), 0);
    EXPECT_EQ(List(as, hub::v1::ListCasesRequest(), &list).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(TimelineTest, ListCasesCountsOverdueActionsByAgencyAsOfAGivenDay) {
  auto overview_as_of = [&](hub::v1::CalendarDate day) {
    hub::v1::ListCasesRequest request;
    *request.mutable_as_of() = day;
    hub::v1::ListCasesResponse response;
    grpc::Status status = List("dapp-coordinator", request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.cases_size(), 2);
    return response.cases(0);
  };
  // A-1 housing due 10-20, A-2 police due 10-25 (completed), A-3 health due 11-05.
  hub::v1::CaseOverview before = overview_as_of(Date(2026, 10, 20));
  EXPECT_EQ(before.case_id(), kCase);
  EXPECT_EQ(before.risk_level(), hub::v1::RISK_HIGH);
  EXPECT_EQ(before.referral_route(), hub::v1::ROUTE_MARAC);
  EXPECT_EQ(before.case_manager_id(), "CM-02");
  EXPECT_EQ(before.open_actions(), 2u);
  EXPECT_EQ(before.overdue_actions(), 0u);
  hub::v1::CaseOverview next_day = overview_as_of(Date(2026, 10, 21));
  EXPECT_EQ(next_day.overdue_actions(), 1u);
  ASSERT_EQ(next_day.actions_size(), 2);
  EXPECT_EQ(next_day.actions(0).agency(), "health");
  EXPECT_EQ(next_day.actions(0).overdue(), 0u);
  EXPECT_EQ(next_day.actions(1).agency(), "housing");
  EXPECT_EQ(next_day.actions(1).overdue(), 1u);
  EXPECT_EQ(overview_as_of(Date(2026, 11, 6)).overdue_actions(), 2u);

  // "High risk with overdue actions" on 2026-10-21: this case only.
  hub::v1::ListCasesRequest panel;
  panel.set_min_risk_level(hub::v1::RISK_HIGH);
  panel.set_with_overdue_actions(true);
  *panel.mutable_as_of() = Date(2026, 10, 21);
  hub::v1::ListCasesResponse selected;
  ASSERT_TRUE(List("dapp-coordinator", panel, &selected).ok());
  ASSERT_EQ(selected.cases_size(), 1);
  EXPECT_EQ(selected.cases(0).case_id(), kCase);
  *panel.mutable_as_of() = Date(2026, 10, 20);
  ASSERT_TRUE(List("dapp-coordinator", panel, &selected).ok());
  EXPECT_EQ(selected.cases_size(), 0);

  // Paging through the list one case at a time finds both.
  hub::v1::ListCasesRequest paged;
  paged.set_page_size(1);
  std::vector<std::string> ids;
  for (int page = 0; page < 5; ++page) {
    hub::v1::ListCasesResponse response;
    ASSERT_TRUE(List("dapp-coordinator", paged, &response).ok());
    for (const auto& overview : response.cases()) ids.push_back(overview.case_id());
    if (response.next_page_token().empty()) break;
    paged.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(ids, ElementsAre(kCase, "C-2026-00043"));
}

TEST_F(TimelineTest, TimelineReadsAndCaseListsAreAudited) {
  WholeTimeline("dapp-coordinator");
  hub::v1::ListCasesResponse list;
  ASSERT_TRUE(List("police-agency", hub::v1::ListCasesRequest(), &list).ok());
  hub::v1::GetCaseTimelineRequest denied;
  denied.set_case_id(kCase);
  hub::v1::GetCaseTimelineResponse response;
  EXPECT_FALSE(Timeline("governance-auditor", denied, &response).ok());

  std::vector<std::string> reads;
  for (const hub::v1::AuditRecord& record : AccessesTo(kCase)) {
    reads.push_back(absl::StrCat(record.agency(), " ", hub::v1::AuditAction_Name(record.action()),
                                 " ", hub::v1::AuditDecision_Name(record.decision())));
    if (record.action() == hub::v1::AUDIT_READ_TIMELINE &&
        record.decision() == hub::v1::AUDIT_ALLOWED) {
      EXPECT_EQ(record.event_count(), 10u);
      EXPECT_THAT(record.rules(), ::testing::Contains("risk"));
    }
    if (record.action() == hub::v1::AUDIT_LIST_CASES) {
      EXPECT_THAT(record.listed_case_ids(), ElementsAre(kCase, "C-2026-00043"));
    }
  }
  EXPECT_THAT(reads, ElementsAre("dapp AUDIT_READ_TIMELINE AUDIT_ALLOWED",
                                 "police AUDIT_LIST_CASES AUDIT_ALLOWED",
                                 "governance AUDIT_READ_TIMELINE AUDIT_DENIED"));
}

TEST_F(TimelineTest, ADeclaredPurposeIsAuditedAndMustBeOneTheCallerHasARuleFor) {
  hub::v1::GetCaseTimelineRequest for_panel;
  for_panel.set_case_id(kCase);
  for_panel.set_purpose(hub::v1::PURPOSE_PANEL);
  hub::v1::GetCaseTimelineResponse response;
  ASSERT_TRUE(Timeline("dapp-coordinator", for_panel, &response).ok());
  {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest read;
    read.set_case_id(kCase);
    read.set_purpose(hub::v1::PURPOSE_DISRUPTION);
    hub::v1::ReadCaseResponse events;
    ASSERT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                    ->ReadCase(&context, read, &events)
                    .ok());
  }
  // The police have no rule for evaluation: reading "for evaluation" is
  // refused, and the refusal is audited.
  hub::v1::GetCaseTimelineRequest for_evaluation = for_panel;
  for_evaluation.set_purpose(hub::v1::PURPOSE_EVALUATION);
  grpc::Status status = Timeline("police-agency", for_evaluation, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("no rule for PURPOSE_EVALUATION"));
  const auto no_rule = DetailOf<google::rpc::ErrorInfo>(status);
  ASSERT_TRUE(no_rule.has_value());
  EXPECT_EQ(no_rule->reason(), "NO_READING_RULE");
  EXPECT_EQ(no_rule->metadata().at("purpose"), "PURPOSE_EVALUATION");
  hub::v1::GetCaseTimelineRequest nonsense = for_panel;
  nonsense.set_purpose(static_cast<hub::v1::Purpose>(99));
  EXPECT_EQ(Timeline("police-agency", nonsense, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  std::vector<std::string> reads;
  for (const hub::v1::AuditRecord& record : AccessesTo(kCase)) {
    reads.push_back(absl::StrCat(record.agency(), " ", hub::v1::AuditAction_Name(record.action()),
                                 " ", hub::v1::AuditDecision_Name(record.decision()), " ",
                                 hub::v1::Purpose_Name(record.purpose())));
  }
  EXPECT_THAT(reads, ElementsAre("dapp AUDIT_READ_TIMELINE AUDIT_ALLOWED PURPOSE_PANEL",
                                 "police AUDIT_READ_CASE AUDIT_ALLOWED PURPOSE_DISRUPTION",
                                 "police AUDIT_READ_TIMELINE AUDIT_DENIED PURPOSE_EVALUATION"));
}

}  // namespace
}  // namespace hub::testing
