// Personal fields at rest, played with canaries: every personal value is
// absent from what is stored, comes back whole with its key, and is gone
// (and said to be gone) once its subject's key is erased, while the rest
// of the event stays readable.
#include "auth/field_sealing.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

#include "auth/sharing_policy.h"
#include "tests/testing/example_protocol.h"
#include "tests/testing/fill_message.h"
#include "tests/testing/temp_dir.h"

#include "hub/storage/v1/sealed.pb.h"

namespace hub::auth {
namespace {

using ::hub::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1796000000);

class FieldSealingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(KeyFolder::AddKey(dir_.Sub("keks"), kNow).ok());
    auto keks = KeyFolder::Open(dir_.Sub("keks"), dir_.Sub("data"));
    ASSERT_TRUE(keks.ok());
    auto store = DataKeyStore::Open(dir_.Sub("data-keys"), dir_.Sub("data"),
                                    std::shared_ptr<const KeyFolder>(*std::move(keks)));
    ASSERT_TRUE(store.ok()) << store.status();
    keys_ = *std::move(store);
    sealer_ = std::make_unique<FieldSealer>(keys_.get());
  }

  static hub::v1::EventEnvelope SafetyInformation() {
    hub::v1::EventEnvelope envelope;
    envelope.set_event_id("e-1");
    envelope.set_case_id("C-1");
    envelope.set_producing_agency("idva");
    envelope.set_lawful_basis("UK GDPR Art 6(1)(e)");
    auto* info = envelope.mutable_victim_safety_information();
    info->set_victim_subject_id("CANARY-SUBJECT-V1");
    info->set_risk_change(hub::v1::REDUCED);
    info->set_current_address("CANARY-ADDRESS 14 Example Road");
    info->set_in_refuge(true);
    info->set_disclosure_notes("CANARY-NOTES she said");
    return envelope;
  }

  static bool Same(const hub::v1::EventEnvelope& a, const hub::v1::EventEnvelope& b) {
    return google::protobuf::util::MessageDifferencer::Equals(a, b);
  }

  TempDir dir_;
  std::unique_ptr<DataKeyStore> keys_;
  std::unique_ptr<FieldSealer> sealer_;
};

TEST_F(FieldSealingTest, TheContractMarksPersonalClasses) {
  for (hub::v1::DataClass personal :
       {hub::v1::PERPETRATOR_IDENTITY, hub::v1::VICTIM_IDENTITY, hub::v1::VICTIM_LOCATION,
        hub::v1::VICTIM_DISCLOSURE, hub::v1::HEALTH, hub::v1::CHILD_SAFEGUARDING,
        hub::v1::OFFENDING}) {
    EXPECT_TRUE(IsPersonalClass(personal)) << hub::v1::DataClass_Name(personal);
  }
  EXPECT_FALSE(IsPersonalClass(hub::v1::CASE_ADMINISTRATION));
  EXPECT_FALSE(IsPersonalClass(hub::v1::PROTOCOL_GOVERNANCE));
  // Free text is personal whatever its class.
  const auto* reason = hub::v1::ReferralReceived::descriptor()->FindFieldByName("decline_reason");
  EXPECT_TRUE(IsPersonalField(*reason));
}

TEST_F(FieldSealingTest, NoPersonalValueIsStoredInTheClearAndAllComeBack) {
  const hub::v1::EventEnvelope envelope = SafetyInformation();
  const absl::StatusOr<std::string> stored = sealer_->Seal(envelope);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(FieldSealer::IsSealed(*stored));
  EXPECT_THAT(*stored, Not(HasSubstr("CANARY")));
  // What routing and auditing need stays readable.
  EXPECT_THAT(*stored, HasSubstr("C-1"));
  EXPECT_THAT(*stored, HasSubstr("UK GDPR Art 6(1)(e)"));
  const absl::StatusOr<hub::v1::EventEnvelope> opened = sealer_->Open(*stored);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE(Same(*opened, envelope)) << opened->DebugString();
}

