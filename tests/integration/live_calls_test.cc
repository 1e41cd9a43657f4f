// What reaches calls that are already running, over real mutual TLS: a
// certificate revoked or expired while its subscription streams ends the
// stream (audited), one principal cannot take every subscription, and a
// case-filtered subscription does not depend on what lies between the
// case's events.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
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

constexpr char kPrefix[] = "spiffe://drive.example-county.gov.uk/agency/";

// A subscription with its own channel, as an agency system holds one.
struct Subscription {
  std::unique_ptr<hub::v1::EventService::Stub> stub;
  std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
  std::unique_ptr<grpc::ClientReader<hub::v1::SubscribeResponse>> stream;

  // Reads until caught_up (true) or the stream ends (false).
  bool ReadUntilCaughtUp(std::vector<uint64_t>* positions = nullptr) {
    hub::v1::SubscribeResponse item;
    while (stream->Read(&item)) {
      if (item.has_caught_up()) return true;
      if (positions != nullptr && item.has_event()) {
        positions->push_back(item.event().global_position());
      }
    }
    return false;
  }
};

class LiveCallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(
        dir_.path(),
        HubConfigText(pki_, dir_.Sub("data"), "limits { max_subscriptions_per_principal: 2 }\n"));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-2026-00800", "C-2026-00801"}).ok());
  }

  Subscription Subscribe(const std::string& as, const std::string& case_id = "") {
    Subscription subscription;
    subscription.stub = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as));
    subscription.context->set_deadline(std::chrono::system_clock::now() +
                                       std::chrono::seconds(120));
    hub::v1::SubscribeRequest request;
    request.set_case_id(case_id);
    subscription.stream = subscription.stub->Subscribe(subscription.context.get(), request);
    return subscription;
  }

  grpc::Status PublishRisk(const std::string& case_id, const std::vector<uint64_t>& ids) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    for (uint64_t id : ids) {
      hub::v1::EventEnvelope* event = request.add_events();
      event->set_event_id(absl::StrFormat("11ca1000-0000-4000-8000-%012x", id));
      event->mutable_occurred_time()->set_seconds(1795000000);
      event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
      event->set_lawful_basis("UK GDPR Art 6(1)(e)");
      event->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    hub::v1::PublishResponse response;
    return hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
        ->Publish(&context, request, &response);
  }

  std::vector<hub::v1::AuditRecord> RefusedCallers() {
    hub::v1::QueryAuditRequest query;
    query.set_action(hub::v1::AUDIT_AUTHENTICATE);
    grpc::ClientContext context;
    hub::v1::QueryAuditResponse response;
    EXPECT_TRUE(hub::v1::AuditService::NewStub(pki_.Channel(hub_->address(), "governance-auditor"))
                    ->QueryAudit(&context, query, &response)
                    .ok());
    std::vector<hub::v1::AuditRecord> records;
    for (const auto& entry : response.entries()) records.push_back(entry.record());
    return records;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(LiveCallsTest, RevokingACertificateEndsItsOpenStream) {
  // A lost laptop running `hubctl tail`: its stream is open and current.
  Subscription lost = Subscribe("housing-agency");
  ASSERT_TRUE(lost.ReadUntilCaughtUp());
  Subscription other = Subscribe("probation-agency");
  ASSERT_TRUE(other.ReadUntilCaughtUp());

  ASSERT_EQ(pki_.Run("revoke", {"housing-agency"}), 0);
  const absl::Time revoked = absl::Now();
  // The CRL is re-read every second here, and every stream rechecks its
  // caller every second: the stream ends within a few seconds, not never.
  EXPECT_FALSE(lost.ReadUntilCaughtUp());
  const grpc::Status ended = lost.stream->Finish();
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(10));
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended.error_message(), HasSubstr("revoked"));
  const auto revoked_info = DetailOf<google::rpc::ErrorInfo>(ended);
  ASSERT_TRUE(revoked_info.has_value());
  EXPECT_EQ(revoked_info->reason(), "CERTIFICATE_REVOKED");

  // Everyone else's stream goes on.
  ASSERT_TRUE(PublishRisk("C-2026-00800", {1}).ok());
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(other.stream->Read(&item));
  EXPECT_TRUE(item.has_event());

  bool audited = false;
  for (const hub::v1::AuditRecord& record : RefusedCallers()) {
    audited |= record.principal_identity() == std::string(kPrefix) + "housing/agency" &&
               record.decision() == hub::v1::AUDIT_DENIED &&
               record.reason().find("revoked") != std::string::npos;
  }
  EXPECT_TRUE(audited) << "the ended stream is not in the audit";
  other.context->TryCancel();
}

TEST_F(LiveCallsTest, ACertificateThatExpiresEndsItsOpenStream) {
  const absl::Time now = absl::Now();
  const std::string format = "%Y%m%d%H%M%SZ";
  ASSERT_EQ(pki_.Run("client",
                     {"health", "agency", "--start",
                      absl::FormatTime(format, now - absl::Hours(1), absl::UTCTimeZone()), "--end",
                      absl::FormatTime(format, now + absl::Seconds(6), absl::UTCTimeZone())}),
            0);
  Subscription expiring = Subscribe("health-agency");
  ASSERT_TRUE(expiring.ReadUntilCaughtUp());
  EXPECT_FALSE(expiring.ReadUntilCaughtUp());
  const grpc::Status ended = expiring.stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(ended.error_message(), HasSubstr("expired"));
  const auto expired_info = DetailOf<google::rpc::ErrorInfo>(ended);
  ASSERT_TRUE(expired_info.has_value());
  EXPECT_EQ(expired_info->reason(), "CERTIFICATE_EXPIRED");
  EXPECT_LT(absl::Now() - now, absl::Seconds(15));
}

