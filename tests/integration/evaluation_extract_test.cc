// The evaluators' extract against a real hubd loaded with the demonstration
// site: only the evaluator gets it, and the evaluator gets nothing else; no
// id, subject, date or string any agency recorded reaches it; its figures
// are the site's; its pseudonyms hold across restarts with the key and
// change with another key; hubctl writes the CSV, its dictionary and JSON
// lines.
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/report_service.grpc.pb.h"
#include "hub/v1/timeline_service.grpc.pb.h"
#include "tools/demo/demo_site.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kScale = 0.1;

class EvaluationExtractTest : public ::testing::Test {
 protected:
  void SetUp() override { StartHub(); }

  void StartHub() {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  void LoadDemo() {
    const CommandResult demo = Hubctl(pki_, hub_->address(), "operator-admin",
                                      absl::StrCat("demo --scale=", kScale, " --parallel=4"));
    ASSERT_EQ(demo.exit_status, 0) << demo.output;
    // The extract reads the views, which may still be projecting the
    // demo's last events: a subscription's caught_up says they are not.
    ViewEnd(pki_, hub_->address(), "dapp-coordinator");
  }

  grpc::Status Extract(const std::string& as, hub::v1::GetEvaluationExtractResponse* extract) {
    grpc::ClientContext context;
    return hub::v1::ReportService::NewStub(pki_.Channel(hub_->address(), as))
        ->GetEvaluationExtract(&context, hub::v1::GetEvaluationExtractRequest(), extract);
  }

  // The values of one column, in row order.
  static std::vector<std::string> Column(const hub::v1::GetEvaluationExtractResponse& extract,
                                         const std::string& name) {
    std::vector<std::string> values;
    for (int c = 0; c < extract.columns_size(); ++c) {
      if (extract.columns(c).name() != name) continue;
      for (const auto& row : extract.rows()) values.push_back(row.values(c));
    }
    return values;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  const std::string data_ = dir_.Sub("data");
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(EvaluationExtractTest, OnlyTheEvaluatorGetsItAndTheEvaluatorGetsNothingElse) {
  LoadDemo();
  hub::v1::GetEvaluationExtractResponse extract;
  for (const char* as :
       {"police-agency", "dapp-coordinator", "governance-auditor", "operator-admin"}) {
    const grpc::Status denied = Extract(as, &extract);
    EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED) << as;
    EXPECT_THAT(denied.error_message(), HasSubstr("evaluator role only")) << as;
  }
  // No case, no list, no subscription for the evaluator.
  auto channel = pki_.Channel(hub_->address(), "evaluation-evaluator");
  {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-2025-00001");
    hub::v1::ReadCaseResponse response;
    EXPECT_EQ(hub::v1::EventService::NewStub(channel)
                  ->ReadCase(&context, request, &response)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    hub::v1::ListCasesResponse response;
    EXPECT_EQ(hub::v1::TimelineService::NewStub(channel)
                  ->ListCases(&context, hub::v1::ListCasesRequest(), &response)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // The extract itself, audited with the rule it relies on.
  ASSERT_TRUE(Extract("evaluation-evaluator", &extract).ok());
  const CommandResult audit =
      Hubctl(pki_, hub_->address(), "governance-auditor", "audit query --agency=evaluation");
  EXPECT_THAT(audit.output, HasSubstr("AUDIT_READ_EXTRACT"));
  EXPECT_THAT(audit.output, HasSubstr("evaluation"));
}

TEST_F(EvaluationExtractTest, NoIdSubjectDateOrRecordedStringReachesItAndItsFiguresAreTheSites) {
  LoadDemo();
  hub::v1::GetEvaluationExtractResponse extract;
  ASSERT_TRUE(Extract("evaluation-evaluator", &extract).ok());
  tools::DemoOptions options;
  options.scale = kScale;
  const tools::DemoSite site = tools::GenerateDemoSite(options);
  ASSERT_EQ(extract.rows_size(), static_cast<int>(site.cases.size()));

  // Every string of every event of the site, and every case id.
  std::set<std::string> recorded;
  std::function<void(const google::protobuf::Message&)> collect =
      [&](const google::protobuf::Message& message) {
        const auto* reflection = message.GetReflection();
        std::vector<const google::protobuf::FieldDescriptor*> fields;
        reflection->ListFields(message, &fields);
        for (const auto* field : fields) {
          const int n = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
          for (int i = 0; i < n; ++i) {
            if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
              recorded.insert(field->is_repeated()
                                  ? reflection->GetRepeatedString(message, field, i)
                                  : reflection->GetString(message, field));
            } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
              collect(field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i)
                                           : reflection->GetMessage(message, field));
            }
          }
        }
      };
  for (const tools::DemoCase& demo_case : site.cases) {
    recorded.insert(demo_case.case_id);
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) collect(event);
    }
  }
  std::string everything;
  for (const auto& row : extract.rows()) {
    for (const std::string& value : row.values()) absl::StrAppend(&everything, value, "\n");
  }
  size_t checked = 0;
  for (const std::string& value : recorded) {
    if (value.size() < 4) continue;
    ++checked;
    EXPECT_THAT(everything, Not(HasSubstr(value))) << value;
  }
  EXPECT_GT(checked, 500u);
  EXPECT_FALSE(std::regex_search(everything, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}")));

  // Its figures are the site's: referral months and routes, victims.
  std::multiset<std::string> months, routes;
  uint64_t victims = 0;
  for (const tools::DemoCase& demo_case : site.cases) {
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        if (event.has_referral_received()) {
          const auto& on = event.referral_received().referred_on();
          months.insert(absl::StrFormat("%04d-%02d", on.year(), on.month()));
          routes.insert(hub::v1::ReferralRoute_Name(event.referral_received().route()));
        }
        if (event.has_subject_linked() && event.subject_linked().has_victim()) ++victims;
      }
    }
  }
  const std::vector<std::string> month_column = Column(extract, "referral_month");
  const std::vector<std::string> route_column = Column(extract, "referral_route");
  EXPECT_EQ(std::multiset<std::string>(month_column.begin(), month_column.end()), months);
  EXPECT_EQ(std::multiset<std::string>(route_column.begin(), route_column.end()), routes);
  uint64_t victims_in_extract = 0;
  for (const std::string& n : Column(extract, "victims")) victims_in_extract += std::stoull(n);
  EXPECT_EQ(victims_in_extract, victims);
  // What the example protocol does not give evaluators is withheld.
  std::set<std::string> withheld;
  for (const auto& column : extract.withheld_columns()) withheld.insert(column.name());
  EXPECT_EQ(withheld, (std::set<std::string>{"person", "child_worker_contacts"}));
}

