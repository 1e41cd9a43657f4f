#include "services/case_summary.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hub::services {
namespace {

hub::v1::EventEnvelope At(uint64_t position) {
  hub::v1::EventEnvelope envelope;
  envelope.set_case_id("C-1");
  envelope.set_global_position(position);
  envelope.mutable_recorded_time()->set_seconds(1000 + position);
  return envelope;
}

TEST(CaseSummaryTest, FoldsRiskRouteManagerActionsAndClosure) {
  hub::v1::CaseSummary summary;
  hub::v1::EventEnvelope referral = At(1);
  referral.mutable_referral_received()->set_route(hub::v1::ROUTE_DAPP);
  ApplyToSummary(referral, &summary);
  hub::v1::EventEnvelope risk = At(2);
  risk.mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
  ApplyToSummary(risk, &summary);
  hub::v1::EventEnvelope allocated = At(3);
  allocated.mutable_case_allocated()->set_case_manager_id("CM-4");
  ApplyToSummary(allocated, &summary);
  for (const char* id : {"A-1", "A-2"}) {
    hub::v1::EventEnvelope tasked = At(4);
    tasked.mutable_action_tasked()->set_action_id(id);
    tasked.mutable_action_tasked()->set_owner_agency("housing");
    tasked.mutable_action_tasked()->mutable_due_on()->set_year(2026);
    ApplyToSummary(tasked, &summary);
  }
  hub::v1::EventEnvelope progress = At(5);
  progress.mutable_action_updated()->set_action_id("A-2");
  progress.mutable_action_updated()->set_status(hub::v1::ACTION_IN_PROGRESS);
  ApplyToSummary(progress, &summary);
  hub::v1::EventEnvelope done = At(6);
  done.mutable_action_completed()->set_action_id("A-1");
  ApplyToSummary(done, &summary);

  EXPECT_EQ(summary.case_id(), "C-1");
  EXPECT_EQ(summary.referral_route(), hub::v1::ROUTE_DAPP);
  EXPECT_EQ(summary.risk_level(), hub::v1::RISK_HIGH);
  EXPECT_EQ(summary.case_manager_id(), "CM-4");
  ASSERT_EQ(summary.open_actions_size(), 1);
  EXPECT_EQ(summary.open_actions(0).action_id(), "A-2");
  EXPECT_EQ(summary.open_actions(0).status(), hub::v1::ACTION_IN_PROGRESS);
  EXPECT_EQ(summary.visible_events(), 7u);
  EXPECT_EQ(summary.last_position(), 6u);
  EXPECT_EQ(summary.last_activity().seconds(), 1006);
  EXPECT_FALSE(summary.closed());

  hub::v1::EventEnvelope closed = At(7);
  closed.mutable_case_closed()->set_reason(hub::v1::RISK_REDUCED);
  ApplyToSummary(closed, &summary);
  EXPECT_TRUE(summary.closed());
  EXPECT_EQ(summary.closure_reason(), hub::v1::RISK_REDUCED);
}

TEST(CaseSummaryTest, ASummaryKeepsARecognisablePartOfLongFreeText) {
  hub::v1::CaseSummary summary;
  hub::v1::EventEnvelope tasked;
  tasked.mutable_action_tasked()->set_action_id("A-1");
  // 8 KiB of text, in two-byte characters so the cut falls mid-character.
  std::string description;
  while (description.size() < 8192) description += "\u00e9";
  tasked.mutable_action_tasked()->set_description(description);
  ApplyToSummary(tasked, &summary);
  ASSERT_EQ(summary.open_actions_size(), 1);
  const std::string& kept = summary.open_actions(0).description();
  EXPECT_LE(kept.size(), kSummaryDescriptionBytes);
  EXPECT_TRUE(absl::EndsWith(kept, "\u2026"));
  hub::v1::CaseSummary reparsed;
  EXPECT_TRUE(reparsed.ParseFromString(summary.SerializeAsString())) << "not valid UTF-8";
}

TEST(CaseSummaryTest, ARedactedRiskAssessmentLeavesTheLevelAlone) {
  hub::v1::CaseSummary summary;
  summary.set_risk_level(hub::v1::RISK_MEDIUM);
  hub::v1::EventEnvelope risk = At(1);
  risk.mutable_risk_assessed();  // every field removed for this principal
  ApplyToSummary(risk, &summary);
  EXPECT_EQ(summary.risk_level(), hub::v1::RISK_MEDIUM);
}

TEST(CaseSummaryTest, AnActionNotDoneIsNoLongerOpen) {
  hub::v1::CaseSummary summary;
  hub::v1::EventEnvelope tasked = At(1);
  tasked.mutable_action_tasked()->set_action_id("A-1");
  ApplyToSummary(tasked, &summary);
  hub::v1::EventEnvelope failed = At(2);
  failed.mutable_action_updated()->set_action_id("A-1");
  failed.mutable_action_updated()->set_status(hub::v1::ACTION_NOT_DONE_AGENCY_FAILED);
  ApplyToSummary(failed, &summary);
  EXPECT_EQ(summary.open_actions_size(), 0);
}

}  // namespace
}  // namespace hub::services

namespace hub::services {
namespace {

TEST(CaseSummaryTest, LastActivityIsWhenTheLatestThingHappenedNotWhenItWasRecorded) {
  hub::v1::CaseSummary summary;
  hub::v1::EventEnvelope recent = At(1);
  recent.mutable_occurred_time()->set_seconds(5000);
  recent.mutable_engagement_recorded()->set_kind(hub::v1::SESSION_ATTENDED);
  ApplyToSummary(recent, &summary);
  // Recorded later, but it happened earlier: an agency catching up.
  hub::v1::EventEnvelope late = At(2);
  late.mutable_occurred_time()->set_seconds(4000);
  late.mutable_disruption_recorded()->set_kind(hub::v1::ARREST);
  ApplyToSummary(late, &summary);
  EXPECT_EQ(summary.last_activity().seconds(), 5000);
  // Without an occurred time, the recorded time stands in.
  hub::v1::EventEnvelope unstamped = At(9000);
  ApplyToSummary(unstamped, &summary);
  EXPECT_EQ(summary.last_activity().seconds(), 10000);
}

}  // namespace
}  // namespace hub::services
