// Whose data each value of an event is, seen from the subject of a request,
// and which audit records disclosed the subject's events: the rules the
// subject access pack is built from, on events made here.
#include "services/subject_access.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hub::services {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::map<std::string, hub::v1::SubjectDataDisposition> Dispositions(
    const hub::v1::HeldEvent& held) {
  std::map<std::string, hub::v1::SubjectDataDisposition> by_field;
  for (const hub::v1::HeldValue& value : held.values()) {
    by_field[value.field() + "=" + value.value()] = value.disposition();
  }
  return by_field;
}

hub::v1::EventEnvelope Order() {
  hub::v1::EventEnvelope envelope;
  envelope.set_case_id("C-1");
  hub::v1::DisruptionRecorded* order = envelope.mutable_disruption_recorded();
  order->set_kind(hub::v1::DVPO);
  order->add_protected_subject_ids("V1");
  order->add_protected_subject_ids("V2");
  order->set_exclusion_zone("the park");
  return envelope;
}

TEST(SubjectAccessTest, AnOrderProtectingTwoVictimsIsEachOnesOnlyInPart) {
  const CaseSubjects case_subjects{{"P1"}};
  EXPECT_EQ(Dispositions(HeldEventOf(Order(), 8, "V1", case_subjects)),
            (std::map<std::string, hub::v1::SubjectDataDisposition>{
                {"disruption_recorded.kind=DVPO", hub::v1::CONCERNS_OTHERS_TOO},
                {"disruption_recorded.protected_subject_ids=V1", hub::v1::SUBJECTS_OWN},
                {"disruption_recorded.protected_subject_ids=", hub::v1::OTHER_PEOPLES},
                {"disruption_recorded.exclusion_zone=the park", hub::v1::CONCERNS_OTHERS_TOO}}));
  // To the perpetrator, the order is his record; where the victims are
  // protected is theirs.
  EXPECT_EQ(Dispositions(HeldEventOf(Order(), 8, "P1", case_subjects)),
            (std::map<std::string, hub::v1::SubjectDataDisposition>{
                {"disruption_recorded.kind=DVPO", hub::v1::SUBJECTS_OWN},
                {"disruption_recorded.protected_subject_ids=", hub::v1::OTHER_PEOPLES},
                {"disruption_recorded.exclusion_zone=", hub::v1::OTHER_PEOPLES}}));
}

TEST(SubjectAccessTest, AVictimsOwnEventIsHersAndAClosuresVictimFieldsAreNotHis) {
  hub::v1::EventEnvelope safety;
  safety.set_case_id("C-1");
  safety.mutable_victim_safety_information()->set_victim_subject_id("V1");
  safety.mutable_victim_safety_information()->set_current_address("1 Example Row");
  const hub::v1::HeldEvent held = HeldEventOf(safety, 3, "V1", CaseSubjects{{"P1"}});
  for (const hub::v1::HeldValue& value : held.values()) {
    EXPECT_EQ(value.disposition(), hub::v1::SUBJECTS_OWN) << value.field();
  }
  EXPECT_EQ(held.log_position(), 3u);
  EXPECT_EQ(held.event_type(), "victim_safety_information");

  hub::v1::EventEnvelope closed;
  closed.set_case_id("C-1");
  closed.mutable_case_closed()->set_reason(hub::v1::RISK_REDUCED);
  closed.mutable_case_closed()->set_idva_reported_risk_change(hub::v1::REDUCED);
  EXPECT_EQ(Dispositions(HeldEventOf(closed, 9, "P1", CaseSubjects{{"P1"}})),
            (std::map<std::string, hub::v1::SubjectDataDisposition>{
                {"case_closed.reason=risk reduced", hub::v1::SUBJECTS_OWN},
                {"case_closed.idva_reported_risk_change=", hub::v1::OTHER_PEOPLES}}));
}

TEST(SubjectAccessTest, ADisclosureCoversTheSubjectsEventsInItsRangeTypesAndCase) {
  hub::v1::SubjectAccessResponse pack;
  for (const auto& [position, type] :
       std::map<uint64_t, std::string>{{3, "victim_safety_information"},
                                       {8, "disruption_recorded"},
                                       {12, "victim_safety_information"}}) {
    hub::v1::HeldEvent* event = pack.add_events();
    event->set_case_id("C-1");
    event->set_log_position(position);
    event->set_event_type(type);
    event->add_values()->set_disposition(hub::v1::SUBJECTS_OWN);
  }
  hub::v1::AuditRecord delivery;
  delivery.set_decision(hub::v1::AUDIT_ALLOWED);
  delivery.set_action(hub::v1::AUDIT_DELIVER);
  delivery.add_disclosed_case_ids("C-7");
  delivery.add_disclosed_case_ids("C-1");
  delivery.set_first_position(1);
  delivery.set_last_position(10);
  delivery.add_event_types("disruption_recorded");
  delivery.add_rules("police-disruption");
  delivery.set_agency("police");
  hub::v1::SubjectDataDisclosure disclosure;
  ASSERT_TRUE(DisclosureOf(delivery, 41, "C-1", pack, false, &disclosure));
  // Position 3 is in range but of a type the police were not sent.
  EXPECT_THAT(disclosure.log_positions(), ElementsAre(8u));
  EXPECT_EQ(disclosure.audit_index(), 41u);
  EXPECT_THAT(disclosure.rules(), ElementsAre("police-disruption"));

  // Another case, a denial, or a publish discloses nothing of hers.
  EXPECT_FALSE(DisclosureOf(delivery, 41, "C-2", pack, false, &disclosure));
  hub::v1::AuditRecord denied = delivery;
  denied.set_decision(hub::v1::AUDIT_DENIED);
  EXPECT_FALSE(DisclosureOf(denied, 42, "C-1", pack, false, &disclosure));
  hub::v1::AuditRecord publish = delivery;
  publish.set_action(hub::v1::AUDIT_PUBLISH);
  EXPECT_FALSE(DisclosureOf(publish, 43, "C-1", pack, false, &disclosure));

  // A case overview is the perpetrator's data, not a victim's.
  hub::v1::AuditRecord overview;
  overview.set_decision(hub::v1::AUDIT_ALLOWED);
  overview.set_action(hub::v1::AUDIT_LIST_CASES);
  overview.add_listed_case_ids("C-1");
  EXPECT_FALSE(DisclosureOf(overview, 44, "C-1", pack, false, &disclosure));
  ASSERT_TRUE(DisclosureOf(overview, 44, "C-1", pack, true, &disclosure));
  EXPECT_THAT(disclosure.log_positions(), IsEmpty());
}

}  // namespace
}  // namespace hub::services
