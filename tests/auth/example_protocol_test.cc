// The exhaustive leak test. For a corpus that fills every field of every
// event type, and for every principal of the example protocol and every
// purpose, a field is present in what the redactor leaves exactly when the
// protocol allows every class on its path: checked against the decision
// function and against an independent, hand-written table of what the
// example protocol is meant to allow.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/data_classes.h"
#include "auth/redactor.h"
#include "auth/sharing_policy.h"
#include "auth/sharing_protocol.h"
#include "tests/testing/fill_message.h"

namespace hub::auth {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using hub::v1::DataClass;
using hub::v1::Purpose;

constexpr char kPrefix[] = "spiffe://drive.example-county.gov.uk/agency/";

// ------------------------------------------------- the hand-written table

using Classes = std::set<DataClass>;

bool Operational(Purpose purpose) {
  return purpose == hub::v1::PURPOSE_SAFEGUARDING || purpose == hub::v1::PURPOSE_DISRUPTION ||
         purpose == hub::v1::PURPOSE_CASE_MANAGEMENT || purpose == hub::v1::PURPOSE_PANEL;
}

// What each principal of deploy/examples/sharing_protocol.textproto is meant
// to see, written out by hand from the protocol's intent, not from its rules,
// given its relationships to the case (and to the event's subject).
Classes Expected(const std::string& principal, Purpose purpose, RelationMask relations) {
  using namespace hub::v1;  // NOLINT(google-build-using-namespace): a table of enum values
  // Housing and health see only the cases they are involved in.
  const bool involved = relations[RECORDED_IN_CASE] || relations[OWNS_ACTION] ||
                        relations[REFERRED_FOR_SUPPORT] || relations[HEARD_AT_PANEL];
  const bool own_client = relations[REFERRED_FOR_SUPPORT];
  if ((principal == "housing/agency" || principal == "health/agency") && !involved) return {};
  if (principal == "dapp/coordinator" && purpose == PURPOSE_EVALUATION) {
    return {CASE_ADMINISTRATION, RISK, INTERVENTION, OFFENDING, PANEL, ACTIONS};
  }
  if (!Operational(purpose)) return {};
  const bool protecting = purpose == PURPOSE_SAFEGUARDING || purpose == PURPOSE_DISRUPTION;
  Classes common = {CASE_ADMINISTRATION, PERPETRATOR_IDENTITY, ACTIONS, PANEL, RISK};
  Classes extra;
  if (principal == "police/agency") {
    extra = {OFFENDING,          VICTIM_IDENTITY, VICTIM_RISK_SUMMARY,
             CHILD_SAFEGUARDING, INTERVENTION,    DISCLOSURE_SCHEME};
    if (protecting) extra.insert(VICTIM_LOCATION);
  } else if (principal == "probation/agency") {
    extra = {OFFENDING,          VICTIM_IDENTITY, VICTIM_RISK_SUMMARY,
             CHILD_SAFEGUARDING, HOUSING,         INTERVENTION};
  } else if (principal == "childrens-services/agency") {
    extra = {OFFENDING, VICTIM_IDENTITY, VICTIM_RISK_SUMMARY, CHILD_SAFEGUARDING,
             DISCLOSURE_SCHEME};
    if (protecting) extra.insert(VICTIM_LOCATION);
  } else if (principal == "housing/agency") {
    extra = {VICTIM_RISK_SUMMARY, INTERVENTION};
    if (own_client) extra.insert(HOUSING);
  } else if (principal == "idva/agency") {
    extra = {OFFENDING,         VICTIM_IDENTITY,    VICTIM_RISK_SUMMARY,
             VICTIM_DISCLOSURE, CHILD_SAFEGUARDING, DISCLOSURE_SCHEME};
    // Only where the victim is one it supports.
    if (protecting && relations[SUPPORTS_SUBJECT]) extra.insert(VICTIM_LOCATION);
  } else if (principal == "drive/agency") {
    extra = {OFFENDING, VICTIM_IDENTITY, VICTIM_RISK_SUMMARY, HOUSING, INTERVENTION};
    if (purpose == PURPOSE_CASE_MANAGEMENT) extra.insert(HEALTH);
  } else if (principal == "health/agency") {
    extra = {INTERVENTION};
    if (own_client) extra.insert(HEALTH);
  } else if (principal == "dapp/coordinator") {
    extra = {OFFENDING, VICTIM_IDENTITY, VICTIM_RISK_SUMMARY, CHILD_SAFEGUARDING,
             HOUSING,   INTERVENTION,    DISCLOSURE_SCHEME};
  } else {
    return {};  // the governance auditor and the operator: no case content
  }
  common.insert(extra.begin(), extra.end());
  return common;
}

// The relationship states the tests walk: none, each one alone, all.
std::vector<RelationMask> RelationStates() {
  std::vector<RelationMask> states = {kNoRelation};
  for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
    states.emplace_back().set(relation);
  }
  states.push_back(kEveryRelation);
  return states;
}

