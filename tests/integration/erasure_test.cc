// Forgetting lawfully, played with canaries: a victim's whereabouts and
// what she told her advocate are never on disk in the clear; erasing her on
// request destroys her key, is recorded, and leaves the log's proofs whole.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "auth/data_keys.h"
#include "auth/field_sealing.h"
#include "auth/key_encryption.h"
#include "storage/internal/encrypted_files.h"
#include "storage/view_store.h"
#include "tests/integration/hub_process.h"
#include "tests/integration/views_key.h"
#include "tests/storage/raw_views.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/admin_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Each one unique, so that finding it anywhere on disk means it leaked.
constexpr char kVictim[] = "CANARY-SUBJ-V9";
constexpr char kAddress[] = "CANARY-ADDR 51 Refuge Road";
constexpr char kDisclosure[] = "CANARY-DISCLOSURE he waits outside the school";
constexpr char kConditions[] = "CANARY-CONDITIONS no contact with V9";

class ErasureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Start();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-9"}).ok());
    ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                  auto* victim = e->mutable_subject_linked()->mutable_victim();
                  victim->set_subject_id(kVictim);
                  victim->add_supporting_agencies("idva");
                }).ok());
    ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                  hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                  safety->set_victim_subject_id(kVictim);
                  safety->set_risk_change(hub::v1::SIGNIFICANTLY_REDUCED);
                  safety->set_current_address(kAddress);
                  safety->set_disclosure_notes(kDisclosure);
                }).ok());
    ASSERT_TRUE(Publish("police-agency", [](hub::v1::EventEnvelope* e) {
                  hub::v1::DisruptionRecorded* order = e->mutable_disruption_recorded();
                  order->set_kind(hub::v1::DVPO);
                  order->set_conditions(kConditions);
                }).ok());
  }

  void Start() {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  grpc::Status Publish(const std::string& as,
                       const std::function<void(hub::v1::EventEnvelope*)>& fill) {
    return PublishOne(pki_, hub_->address(), as, "C-9", "e9a5e000-0000-4000-8000-", ++published_,
                      hub::v1::PURPOSE_SAFEGUARDING, fill);
  }

  std::vector<hub::v1::EventEnvelope> Read(const std::string& as) {
    return ReadCaseAs(pki_, hub_->address(), as, "C-9");
  }

  // As an insider holding the data and keys folders: the first entry of
  // the views' index of sealed content, deleted.
  void TakeOutOfTheViewsKeyIndex() {
    const absl::StatusOr<std::string> views_key = ViewsKeyOf(data_ + "-keys", data_);
    ASSERT_TRUE(views_key.ok()) << views_key.status();
    storage::RawViews views(data_ + "/views", *views_key);
    ASSERT_TRUE(views.ok());
    const std::string first = views.FirstKey(views.keys());
    ASSERT_FALSE(first.empty());
    views.Delete(views.keys(), first);
  }

  CommandResult Hubctl(const std::string& as, const std::string& arguments) {
    return hub::testing::Hubctl(pki_, hub_->address(), as, arguments);
  }

  // After her whole erasure: her advocate still has her events, with
  // nothing of her in them.
  void ExpectHerAdvocateKeepsHerEventsWithNothingOfHer() {
    bool still_seen = false;
    for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
      EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr(kVictim)));
      EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr(kDisclosure)));
      still_seen |= event.has_victim_safety_information();
    }
    EXPECT_TRUE(still_seen);
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  const std::string data_ = dir_.Sub("data");
  std::unique_ptr<HubProcess> hub_;
  int published_ = 0;
};

TEST_F(ErasureTest, NoFileOfTheDataFolderNorABackupHoldsAPersonalValueInTheClear) {
  // Readers still get everything the protocol gives them.
  bool seen = false;
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    if (!event.has_victim_safety_information()) continue;
    EXPECT_EQ(event.victim_safety_information().current_address(), kAddress);
    EXPECT_EQ(event.victim_safety_information().disclosure_notes(), kDisclosure);
    seen = true;
  }
  EXPECT_TRUE(seen);
  absl::StatusOr<hub::v1::BackupResponse> backup = TakeBackup(pki_, hub_->address());
  ASSERT_TRUE(backup.ok()) << backup.status();
  ASSERT_EQ(hub_->Stop(), 0);
  for (const char* canary : {kVictim, kAddress, kDisclosure, kConditions}) {
    // The log, the audit and the views (encrypted under a key of their own).
    EXPECT_THAT(FilesContaining(data_, canary), IsEmpty()) << canary;
    EXPECT_THAT(FilesContaining(backup->path(), canary), IsEmpty()) << canary;
    // Nor do the data keys' names give the subject away.
    EXPECT_THAT(FilesContaining(data_ + "-keys", canary), IsEmpty()) << canary;
  }
  const CommandResult verified =
      RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_));
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
}

