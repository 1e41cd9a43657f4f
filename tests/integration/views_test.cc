// Per-agency views over real mutual TLS: what each agency receives of the
// same event is exactly what the example sharing protocol allows.
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/audit_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"

namespace hub::testing {
namespace {

constexpr char kAddress[] = "Flat 3, 12 Refuge Road";
constexpr char kPhone[] = "07700 900456";
constexpr char kDisclosure[] = "She told me he has been waiting outside the school";

class ViewsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-7"}).ok());
    // The victim, supported by the IDVA service.
    ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                  auto* victim = e->mutable_subject_linked()->mutable_victim();
                  victim->set_subject_id("V-7");
                  victim->add_supporting_agencies("idva");
                }).ok());
    // The IDVA records a safety update with the victim's whereabouts.
    ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                  hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                  safety->set_victim_subject_id("V-7");
                  safety->set_risk_change(hub::v1::SIGNIFICANTLY_REDUCED);
                  safety->set_safety_plan_in_place(true);
                  safety->set_current_address(kAddress);
                  safety->set_safe_phone_number(kPhone);
                  safety->set_in_refuge(true);
                  safety->set_disclosure_notes(kDisclosure);
                }).ok());
  }

  grpc::Status Publish(const std::string& as,
                       const std::function<void(hub::v1::EventEnvelope*)>& fill,
                       hub::v1::Purpose purpose = hub::v1::PURPOSE_SAFEGUARDING) {
    hub::v1::PublishRequest request;
    request.set_case_id("C-7");
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(absl::StrFormat("7e57a000-0000-4000-8000-%012x", ++published_));
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(purpose);
    event->set_lawful_basis("UK GDPR Art 6(1)(e); DPA 2018 Sch 1 para 18");
    fill(event);
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    return hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as))
        ->Publish(&context, request, &response);
  }

  // The coordinator tasks housing with an action: housing becomes involved
  // in the case.
  void TaskHousing() {
    ASSERT_TRUE(Publish(
                    "dapp-coordinator",
                    [](hub::v1::EventEnvelope* e) {
                      e->mutable_action_tasked()->set_action_id("A-1");
                      e->mutable_action_tasked()->set_owner_agency("housing");
                    },
                    hub::v1::PURPOSE_PANEL)
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
    // The safety updates only: not the referral, the victim's link or an
    // action.
    std::vector<hub::v1::EventEnvelope> events;
    for (const hub::v1::EventEnvelope& event : response.events()) {
      if (event.has_victim_safety_information()) events.push_back(event);
    }
    return events;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
  uint64_t published_ = 0;
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
  auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "drive-agency"))
                    ->Subscribe(&context, hub::v1::SubscribeRequest());
  hub::v1::SubscribeResponse item;
  do {
    ASSERT_TRUE(stream->Read(&item));
    ASSERT_TRUE(item.has_event());
  } while (!item.event().has_victim_safety_information());
  const std::string bytes = item.SerializeAsString();
  EXPECT_EQ(bytes.find("Refuge Road"), std::string::npos);
  EXPECT_EQ(bytes.find("07700"), std::string::npos);
  EXPECT_EQ(bytes.find("waiting outside"), std::string::npos);
  EXPECT_EQ(item.event().victim_safety_information().risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  context.TryCancel();
}

// Need to know: housing works with few of the partnership's cases and sees
// none it is not involved in; once tasked with an action in the case, it
// sees how the victim's risk moves, never who or where the victim is.
TEST_F(ViewsTest, HousingSeesOnlyCasesItIsInvolvedInAndThenTheRiskSummaryButNotWhoOrWhere) {
  EXPECT_TRUE(Read("housing-agency").empty());
  ASSERT_NO_FATAL_FAILURE(TaskHousing());
  ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                safety->set_victim_subject_id("V-7");
                safety->set_risk_change(hub::v1::REDUCED);
                safety->set_current_address(kAddress);
              }).ok());
  // The update recorded before housing became involved, and the one after,
  // each as housing may see it.
  std::vector<hub::v1::EventEnvelope> events = Read("housing-agency");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].victim_safety_information().risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  const hub::v1::VictimSafetyInformation& safety = events.back().victim_safety_information();
  EXPECT_EQ(safety.risk_change(), hub::v1::REDUCED);
  for (const hub::v1::EventEnvelope& event : events) {
    EXPECT_EQ(event.victim_safety_information().victim_subject_id(), "");
    EXPECT_EQ(event.victim_safety_information().current_address(), "");
    EXPECT_EQ(event.victim_safety_information().disclosure_notes(), "");
  }
}