std::string Describe(RelationMask relations) {
  std::vector<std::string> names;
  for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
    if (relations[relation]) {
      names.push_back(hub::v1::CaseRelation_Name(static_cast<hub::v1::CaseRelation>(relation)));
    }
  }
  return names.empty() ? "no relationship" : absl::StrJoin(names, "+");
}

const std::vector<std::string>& Principals() {
  static const auto* principals = new std::vector<std::string>{
      "police/agency",  "probation/agency", "childrens-services/agency",
      "housing/agency", "idva/agency",      "drive/agency",
      "health/agency",  "dapp/coordinator", "governance/auditor",
      "operator/admin"};
  return *principals;
}

// ------------------------------------------------- the corpus

// One fully populated envelope per event type and nested oneof member.
std::vector<hub::v1::EventEnvelope> Corpus() {
  std::vector<hub::v1::EventEnvelope> corpus;
  const auto* events = hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
  for (int e = 0; e < events->field_count(); ++e) {
    for (int choice = 0; choice < 3; ++choice) {
      hub::v1::EventEnvelope envelope;
      hub::testing::FillEveryField(&envelope, e);
      Message* event = envelope.GetReflection()->MutableMessage(&envelope, events->field(e));
      event->Clear();
      hub::testing::FillEveryField(event, choice);
      corpus.push_back(envelope);
    }
  }
  return corpus;
}

// ------------------------------------------------- the check

class ExampleProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = LoadSharingProtocolFile(std::string(HUB_SOURCE_DIR) +
                                          "/deploy/examples/sharing_protocol.textproto");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_THAT(loaded->warnings, ::testing::IsEmpty());
    policy_ = std::make_unique<SharingPolicy>(loaded->protocol);
  }
  std::unique_ptr<SharingPolicy> policy_;
};

// Walks every field set in `full` and checks its presence in `redacted`.
void CheckFields(const Message& full, const Message& redacted, const Classes& expected,
                 const SharingPolicy& policy, const std::string& identity, Purpose purpose,
                 RelationMask relations, const std::string& path, int* checked) {
  const Reflection* reflection = full.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(full, &fields);
  for (const FieldDescriptor* field : fields) {
    const DataClass data_class = FieldClass(*field);
    const std::string where = absl::StrCat(path, ".", field->name());
    const bool should_see = expected.count(data_class) > 0;
    ASSERT_EQ(should_see, policy.Decide(identity, data_class, purpose, relations).allowed)
        << "the decision function and the table disagree on " << where << " for " << identity
        << " with " << Describe(relations);
    const bool present = field->is_repeated()
                             ? redacted.GetReflection()->FieldSize(redacted, field) > 0
                             : redacted.GetReflection()->HasField(redacted, field);
    ++*checked;
    ASSERT_EQ(present, should_see)
        << where << " (" << hub::v1::DataClass_Name(data_class) << ") for " << identity
        << " purpose " << hub::v1::Purpose_Name(purpose) << " with " << Describe(relations);
    if (!present || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        IsValueType(*field->message_type())) {
      continue;
    }
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(full, field); ++i) {
        CheckFields(reflection->GetRepeatedMessage(full, field, i),
                    redacted.GetReflection()->GetRepeatedMessage(redacted, field, i), expected,
                    policy, identity, purpose, relations, absl::StrCat(where, "[", i, "]"),
                    checked);
      }
    } else {
      CheckFields(reflection->GetMessage(full, field),
                  redacted.GetReflection()->GetMessage(redacted, field), expected, policy, identity,
                  purpose, relations, where, checked);
    }
  }
}