// Views an older hubd wrote in the clear are not read, nor left on disk:
// hubd builds them again from the log, encrypted.
TEST_F(ErasureTest, ViewsWrittenInTheClearAreBuiltAgainEncrypted) {
  ASSERT_EQ(hub_->Stop(), 0);
  std::filesystem::remove_all(data_ + "/views");
  {
    auto clear = storage::ViewStore::Open(data_ + "/views");
    ASSERT_TRUE(clear.ok()) << clear.status();
    ASSERT_TRUE((*clear)->CreateGeneration("old", "old-digest", {"someone"}).ok());
  }
  Start();
  EXPECT_TRUE(hub_->WaitForLog("not written under the views key", absl::Seconds(5)))
      << hub_->Logs();
  bool seen = false;
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    if (event.has_victim_safety_information()) {
      seen = true;
      EXPECT_EQ(event.victim_safety_information().current_address(), kAddress);
    }
  }
  EXPECT_TRUE(seen);
  ASSERT_EQ(hub_->Stop(), 0);
  EXPECT_THAT(FilesContaining(data_, kAddress), IsEmpty());
  const CommandResult views =
      RunCommand(absl::StrCat(HUBCTL_PATH, " views verify --data_dir=", data_));
  EXPECT_EQ(views.exit_status, 0) << views.output;
}

// A publish the protocol refuses changes nothing, not even the key folder:
// data keys are made only for what is admitted.
TEST_F(ErasureTest, ARefusedPublishMakesNoDataKey) {
  const auto key_files = [this] {
    size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(data_ + "-keys/data-keys")) {
      count += entry.path().extension() == ".key" ? 1 : 0;
    }
    return count;
  };
  const size_t before = key_files();
  // Housing does not record victims' safety (the example protocol).
  const grpc::Status refused = Publish("housing-agency", [](hub::v1::EventEnvelope* e) {
    hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
    safety->set_victim_subject_id("V-NEVER-ADMITTED");
    safety->set_current_address("CANARY-REFUSED-ADDRESS");
  });
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
  EXPECT_EQ(key_files(), before);
}

// A partner cannot forge an erasure record (nor hide a case behind one).
TEST_F(ErasureTest, APartnerCannotRecordAnErasure) {
  const grpc::Status refused = Publish("police-agency", [](hub::v1::EventEnvelope* e) {
    e->mutable_data_erased()->set_key_id("0123456789abcdef0123456789abcdef");
    e->mutable_data_erased()->set_rule("request");
  });
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("only the hub records"));
}

TEST_F(ErasureTest, OnlyTheOperatorErasesAndOnlyWithAReasonAndAReference) {
  const CommandResult partner = Hubctl(
      "police-agency", absl::StrCat("erase --subject_id=", kVictim, " --reason=r --reference=x"));
  EXPECT_NE(partner.exit_status, 0);
  EXPECT_THAT(partner.output, HasSubstr("PERMISSION_DENIED"));
  const CommandResult unexplained =
      Hubctl("operator-admin", absl::StrCat("erase --subject_id=", kVictim, " --reference=x"));
  EXPECT_NE(unexplained.exit_status, 0);
  EXPECT_THAT(unexplained.output, HasSubstr("INVALID_ARGUMENT"));
  // Nothing was erased.
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    if (event.has_victim_safety_information()) {
      EXPECT_EQ(event.victim_safety_information().current_address(), kAddress);
    }
  }
}

