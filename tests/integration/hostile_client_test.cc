// A careless or hostile client, played over real mutual TLS: what the
// contract does not define is refused with INVALID_ARGUMENT naming the
// field, and nothing of it is stored.
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"

#include "tests/integration/error_details.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/audit_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/timeline_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kCase[] = "C-2026-00700";

class HostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {kCase}).ok());
  }

  grpc::Status Publish(const std::string& as, hub::v1::Purpose purpose,
                       const std::function<void(hub::v1::EventEnvelope*)>& fill,
                       const std::string& case_id = kCase) {
    return PublishOne(pki_, hub_->address(), as, case_id, "4b051000-0000-4000-8000-", ++published_,
                      purpose, fill);
  }

  // The police's position of the last event of the case it sees.
  uint64_t LastPosition() {
    hub::v1::ReadCaseRequest request;
    request.set_case_id(kCase);
    request.set_page_size(1000);
    grpc::ClientContext context;
    hub::v1::ReadCaseResponse read;
    EXPECT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                    ->ReadCase(&context, request, &read)
                    .ok());
    return read.events().empty() ? 0 : read.events().rbegin()->global_position();
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
  uint64_t published_ = 0;
};

TEST_F(HostileClientTest, EnumNumbersTheContractDoesNotDefineAreRefused) {
  const uint64_t before = LastPosition();
  grpc::Status status = Publish("police-agency", hub::v1::PURPOSE_SAFEGUARDING, [](auto* e) {
    e->mutable_risk_assessed()->set_risk_level(static_cast<hub::v1::RiskLevel>(77));
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              AllOf(HasSubstr("events[0].risk_assessed.risk_level is 77"), HasSubstr("RISK_HIGH")));
  // A program learns the field from a google.rpc.BadRequest.
  const auto bad_request = DetailOf<google::rpc::BadRequest>(status);
  ASSERT_TRUE(bad_request.has_value());
  ASSERT_EQ(bad_request->field_violations_size(), 1);
  EXPECT_EQ(bad_request->field_violations(0).field(), "events[0].risk_assessed.risk_level");

  status = Publish("police-agency", static_cast<hub::v1::Purpose>(99),
                   [](auto* e) { e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("events[0].purpose is 99"));

  status = Publish(
      "police-agency", hub::v1::PURPOSE_CASE_MANAGEMENT,
      [](auto* e) {
        e->mutable_referral_received()->set_route(static_cast<hub::v1::ReferralRoute>(42));
      },
      "C-2026-00701");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("referral_received.route is 42"));
  EXPECT_EQ(LastPosition(), before) << "a refused publish stored something";

  // Reads refuse them too, rather than answer a question no one can ask.
  hub::v1::ListCasesRequest list;
  list.set_min_risk_level(static_cast<hub::v1::RiskLevel>(77));
  grpc::ClientContext context;
  hub::v1::ListCasesResponse cases;
  status = hub::v1::TimelineService::NewStub(pki_.Channel(hub_->address(), "dapp-coordinator"))
               ->ListCases(&context, list, &cases);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("min_risk_level is 77"));
}

TEST_F(HostileClientTest, TextIsBoundedPerFieldAndShortFieldsAreOneLine) {
  const uint64_t before = LastPosition();
  struct Attempt {
    std::string name;
    std::function<void(hub::v1::EventEnvelope*)> fill;
    std::string message;
  };
  const std::vector<Attempt> refused = {
      {"a description past the free-text limit",
       [](auto* e) {
         e->mutable_action_tasked()->set_action_id("A-9");
         e->mutable_action_tasked()->set_owner_agency("housing");
         e->mutable_action_tasked()->set_description(std::string(8193, 'x'));
       },
       "events[0].action_tasked.description is 8193 bytes; the limit is 8192"},
      {"an action id past the short-text limit",
       [](auto* e) { e->mutable_action_tasked()->set_action_id(std::string(257, 'A')); },
       "events[0].action_tasked.action_id is 257 bytes; the limit is 256"},
      {"a line break in an owner agency",
       [](auto* e) {
         e->mutable_action_tasked()->set_action_id("A-9");
         e->mutable_action_tasked()->set_owner_agency("housing\npolice");
       },
       "owner_agency holds a control character"},
      {"a right-to-left override that makes a note read otherwise",
       [](auto* e) {
         e->mutable_action_tasked()->set_action_id("A-9");
         e->mutable_action_tasked()->set_owner_agency("housing");
         e->mutable_action_tasked()->set_description("visit \u202Eon 12 May\u202C");
       },
       "description holds a Unicode bidirectional override"},
  };
  for (const Attempt& attempt : refused) {
    grpc::Status status = Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, attempt.fill);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << attempt.name;
    EXPECT_THAT(status.error_message(), HasSubstr(attempt.message)) << attempt.name;
  }
  EXPECT_EQ(LastPosition(), before) << "a refused publish stored something";

  // Free text keeps its paragraphs, up to its limit.
  grpc::Status stored = Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, [](auto* e) {
    e->mutable_action_tasked()->set_action_id("A-9");
    e->mutable_action_tasked()->set_owner_agency("housing");
    e->mutable_action_tasked()->set_description("Visit on 12 May.\n\tConfirm locks fitted." +
                                                std::string(8192 - 39, '.'));
  });
  EXPECT_TRUE(stored.ok()) << stored.error_message();
}

