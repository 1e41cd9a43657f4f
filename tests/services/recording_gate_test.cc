// The recording gate against a real event log on disk: a publish is
// appended at exactly the version it was judged at, so nothing is stored
// against a history it was not judged on, and a failed publish makes the
// case's history be reloaded before anything else is judged on it.
#include "services/recording_gate.h"

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/sharing_protocol.h"
#include "services/envelope.h"
#include "tests/testing/example_protocol.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::services {
namespace {

using ::hub::testing::IsOk;
using ::hub::testing::StatusIs;

constexpr char kPrefix[] = "spiffe://drive.example-county.gov.uk/agency/";

class RecordingGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    protocol_ = ::hub::testing::LoadExampleProtocol();
    ASSERT_FALSE(HasFailure());
    auto log = storage::EventLog::Open(dir_.Sub("events"), storage::EventLogOptions());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    gate_ = std::make_unique<RecordingGate>(
        log_.get(), std::make_shared<const auth::RecordingPolicy>(protocol_));
  }

  hub::v1::Principal Principal(const std::string& who) {
    for (const hub::v1::Principal& principal : protocol_.principals()) {
      if (principal.identity() == absl::StrCat(kPrefix, who)) return principal;
    }
    ADD_FAILURE() << who;
    return {};
  }

  // A publish from `who` prepared as the service prepares it.
  struct Prepared {
    storage::AppendRequest append;
    std::vector<hub::v1::EventEnvelope> envelopes;
    hub::v1::Principal principal;
  };
  Prepared Prepare(const std::string& who, const std::function<void(hub::v1::EventEnvelope*)>& fill,
                   hub::v1::Purpose purpose = hub::v1::PURPOSE_CASE_MANAGEMENT,
                   const std::string& case_id = "C-1", const std::string& event_id = "",
                   int events = 1) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    for (int i = 0; i < events; ++i) {
      hub::v1::EventEnvelope* event = request.add_events();
      event->set_event_id(event_id.empty()
                              ? absl::StrFormat("9a7e0000-0000-4000-8000-%012x", ++next_id_)
                              : event_id);
      event->mutable_occurred_time()->set_seconds(1795000000);
      event->set_purpose(purpose);
      event->set_lawful_basis("UK GDPR Art 6(1)(e)");
      fill(event);
    }
    Prepared prepared;
    prepared.principal = Principal(who);
    hub::v1::LimitsConfig limits;
    limits.set_max_event_bytes(65536);
    limits.set_max_events_per_append(256);
    auto append = PrepareAppend(prepared.principal, request, absl::FromUnixSeconds(1795000100),
                                limits, &prepared.envelopes);
    EXPECT_TRUE(append.ok()) << append.status();
    prepared.append = *std::move(append);
    return prepared;
  }

  absl::StatusOr<RecordingGate::Admission> Admit(Prepared* prepared) {
    return gate_->Admit(prepared->principal, prepared->envelopes, &prepared->append);
  }

  static void Referral(hub::v1::EventEnvelope* e) {
    e->mutable_referral_received()->set_route(hub::v1::ROUTE_MARAC);
  }
  static void Task(hub::v1::EventEnvelope* e) {
    e->mutable_action_tasked()->set_action_id("A-1");
    e->mutable_action_tasked()->set_owner_agency("housing");
  }
  static void Complete(hub::v1::EventEnvelope* e) {
    e->mutable_action_completed()->set_action_id("A-1");
  }

  ::hub::testing::TempDir dir_;
  hub::v1::SharingProtocol protocol_;
  std::unique_ptr<storage::EventLog> log_;
  std::unique_ptr<RecordingGate> gate_;
  uint64_t next_id_ = 0;
};

TEST_F(RecordingGateTest, AnAdmittedPublishIsAppendedAtTheVersionItWasJudgedAt) {
  Prepared referral = Prepare("police/agency", Referral);
  auto admitted = Admit(&referral);
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  EXPECT_EQ(referral.append.expected_version, 0u);
  EXPECT_EQ(admitted->rules, std::vector<std::string>{"referrals"});
  ASSERT_TRUE(log_->Append(referral.append).ok());
  gate_->Finished("C-1", *admitted, /*stored=*/true);

  // Judged on the history in memory, including a publish still in flight.
  Prepared task = Prepare("dapp/coordinator", Task, hub::v1::PURPOSE_PANEL);
  auto task_admitted = Admit(&task);
  ASSERT_TRUE(task_admitted.ok()) << task_admitted.status();
  EXPECT_EQ(task.append.expected_version, 1u);
  Prepared complete = Prepare("housing/agency", Complete);
  auto complete_admitted = Admit(&complete);
  ASSERT_TRUE(complete_admitted.ok()) << complete_admitted.status();
  EXPECT_EQ(complete.append.expected_version, 2u);

  // If something else reaches the case first, the judged publish is refused
  // by the log: it is never stored on a history it was not judged on.
  storage::AppendRequest intruder;
  intruder.case_id = "C-1";
  intruder.events.push_back({"9a7e0000-0000-4000-8000-0000000000ff", "not judged"});
  ASSERT_TRUE(log_->Append(intruder).ok());
  EXPECT_TRUE(storage::IsVersionConflict(log_->Append(task.append).status()));
  gate_->Finished("C-1", *task_admitted, /*stored=*/false);
}