TEST_F(ExampleProtocolTest, EveryFieldIsVisibleExactlyWhenTheProtocolAllowsIt) {
  const std::vector<hub::v1::EventEnvelope> corpus = Corpus();
  int checked = 0;
  int visible_events = 0;
  for (const std::string& principal : Principals()) {
    const std::string identity = kPrefix + principal;
    for (const RelationMask relations : RelationStates()) {
      for (int p = 1; p < hub::v1::Purpose_ARRAYSIZE; ++p) {
        const auto purpose = static_cast<Purpose>(p);
        const Classes expected = Expected(principal, purpose, relations);
        const ClassMask allowed = policy_->Allowed(identity, purpose, relations);
        for (int c = 1; c < hub::v1::DataClass_ARRAYSIZE; ++c) {
          ASSERT_EQ(allowed[c], expected.count(static_cast<DataClass>(c)) > 0)
              << principal << " " << hub::v1::Purpose_Name(purpose) << " "
              << hub::v1::DataClass_Name(static_cast<DataClass>(c)) << " with "
              << Describe(relations);
        }
        for (const hub::v1::EventEnvelope& full : corpus) {
          hub::v1::EventEnvelope redacted = full;
          const DataClass event_class = EventClass(*EventOf(full)->GetDescriptor());
          const bool visible = Redact(allowed, &redacted);
          ASSERT_EQ(visible, expected.count(event_class) > 0)
              << EventTypeName(full) << " for " << principal << " with " << Describe(relations);
          if (!visible) {
            EXPECT_EQ(redacted.SerializeAsString(), full.SerializeAsString())
                << "an invisible event must be left untouched";
            continue;
          }
          ++visible_events;
          CheckFields(full, redacted, expected, *policy_, identity, purpose, relations,
                      EventTypeName(full), &checked);
        }
      }
    }
  }
  // The corpus really exercised the redactor.
  EXPECT_GT(visible_events, 500);
  EXPECT_GT(checked, 10000);
}

// The projector shapes an event once per distinct `allowed & present` and
// stores it unshaped when nothing would be removed: both must give exactly
// what redacting for each principal would.
TEST_F(ExampleProtocolTest, WhatRedactionLeavesDependsOnlyOnTheClassesPresent) {
  int unchanged = 0;
  int shared = 0;
  for (const hub::v1::EventEnvelope& full : Corpus()) {
    const ClassMask present = ClassesPresent(full);
    EXPECT_TRUE(present.any());
    for (const std::string& principal : Principals()) {
      for (int p = 1; p < hub::v1::Purpose_ARRAYSIZE; ++p) {
        const ClassMask allowed =
            policy_->Allowed(kPrefix + principal, static_cast<Purpose>(p), kEveryRelation);
        hub::v1::EventEnvelope by_allowed = full;
        hub::v1::EventEnvelope by_present = full;
        const bool visible = Redact(allowed, &by_allowed);
        ASSERT_EQ(Redact(allowed & present, &by_present), visible);
        if (!visible) continue;
        EXPECT_EQ(by_present.SerializeAsString(), by_allowed.SerializeAsString());
        if ((present & ~allowed).none()) {
          ++unchanged;
          EXPECT_EQ(by_allowed.SerializeAsString(), full.SerializeAsString())
              << EventTypeName(full) << " for " << principal;
        } else {
          ++shared;
        }
      }
    }
  }
  EXPECT_GT(unchanged, 100);
  EXPECT_GT(shared, 100);
}

TEST_F(ExampleProtocolTest, TheProtectionsThatMatterHold) {
  for (const std::string& principal : Principals()) {
    const std::string identity = kPrefix + principal;
    for (int p = 1; p < hub::v1::Purpose_ARRAYSIZE; ++p) {
      const auto purpose = static_cast<Purpose>(p);
      // Whatever the relationship to the case.
      const bool location_allowed =
          policy_->Decide(identity, hub::v1::VICTIM_LOCATION, purpose, kEveryRelation).allowed;
      if (principal == "drive/agency" || principal == "housing/agency" ||
          principal == "probation/agency" || principal == "health/agency" ||
          principal == "dapp/coordinator") {
        EXPECT_FALSE(location_allowed) << principal << " could learn where a victim is";
      }
      if (principal != "idva/agency") {
        EXPECT_FALSE(
            policy_->Decide(identity, hub::v1::VICTIM_DISCLOSURE, purpose, kEveryRelation).allowed)
            << principal << " could read what a victim told the IDVA";
      }
      if (principal != "health/agency" &&
          !(principal == "drive/agency" && purpose == hub::v1::PURPOSE_CASE_MANAGEMENT)) {
        EXPECT_FALSE(policy_->Decide(identity, hub::v1::HEALTH, purpose, kEveryRelation).allowed)
            << principal;
      }
      if (principal == "governance/auditor" || principal == "operator/admin") {
        EXPECT_TRUE(policy_->Allowed(identity, purpose, kEveryRelation).none()) << principal;
      }
    }
  }
}