TEST_F(HostileClientTest, AResendIsARetryOnlyIfItSaysTheSameThing) {
  hub::v1::PublishRequest request;
  request.set_case_id(kCase);
  hub::v1::EventEnvelope* event = request.add_events();
  event->set_event_id("4b051000-0000-4000-8000-0000000000aa");
  event->mutable_occurred_time()->set_seconds(1795000000);
  event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
  event->set_lawful_basis("UK GDPR Art 6(1)(e)");
  event->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
  auto stub = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"));
  auto publish = [&](const hub::v1::PublishRequest& r, hub::v1::PublishResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return stub->Publish(&context, r, response);
  };
  hub::v1::PublishResponse first;
  ASSERT_TRUE(publish(request, &first).ok());

  const uint64_t stored_at = LastPosition();
  // The same event again (a lost answer): nothing new.
  hub::v1::PublishResponse again;
  ASSERT_TRUE(publish(request, &again).ok());
  EXPECT_TRUE(again.already_stored());
  EXPECT_EQ(LastPosition(), stored_at);

  // The same id saying something else is not a retry: refused, not dropped.
  request.mutable_events(0)->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_STANDARD);
  hub::v1::PublishResponse changed;
  grpc::Status status = publish(request, &changed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr("with different content"));
  const auto reused = DetailOf<google::rpc::ErrorInfo>(status);
  ASSERT_TRUE(reused.has_value());
  EXPECT_EQ(reused->reason(), "EVENT_ID_REUSED");
  EXPECT_EQ(reused->metadata().at("event_id"), request.events(0).event_id());
  EXPECT_EQ(LastPosition(), stored_at);

  // Other agency, same id and content: another producer, so not a retry.
  grpc::ClientContext context;
  request.mutable_events(0)->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
  status = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "probation-agency"))
               ->Publish(&context, request, &changed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(HostileClientTest, ADeclaredPurposeBindsWhatAReadReturns) {
  ASSERT_TRUE(Publish("police-agency", hub::v1::PURPOSE_SAFEGUARDING, [](auto* e) {
                e->mutable_subject_linked()->mutable_victim()->set_subject_id("V-1");
              }).ok());
  ASSERT_TRUE(Publish("police-agency", hub::v1::PURPOSE_SAFEGUARDING, [](auto* e) {
                e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
                e->mutable_risk_assessed()->set_victim_subject_id("V-1");
              }).ok());
  auto coordinator =
      hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "dapp-coordinator"));
  auto read = [&](hub::v1::Purpose purpose) {
    hub::v1::ReadCaseRequest request;
    request.set_case_id(kCase);
    request.set_purpose(purpose);
    grpc::ClientContext context;
    hub::v1::ReadCaseResponse response;
    EXPECT_TRUE(coordinator->ReadCase(&context, request, &response).ok());
    return response;
  };
  // For the panel, the coordinator sees who the victim is.
  const hub::v1::ReadCaseResponse panel = read(hub::v1::PURPOSE_PANEL);
  ASSERT_EQ(panel.events_size(), 3);
  EXPECT_EQ(panel.events(1).subject_linked().victim().subject_id(), "V-1");
  EXPECT_EQ(panel.events(2).risk_assessed().victim_subject_id(), "V-1");

  // For evaluation, only what the evaluation rule allows: the risk level,
  // never the victim, although the coordinator's other rules would show it.
  const hub::v1::ReadCaseResponse evaluation = read(hub::v1::PURPOSE_EVALUATION);
  ASSERT_EQ(evaluation.events_size(), 3);
  EXPECT_FALSE(evaluation.events(1).subject_linked().has_victim());
  EXPECT_EQ(evaluation.events(2).risk_assessed().risk_level(), hub::v1::RISK_HIGH);
  EXPECT_EQ(evaluation.events(2).risk_assessed().victim_subject_id(), "");
  EXPECT_EQ(evaluation.SerializeAsString().find("V-1"), std::string::npos);

  // So is the timeline.
  {
    hub::v1::GetCaseTimelineRequest request;
    request.set_case_id(kCase);
    request.set_purpose(hub::v1::PURPOSE_EVALUATION);
    grpc::ClientContext context;
    hub::v1::GetCaseTimelineResponse timeline;
    ASSERT_TRUE(hub::v1::TimelineService::NewStub(pki_.Channel(hub_->address(), "dapp-coordinator"))
                    ->GetCaseTimeline(&context, request, &timeline)
                    .ok());
    EXPECT_EQ(timeline.entries_size(), 3);
    EXPECT_EQ(timeline.SerializeAsString().find("V-1"), std::string::npos);
  }

  // A subscription for evaluation is bound the same way.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  hub::v1::SubscribeRequest subscribe;
  subscribe.set_case_id(kCase);
  subscribe.set_purpose(hub::v1::PURPOSE_EVALUATION);
  auto stream = coordinator->Subscribe(&context, subscribe);
  hub::v1::SubscribeResponse item;
  int events = 0;
  while (stream->Read(&item) && !item.has_caught_up()) {
    ++events;
    EXPECT_EQ(item.SerializeAsString().find("V-1"), std::string::npos);
  }
  EXPECT_EQ(events, 3);
  context.TryCancel();
}

