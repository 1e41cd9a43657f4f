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

struct Result {
  int exit_status = -1;
  std::string output;  // stdout and stderr
};

class HubctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  Result Hubctl(const std::string& as, const std::string& arguments) {
    const std::string command =
        absl::StrCat(HUBCTL_PATH, " --hub=", hub_->address(), " --certs_dir=", pki_.dir(),
                     " --as=", as, " ", arguments, " 2>&1");
    Result result;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
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
  EXPECT_THAT(published.output, HasSubstr("stored at positions 2-3, versions 1-2"));
  Result again = Hubctl("police-agency", "publish " + example_);
  EXPECT_EQ(again.exit_status, 0);
  EXPECT_THAT(again.output, HasSubstr("already stored at positions 2-3"));

  Result read = Hubctl("drive-agency", "read C-2026-0001");
  EXPECT_EQ(read.exit_status, 0) << read.output;
  EXPECT_THAT(read.output, HasSubstr("referral_received"));
  EXPECT_THAT(read.output, HasSubstr("risk_assessed"));

  Result json = Hubctl("police-agency", "--json read C-2026-0001");
  EXPECT_EQ(json.exit_status, 0);
  EXPECT_THAT(json.output, HasSubstr("\"dashYesCount\":16"));

  Result tail = Hubctl("idva-agency", "tail --until_caught_up");
  EXPECT_EQ(tail.exit_status, 0) << tail.output;
  EXPECT_THAT(tail.output, HasSubstr("caught up at position 3"));
}

TEST_F(HubctlTest, RefusalsExitNonZeroWithTheHubsReason) {
  Result auditor = Hubctl("governance-auditor", "publish " + example_);
  EXPECT_EQ(auditor.exit_status, 1);
  EXPECT_THAT(auditor.output, HasSubstr("only agency systems and coordinators publish"));
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
  const std::string key = "--public_key=" + dir_.Sub("data") + "/audit/audit-key.pem.pub";
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
  const std::string key = "--public_key=" + dir_.Sub("data") + "/audit/audit-key.pem.pub";
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

}  // namespace
}  // namespace hub::testing
