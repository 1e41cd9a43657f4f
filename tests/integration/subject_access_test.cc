// Subject access, played as the data protection officer and as the people
// the packs must not expose: a victim's pack holds her data and, marked for
// review, what concerns her and others, but never another victim's address
// or a child's school; a perpetrator's pack never holds a victim's
// whereabouts; the request is the operator's alone and is audited without
// naming the subject.
#include <sys/stat.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "auth/data_classes.h"
#include "auth/field_sealing.h"
#include "proto/field_words.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/admin_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"
#include "tools/demo/demo_site.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Each unique, so that finding one in a pack means it was handed over.
constexpr char kPerpetrator[] = "SAR-P1";
constexpr char kVictim[] = "SAR-V1";
constexpr char kOtherVictim[] = "SAR-V2";
constexpr char kChild[] = "SAR-K1";
constexpr char kStranger[] = "SAR-V3";
constexpr char kAddress[] = "CANARY-OWN-ADDRESS 3 Example Row";
constexpr char kDisclosure[] = "CANARY-OWN-DISCLOSURE she fears the weekends";
constexpr char kOtherAddress[] = "CANARY-OTHER-ADDRESS 8 Example Close";
constexpr char kSchool[] = "CANARY-SCHOOL Example Primary";
constexpr char kStrangerAddress[] = "CANARY-STRANGER-ADDRESS 1 Example Way";
constexpr char kExclusionZone[] = "CANARY-SHARED-ZONE Example Park";
constexpr char kSessionNotes[] = "CANARY-PERPETRATOR-NOTES attended, minimised";

class SubjectAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  grpc::Status Publish(const std::string& as, const std::string& case_id,
                       const std::function<void(hub::v1::EventEnvelope*)>& fill) {
    return PublishOne(pki_, hub_->address(), as, case_id, "5a5a5000-0000-4000-8000-", ++published_,
                      hub::v1::PURPOSE_SAFEGUARDING, fill);
  }

  // Case C-1: a perpetrator, two victims and a child; case C-2: a stranger.
  void RecordTheCases() {
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-1", "C-2"}).ok());
    auto link_victim = [](const char* id) {
      return [id](hub::v1::EventEnvelope* e) {
        auto* victim = e->mutable_subject_linked()->mutable_victim();
        victim->set_subject_id(id);
        victim->add_supporting_agencies("idva");
      };
    };
    auto safety = [](const char* id, const char* address, const char* notes) {
      return [id, address, notes](hub::v1::EventEnvelope* e) {
        hub::v1::VictimSafetyInformation* info = e->mutable_victim_safety_information();
        info->set_victim_subject_id(id);
        info->set_risk_change(hub::v1::REDUCED);
        info->set_current_address(address);
        info->set_disclosure_notes(notes);
      };
    };
    ASSERT_TRUE(Publish("police-agency", "C-1", [](hub::v1::EventEnvelope* e) {
                  e->mutable_subject_linked()->mutable_perpetrator()->set_subject_id(kPerpetrator);
                }).ok());
    ASSERT_TRUE(Publish("idva-agency", "C-1", link_victim(kVictim)).ok());
    ASSERT_TRUE(Publish("idva-agency", "C-1", link_victim(kOtherVictim)).ok());
    ASSERT_TRUE(Publish("childrens-services-agency", "C-1", [](hub::v1::EventEnvelope* e) {
                  auto* child = e->mutable_subject_linked()->mutable_child();
                  child->set_subject_id(kChild);
                  child->set_age_years(7);
                }).ok());
    ASSERT_TRUE(Publish("idva-agency", "C-1", safety(kVictim, kAddress, kDisclosure)).ok());
    ASSERT_TRUE(
        Publish("idva-agency", "C-1", safety(kOtherVictim, kOtherAddress, "other notes")).ok());
    ASSERT_TRUE(Publish("childrens-services-agency", "C-1", [](hub::v1::EventEnvelope* e) {
                  auto* info = e->mutable_child_safeguarding_information();
                  info->set_child_subject_id(kChild);
                  info->set_school(kSchool);
                }).ok());
    ASSERT_TRUE(Publish("police-agency", "C-1", [](hub::v1::EventEnvelope* e) {
                  hub::v1::DisruptionRecorded* order = e->mutable_disruption_recorded();
                  order->set_kind(hub::v1::DVPO);
                  order->add_protected_subject_ids(kVictim);
                  order->add_protected_subject_ids(kOtherVictim);
                  order->set_exclusion_zone(kExclusionZone);
                }).ok());
    ASSERT_TRUE(Publish("drive-agency", "C-1", [](hub::v1::EventEnvelope* e) {
                  hub::v1::EngagementRecorded* session = e->mutable_engagement_recorded();
                  session->set_kind(hub::v1::SESSION_ATTENDED);
                  session->set_case_manager_notes(kSessionNotes);
                }).ok());
    ASSERT_TRUE(Publish("idva-agency", "C-2", link_victim(kStranger)).ok());
    ASSERT_TRUE(
        Publish("idva-agency", "C-2", safety(kStranger, kStrangerAddress, "stranger notes")).ok());
  }

  CommandResult Hubctl(const std::string& as, const std::string& arguments) {
    return hub::testing::Hubctl(pki_, hub_->address(), as, arguments);
  }

  // The pack hubctl printed as JSON.
  hub::v1::SubjectAccessResponse PackOf(const CommandResult& result) {
    hub::v1::SubjectAccessResponse pack;
    const size_t start = result.output.find('{');
    EXPECT_NE(start, std::string::npos) << result.output;
    if (start == std::string::npos) return pack;
    std::string json = result.output.substr(start);
    json = json.substr(0, json.find('\n'));
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &pack).ok()) << json;
    return pack;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  const std::string data_ = dir_.Sub("data");
  std::unique_ptr<HubProcess> hub_;
  int published_ = 0;
};

