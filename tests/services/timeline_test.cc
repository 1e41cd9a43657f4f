#include "services/timeline.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/redactor.h"
#include "auth/sharing_policy.h"
#include "auth/sharing_protocol.h"

#include "tools/demo/demo_site.h"

namespace hub::services {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

hub::v1::CalendarDate Day(int year, int month, int day) {
  hub::v1::CalendarDate date;
  date.set_year(year);
  date.set_month(month);
  date.set_day(day);
  return date;
}

hub::v1::OpenAction Action(const std::string& id, const std::string& owner,
                           std::optional<hub::v1::CalendarDate> due) {
  hub::v1::OpenAction action;
  action.set_action_id(id);
  action.set_owner_agency(owner);
  if (due.has_value()) *action.mutable_due_on() = *due;
  action.set_status(hub::v1::ACTION_OPEN);
  return action;
}

TEST(TimelineTest, AnActionIsOverdueOnlyOnceItsDueDayHasPassed) {
  hub::v1::CaseSummary summary;
  summary.set_case_id("C-1");
  *summary.add_open_actions() = Action("A-1", "housing", Day(2026, 3, 9));
  *summary.add_open_actions() = Action("A-2", "housing", Day(2026, 3, 10));
  *summary.add_open_actions() = Action("A-3", "police", Day(2026, 3, 11));
  *summary.add_open_actions() = Action("A-4", "police", std::nullopt);
  *summary.add_open_actions() = Action("A-5", "health", Day(2025, 12, 31));

  const hub::v1::CaseOverview overview = OverviewOf(summary, Day(2026, 3, 10));
  EXPECT_EQ(overview.open_actions(), 5u);
  EXPECT_EQ(overview.overdue_actions(), 2u);  // A-2 is due today
  ASSERT_EQ(overview.actions_size(), 3);
  EXPECT_EQ(overview.actions(0).agency(), "health");
  EXPECT_EQ(overview.actions(0).overdue(), 1u);
  EXPECT_EQ(overview.actions(1).agency(), "housing");
  EXPECT_EQ(overview.actions(1).open(), 2u);
  EXPECT_EQ(overview.actions(1).overdue(), 1u);
  EXPECT_EQ(overview.actions(2).agency(), "police");
  EXPECT_EQ(overview.actions(2).open(), 2u);
  EXPECT_EQ(overview.actions(2).overdue(), 0u);
  // Soonest due first, undated last.
  std::vector<std::string> order;
  for (const auto& action : overview.open_action_details()) order.push_back(action.action_id());
  EXPECT_THAT(order, ::testing::ElementsAre("A-5", "A-1", "A-2", "A-3", "A-4"));

  // A day later A-2 is overdue too; a month earlier nothing but A-5 is.
  EXPECT_EQ(OverviewOf(summary, Day(2026, 3, 11)).overdue_actions(), 3u);
  EXPECT_EQ(OverviewOf(summary, Day(2026, 2, 10)).overdue_actions(), 1u);
}

TEST(TimelineTest, ListFiltersSelectWhatPanelPreparationAsksFor) {
  hub::v1::CaseOverview high_overdue;
  high_overdue.set_risk_level(hub::v1::RISK_HIGH);
  high_overdue.set_referral_route(hub::v1::ROUTE_MARAC);
  high_overdue.set_overdue_actions(1);
  high_overdue.set_case_manager_id("CM-01");
  *high_overdue.mutable_referred_on() = Day(2026, 10, 1);
  hub::v1::CaseOverview medium = high_overdue;
  medium.set_risk_level(hub::v1::RISK_MEDIUM);
  medium.set_overdue_actions(0);
  hub::v1::CaseOverview closed = high_overdue;
  closed.set_closed(true);
  hub::v1::CaseOverview unknown_risk = high_overdue;
  unknown_risk.set_risk_level(hub::v1::RISK_LEVEL_UNSPECIFIED);
  unknown_risk.clear_referred_on();

  hub::v1::ListCasesRequest all;
  EXPECT_TRUE(MatchesFilters(all, high_overdue));
  EXPECT_TRUE(MatchesFilters(all, unknown_risk));
  EXPECT_FALSE(MatchesFilters(all, closed));
  all.set_include_closed(true);
  EXPECT_TRUE(MatchesFilters(all, closed));

  hub::v1::ListCasesRequest high_with_overdue;
  high_with_overdue.set_min_risk_level(hub::v1::RISK_HIGH);
  high_with_overdue.set_with_overdue_actions(true);
  EXPECT_TRUE(MatchesFilters(high_with_overdue, high_overdue));
  EXPECT_FALSE(MatchesFilters(high_with_overdue, medium));
  EXPECT_FALSE(MatchesFilters(high_with_overdue, unknown_risk));

  hub::v1::ListCasesRequest recent;
  *recent.mutable_referred_on_or_after() = Day(2026, 10, 1);
  EXPECT_TRUE(MatchesFilters(recent, high_overdue));
  *recent.mutable_referred_on_or_after() = Day(2026, 10, 2);
  EXPECT_FALSE(MatchesFilters(recent, high_overdue));
  EXPECT_FALSE(MatchesFilters(recent, unknown_risk));  // referral date not visible

  hub::v1::ListCasesRequest other_manager;
  other_manager.set_case_manager_id("CM-02");
  EXPECT_FALSE(MatchesFilters(other_manager, high_overdue));
  hub::v1::ListCasesRequest dapp;
  dapp.set_referral_route(hub::v1::ROUTE_DAPP);
  EXPECT_FALSE(MatchesFilters(dapp, high_overdue));
}

TEST(TimelineTest, DatesAreChecked) {
  EXPECT_TRUE(ValidateDate(hub::v1::CalendarDate(), "as_of").ok());
  EXPECT_TRUE(ValidateDate(Day(2028, 2, 29), "as_of").ok());
  absl::Status bad = ValidateDate(Day(2026, 2, 30), "as_of");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("as_of is 2026-02-30"));
  EXPECT_FALSE(ValidateDate(Day(2026, 13, 1), "as_of").ok());
  EXPECT_FALSE(ValidateDate(Day(0, 1, 1), "as_of").ok());
}

