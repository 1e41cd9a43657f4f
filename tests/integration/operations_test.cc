// Operating the hub, with real hubd processes: what health reports while the
// hub starts and rebuilds its views.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"

#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/policy_service.grpc.pb.h"

namespace hub::testing {
namespace {

// grpc.health.v1.Health/Check for the whole server: "SERVING",
// "NOT_SERVING", or the call's error.
std::string HealthOf(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status result) { done.set_value(std::move(result)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return absl::StrCat("error ", status.error_code());
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  // HealthCheckResponse { status = 1 }: SERVING is 1, NOT_SERVING 2.
  if (bytes == std::string("\x08\x01", 2)) return "SERVING";
  if (bytes == std::string("\x08\x02", 2)) return "NOT_SERVING";
  return "unexpected response";
}

class OperationsTest : public ::testing::Test {
 protected:
  void StartHub(bool until_listening = false) {
    auto started =
        HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")), until_listening);
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  // Enough events that building views for them takes a noticeable while.
  void PublishMany(int publishes, int events_each) {
    auto stub = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"));
    for (int p = 0; p < publishes; ++p) {
      hub::v1::PublishRequest request;
      request.set_case_id(absl::StrCat("C-LOAD-", p));
      for (int e = 0; e < events_each; ++e) {
        hub::v1::EventEnvelope* event = request.add_events();
        event->set_event_id(absl::StrCat("10ad0000-0000-4000-8000-", absl::Dec(p, absl::kZeroPad6),
                                         absl::Dec(e, absl::kZeroPad6)));
        event->mutable_occurred_time()->set_seconds(1795000000);
        event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
        event->set_lawful_basis("UK GDPR Art 6(1)(e)");
        event->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
        event->mutable_risk_assessed()->set_dash_yes_count(e % 24);
      }
      grpc::ClientContext context;
      hub::v1::PublishResponse response;
      const grpc::Status status = stub->Publish(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(OperationsTest, HealthIsNotServingWhileTheViewsAreBuiltAndWhileTheyAreRebuilt) {
  StartHub();
  PublishMany(/*publishes=*/160, /*events_each=*/250);  // 40,000 events
  EXPECT_EQ(HealthOf(pki_.Channel(hub_->address(), "operator-admin")), "SERVING");
  ASSERT_EQ(hub_->Stop(), 0);

  // Without its views, hubd rebuilds them from the log on start: it listens
  // at once, says NOT_SERVING, and refuses reads until they are built.
  std::filesystem::remove_all(dir_.Sub("data") + "/views");
  StartHub(/*until_listening=*/true);
  auto channel = pki_.Channel(hub_->address(), "operator-admin");
  EXPECT_EQ(HealthOf(channel), "NOT_SERVING");
  {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-LOAD-1");
    hub::v1::ReadCaseResponse response;
    const grpc::Status status =
        hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
            ->ReadCase(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  ASSERT_TRUE(hub_->WaitForLog("msg=\"hubd ready\"", absl::Seconds(120))) << hub_->Logs();
  EXPECT_EQ(HealthOf(channel), "SERVING");

  // A new protocol: the views are rebuilt while the old ones serve, and
  // health says NOT_SERVING until the new ones are in force.
  std::ifstream file(ExampleProtocolPath());
  std::stringstream text;
  text << file.rdbuf();
  std::string protocol = text.str();
  protocol.replace(protocol.find("version: \"2026-11-1\""), 20, "version: \"2026-12-1\"");
  std::atomic<bool> applied{false};
  std::thread apply([&] {
    grpc::ClientContext context;
    hub::v1::ApplyProtocolRequest request;
    request.set_protocol_text(protocol);
    hub::v1::ApplyProtocolResponse response;
    EXPECT_TRUE(
        hub::v1::PolicyService::NewStub(channel)->ApplyProtocol(&context, request, &response).ok());
    applied = true;
  });
  ASSERT_TRUE(hub_->WaitForLog("rebuilding views for a new sharing protocol", absl::Seconds(30)));
  const std::string during = HealthOf(channel);
  const bool still_applying = !applied;
  apply.join();
  if (still_applying) {
    EXPECT_EQ(during, "NOT_SERVING");
  }
  EXPECT_TRUE(still_applying) << "the rebuild finished before health could be asked; "
                                 "publish more events in this test";
  EXPECT_EQ(HealthOf(channel), "SERVING");
}

}  // namespace
}  // namespace hub::testing
