// EventService against a real hubd over mutual TLS: publishing, idempotent
// retries, optimistic concurrency, paging, subscriptions that catch up and
// follow live, and every kind of bad input refused without a write.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"

#include "tests/integration/error_details.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/event_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;

// Every case a test here publishes to, opened by a referral (each case
// begins with one) before the test: so a case's own events start at
// version 2.
const std::vector<std::string>& OpenedCases() {
  static const auto* cases =
      new std::vector<std::string>{"C-0", "C-1",      "C-2",      "C-3",      "C-4",  "C-5",
                                   "C-6", "C-live-0", "C-live-1", "C-live-2", "C-py", "C-node"};
  return *cases;
}

std::string Uuid(uint64_t n) {
  return absl::StrFormat("%08x-0000-4000-8000-%012x", static_cast<uint32_t>(n >> 48),
                         n & 0xffffffffffffULL);
}

// A well-formed envelope; the hub stamps the rest.
hub::v1::EventEnvelope Envelope(uint64_t id) {
  hub::v1::EventEnvelope envelope;
  envelope.set_event_id(Uuid(id));
  envelope.mutable_occurred_time()->set_seconds(1795000000);
  envelope.set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
  envelope.set_lawful_basis("UK GDPR Art 6(1)(e); Crime and Disorder Act 1998 s115");
  hub::v1::DisruptionRecorded* disruption = envelope.mutable_disruption_recorded();
  disruption->set_kind(hub::v1::ARREST);
  disruption->set_conditions("no contact");
  return envelope;
}

hub::v1::PublishRequest Request(const std::string& case_id, std::vector<uint64_t> ids) {
  hub::v1::PublishRequest request;
  request.set_case_id(case_id);
  for (uint64_t id : ids) *request.add_events() = Envelope(id);
  return request;
}

class EventServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Restart();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), OpenedCases()).ok());
  }

  void Restart() {
    hub_.reset();
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  std::unique_ptr<hub::v1::EventService::Stub> Stub(const std::string& as) {
    return hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as));
  }

  grpc::Status Publish(const std::string& as, const hub::v1::PublishRequest& request,
                       hub::v1::PublishResponse* response = nullptr) {
    hub::v1::PublishResponse ignored;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return Stub(as)->Publish(&context, request, response != nullptr ? response : &ignored);
  }

  // Every event of a case in the police's view, following page tokens.
  std::vector<hub::v1::EventEnvelope> ReadAll(const std::string& case_id,
                                              const std::string& as = "police-agency") {
    std::vector<hub::v1::EventEnvelope> events;
    auto stub = Stub(as);
    hub::v1::ReadCaseRequest request;
    request.set_case_id(case_id);
    do {
      grpc::ClientContext context;
      hub::v1::ReadCaseResponse response;
      grpc::Status status = stub->ReadCase(&context, request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      events.insert(events.end(), response.events().begin(), response.events().end());
      request.set_page_token(response.next_page_token());
    } while (!request.page_token().empty());
    return events;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(EventServiceTest, PublishedEventsAreStampedAndSurviveARestart) {
  hub::v1::PublishResponse response;
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1, 2}), &response).ok());
  EXPECT_FALSE(response.already_stored());
  // Where they went in the log is not the publisher's business: positions
  // and versions are each reader's own.
  EXPECT_EQ(response.ByteSizeLong(), 0u);

  Restart();
  std::vector<hub::v1::EventEnvelope> events = ReadAll("C-1");
  ASSERT_EQ(events.size(), 3u);
  events.erase(events.begin());  // the referral
  EXPECT_EQ(events[1].event_id(), Uuid(2));
  EXPECT_EQ(events[1].case_id(), "C-1");
  EXPECT_EQ(events[1].producing_agency(), "police");
  EXPECT_EQ(events[1].producer_identity(),
            "spiffe://drive.example-county.gov.uk/agency/police/agency");
  // Numbered in the police's own view (generation 1): one after the other.
  EXPECT_EQ(events[1].global_position(), events[0].global_position() + 1);
  EXPECT_EQ(events[1].global_position() / 1'000'000'000'000, 1u);
  EXPECT_EQ(events[1].stream_version(), 3u);
  EXPECT_EQ(events[1].classification(), hub::v1::OFFENDING);
  EXPECT_GT(events[1].recorded_time().seconds(), 1795000000);
  EXPECT_EQ(events[1].disruption_recorded().conditions(), "no contact");
}