TEST_F(ErasureTest, AnErasedVictimIsGoneFromEveryFileAndTheProofsHold) {
  // A backup taken before the erasure (it keeps her, sealed).
  absl::StatusOr<hub::v1::BackupResponse> backup = TakeBackup(pki_, hub_->address());
  ASSERT_TRUE(backup.ok()) << backup.status();
  const std::string erase = absl::StrCat("erase --subject_id=", kVictim,
                                         " --reason='erasure request upheld by the DPO'"
                                         " --reference=DPO-2026-041");
  const CommandResult erased = Hubctl("operator-admin", erase);
  ASSERT_EQ(erased.exit_status, 0) << erased.output;
  EXPECT_THAT(erased.output, HasSubstr("destroyed; recorded at log position"));
  const CommandResult again = Hubctl("operator-admin", erase);
  EXPECT_EQ(again.exit_status, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("had been erased before"));
  // Nothing more is recorded about her.
  const grpc::Status refused = Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
    hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
    safety->set_victim_subject_id(kVictim);
    safety->set_current_address("CANARY-NEW-ADDRESS");
  });
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();

  // The views took the erasure before the call returned, where they stand
  // (her events keep their routing under the case's key, naming her by a
  // pseudonym): readers get nothing of her, and the rest as before.
  EXPECT_THAT(erased.output, HasSubstr("reshaped where they stand"));
  bool seen = false;
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr("CANARY-ADDR")))
        << event.DebugString();
    if (event.has_victim_safety_information()) {
      seen = true;
      EXPECT_THAT(event.victim_safety_information().current_address(), IsEmpty());
      EXPECT_THAT(event.victim_safety_information().disclosure_notes(), IsEmpty());
    }
    // The perpetrator's order is the case's: it stays.
    if (event.has_disruption_recorded()) {
      EXPECT_EQ(event.disruption_recorded().conditions(), kConditions);
    }
  }
  EXPECT_TRUE(seen);
  EXPECT_TRUE(hub_->WaitForLog("what erased content replaced in the views is compacted away",
                               absl::Seconds(20)))
      << hub_->Logs();
  ASSERT_EQ(hub_->Stop(), 0);
  for (const char* canary : {kVictim, kAddress, kDisclosure}) {
    EXPECT_THAT(FilesContaining(data_, canary), IsEmpty()) << canary;
  }
  const CommandResult verified =
      RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_));
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
  // The views are what the sealed log, opened with the keys left, derives.
  const CommandResult views =
      RunCommand(absl::StrCat(HUBCTL_PATH, " views verify --data_dir=", data_));
  EXPECT_EQ(views.exit_status, 0) << views.output;
  EXPECT_THAT(views.output, HasSubstr("views verified"));

  // The old backup, restored with the keys folder as it now is, shows
  // nothing of her either.
  const std::string restored = dir_.Sub("restored");
  ASSERT_EQ(
      RunCommand(absl::StrCat(HUBCTL_PATH, " restore ", backup->path(), " --data_dir=", restored))
          .exit_status,
      0);
  std::filesystem::create_directories(dir_.Sub("restored-work"));
  auto restarted = HubProcess::Start(
      dir_.Sub("restored-work"),
      HubConfigText(pki_, restored, absl::StrCat("keys_dir: \"", data_, "-keys\"\n")));
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  hub_ = std::move(restarted).value();
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr("CANARY-ADDR")));
  }
  ASSERT_EQ(hub_->Stop(), 0);
  for (const char* canary : {kVictim, kAddress, kDisclosure}) {
    EXPECT_THAT(FilesContaining(restored, canary), IsEmpty()) << canary;
  }
}

