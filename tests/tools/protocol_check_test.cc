// `hubctl protocol check`: what it explains for a principal is what the
// engines decide, and an invalid protocol is refused with its line.
#include "tools/hubctl/protocol_check.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/sharing_protocol.h"
#include "tests/testing/example_protocol.h"

namespace hub::tools {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kExample = hub::testing::ExampleProtocolFile();

std::vector<std::string> Whats(const std::vector<Permission>& permissions) {
  std::vector<std::string> whats;
  for (const Permission& p : permissions) whats.push_back(p.what);
  return whats;
}

TEST(ProtocolCheckTest, HousingMayProgressItsActionsAndReadNoVictimDetail) {
  const hub::v1::SharingProtocol protocol = hub::testing::LoadExampleProtocol();
  ASSERT_FALSE(HasFailure());
  const std::vector<PrincipalExplanation> housing = ExplainProtocol(protocol, "housing/agency");
  ASSERT_EQ(housing.size(), 1u);
  EXPECT_THAT(Whats(housing[0].may_record),
              ElementsAre("action_updated", "action_completed", "record_corrected"));
  EXPECT_THAT(housing[0].may_record[0].rule, "action-progress");
  // Housing reads nothing of a case it is not involved in, its own detail
  // only for its own clients, and never who or where a victim is.
  const std::vector<std::string> read = Whats(housing[0].may_read);
  EXPECT_THAT(read, ::testing::Contains("VICTIM_RISK_SUMMARY where OWNS_ACTION"));
  EXPECT_THAT(read, ::testing::Contains("HOUSING where REFERRED_FOR_SUPPORT"));
  EXPECT_THAT(read, ::testing::Not(::testing::Contains("HOUSING where OWNS_ACTION")));
  for (const std::string& what : read) {
    EXPECT_THAT(what, HasSubstr(" where ")) << "housing reads " << what << " in every case";
    EXPECT_THAT(what, ::testing::Not(::testing::StartsWith("VICTIM_LOCATION")));
    EXPECT_THAT(what, ::testing::Not(::testing::StartsWith("VICTIM_IDENTITY")));
  }
  EXPECT_THAT(
      housing[0].constraints,
      ::testing::Contains(HasSubstr("only by the agency named in action_tasked.owner_agency")));
  EXPECT_THAT(FormatExplanation(housing, /*json=*/false), HasSubstr("(rule action-progress)"));
  EXPECT_THAT(FormatExplanation(housing, /*json=*/true),
              HasSubstr("\"event_type\":\"action_updated\""));
}

TEST(ProtocolCheckTest, TheAuditorRecordsAndReadsNoCaseContent) {
  const hub::v1::SharingProtocol protocol = hub::testing::LoadExampleProtocol();
  ASSERT_FALSE(HasFailure());
  const std::vector<PrincipalExplanation> auditor = ExplainProtocol(protocol, "governance/auditor");
  ASSERT_EQ(auditor.size(), 1u);
  EXPECT_THAT(auditor[0].may_record, IsEmpty());
  EXPECT_THAT(auditor[0].may_read, IsEmpty());
  EXPECT_EQ(ExplainProtocol(protocol, "").size(), static_cast<size_t>(protocol.principals_size()));
}

TEST(ProtocolCheckTest, AnInvalidProtocolOrUnknownPrincipalIsRefused) {
  EXPECT_EQ(CheckProtocolFile(kExample, "police/agency", false), 0);
  EXPECT_EQ(CheckProtocolFile(kExample, "nobody/agency", false), 2);
  std::ifstream in(kExample);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.replace(text.find("event_types: [\"disruption_recorded\"]"), 37,
               "event_types: [\"arrest\"]");
  const std::string bad = ::testing::TempDir() + "/bad.textproto";
  std::ofstream(bad) << text;
  EXPECT_EQ(CheckProtocolFile(bad, "", false), 1);
}

}  // namespace
}  // namespace hub::tools
