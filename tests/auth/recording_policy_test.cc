// The write side of the example sharing protocol, played as a partner that
// tries to record what it should not: every (principal, event type) pair is
// checked against a table written by hand from what a Drive partnership
// agrees, and every case constraint (created once, owner only, lifecycle)
// against a history folded event by event.
#include "auth/recording_policy.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

#include "auth/sharing_protocol.h"
#include "proto/error_details.h"
#include "tests/testing/example_protocol.h"
#include "tests/testing/status_matchers.h"

namespace hub::auth {
namespace {

using ::hub::testing::IsOk;
using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kPrefix[] = "spiffe://drive.example-county.gov.uk/agency/";

hub::v1::SharingProtocol ExampleProtocol() { return hub::testing::LoadExampleProtocol(); }

// Who may record what, written from the partnership's agreement rather than
// read from the protocol file.
const std::map<std::string, std::set<std::string>>& WhoMayRecord() {
  static const auto* table = new std::map<std::string, std::set<std::string>>{
      {"police/agency",
       {"referral_received", "subject_linked", "risk_assessed", "disruption_recorded",
        "victim_safety_information", "action_updated", "action_completed",
        "disclosure_scheme_decision", "follow_up_checked", "record_corrected"}},
      {"probation/agency",
       {"referral_received", "subject_linked", "risk_assessed", "disruption_recorded",
        "support_referral_made", "action_updated", "action_completed", "record_corrected"}},
      {"childrens-services/agency",
       {"referral_received", "subject_linked", "risk_assessed", "child_safeguarding_information",
        "child_worker_contact", "action_updated", "action_completed", "record_corrected"}},
      {"housing/agency", {"action_updated", "action_completed", "record_corrected"}},
      {"idva/agency",
       {"referral_received", "subject_linked", "risk_assessed", "victim_safety_information",
        "victim_support_referred", "child_worker_contact", "action_updated", "action_completed",
        "record_corrected"}},
      {"drive/agency",
       {"case_allocated", "engagement_recorded", "intervention_plan_agreed", "needs_assessed",
        "support_referral_made", "action_updated", "action_completed", "case_closed",
        "case_reopened", "record_corrected"}},
      {"health/agency", {"action_updated", "action_completed", "record_corrected"}},
      {"dapp/coordinator",
       {"referral_received", "subject_linked", "panel_outcome", "action_tasked", "action_updated",
        "action_completed", "case_closed", "case_reopened", "follow_up_checked",
        "record_corrected"}},
      {"governance/auditor", {}},
      {"evaluation/evaluator", {}},
      {"operator/admin", {}},
  };
  return *table;
}

TEST(RecordingPolicyTest, EveryPrincipalMayRecordExactlyWhatTheAgreementSays) {
  const hub::v1::SharingProtocol protocol = ExampleProtocol();
  const RecordingPolicy policy(protocol);
  ASSERT_EQ(static_cast<size_t>(protocol.principals_size()), WhoMayRecord().size());
  for (const auto& [who, allowed] : WhoMayRecord()) {
    const std::string identity = absl::StrCat(kPrefix, who);
    for (const std::string& type : PublishableEventTypes()) {
      bool any_purpose = false;
      for (int purpose = 1; purpose < hub::v1::Purpose_ARRAYSIZE; ++purpose) {
        any_purpose |=
            policy.MayRecord(identity, type, static_cast<hub::v1::Purpose>(purpose)).allowed;
      }
      EXPECT_EQ(any_purpose, allowed.count(type) > 0) << who << " recording " << type;
    }
    EXPECT_FALSE(
        policy.MayRecord(identity, "protocol_changed", hub::v1::PURPOSE_GOVERNANCE).allowed)
        << who;
  }
  // Purposes narrow too: disruption is not recorded "for evaluation".
  EXPECT_FALSE(policy
                   .MayRecord(absl::StrCat(kPrefix, "police/agency"), "disruption_recorded",
                              hub::v1::PURPOSE_EVALUATION)
                   .allowed);
  const RecordingDecision allowed = policy.MayRecord(
      absl::StrCat(kPrefix, "police/agency"), "disruption_recorded", hub::v1::PURPOSE_DISRUPTION);
  EXPECT_EQ(allowed.rule, "disruption");
  EXPECT_THAT(allowed.authority, HasSubstr("Police and Criminal Evidence Act 1984"));
}

hub::v1::Principal PrincipalOf(const hub::v1::SharingProtocol& protocol, const std::string& who) {
  for (const hub::v1::Principal& principal : protocol.principals()) {
    if (principal.identity() == absl::StrCat(kPrefix, who)) return principal;
  }
  ADD_FAILURE() << "no principal " << who;
  return {};
}

hub::v1::EventEnvelope Event(int id, hub::v1::Purpose purpose) {
  hub::v1::EventEnvelope envelope;
  envelope.set_event_id(absl::StrCat("id-", id));
  envelope.set_purpose(purpose);
  return envelope;
}

// The ErrorInfo reason a client would decode ("" if none), and whether it
// would be told to retry.
std::string ReasonOf(const absl::Status& status, bool* retry = nullptr) {
  const google::rpc::Status rpc = hub::RpcStatusOf(status);
  std::string reason;
  if (retry != nullptr) *retry = false;
  for (const google::protobuf::Any& detail : rpc.details()) {
    google::rpc::ErrorInfo info;
    if (detail.UnpackTo(&info)) reason = info.reason();
    if (retry != nullptr && detail.Is<google::rpc::RetryInfo>()) *retry = true;
  }
  return reason;
}

class CaseConstraintsTest : public ::testing::Test {
 protected:
  // Judges an event from `who`; if accepted, folds it into the case.
  absl::Status Record(const std::string& who, const hub::v1::EventEnvelope& envelope) {
    absl::Status status = policy_.Check(PrincipalOf(protocol_, who), envelope, state_, "C-1", "e");
    if (status.ok()) policy_.Apply(envelope, &state_);
    return status;
  }