// A victim's whereabouts erased on their own decide no relationship and
// name no subject: the views take the erasure where they stand instead of
// being built again, and are then exactly what the log derives; a restart
// does not build them again. The rest of her is erased as a whole, and
// the views take that where they stand too.
TEST_F(ErasureTest, ErasingOnlyTheWhereaboutsReshapesTheViewsWhereTheyStand) {
  const CommandResult wrong_key =
      Hubctl("operator-admin", absl::StrCat("erase --subject_id=", kVictim,
                                            " --data_class=RISK --reason=r --reference=DPO-1"));
  EXPECT_NE(wrong_key.exit_status, 0);
  EXPECT_THAT(wrong_key.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(wrong_key.output, HasSubstr("erase it with case_id"));
  const CommandResult not_personal =
      Hubctl("operator-admin", absl::StrCat("erase --case_id=C-9 --data_class=CASE_ADMINISTRATION"
                                            " --reason=r --reference=DPO-1"));
  EXPECT_NE(not_personal.exit_status, 0);
  EXPECT_THAT(not_personal.output, HasSubstr("not a personal class"));
  // Her identity alone would leave the rest of her content without the id
  // retention finds it by.
  const CommandResult identity_alone = Hubctl(
      "operator-admin", absl::StrCat("erase --subject_id=", kVictim,
                                     " --data_class=VICTIM_IDENTITY --reason=r --reference=DPO-1"));
  EXPECT_NE(identity_alone.exit_status, 0);
  EXPECT_THAT(identity_alone.output, HasSubstr("erase the subject as a whole"));
  // A class number no contract has, sent past hubctl.
  {
    auto admin = hub::v1::AdminService::NewStub(pki_.Channel(hub_->address(), "operator-admin"));
    hub::v1::EraseSubjectRequest request;
    request.set_subject_id(kVictim);
    request.set_data_class(static_cast<hub::v1::DataClass>(999));
    request.set_reason("r");
    request.set_reference("DPO-1");
    grpc::ClientContext context;
    hub::v1::EraseSubjectResponse response;
    const grpc::Status refused = admin->EraseSubject(&context, request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << refused.error_message();
    EXPECT_THAT(refused.error_message(), HasSubstr("not a personal class"));
  }
  // None of it erased anything.
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    if (event.has_victim_safety_information()) {
      EXPECT_EQ(event.victim_safety_information().current_address(), kAddress);
    }
  }

  const CommandResult erased =
      Hubctl("operator-admin", absl::StrCat("erase --subject_id=", kVictim,
                                            " --data_class=VICTIM_LOCATION"
                                            " --reason='her refuge address, on her request'"
                                            " --reference=DPO-2026-043"));
  ASSERT_EQ(erased.exit_status, 0) << erased.output;
  EXPECT_THAT(erased.output, HasSubstr("reshaped where they stand"));
  EXPECT_THAT(erased.output, ::testing::Not(HasSubstr("rebuilt")));
  const auto check_reads = [this] {
    bool seen = false;
    for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
      EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr("CANARY-ADDR")));
      if (!event.has_victim_safety_information()) continue;
      seen = true;
      // Only the whereabouts went: what she told her advocate stays.
      EXPECT_EQ(event.victim_safety_information().disclosure_notes(), kDisclosure);
      ASSERT_EQ(event.erased_size(), 1);
      EXPECT_EQ(event.erased(0).erased_class(), hub::v1::VICTIM_LOCATION);
      EXPECT_EQ(event.erased(0).rule(), "request");
    }
    EXPECT_TRUE(seen);
  };
  check_reads();
  // What the reshaping replaced is compacted away from the view files too.
  EXPECT_TRUE(hub_->WaitForLog("what erased content replaced in the views is compacted away",
                               absl::Seconds(20)))
      << hub_->Logs();
  ASSERT_EQ(hub_->Stop(), 0);
  const std::string verify = absl::StrCat(HUBCTL_PATH, " views verify --data_dir=", data_);
  const CommandResult views = RunCommand(verify);
  EXPECT_EQ(views.exit_status, 0) << views.output;
  EXPECT_THAT(FilesContaining(data_, kAddress), IsEmpty());
  // The views' index of which cases hold content under which key decides
  // what an erasure reshapes: an insider taking an entry out would leave a
  // case's content in the views after its erasure. The check finds it.
  TakeOutOfTheViewsKeyIndex();
  const CommandResult unindexed = RunCommand(verify);
  EXPECT_NE(unindexed.exit_status, 0);
  EXPECT_THAT(unindexed.output, HasSubstr("the index of sealed content lost case C-9"));
  const CommandResult repaired = RunCommand(verify + " --repair");
  EXPECT_EQ(repaired.exit_status, 0) << repaired.output;
  Start();
  check_reads();
  EXPECT_THAT(hub_->Logs(), ::testing::Not(HasSubstr("building the views")));

  const CommandResult identity =
      Hubctl("operator-admin", absl::StrCat("erase --subject_id=", kVictim,
                                            " --reason='all of her, on her request'"
                                            " --reference=DPO-2026-044"));
  ASSERT_EQ(identity.exit_status, 0) << identity.output;
  EXPECT_THAT(identity.output, HasSubstr("reshaped where they stand"));
  EXPECT_THAT(identity.output, ::testing::Not(HasSubstr("rebuilt")));
  ExpectHerAdvocateKeepsHerEventsWithNothingOfHer();
  ASSERT_EQ(hub_->Stop(), 0);
  const CommandResult reshaped = RunCommand(verify);
  EXPECT_EQ(reshaped.exit_status, 0) << reshaped.output;
  EXPECT_THAT(reshaped.output, HasSubstr("views verified"));
  Start();
  EXPECT_THAT(hub_->Logs(), ::testing::Not(HasSubstr("building the views")));
}