TEST_F(EventServiceTest, ARetryIsAnsweredAlreadyStoredAndStoresNothing) {
  hub::v1::PublishResponse first;
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1, 2}), &first).ok());
  EXPECT_FALSE(first.already_stored());
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {3})).ok());
  hub::v1::PublishResponse retry;
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1, 2}), &retry).ok());
  EXPECT_TRUE(retry.already_stored());
  EXPECT_EQ(ReadAll("C-1").size(), 4u);
}

TEST_F(EventServiceTest, AVersionConflictIsAFailedPreconditionNamingTheVersion) {
  hub::v1::PublishRequest request = Request("C-1", {1});
  request.set_expected_version(1);
  ASSERT_TRUE(Publish("police-agency", request).ok());
  request = Request("C-1", {2});
  request.set_expected_version(1);
  grpc::Status status = Publish("probation-agency", request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("case C-1 is at version 2, expected 1"));
  // And for a program, without parsing the message.
  const auto info = DetailOf<google::rpc::ErrorInfo>(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "VERSION_CONFLICT");
  EXPECT_EQ(info->metadata().at("current_version"), "2");
  request.set_expected_version(2);
  EXPECT_TRUE(Publish("probation-agency", request).ok());
}

TEST_F(EventServiceTest, ReadCasePagesWithTokensBoundToTheCase) {
  std::vector<uint64_t> ids;
  for (uint64_t i = 1; i <= 25; ++i) ids.push_back(i);
  ASSERT_TRUE(Publish("police-agency", Request("C-1", ids)).ok());
  ASSERT_TRUE(Publish("police-agency", Request("C-2", {100})).ok());

  auto stub = Stub("police-agency");
  hub::v1::ReadCaseRequest request;
  request.set_case_id("C-1");
  request.set_page_size(10);
  std::vector<uint64_t> versions;
  int pages = 0;
  do {
    grpc::ClientContext context;
    hub::v1::ReadCaseResponse response;
    ASSERT_TRUE(stub->ReadCase(&context, request, &response).ok());
    for (const auto& event : response.events()) versions.push_back(event.stream_version());
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(versions.size(), 26u);
  for (size_t i = 0; i < versions.size(); ++i) EXPECT_EQ(versions[i], i + 1);

  // An oversized page is served at the largest size (AIP-158), not refused.
  {
    hub::v1::ReadCaseRequest big = request;
    big.clear_page_token();
    big.set_page_size(5000);
    grpc::ClientContext context;
    hub::v1::ReadCaseResponse served;
    EXPECT_TRUE(stub->ReadCase(&context, big, &served).ok());
  }
  // A token from C-1 used for C-2, a forged token, a bad page size.
  grpc::ClientContext first_page;
  hub::v1::ReadCaseResponse response;
  request.clear_page_token();
  ASSERT_TRUE(stub->ReadCase(&first_page, request, &response).ok());
  for (const auto& [mutate, message] :
       std::vector<std::pair<std::function<void(hub::v1::ReadCaseRequest&)>, std::string>>{
           {[&](auto& r) { r.set_case_id("C-2"), r.set_page_token(response.next_page_token()); },
            "another case"},
           {[](auto& r) { r.set_page_token("forged"); }, "not one this hub issued"},
           {[](auto& r) { r.set_page_size(-1); }, "page_size is -1"},
           {[](auto& r) { r.clear_case_id(); }, "case_id is required"}}) {
    hub::v1::ReadCaseRequest bad;
    bad.set_case_id("C-1");
    mutate(bad);
    grpc::ClientContext context;
    hub::v1::ReadCaseResponse ignored;
    grpc::Status status = stub->ReadCase(&context, bad, &ignored);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_THAT(status.error_message(), HasSubstr(message));
  }
}

TEST_F(EventServiceTest, AuditorsAndOperatorsReadNoCaseContent) {
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1})).ok());
  for (const char* reader : {"governance-auditor", "operator-admin"}) {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-1");
    hub::v1::ReadCaseResponse response;
    grpc::Status status = Stub(reader)->ReadCase(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << reader;
    EXPECT_EQ(response.events_size(), 0) << reader;

    grpc::ClientContext stream_context;
    auto stream = Stub(reader)->Subscribe(&stream_context, hub::v1::SubscribeRequest());
    hub::v1::SubscribeResponse item;
    EXPECT_FALSE(stream->Read(&item)) << reader << " received something";
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED) << reader;
  }
}

