// Write authority over real mutual TLS, played as partners that try to
// record what they should not: each refusal carries its status, stores
// nothing, and is in the access audit.
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/error_details.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/audit_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/policy_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kCase[] = "C-2026-00500";

class WriteAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {kCase}).ok());
    ASSERT_TRUE(Publish("police-agency", hub::v1::PURPOSE_SAFEGUARDING, [](auto* e) {
                  e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
                }).ok());
    ASSERT_TRUE(Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, [](auto* e) {
                  e->mutable_action_tasked()->set_action_id("A-1");
                  e->mutable_action_tasked()->set_owner_agency("housing");
                }).ok());
  }

  grpc::Status Publish(const std::string& as, hub::v1::Purpose purpose,
                       const std::function<void(hub::v1::EventEnvelope*)>& fill,
                       const std::string& case_id = kCase) {
    return PublishOne(pki_, hub_->address(), as, case_id, "3e170000-0000-4000-8000-", ++published_,
                      purpose, fill);
  }

  // The case as the coordinator's view holds it.
  int EventsInCase() {
    hub::v1::ReadCaseRequest request;
    request.set_case_id(kCase);
    request.set_page_size(1000);
    grpc::ClientContext context;
    hub::v1::ReadCaseResponse response;
    EXPECT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                    ->ReadCase(&context, request, &response)
                    .ok());
    return response.events_size();
  }

  // The refused publishes of the case, as the governance group sees them.
  std::vector<hub::v1::AuditRecord> RefusedPublishes() {
    hub::v1::QueryAuditRequest query;
    query.set_case_id(kCase);
    query.set_action(hub::v1::AUDIT_PUBLISH);
    grpc::ClientContext context;
    hub::v1::QueryAuditResponse response;
    EXPECT_TRUE(hub::v1::AuditService::NewStub(pki_.Channel(hub_->address(), "governance-auditor"))
                    ->QueryAudit(&context, query, &response)
                    .ok());
    std::vector<hub::v1::AuditRecord> refused;
    for (const auto& entry : response.entries()) {
      if (entry.record().decision() == hub::v1::AUDIT_DENIED) refused.push_back(entry.record());
    }
    return refused;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
  uint64_t published_ = 0;
};

struct Attempt {
  std::string name;
  std::string as;
  hub::v1::Purpose purpose;
  std::function<void(hub::v1::EventEnvelope*)> fill;
  grpc::StatusCode code;
  std::string message;
};