// A key that cannot be destroyed yet (here a folder left where it would
// lie, as a failing disk or an insider could) stops an erasure midway. The
// retry, which finds her first key already gone, still takes all of her out
// of the views.
TEST_F(ErasureTest, AnErasureStoppedMidwayAndRetriedLeavesNothingOfHerInTheViews) {
  const std::string keys_dir = data_ + "-keys";
  std::vector<std::string> ids;
  std::string whereabouts;
  {
    auto keks = auth::KeyFolder::Open(keys_dir + "/kek", data_);
    ASSERT_TRUE(keks.ok()) << keks.status();
    auto store = auth::DataKeyStore::Open(keys_dir + "/data-keys", data_,
                                          std::shared_ptr<const auth::KeyFolder>(*std::move(keks)));
    ASSERT_TRUE(store.ok()) << store.status();
    const auth::KeyOwner her{"subject", kVictim};
    ids = auth::AllDataKeyIdsOf(**store, her);
    whereabouts = auth::DataKeyIdOf(**store, her, hub::v1::VICTIM_LOCATION);
  }
  const auto key_file = [&](const std::string& id) {
    return absl::StrCat(keys_dir, "/data-keys/", id, ".key");
  };
  ASSERT_TRUE(std::filesystem::exists(key_file(whereabouts)));
  // Destroyed in order: the first key after her whereabouts' that holds
  // nothing yet is the one that cannot be.
  const auto after = std::find(ids.begin(), ids.end(), whereabouts);
  ASSERT_NE(after, ids.end());
  const auto stuck = std::find_if(after + 1, ids.end(), [&](const std::string& id) {
    return !std::filesystem::exists(key_file(id));
  });
  ASSERT_NE(stuck, ids.end());
  std::filesystem::create_directories(key_file(*stuck) + "/held");

  const std::string erase =
      absl::StrCat("erase --subject_id=", kVictim,
                   " --reason='all of her, on her request' --reference=DPO-2026-045");
  const CommandResult stopped = Hubctl("operator-admin", erase);
  EXPECT_NE(stopped.exit_status, 0) << stopped.output;
  EXPECT_THAT(stopped.output, HasSubstr("could not be destroyed yet"));
  EXPECT_THAT(stopped.output, HasSubstr("retry the same request"));
  EXPECT_FALSE(std::filesystem::exists(key_file(whereabouts)));

  std::filesystem::remove_all(key_file(*stuck));
  const CommandResult retried = Hubctl("operator-admin", erase);
  ASSERT_EQ(retried.exit_status, 0) << retried.output;
  // The stopped attempt told the views nothing: behind the log's erasures,
  // they are built again.
  EXPECT_THAT(retried.output, HasSubstr("rebuilt"));
  for (const hub::v1::EventEnvelope& event : Read("police-agency")) {
    EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr(kAddress)));
  }
  ExpectHerAdvocateKeepsHerEventsWithNothingOfHer();
  ASSERT_EQ(hub_->Stop(), 0);
  const CommandResult verified =
      RunCommand(absl::StrCat(HUBCTL_PATH, " views verify --data_dir=", data_));
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
}