TEST_F(EventServiceTest, APrincipalCannotPublishAsAnotherAgency) {
  hub::v1::PublishRequest request = Request("C-1", {1});
  request.mutable_events(0)->set_producing_agency("idva");
  grpc::Status status = Publish("police-agency", request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("certificate is agency \"police\""));

  request = Request("C-1", {1});
  request.mutable_events(0)->set_producer_identity(
      "spiffe://drive.example-county.gov.uk/agency/idva/agency");
  EXPECT_EQ(Publish("police-agency", request).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Naming its own agency is fine; the stored agency is the certificate's.
  request = Request("C-1", {1});
  request.mutable_events(0)->set_producing_agency("police");
  ASSERT_TRUE(Publish("police-agency", request).ok());
  EXPECT_EQ(ReadAll("C-1")[1].producing_agency(), "police");
}

struct BadPublish {
  std::string name;
  std::string as;
  std::function<void(hub::v1::PublishRequest&)> mutate;
  grpc::StatusCode code;
  std::string message;
};

TEST_F(EventServiceTest, BadInputGetsAClearStatusAndChangesNothing) {
  const std::vector<BadPublish> cases = {
      {"auditor publishes", "governance-auditor", [](auto&) {}, grpc::StatusCode::PERMISSION_DENIED,
       "only agency systems and coordinators"},
      {"admin publishes", "operator-admin", [](auto&) {}, grpc::StatusCode::PERMISSION_DENIED,
       "role ADMIN"},
      {"no case", "police-agency", [](auto& r) { r.clear_case_id(); },
       grpc::StatusCode::INVALID_ARGUMENT, "case_id is required"},
      {"bad case id", "police-agency", [](auto& r) { r.set_case_id("C 1/../x"); },
       grpc::StatusCode::INVALID_ARGUMENT, "may contain only"},
      {"no events", "police-agency", [](auto& r) { r.clear_events(); },
       grpc::StatusCode::INVALID_ARGUMENT, "has no events"},
      {"no event type", "police-agency",
       [](auto& r) { r.mutable_events(0)->clear_disruption_recorded(); },
       grpc::StatusCode::INVALID_ARGUMENT, "events[0] has no event"},
      {"unknown event type", "police-agency",
       [](auto& r) {
         r.mutable_events(0)->clear_disruption_recorded();
         r.mutable_events(0)
             ->GetReflection()
             ->MutableUnknownFields(r.mutable_events(0))
             ->AddLengthDelimited(99, "from a newer contract");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "has no event"},
      {"unknown field", "police-agency",
       [](auto& r) {
         auto* event = r.mutable_events(0)->mutable_disruption_recorded();
         event->GetReflection()->MutableUnknownFields(event)->AddVarint(77, 1);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "does not know"},
      {"missing event id", "police-agency", [](auto& r) { r.mutable_events(0)->clear_event_id(); },
       grpc::StatusCode::INVALID_ARGUMENT, "is not a UUID"},
      {"bad event id", "police-agency",
       [](auto& r) { r.mutable_events(0)->set_event_id("event-1"); },
       grpc::StatusCode::INVALID_ARGUMENT, "\"event-1\" is not a UUID"},
      {"duplicate ids", "police-agency", [](auto& r) { *r.add_events() = r.events(0); },
       grpc::StatusCode::INVALID_ARGUMENT, "appears twice"},
      {"no occurred time", "police-agency",
       [](auto& r) { r.mutable_events(0)->clear_occurred_time(); },
       grpc::StatusCode::INVALID_ARGUMENT, "occurred_time is missing"},
      {"future occurred time", "police-agency",
       [](auto& r) { r.mutable_events(0)->mutable_occurred_time()->set_seconds(4102444800); },
       grpc::StatusCode::INVALID_ARGUMENT, "is in the future"},
      {"no purpose", "police-agency", [](auto& r) { r.mutable_events(0)->clear_purpose(); },
       grpc::StatusCode::INVALID_ARGUMENT, "purpose is required"},
      {"no lawful basis", "police-agency",
       [](auto& r) { r.mutable_events(0)->clear_lawful_basis(); },
       grpc::StatusCode::INVALID_ARGUMENT, "lawful_basis is required"},
      {"hub-stamped position", "police-agency",
       [](auto& r) { r.mutable_events(0)->set_global_position(7); },
       grpc::StatusCode::INVALID_ARGUMENT, "which the hub stamps"},
      {"hub-stamped time", "police-agency",
       [](auto& r) { r.mutable_events(0)->mutable_recorded_time()->set_seconds(1); },
       grpc::StatusCode::INVALID_ARGUMENT, "which the hub stamps"},
      {"other case in envelope", "police-agency",
       [](auto& r) { r.mutable_events(0)->set_case_id("C-9"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "but the request is for case C-1"},
      {"too many events", "police-agency",
       [](auto& r) {
         for (uint64_t i = 0; i < 256; ++i) *r.add_events() = Envelope(1000 + i);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "257 events; the limit is 256"},
      {"oversized free text", "police-agency",
       [](auto& r) {
         r.mutable_events(0)->mutable_disruption_recorded()->set_conditions(
             std::string(70000, 'x'));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "conditions is 70000 bytes; the limit is 8192"},
      {"oversized event, every field within its limit", "police-agency",
       [](auto& r) {
         r.mutable_events(0)->clear_disruption_recorded();
         r.mutable_events(0)->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
         for (int i = 0; i < 9; ++i) {
           r.mutable_events(0)->mutable_intervention_plan_agreed()->add_disruption_goals(
               std::string(8000, 'x'));
         }
       },
       grpc::StatusCode::INVALID_ARGUMENT, "bytes; the limit is 65536"},
      {"oversized message", "police-agency",
       [](auto& r) {
         r.mutable_events(0)->mutable_disruption_recorded()->set_conditions(
             std::string(20 << 20, 'x'));
       },
       grpc::StatusCode::RESOURCE_EXHAUSTED, ""},
  };
  for (const BadPublish& c : cases) {
    hub::v1::PublishRequest request = Request("C-1", {1});
    c.mutate(request);
    grpc::Status status = Publish(c.as, request);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
  }

  // A deadline that has already passed.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
  hub::v1::PublishResponse response;
  EXPECT_EQ(Stub("police-agency")->Publish(&context, Request("C-1", {1}), &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);

  EXPECT_EQ(ReadAll("C-1").size(), 1u) << "a refused publish wrote something";
  // And the first valid publish comes next in the police's view.
  const uint64_t end = ViewEnd(pki_, hub_->address(), "police-agency");
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1})).ok());
  EXPECT_EQ(ViewEnd(pki_, hub_->address(), "police-agency"), end + 1);
}

// Reads a subscription until `count` events arrived (or the stream ends),
// appending their positions; returns whether a caught_up marker was seen.
bool ReadEvents(grpc::ClientReader<hub::v1::SubscribeResponse>* stream, size_t count,
                std::vector<uint64_t>* positions) {
  bool caught_up = false;
  hub::v1::SubscribeResponse item;
  while (positions->size() < count && stream->Read(&item)) {
    if (item.has_caught_up()) caught_up = true;
    if (item.has_event()) positions->push_back(item.event().global_position());
  }
  return caught_up;
}

TEST_F(EventServiceTest, ASubscriberCatchesUpThenFollowsLiveWithoutGapsOrDuplicates) {
  constexpr uint64_t kBacklog = 3000;
  for (uint64_t batch = 0; batch < kBacklog / 100; ++batch) {
    std::vector<uint64_t> ids;
    for (uint64_t i = 0; i < 100; ++i) ids.push_back(batch * 100 + i + 1);
    ASSERT_TRUE(Publish("police-agency", Request(absl::StrCat("C-", batch % 7), ids)).ok());
  }
  auto stub = Stub("police-agency");
  grpc::ClientContext context;
  // A lost event must fail the test, not hang it.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  // The police's view: the referrals it sees, then the backlog.
  const uint64_t after_backlog = ViewEnd(pki_, hub_->address(), "police-agency");
  const uint64_t first = after_backlog - kBacklog + 1;
  hub::v1::SubscribeRequest after_referrals;
  after_referrals.set_after_position(first - 1);
  auto stream = stub->Subscribe(&context, after_referrals);
  std::vector<uint64_t> positions;
  ReadEvents(stream.get(), kBacklog, &positions);
  ASSERT_EQ(positions.size(), kBacklog);
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(stream->Read(&item));
  EXPECT_EQ(item.caught_up().position(), after_backlog);

  // Two agencies publish concurrently while the subscriber follows.
  constexpr uint64_t kLivePerAgency = 150;
  std::vector<std::thread> publishers;
  for (const auto& [as, base] :
       {std::pair<std::string, uint64_t>{"police-agency", 100000}, {"probation-agency", 200000}}) {
    publishers.emplace_back([this, as = as, base = base] {
      for (uint64_t i = 0; i < kLivePerAgency; ++i) {
        EXPECT_TRUE(Publish(as, Request(absl::StrCat("C-live-", i % 3), {base + i})).ok());
      }
    });
  }
  ReadEvents(stream.get(), kBacklog + 2 * kLivePerAgency, &positions);
  for (std::thread& publisher : publishers) publisher.join();
  ASSERT_EQ(positions.size(), kBacklog + 2 * kLivePerAgency);
  for (size_t i = 0; i < positions.size(); ++i) {
    ASSERT_EQ(positions[i], i + first) << "gap or duplicate at index " << i;
  }
  context.TryCancel();

  // Reconnecting after the 3,100th resumes exactly at the 3,101st.
  const uint64_t last = first + kBacklog + 2 * kLivePerAgency;
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {999999})).ok());
  grpc::ClientContext resumed_context;
  hub::v1::SubscribeRequest resume;
  resume.set_after_position(first + 3099);
  auto resumed = stub->Subscribe(&resumed_context, resume);
  std::vector<uint64_t> rest;
  ReadEvents(resumed.get(), last - (first + 3099), &rest);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front(), first + 3100);
  EXPECT_EQ(rest.back(), last);
  resumed_context.TryCancel();
}