TEST(TimelineTest, PageTokensResumeOnlyTheirOwnCase) {
  const TimelinePlace place{1795000000, 42, 17};
  const std::string token = TimelinePageToken("C-1", place);
  absl::StatusOr<TimelinePlace> back = TimelinePlaceFromToken(token, "C-1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(*back < place);
  EXPECT_FALSE(place < *back);
  EXPECT_EQ(TimelinePlaceFromToken(token, "C-2").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TimelinePlaceFromToken("not-a-token", "C-1").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TimelineTest, EventsAreOrderedByWhenTheyHappenedThenByVersion) {
  hub::v1::EventEnvelope late_recorded;
  late_recorded.mutable_occurred_time()->set_seconds(100);
  late_recorded.mutable_recorded_time()->set_seconds(900);
  late_recorded.set_stream_version(9);
  hub::v1::EventEnvelope early_recorded;
  early_recorded.mutable_occurred_time()->set_seconds(200);
  early_recorded.mutable_recorded_time()->set_seconds(300);
  early_recorded.set_stream_version(3);
  hub::v1::EventEnvelope no_occurred_time;
  no_occurred_time.mutable_recorded_time()->set_seconds(150);
  no_occurred_time.set_stream_version(5);
  EXPECT_TRUE(PlaceOf(late_recorded) < PlaceOf(no_occurred_time));
  EXPECT_TRUE(PlaceOf(no_occurred_time) < PlaceOf(early_recorded));
  hub::v1::EventEnvelope same_time = late_recorded;
  same_time.set_stream_version(10);
  EXPECT_TRUE(PlaceOf(late_recorded) < PlaceOf(same_time));
}

TEST(TimelineTest, FiltersByTimeAgencyAndType) {
  hub::v1::EventEnvelope event;
  event.set_producing_agency("police");
  event.mutable_occurred_time()->set_seconds(1000);
  event.mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
  hub::v1::GetCaseTimelineRequest request;
  EXPECT_TRUE(InTimeline(request, event));
  request.mutable_from_time()->set_seconds(1000);
  request.mutable_to_time()->set_seconds(1000);
  EXPECT_TRUE(InTimeline(request, event));  // both ends included
  request.mutable_from_time()->set_seconds(1001);
  EXPECT_FALSE(InTimeline(request, event));
  request.clear_from_time();
  request.mutable_to_time()->set_seconds(999);
  EXPECT_FALSE(InTimeline(request, event));
  request.clear_to_time();
  request.add_agencies("idva");
  EXPECT_FALSE(InTimeline(request, event));
  request.add_agencies("police");
  EXPECT_TRUE(InTimeline(request, event));
  request.add_event_types("panel_outcome");
  EXPECT_FALSE(InTimeline(request, event));
  request.add_event_types("risk_assessed");
  EXPECT_TRUE(InTimeline(request, event));

  google::protobuf::RepeatedPtrField<std::string> types;
  *types.Add() = "risk_assessed";
  EXPECT_TRUE(ValidateEventTypeNames(types).ok());
  *types.Add() = "riskassessed";
  EXPECT_THAT(std::string(ValidateEventTypeNames(types).message()), HasSubstr("riskassessed"));
}

TEST(TimelineTest, SummariesSayWhatHappenedInOneLine) {
  hub::v1::EventEnvelope risk;
  risk.mutable_risk_assessed()->set_tool(hub::v1::DASH);
  risk.mutable_risk_assessed()->set_dash_yes_count(16);
  risk.mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
  EXPECT_EQ(DescribeEvent(risk), "Risk assessed: high, DASH 16 of 24");
  hub::v1::EventEnvelope tasked;
  auto* action = tasked.mutable_action_tasked();
  action->set_action_id("A-7");
  action->set_owner_agency("housing");
  *action->mutable_due_on() = Day(2026, 12, 1);
  action->set_description("Review the tenancy");
  EXPECT_EQ(DescribeEvent(tasked),
            "Action A-7 tasked: to housing, due 2026-12-01, Review the tenancy");
  hub::v1::EventEnvelope referral;
  referral.mutable_referral_received()->set_route(hub::v1::ROUTE_MARAC);
  referral.mutable_referral_received()->set_marac_criterion(hub::v1::VISIBLE_HIGH_RISK);
  EXPECT_EQ(DescribeEvent(referral), "Referral received: via MARAC, visible high risk");
  // Everything redacted: the kind of event, and nothing more.
  hub::v1::EventEnvelope hidden;
  hidden.mutable_victim_safety_information();
  EXPECT_EQ(DescribeEvent(hidden), "Victim safety update");
  hub::v1::EventEnvelope long_text = tasked;
  long_text.mutable_action_tasked()->set_description(std::string(200, 'x'));
  EXPECT_LT(DescribeEvent(long_text).size(), 140u);
}

// Every string value anywhere in `message`.
void Strings(const google::protobuf::Message& message, std::set<std::string>* out) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  for (const auto* field : fields) {
    const int count = field->is_repeated() ? message.GetReflection()->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
        out->insert(field->is_repeated()
                        ? message.GetReflection()->GetRepeatedString(message, field, i)
                        : message.GetReflection()->GetString(message, field));
      } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        Strings(field->is_repeated()
                    ? message.GetReflection()->GetRepeatedMessage(message, field, i)
                    : message.GetReflection()->GetMessage(message, field),
                out);
      }
    }
  }
}