// When a relationship begins, the case's earlier events that it lets the
// agency see reach the agency's live stream (before the event that began
// it), numbered on in its view, audited as deliveries, and never with
// anything the protocol still withholds.
TEST_F(ViewsTest, AnAgencyNewlyInvolvedReceivesTheCaseHistoryItMayNowSeeInItsStream) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "housing-agency"))
                    ->Subscribe(&context, hub::v1::SubscribeRequest());
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(stream->Read(&item));
  ASSERT_TRUE(item.has_caught_up()) << "housing received an event of a case it is not in";
  ASSERT_NO_FATAL_FAILURE(TaskHousing());
  std::vector<hub::v1::EventEnvelope> received;
  do {
    ASSERT_TRUE(stream->Read(&item));
    ASSERT_TRUE(item.has_event());
    const std::string bytes = item.SerializeAsString();
    EXPECT_EQ(bytes.find("Refuge Road"), std::string::npos);
    EXPECT_EQ(bytes.find("07700"), std::string::npos);
    EXPECT_EQ(bytes.find("waiting outside"), std::string::npos);
    EXPECT_EQ(bytes.find("V-7"), std::string::npos);
    received.push_back(item.event());
  } while (!item.event().has_action_tasked());
  context.TryCancel();
  // The referral that opened the case and the safety update, then the
  // action: positions 1, 2, 3 of housing's view.
  ASSERT_EQ(received.size(), 3u);
  EXPECT_TRUE(received[0].has_referral_received());
  ASSERT_TRUE(received[1].has_victim_safety_information());
  EXPECT_EQ(received[1].victim_safety_information().risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  for (size_t i = 0; i < received.size(); ++i) {
    EXPECT_EQ(received[i].global_position() % 1'000'000'000'000, i + 1);
    EXPECT_EQ(received[i].stream_version(), i + 1) << "numbered in case order";
  }

  // Each delivery is in the audit, naming the case and what was disclosed.
  auto audit = hub::v1::AuditService::NewStub(pki_.Channel(hub_->address(), "governance-auditor"));
  hub::v1::QueryAuditRequest query;
  query.set_agency("housing");
  query.set_action(hub::v1::AUDIT_DELIVER);
  hub::v1::QueryAuditResponse found;
  grpc::ClientContext audit_context;
  ASSERT_TRUE(audit->QueryAudit(&audit_context, query, &found).ok());
  std::set<std::string> delivered_types;
  for (const hub::v1::AuditEntry& entry : found.entries()) {
    for (const std::string& type : entry.record().event_types()) delivered_types.insert(type);
    EXPECT_THAT(entry.record().disclosed_case_ids(), ::testing::ElementsAre("C-7"));
  }
  EXPECT_THAT(
      delivered_types,
      ::testing::IsSupersetOf({"referral_received", "victim_safety_information", "action_tasked"}));
}

// Relationships derived from the log do not end (docs/NEED_TO_KNOW.md):
// housing, having completed the action that involved it, still receives
// what it may see of the case, because the action's history stays part of
// what it is accountable for.
TEST_F(ViewsTest, AnAgencyThatCompletedItsActionStillSeesTheCase) {
  ASSERT_NO_FATAL_FAILURE(TaskHousing());
  grpc::Status completed = Publish(
      "housing-agency",
      [](hub::v1::EventEnvelope* e) {
        e->mutable_action_completed()->set_action_id("A-1");
        e->mutable_action_completed()->set_final_status(hub::v1::ACTION_COMPLETED);
      },
      hub::v1::PURPOSE_PANEL);
  ASSERT_TRUE(completed.ok()) << completed.error_message();
  ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                safety->set_victim_subject_id("V-7");
                safety->set_risk_change(hub::v1::INCREASED);
              }).ok());
  std::vector<hub::v1::EventEnvelope> events = Read("housing-agency");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].victim_safety_information().risk_change(), hub::v1::INCREASED);
}