TEST_F(HostileClientTest, AnEventWithNothingLeftToShowIsNotInTheView) {
  // A child is linked to the case. Drive's rules give it no child
  // safeguarding data: an empty "subject linked" would still tell it that
  // a child is involved, and the count of them.
  ASSERT_TRUE(Publish("police-agency", hub::v1::PURPOSE_SAFEGUARDING, [](auto* e) {
                e->mutable_subject_linked()->mutable_child()->set_subject_id("CH-1");
              }).ok());
  auto read = [&](const std::string& as) {
    hub::v1::ReadCaseRequest request;
    request.set_case_id(kCase);
    grpc::ClientContext context;
    hub::v1::ReadCaseResponse response;
    EXPECT_TRUE(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as))
                    ->ReadCase(&context, request, &response)
                    .ok());
    return response;
  };
  EXPECT_EQ(read("police-agency").events_size(), 2) << "the referral and the child";
  const hub::v1::ReadCaseResponse drive = read("drive-agency");
  ASSERT_EQ(drive.events_size(), 1) << "only the referral";
  EXPECT_TRUE(drive.events(0).has_referral_received());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  hub::v1::SubscribeRequest subscribe;
  subscribe.set_case_id(kCase);
  auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "drive-agency"))
                    ->Subscribe(&context, subscribe);
  hub::v1::SubscribeResponse item;
  int events = 0;
  while (stream->Read(&item) && !item.has_caught_up()) {
    ++events;
    EXPECT_FALSE(item.event().has_subject_linked());
  }
  EXPECT_EQ(events, 1);
  context.TryCancel();
}

// Sends `bytes` as the body of a Publish call, as a client built from
// another contract, or a broken one, would.
grpc::Status PublishRawBytes(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/hub.v1.EventService/Publish", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(status); });
  return done.get_future().get();
}