  absl::Status Referral(const std::string& who) {
    hub::v1::EventEnvelope e = Event(++next_, hub::v1::PURPOSE_CASE_MANAGEMENT);
    e.mutable_referral_received()->set_route(hub::v1::ROUTE_MARAC);
    return Record(who, e);
  }
  absl::Status Task(const std::string& action, const std::string& owner) {
    hub::v1::EventEnvelope e = Event(++next_, hub::v1::PURPOSE_PANEL);
    e.mutable_action_tasked()->set_action_id(action);
    e.mutable_action_tasked()->set_owner_agency(owner);
    return Record("dapp/coordinator", e);
  }
  absl::Status Complete(const std::string& who, const std::string& action) {
    hub::v1::EventEnvelope e = Event(++next_, hub::v1::PURPOSE_CASE_MANAGEMENT);
    e.mutable_action_completed()->set_action_id(action);
    e.mutable_action_completed()->set_final_status(hub::v1::ACTION_COMPLETED);
    return Record(who, e);
  }
  absl::Status Close(const std::string& who) {
    hub::v1::EventEnvelope e = Event(++next_, hub::v1::PURPOSE_CASE_MANAGEMENT);
    e.mutable_case_closed()->set_reason(hub::v1::RISK_REDUCED);
    return Record(who, e);
  }
  absl::Status Reopen(const std::string& who) {
    hub::v1::EventEnvelope e = Event(++next_, hub::v1::PURPOSE_CASE_MANAGEMENT);
    e.mutable_case_reopened()->set_reason("new incident");
    return Record(who, e);
  }
  absl::Status Disruption(const std::string& who) {
    hub::v1::EventEnvelope e = Event(++next_, hub::v1::PURPOSE_DISRUPTION);
    e.mutable_disruption_recorded()->set_kind(hub::v1::ARREST);
    return Record(who, e);
  }

