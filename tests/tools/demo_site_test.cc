#include "tools/demo/demo_site.h"

#include <map>
#include <set>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/data_classes.h"
#include "auth/recording_policy.h"
#include "auth/sharing_protocol.h"
#include "services/config.h"
#include "services/envelope.h"

namespace hub::tools {
namespace {

TEST(DemoSiteTest, HasTheSizeOfTheDriveSiteAndScales) {
  const DemoSite site = GenerateDemoSite(DemoOptions());
  EXPECT_EQ(site.perpetrators, 175u);
  EXPECT_EQ(site.cases.size(), 175u);
  EXPECT_EQ(site.victims, 174u);
  EXPECT_EQ(site.children, 211u);
  EXPECT_GT(site.events, 5000u);
  EXPECT_GT(site.overdue_actions, 0u);
  EXPECT_LT(site.overdue_actions, site.actions / 3);
  EXPECT_GT(site.closed_cases, 0u);
  EXPECT_GT(site.repeat_referrals, 5u);
  EXPECT_LT(site.repeat_referrals, 30u);

  DemoOptions ten;
  ten.scale = 10;
  const DemoSite bigger = GenerateDemoSite(ten);
  EXPECT_EQ(bigger.perpetrators, 1750u);
  EXPECT_EQ(bigger.victims, 1740u);
  EXPECT_EQ(bigger.children, 2110u);
  EXPECT_GT(bigger.events, 9 * site.events);
  EXPECT_LT(bigger.events, 11 * site.events);
}

TEST(DemoSiteTest, IsDeterministicFromItsSeed) {
  DemoOptions options;
  options.scale = 0.2;
  const DemoSite first = GenerateDemoSite(options);
  const DemoSite again = GenerateDemoSite(options);
  ASSERT_EQ(first.cases.size(), again.cases.size());
  for (size_t i = 0; i < first.cases.size(); ++i) {
    ASSERT_EQ(first.cases[i].publishes.size(), again.cases[i].publishes.size());
    for (size_t j = 0; j < first.cases[i].publishes.size(); ++j) {
      EXPECT_EQ(first.cases[i].publishes[j].request.SerializeAsString(),
                again.cases[i].publishes[j].request.SerializeAsString());
    }
  }
  options.seed = 7;
  const DemoSite other = GenerateDemoSite(options);
  EXPECT_NE(first.cases[0].publishes[0].request.SerializeAsString(),
            other.cases[0].publishes[0].request.SerializeAsString());
}

// Every publish is one the hub accepts from the agency that sends it (its
// envelopes, and the protocol's recording rules and case constraints in the
// order the demo publishes them), every event happened within the 21 months
// before the end date, in time order within its case, and every kind of
// Drive event appears.
TEST(DemoSiteTest, EveryPublishIsValidFromItsAgencyAndInTime) {
  auto loaded = auth::LoadSharingProtocolFile(std::string(HUB_SOURCE_DIR) +
                                              "/deploy/examples/sharing_protocol.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const std::map<std::string, hub::v1::Principal> by_certificate_name =
      PrincipalsByCertificateName(loaded->protocol);
  hub::v1::HubConfig config;
  services::ApplyConfigDefaults(&config);
  const DemoOptions options;
  const absl::Time end = absl::FromCivil(absl::CivilDay(2026, 11, 20), absl::UTCTimeZone());
  const absl::Time start = absl::FromCivil(absl::CivilDay(2025, 2, 20), absl::UTCTimeZone());
  const auth::RecordingPolicy recording(loaded->protocol);
  std::set<std::string> kinds;
  std::set<std::string> event_ids;
  const DemoSite site = GenerateDemoSite(options);
  for (const DemoCase& demo_case : site.cases) {
    int64_t previous = 0;
    auth::CaseWriteState state;
    for (const DemoPublish& publish : demo_case.publishes) {
      ASSERT_EQ(by_certificate_name.count(publish.publisher), 1u) << publish.publisher;
      const hub::v1::Principal& principal = by_certificate_name.at(publish.publisher);
      std::vector<hub::v1::EventEnvelope> stamped;
      absl::StatusOr<storage::AppendRequest> append =
          services::PrepareAppend(principal, publish.request, end, config.limits(), &stamped);
      ASSERT_TRUE(append.ok()) << demo_case.case_id << " as " << publish.publisher << ": "
                               << append.status();
      for (const hub::v1::EventEnvelope& envelope : stamped) {
        const absl::Status judged =
            recording.Check(principal, envelope, state, demo_case.case_id, "demo");
        ASSERT_TRUE(judged.ok()) << demo_case.case_id << " as " << publish.publisher << ": "
                                 << judged;
        recording.Apply(envelope, &state);
      }
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        const absl::Time occurred = absl::FromUnixSeconds(event.occurred_time().seconds());
        EXPECT_LT(occurred, end);
        EXPECT_GE(occurred, start);
        EXPECT_GE(event.occurred_time().seconds(), previous) << demo_case.case_id;
        previous = event.occurred_time().seconds();
        EXPECT_TRUE(event_ids.insert(event.event_id()).second) << "duplicate event id";
        kinds.insert(auth::EventTypeName(event));
      }
    }
  }
  // Every event type an agency publishes (the hub records protocol changes),
  // but reopening: no demonstration case is reopened.
  EXPECT_EQ(kinds.size(), auth::PublishableEventTypes().size() - 1)
      << ::testing::PrintToString(kinds);
  EXPECT_EQ(kinds.count("case_reopened"), 0u);
}

}  // namespace
}  // namespace hub::tools