// The Drive provider may not see child safeguarding. Played as it would
// probe: counting gaps in its positions and versions, and conditional
// publishes at the case's true version. It learns only its own view.
TEST_F(HostileClientTest, PositionsVersionsAndConflictsCountOnlyWhatTheCallerSees) {
  const uint64_t drive_start = ViewEnd(pki_, hub_->address(), "drive-agency");
  ASSERT_TRUE(Publish("childrens-services-agency", hub::v1::PURPOSE_SAFEGUARDING, [](auto* e) {
                auto* child = e->mutable_child_safeguarding_information();
                child->set_plan_status(hub::v1::CHILD_PROTECTION_PLAN);
                child->set_social_worker_notes("seen at school");
              }).ok());
  ASSERT_TRUE(Publish("police-agency", hub::v1::PURPOSE_DISRUPTION, [](auto* e) {
                e->mutable_disruption_recorded()->set_kind(hub::v1::ARREST);
              }).ok());

  // The police see all three events of the case; the Drive provider two,
  // numbered as if the third did not exist.
  const std::vector<hub::v1::EventEnvelope> police =
      ReadCaseAs(pki_, hub_->address(), "police-agency", kCase);
  ASSERT_EQ(police.size(), 3u);
  EXPECT_EQ(police[2].stream_version(), 3u);
  const std::vector<hub::v1::EventEnvelope> drive =
      ReadCaseAs(pki_, hub_->address(), "drive-agency", kCase);
  ASSERT_EQ(drive.size(), 2u);
  EXPECT_TRUE(drive[1].has_disruption_recorded());
  EXPECT_EQ(drive[1].stream_version(), 2u);
  EXPECT_EQ(drive[1].global_position(), drive_start + 1) << "a gap counts the hidden record";
  EXPECT_EQ(ViewEnd(pki_, hub_->address(), "drive-agency"), drive_start + 1);

  // Conditional publishes probing the case's true version are answered
  // with the caller's own version, and store nothing.
  auto allocate = [&](uint64_t expected_version, uint64_t number) {
    hub::v1::PublishRequest request;
    request.set_case_id(kCase);
    request.set_expected_version(expected_version);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(absl::StrFormat("4b051000-0000-4000-8000-%012x", 0xa110c + number));
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
    event->set_lawful_basis("UK GDPR Art 6(1)(e)");
    event->mutable_case_allocated()->set_case_manager_id("CM-7");
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    return hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "drive-agency"))
        ->Publish(&context, request, &response);
  };
  for (const uint64_t probe : {uint64_t{3}, uint64_t{1}}) {
    const grpc::Status status = allocate(probe, probe);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << probe;
    const auto conflict = DetailOf<google::rpc::ErrorInfo>(status);
    ASSERT_TRUE(conflict.has_value());
    EXPECT_EQ(conflict->reason(), "VERSION_CONFLICT");
    EXPECT_EQ(conflict->metadata().at("current_version"), "2");
    EXPECT_THAT(status.error_message(), HasSubstr("at version 2"));
  }
  EXPECT_EQ(ReadCaseAs(pki_, hub_->address(), "police-agency", kCase).size(), 3u);
  // At the version it sees, the publish goes through.
  const grpc::Status at_own = allocate(2, 2);
  EXPECT_TRUE(at_own.ok()) << at_own.error_message();
  EXPECT_EQ(ReadCaseAs(pki_, hub_->address(), "drive-agency", kCase).back().stream_version(), 3u);
}

TEST_F(HostileClientTest, BytesThatDoNotParseAreRefusedWithAReason) {
  const uint64_t before = LastPosition();
  auto channel = pki_.Channel(hub_->address(), "police-agency");
  // Not a protobuf at all.
  grpc::Status garbage = PublishRawBytes(channel, "\xff\xff\xff\xff not a protobuf");
  EXPECT_EQ(garbage.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(garbage.error_message(), HasSubstr("not a well-formed hub.v1.PublishRequest"));

  // A well-formed request whose case_id (field 1) is not valid UTF-8.
  hub::v1::PublishRequest request;
  request.set_case_id(kCase);
  std::string bytes = request.SerializeAsString();
  bytes += std::string("\x0a\x02\xff\xfe", 4);
  grpc::Status invalid_utf8 = PublishRawBytes(channel, bytes);
  EXPECT_EQ(invalid_utf8.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid_utf8.error_message(), HasSubstr("not valid UTF-8"));
  EXPECT_EQ(LastPosition(), before);

  // What the protobuf library says about it arrives in the hub's own format.
  EXPECT_TRUE(hub_->WaitForLog("source=protobuf", absl::Seconds(5))) << hub_->Logs();
  for (absl::string_view line : absl::StrSplit(hub_->Logs(), '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "ts=")) << "a log line outside the hub's format: " << line;
  }
}

}  // namespace
}  // namespace hub::testing

namespace hub::testing {
namespace {

// A partner fishing for cases it is not part of, by writing to them: health
// (which sees a case only once it is involved) completes an action,
// corrects an event and resends another agency's event id, each into a case
// it is not involved in and into one that does not exist. Every probe is
// answered alike for both, word for word, stores nothing and is audited;
// recording is no way into a case. Once tasked, health records.
TEST_F(HostileClientTest, WritingTellsAnAgencyNothingOfACaseItIsNotInvolvedIn) {
  ASSERT_TRUE(Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, [](auto* e) {
                e->mutable_action_tasked()->set_action_id("A-1");
                e->mutable_action_tasked()->set_owner_agency("housing");
                e->mutable_action_tasked()->set_description("assess the tenancy");
              }).ok());
  const std::vector<hub::v1::EventEnvelope> before =
      ReadCaseAs(pki_, hub_->address(), "police-agency", kCase);
  ASSERT_EQ(before.size(), 2u);
  const std::string referral_id = before.front().event_id();
  const std::string tasked_id = before.back().event_id();