// The summary line is written from the redacted event, so no text the
// protocol withholds from a principal can reach it: checked for every event
// of the demonstration site and every principal of the example protocol.
TEST(TimelineTest, ASummaryNeverHoldsTextThePrincipalMayNotSee) {
  auto loaded = auth::LoadSharingProtocolFile(std::string(HUB_SOURCE_DIR) +
                                              "/deploy/examples/sharing_protocol.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const auth::SharingPolicy policy(loaded->protocol);
  tools::DemoOptions options;
  options.scale = 0.2;
  const tools::DemoSite site = tools::GenerateDemoSite(options);
  size_t checked = 0;
  size_t withheld = 0;
  for (const tools::DemoCase& demo_case : site.cases) {
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        std::set<std::string> all;
        Strings(event, &all);
        for (const hub::v1::Principal& principal : loaded->protocol.principals()) {
          for (const auth::RelationMask relations : {auth::kNoRelation, auth::kEveryRelation}) {
            hub::v1::EventEnvelope visible = event;
            if (!auth::Redact(policy.Allowed(principal.identity(), event.purpose(), relations),
                              &visible)) {
              continue;  // the principal does not see the event at all
            }
            std::set<std::string> kept;
            Strings(visible, &kept);
            const std::string summary = DescribeEvent(visible);
            for (const std::string& text : all) {
              if (text.size() < 4 || kept.count(text) > 0) continue;
              ++withheld;
              EXPECT_THAT(summary, Not(HasSubstr(text)))
                  << principal.identity() << " may not see \"" << text << "\"";
            }
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 1000u);
  EXPECT_GT(withheld, 1000u);  // the test exercised redaction, not only full views
}

}  // namespace
}  // namespace hub::services