TEST_F(RecordingGateTest, AFailedPublishMakesTheCaseReloadOnceNothingIsInFlight) {
  Prepared referral = Prepare("police/agency", Referral);
  auto admitted = Admit(&referral);
  ASSERT_TRUE(admitted.ok());
  ASSERT_TRUE(log_->Append(referral.append).ok());
  gate_->Finished("C-1", *admitted, true);

  // The action is tasked and, on the strength of it, completed; then the
  // tasking fails to be stored (a full disk, say).
  Prepared task = Prepare("dapp/coordinator", Task, hub::v1::PURPOSE_PANEL);
  auto task_admitted = Admit(&task);
  ASSERT_TRUE(task_admitted.ok());
  Prepared complete = Prepare("housing/agency", Complete);
  auto complete_admitted = Admit(&complete);
  ASSERT_TRUE(complete_admitted.ok());
  gate_->Finished("C-1", *task_admitted, /*stored=*/false);

  // While the completion is in flight, the case's history is unknown.
  Prepared other = Prepare(
      "police/agency",
      [](hub::v1::EventEnvelope* e) {
        e->mutable_disruption_recorded()->set_kind(hub::v1::ARREST);
      },
      hub::v1::PURPOSE_DISRUPTION);
  EXPECT_THAT(Admit(&other).status(), StatusIs(absl::StatusCode::kAborted));
  // The completion was judged on the failed tasking: the log refuses it.
  EXPECT_TRUE(storage::IsVersionConflict(log_->Append(complete.append).status()));
  gate_->Finished("C-1", *complete_admitted, /*stored=*/false);

  // Reloaded from the log: the action was never tasked.
  Prepared again = Prepare("housing/agency", Complete);
  EXPECT_THAT(Admit(&again).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Admit(&other).status(), IsOk());
}

TEST_F(RecordingGateTest, PublishesReachTheLogInTheOrderTheyWereJudged) {
  Prepared referral = Prepare("police/agency", Referral);
  auto admitted = Admit(&referral);
  ASSERT_TRUE(admitted.ok());
  Prepared task = Prepare("dapp/coordinator", Task, hub::v1::PURPOSE_PANEL);
  auto task_admitted = Admit(&task);
  ASSERT_TRUE(task_admitted.ok());
  Prepared complete = Prepare("housing/agency", Complete);
  auto complete_admitted = Admit(&complete);
  ASSERT_TRUE(complete_admitted.ok());

  // The caller threads race: the completion and the tasking arrive at
  // Submit() before the referral they were judged after.
  std::vector<std::string> order;
  auto append = [&](Prepared* prepared, const RecordingGate::Admission& admission,
                    const std::string& name) {
    return [&, prepared, admission, name] {
      order.push_back(name);
      const bool stored = log_->Append(prepared->append).ok();
      gate_->Finished("C-1", admission, stored);
    };
  };
  gate_->Submit("C-1", *complete_admitted, append(&complete, *complete_admitted, "complete"));
  gate_->Submit("C-1", *task_admitted, append(&task, *task_admitted, "task"));
  EXPECT_TRUE(order.empty()) << "a publish reached the log before the one it was judged after";
  gate_->Submit("C-1", *admitted, append(&referral, *admitted, "referral"));
  EXPECT_EQ(order, (std::vector<std::string>{"referral", "task", "complete"}));
  auto version = log_->CaseVersion("C-1");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 3u) << "every publish judged in order is stored";
}