// A position names an event of the reader's own view: one it was never
// given (beyond its view, of a generation that never was) is refused rather
// than read as some other place.
TEST_F(EventServiceTest, APositionTheReaderWasNeverGivenIsRefused) {
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1})).ok());
  const uint64_t end = ViewEnd(pki_, hub_->address(), "police-agency");
  for (const uint64_t never_given : {end + 5, uint64_t{7} * 1'000'000'000'000 + 1, uint64_t{42}}) {
    grpc::ClientContext context;
    hub::v1::SubscribeRequest request;
    request.set_after_position(never_given);
    auto stream = Stub("police-agency")->Subscribe(&context, request);
    hub::v1::SubscribeResponse item;
    EXPECT_FALSE(stream->Read(&item)) << never_given;
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << never_given;
    EXPECT_THAT(status.error_message(), HasSubstr("is not one the hub gave you"));
  }
}

TEST_F(EventServiceTest, SubscriptionsFilterByCaseAndEventType) {
  const uint64_t start = ViewEnd(pki_, hub_->address(), "police-agency");
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1, 2})).ok());
  ASSERT_TRUE(Publish("police-agency", Request("C-2", {4})).ok());
  hub::v1::PublishRequest other = Request("C-2", {3});
  other.mutable_events(0)->mutable_case_closed()->set_reason(hub::v1::RISK_REDUCED);
  other.mutable_events(0)->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
  ASSERT_TRUE(Publish("drive-agency", other).ok());

  auto stub = Stub("police-agency");
  for (const auto& [request, expected] :
       std::vector<std::pair<hub::v1::SubscribeRequest, std::vector<uint64_t>>>{
           {[start] {
              hub::v1::SubscribeRequest r;
              r.set_case_id("C-2");
              r.set_after_position(start);
              return r;
            }(),
            {start + 3, start + 4}},
           {[] {
              hub::v1::SubscribeRequest r;
              r.add_event_types("case_closed");
              return r;
            }(),
            {start + 4}}}) {
    grpc::ClientContext context;
    auto stream = stub->Subscribe(&context, request);
    std::vector<uint64_t> positions;
    hub::v1::SubscribeResponse item;
    while (stream->Read(&item) && !item.has_caught_up()) {
      positions.push_back(item.event().global_position());
    }
    EXPECT_EQ(positions, expected);
    context.TryCancel();
  }

  grpc::ClientContext context;
  hub::v1::SubscribeRequest bad;
  bad.add_event_types("refuge_address");
  auto stream = stub->Subscribe(&context, bad);
  hub::v1::SubscribeResponse item;
  EXPECT_FALSE(stream->Read(&item));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("\"refuge_address\""));
}