std::vector<std::string> ValuesWith(const hub::v1::SubjectAccessResponse& pack,
                                    hub::v1::SubjectDataDisposition disposition) {
  std::vector<std::string> values;
  for (const hub::v1::HeldEvent& event : pack.events()) {
    for (const hub::v1::HeldValue& value : event.values()) {
      if (value.disposition() == disposition) values.push_back(value.value());
    }
  }
  return values;
}

TEST_F(SubjectAccessTest, AVictimGetsHerOwnDataAndNoOneElses) {
  RecordTheCases();
  // The police read the case: a disclosure the pack must report.
  ASSERT_FALSE(ReadCaseAs(pki_, hub_->address(), "police-agency", "C-1").empty());

  const std::string html = dir_.Sub("pack.html");
  const CommandResult result = Hubctl(
      "operator-admin",
      absl::StrCat("--json subject-access ", kVictim, " --reference=SAR-2026-007 --html=", html));
  ASSERT_EQ(result.exit_status, 0) << result.output;
  const hub::v1::SubjectAccessResponse pack = PackOf(result);
  ASSERT_EQ(pack.cases_size(), 1);
  EXPECT_EQ(pack.cases(0).case_id(), "C-1");
  EXPECT_EQ(pack.cases(0).role(), hub::v1::ADULT_VICTIM);

  // The events naming her, and only those: her link, her safety
  // information and the order protecting her.
  std::vector<std::string> types;
  for (const hub::v1::HeldEvent& event : pack.events()) types.push_back(event.event_type());
  EXPECT_THAT(types, ::testing::ElementsAre("subject_linked", "victim_safety_information",
                                            "disruption_recorded"));
  EXPECT_THAT(ValuesWith(pack, hub::v1::SUBJECTS_OWN),
              ::testing::IsSupersetOf(
                  {std::string(kVictim), std::string(kAddress), std::string(kDisclosure)}));
  // The order concerns both victims: its zone is released after review,
  // the other victim's id not at all.
  EXPECT_THAT(ValuesWith(pack, hub::v1::CONCERNS_OTHERS_TOO), ::testing::Contains(kExclusionZone));
  EXPECT_THAT(ValuesWith(pack, hub::v1::OTHER_PEOPLES), ::testing::Each(IsEmpty()));
  EXPECT_THAT(ValuesWith(pack, hub::v1::OTHER_PEOPLES), Not(IsEmpty()));

  // Nobody else's data leaves the hub, in the JSON or in the page.
  const std::string page = ReadFile(html);
  EXPECT_THAT(page, HasSubstr("Subject access pack: SAR-V1"));
  EXPECT_THAT(page, HasSubstr("SAR-2026-007"));
  EXPECT_THAT(page, HasSubstr(kAddress));
  EXPECT_THAT(page, HasSubstr("review: also concerns others"));
  for (const char* other : {kOtherVictim, kOtherAddress, kChild, kSchool, kStranger,
                            kStrangerAddress, kSessionNotes, kPerpetrator}) {
    EXPECT_THAT(result.output, Not(HasSubstr(other))) << other;
    EXPECT_THAT(page, Not(HasSubstr(other))) << other;
  }
  // The pack holds personal data: its file is its owner's alone.
  struct stat status {};
  ASSERT_EQ(::stat(html.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);

  // Who received it: the police's read of the case, under its rules.
  bool police_read = false;
  for (const hub::v1::SubjectDataDisclosure& disclosure : pack.disclosures()) {
    if (disclosure.recipient_agency() == "police" &&
        disclosure.action() == hub::v1::AUDIT_READ_CASE) {
      police_read = true;
      EXPECT_FALSE(disclosure.log_positions().empty());
      EXPECT_FALSE(disclosure.rules().empty());
    }
  }
  EXPECT_TRUE(police_read) << pack.DebugString();
}

TEST_F(SubjectAccessTest, APerpetratorsPackHoldsHisCaseButNoVictimsWhereabouts) {
  RecordTheCases();
  const CommandResult result = Hubctl(
      "operator-admin", absl::StrCat("--json subject-access ", kPerpetrator, " --reference=SAR-8"));
  ASSERT_EQ(result.exit_status, 0) << result.output;
  const hub::v1::SubjectAccessResponse pack = PackOf(result);
  ASSERT_EQ(pack.cases_size(), 1);
  EXPECT_EQ(pack.cases(0).role(), hub::v1::PERPETRATOR);
  // His case's record is his: every event of C-1 is in the pack.
  EXPECT_GE(pack.events_size(), 9);
  EXPECT_THAT(ValuesWith(pack, hub::v1::SUBJECTS_OWN), ::testing::Contains(kSessionNotes));
  for (const char* other : {kVictim, kOtherVictim, kAddress, kDisclosure, kOtherAddress, kChild,
                            kSchool, kExclusionZone, kStranger, kStrangerAddress}) {
    EXPECT_THAT(result.output, Not(HasSubstr(other))) << other;
  }
}

TEST_F(SubjectAccessTest, OnlyTheOperatorAsksAndTheAuditNamesNoSubject) {
  RecordTheCases();
  for (const char* partner : {"police-agency", "dapp-coordinator", "governance-auditor"}) {
    const CommandResult refused =
        Hubctl(partner, absl::StrCat("subject-access ", kVictim, " --reference=SAR-9"));
    EXPECT_EQ(refused.exit_status, 1) << partner;
    EXPECT_THAT(refused.output, HasSubstr("PERMISSION_DENIED")) << partner;
    EXPECT_THAT(refused.output, Not(HasSubstr(kAddress))) << partner;
  }
  const CommandResult unreferenced =
      Hubctl("operator-admin", absl::StrCat("subject-access ", kVictim));
  EXPECT_EQ(unreferenced.exit_status, 1);
  EXPECT_THAT(unreferenced.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(unreferenced.output, HasSubstr("reference"));

  // Nobody the hub does not know is invented: an unknown subject has an
  // empty pack.
  const CommandResult unknown =
      Hubctl("operator-admin", "subject-access SAR-NOBODY --reference=SAR-10");
  ASSERT_EQ(unknown.exit_status, 0) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("0 event(s) in 0 case(s)"));

  const CommandResult answered =
      Hubctl("operator-admin", absl::StrCat("subject-access ", kVictim, " --reference=SAR-11"));
  ASSERT_EQ(answered.exit_status, 0) << answered.output;
  EXPECT_THAT(answered.output, HasSubstr("3 event(s) in 1 case(s)"));
  const CommandResult audit = Hubctl("governance-auditor", "--json audit query --newest_first");
  ASSERT_EQ(audit.exit_status, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr("AUDIT_SUBJECT_ACCESS"));
  EXPECT_THAT(audit.output, HasSubstr("subject access request SAR-11"));
  // The refusals are audited too, and no record names her.
  EXPECT_THAT(audit.output, HasSubstr("answers subject access requests"));
  EXPECT_THAT(audit.output, Not(HasSubstr(kVictim)));
}

// Over the demonstration site, checked against the site as generated: the
// pack holds every event that names the subject, and no value of a victim
// or child field of an event that does not.
TEST_F(SubjectAccessTest, OverTheDemoSiteEveryEventNamingTheSubjectAndNoOneElsesProtectedData) {
  const CommandResult demo = Hubctl("operator-admin", "demo --scale=0.1 --parallel=4");
  ASSERT_EQ(demo.exit_status, 0) << demo.output;
  tools::DemoOptions options;
  options.scale = 0.1;
  const tools::DemoSite site = tools::GenerateDemoSite(options);

  // A victim of the site named in the most events.
  std::map<std::string, std::set<std::string>> events_naming;
  for (const tools::DemoCase& demo_case : site.cases) {
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        if (event.has_subject_linked() && event.subject_linked().has_perpetrator()) continue;
        for (const std::string& subject : auth::SubjectsOf(event)) {
          events_naming[subject].insert(event.event_id());
        }
      }
    }
  }
  std::string subject;
  for (const auto& [id, events] : events_naming) {
    if (subject.empty() || events.size() > events_naming[subject].size()) subject = id;
  }
  ASSERT_FALSE(subject.empty());

  // Every string of a victim or child field in an event not naming her.
  std::set<std::string> protected_values;
  for (const tools::DemoCase& demo_case : site.cases) {
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        if (events_naming[subject].count(event.event_id()) > 0) continue;
        const google::protobuf::Message* body = auth::EventOf(event);
        ForEachValue(*body, "",
                     [&](const google::protobuf::FieldDescriptor* field, const std::string&, int,
                         const std::string& words) {
                       // Ids, addresses, numbers and notes; not agency names, which
                       // the pack names as recipients and producers.
                       const bool distinctive =
                           words.size() >= 6 &&
                           words.find_first_of(" 0123456789") != std::string::npos;
                       if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
                           auth::BelongsToTheSubject(auth::FieldClass(*field)) && distinctive) {
                         protected_values.insert(words);
                       }
                     });
      }
    }
  }

  const CommandResult result = Hubctl(
      "operator-admin", absl::StrCat("--json subject-access ", subject, " --reference=SAR-DEMO"));
  ASSERT_EQ(result.exit_status, 0) << result.output;
  const hub::v1::SubjectAccessResponse pack = PackOf(result);
  std::set<std::string> held;
  std::set<std::string> own_values;
  for (const hub::v1::HeldEvent& event : pack.events()) {
    held.insert(event.event_id());
    for (const hub::v1::HeldValue& value : event.values()) own_values.insert(value.value());
  }
  EXPECT_EQ(held, events_naming[subject]);
  for (const std::string& value : protected_values) {
    // A value she shares with someone (a refuge's street) is hers too.
    if (own_values.count(value) > 0) continue;
    EXPECT_THAT(result.output, Not(HasSubstr(value)));
  }
  EXPECT_FALSE(protected_values.empty());
}

}  // namespace
}  // namespace hub::testing