// After an erasure, readers are told what went, when and under which rule,
// each only of the classes its rules would have let it see.
TEST_F(ErasureTest, ReadersAreToldWhatWasErasedOnlyIfTheyCouldHaveSeenIt) {
  const CommandResult erased =
      Hubctl("operator-admin", absl::StrCat("erase --subject_id=", kVictim,
                                            " --reason='erasure request upheld by the DPO'"
                                            " --reference=DPO-2026-042"));
  ASSERT_EQ(erased.exit_status, 0) << erased.output;
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  auto erased_classes = [&](const std::string& as) {
    std::set<hub::v1::DataClass> classes;
    bool found = false;
    for (const hub::v1::EventEnvelope& event : Read(as)) {
      if (!event.has_victim_safety_information()) continue;
      found = true;
      for (const hub::v1::ErasedContent& entry : event.erased()) {
        classes.insert(entry.erased_class());
        EXPECT_EQ(entry.rule(), "request");
        EXPECT_NEAR(entry.erased_at().seconds(), now, 600);
      }
    }
    EXPECT_TRUE(found) << as << " no longer sees the event at all";
    return classes;
  };
  // The police could see where she was and her risk, not what she told the IDVA.
  const std::set<hub::v1::DataClass> police = erased_classes("police-agency");
  EXPECT_TRUE(police.count(hub::v1::VICTIM_LOCATION));
  EXPECT_TRUE(police.count(hub::v1::VICTIM_RISK_SUMMARY));
  EXPECT_FALSE(police.count(hub::v1::VICTIM_DISCLOSURE));
  // The IDVA could see her disclosure.
  EXPECT_TRUE(erased_classes("idva-agency").count(hub::v1::VICTIM_DISCLOSURE));
  // Probation saw only the risk summary: it learns of nothing else.
  const std::set<hub::v1::DataClass> probation = erased_classes("probation-agency");
  EXPECT_TRUE(probation.count(hub::v1::VICTIM_RISK_SUMMARY));
  EXPECT_FALSE(probation.count(hub::v1::VICTIM_LOCATION));
  EXPECT_FALSE(probation.count(hub::v1::VICTIM_DISCLOSURE));

  // The timeline says it in words.
  const CommandResult timeline = Hubctl("police-agency", "timeline C-9");
  ASSERT_EQ(timeline.exit_status, 0) << timeline.output;
  EXPECT_THAT(timeline.output, HasSubstr("erased: "));
  EXPECT_THAT(timeline.output, HasSubstr("victim location"));
  EXPECT_THAT(timeline.output, HasSubstr("(request)"));
  EXPECT_THAT(timeline.output, ::testing::Not(HasSubstr("victim disclosure")));
}

// Restriction of processing: the content is kept but shown to no one (not
// even those the protocol lets see it) until lifted; it survives a restart;
// only the operator restricts, and no partner can record a restriction.
TEST_F(ErasureTest, RestrictedContentIsShownToNoOneUntilLifted) {
  auto address_seen_by = [&](const std::string& as) {
    for (const hub::v1::EventEnvelope& event : Read(as)) {
      if (event.victim_safety_information().current_address() == kAddress) return true;
    }
    return false;
  };
  ASSERT_TRUE(address_seen_by("police-agency"));
  const CommandResult partner =
      Hubctl("police-agency",
             absl::StrCat("restrict --subject_id=", kVictim, " --reason=r --reference=REF-1"));
  EXPECT_NE(partner.exit_status, 0);
  EXPECT_THAT(partner.output, HasSubstr("PERMISSION_DENIED"));
  const grpc::Status forged = Publish("police-agency", [](hub::v1::EventEnvelope* e) {
    e->mutable_processing_restricted()->add_key_ids("0123456789abcdef0123456789abcdef");
    e->mutable_processing_restricted()->set_lifted(true);
  });
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::PERMISSION_DENIED) << forged.error_message();

  const CommandResult restricted =
      Hubctl("operator-admin", absl::StrCat("restrict --subject_id=", kVictim,
                                            " --reason='accuracy contested by the data subject'"
                                            " --reference=DPO-2026-050"));
  ASSERT_EQ(restricted.exit_status, 0) << restricted.output;
  EXPECT_THAT(restricted.output, HasSubstr("processing restricted"));
  // Who is related to the case does not change: the views take it where
  // they stand.
  EXPECT_THAT(restricted.output, HasSubstr("reshaped where they stand"));
  EXPECT_THAT(restricted.output, ::testing::Not(HasSubstr("rebuilt")));
  for (const char* as : {"police-agency", "idva-agency", "childrens-services-agency"}) {
    EXPECT_FALSE(address_seen_by(as)) << as;
  }
  bool told = false;
  for (const hub::v1::EventEnvelope& event : Read("police-agency")) {
    EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr("CANARY-ADDR")))
        << event.DebugString();
    for (const hub::v1::ErasedContent& entry : event.erased()) {
      if (entry.restricted() && entry.erased_class() == hub::v1::VICTIM_LOCATION) told = true;
    }
    // The case's own content is not the subject's: it stays.
    if (event.has_disruption_recorded()) {
      EXPECT_EQ(event.disruption_recorded().conditions(), kConditions);
    }
  }
  EXPECT_TRUE(told);
  // Whom the events are about is not withheld from routing: her advocate,
  // related to the case by supporting her, still has her events, and is
  // told what of them is withheld.
  bool advocate_told = false;
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    if (!event.has_victim_safety_information()) continue;
    for (const hub::v1::ErasedContent& entry : event.erased()) {
      advocate_told |= entry.restricted() && entry.erased_class() == hub::v1::VICTIM_LOCATION;
    }
  }
  EXPECT_TRUE(advocate_told);
  const CommandResult timeline = Hubctl("police-agency", "timeline C-9");
  EXPECT_THAT(timeline.output, HasSubstr("withheld (processing restricted since"));
  // What is recorded about her while restricted is withheld as it arrives.
  ASSERT_TRUE(Publish("idva-agency", [](hub::v1::EventEnvelope* e) {
                hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                safety->set_victim_subject_id(kVictim);
                safety->set_current_address("CANARY-ADDR-WHILE-RESTRICTED");
              }).ok());
  int safety_events = 0;
  for (int attempt = 0; attempt < 50 && safety_events < 2; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    safety_events = 0;
    for (const hub::v1::EventEnvelope& event : Read("police-agency")) {
      EXPECT_THAT(event.DebugString(), ::testing::Not(HasSubstr("WHILE-RESTRICTED")));
      if (event.has_victim_safety_information()) ++safety_events;
    }
  }
  // The police see that it was recorded, and that its content is withheld.
  EXPECT_EQ(safety_events, 2);

  // A restart keeps it withheld, without building the views again.
  ASSERT_EQ(hub_->Stop(), 0);
  Start();
  EXPECT_FALSE(address_seen_by("police-agency"));
  EXPECT_THAT(hub_->Logs(), ::testing::Not(HasSubstr("building the views")));

  const CommandResult lifted = Hubctl(
      "operator-admin", absl::StrCat("restrict --lift --subject_id=", kVictim,
                                     " --reason='accuracy confirmed' --reference=DPO-2026-050"));
  ASSERT_EQ(lifted.exit_status, 0) << lifted.output;
  EXPECT_THAT(lifted.output, HasSubstr("reshaped where they stand"));
  EXPECT_TRUE(address_seen_by("police-agency"));
  // Lifting gives back only what the protocol allows: probation still sees
  // no address.
  EXPECT_FALSE(address_seen_by("probation-agency"));
}

