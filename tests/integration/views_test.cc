// Per-agency views over real mutual TLS: what each agency receives of the
// same event is exactly what the example sharing protocol allows.
#include <chrono>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/event_service.grpc.pb.h"

namespace hub::testing {
namespace {

constexpr char kAddress[] = "Flat 3, 12 Refuge Road";
constexpr char kPhone[] = "07700 900456";
constexpr char kDisclosure[] = "She told me he has been waiting outside the school";

// Position 1 records the protocol; the referral opening C-7 follows.
constexpr uint64_t kReferralPosition = 2;

class ViewsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-7"}).ok());
    // The IDVA records a safety update with the victim's whereabouts.
    hub::v1::PublishRequest request;
    request.set_case_id("C-7");
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id("7e57a000-0000-4000-8000-000000000001");
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
    event->set_lawful_basis("UK GDPR Art 6(1)(e); DPA 2018 Sch 1 para 18");
    hub::v1::VictimSafetyInformation* safety = event->mutable_victim_safety_information();
    safety->set_victim_subject_id("V-7");
    safety->set_risk_change(hub::v1::SIGNIFICANTLY_REDUCED);
    safety->set_safety_plan_in_place(true);
    safety->set_current_address(kAddress);
    safety->set_safe_phone_number(kPhone);
    safety->set_in_refuge(true);
    safety->set_disclosure_notes(kDisclosure);
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    ASSERT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "idva-agency"))
                    ->Publish(&context, request, &response)
                    .ok());
  }

  std::vector<hub::v1::EventEnvelope> Read(const std::string& as) {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-7");
    hub::v1::ReadCaseResponse response;
    grpc::Status status = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as))
                              ->ReadCase(&context, request, &response);
    EXPECT_TRUE(status.ok()) << as << ": " << status.error_message();
    // Without the referral that opened the case.
    std::vector<hub::v1::EventEnvelope> events;
    for (const hub::v1::EventEnvelope& event : response.events()) {
      if (!event.has_referral_received()) events.push_back(event);
    }
    return events;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(ViewsTest, ThePoliceReceiveTheLocationButNotTheDisclosure) {
  std::vector<hub::v1::EventEnvelope> events = Read("police-agency");
  ASSERT_EQ(events.size(), 1u);
  const hub::v1::VictimSafetyInformation& safety = events[0].victim_safety_information();
  EXPECT_EQ(safety.current_address(), kAddress);
  EXPECT_EQ(safety.safe_phone_number(), kPhone);
  EXPECT_TRUE(safety.in_refuge());
  EXPECT_EQ(safety.disclosure_notes(), "");
  EXPECT_EQ(safety.risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
}

TEST_F(ViewsTest, TheIdvaSeesEverythingItRecorded) {
  std::vector<hub::v1::EventEnvelope> events = Read("idva-agency");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].victim_safety_information().disclosure_notes(), kDisclosure);
  EXPECT_EQ(events[0].victim_safety_information().current_address(), kAddress);
}

TEST_F(ViewsTest, TheDriveCaseManagerGetsTheSummaryWithoutWhereaboutsOrDisclosure) {
  std::vector<hub::v1::EventEnvelope> events = Read("drive-agency");
  ASSERT_EQ(events.size(), 1u);
  const hub::v1::VictimSafetyInformation& safety = events[0].victim_safety_information();
  EXPECT_EQ(safety.risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  EXPECT_TRUE(safety.safety_plan_in_place());
  EXPECT_EQ(safety.current_address(), "");
  EXPECT_EQ(safety.safe_phone_number(), "");
  EXPECT_FALSE(safety.in_refuge());
  EXPECT_EQ(safety.disclosure_notes(), "");

  // The live subscription carries the same shape, and not one byte of it.
  grpc::ClientContext context;
  hub::v1::SubscribeRequest after_referral;
  after_referral.set_after_position(kReferralPosition);
  auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "drive-agency"))
                    ->Subscribe(&context, after_referral);
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(stream->Read(&item));
  ASSERT_TRUE(item.has_event());
  const std::string bytes = item.SerializeAsString();
  EXPECT_EQ(bytes.find("Refuge Road"), std::string::npos);
  EXPECT_EQ(bytes.find("07700"), std::string::npos);
  EXPECT_EQ(bytes.find("waiting outside"), std::string::npos);
  EXPECT_EQ(item.event().victim_safety_information().risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  context.TryCancel();
}

TEST_F(ViewsTest, HousingSeesTheRiskSummaryButNotWhoOrWhere) {
  std::vector<hub::v1::EventEnvelope> events = Read("housing-agency");
  ASSERT_EQ(events.size(), 1u);
  const hub::v1::VictimSafetyInformation& safety = events[0].victim_safety_information();
  EXPECT_EQ(safety.risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  EXPECT_EQ(safety.victim_subject_id(), "");
  EXPECT_EQ(safety.current_address(), "");
}

TEST_F(ViewsTest, HealthDoesNotSeeTheEventAtAll) {
  EXPECT_TRUE(Read("health-agency").empty());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  hub::v1::SubscribeRequest after_referral;
  after_referral.set_after_position(kReferralPosition);
  auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "health-agency"))
                    ->Subscribe(&context, after_referral);
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(stream->Read(&item));
  EXPECT_TRUE(item.has_caught_up()) << "health received an event it may not see";
  context.TryCancel();
}

}  // namespace
}  // namespace hub::testing
