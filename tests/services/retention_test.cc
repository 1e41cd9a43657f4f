// When retention rules run out, judged from what the log says: from the
// hub's recorded time (never a publisher's occurred time), stopped by a
// reopening, and, for a subject, only once every case naming the subject
// has run out.
#include "services/retention.h"

#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/sharing_protocol.h"

namespace hub::services {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const absl::Time kDay0 = absl::FromCivil(absl::CivilDay(2026, 1, 1), absl::UTCTimeZone());

absl::Time Day(int days) { return kDay0 + absl::Hours(24) * days; }

hub::v1::SharingProtocol Protocol() {
  absl::StatusOr<auth::LoadedProtocol> loaded =
      auth::ParseSharingProtocol(R"pb(
                                   partnership: "drive.example"
                                   version: "1"
                                   case_lifecycle {
                                     opened_by: "referral_received"
                                     closed_by: "case_closed"
                                     reopened_by: "case_reopened"
                                   }
                                   retention {
                                     name: "whereabouts-1y"
                                     data_classes: [ VICTIM_LOCATION ]
                                     after: "case_closed"
                                     keep_days: 365
                                     reason: "DPIA"
                                   }
                                   retention {
                                     name: "record-6y"
                                     data_classes: [ OFFENDING ]
                                     after: "case_closed"
                                     keep_days: 2190
                                     reason: "MoPI"
                                   }
                                 )pb",
                                 "test");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded->protocol;
}

hub::v1::EventEnvelope Event(const std::string& case_id, int recorded_day) {
  hub::v1::EventEnvelope envelope;
  envelope.set_case_id(case_id);
  envelope.mutable_recorded_time()->set_seconds(absl::ToUnixSeconds(Day(recorded_day)));
  return envelope;
}

hub::v1::EventEnvelope Whereabouts(const std::string& case_id, const std::string& victim, int day) {
  hub::v1::EventEnvelope envelope = Event(case_id, day);
  envelope.mutable_victim_safety_information()->set_victim_subject_id(victim);
  envelope.mutable_victim_safety_information()->set_current_address("1 Any Street");
  return envelope;
}

hub::v1::EventEnvelope Order(const std::string& case_id, int day) {
  hub::v1::EventEnvelope envelope = Event(case_id, day);
  envelope.mutable_disruption_recorded()->set_conditions("no contact");
  return envelope;
}

hub::v1::EventEnvelope Closed(const std::string& case_id, int day) {
  hub::v1::EventEnvelope envelope = Event(case_id, day);
  envelope.mutable_case_closed()->set_reason(hub::v1::ClosureReason(1));
  return envelope;
}

hub::v1::EventEnvelope Reopened(const std::string& case_id, int day) {
  hub::v1::EventEnvelope envelope = Event(case_id, day);
  envelope.mutable_case_reopened()->set_reason("new incident");
  return envelope;
}

using Key = std::tuple<std::string, std::string, std::string, hub::v1::DataClass>;

std::vector<Key> Keys(const std::vector<DueErasure>& due) {
  std::vector<Key> keys;
  for (const DueErasure& erasure : due) {
    keys.emplace_back(erasure.rule->name(), erasure.owner.scope, erasure.owner.name,
                      erasure.data_class);
  }
  return keys;
}

TEST(RetentionTest, ContentGoesWhenItsPeriodAfterClosureHasRun) {
  const hub::v1::SharingProtocol protocol = Protocol();
  RetentionFacts facts(protocol);
  facts.Add(Whereabouts("C-1", "V-1", 10));
  facts.Add(Order("C-1", 20));
  facts.Add(Closed("C-1", 100));
  EXPECT_THAT(facts.Due(Day(100 + 364)), IsEmpty());
  const std::vector<DueErasure> year = facts.Due(Day(100 + 365));
  EXPECT_THAT(Keys(year), UnorderedElementsAre(
                              Key{"whereabouts-1y", "subject", "V-1", hub::v1::VICTIM_LOCATION}));
  EXPECT_EQ(year.front().due, Day(465));
  EXPECT_THAT(
      Keys(facts.Due(Day(100 + 2190))),
      UnorderedElementsAre(Key{"whereabouts-1y", "subject", "V-1", hub::v1::VICTIM_LOCATION},
                           Key{"record-6y", "case", "C-1", hub::v1::OFFENDING}));
}

