// hubctl against a real hubd: the commands people and scripts use, their
// output and their exit status.
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/audit_service.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;

using Result = CommandResult;

class HubctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  Result Hubctl(const std::string& as, const std::string& arguments) {
    return RunCommand(absl::StrCat(HUBCTL_PATH, " --hub=", hub_->address(),
                                   " --certs_dir=", pki_.dir(), " --as=", as, " ", arguments));
  }

  const std::string example_ =
      std::string(HUB_SOURCE_DIR) + "/deploy/examples/publish_referral.textproto";
  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(HubctlTest, PublishIsIdempotentAndReadShowsTheCallersView) {
  Result published = Hubctl("police-agency", "publish " + example_);
  EXPECT_EQ(published.exit_status, 0) << published.output;
  EXPECT_THAT(published.output, HasSubstr("stored 2 event(s) of case C-2026-0001"));
  Result again = Hubctl("police-agency", "publish " + example_);
  EXPECT_EQ(again.exit_status, 0);
  EXPECT_THAT(again.output, HasSubstr("already stored: nothing written for 2 event(s)"));

  Result read = Hubctl("drive-agency", "read C-2026-0001");
  EXPECT_EQ(read.exit_status, 0) << read.output;
  EXPECT_THAT(read.output, HasSubstr("referral_received"));
  EXPECT_THAT(read.output, HasSubstr("risk_assessed"));

  Result json = Hubctl("police-agency", "--json read C-2026-0001");
  EXPECT_EQ(json.exit_status, 0);
  EXPECT_THAT(json.output, HasSubstr("\"dashYesCount\":16"));

  Result tail = Hubctl("idva-agency", "tail --until_caught_up");
  EXPECT_EQ(tail.exit_status, 0) << tail.output;
  // The IDVA's own view: both events, in view generation 1.
  EXPECT_THAT(tail.output, HasSubstr("caught up at position 1000000000002"));
}

TEST_F(HubctlTest, RefusalsExitNonZeroWithTheHubsReason) {
  Result auditor = Hubctl("governance-auditor", "publish " + example_);
  EXPECT_EQ(auditor.exit_status, 1);
  EXPECT_THAT(auditor.output, HasSubstr("only agency systems and coordinators publish"));
  // The refusal's google.rpc details, not only its message: a program
  // wrapping hubctl, or a person, reads the stable reason.
  Result unruled = Hubctl("health-agency", "publish " + example_);
  EXPECT_EQ(unruled.exit_status, 1);
  EXPECT_THAT(unruled.output, HasSubstr("the hub answered PERMISSION_DENIED: "));
  EXPECT_THAT(unruled.output, HasSubstr("[NO_RECORDING_RULE event_type="));
  Result missing = Hubctl("police-agency", "publish /nonexistent.textproto");
  EXPECT_EQ(missing.exit_status, 1);
  EXPECT_THAT(missing.output, HasSubstr("cannot read /nonexistent.textproto"));
  Result usage = Hubctl("police-agency", "frobnicate");
  EXPECT_EQ(usage.exit_status, 2);
  EXPECT_THAT(usage.output, HasSubstr("unknown command \"frobnicate\""));
  EXPECT_THAT(usage.output, HasSubstr("hubctl whoami"));
  Result who = Hubctl("dapp-coordinator", "whoami");
  EXPECT_EQ(who.exit_status, 0);
  EXPECT_THAT(who.output, HasSubstr("role:         COORDINATOR"));
}

TEST_F(HubctlTest, TheAuditIsQueriedExportedAndVerifiedOffline) {
  ASSERT_EQ(Hubctl("police-agency", "publish " + example_).exit_status, 0);
  ASSERT_EQ(Hubctl("drive-agency", "read C-2026-0001").exit_status, 0);

  Result query = Hubctl("governance-auditor", "audit query --case_id=C-2026-0001");
  EXPECT_EQ(query.exit_status, 0) << query.output;
  EXPECT_THAT(query.output, HasSubstr("AUDIT_PUBLISH"));
  EXPECT_THAT(query.output, HasSubstr("AUDIT_READ_CASE"));
  Result refused = Hubctl("police-agency", "audit query");
  EXPECT_EQ(refused.exit_status, 1);
  EXPECT_THAT(refused.output, HasSubstr("only the governance group's auditor role"));

  const std::string exported = dir_.Sub("audit.export");
  Result export_run = Hubctl("governance-auditor", "audit export " + exported);
  EXPECT_EQ(export_run.exit_status, 0) << export_run.output;
  const std::string key = "--public_key=" + dir_.Sub("data-keys") + "/audit-key.pem.pub";
  Result verified = Hubctl("governance-auditor", "audit verify " + exported + " " + key);
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("audit export verified"));

  // Someone edits the copy: the verifier names the record.
  hub::v1::AuditExport copy;
  {
    std::ifstream in(exported, std::ios::binary);
    ASSERT_TRUE(copy.ParseFromIstream(&in));
  }
  ASSERT_GT(copy.records_size(), 2);
  copy.mutable_records(2)->set_raw("nothing happened here");
  {
    std::ofstream out(exported, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(copy.SerializeToOstream(&out));
  }
  Result tampered = Hubctl("governance-auditor", "audit verify " + exported + " " + key);
  EXPECT_EQ(tampered.exit_status, 1);
  EXPECT_THAT(tampered.output, HasSubstr("record 2 is altered or replaced"));
}