TEST_F(EvaluationExtractTest, PseudonymsHoldAcrossRestartsWithTheKeyAndChangeWithAnother) {
  LoadDemo();
  hub::v1::GetEvaluationExtractResponse first, again, restarted, rekeyed;
  ASSERT_TRUE(Extract("evaluation-evaluator", &first).ok());
  ASSERT_TRUE(Extract("evaluation-evaluator", &again).ok());
  const std::vector<std::string> cases = Column(first, "case");
  ASSERT_FALSE(cases.empty());
  EXPECT_EQ(Column(again, "case"), cases);
  EXPECT_EQ(std::set<std::string>(cases.begin(), cases.end()).size(), cases.size());

  ASSERT_EQ(hub_->Stop(), 0);
  hub_.reset();
  StartHub();
  ASSERT_TRUE(Extract("evaluation-evaluator", &restarted).ok());
  EXPECT_EQ(Column(restarted, "case"), cases);
  EXPECT_EQ(restarted.key_id(), first.key_id());

  // Another key (the old one lost): every pseudonym changes.
  ASSERT_EQ(hub_->Stop(), 0);
  hub_.reset();
  const std::string key = data_ + "-keys/evaluation.key";
  ASSERT_TRUE(std::filesystem::exists(key));
  struct stat info {};
  ASSERT_EQ(stat(key.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  std::filesystem::remove(key);
  StartHub();
  ASSERT_TRUE(Extract("evaluation-evaluator", &rekeyed).ok());
  EXPECT_NE(rekeyed.key_id(), first.key_id());
  const std::vector<std::string> new_cases = Column(rekeyed, "case");
  ASSERT_EQ(new_cases.size(), cases.size());
  const std::set<std::string> old_set(cases.begin(), cases.end());
  for (const std::string& pseudonym : new_cases) EXPECT_EQ(old_set.count(pseudonym), 0u);
}

TEST_F(EvaluationExtractTest, HubctlWritesTheCsvItsDictionaryAndJsonLines) {
  LoadDemo();
  const std::string csv = dir_.Sub("extract.csv");
  const std::string dictionary = dir_.Sub("dictionary.csv");
  const std::string jsonl = dir_.Sub("extract.jsonl");
  const CommandResult result =
      Hubctl(pki_, hub_->address(), "evaluation-evaluator",
             absl::StrCat("extract --csv=", csv, " --dictionary=", dictionary, " --jsonl=", jsonl));
  ASSERT_EQ(result.exit_status, 0) << result.output;
  auto read = [](const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  };
  const std::string table = read(csv);
  EXPECT_EQ(table.substr(0, table.find('\r')).substr(0, 20), "case,referral_month,");
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'),
            static_cast<long>(std::llround(175 * kScale)) + 1);
  const std::string words = read(dictionary);
  EXPECT_THAT(words, HasSubstr("referral_month,month,CASE_ADMINISTRATION,yes,"));
  EXPECT_THAT(words, HasSubstr("person,pseudonym,PERPETRATOR_IDENTITY,withheld"));
  const std::string lines = read(jsonl);
  EXPECT_THAT(lines, HasSubstr("\"referral_route\":\"ROUTE_"));
  for (const std::string& file : {csv, dictionary, jsonl}) {
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

}  // namespace
}  // namespace hub::testing
