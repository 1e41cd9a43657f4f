// Rectification (UK GDPR Art 16, DPA 2018 s46), played as the advocate who
// recorded a wrong address, the partners who read it, and the ones who must
// not learn anything from its correction: readers get the corrected value
// and, if they may see the field, who corrected it and when; nobody else
// may correct another agency's record; positions keep their meaning and
// the views derived again from the log say the same.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/error_details.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/event_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kCase[] = "C-RECT-1";
constexpr char kVictim[] = "V-RECT-1";
constexpr char kIdPrefix[] = "7ec70000-0000-4000-8000-";
constexpr char kWrongAddress[] = "CANARY-WRONG 1 Example Row";
constexpr char kRightAddress[] = "CANARY-RIGHT 11 Example Row";

std::string EventId(uint64_t number) { return absl::StrFormat("%s%012x", kIdPrefix, number); }

class RectificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Start();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {kCase}).ok());
    ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                  auto* victim = e->mutable_subject_linked()->mutable_victim();
                  victim->set_subject_id(kVictim);
                  victim->add_supporting_agencies("idva");
                }).ok());
    ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                  hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                  safety->set_victim_subject_id(kVictim);
                  safety->set_risk_change(hub::v1::REDUCED);
                  safety->set_current_address(kWrongAddress);
                }).ok());
    safety_event_ = EventId(published_);
    ASSERT_TRUE(Publish("police-agency", [](hub::v1::EventEnvelope* e) {
                  hub::v1::RiskAssessed* risk = e->mutable_risk_assessed();
                  risk->set_tool(hub::v1::DASH);
                  risk->set_victim_subject_id(kVictim);
                  risk->set_risk_level(hub::v1::RISK_HIGH);
                }).ok());
    risk_event_ = EventId(published_);
  }

  void Start() {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  grpc::Status Publish(const std::string& as,
                       const std::function<void(hub::v1::EventEnvelope*)>& fill) {
    return PublishOne(pki_, hub_->address(), as, kCase, kIdPrefix, ++published_,
                      hub::v1::PURPOSE_SAFEGUARDING, fill);
  }

  // The advocate's correction of the address (or what `change` makes of it).
  grpc::Status CorrectAddress(
      const std::string& as,
      const std::function<void(hub::v1::RecordCorrected*)>& change = [](auto*) {}) {
    return Publish(as, [&](hub::v1::EventEnvelope* e) {
      hub::v1::RecordCorrected* correction = e->mutable_record_corrected();
      correction->set_corrected_event_id(safety_event_);
      correction->add_fields("current_address");
      correction->set_reason("the house number was recorded wrongly");
      hub::v1::VictimSafetyInformation* values = correction->mutable_victim_safety_information();
      values->set_victim_subject_id(kVictim);
      values->set_current_address(kRightAddress);
      change(correction);
    });
  }

  std::vector<hub::v1::EventEnvelope> Read(const std::string& as) {
    return ReadCaseAs(pki_, hub_->address(), as, kCase);
  }

  CommandResult Hubctl(const std::string& as, const std::string& arguments) {
    return hub::testing::Hubctl(pki_, hub_->address(), as, arguments);
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  const std::string data_ = dir_.Sub("data");
  std::unique_ptr<HubProcess> hub_;
  uint64_t published_ = 0;
  std::string safety_event_;
  std::string risk_event_;
};

const hub::v1::EventEnvelope* Find(const std::vector<hub::v1::EventEnvelope>& events,
                                   const std::string& event_id) {
  for (const hub::v1::EventEnvelope& event : events) {
    if (event.event_id() == event_id) return &event;
  }
  return nullptr;
}

TEST_F(RectificationTest, ReadersGetTheCorrectedValueAndThoseWhoMaySeeItAreToldWho) {
  const std::vector<hub::v1::EventEnvelope> police_before = Read("police-agency");
  ASSERT_TRUE(CorrectAddress("idva-agency").ok());
  const std::string correction_event = EventId(published_);

  for (const char* reader : {"idva-agency", "police-agency"}) {
    const std::vector<hub::v1::EventEnvelope> events = Read(reader);
    const hub::v1::EventEnvelope* safety = Find(events, safety_event_);
    ASSERT_NE(safety, nullptr) << reader;
    EXPECT_EQ(safety->victim_safety_information().current_address(), kRightAddress) << reader;
    // The rest of the record is as recorded.
    EXPECT_EQ(safety->victim_safety_information().risk_change(), hub::v1::REDUCED);
    ASSERT_EQ(safety->corrections_size(), 1) << reader;
    EXPECT_EQ(safety->corrections(0).corrected_by(), "idva");
    EXPECT_EQ(safety->corrections(0).correction_event_id(), correction_event);
    ASSERT_EQ(safety->corrections(0).fields_size(), 1);
    EXPECT_EQ(safety->corrections(0).fields(0).field(), "current_address");
    EXPECT_TRUE(safety->corrections(0).has_corrected_at());
    // The correction is an event of its own, after what it corrects.
    EXPECT_NE(Find(events, correction_event), nullptr) << reader;
    for (const hub::v1::EventEnvelope& event : events) {
      EXPECT_THAT(event.DebugString(), Not(HasSubstr(kWrongAddress))) << reader;
    }
    // Numbers still count only what the reader sees, one by one.
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].stream_version(), i + 1) << reader;
    }
  }
  // Positions the police were given before still name the same events.
  const std::vector<hub::v1::EventEnvelope> police_after = Read("police-agency");
  ASSERT_EQ(police_after.size(), police_before.size() + 1);
  for (size_t i = 0; i < police_before.size(); ++i) {
    EXPECT_EQ(police_after[i].event_id(), police_before[i].event_id());
    EXPECT_EQ(police_after[i].global_position(), police_before[i].global_position());
  }

  // The Drive provider sees the victim's risk summary but never where she
  // lives: neither the address nor that an address was corrected.
  const std::vector<hub::v1::EventEnvelope> drive = Read("drive-agency");
  const hub::v1::EventEnvelope* safety = Find(drive, safety_event_);
  ASSERT_NE(safety, nullptr);
  EXPECT_THAT(safety->victim_safety_information().current_address(), IsEmpty());
  EXPECT_EQ(safety->corrections_size(), 0);
  EXPECT_EQ(Find(drive, correction_event), nullptr);
  for (size_t i = 0; i < drive.size(); ++i) EXPECT_EQ(drive[i].stream_version(), i + 1);

  // Timelines say it in words.
  const CommandResult timeline = Hubctl("police-agency", absl::StrCat("timeline ", kCase));
  ASSERT_EQ(timeline.exit_status, 0) << timeline.output;
  EXPECT_THAT(timeline.output, HasSubstr("corrected on"));
  EXPECT_THAT(timeline.output, HasSubstr("by idva: current address"));
  EXPECT_THAT(timeline.output, HasSubstr("Record corrected"));

  // Derived again from the log, the views are the same.
  ASSERT_EQ(hub_->Stop(), 0);
  const CommandResult views =
      RunCommand(absl::StrCat(HUBCTL_PATH, " views verify --data_dir=", data_));
  EXPECT_EQ(views.exit_status, 0) << views.output;
  EXPECT_THAT(views.output, HasSubstr("views verified"));
  EXPECT_THAT(FilesContaining(data_, kWrongAddress), IsEmpty());
  // And built from nothing, they keep every number.
  std::filesystem::remove_all(data_ + "/views");
  Start();
  const std::vector<hub::v1::EventEnvelope> rebuilt = Read("police-agency");
  ASSERT_EQ(rebuilt.size(), police_after.size());
  for (size_t i = 0; i < rebuilt.size(); ++i) {
    EXPECT_EQ(rebuilt[i].DebugString(), police_after[i].DebugString());
  }
}