TEST_F(WriteAuthorityTest, APartnerCannotRecordWhatTheProtocolDoesNotLetIt) {
  const int before = EventsInCase();
  const std::vector<Attempt> attempts = {
      {"housing downgrades the risk", "housing-agency", hub::v1::PURPOSE_SAFEGUARDING,
       [](auto* e) { e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_STANDARD); },
       grpc::StatusCode::PERMISSION_DENIED, "record risk_assessed"},
      {"housing closes the case", "housing-agency", hub::v1::PURPOSE_CASE_MANAGEMENT,
       [](auto* e) { e->mutable_case_closed()->set_reason(hub::v1::RISK_REDUCED); },
       grpc::StatusCode::PERMISSION_DENIED, "record case_closed"},
      {"health records an arrest", "health-agency", hub::v1::PURPOSE_DISRUPTION,
       [](auto* e) { e->mutable_disruption_recorded()->set_kind(hub::v1::ARREST); },
       grpc::StatusCode::PERMISSION_DENIED, "record disruption_recorded"},
      {"housing records victim safety", "housing-agency", hub::v1::PURPOSE_SAFEGUARDING,
       [](auto* e) { e->mutable_victim_safety_information()->set_risk_change(hub::v1::REDUCED); },
       grpc::StatusCode::PERMISSION_DENIED, "record victim_safety_information"},
      {"police record an arrest for evaluation", "police-agency", hub::v1::PURPOSE_EVALUATION,
       [](auto* e) { e->mutable_disruption_recorded()->set_kind(hub::v1::ARREST); },
       grpc::StatusCode::PERMISSION_DENIED, "for PURPOSE_EVALUATION"},
      {"the action re-tasked to the police", "dapp-coordinator", hub::v1::PURPOSE_PANEL,
       [](auto* e) {
         e->mutable_action_tasked()->set_action_id("A-1");
         e->mutable_action_tasked()->set_owner_agency("police");
       },
       grpc::StatusCode::ALREADY_EXISTS, "action A-1 exists already"},
      {"the police complete housing's action", "police-agency", hub::v1::PURPOSE_CASE_MANAGEMENT,
       [](auto* e) {
         e->mutable_action_completed()->set_action_id("A-1");
         e->mutable_action_completed()->set_final_status(hub::v1::ACTION_COMPLETED);
       },
       grpc::StatusCode::PERMISSION_DENIED, "owned by housing"},
      {"an action that was never tasked", "housing-agency", hub::v1::PURPOSE_CASE_MANAGEMENT,
       [](auto* e) { e->mutable_action_updated()->set_action_id("A-404"); },
       grpc::StatusCode::NOT_FOUND, "has no action A-404"},
      {"a second referral", "probation-agency", hub::v1::PURPOSE_CASE_MANAGEMENT,
       [](auto* e) { e->mutable_referral_received()->set_route(hub::v1::ROUTE_DAPP); },
       grpc::StatusCode::ALREADY_EXISTS, "exists already"},
      {"reopening an open case", "drive-agency", hub::v1::PURPOSE_CASE_MANAGEMENT,
       [](auto* e) { e->mutable_case_reopened()->set_reason("again"); },
       grpc::StatusCode::FAILED_PRECONDITION, "is not closed"},
  };
  for (const Attempt& attempt : attempts) {
    const grpc::Status status = Publish(attempt.as, attempt.purpose, attempt.fill);
    EXPECT_EQ(status.error_code(), attempt.code) << attempt.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(attempt.message)) << attempt.name;
    // Every refusal also says why in a form a program can act on.
    const auto info = DetailOf<google::rpc::ErrorInfo>(status);
    ASSERT_TRUE(info.has_value()) << attempt.name;
    EXPECT_EQ(info->domain(), "hub.drive-partnership");
    if (attempt.code == grpc::StatusCode::PERMISSION_DENIED &&
        attempt.message.rfind("record ", 0) == 0) {
      EXPECT_EQ(info->reason(), "NO_RECORDING_RULE") << attempt.name;
    }
  }
  // A case that was never referred cannot be written into.
  EXPECT_EQ(Publish(
                "police-agency", hub::v1::PURPOSE_DISRUPTION,
                [](auto* e) { e->mutable_disruption_recorded()->set_kind(hub::v1::ARREST); },
                "C-NEVER-REFERRED")
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  EXPECT_EQ(EventsInCase(), before) << "a refused publish stored something";
  const std::vector<hub::v1::AuditRecord> refused = RefusedPublishes();
  ASSERT_EQ(refused.size(), attempts.size());
  for (size_t i = 0; i < attempts.size(); ++i) {
    EXPECT_THAT(refused[i].reason(), HasSubstr(attempts[i].message)) << attempts[i].name;
  }
}

TEST_F(WriteAuthorityTest, OwnersProgressTheirActionsAndAClosedCaseWaitsForAReopening) {
  EXPECT_TRUE(Publish("housing-agency", hub::v1::PURPOSE_CASE_MANAGEMENT, [](auto* e) {
                e->mutable_action_updated()->set_action_id("A-1");
                e->mutable_action_updated()->set_status(hub::v1::ACTION_IN_PROGRESS);
              }).ok());
  EXPECT_TRUE(Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, [](auto* e) {
                e->mutable_action_completed()->set_action_id("A-1");
                e->mutable_action_completed()->set_final_status(hub::v1::ACTION_COMPLETED);
              }).ok());
  ASSERT_TRUE(Publish("drive-agency", hub::v1::PURPOSE_CASE_MANAGEMENT, [](auto* e) {
                e->mutable_case_closed()->set_reason(hub::v1::INTERVENTION_COMPLETED);
              }).ok());
  const grpc::Status late = Publish("police-agency", hub::v1::PURPOSE_DISRUPTION, [](auto* e) {
    e->mutable_disruption_recorded()->set_kind(hub::v1::BREACH);
  });
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(late.error_message(), HasSubstr("accepts only case_reopened"));
  EXPECT_EQ(Publish("police-agency", hub::v1::PURPOSE_CASE_MANAGEMENT,
                    [](auto* e) { e->mutable_case_reopened()->set_reason("breach"); })
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, [](auto* e) {
                e->mutable_case_reopened()->set_reason("breach of the DVPO");
              }).ok());
  EXPECT_TRUE(Publish("police-agency", hub::v1::PURPOSE_DISRUPTION, [](auto* e) {
                e->mutable_disruption_recorded()->set_kind(hub::v1::BREACH);
              }).ok());
}