// Subscribe takes its request as bytes (it streams stored bytes back): bytes
// that are not a SubscribeRequest are refused, not read as some default.
TEST_F(EventServiceTest, ASubscribeRequestThatIsNotOneIsRefused) {
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1})).ok());
  grpc::GenericStub generic(pki_.Channel(hub_->address(), "police-agency"));
  grpc::CompletionQueue queue;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      generic.PrepareCall(&context, "/hub.v1.EventService/Subscribe", &queue);
  auto step = [&queue](auto start) {
    void* tag = nullptr;
    bool ok = false;
    start(&ok);
    EXPECT_TRUE(queue.Next(&tag, &ok));
    return ok;
  };
  ASSERT_TRUE(step([&](void* tag) { call->StartCall(tag); }));
  grpc::Slice garbage(std::string("\xff\xff\xff", 3));
  grpc::ByteBuffer request(&garbage, 1);
  step([&](void* tag) { call->WriteLast(request, grpc::WriteOptions(), tag); });
  grpc::ByteBuffer reply;
  EXPECT_FALSE(step([&](void* tag) { call->Read(&reply, tag); }));
  grpc::Status status;
  ASSERT_TRUE(step([&](void* tag) { call->Finish(&status, tag); }));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("SubscribeRequest"));
}

TEST_F(EventServiceTest, ShutdownEndsSubscriptionsCleanlyAndExitsZero) {
  const uint64_t start = ViewEnd(pki_, hub_->address(), "police-agency");
  ASSERT_TRUE(Publish("police-agency", Request("C-1", {1})).ok());
  grpc::ClientContext context;
  hub::v1::SubscribeRequest after_referrals;
  after_referrals.set_after_position(start);
  auto stream = Stub("police-agency")->Subscribe(&context, after_referrals);
  std::vector<uint64_t> positions;
  ReadEvents(stream.get(), 1, &positions);
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(stream->Read(&item));
  ASSERT_TRUE(item.has_caught_up());

  EXPECT_EQ(hub_->Stop(), 0);
  EXPECT_FALSE(stream->Read(&item));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("resubscribe with after_position"));
  EXPECT_THAT(hub_->Logs(), HasSubstr("msg=stopped"));
}

