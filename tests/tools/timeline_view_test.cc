#include "tools/hubctl/timeline_view.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tools/hubctl/subject_access_view.h"

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

// A pack is read by the subject: what a publisher wrote is text, never
// markup, and withheld values are counted, not shown.
TEST(SubjectAccessViewTest, ThePackEscapesEverythingAndMarksWhatNeedsReview) {
  hub::v1::SubjectAccessResponse pack;
  pack.set_subject_id("V-<1>");
  hub::v1::HeldEvent* event = pack.add_events();
  event->set_log_position(8);
  event->set_event_type("disruption_recorded");
  event->set_producing_agency("police");
  hub::v1::HeldValue* zone = event->add_values();
  zone->set_field("disruption_recorded.exclusion_zone");
  zone->set_value("<script>alert(1)</script>");
  zone->set_disposition(hub::v1::CONCERNS_OTHERS_TOO);
  hub::v1::HeldValue* other = event->add_values();
  other->set_field("disruption_recorded.protected_subject_ids");
  other->set_data_class(hub::v1::VICTIM_IDENTITY);
  other->set_disposition(hub::v1::OTHER_PEOPLES);
  hub::v1::SubjectDataDisclosure* disclosure = pack.add_disclosures();
  disclosure->set_recipient_agency("probation");
  disclosure->set_action(hub::v1::AUDIT_DELIVER);
  disclosure->add_log_positions(8);
  disclosure->add_rules("probation-offending");

  const std::string html = SubjectAccessHtml(pack, "SAR-\"1\"");
  EXPECT_THAT(html, ::testing::HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, ::testing::Not(::testing::HasSubstr("<script")));
  EXPECT_THAT(html, ::testing::HasSubstr("Subject access pack: V-&lt;1&gt;"));
  EXPECT_THAT(html, ::testing::HasSubstr("SAR-&quot;1&quot;"));
  EXPECT_THAT(html, ::testing::HasSubstr("exclusion zone</dt>"));
  EXPECT_THAT(html, ::testing::HasSubstr("review: also concerns others"));
  EXPECT_THAT(html, ::testing::HasSubstr("1 item(s) about other people (victim identity)"));
  EXPECT_THAT(html, ::testing::HasSubstr("delivered by subscription"));
  EXPECT_THAT(html, ::testing::HasSubstr("<td>#1</td>"));
  EXPECT_THAT(SubjectAccessSummary(pack), ::testing::HasSubstr("1 event(s) in 0 case(s)"));
}

}  // namespace
}  // namespace hub::tools