// A runaway or hostile coordinator system tasks action after action into
// one case: every agency's overview of the case keeps its open actions, so
// the protocol's limit (500 a case in the example) stops it at the gate,
// for good rather than for a while, and the governance group sees it.
TEST_F(WriteAuthorityTest, ACaseTakesNoMoreActionsThanTheProtocolAllows) {
  // The case holds A-1; 499 more in two publishes reach the limit.
  int tasked = 1;
  const auto task = [&](int count) {
    hub::v1::PublishRequest request;
    request.set_case_id(kCase);
    for (int i = 1; i <= count; ++i) {
      hub::v1::EventEnvelope* event = request.add_events();
      event->set_event_id(absl::StrFormat("3e170001-0000-4000-8000-%012x", tasked + i));
      event->mutable_occurred_time()->set_seconds(1795000000);
      event->set_purpose(hub::v1::PURPOSE_PANEL);
      event->set_lawful_basis("UK GDPR Art 6(1)(e)");
      event->mutable_action_tasked()->set_action_id(absl::StrCat("A-", tasked + i));
      event->mutable_action_tasked()->set_owner_agency("housing");
      event->mutable_action_tasked()->set_description(std::string(200, 'd'));
    }
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    const grpc::Status published =
        hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "dapp-coordinator"))
            ->Publish(&context, request, &response);
    if (published.ok()) tasked += count;
    return published;
  };
  ASSERT_TRUE(task(256).ok());
  // One publish that would cross the limit with its last event stores none
  // of its events.
  const int before_crossing = EventsInCase();
  EXPECT_EQ(task(244).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(EventsInCase(), before_crossing);
  ASSERT_TRUE(task(243).ok());
  ASSERT_EQ(tasked, 500);
  const int before = EventsInCase();
  const grpc::Status refused = Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, [](auto* e) {
    e->mutable_action_tasked()->set_action_id("A-501");
    e->mutable_action_tasked()->set_owner_agency("housing");
  });
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("holds 500 actions"));
  const auto info = DetailOf<google::rpc::ErrorInfo>(refused);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "ENTITY_LIMIT");
  EXPECT_EQ(info->metadata().at("limit"), "500");
  EXPECT_FALSE(DetailOf<google::rpc::RetryInfo>(refused).has_value())
      << "a client told to retry would knock on the limit for ever";
  EXPECT_EQ(EventsInCase(), before);
  const std::vector<hub::v1::AuditRecord> denied = RefusedPublishes();
  ASSERT_EQ(denied.size(), 2u);
  EXPECT_THAT(denied[1].reason(), HasSubstr("holds 500 actions"));
  // The actions it holds still move on, and the case closes.
  EXPECT_TRUE(Publish("housing-agency", hub::v1::PURPOSE_CASE_MANAGEMENT, [](auto* e) {
                e->mutable_action_completed()->set_action_id("A-2");
                e->mutable_action_completed()->set_final_status(hub::v1::ACTION_COMPLETED);
              }).ok());
}

// A new protocol version takes the recording rules with it: once probation
// may no longer record disruption, its next attempt is refused, while the
// police, whose rule stands, still record.
TEST_F(WriteAuthorityTest, ANewProtocolChangesWhoMayRecordFromThenOn) {
  const auto arrest = [](hub::v1::EventEnvelope* e) {
    e->mutable_disruption_recorded()->set_kind(hub::v1::ARREST);
  };
  ASSERT_TRUE(Publish("probation-agency", hub::v1::PURPOSE_DISRUPTION, arrest).ok());

  std::ifstream file(ExampleProtocolPath());
  std::stringstream buffer;
  buffer << file.rdbuf();
  std::string text = buffer.str();
  text.replace(text.find("version: \"2026-11-1\""), 20, "version: \"2026-12-1\"");
  const size_t rule = text.find("name: \"disruption\"");
  const std::string probation =
      "  principals: \"spiffe://drive.example-county.gov.uk/agency/probation/agency\"\n";
  text.erase(text.find(probation, rule), probation.size());
  hub::v1::ApplyProtocolRequest request;
  request.set_protocol_text(text);
  hub::v1::ApplyProtocolResponse response;
  grpc::ClientContext context;
  const grpc::Status applied =
      hub::v1::PolicyService::NewStub(pki_.Channel(hub_->address(), "operator-admin"))
          ->ApplyProtocol(&context, request, &response);
  ASSERT_TRUE(applied.ok()) << applied.error_message();

  const grpc::Status refused = Publish("probation-agency", hub::v1::PURPOSE_DISRUPTION, arrest);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("protocol 2026-12-1"));
  EXPECT_TRUE(Publish("police-agency", hub::v1::PURPOSE_DISRUPTION, arrest).ok());
}

}  // namespace
}  // namespace hub::testing