// The README's Python example, with stubs generated by Debian's protoc and
// grpc_python_plugin, run by Debian's python3 against this hub.
TEST_F(EventServiceTest, APythonClientPublishesThroughTheContract) {
  const std::string stubs = dir_.Sub("python-stubs");
  const std::string source = HUB_SOURCE_DIR;
  ASSERT_EQ(std::system(absl::StrCat(
                            "mkdir -p ", stubs, " && ", PROTOC_PATH, " -I ", source,
                            "/proto --python_out=", stubs, " --grpc_python_out=", stubs,
                            " --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin ", source,
                            "/proto/hub/v1/options.proto ", source, "/proto/hub/v1/events.proto ",
                            source, "/proto/hub/v1/event_service.proto ", source,
                            "/proto/google/rpc/status.proto ", source,
                            "/proto/google/rpc/error_details.proto")
                            .c_str()),
            0);
  const std::string output = dir_.Sub("python.out");
  ASSERT_EQ(std::system(
                absl::StrCat("/usr/bin/python3 ", source, "/docs/examples/publish_event.py ", stubs,
                             " ", hub_->address(), " ", pki_.dir(), " idva-agency C-py > ", output)
                    .c_str()),
            0);
  std::vector<hub::v1::EventEnvelope> events = ReadAll("C-py");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].producing_agency(), "idva");
  EXPECT_EQ(events[1].victim_safety_information().risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  // The example decodes the refusal's google.rpc details.
  EXPECT_THAT(ReadFile(output),
              HasSubstr(absl::StrCat("refused: ALREADY_EXISTS reason=EVENT_ID_REUSED event_id=",
                                     events[1].event_id())));
}