// A correction of two fields, one the Drive provider may see (the risk
// summary) and one it may not (the address): it learns of the first only.
TEST_F(RectificationTest, EachReaderIsToldOnlyOfTheFieldsItMaySee) {
  ASSERT_TRUE(CorrectAddress("idva-agency", [](hub::v1::RecordCorrected* c) {
                c->add_fields("risk_change");
                c->mutable_victim_safety_information()->set_risk_change(hub::v1::UNCHANGED);
              }).ok());
  const std::string correction_event = EventId(published_);
  const std::vector<hub::v1::EventEnvelope> drive = Read("drive-agency");
  const hub::v1::EventEnvelope* safety = Find(drive, safety_event_);
  ASSERT_NE(safety, nullptr);
  EXPECT_EQ(safety->victim_safety_information().risk_change(), hub::v1::UNCHANGED);
  EXPECT_THAT(safety->victim_safety_information().current_address(), IsEmpty());
  ASSERT_EQ(safety->corrections_size(), 1);
  ASSERT_EQ(safety->corrections(0).fields_size(), 1);
  EXPECT_EQ(safety->corrections(0).fields(0).field(), "risk_change");
  const hub::v1::EventEnvelope* correction = Find(drive, correction_event);
  ASSERT_NE(correction, nullptr);
  EXPECT_THAT(correction->record_corrected().fields(), ::testing::ElementsAre("risk_change"));
  EXPECT_THAT(correction->DebugString(), Not(HasSubstr("current_address")));
  EXPECT_THAT(correction->DebugString(), Not(HasSubstr("CANARY")));
  // The advocate is told of both.
  const std::vector<hub::v1::EventEnvelope> idva = Read("idva-agency");
  const hub::v1::EventEnvelope* own = Find(idva, correction_event);
  ASSERT_NE(own, nullptr);
  EXPECT_THAT(own->record_corrected().fields(),
              ::testing::ElementsAre("current_address", "risk_change"));
}