TEST_F(HubctlTest, ARangeOfTheAuditIsExportedAndVerified) {
  ASSERT_EQ(Hubctl("police-agency", "publish " + example_).exit_status, 0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Hubctl("drive-agency", "read C-2026-0001").exit_status, 0);
  const std::string key = "--public_key=" + dir_.Sub("data-keys") + "/audit-key.pem.pub";
  const std::string exported = dir_.Sub("range.export");

  Result export_run =
      Hubctl("governance-auditor", "audit export --first_record=2 --last_record=3 " + exported);
  ASSERT_EQ(export_run.exit_status, 0) << export_run.output;
  EXPECT_THAT(export_run.output, HasSubstr("exported audit records 2 to 3"));
  Result verified = Hubctl("governance-auditor", "audit verify " + exported + " " + key);
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("records 2 to 3 (2 records)"));

  // Dropping the range's last record is noticed, although the rest of the
  // tree is not in the file.
  hub::v1::AuditExport copy;
  {
    std::ifstream in(exported, std::ios::binary);
    ASSERT_TRUE(copy.ParseFromIstream(&in));
  }
  ASSERT_EQ(copy.records_size(), 2);
  copy.mutable_records()->RemoveLast();
  {
    std::ofstream out(exported, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(copy.SerializeToOstream(&out));
  }
  Result truncated = Hubctl("governance-auditor", "audit verify " + exported + " " + key);
  EXPECT_EQ(truncated.exit_status, 1);
  EXPECT_THAT(truncated.output, HasSubstr("record 3 is missing"));

  // A time window from before anything happened to now is the whole tree
  // up to the head.
  Result by_time =
      Hubctl("governance-auditor",
             "audit export --since=2020-01-01T00:00:00Z --until=2100-01-01T00:00:00Z " + exported);
  ASSERT_EQ(by_time.exit_status, 0) << by_time.output;
  EXPECT_THAT(by_time.output, HasSubstr("exported audit records 0 to "));
  Result future =
      Hubctl("governance-auditor", "audit export --since=2100-01-01T00:00:00Z " + exported);
  EXPECT_EQ(future.exit_status, 1);
  EXPECT_THAT(future.output,
              HasSubstr("no audit record of the signed head is at or after --since"));
  Result backwards =
      Hubctl("governance-auditor", "audit export --first_record=3 --last_record=1 " + exported);
  EXPECT_EQ(backwards.exit_status, 1);
  EXPECT_THAT(backwards.output, HasSubstr("the range selects no record"));
}

TEST_F(HubctlTest, TheDemoSiteLoadsAndItsCasesAreReadyForAPanel) {
  Result demo = Hubctl("operator-admin", "demo --scale=0.1 --parallel=4");
  ASSERT_EQ(demo.exit_status, 0) << demo.output;
  EXPECT_THAT(demo.output, HasSubstr("18 cases: 18 perpetrators, 17 victims, 21 children"));
  // Loading it again is a retry the hub recognises: nothing is stored twice.
  Result again = Hubctl("operator-admin", "demo --scale=0.1 --json");
  ASSERT_EQ(again.exit_status, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("\"published\":0,"));

  Result cases = Hubctl("dapp-coordinator", "cases --include_closed --as_of=2026-11-20");
  ASSERT_EQ(cases.exit_status, 0) << cases.output;
  EXPECT_THAT(cases.output, HasSubstr("18 cases; overdue as of 2026-11-20"));
  Result overdue = Hubctl("dapp-coordinator", "cases --overdue --min_risk=high");
  EXPECT_EQ(overdue.exit_status, 0) << overdue.output;
  Result bad_risk = Hubctl("dapp-coordinator", "cases --min_risk=severe");
  EXPECT_EQ(bad_risk.exit_status, 1);
  EXPECT_THAT(bad_risk.output, HasSubstr("not a risk level"));

  const std::string first_case = demo.output.substr(demo.output.find("hubctl timeline ") + 16, 12);
  Result table = Hubctl("dapp-coordinator", "timeline " + first_case);
  ASSERT_EQ(table.exit_status, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("referral_received"));
  EXPECT_THAT(table.output, HasSubstr("Referral received: via"));
  const std::string html = dir_.Sub("panel.html");
  Result page = Hubctl("dapp-coordinator", "timeline " + first_case + " --html=" + html);
  ASSERT_EQ(page.exit_status, 0) << page.output;
  std::ifstream in(html);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(content, HasSubstr("Case timeline: " + first_case));
  EXPECT_THAT(content, HasSubstr("DAPP and MARAC coordinators"));
  // The coordinator's panel papers never carry a victim's whereabouts.
  EXPECT_THAT(content, ::testing::Not(HasSubstr("Example Street")));
  EXPECT_THAT(content, ::testing::Not(HasSubstr("07700")));
  Result police = Hubctl("police-agency", "--json timeline " + first_case);
  EXPECT_EQ(police.exit_status, 0);
  EXPECT_THAT(police.output, HasSubstr("\"kind\":\"referral_received\""));
}

// Both programs say which build they are, and hubd says it when it starts.
TEST_F(HubctlTest, BothProgramsNameTheirVersionAndCommit) {
  const Result hubctl = Hubctl("police-agency", "--version");
  EXPECT_EQ(hubctl.exit_status, 0);
  EXPECT_THAT(hubctl.output,
              ::testing::ContainsRegex(
                  "^hubctl [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit ([0-9a-f]+|unknown)\\)"));
  const CommandResult hubd = RunCommand(absl::StrCat(HUBD_PATH, " --version"));
  EXPECT_EQ(hubd.exit_status, 0);
  EXPECT_THAT(hubd.output,
              ::testing::ContainsRegex("^hubd [0-9.]+ \\(commit ([0-9a-f]+|unknown)\\)"));
  EXPECT_THAT(hub_->Logs(), ::testing::ContainsRegex("msg=starting version=[0-9.]+ commit="));
}

}  // namespace
}  // namespace hub::testing