TEST_F(ExampleProtocolTest, ADecisionCitesItsRuleAndLawfulBasis) {
  Decision allowed =
      policy_->Decide(std::string(kPrefix) + "police/agency", hub::v1::VICTIM_LOCATION,
                      hub::v1::PURPOSE_SAFEGUARDING, kNoRelation);
  EXPECT_TRUE(allowed.allowed);
  EXPECT_EQ(allowed.rule, "victim-location-for-protection");
  EXPECT_THAT(allowed.lawful_basis, ::testing::HasSubstr("UK GDPR Art 6(1)(e)"));
  EXPECT_THAT(allowed.legal_gateway, ::testing::HasSubstr("Crime and Disorder Act 1998 s115"));

  Decision denied = policy_->Decide(std::string(kPrefix) + "drive/agency", hub::v1::VICTIM_LOCATION,
                                    hub::v1::PURPOSE_SAFEGUARDING, kEveryRelation);
  EXPECT_FALSE(denied.allowed);
  EXPECT_TRUE(denied.rule.empty());
  EXPECT_THAT(denied.reason, ::testing::HasSubstr("see VICTIM_LOCATION for PURPOSE_SAFEGUARDING"));

  EXPECT_FALSE(policy_
                   ->Decide("spiffe://elsewhere/agency/x/agency", hub::v1::CASE_ADMINISTRATION,
                            hub::v1::PURPOSE_PANEL, kEveryRelation)
                   .allowed);
  EXPECT_FALSE(policy_
                   ->Decide(std::string(kPrefix) + "police/agency", hub::v1::DATA_CLASS_UNSPECIFIED,
                            hub::v1::PURPOSE_PANEL, kEveryRelation)
                   .allowed);
  EXPECT_FALSE(policy_
                   ->Decide(std::string(kPrefix) + "police/agency", hub::v1::CASE_ADMINISTRATION,
                            hub::v1::PURPOSE_UNSPECIFIED, kEveryRelation)
                   .allowed);

  // A rule that needs a relationship is cited for what only it allows.
  Decision supported =
      policy_->Decide(std::string(kPrefix) + "idva/agency", hub::v1::VICTIM_LOCATION,
                      hub::v1::PURPOSE_SAFEGUARDING, RelationMask().set(hub::v1::SUPPORTS_SUBJECT));
  EXPECT_EQ(supported.rule, "victim-location-for-supported-victims");
  EXPECT_FALSE(policy_
                   ->Decide(std::string(kPrefix) + "idva/agency", hub::v1::VICTIM_LOCATION,
                            hub::v1::PURPOSE_SAFEGUARDING, kNoRelation)
                   .allowed);
}

