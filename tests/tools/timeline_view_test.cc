#include "tools/hubctl/timeline_view.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hub::tools {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

CaseTimeline Sample() {
  CaseTimeline timeline;
  timeline.case_id = "C-2026-00001";
  timeline.protocol_version = "2026-11-1";
  timeline.prepared_for = "DAPP and MARAC coordinators";
  timeline.generated_at = absl::FromUnixSeconds(1795000000);
  timeline.as_of.set_year(2026);
  timeline.as_of.set_month(11);
  timeline.as_of.set_day(20);
  hub::v1::TimelineEntry entry;
  entry.set_agency("housing");
  entry.set_kind("action_updated");
  entry.mutable_occurred_time()->set_seconds(1795000000);
  entry.set_summary("Action <A-1> updated: in progress");
  auto* updated = entry.mutable_event()->mutable_action_updated();
  updated->set_action_id("A-1");
  updated->set_status(hub::v1::ACTION_IN_PROGRESS);
  updated->set_note("</dd><script>alert('x')</script>");
  updated->mutable_due_on()->set_year(2026);
  updated->mutable_due_on()->set_month(12);
  updated->mutable_due_on()->set_day(1);
  timeline.entries.push_back(entry);
  timeline.visible_events = 1;
  hub::v1::CaseOverview overview;
  overview.set_case_id(timeline.case_id);
  overview.set_risk_level(hub::v1::RISK_HIGH);
  overview.set_open_actions(1);
  overview.set_overdue_actions(1);
  hub::v1::OpenAction* action = overview.add_open_action_details();
  action->set_owner_agency("housing");
  action->set_description("Review the tenancy");
  action->mutable_due_on()->set_year(2026);
  action->mutable_due_on()->set_month(11);
  action->mutable_due_on()->set_day(1);
  timeline.overview = overview;
  return timeline;
}

TEST(TimelineViewTest, TheHtmlPageIsSelfContainedAndEscapesEverything) {
  const std::string html = TimelineHtml(Sample());
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("OFFICIAL-SENSITIVE"));
  EXPECT_THAT(html, HasSubstr("Case timeline: C-2026-00001"));
  // Text from events is shown, never interpreted.
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, HasSubstr("&lt;/dd&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("Action &lt;A-1&gt; updated"));
  // Nothing is fetched from elsewhere.
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("href=")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  // The overdue action is marked as such, judged as of the overview's day.
  EXPECT_THAT(html, HasSubstr("overdue: due 2026-11-01"));
}

TEST(TimelineViewTest, DetailsNameTheVisibleFieldsInWords) {
  const auto details = EventDetails(Sample().entries[0].event());
  EXPECT_THAT(details, ::testing::Contains(
                           std::make_pair(std::string("status"), std::string("in progress"))));
  EXPECT_THAT(details, ::testing::Contains(
                           std::make_pair(std::string("due on"), std::string("2026-12-01"))));
}

TEST(TimelineViewTest, TheTerminalTableHasOneLinePerEvent) {
  const std::string table = TimelineTable(Sample());
  EXPECT_THAT(table, HasSubstr("Case C-2026-00001: 1 of 1 events in your view"));
  EXPECT_THAT(table, HasSubstr("housing"));
  EXPECT_THAT(table, HasSubstr("Action <A-1> updated: in progress"));
}

}  // namespace
}  // namespace hub::tools