TEST_F(LiveCallsTest, AnIdentityRemovedFromTheProtocolLosesItsOpenStream) {
  Subscription removed = Subscribe("health-agency");
  ASSERT_TRUE(removed.ReadUntilCaughtUp());
  Subscription other = Subscribe("probation-agency");
  ASSERT_TRUE(other.ReadUntilCaughtUp());

  // The partnership's new protocol no longer names the health service's
  // identity (its rules now name a successor the old certificate is not).
  std::string protocol = ReadFile(ExampleProtocolPath());
  protocol =
      absl::StrReplaceAll(protocol, {{"2026-11-1", "2026-11-7"},
                                     {"agency/health/agency\"", "agency/health-trust/agency\""},
                                     {"\"health\"", "\"health-trust\""}});
  grpc::ClientContext context;
  hub::v1::ApplyProtocolRequest request;
  request.set_protocol_text(protocol);
  hub::v1::ApplyProtocolResponse response;
  const grpc::Status applied =
      hub::v1::PolicyService::NewStub(pki_.Channel(hub_->address(), "operator-admin"))
          ->ApplyProtocol(&context, request, &response);
  ASSERT_TRUE(applied.ok()) << applied.error_message();
  const absl::Time changed = absl::Now();

  EXPECT_FALSE(removed.ReadUntilCaughtUp());
  const grpc::Status ended = removed.stream->Finish();
  EXPECT_LT(absl::Now() - changed, absl::Seconds(10));
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::PERMISSION_DENIED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("agency/health/agency"));
  const auto info = DetailOf<google::rpc::ErrorInfo>(ended);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "NOT_A_PRINCIPAL");

  // A principal still in the protocol keeps its stream.
  ASSERT_TRUE(PublishRisk("C-2026-00800", {2}).ok());
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(other.stream->Read(&item));
  EXPECT_TRUE(item.has_event());
  other.context->TryCancel();
}

TEST_F(LiveCallsTest, OnePrincipalCannotTakeEverySubscription) {
  // The police hold their quota of subscriptions and read none of them.
  std::vector<Subscription> stalled;
  for (int i = 0; i < 2; ++i) stalled.push_back(Subscribe("police-agency"));
  hub::v1::SubscribeResponse item;
  for (Subscription& subscription : stalled) ASSERT_TRUE(subscription.stream->Read(&item));
  Subscription refused = Subscribe("police-agency");
  EXPECT_FALSE(refused.stream->Read(&item));
  const grpc::Status status = refused.stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("limits.max_subscriptions_per_principal"));
  const auto quota = DetailOf<google::rpc::QuotaFailure>(status);
  ASSERT_TRUE(quota.has_value());
  EXPECT_EQ(quota->violations(0).subject(), "limits.max_subscriptions_per_principal");
  const auto quota_info = DetailOf<google::rpc::ErrorInfo>(status);
  ASSERT_TRUE(quota_info.has_value());
  EXPECT_EQ(quota_info->reason(), "QUOTA_EXCEEDED");
  EXPECT_EQ(quota_info->metadata().at("setting"), "limits.max_subscriptions_per_principal");
  EXPECT_TRUE(DetailOf<google::rpc::RetryInfo>(status).has_value()) << "when to retry";

  // Another agency still subscribes and receives live.
  Subscription probation = Subscribe("probation-agency");
  ASSERT_TRUE(probation.ReadUntilCaughtUp());
  const absl::Time published = absl::Now();
  ASSERT_TRUE(PublishRisk("C-2026-00800", {2}).ok());
  ASSERT_TRUE(probation.stream->Read(&item));
  EXPECT_TRUE(item.has_event());
  EXPECT_LT(absl::Now() - published, absl::Seconds(2));
  probation.context->TryCancel();
  for (Subscription& subscription : stalled) subscription.context->TryCancel();
}

TEST_F(LiveCallsTest, ACaseFilteredSubscriptionSkipsWhateverLiesBetweenTheCasesEvents) {
  ASSERT_TRUE(PublishRisk("C-2026-00801", {100}).ok());
  // Eighteen thousand events of another case after it: more than one
  // wake-up of a subscriber reads, and more than one scan of the view's
  // index (16,384 deliveries each) passes over.
  for (uint64_t batch = 0; batch < 72; ++batch) {
    std::vector<uint64_t> ids;
    for (uint64_t i = 0; i < 250; ++i) ids.push_back(1000 + batch * 250 + i);
    ASSERT_TRUE(PublishRisk("C-2026-00800", ids).ok());
  }
  ASSERT_TRUE(PublishRisk("C-2026-00801", {101}).ok());

  const absl::Time started = absl::Now();
  Subscription filtered = Subscribe("police-agency", "C-2026-00801");
  std::vector<uint64_t> positions;
  ASSERT_TRUE(filtered.ReadUntilCaughtUp(&positions));
  EXPECT_LT(absl::Now() - started, absl::Seconds(3));
  ASSERT_EQ(positions.size(), 3u) << "the referral and both assessments";
  EXPECT_GT(positions[2], positions[1] + 18000);

  // And it follows the case live.
  ASSERT_TRUE(PublishRisk("C-2026-00801", {102}).ok());
  hub::v1::SubscribeResponse item;
  ASSERT_TRUE(filtered.stream->Read(&item));
  EXPECT_TRUE(item.has_event());
  filtered.context->TryCancel();
}

}  // namespace
}  // namespace hub::testing
