// What a subscription sends is built from a view's stored bytes without
// parsing them: these tests hold it to what parsing would have given.
#include "services/envelope.h"

#include <map>
#include <string>

#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

#include "auth/redactor.h"
#include "auth/sharing_protocol.h"
#include "services/config.h"

#include "tools/demo/demo_site.h"

namespace hub::services {
namespace {

// Every event of the demonstration site as stored, then as each subset of
// data classes a principal might be allowed would leave it.
std::vector<storage::ViewEvent> DemoViewEvents() {
  auto loaded = auth::LoadSharingProtocolFile(std::string(HUB_SOURCE_DIR) +
                                              "/deploy/examples/sharing_protocol.textproto");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  const std::map<std::string, hub::v1::Principal> by_certificate_name =
      tools::PrincipalsByCertificateName(loaded->protocol);
  hub::v1::HubConfig config;
  ApplyConfigDefaults(&config);
  tools::DemoOptions options;
  options.scale = 0.05;
  const tools::DemoSite site = tools::GenerateDemoSite(options);
  std::vector<storage::ViewEvent> events;
  uint64_t position = 1'000'000'000;  // several bytes of varint
  for (const tools::DemoCase& demo_case : site.cases) {
    uint64_t version = 0;
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      auto append = PrepareAppend(by_certificate_name.at(publish.publisher), publish.request,
                                  absl::FromUnixSeconds(1800000000), config.limits());
      EXPECT_TRUE(append.ok()) << append.status();
      for (const storage::EventToAppend& stored : append->events) {
        ++position;
        ++version;
        // The view's own numbers differ from the log's.
        const uint64_t view_position = position - 999'999'000;
        events.push_back(
            {position, version, view_position, version, demo_case.case_id, stored.payload});
        hub::v1::EventEnvelope redacted;
        EXPECT_TRUE(redacted.ParseFromString(stored.payload));
        auth::ClassMask allowed;
        allowed.set(hub::v1::CASE_ADMINISTRATION);
        auth::Redact(allowed, &redacted);
        events.push_back({position, version, view_position, version, demo_case.case_id,
                          redacted.SerializeAsString()});
      }
    }
  }
  return events;
}

TEST(EnvelopeTest, ADeliveryReadsAsTheEventWithItsPositionAndVersion) {
  const std::vector<storage::ViewEvent> events = DemoViewEvents();
  ASSERT_GT(events.size(), 500u);
  for (const storage::ViewEvent& event : events) {
    hub::v1::SubscribeResponse delivered;
    ASSERT_TRUE(delivered.ParseFromString(SerializedDelivery(event, /*generation=*/3)));
    ASSERT_TRUE(delivered.has_event());
    absl::StatusOr<hub::v1::EventEnvelope> expected = EnvelopeOf(event, /*generation=*/3);
    ASSERT_TRUE(expected.ok());
    // The reader is told its own view's numbers, never the log's.
    EXPECT_EQ(expected->global_position(), 3 * kGenerationStride + event.view_position);
    EXPECT_EQ(expected->stream_version(), event.view_version);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(delivered.event(), *expected))
        << delivered.event().DebugString() << "\nexpected\n"
        << expected->DebugString();
  }
}

TEST(EnvelopeTest, APositionAlreadyInTheStoredBytesIsOverriddenNotDuplicated) {
  hub::v1::EventEnvelope stale;
  stale.set_event_id("e");
  stale.set_global_position(7);
  stale.set_stream_version(3);
  hub::v1::SubscribeResponse delivered;
  ASSERT_TRUE(delivered.ParseFromString(
      SerializedDelivery({420, 50, 42, 5, "C-1", stale.SerializeAsString()}, /*generation=*/1)));
  EXPECT_EQ(delivered.event().global_position(), kGenerationStride + 42);
  EXPECT_EQ(delivered.event().stream_version(), 5u);
  EXPECT_EQ(delivered.event().event_id(), "e");
}

TEST(EnvelopeTest, TheHeaderIsWhatParsingTheWholeEventGives) {
  for (const storage::ViewEvent& event : DemoViewEvents()) {
    hub::v1::EventEnvelope envelope;
    ASSERT_TRUE(envelope.ParseFromString(event.payload));
    absl::StatusOr<EnvelopeHeader> header = ReadEnvelopeHeader(event.payload);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->purpose, envelope.purpose());
    EXPECT_EQ(header->classification, envelope.classification());
    EXPECT_EQ(header->event_type_field,
              static_cast<int>(envelope.event_case() == hub::v1::EventEnvelope::EVENT_NOT_SET
                                   ? 0
                                   : envelope.event_case()));
  }
}

TEST(EnvelopeTest, AnEventThatIsNotAMessageIsDataLossNotAGuess) {
  hub::v1::EventEnvelope envelope;
  envelope.set_purpose(hub::v1::PURPOSE_PANEL);
  envelope.mutable_action_tasked()->set_description("Review the tenancy");
  const std::string whole = envelope.SerializeAsString();
  for (const std::string& broken :
       {whole.substr(0, whole.size() - 3), std::string("\xff\xff\xff\xff\xff\xff", 6),
        std::string("\x0a\x7f", 2) + "short"}) {
    absl::StatusOr<EnvelopeHeader> header = ReadEnvelopeHeader(broken);
    EXPECT_EQ(header.status().code(), absl::StatusCode::kDataLoss);
  }
  absl::StatusOr<EnvelopeHeader> header = ReadEnvelopeHeader(whole);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->purpose, hub::v1::PURPOSE_PANEL);
  EXPECT_EQ(header->event_type_field, hub::v1::EventEnvelope::kActionTasked);
}

}  // namespace
}  // namespace hub::services

namespace hub::services {
namespace {

// A follow-up check is made 6 or 12 months after closure; anything else is
// refused at the edge, naming the field, and nothing is prepared.
TEST(EnvelopeTest, AFollowUpIsSixOrTwelveMonthsAfterClosure) {
  auto loaded = auth::LoadSharingProtocolFile(std::string(HUB_SOURCE_DIR) +
                                              "/deploy/examples/sharing_protocol.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const hub::v1::Principal police =
      tools::PrincipalsByCertificateName(loaded->protocol).at("police-agency");
  hub::v1::HubConfig config;
  ApplyConfigDefaults(&config);
  for (const int months : {0, 3, 6, 12, 24}) {
    hub::v1::PublishRequest request;
    request.set_case_id("C-1");
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id("0f0f0f0f-0000-4000-8000-000000000001");
    event->mutable_occurred_time()->set_seconds(1790000000);
    event->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
    event->set_lawful_basis("DPA 2018 s35");
    event->mutable_follow_up_checked()->set_months_after_closure(months);
    const auto append =
        PrepareAppend(police, request, absl::FromUnixSeconds(1800000000), config.limits());
    if (months == 6 || months == 12) {
      EXPECT_TRUE(append.ok()) << months << ": " << append.status();
    } else {
      EXPECT_EQ(append.status().code(), absl::StatusCode::kInvalidArgument) << months;
      EXPECT_NE(append.status().message().find("months_after_closure"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace hub::services