  hub::v1::SharingProtocol protocol_ = ExampleProtocol();
  RecordingPolicy policy_{protocol_};
  CaseWriteState state_;
  int next_ = 0;
};

// Health sees a case only once it is involved, so it records only then:
// before, any write to the case is answered as if the case did not exist,
// and a refused write does not involve it. Tasking, a support referral and
// a panel it sits on each involve it.
TEST_F(CaseConstraintsTest, AnAgencyRecordsOnlyIntoCasesItKnowsOf) {
  const absl::Status no_case = Complete("health/agency", "A-1");
  EXPECT_THAT(no_case, StatusIs(absl::StatusCode::kNotFound, HasSubstr("not a case")));
  EXPECT_EQ(ReasonOf(no_case), "CASE_NOT_KNOWN");
  ASSERT_THAT(Referral("police/agency"), IsOk());
  ASSERT_THAT(Task("A-1", "housing"), IsOk());
  // The same words, whether the case exists or not; the police know of
  // every case and are told what is wrong.
  EXPECT_EQ(Complete("health/agency", "A-1"), no_case);
  EXPECT_THAT(Complete("police/agency", "A-1"), StatusIs(absl::StatusCode::kPermissionDenied));
  // Housing owns an action: it records in the case, and its own action is
  // the one it may complete.
  EXPECT_THAT(Complete("housing/agency", "A-1"), IsOk());
  EXPECT_EQ(Complete("health/agency", "A-1"), no_case);

  hub::v1::EventEnvelope referral = Event(++next_, hub::v1::PURPOSE_CASE_MANAGEMENT);
  referral.mutable_support_referral_made()->set_service(hub::v1::MENTAL_HEALTH);
  referral.mutable_support_referral_made()->set_provider_agency("health");
  ASSERT_THAT(Record("drive/agency", referral), IsOk());
  EXPECT_THAT(Complete("health/agency", "A-1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("owned by housing")));

  // A panel: what health may see of a case it sits on the panel for.
  CaseWriteState heard;
  policy_.Apply(Event(1, hub::v1::PURPOSE_CASE_MANAGEMENT), &heard);
  EXPECT_FALSE(policy_
                   .CheckRuleAndStanding(PrincipalOf(protocol_, "health/agency"),
                                         Event(2, hub::v1::PURPOSE_CASE_MANAGEMENT), heard, "C-2",
                                         "e")
                   .ok());
  hub::v1::EventEnvelope outcome = Event(3, hub::v1::PURPOSE_PANEL);
  outcome.set_producing_agency("dapp");
  outcome.mutable_panel_outcome()->set_panel(hub::v1::MARAC_PANEL);
  policy_.Apply(outcome, &heard);
  hub::v1::EventEnvelope update = Event(4, hub::v1::PURPOSE_CASE_MANAGEMENT);
  update.mutable_action_updated()->set_action_id("A-1");
  EXPECT_THAT(policy_.CheckRuleAndStanding(PrincipalOf(protocol_, "health/agency"), update, heard,
                                           "C-2", "e"),
              IsOk());
}

TEST_F(CaseConstraintsTest, ACaseBeginsWithItsReferralAndIsCreatedOnce) {
  EXPECT_THAT(Disruption("police/agency"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("begins with referral")));
  EXPECT_THAT(Referral("police/agency"), IsOk());
  EXPECT_THAT(Referral("probation/agency"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("exists already")));
  EXPECT_EQ(state_.version, 1u);
}

TEST_F(CaseConstraintsTest, AnActionIsTaskedOnceAndChangedOnlyByItsOwnerOrTheCoordinator) {
  ASSERT_THAT(Referral("police/agency"), IsOk());
  ASSERT_THAT(Task("A-1", "housing"), IsOk());
  // Re-tasking the same action to another agency would silently re-own it.
  EXPECT_THAT(Task("A-1", "police"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("action A-1 exists already")));
  EXPECT_THAT(Task("A-2", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Task("A-2", "the-moon"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no agency")));
  EXPECT_THAT(Task("", "police"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Complete("police/agency", "A-1"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("owned by housing")));
  EXPECT_THAT(Complete("housing/agency", "A-9"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has no action A-9")));
  EXPECT_THAT(Complete("housing/agency", "A-1"), IsOk());
  ASSERT_THAT(Task("A-3", "health"), IsOk());
  EXPECT_THAT(Complete("dapp/coordinator", "A-3"), IsOk());
}

// One agency tasking action after action into a case would grow every
// agency's overview of it (and the hub's memory) without bound: the
// protocol's limit stops it, completed actions included, and the refusal
// changes nothing.
TEST_F(CaseConstraintsTest, ACaseHoldsNoMoreActionsThanTheProtocolAllows) {
  ASSERT_THAT(Referral("police/agency"), IsOk());
  constexpr int kLimit = 500;  // the example protocol's
  for (int i = 1; i <= kLimit; ++i) {
    ASSERT_THAT(Task(absl::StrCat("A-", i), "housing"), IsOk()) << i;
    if (i % 2 == 0) {
      ASSERT_THAT(Complete("housing/agency", absl::StrCat("A-", i)), IsOk());
    }
  }
  const uint64_t version = state_.version;
  absl::Status refused = Task("A-501", "housing");
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                HasSubstr("holds 500 actions, the most protocol")));
  bool retry = true;
  EXPECT_EQ(ReasonOf(refused, &retry), "ENTITY_LIMIT");
  EXPECT_FALSE(retry) << "waiting does not lift a protocol's limit";
  EXPECT_EQ(state_.version, version);
  // What the case holds can still be changed and the case closed.
  EXPECT_THAT(Complete("housing/agency", "A-1"), IsOk());
  EXPECT_THAT(Close("drive/agency"), IsOk());
}

TEST_F(CaseConstraintsTest, ACaseLinksNoMoreSubjectsThanTheProtocolAllows) {
  ASSERT_THAT(Referral("police/agency"), IsOk());
  for (int i = 1; i <= 101; ++i) {
    hub::v1::EventEnvelope child = Event(++next_, hub::v1::PURPOSE_SAFEGUARDING);
    child.mutable_subject_linked()->mutable_child()->set_subject_id(absl::StrCat("S-", i));
    const absl::Status status = Record("childrens-services/agency", child);
    if (i <= 100) {
      ASSERT_THAT(status, IsOk()) << i;
    } else {
      EXPECT_THAT(status,
                  StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("100 subjects")));
    }
  }
}

TEST_F(CaseConstraintsTest, ASubjectIsLinkedOnceWhateverItsRole) {
  ASSERT_THAT(Referral("police/agency"), IsOk());
  hub::v1::EventEnvelope victim = Event(++next_, hub::v1::PURPOSE_SAFEGUARDING);
  victim.mutable_subject_linked()->mutable_victim()->set_subject_id("S-1");
  EXPECT_THAT(Record("idva/agency", victim), IsOk());
  hub::v1::EventEnvelope child = Event(++next_, hub::v1::PURPOSE_SAFEGUARDING);
  child.mutable_subject_linked()->mutable_child()->set_subject_id("S-1");
  EXPECT_THAT(Record("childrens-services/agency", child),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("subject S-1")));
}

TEST_F(CaseConstraintsTest, AClosedCaseAcceptsOnlyAReopeningFromWhoeverMayClose) {
  ASSERT_THAT(Referral("police/agency"), IsOk());
  EXPECT_THAT(Reopen("drive/agency"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not closed")));
  EXPECT_THAT(Close("housing/agency"), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_THAT(Close("drive/agency"), IsOk());
  EXPECT_THAT(Disruption("police/agency"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is closed")));
  EXPECT_THAT(Close("dapp/coordinator"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Reopen("police/agency"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Reopen("dapp/coordinator"), IsOk());
  EXPECT_THAT(Disruption("police/agency"), IsOk());
}

TEST_F(CaseConstraintsTest, AClosedCaseTakesItsFollowUpChecksWithoutReopening) {
  ASSERT_THAT(Referral("police/agency"), IsOk());
  auto follow_up = [&](const std::string& who) {
    hub::v1::EventEnvelope check = Event(++next_, hub::v1::PURPOSE_CASE_MANAGEMENT);
    check.mutable_follow_up_checked()->set_months_after_closure(6);
    return Record(who, check);
  };
  ASSERT_THAT(Close("drive/agency"), IsOk());
  EXPECT_THAT(follow_up("police/agency"), IsOk());
  EXPECT_THAT(follow_up("dapp/coordinator"), IsOk());
  // Only those the protocol lets record it, and nothing else slips in
  // beside it; the case stays closed.
  EXPECT_THAT(follow_up("housing/agency"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Disruption("police/agency"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("it accepts only case_reopened or follow_up_checked")));
}

TEST_F(CaseConstraintsTest, TheHousingScenarioIsRefused) {
  // Housing downgrades the risk and closes a high-risk case: neither is its
  // to record.
  ASSERT_THAT(Referral("police/agency"), IsOk());
  hub::v1::EventEnvelope risk = Event(++next_, hub::v1::PURPOSE_SAFEGUARDING);
  risk.mutable_risk_assessed()->set_risk_level(hub::v1::RISK_STANDARD);
  EXPECT_THAT(Record("housing/agency", risk),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("record risk_assessed")));
  EXPECT_THAT(Close("housing/agency"), StatusIs(absl::StatusCode::kPermissionDenied));
  hub::v1::EventEnvelope safety = Event(++next_, hub::v1::PURPOSE_SAFEGUARDING);
  safety.mutable_victim_safety_information()->set_current_address("1 Example Street");
  EXPECT_THAT(Record("housing/agency", safety), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Disruption("health/agency"), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(state_.version, 1u);
}

// Protocol validation of the write side: errors name the line.
TEST(RecordingProtocolValidationTest, UnknownEventTypesAndBadPathsAreErrorsWithTheirLine) {
  std::ifstream file(std::string(HUB_SOURCE_DIR) + "/deploy/examples/sharing_protocol.textproto");
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string text = buffer.str();
  struct Case {
    std::string from, to, message;
  };
  for (const Case& c : std::vector<Case>{
           {"event_types: [\"disruption_recorded\"]", "event_types: [\"arrest_made\"]",
            "\"arrest_made\", which is not an event type"},
           {"event_types: [\"panel_outcome\", \"action_tasked\"]",
            "event_types: [\"panel_outcome\", \"protocol_changed\"]", "\"protocol_changed\""},
           {"owner_field: \"action_tasked.owner_agency\"", "owner_field: \"action_tasked.owner\"",
            "has no field \"owner\""},
           {"created_by: \"action_tasked.action_id\"", "created_by: \"action_tasked.due_on\"",
            "must end at a string field"},
           {"reopened_by: \"case_reopened\"", "reopened_by: \"case_resurrected\"",
            "case_lifecycle.reopened_by names \"case_resurrected\""},
           // Health sees a case only once involved: a case id it found taken
           // would tell it of a case it may not see.
           {"  event_types: [\"referral_received\", \"subject_linked\"]",
            "  principals: \"spiffe://drive.example-county.gov.uk/agency/health/agency\"\n"
            "  event_types: [\"referral_received\", \"subject_linked\"]",
            "would tell it that a case it may not see exists"},
           {"  authority: \"Children Act 1989 s17 and s47: the local authority's children's "
            "services\"\n",
            "", "has no authority"},
       }) {
    std::string changed = text;
    const size_t at = changed.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    changed.replace(at, c.from.size(), c.to);
    absl::StatusOr<LoadedProtocol> loaded = ParseSharingProtocol(changed, "p.textproto");
    EXPECT_THAT(
        loaded.status(),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 ::testing::AllOf(HasSubstr(c.message),
                                  ::testing::ContainsRegex("^p\\.textproto:[0-9]+:[0-9]+: "))))
        << c.to;
  }
}

TEST(RecordingProtocolValidationTest, RecordingWhatNoOneMayReadIsAWarning) {
  std::ifstream file(std::string(HUB_SOURCE_DIR) + "/deploy/examples/sharing_protocol.textproto");
  std::stringstream buffer;
  buffer << file.rdbuf();
  std::string text = buffer.str();
  // Nobody may read what a victim told the IDVA any more, yet the IDVA
  // still records it.
  const std::string rule = "  data_classes: [VICTIM_DISCLOSURE]\n";
  const size_t at = text.find(rule);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, rule.size(), "  data_classes: [VICTIM_RISK_SUMMARY]\n");
  absl::StatusOr<LoadedProtocol> loaded = ParseSharingProtocol(text, "p.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(loaded->warnings,
              ::testing::Contains(::testing::AllOf(HasSubstr("victim_safety_information"),
                                                   HasSubstr("VICTIM_DISCLOSURE"),
                                                   HasSubstr("no rule lets anyone read"))));
}

}  // namespace
}  // namespace hub::auth