TEST_F(RecordingGateTest, ARetryIsPassedToTheLogAndAMalformedRequestIsRefusedFirst) {
  Prepared referral = Prepare("police/agency", Referral);
  auto admitted = Admit(&referral);
  ASSERT_TRUE(admitted.ok());
  ASSERT_TRUE(log_->Append(referral.append).ok());
  gate_->Finished("C-1", *admitted, true);

  // The same event id again: not judged again (a second referral would be
  // ALREADY_EXISTS), the log answers it as a retry.
  Prepared retry = referral;
  retry.append.expected_version.reset();
  auto retried = Admit(&retry);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_FALSE(retried->tracked);
  auto stored = log_->Append(retry.append);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->already_stored);

  // Other content under the same id is no retry, also once the case's
  // history comes from the log (a new gate, as after a restart).
  gate_ = std::make_unique<RecordingGate>(log_.get(),
                                          std::make_shared<const auth::RecordingPolicy>(protocol_));
  Prepared changed = referral;
  changed.envelopes[0].mutable_referral_received()->set_route(hub::v1::ROUTE_DAPP);
  EXPECT_THAT(Admit(&changed).status(), StatusIs(absl::StatusCode::kAlreadyExists));
  Prepared same = referral;
  same.envelopes[0].mutable_recorded_time()->set_seconds(1795009999);  // Stamped anew.
  EXPECT_THAT(Admit(&same).status(), IsOk());

  Prepared bad = Prepare("police/agency", Referral);
  bad.append.case_id = "C 1/../x";
  EXPECT_THAT(Admit(&bad).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The log does not hold a publish in flight yet: its resend is still told
// from a new event, and a correction of it is judged against it.
TEST_F(RecordingGateTest, AResendOrCorrectionOfAPublishInFlightIsJudgedOnIt) {
  Prepared referral = Prepare("police/agency", Referral);
  auto admitted = Admit(&referral);
  ASSERT_TRUE(admitted.ok()) << admitted.status();

  Prepared resend = referral;
  resend.append.expected_version.reset();
  auto resent = Admit(&resend);
  ASSERT_TRUE(resent.ok()) << resent.status();
  EXPECT_FALSE(resent->tracked) << "a resend is the log's to answer, not judged again";
  Prepared changed = referral;
  changed.envelopes[0].mutable_referral_received()->set_route(hub::v1::ROUTE_DAPP);
  EXPECT_THAT(Admit(&changed).status(), StatusIs(absl::StatusCode::kAlreadyExists));

  // A correction of the referral's route, to `route`.
  const auto correct_route = [id = referral.envelopes[0].event_id()](hub::v1::ReferralRoute route) {
    return [id, route](hub::v1::EventEnvelope* e) {
      hub::v1::RecordCorrected* corrected = e->mutable_record_corrected();
      corrected->set_corrected_event_id(id);
      corrected->add_fields("route");
      corrected->set_reason("the route was recorded wrongly");
      corrected->mutable_referral_received()->set_route(route);
    };
  };
  Prepared correction = Prepare("police/agency", correct_route(hub::v1::ROUTE_MATAC));
  auto corrected = Admit(&correction);
  ASSERT_TRUE(corrected.ok()) << corrected.status();
  EXPECT_EQ(correction.append.expected_version, 1u);

  ASSERT_TRUE(log_->Append(referral.append).ok());
  gate_->Finished("C-1", *admitted, /*stored=*/true);
  ASSERT_TRUE(log_->Append(correction.append).ok());
  gate_->Finished("C-1", *corrected, /*stored=*/true);
  // Stored now, and looked up in the log.
  EXPECT_THAT(Admit(&changed).status(), StatusIs(absl::StatusCode::kAlreadyExists));
  // Another agency's correction of it: judged against the stored referral.
  Prepared elsewhere = Prepare("probation/agency", correct_route(hub::v1::ROUTE_MARAC));
  EXPECT_THAT(Admit(&elsewhere).status(), StatusIs(absl::StatusCode::kPermissionDenied));
}

// A case's history holds what constrains its next event, not its events:
// a case of 300 events costs what a case of 3 does, however they came.
TEST_F(RecordingGateTest, AHistoryDoesNotGrowWithItsEvents) {
  Prepared referral = Prepare("police/agency", Referral);
  auto admitted = Admit(&referral);
  ASSERT_TRUE(admitted.ok());
  ASSERT_TRUE(log_->Append(referral.append).ok());
  gate_->Finished("C-1", *admitted, /*stored=*/true);
  const size_t small = gate_->CachedBytes();
  for (int i = 0; i < 300; ++i) {
    Prepared risk = Prepare("police/agency", [](hub::v1::EventEnvelope* e) {
      e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
    });
    auto judged = Admit(&risk);
    ASSERT_TRUE(judged.ok()) << judged.status();
    ASSERT_TRUE(log_->Append(risk.append).ok());
    gate_->Finished("C-1", *judged, /*stored=*/true);
  }
  EXPECT_LE(gate_->CachedBytes(), small + 512);
  Prepared batch = Prepare(
      "police/agency",
      [](hub::v1::EventEnvelope* e) {
        e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_MEDIUM);
      },
      hub::v1::PURPOSE_CASE_MANAGEMENT, "C-1", "", 200);
  auto batch_admitted = Admit(&batch);
  ASSERT_TRUE(batch_admitted.ok()) << batch_admitted.status();
  EXPECT_GT(gate_->CachedBytes(), small + 200 * 100) << "200 events in flight are counted";
  ASSERT_TRUE(log_->Append(batch.append).ok());
  gate_->Finished("C-1", *batch_admitted, /*stored=*/true);
  EXPECT_LE(gate_->CachedBytes(), small + 512);
  // Folded again from the log, it still tells a resend from a new event.
  gate_ = std::make_unique<RecordingGate>(log_.get(),
                                          std::make_shared<const auth::RecordingPolicy>(protocol_));
  Prepared resend = referral;
  resend.append.expected_version.reset();
  auto resent = Admit(&resend);
  ASSERT_TRUE(resent.ok()) << resent.status();
  EXPECT_FALSE(resent->tracked);
  EXPECT_LE(gate_->CachedBytes(), small + 512);
}