TEST(RedactorTest, AnIdvaSafetyUpdateReachesDriveWithoutWhereaboutsOrNotes) {
  hub::v1::EventEnvelope envelope;
  envelope.set_case_id("C-1");
  auto* safety = envelope.mutable_victim_safety_information();
  safety->set_victim_subject_id("V-1");
  safety->set_risk_change(hub::v1::SIGNIFICANTLY_REDUCED);
  safety->set_current_address("Flat 2, 10 Any Street");
  safety->set_safe_phone_number("07700 900123");
  safety->set_in_refuge(true);
  safety->set_disclosure_notes("she said...");
  safety->GetReflection()->MutableUnknownFields(safety)->AddVarint(99, 1);
  bool unknown_fields = false;
  ClassesPresent(envelope, &unknown_fields);
  EXPECT_TRUE(unknown_fields) << "the projector relies on this to never pass them on unshaped";
  ClassMask drive;
  for (DataClass c :
       {hub::v1::CASE_ADMINISTRATION, hub::v1::VICTIM_IDENTITY, hub::v1::VICTIM_RISK_SUMMARY}) {
    drive[c] = true;
  }
  ASSERT_TRUE(Redact(drive, &envelope));
  ClassesPresent(envelope, &unknown_fields);
  EXPECT_FALSE(unknown_fields);
  EXPECT_EQ(envelope.case_id(), "C-1");
  EXPECT_EQ(envelope.victim_safety_information().risk_change(), hub::v1::SIGNIFICANTLY_REDUCED);
  EXPECT_EQ(envelope.victim_safety_information().victim_subject_id(), "V-1");
  EXPECT_EQ(envelope.victim_safety_information().current_address(), "");
  EXPECT_EQ(envelope.victim_safety_information().safe_phone_number(), "");
  EXPECT_FALSE(envelope.victim_safety_information().in_refuge());
  EXPECT_EQ(envelope.victim_safety_information().disclosure_notes(), "");
  EXPECT_TRUE(envelope.victim_safety_information()
                  .GetReflection()
                  ->GetUnknownFields(envelope.victim_safety_information())
                  .empty());
  const std::string bytes = envelope.SerializeAsString();
  EXPECT_EQ(bytes.find("Any Street"), std::string::npos);
  EXPECT_EQ(bytes.find("07700"), std::string::npos);
}

TEST(RedactorTest, AnEventWhoseClassIsNotAllowedIsInvisible) {
  hub::v1::EventEnvelope envelope;
  envelope.mutable_victim_safety_information()->set_current_address("somewhere");
  ClassMask housing;
  housing[hub::v1::CASE_ADMINISTRATION] = true;
  EXPECT_FALSE(Redact(housing, &envelope));
  hub::v1::EventEnvelope no_event;
  EXPECT_FALSE(Redact(ClassMask().set(), &no_event));
}

// Own-client access is judged on every subject an event names: an IDVA that
// supports one of the two victims an order protects is not told the
// exclusion zone, which locates the other as well.
TEST_F(ExampleProtocolTest, SupportingOneOfTheSubjectsAnEventNamesIsNotEnough) {
  const std::string idva = std::string(kPrefix) + "idva/agency";
  hub::v1::CaseRelations relations;
  hub::v1::EventEnvelope link;
  link.set_producing_agency("police");
  auto* supported = link.mutable_subject_linked()->mutable_victim();
  supported->set_subject_id("V-7");
  supported->add_supporting_agencies("idva");
  EXPECT_TRUE(policy_->ApplyToRelations(link, &relations)) << "the relationships grew";
  EXPECT_FALSE(policy_->ApplyToRelations(link, &relations)) << "folded twice, nothing more";
  hub::v1::EventEnvelope other;
  other.set_producing_agency("police");
  auto* unsupported = other.mutable_subject_linked()->mutable_victim();
  unsupported->set_subject_id("V-8");
  unsupported->add_supporting_agencies("another-advocacy-service");
  EXPECT_TRUE(policy_->ApplyToRelations(other, &relations));

  hub::v1::EventEnvelope order;
  order.mutable_disruption_recorded()->add_protected_subject_ids("V-7");
  EXPECT_TRUE(policy_->RelationsOf(idva, relations, order)[hub::v1::SUPPORTS_SUBJECT]);
  order.mutable_disruption_recorded()->add_protected_subject_ids("V-8");
  EXPECT_FALSE(policy_->RelationsOf(idva, relations, order)[hub::v1::SUPPORTS_SUBJECT]);
  // A subject never linked to the case is nobody's client.
  hub::v1::EventEnvelope unknown;
  unknown.mutable_victim_safety_information()->set_victim_subject_id("V-404");
  EXPECT_FALSE(policy_->RelationsOf(idva, relations, unknown)[hub::v1::SUPPORTS_SUBJECT]);
  EXPECT_FALSE(
      policy_->Allowed(idva, hub::v1::PURPOSE_SAFEGUARDING,
                       policy_->RelationsOf(idva, relations, order))[hub::v1::VICTIM_LOCATION]);
}

}  // namespace
}  // namespace hub::auth
