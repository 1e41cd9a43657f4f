// Changing the sharing protocol on a running hub: who may, what is refused,
// that the views are rebuilt and what is delivered changes from then on,
// and that the change is recorded in the log and survives a restart.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/error_details.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/policy_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;

std::string ExampleProtocol() {
  std::ifstream file(ExampleProtocolPath());
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The example protocol as version 2026-12-1, with housing no longer told
// the IDVA's victim-risk summary.
std::string ProtocolWithoutHousingSummary() {
  std::string text = ExampleProtocol();
  text.replace(text.find("version: \"2026-11-1\""), 20, "version: \"2026-12-1\"");
  const size_t rule = text.find("name: \"victim-risk-summary-to-housing-where-involved\"");
  const std::string summary = "data_classes: [VICTIM_RISK_SUMMARY]";
  text.replace(text.find(summary, rule), summary.size(), "data_classes: [INTERVENTION]");
  return text;
}

class ProtocolChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Restart();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-9"}).ok());
    hub::v1::PublishRequest request;
    request.set_case_id("C-9");
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id("00000000-0000-4000-8000-0000000000a1");
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_PANEL);
    event->set_lawful_basis("UK GDPR Art 6(1)(e)");
    event->mutable_action_tasked()->set_action_id("A-1");
    event->mutable_action_tasked()->set_owner_agency("housing");
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    ASSERT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "dapp-coordinator"))
                    ->Publish(&context, request, &response)
                    .ok());
  }

  void Restart() {
    hub_.reset();
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  void PublishSafetyUpdate(const std::string& event_id) {
    hub::v1::PublishRequest request;
    request.set_case_id("C-9");
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(event_id);
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
    event->set_lawful_basis("UK GDPR Art 6(1)(e)");
    event->mutable_victim_safety_information()->set_risk_change(hub::v1::REDUCED);
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    ASSERT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "idva-agency"))
                    ->Publish(&context, request, &response)
                    .ok());
  }

  size_t Visible(const std::string& as) {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-9");
    hub::v1::ReadCaseResponse response;
    EXPECT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as))
                    ->ReadCase(&context, request, &response)
                    .ok());
    // Not counting the referral that opened the case or the action.
    size_t visible = 0;
    for (const auto& event : response.events()) {
      visible += !event.has_referral_received() && !event.has_action_tasked();
    }
    return visible;
  }

  grpc::Status Apply(const std::string& as, const std::string& text,
                     hub::v1::ApplyProtocolResponse* response) {
    grpc::ClientContext context;
    hub::v1::ApplyProtocolRequest request;
    request.set_protocol_text(text);
    return hub::v1::PolicyService::NewStub(pki_.Channel(hub_->address(), as))
        ->ApplyProtocol(&context, request, response);
  }

  std::string VersionInForce(const std::string& as) {
    grpc::ClientContext context;
    hub::v1::GetProtocolResponse response;
    EXPECT_TRUE(hub::v1::PolicyService::NewStub(pki_.Channel(hub_->address(), as))
                    ->GetProtocol(&context, hub::v1::GetProtocolRequest(), &response)
                    .ok());
    return response.protocol().version();
  }

  // The police's subscription from `position` read until it has caught up:
  // the ids of the events delivered, and OK or why the hub refused.
  std::vector<std::string> PoliceEventsAfter(uint64_t position, grpc::Status* status) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    hub::v1::SubscribeRequest request;
    request.set_after_position(position);
    auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                      ->Subscribe(&context, request);
    std::vector<std::string> event_ids;
    hub::v1::SubscribeResponse item;
    while (stream->Read(&item) && !item.has_caught_up())
      event_ids.push_back(item.event().event_id());
    if (!item.has_caught_up()) {
      *status = stream->Finish();
      return event_ids;
    }
    context.TryCancel();
    stream->Finish();
    *status = grpc::Status::OK;
    return event_ids;
  }

  grpc::Status SubscribeAfter(uint64_t position) {
    grpc::Status status;
    PoliceEventsAfter(position, &status);
    return status;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(ProtocolChangeTest, OnlyTheOperatorAppliesAndBadProtocolsAreRefused) {
  hub::v1::ApplyProtocolResponse response;
  for (const char* who : {"police-agency", "dapp-coordinator", "governance-auditor"}) {
    EXPECT_EQ(Apply(who, ProtocolWithoutHousingSummary(), &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED)
        << who;
  }
  std::string broken = ProtocolWithoutHousingSummary();
  broken.replace(broken.find("lawful_basis:"), 13, "lawful_basiz:");
  grpc::Status status = Apply("operator-admin", broken, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("protocol_text:"));
  status = Apply("operator-admin", ExampleProtocol(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("2026-11-1 is already in force"));
  EXPECT_EQ(VersionInForce("police-agency"), "2026-11-1");
}

// A page token names versions of the reader's view in one generation: after
// a protocol change renumbers the views, it is refused rather than read as
// a place in the new numbering.
TEST_F(ProtocolChangeTest, APageTokenOfAReplacedGenerationIsRefused) {
  PublishSafetyUpdate("00000000-0000-4000-8000-000000000001");
  auto police = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"));
  hub::v1::ReadCaseRequest request;
  request.set_case_id("C-9");
  request.set_page_size(1);
  hub::v1::ReadCaseResponse first_page;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(police->ReadCase(&context, request, &first_page).ok());
  }
  ASSERT_FALSE(first_page.next_page_token().empty());
  hub::v1::ApplyProtocolResponse applied;
  ASSERT_TRUE(Apply("operator-admin", ProtocolWithoutHousingSummary(), &applied).ok());
  request.set_page_token(first_page.next_page_token());
  grpc::ClientContext context;
  hub::v1::ReadCaseResponse next_page;
  const grpc::Status status = police->ReadCase(&context, request, &next_page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(status.error_message(), HasSubstr("read the case again from version 1"));
  EXPECT_EQ(next_page.events_size(), 0);
}

TEST_F(ProtocolChangeTest, APositionOfAForgottenGenerationIsRefusedNotReinterpreted) {
  PublishSafetyUpdate("00000000-0000-4000-8000-000000000001");
  const uint64_t kept = ViewEnd(pki_, hub_->address(), "police-agency");
  // The hub keeps the index of the last four replaced generations: a
  // position kept across four protocol changes still resumes.
  std::string text = ProtocolWithoutHousingSummary();
  const size_t version = text.find("version: \"2026-12-1\"");
  for (int change = 1; change <= 5; ++change) {
    text.replace(version, 20, absl::StrCat("version: \"2026-12-", change, "\""));
    hub::v1::ApplyProtocolResponse applied;
    const grpc::Status status = Apply("operator-admin", text, &applied);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (change == 4) {
      EXPECT_TRUE(SubscribeAfter(kept).ok());
    }
  }
  // After a fifth, the hub no longer knows where that position was: it
  // says so instead of resuming at a place that number means today.
  const grpc::Status forgotten = SubscribeAfter(kept);
  EXPECT_EQ(forgotten.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(forgotten.error_message(), HasSubstr("subscribe again from 0"));
  const std::optional<google::rpc::ErrorInfo> reason = DetailOf<google::rpc::ErrorInfo>(forgotten);
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(reason->reason(), "VIEW_GENERATION_FORGOTTEN");
  // A position of today's generation the hub never gave (past its end).
  const uint64_t end = ViewEnd(pki_, hub_->address(), "police-agency");
  const grpc::Status never_given = SubscribeAfter(end + 1000);
  EXPECT_EQ(never_given.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(never_given.error_message(), HasSubstr("is not one the hub gave you"));
  EXPECT_TRUE(SubscribeAfter(end).ok());
}

TEST_F(ProtocolChangeTest, ViewsBuiltAgainFromNothingKeepEveryPositionsMeaning) {
  const uint64_t first_generation = ViewEnd(pki_, hub_->address(), "police-agency");
  hub::v1::ApplyProtocolResponse applied;
  ASSERT_TRUE(Apply("operator-admin", ProtocolWithoutHousingSummary(), &applied).ok());
  PublishSafetyUpdate("00000000-0000-4000-8000-000000000001");
  const uint64_t second_generation = ViewEnd(pki_, hub_->address(), "police-agency");
  ASSERT_EQ(second_generation / 1'000'000'000'000, first_generation / 1'000'000'000'000 + 1);
  grpc::Status status;
  const std::vector<std::string> before = PoliceEventsAfter(second_generation - 2, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(before.size(), 2u);

  // The views folder is lost (derived data: hubd builds it again from the
  // log). The same protocol derives the same views: the number the log
  // recorded is taken again, and a kept position still means what it did.
  hub_.reset();
  std::filesystem::remove_all(dir_.Sub("data") + "/views");
  Restart();
  EXPECT_EQ(ViewEnd(pki_, hub_->address(), "police-agency") / 1'000'000'000'000,
            second_generation / 1'000'000'000'000);
  EXPECT_EQ(PoliceEventsAfter(second_generation - 2, &status), before);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // The replaced generation's index went with the folder: a position of it
  // is refused, never read in today's numbering.
  PoliceEventsAfter(first_generation, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST_F(ProtocolChangeTest, ANewProtocolChangesWhatIsDeliveredFromThenOn) {
  const uint64_t before_update = ViewEnd(pki_, hub_->address(), "housing-agency");
  const uint64_t police_before_update = ViewEnd(pki_, hub_->address(), "police-agency");
  PublishSafetyUpdate("00000000-0000-4000-8000-000000000001");
  ASSERT_EQ(Visible("housing-agency"), 1u);

  // Housing follows its subscription across the change.
  grpc::ClientContext housing_context;
  hub::v1::SubscribeRequest after_referral;
  after_referral.set_after_position(before_update);
  auto housing = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "housing-agency"))
                     ->Subscribe(&housing_context, after_referral);
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(housing->Read(&item)) << housing->Finish().error_message();
  ASSERT_TRUE(item.has_event());
  ASSERT_TRUE(housing->Read(&item));
  ASSERT_TRUE(item.has_caught_up());

  hub::v1::ApplyProtocolResponse response;
  grpc::Status status = Apply("operator-admin", ProtocolWithoutHousingSummary(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.version(), "2026-12-1");
  EXPECT_EQ(response.previous_version(), "2026-11-1");
  EXPECT_GT(response.recorded_at_position(), 2u);
  EXPECT_GE(response.rebuild_milliseconds(), 0);
  EXPECT_GE(response.rebuilt_through_position(), 2u);
  EXPECT_TRUE(
      hub_->WaitForLog("msg=\"sharing protocol applied\" version=2026-12-1", absl::Seconds(10)))
      << hub_->Logs();

  // The rebuilt views apply the new protocol to the whole log.
  EXPECT_EQ(Visible("housing-agency"), 0u);
  EXPECT_EQ(Visible("police-agency"), 1u);
  EXPECT_EQ(VersionInForce("housing-agency"), "2026-12-1");

  // From then on, housing's live stream no longer carries such updates,
  // while the police's does. The police resume from a position of the
  // replaced generation's view: it still means the same place.
  PublishSafetyUpdate("00000000-0000-4000-8000-000000000002");
  grpc::ClientContext police_context;
  hub::v1::SubscribeRequest police_resume;
  police_resume.set_after_position(police_before_update);
  auto police = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                    ->Subscribe(&police_context, police_resume);
  std::vector<uint64_t> police_positions;
  while (police->Read(&item) && !item.has_caught_up()) {
    police_positions.push_back(item.event().global_position());
  }
  ASSERT_EQ(police_positions.size(), 2u);
  // Numbered in the new generation's view, one after the other.
  EXPECT_EQ(police_positions[0] / 1'000'000'000'000, police_before_update / 1'000'000'000'000 + 1);
  EXPECT_EQ(police_positions[1], police_positions[0] + 1);
  EXPECT_EQ(item.caught_up().position(), police_positions[1]);
  police_context.TryCancel();
  // A case allocation housing may still see, published after the update:
  // the next thing on housing's stream must be it, not the update.
  {
    hub::v1::PublishRequest request;
    request.set_case_id("C-9");
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id("00000000-0000-4000-8000-000000000003");
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
    event->set_lawful_basis("UK GDPR Art 6(1)(e)");
    event->mutable_case_allocated()->set_case_manager_id("CM-2");
    grpc::ClientContext context;
    hub::v1::PublishResponse published;
    ASSERT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "drive-agency"))
                    ->Publish(&context, request, &published)
                    .ok());
  }
  ASSERT_TRUE(housing->Read(&item));
  ASSERT_TRUE(item.has_event());
  EXPECT_TRUE(item.event().has_case_allocated())
      << "housing received an event the new protocol withholds: " << item.DebugString();
  // The open stream went on under the new generation's numbering.
  EXPECT_EQ(item.event().global_position() / 1'000'000'000'000,
            before_update / 1'000'000'000'000 + 1);
  housing_context.TryCancel();

  // The log is authoritative: a restart keeps the applied protocol, even
  // though the configured file still holds the old one.
  Restart();
  EXPECT_EQ(VersionInForce("police-agency"), "2026-12-1");
  EXPECT_EQ(Visible("housing-agency"), 1u);  // the allocation only
  EXPECT_THAT(hub_->Logs(), HasSubstr("differs from the protocol in force"));
}

// Housing's stream, open across a protocol change made after housing was
// given a case's history (a disclosure), goes on after what it received:
// the rebuilt views hold the same disclosure, and the history is not sent
// again.
TEST_F(ProtocolChangeTest, AStreamOpenAcrossAChangeIsNotSentADisclosedHistoryAgain) {
  const std::string id_prefix = "00000000-0000-4000-8000-";
  ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-10"}).ok());
  for (uint64_t n = 1; n <= 2; ++n) {
    ASSERT_TRUE(PublishOne(pki_, hub_->address(), "idva-agency", "C-10", id_prefix, 0x100 + n,
                           hub::v1::PURPOSE_SAFEGUARDING,
                           [](hub::v1::EventEnvelope* e) {
                             e->mutable_victim_safety_information()->set_risk_change(
                                 hub::v1::INCREASED);
                           })
                    .ok());
  }
  const uint64_t before_tasking = ViewEnd(pki_, hub_->address(), "housing-agency");
  grpc::ClientContext housing_context;
  hub::v1::SubscribeRequest request;
  request.set_after_position(before_tasking);
  auto housing = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "housing-agency"))
                     ->Subscribe(&housing_context, request);
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(housing->Read(&item)) << housing->Finish().error_message();
  ASSERT_TRUE(item.has_caught_up());
  // Housing is tasked in C-10: the case's referral and the two earlier
  // updates, then the tasking.
  ASSERT_TRUE(PublishOne(pki_, hub_->address(), "dapp-coordinator", "C-10", id_prefix, 0x110,
                         hub::v1::PURPOSE_PANEL,
                         [](hub::v1::EventEnvelope* e) {
                           e->mutable_action_tasked()->set_action_id("A-10");
                           e->mutable_action_tasked()->set_owner_agency("housing");
                         })
                  .ok());
  std::vector<std::string> received;
  while (received.empty() || received.back() != id_prefix + "000000000110") {
    ASSERT_TRUE(housing->Read(&item));
    ASSERT_TRUE(item.has_event()) << item.DebugString();
    received.push_back(item.event().event_id());
  }
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[1], id_prefix + "000000000101");
  EXPECT_EQ(received[2], id_prefix + "000000000102");

  // The same protocol under a new version: every view is built again.
  std::string text = ExampleProtocol();
  text.replace(text.find("version: \"2026-11-1\""), 20, "version: \"2026-12-2\"");
  hub::v1::ApplyProtocolResponse applied;
  const grpc::Status status = Apply("operator-admin", text, &applied);
  ASSERT_TRUE(status.ok()) << status.error_message();

  // The next thing on housing's stream is what happens next, not the
  // disclosed history once more.
  ASSERT_TRUE(PublishOne(pki_, hub_->address(), "drive-agency", "C-10", id_prefix, 0x120,
                         hub::v1::PURPOSE_CASE_MANAGEMENT,
                         [](hub::v1::EventEnvelope* e) {
                           e->mutable_case_allocated()->set_case_manager_id("CM-10");
                         })
                  .ok());
  ASSERT_TRUE(housing->Read(&item));
  ASSERT_TRUE(item.has_event()) << item.DebugString();
  EXPECT_EQ(item.event().event_id(), id_prefix + "000000000120") << item.DebugString();
  EXPECT_EQ(item.event().global_position() / 1'000'000'000'000,
            before_tasking / 1'000'000'000'000 + 1);
  housing_context.TryCancel();
}

}  // namespace
}  // namespace hub::testing