TEST_F(RectificationTest, ACorrectedRiskLevelMovesTheCaseInThePanelList) {
  const CommandResult before = Hubctl("dapp-coordinator", "cases --min_risk=high");
  ASSERT_EQ(before.exit_status, 0) << before.output;
  EXPECT_THAT(before.output, HasSubstr(kCase));
  ASSERT_TRUE(Publish("police-agency", [&](hub::v1::EventEnvelope* e) {
                hub::v1::RecordCorrected* correction = e->mutable_record_corrected();
                correction->set_corrected_event_id(risk_event_);
                correction->add_fields("risk_level");
                correction->set_reason("the level was entered before the professional review");
                correction->mutable_risk_assessed()->set_victim_subject_id(kVictim);
                correction->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_MEDIUM);
              }).ok());
  const CommandResult after = Hubctl("dapp-coordinator", "cases --min_risk=high");
  ASSERT_EQ(after.exit_status, 0) << after.output;
  EXPECT_THAT(after.output, Not(HasSubstr(kCase)));
  const CommandResult medium = Hubctl("dapp-coordinator", "cases --min_risk=medium");
  EXPECT_THAT(medium.output, HasSubstr(kCase));
}

// Played as a partner correcting what it did not record, and as careless
// correctors: each is refused with a reason and nothing is stored.
TEST_F(RectificationTest, OnlyTheRecordingAgencyCorrectsAndOnlyValuesOfItsOwnEvent) {
  const size_t events_before = Read("idva-agency").size();
  const grpc::Status not_theirs = CorrectAddress("police-agency");
  EXPECT_EQ(not_theirs.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(not_theirs.error_message(), HasSubstr("only the agency that recorded"));
  const std::optional<google::rpc::ErrorInfo> info = DetailOf<google::rpc::ErrorInfo>(not_theirs);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "NOT_THE_RECORDER");
  // Housing is not involved in the case: it is told nothing of it, not
  // even that it exists.
  const grpc::Status housing = CorrectAddress("housing-agency");
  EXPECT_EQ(housing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DetailOf<google::rpc::ErrorInfo>(housing)->reason(), "CASE_NOT_KNOWN");

  const grpc::Status unknown = CorrectAddress("idva-agency", [](hub::v1::RecordCorrected* c) {
    c->set_corrected_event_id("7ec70000-0000-4000-8000-ffffffffffff");
  });
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  const grpc::Status another_victim =
      CorrectAddress("idva-agency", [](hub::v1::RecordCorrected* c) {
        c->mutable_victim_safety_information()->set_victim_subject_id("V-RECT-OTHER");
      });
  EXPECT_EQ(another_victim.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(another_victim.error_message(), HasSubstr("never whom an event is about"));
  const grpc::Status subject = CorrectAddress(
      "idva-agency", [](hub::v1::RecordCorrected* c) { c->add_fields("victim_subject_id"); });
  EXPECT_EQ(subject.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(subject.error_message(), HasSubstr("names a subject"));
  const grpc::Status unnamed = CorrectAddress("idva-agency", [](hub::v1::RecordCorrected* c) {
    c->mutable_victim_safety_information()->set_safe_phone_number("07700 900123");
  });
  EXPECT_EQ(unnamed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unnamed.error_message(), HasSubstr("not named in fields"));
  const grpc::Status other_type = CorrectAddress("idva-agency", [](hub::v1::RecordCorrected* c) {
    c->clear_fields();
    c->add_fields("risk_level");
    c->mutable_risk_assessed()->set_victim_subject_id(kVictim);
  });
  EXPECT_EQ(other_type.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status no_such_field = CorrectAddress(
      "idva-agency", [](hub::v1::RecordCorrected* c) { c->add_fields("shoe_size"); });
  EXPECT_EQ(no_such_field.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status stamped = Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
    e->mutable_case_reopened()->set_reason("x");
    e->add_corrections()->set_corrected_by("idva");
  });
  EXPECT_EQ(stamped.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_EQ(Read("idva-agency").size(), events_before);
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    EXPECT_EQ(event.corrections_size(), 0);
  }
}

}  // namespace
}  // namespace hub::testing
