// Retention over a real hubd: the example protocol's rules applied on a
// simulated clock, a preview and the real run agreeing, content destroyed
// only where every case that needs it has run out, the erasures recorded and
// the log's proofs intact; a live hub refuses to erase ahead of time, and
// only the operator applies retention.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/admin_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kClosedCaseVictim[] = "CANARY-RET-VA";
constexpr char kClosedCaseAddress[] = "CANARY-RET-ADDR-A 3 Harbour Lane";
constexpr char kOpenCaseAddress[] = "CANARY-RET-ADDR-B 9 Mill Street";
constexpr char kOrder[] = "CANARY-RET-ORDER no contact";

class RetentionTest : public ::testing::Test {
 protected:
  void Start(const std::string& extra) {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_, extra));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-R1", "C-R2"}).ok());
    ASSERT_TRUE(Publish("idva-agency", "C-R1", [](hub::v1::EventEnvelope* e) {
                  hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                  safety->set_victim_subject_id(kClosedCaseVictim);
                  safety->set_current_address(kClosedCaseAddress);
                }).ok());
    ASSERT_TRUE(Publish("police-agency", "C-R1", [](hub::v1::EventEnvelope* e) {
                  e->mutable_disruption_recorded()->set_kind(hub::v1::DVPO);
                  e->mutable_disruption_recorded()->set_conditions(kOrder);
                }).ok());
    ASSERT_TRUE(Publish("idva-agency", "C-R2", [](hub::v1::EventEnvelope* e) {
                  hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
                  safety->set_victim_subject_id("CANARY-RET-VB");
                  safety->set_current_address(kOpenCaseAddress);
                }).ok());
    const grpc::Status closed = Publish(
        "drive-agency", "C-R1",
        [](hub::v1::EventEnvelope* e) {
          e->mutable_case_closed()->set_reason(hub::v1::ClosureReason(1));
        },
        hub::v1::PURPOSE_CASE_MANAGEMENT);
    ASSERT_TRUE(closed.ok()) << closed.error_message();
  }

  grpc::Status Publish(const std::string& as, const std::string& case_id,
                       const std::function<void(hub::v1::EventEnvelope*)>& fill,
                       hub::v1::Purpose purpose = hub::v1::PURPOSE_SAFEGUARDING) {
    return PublishOne(pki_, hub_->address(), as, case_id, "7e7e0000-0000-4000-8000-", ++published_,
                      purpose, fill);
  }

  std::vector<hub::v1::EventEnvelope> Read(const std::string& as, const std::string& case_id) {
    return ReadCaseAs(pki_, hub_->address(), as, case_id);
  }

  CommandResult Hubctl(const std::string& as, const std::string& arguments) {
    return hub::testing::Hubctl(pki_, hub_->address(), as, arguments);
  }

  // The table rows of `hubctl retention run` (one per data key).
  static std::vector<std::string> Rows(const std::string& output) {
    std::vector<std::string> rows;
    for (absl::string_view line : absl::StrSplit(output, '\n')) {
      if (absl::StrContains(line, " subject ") || absl::StrContains(line, " case ")) {
        rows.emplace_back(line);
      }
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  static std::string DaysFromNow(int days) {
    return absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24) * days, absl::UTCTimeZone());
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  const std::string data_ = dir_.Sub("data");
  std::unique_ptr<HubProcess> hub_;
  int published_ = 0;
};