TEST(RetentionTest, AnOpenOrReopenedCaseKeepsEverything) {
  const hub::v1::SharingProtocol protocol = Protocol();
  RetentionFacts facts(protocol);
  facts.Add(Whereabouts("C-1", "V-1", 10));
  facts.Add(Order("C-2", 10));
  facts.Add(Closed("C-2", 50));
  facts.Add(Reopened("C-2", 60));
  EXPECT_THAT(facts.Due(Day(5000)), IsEmpty());
  // Closed again: the clock runs from the new closure.
  facts.Add(Closed("C-2", 400));
  EXPECT_THAT(facts.Due(Day(400 + 2189)), IsEmpty());
  EXPECT_THAT(Keys(facts.Due(Day(400 + 2190))),
              UnorderedElementsAre(Key{"record-6y", "case", "C-2", hub::v1::OFFENDING}));
}

TEST(RetentionTest, ASubjectNamedInAnOpenCaseIsKept) {
  const hub::v1::SharingProtocol protocol = Protocol();
  RetentionFacts facts(protocol);
  facts.Add(Whereabouts("C-1", "V-1", 10));
  facts.Add(Closed("C-1", 20));
  // The same victim in another case of another perpetrator, still open.
  facts.Add(Whereabouts("C-2", "V-1", 30));
  EXPECT_THAT(facts.Due(Day(3000)), IsEmpty());
  facts.Add(Closed("C-2", 500));
  const std::vector<DueErasure> due = facts.Due(Day(500 + 365));
  EXPECT_THAT(Keys(due), UnorderedElementsAre(
                             Key{"whereabouts-1y", "subject", "V-1", hub::v1::VICTIM_LOCATION}));
  // Due when the last case's period ran out.
  EXPECT_EQ(due.front().due, Day(865));
}

TEST(RetentionTest, ThePublishersOccurredTimeCannotHastenAnErasure) {
  const hub::v1::SharingProtocol protocol = Protocol();
  RetentionFacts facts(protocol);
  facts.Add(Order("C-1", 10));
  // Closed "ten years ago" by the publisher's account, recorded on day 20.
  hub::v1::EventEnvelope closed = Closed("C-1", 20);
  closed.mutable_occurred_time()->set_seconds(absl::ToUnixSeconds(Day(-3650)));
  facts.Add(closed);
  EXPECT_THAT(facts.Due(Day(21)), IsEmpty());
  EXPECT_THAT(facts.Due(Day(20 + 2189)), IsEmpty());
}

TEST(RetentionTest, TheProtocolRefusesRulesThatCannotBeApplied) {
  const std::string base = R"pb(
    partnership: "drive.example" version: "1"
  )pb";
  for (const char* rule : {
           // Not personal: never sealed, so no key to destroy.
           R"pb(retention {
                  name: "a"
                  data_classes: [ ACTIONS ]
                  after: "case_closed"
                  keep_days: 1
                  reason: "r"
                })pb",
           R"pb(retention {
                  name: "a"
                  data_classes: [ HEALTH ]
                  after: "no_such_event"
                  keep_days: 1
                  reason: "r"
                })pb",
           R"pb(retention {
                  name: "a"
                  data_classes: [ HEALTH ]
                  after: "case_closed"
                  keep_days: 0
                  reason: "r"
                })pb",
           R"pb(retention {
                  name: "a"
                  data_classes: [ HEALTH ]
                  after: "case_closed"
                  keep_days: 1
                })pb",
           R"pb(retention {
                  name: "a"
                  data_classes: [ HEALTH ]
                  after: "case_closed"
                  keep_days: 1
                  reason: "r"
                }
                retention {
                  name: "b"
                  data_classes: [ HEALTH ]
                  after: "case_closed"
                  keep_days: 9
                  reason: "r"
                })pb",
       }) {
    EXPECT_FALSE(auth::ParseSharingProtocol(base + rule, "test").ok()) << rule;
  }
}

TEST(RetentionTest, TheProtocolWarnsWhenAVictimsContentOutlivesHerId) {
  const absl::StatusOr<auth::LoadedProtocol> loaded =
      auth::ParseSharingProtocol(R"pb(
                                   partnership: "drive.example"
                                   version: "1"
                                   retention {
                                     name: "id-1y"
                                     data_classes: [ VICTIM_IDENTITY ]
                                     after: "case_closed"
                                     keep_days: 365
                                     reason: "r"
                                   }
                                   retention {
                                     name: "whereabouts-2y"
                                     data_classes: [ VICTIM_LOCATION ]
                                     after: "case_closed"
                                     keep_days: 730
                                     reason: "r"
                                   }
                                 )pb",
                                 "test");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(
      loaded->warnings,
      ::testing::Contains(::testing::HasSubstr("VICTIM_LOCATION may outlive VICTIM_IDENTITY")));
  // Her disclosures have no rule at all: kept until erased on request, after her id is gone.
  EXPECT_THAT(loaded->warnings,
              ::testing::Contains(::testing::HasSubstr("VICTIM_DISCLOSURE may outlive")));
}

}  // namespace
}  // namespace hub::services