// A relationship that shows an agency more of an event it already has
// delivers the event again, whole as it may now see it, under the same id:
// housing, tasked in the case, saw a support referral to health without its
// housing notes; once referred a client itself, it receives them.
TEST_F(ViewsTest, AnEventAnAgencyMayNowSeeMoreOfIsDeliveredAgain) {
  ASSERT_NO_FATAL_FAILURE(TaskHousing());
  ASSERT_TRUE(Publish(
                  "drive-agency",
                  [](hub::v1::EventEnvelope* e) {
                    e->mutable_support_referral_made()->set_service(hub::v1::MENTAL_HEALTH);
                    e->mutable_support_referral_made()->set_provider_agency("health");
                    e->mutable_support_referral_made()->set_housing_notes("sofa surfing since May");
                  },
                  hub::v1::PURPOSE_CASE_MANAGEMENT)
                  .ok());
  // Following the case alone: the stream finds its deliveries among the
  // others'.
  hub::v1::SubscribeRequest following_the_case;
  following_the_case.set_case_id("C-7");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "housing-agency"))
                    ->Subscribe(&context, following_the_case);
  hub::v1::SubscribeResponse item;
  std::string referral_id;
  uint64_t last_position = 0;
  for (;;) {
    ASSERT_TRUE(stream->Read(&item));
    if (item.has_caught_up()) break;
    last_position = item.event().global_position();
    if (!item.event().has_support_referral_made()) continue;
    referral_id = item.event().event_id();
    EXPECT_EQ(item.event().support_referral_made().housing_notes(), "")
        << "housing saw housing detail of a client not referred to it";
  }
  ASSERT_FALSE(referral_id.empty());
  ASSERT_TRUE(Publish(
                  "drive-agency",
                  [](hub::v1::EventEnvelope* e) {
                    e->mutable_support_referral_made()->set_service(hub::v1::HOUSING_SUPPORT);
                    e->mutable_support_referral_made()->set_provider_agency("housing");
                  },
                  hub::v1::PURPOSE_CASE_MANAGEMENT)
                  .ok());
  std::vector<hub::v1::EventEnvelope> received;
  do {
    ASSERT_TRUE(stream->Read(&item));
    ASSERT_TRUE(item.has_event());
    received.push_back(item.event());
  } while (!(item.event().has_support_referral_made() &&
             item.event().support_referral_made().provider_agency() == "housing"));
  context.TryCancel();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].event_id(), referral_id);
  EXPECT_EQ(received[0].support_referral_made().housing_notes(), "sofa surfing since May");
  EXPECT_EQ(received[0].global_position(), last_position + 1);
  EXPECT_EQ(received[1].global_position(), last_position + 2);
}

// Own-client access: the IDVA learns where a victim is only for the victims
// it supports.
TEST_F(ViewsTest, TheIdvaSeesTheLocationOnlyOfVictimsItSupports) {
  ASSERT_TRUE(Publish("police-agency", [](hub::v1::EventEnvelope* e) {
                auto* victim = e->mutable_subject_linked()->mutable_victim();
                victim->set_subject_id("V-8");
                victim->add_supporting_agencies("another-advocacy-service");
              }).ok());
  ASSERT_TRUE(Publish("police-agency", [](hub::v1::EventEnvelope* e) {
                hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                safety->set_victim_subject_id("V-8");
                safety->set_risk_change(hub::v1::INCREASED);
                safety->set_current_address("2 Example Close");
              }).ok());
  std::vector<hub::v1::EventEnvelope> events = Read("idva-agency");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].victim_safety_information().current_address(), kAddress);
  EXPECT_EQ(events[1].victim_safety_information().victim_subject_id(), "V-8");
  EXPECT_EQ(events[1].victim_safety_information().risk_change(), hub::v1::INCREASED);
  EXPECT_EQ(events[1].victim_safety_information().current_address(), "")
      << "the IDVA received the address of a victim it does not support";
  // The police see both.
  EXPECT_EQ(Read("police-agency")[1].victim_safety_information().current_address(),
            "2 Example Close");
}

TEST_F(ViewsTest, HealthDoesNotSeeTheEventAtAll) {
  EXPECT_TRUE(Read("health-agency").empty());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "health-agency"))
                    ->Subscribe(&context, hub::v1::SubscribeRequest());
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(stream->Read(&item));
  EXPECT_TRUE(item.has_caught_up()) << "health received an event it may not see";
  context.TryCancel();
}

}  // namespace
}  // namespace hub::testing