// A publisher cannot claim an erasure of its own on an event.
TEST_F(ErasureTest, APublisherCannotStampErasedContent) {
  const grpc::Status refused = Publish("police-agency", [](hub::v1::EventEnvelope* e) {
    e->mutable_disruption_recorded()->set_kind(hub::v1::DVPO);
    e->add_erased()->set_erased_class(hub::v1::OFFENDING);
  });
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("erased"));
}

// The key-encryption key rotates: the data keys are wrapped again, the old
// KEK removed, the log untouched, and everything still opens.
TEST_F(ErasureTest, TheKeyEncryptionKeyRotatesWithoutRewritingTheLog) {
  ASSERT_EQ(hub_->Stop(), 0);
  const std::string verify = absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_);
  const std::string head_before = RunCommand(verify).output;
  const std::string keys = absl::StrCat(" --keys_dir=", data_, "-keys --data_dir=", data_);
  std::vector<std::string> old_keks;
  for (const auto& entry : std::filesystem::directory_iterator(data_ + "-keys/kek")) {
    old_keks.push_back(entry.path().string());
  }
  ASSERT_EQ(old_keks.size(), 1u);
  // A second apart, so that the new key's name sorts after the old one's.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const CommandResult added = RunCommand(absl::StrCat(HUBCTL_PATH, " keys add", keys));
  ASSERT_EQ(added.exit_status, 0) << added.output;
  const CommandResult rewrapped = RunCommand(absl::StrCat(HUBCTL_PATH, " keys rewrap", keys));
  ASSERT_EQ(rewrapped.exit_status, 0) << rewrapped.output;
  EXPECT_THAT(rewrapped.output, HasSubstr("data keys wrapped again"));
  std::filesystem::permissions(old_keks[0], std::filesystem::perms::owner_all);
  std::filesystem::remove(old_keks[0]);
  EXPECT_EQ(RunCommand(verify).output, head_before);

  // Views derived again open every sealed field with the rewrapped keys.
  std::filesystem::remove_all(data_ + "/views");
  Start();
  bool seen = false;
  for (const hub::v1::EventEnvelope& event : Read("idva-agency")) {
    if (!event.has_victim_safety_information()) continue;
    EXPECT_EQ(event.victim_safety_information().current_address(), kAddress);
    seen = true;
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace hub::testing