TEST_F(FieldSealingTest, AnEventWithoutPersonalFieldsIsStoredAsItIs) {
  hub::v1::EventEnvelope envelope;
  envelope.set_event_id("e-2");
  envelope.set_case_id("C-1");
  envelope.mutable_case_allocated()->set_case_manager_id("cm-7");
  EXPECT_EQ(*sealer_->Seal(envelope), envelope.SerializeAsString());
  EXPECT_TRUE(Same(*sealer_->Open(envelope.SerializeAsString()), envelope));
}

TEST_F(FieldSealingTest, ErasingTheVictimLeavesTheCaseAndSaysWhatWent) {
  hub::v1::EventEnvelope disruption;
  disruption.set_event_id("e-3");
  disruption.set_case_id("C-1");
  auto* order = disruption.mutable_disruption_recorded();
  order->set_kind(hub::v1::DVPO);
  order->set_conditions("CANARY-CONDITIONS not to contact");
  order->add_protected_subject_ids("CANARY-SUBJECT-V1");
  order->set_exclusion_zone("CANARY-ZONE Example Road");
  const std::string stored_safety = *sealer_->Seal(SafetyInformation());
  const std::string stored_order = *sealer_->Seal(disruption);

  for (const std::string& key_id : AllDataKeyIdsOf(*keys_, {"subject", "CANARY-SUBJECT-V1"})) {
    ASSERT_TRUE(keys_->Erase(key_id, {kNow, "request", "ERASURE-17"}).ok());
  }
  std::vector<ErasedPart> erased;
  const absl::StatusOr<hub::v1::EventEnvelope> safety = sealer_->Open(stored_safety, &erased);
  ASSERT_TRUE(safety.ok()) << safety.status();
  EXPECT_THAT(safety->DebugString(), Not(HasSubstr("CANARY")));
  EXPECT_TRUE(safety->has_victim_safety_information());
  EXPECT_EQ(safety->case_id(), "C-1");
  ASSERT_FALSE(erased.empty());
  EXPECT_EQ(erased.front().erasure.reference, "ERASURE-17");
  std::vector<hub::v1::DataClass> classes;
  for (const ErasedPart& part : erased) classes.push_back(part.data_class);
  EXPECT_THAT(classes, ::testing::UnorderedElementsAre(
                           hub::v1::VICTIM_IDENTITY, hub::v1::VICTIM_LOCATION,
                           hub::v1::VICTIM_DISCLOSURE, hub::v1::VICTIM_RISK_SUMMARY));
  // The order is the perpetrator's: its conditions stay; whom it protects
  // and where go with the victim.
  erased.clear();
  const absl::StatusOr<hub::v1::EventEnvelope> still = sealer_->Open(stored_order, &erased);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(erased.size(), 2u);
  EXPECT_EQ(still->disruption_recorded().conditions(), "CANARY-CONDITIONS not to contact");
  EXPECT_EQ(still->disruption_recorded().kind(), hub::v1::DVPO);
  EXPECT_THAT(still->disruption_recorded().exclusion_zone(), ::testing::IsEmpty());
  EXPECT_THAT(still->disruption_recorded().protected_subject_ids(), ::testing::IsEmpty());
  // Nothing more is recorded under the erased subject's key.
  EXPECT_EQ(sealer_->Seal(SafetyInformation()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(FieldSealingTest, VictimFieldsOfSeveralVictimsStayWithTheCase) {
  hub::v1::EventEnvelope disruption;
  disruption.set_event_id("e-4");
  disruption.set_case_id("C-1");
  disruption.mutable_disruption_recorded()->add_protected_subject_ids("V-1");
  disruption.mutable_disruption_recorded()->add_protected_subject_ids("V-2");
  EXPECT_EQ(KeyOwnerOf(disruption, hub::v1::VICTIM_IDENTITY).scope, "case");
  EXPECT_EQ(KeyOwnerOf(SafetyInformation(), hub::v1::VICTIM_LOCATION).name, "CANARY-SUBJECT-V1");
  EXPECT_EQ(KeyOwnerOf(SafetyInformation(), hub::v1::OFFENDING).scope, "case");
}

TEST_F(FieldSealingTest, APartAlteredOrMovedToAnotherEventDoesNotOpen) {
  const std::string stored = *sealer_->Seal(SafetyInformation());
  hub::storage::v1::SealedEnvelope sealed;
  ASSERT_TRUE(sealed.ParseFromString(stored.substr(1)));
  // Moved: the same parts under another event id.
  sealed.mutable_open()->set_event_id("e-other");
  EXPECT_EQ(sealer_->Open(std::string(1, '\0') + sealed.SerializeAsString()).status().code(),
            absl::StatusCode::kDataLoss);
  // Relabelled as another class.
  ASSERT_TRUE(sealed.ParseFromString(stored.substr(1)));
  sealed.mutable_parts(0)->set_data_class(hub::v1::CASE_ADMINISTRATION);
  EXPECT_EQ(sealer_->Open(std::string(1, '\0') + sealed.SerializeAsString()).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(sealer_->Open(std::string(1, '\0') + "garbage").status().code(),
            absl::StatusCode::kDataLoss);
}

// Whom an event is about and who supports her decide who sees it. Sealed
// apart under the case's key, with the subject named by a pseudonym made
// under a key of her own, they outlive her erasure without saying who she
// was: her events keep their place in the views, and nothing left can be
// traced back to her.
TEST_F(FieldSealingTest, TheRoutingPartNamesSubjectsByPseudonymsThatOutliveTheirErasure) {
  hub::v1::EventEnvelope linked;
  linked.set_event_id("e-5");
  linked.set_case_id("C-1");
  linked.set_producing_agency("police");
  auto* victim = linked.mutable_subject_linked()->mutable_victim();
  victim->set_subject_id("CANARY-SUBJECT-V1");
  victim->set_relationship_to_perpetrator(hub::v1::EX_PARTNER);
  victim->add_supporting_agencies("idva");
  const std::string stored = *sealer_->Seal(linked);
  const std::string stored_safety = *sealer_->Seal(SafetyInformation());

  hub::v1::EventEnvelope routing;
  ASSERT_TRUE(sealer_->Open(stored, nullptr, nullptr, &routing).ok());
  const absl::StatusOr<std::string> pseudonym = sealer_->PseudonymOf("C-1", "CANARY-SUBJECT-V1");
  ASSERT_TRUE(pseudonym.ok()) << pseudonym.status();
  EXPECT_THAT(*pseudonym, ::testing::MatchesRegex("pseudonym-[0-9a-f]{32}"));
  EXPECT_EQ(routing.subject_linked().victim().subject_id(), *pseudonym);
  EXPECT_THAT(routing.subject_linked().victim().supporting_agencies(),
              ::testing::ElementsAre("idva"));
  EXPECT_EQ(routing.producing_agency(), "police");
  // Only what routing reads: no id, no relationship to the perpetrator.
  EXPECT_THAT(routing.DebugString(), Not(HasSubstr("CANARY")));
  EXPECT_EQ(routing.subject_linked().victim().relationship_to_perpetrator(),
            hub::v1::RELATIONSHIP_UNSPECIFIED);
  hub::v1::EventEnvelope safety_routing;
  ASSERT_TRUE(sealer_->Open(stored_safety, nullptr, nullptr, &safety_routing).ok());
  EXPECT_EQ(safety_routing.victim_safety_information().victim_subject_id(), *pseudonym);
  EXPECT_THAT(safety_routing.DebugString(), Not(HasSubstr("CANARY")));
  // Another case knows her by another pseudonym.
  EXPECT_NE(*sealer_->PseudonymOf("C-2", "CANARY-SUBJECT-V1"), *pseudonym);

  for (const std::string& key_id : AllDataKeyIdsOf(*keys_, {"subject", "CANARY-SUBJECT-V1"})) {
    ASSERT_TRUE(keys_->Erase(key_id, {kNow, "request", "ERASURE-18"}).ok());
  }
  hub::v1::EventEnvelope after;
  const absl::StatusOr<hub::v1::EventEnvelope> opened =
      sealer_->Open(stored, nullptr, nullptr, &after);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT(opened->DebugString(), Not(HasSubstr("CANARY")));
  EXPECT_TRUE(Same(after, routing)) << after.DebugString();
  // Nobody can make her pseudonym again to find her by it.
  EXPECT_EQ(sealer_->PseudonymOf("C-1", "CANARY-SUBJECT-V1").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // The routing part is bound to its event like any part.
  hub::storage::v1::SealedEnvelope sealed;
  ASSERT_TRUE(sealed.ParseFromString(stored.substr(1)));
  sealed.mutable_open()->set_event_id("e-other");
  EXPECT_EQ(
      sealer_->Open(std::string(1, '\0') + sealed.SerializeAsString(), nullptr, nullptr, &after)
          .status()
          .code(),
      absl::StatusCode::kDataLoss);
  // Erasing the case takes it too: the event then routes by what is left.
  ASSERT_TRUE(
      keys_->Erase(RoutingKeyIdOf(*keys_, {"case", "C-1"}), {kNow, "request", "ERASURE-19"}).ok());
  ASSERT_TRUE(sealer_->Open(stored, nullptr, nullptr, &after).ok());
  EXPECT_TRUE(after.subject_linked().victim().subject_id().empty());
  EXPECT_TRUE(after.subject_linked().has_victim());
}

// An event stored before routing parts existed routes by the pseudonyms
// its subjects would have been given, while their keys are held.
TEST_F(FieldSealingTest, AnEventWithoutARoutingPartRoutesByTheSamePseudonyms) {
  const std::string stored = *sealer_->Seal(SafetyInformation());
  hub::storage::v1::SealedEnvelope sealed;
  ASSERT_TRUE(sealed.ParseFromString(stored.substr(1)));
  hub::v1::EventEnvelope with_part;
  ASSERT_TRUE(sealer_->Open(stored, nullptr, nullptr, &with_part).ok());
  sealed.clear_routing();
  const std::string older = std::string(1, '\0') + sealed.SerializeAsString();
  hub::v1::EventEnvelope without_part;
  ASSERT_TRUE(sealer_->Open(older, nullptr, nullptr, &without_part).ok());
  EXPECT_TRUE(Same(without_part, with_part)) << without_part.DebugString();
  for (const std::string& key_id : AllDataKeyIdsOf(*keys_, {"subject", "CANARY-SUBJECT-V1"})) {
    ASSERT_TRUE(keys_->Erase(key_id, {kNow, "request", "ERASURE-20"}).ok());
  }
  ASSERT_TRUE(sealer_->Open(older, nullptr, nullptr, &without_part).ok());
  EXPECT_TRUE(without_part.victim_safety_information().victim_subject_id().empty());
}

// An erasure looks through every stored event for the keys it destroyed,
// reading the parts' keys and classes off the wire without the rest.
TEST_F(FieldSealingTest, ThePartsOfAStoredEventAreReadWithoutOpeningThem) {
  const std::string stored = *sealer_->Seal(SafetyInformation());
  hub::storage::v1::SealedEnvelope sealed;
  ASSERT_TRUE(sealed.ParseFromString(stored.substr(1)));
  const absl::StatusOr<std::vector<FieldSealer::PartKey>> parts = FieldSealer::PartsOf(stored);
  ASSERT_TRUE(parts.ok()) << parts.status();
  // Each class's part, then the routing part.
  ASSERT_EQ(static_cast<int>(parts->size()), sealed.parts_size() + 1);
  for (int i = 0; i < sealed.parts_size(); ++i) {
    EXPECT_EQ((*parts)[i].key_id, sealed.parts(i).key_id());
    EXPECT_EQ((*parts)[i].data_class, sealed.parts(i).data_class());
    EXPECT_FALSE((*parts)[i].routing);
  }
  EXPECT_TRUE(parts->back().routing);
  EXPECT_EQ(parts->back().key_id, RoutingKeyIdOf(*keys_, {"case", "C-1"}));
  EXPECT_EQ((*parts)[0].key_id,
            DataKeyIdOf(*keys_, {"subject", "CANARY-SUBJECT-V1"}, (*parts)[0].data_class));
  // Plain events have none; damaged bytes are refused, never half read.
  EXPECT_THAT(*FieldSealer::PartsOf(SafetyInformation().SerializeAsString()), ::testing::IsEmpty());
  EXPECT_EQ(FieldSealer::PartsOf(stored.substr(0, stored.size() - 3)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(FieldSealer::PartsOf(std::string(1, '\0') + "\x12\x7f").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(FieldSealingTest, AMissingKeyThatWasNotErasedIsNotTakenForAnErasure) {
  const std::string stored = *sealer_->Seal(SafetyInformation());
  TempDir elsewhere;
  ASSERT_TRUE(KeyFolder::AddKey(elsewhere.Sub("keks"), kNow).ok());
  auto keks = KeyFolder::Open(elsewhere.Sub("keks"), elsewhere.Sub("data"));
  auto empty = DataKeyStore::Open(elsewhere.Sub("data-keys"), elsewhere.Sub("data"),
                                  std::shared_ptr<const KeyFolder>(*std::move(keks)));
  ASSERT_TRUE(empty.ok());
  const FieldSealer without_keys(empty->get());
  const absl::Status refused = without_keys.Open(stored).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("restore the keys folder"));
  // An insider deleting only the case's routing key file: the parts still
  // open, but whom the event is about is missing, not erased. Refused, not
  // taken for an erasure (which would relate the case anew).
  ASSERT_TRUE(sealer_->Open(stored).ok());
  const std::string routing_key_file =
      dir_.Sub("data-keys") + "/" + RoutingKeyIdOf(*keys_, {"case", "C-1"}) + ".key";
  ASSERT_EQ(std::remove(routing_key_file.c_str()), 0) << routing_key_file;
  const auto reopened = [&] {
    // A fresh store: the live one keeps the keys it has opened in memory.
    auto keks_again = KeyFolder::Open(dir_.Sub("keks"), dir_.Sub("data"));
    auto store = DataKeyStore::Open(dir_.Sub("data-keys"), dir_.Sub("data"),
                                    std::shared_ptr<const KeyFolder>(*std::move(keks_again)));
    EXPECT_TRUE(store.ok()) << store.status();
    return *std::move(store);
  }();
  const FieldSealer without_routing_key(reopened.get());
  EXPECT_TRUE(without_routing_key.Open(stored).ok());
  hub::v1::EventEnvelope routing;
  const absl::Status missing =
      without_routing_key.Open(stored, nullptr, nullptr, &routing).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition) << missing;
  EXPECT_THAT(missing.message(), HasSubstr("restore the keys folder"));
  // One key per class the event holds, all under the one subject, and the
  // case's routing key.
  EXPECT_EQ(FieldSealer::KeyIdsOf(stored)->size(),
            PersonalClassesIn(SafetyInformation()).size() + 1);
}

// What FillEveryField writes into the personal string fields of `message`'s
// type and of those it holds.
void PersonalCanaries(const google::protobuf::Descriptor& message,
                      std::vector<std::string>* canaries) {
  for (int i = 0; i < message.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *message.field(i);
    if (field.message_type() != nullptr) {
      PersonalCanaries(*field.message_type(), canaries);
    } else if (field.cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING &&
               IsPersonalField(field)) {
      canaries->push_back(absl::StrCat("value of ", field.full_name(), " #"));
    }
  }
}

TEST_F(FieldSealingTest, EveryPersonalFieldOfEveryEventTypeIsSealedAndComesBack) {
  const google::protobuf::OneofDescriptor* events =
      hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
  ASSERT_NE(events, nullptr);
  int sealed_types = 0;
  for (int choice = 0; choice < 3; ++choice) {
    for (int i = 0; i < events->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* type = events->field(i);
      hub::v1::EventEnvelope envelope;
      envelope.set_event_id("e-every");
      envelope.set_case_id("C-EVERY");
      hub::testing::FillEveryField(envelope.GetReflection()->MutableMessage(&envelope, type),
                                   choice);
      const absl::StatusOr<std::string> stored = sealer_->Seal(envelope);
      ASSERT_TRUE(stored.ok()) << type->name() << ": " << stored.status();
      std::vector<std::string> canaries;
      PersonalCanaries(*type->message_type(), &canaries);
      for (const std::string& canary : canaries) {
        EXPECT_THAT(*stored, Not(HasSubstr(canary))) << type->name();
      }
      if (!canaries.empty()) {
        EXPECT_TRUE(FieldSealer::IsSealed(*stored)) << type->name();
        ++sealed_types;
      }
      const absl::StatusOr<hub::v1::EventEnvelope> opened = sealer_->Open(*stored);
      ASSERT_TRUE(opened.ok()) << type->name() << ": " << opened.status();
      EXPECT_TRUE(Same(*opened, envelope)) << type->name() << "\n" << opened->DebugString();
    }
  }
  EXPECT_GT(sealed_types, 30);
}

// What lets an erasure be taken where the views stand: content of a class
// outside SharingPolicy::RoutingClasses never decides who is related to a
// case nor whom an event is about. Played over every field of every event
// type: with every other class's keys destroyed, each event folds into the
// same relationships and names the same subjects as before.
TEST_F(FieldSealingTest, ErasingAnyClassButTheRoutingOnesLeavesRelationshipsAndSubjects) {
  const SharingPolicy policy(hub::testing::LoadExampleProtocol());
  const ClassMask routing = SharingPolicy::RoutingClasses();
  EXPECT_TRUE(routing[hub::v1::VICTIM_IDENTITY]);
  EXPECT_TRUE(routing[hub::v1::CHILD_SAFEGUARDING]);
  EXPECT_TRUE(routing[hub::v1::PERPETRATOR_IDENTITY]);
  EXPECT_FALSE(routing[hub::v1::VICTIM_LOCATION]);
  EXPECT_FALSE(routing[hub::v1::VICTIM_DISCLOSURE]);
  const google::protobuf::OneofDescriptor* events =
      hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
  std::vector<hub::v1::EventEnvelope> originals;
  std::vector<std::string> stored;
  for (int choice = 0; choice < 3; ++choice) {
    for (int i = 0; i < events->field_count(); ++i) {
      hub::v1::EventEnvelope& envelope = originals.emplace_back();
      envelope.set_event_id(absl::StrCat("e-", choice, "-", i));
      envelope.set_case_id("C-ROUTING");
      envelope.set_producing_agency("police");
      hub::testing::FillEveryField(
          envelope.GetReflection()->MutableMessage(&envelope, events->field(i)), choice);
      absl::StatusOr<std::string> sealed = sealer_->Seal(envelope);
      ASSERT_TRUE(sealed.ok()) << sealed.status();
      stored.push_back(*std::move(sealed));
    }
  }
  int erased = 0;
  for (const std::string& event : stored) {
    const absl::StatusOr<std::vector<FieldSealer::PartKey>> parts = FieldSealer::PartsOf(event);
    ASSERT_TRUE(parts.ok()) << parts.status();
    for (const FieldSealer::PartKey& part : *parts) {
      if (routing[part.data_class] || keys_->Erased(part.key_id).has_value()) continue;
      ASSERT_TRUE(keys_->Erase(part.key_id, {kNow, "request", "ROUTING"}).ok());
      ++erased;
    }
  }
  EXPECT_GT(erased, 5);
  for (size_t i = 0; i < stored.size(); ++i) {
    const absl::StatusOr<hub::v1::EventEnvelope> opened = sealer_->Open(stored[i]);
    ASSERT_TRUE(opened.ok()) << opened.status();
    hub::v1::CaseRelations before;
    hub::v1::CaseRelations after;
    policy.ApplyToRelations(originals[i], &before);
    policy.ApplyToRelations(*opened, &after);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(before, after))
        << originals[i].event_id();
    EXPECT_EQ(SharingPolicy::SubjectsOf(originals[i]), SharingPolicy::SubjectsOf(*opened))
        << originals[i].event_id();
  }
}

}  // namespace
}  // namespace hub::auth