TEST_F(RecordingGateTest, HistoriesStayWithinTheirMemoryBudgetAndForgottenOnesStillJudge) {
  // A budget of a few cases' histories, then 40 cases, each referred and
  // with action A-1 tasked.
  constexpr size_t kBudget = 16 << 10;
  gate_ = std::make_unique<RecordingGate>(
      log_.get(), std::make_shared<const auth::RecordingPolicy>(protocol_), nullptr, kBudget);
  std::string first_referral_id;
  for (int k = 0; k < 40; ++k) {
    const std::string case_id = absl::StrCat("C-", k);
    for (auto [who, fill, purpose] :
         {std::tuple{"police/agency", &Referral, hub::v1::PURPOSE_CASE_MANAGEMENT},
          std::tuple{"dapp/coordinator", &Task, hub::v1::PURPOSE_PANEL}}) {
      Prepared publish = Prepare(who, fill, purpose, case_id);
      if (first_referral_id.empty()) first_referral_id = publish.envelopes[0].event_id();
      auto admitted = Admit(&publish);
      ASSERT_TRUE(admitted.ok()) << admitted.status();
      ASSERT_TRUE(log_->Append(publish.append).ok());
      gate_->Finished(case_id, *admitted, /*stored=*/true);
    }
    EXPECT_LE(gate_->CachedBytes(), kBudget) << "after case " << k;
  }
  EXPECT_GT(gate_->CachedBytes(), 0u);

  // C-0's history was forgotten long ago and is folded from the log again:
  // it still knows the action, the event ids and who owns what.
  Prepared again = Prepare("dapp/coordinator", Task, hub::v1::PURPOSE_PANEL, "C-0");
  EXPECT_THAT(Admit(&again), StatusIs(absl::StatusCode::kAlreadyExists));
  Prepared reused = Prepare(
      "police/agency",
      [](hub::v1::EventEnvelope* e) {
        e->mutable_referral_received()->set_route(hub::v1::ROUTE_MATAC);
      },
      hub::v1::PURPOSE_CASE_MANAGEMENT, "C-0", first_referral_id);
  EXPECT_THAT(Admit(&reused), StatusIs(absl::StatusCode::kAlreadyExists));
  Prepared not_the_owner =
      Prepare("police/agency", Complete, hub::v1::PURPOSE_CASE_MANAGEMENT, "C-0");
  EXPECT_THAT(Admit(&not_the_owner), StatusIs(absl::StatusCode::kPermissionDenied));
  // Health is not involved in C-0: it learns nothing of the case, in the
  // words a case that does not exist gets.
  Prepared uninvolved = Prepare("health/agency", Complete, hub::v1::PURPOSE_CASE_MANAGEMENT, "C-0");
  const absl::Status not_known = Admit(&uninvolved).status();
  EXPECT_THAT(not_known, StatusIs(absl::StatusCode::kNotFound));
  Prepared nowhere =
      Prepare("health/agency", Complete, hub::v1::PURPOSE_CASE_MANAGEMENT, "C-NOWHERE");
  const absl::Status no_case = Admit(&nowhere).status();
  EXPECT_EQ(absl::StrReplaceAll(no_case.message(), {{"C-NOWHERE", "C-0"}}), not_known.message());
  Prepared complete = Prepare("housing/agency", Complete, hub::v1::PURPOSE_CASE_MANAGEMENT, "C-0");
  auto completed = Admit(&complete);
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(complete.append.expected_version, 2u);
  gate_->Finished("C-0", *completed, /*stored=*/false);
  EXPECT_LE(gate_->CachedBytes(), kBudget);
}

}  // namespace
}  // namespace hub::services