  constexpr char kNowhere[] = "C-2026-00799";
  struct Probe {
    const char* what;
    std::string event_id;
    std::function<void(hub::v1::EventEnvelope*)> fill;
  };
  const std::vector<Probe> probes = {
      {"completing another agency's action", "4b051000-0000-4000-8000-00000000c001",
       [](hub::v1::EventEnvelope* e) {
         e->mutable_action_completed()->set_action_id("A-1");
         e->mutable_action_completed()->set_final_status(hub::v1::ACTION_COMPLETED);
       }},
      {"correcting the referral", "4b051000-0000-4000-8000-00000000c002",
       [&](hub::v1::EventEnvelope* e) {
         hub::v1::RecordCorrected* correction = e->mutable_record_corrected();
         correction->set_corrected_event_id(referral_id);
         correction->add_fields("route");
         correction->set_reason("probing");
         correction->mutable_referral_received()->set_route(hub::v1::ROUTE_MATAC);
       }},
      {"resending the tasking's event id", tasked_id,
       [](hub::v1::EventEnvelope* e) { e->mutable_action_updated()->set_action_id("A-1"); }},
  };
  auto health = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "health-agency"));
  auto probe = [&](const Probe& attempt, const std::string& case_id) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(attempt.event_id);
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
    event->set_lawful_basis("UK GDPR Art 9(2)(h)");
    attempt.fill(event);
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    return health->Publish(&context, request, &response);
  };
  for (const Probe& attempt : probes) {
    const grpc::Status existing = probe(attempt, kCase);
    const grpc::Status missing = probe(attempt, kNowhere);
    EXPECT_EQ(existing.error_code(), grpc::StatusCode::NOT_FOUND) << attempt.what;
    EXPECT_EQ(existing.error_code(), missing.error_code()) << attempt.what;
    EXPECT_EQ(absl::StrReplaceAll(missing.error_message(), {{kNowhere, kCase}}),
              existing.error_message())
        << attempt.what;
    const auto existing_info = DetailOf<google::rpc::ErrorInfo>(existing);
    const auto missing_info = DetailOf<google::rpc::ErrorInfo>(missing);
    ASSERT_TRUE(existing_info.has_value() && missing_info.has_value()) << attempt.what;
    EXPECT_EQ(existing_info->reason(), "CASE_NOT_KNOWN");
    EXPECT_EQ(missing_info->reason(), existing_info->reason());
  }
  EXPECT_EQ(ReadCaseAs(pki_, hub_->address(), "police-agency", kCase).size(), before.size());
  EXPECT_TRUE(ReadCaseAs(pki_, hub_->address(), "health-agency", kCase).empty())
      << "a refused write made health part of the case";

  // The governance group sees every probe, of either case.
  auto audit = hub::v1::AuditService::NewStub(pki_.Channel(hub_->address(), "governance-auditor"));
  for (const std::string& case_id : {std::string(kCase), std::string(kNowhere)}) {
    hub::v1::QueryAuditRequest query;
    query.set_case_id(case_id);
    query.set_agency("health");
    query.set_action(hub::v1::AUDIT_PUBLISH);
    query.set_decision(hub::v1::AUDIT_DENIED);
    grpc::ClientContext context;
    hub::v1::QueryAuditResponse found;
    ASSERT_TRUE(audit->QueryAudit(&context, query, &found).ok());
    EXPECT_EQ(found.entries_size(), static_cast<int>(probes.size())) << case_id;
  }

  // Tasked by the coordinator, health is involved: it records, and sees the case.
  ASSERT_TRUE(Publish("dapp-coordinator", hub::v1::PURPOSE_PANEL, [](auto* e) {
                e->mutable_action_tasked()->set_action_id("A-2");
                e->mutable_action_tasked()->set_owner_agency("health");
                e->mutable_action_tasked()->set_description("GP review");
              }).ok());
  const grpc::Status completed =
      Publish("health-agency", hub::v1::PURPOSE_CASE_MANAGEMENT, [](auto* e) {
        e->mutable_action_completed()->set_action_id("A-2");
        e->mutable_action_completed()->set_final_status(hub::v1::ACTION_COMPLETED);
      });
  EXPECT_TRUE(completed.ok()) << completed.error_message();
  EXPECT_FALSE(ReadCaseAs(pki_, hub_->address(), "health-agency", kCase).empty());
}

}  // namespace
}  // namespace hub::testing