TEST_F(RetentionTest, ThePreviewAndTheRunAgreeAndOnlyRunOutContentGoes) {
  Start("retention { allow_simulated_clock: true }\n");
  // Within the year nothing is due.
  const CommandResult early =
      Hubctl("operator-admin",
             absl::StrCat("retention run --dry-run --retention_as_of=", DaysFromNow(300)));
  ASSERT_EQ(early.exit_status, 0) << early.output;
  EXPECT_THAT(early.output, HasSubstr("0 data key(s) would be destroyed"));

  // A year and a bit after the closure: the closed case's victim's
  // whereabouts go; the open case's victim's stay; the case record (six
  // years) stays.
  const std::string as_of = absl::StrCat("--retention_as_of=", DaysFromNow(400));
  const CommandResult preview = Hubctl("operator-admin", "retention run --dry-run " + as_of);
  ASSERT_EQ(preview.exit_status, 0) << preview.output;
  const std::vector<std::string> previewed = Rows(preview.output);
  ASSERT_EQ(previewed.size(), 1u) << preview.output;
  EXPECT_THAT(previewed[0], HasSubstr("victim-whereabouts-and-disclosures-1y"));
  EXPECT_THAT(previewed[0], HasSubstr(kClosedCaseVictim));
  EXPECT_THAT(previewed[0], HasSubstr("VICTIM_LOCATION"));
  // The preview changed nothing.
  bool address_kept = false;
  for (const hub::v1::EventEnvelope& event : Read("police-agency", "C-R1")) {
    if (event.victim_safety_information().current_address() == kClosedCaseAddress) {
      address_kept = true;
    }
  }
  EXPECT_TRUE(address_kept);

  const CommandResult run = Hubctl("operator-admin", "retention run " + as_of);
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_EQ(Rows(run.output), previewed);
  EXPECT_THAT(run.output, HasSubstr("recorded at log positions"));
  // Whereabouts decide no relationship: the views take the erasure where
  // they stand (and still verify against the log, below).
  EXPECT_THAT(run.output, HasSubstr("reshaped where they stand"));

  for (const hub::v1::EventEnvelope& event : Read("police-agency", "C-R1")) {
    EXPECT_THAT(event.DebugString(), Not(HasSubstr("CANARY-RET-ADDR-A")));
    if (event.has_victim_safety_information()) {
      ASSERT_FALSE(event.erased().empty());
      EXPECT_EQ(event.erased(0).rule(), "victim-whereabouts-and-disclosures-1y");
    }
    if (event.has_disruption_recorded()) {
      EXPECT_EQ(event.disruption_recorded().conditions(), kOrder);
    }
  }
  bool open_case_address = false;
  for (const hub::v1::EventEnvelope& event : Read("police-agency", "C-R2")) {
    if (event.victim_safety_information().current_address() == kOpenCaseAddress) {
      open_case_address = true;
    }
  }
  EXPECT_TRUE(open_case_address);

  // Applied again: nothing more goes.
  const CommandResult again = Hubctl("operator-admin", "retention run " + as_of);
  ASSERT_EQ(again.exit_status, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("0 data key(s) destroyed"));

  // The erasure is in the audit, naming the rule; so are the previews.
  const CommandResult audit = Hubctl("governance-auditor", "audit query --json");
  ASSERT_EQ(audit.exit_status, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr("victim-whereabouts-and-disclosures-1y"));
  EXPECT_THAT(audit.output, HasSubstr("retention preview as of"));

  ASSERT_EQ(hub_->Stop(), 0);
  EXPECT_THAT(FilesContaining(data_, "CANARY-RET-ADDR-A"), IsEmpty());
  const CommandResult verified =
      RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_));
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
  const CommandResult views =
      RunCommand(absl::StrCat(HUBCTL_PATH, " views verify --data_dir=", data_));
  EXPECT_EQ(views.exit_status, 0) << views.output;
}

// The demonstration site run forward: seven years on, every closed case's
// content has gone by its rules (the preview said exactly what the run did),
// the open cases keep theirs, and the log still verifies.
TEST_F(RetentionTest, TheDemonstrationSiteRunForwardAgreesWithItsPreview) {
  Start("retention { allow_simulated_clock: true }\n");
  const CommandResult demo = Hubctl("operator-admin", "demo --scale=0.1 --parallel=4");
  ASSERT_EQ(demo.exit_status, 0) << demo.output;
  const std::string as_of = absl::StrCat("--retention_as_of=", DaysFromNow(7 * 365 + 2));
  const CommandResult preview = Hubctl("operator-admin", "retention run --dry-run " + as_of);
  ASSERT_EQ(preview.exit_status, 0) << preview.output;
  const std::vector<std::string> previewed = Rows(preview.output);
  // Every rule of the example protocol has something to do on the site.
  for (const char* rule :
       {"victim-whereabouts-and-disclosures-1y", "health-and-housing-2y", "case-record-6y"}) {
    EXPECT_THAT(preview.output, HasSubstr(rule));
  }
  const CommandResult run = Hubctl("operator-admin", "retention run " + as_of);
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_EQ(Rows(run.output), previewed);
  const CommandResult again = Hubctl("operator-admin", "retention run " + as_of);
  EXPECT_THAT(again.output, HasSubstr("0 data key(s) destroyed"));
  ASSERT_EQ(hub_->Stop(), 0);
  const CommandResult verified =
      RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_));
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
}

TEST_F(RetentionTest, ALiveHubOnlyPreviewsTheFutureAndOnlyTheOperatorApplies) {
  Start("");
  const std::string as_of = absl::StrCat("--retention_as_of=", DaysFromNow(400));
  const CommandResult refused = Hubctl("operator-admin", "retention run " + as_of);
  EXPECT_NE(refused.exit_status, 0);
  EXPECT_THAT(refused.output, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(refused.output, HasSubstr("in the future"));
  const CommandResult preview = Hubctl("operator-admin", "retention run --dry-run " + as_of);
  EXPECT_EQ(preview.exit_status, 0) << preview.output;
  EXPECT_EQ(Rows(preview.output).size(), 1u) << preview.output;
  // Now, nothing is due yet: the run changes nothing.
  const CommandResult now = Hubctl("operator-admin", "retention run");
  EXPECT_EQ(now.exit_status, 0) << now.output;
  EXPECT_THAT(now.output, HasSubstr("0 data key(s) destroyed"));

  const CommandResult partner = Hubctl("police-agency", "retention run --dry-run");
  EXPECT_NE(partner.exit_status, 0);
  EXPECT_THAT(partner.output, HasSubstr("PERMISSION_DENIED"));
  bool address_kept = false;
  for (const hub::v1::EventEnvelope& event : Read("police-agency", "C-R1")) {
    if (event.victim_safety_information().current_address() == kClosedCaseAddress) {
      address_kept = true;
    }
  }
  EXPECT_TRUE(address_kept);
}

}  // namespace
}  // namespace hub::testing