// The Node.js example (@grpc/grpc-js and @grpc/proto-loader from npm, loading
// the contract from proto/) publishes, retries, follows its subscription and
// reads the hub's structured errors.
TEST_F(EventServiceTest, ANodeClientPublishesSubscribesAndReadsErrorDetails) {
  const std::string source = HUB_SOURCE_DIR;
  ASSERT_EQ(
      access(absl::StrCat(source, "/docs/examples/node/node_modules/@grpc/grpc-js").c_str(), F_OK),
      0)
      << "the Node.js example's packages are not installed: run tests/npm_install.sh";
  // The certificate names localhost; TLS does not send an IP address as the
  // server name.
  const std::string address = absl::StrReplaceAll(hub_->address(), {{"127.0.0.1", "localhost"}});
  const std::string output = dir_.Sub("node.out");
  ASSERT_EQ(
      std::system(absl::StrCat("node ", source, "/docs/examples/node/publish_and_subscribe.js ",
                               source, "/proto ", address, " ", pki_.dir(),
                               " idva-agency C-node > ", output)
                      .c_str()),
      0)
      << ReadFile(output);
  std::vector<hub::v1::EventEnvelope> events = ReadAll("C-node", "idva-agency");
  ASSERT_EQ(events.size(), 2u) << "the retry stored nothing, the refusals nothing";
  const hub::v1::EventEnvelope& published = events[1];
  EXPECT_EQ(published.producing_agency(), "idva");
  const std::string printed = ReadFile(output);
  EXPECT_THAT(printed, HasSubstr("stored in case C-node: already_stored=false"));
  EXPECT_THAT(printed, HasSubstr("retry: already_stored=true"));
  // Delivered with its place in the IDVA's own view, as the IDVA reads it.
  EXPECT_THAT(printed, HasSubstr(absl::StrCat("delivered ", published.event_id(), " at position ",
                                              published.global_position(), ", version ",
                                              published.stream_version(), " of the case")));
  EXPECT_THAT(printed, HasSubstr("refused: PERMISSION_DENIED reason=NO_RECORDING_RULE "
                                 "domain=hub.drive-partnership event_type=disruption_recorded"));
  EXPECT_THAT(printed, HasSubstr("refused: INVALID_ARGUMENT "
                                 "field=events[0].victim_safety_information.risk_change"));
  EXPECT_THAT(printed, HasSubstr("refused: ALREADY_EXISTS reason=EVENT_ID_REUSED"));
}

}  // namespace
}  // namespace hub::testing
