#include "auth/sharing_protocol.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/principal_directory.h"
#include "tests/testing/status_matchers.h"

namespace hub::auth {
namespace {

using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kHeader[] = "partnership: \"drive.test\"\nversion: \"1\"\n";

std::string Principal(const std::string& identity, const std::string& agency,
                      const std::string& role, const std::string& kind = "POLICE") {
  return "principals {\n  identity: \"" + identity + "\"\n  agency: \"" + agency +
         "\"\n  agency_kind: " + kind + "\n  role: " + role + "\n}\n";
}

TEST(SharingProtocolTest, TheExampleProtocolLoads) {
  auto loaded = LoadSharingProtocolFile(std::string(HUB_SOURCE_DIR) +
                                        "/deploy/examples/sharing_protocol.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->protocol.partnership(), "drive.example-county.gov.uk");
  EXPECT_EQ(loaded->protocol.principals_size(), 11);
  EXPECT_TRUE(loaded->warnings.empty());
}

struct BadProtocol {
  std::string name;
  std::string text;
  std::string message;
};

TEST(SharingProtocolTest, ErrorsPointToTheLine) {
  const std::vector<BadProtocol> cases = {
      {"syntax", std::string(kHeader) + "principals {\n  identity: \n", "p.textproto:5:1:"},
      {"unknown field", std::string(kHeader) + "principles {}\n",
       "p.textproto:3:12: Message type \"hub.v1.SharingProtocol\" has no field named "
       "\"principles\""},
      {"unknown enum value",
       std::string(kHeader) + Principal("spiffe://drive.test/agency/p/agency", "p", "KING"),
       "p.textproto:8:1: Unknown enumeration value of \"KING\""},
      {"malformed identity", std::string(kHeader) + Principal("police", "police", "AGENCY"),
       "p.textproto:4:3: identity \"police\" is not of the form"},
      {"another partnership",
       std::string(kHeader) + Principal("spiffe://other.test/agency/p/agency", "p", "AGENCY"),
       "p.textproto:4:3: identity spiffe://other.test/agency/p/agency belongs to partnership "
       "\"other.test\""},
      {"agency mismatch",
       std::string(kHeader) + Principal("spiffe://drive.test/agency/p/agency", "q", "AGENCY"),
       "p.textproto:5:3: agency \"q\" does not match \"p\""},
      {"role mismatch",
       std::string(kHeader) + Principal("spiffe://drive.test/agency/p/agency", "p", "ADMIN"),
       "p.textproto:7:3: role ADMIN does not match \"agency\""},
      {"no agency kind",
       std::string(kHeader) + Principal("spiffe://drive.test/agency/p/agency", "p", "AGENCY",
                                        "AGENCY_KIND_UNSPECIFIED"),
       "has no agency_kind"},
      {"duplicate identity",
       std::string(kHeader) + Principal("spiffe://drive.test/agency/p/agency", "p", "AGENCY") +
           Principal("spiffe://drive.test/agency/p/agency", "p", "AGENCY"),
       "p.textproto:10:3: identity spiffe://drive.test/agency/p/agency is listed twice"},
      {"no partnership", "version: \"1\"\n", "names no partnership"},
      {"no version", "partnership: \"drive.test\"\n", "has no version"},
  };
  for (const BadProtocol& c : cases) {
    EXPECT_THAT(ParseSharingProtocol(c.text, "p.textproto"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.name;
  }
}

TEST(SharingProtocolTest, NoPrincipalsIsAWarning) {
  auto loaded = ParseSharingProtocol(kHeader, "p.textproto");
  ASSERT_TRUE(loaded.ok());
  EXPECT_THAT(loaded->warnings, ::testing::Contains(HasSubstr("every caller is refused")));
}

std::string Rule(const std::string& body) { return "rules {\n" + body + "}\n"; }

constexpr char kPolice[] = "spiffe://drive.test/agency/police/agency";
constexpr char kAuditor[] = "spiffe://drive.test/agency/gov/auditor";

std::string Principals() {
  return Principal(kPolice, "police", "AGENCY") +
         Principal(kAuditor, "gov", "AUDITOR", "GOVERNANCE");
}

std::string GoodRule(const std::string& name, const std::string& extra = "") {
  return Rule("  name: \"" + name + "\"\n  principals: \"" + kPolice +
              "\"\n  data_classes: [RISK]\n  purposes: [PURPOSE_SAFEGUARDING]\n"
              "  lawful_basis: \"UK GDPR Art 6(1)(e)\"\n  legal_gateway: \"CDA 1998 s115\"\n" +
              extra);
}

TEST(SharingProtocolTest, RuleErrorsPointToTheLine) {
  const std::string base = std::string(kHeader) + Principals();  // 16 lines
  const std::vector<BadProtocol> cases = {
      {"unknown principal",
       base + Rule("  name: \"r\"\n  principals: \"spiffe://drive.test/agency/x/agency\"\n"
                   "  data_classes: [RISK]\n  purposes: [PURPOSE_PANEL]\n  lawful_basis: \"b\"\n"
                   "  legal_gateway: \"g\"\n"),
       "p.textproto:17:3: rule \"r\" names unknown principal spiffe://drive.test/agency/x/agency"},
      {"unknown class name", base + Rule("  name: \"r\"\n  data_classes: [REFUGE]\n"),
       "p.textproto:17:24: Unknown enumeration value of \"REFUGE\""},
      {"unknown class number",
       base + Rule("  name: \"r\"\n  principals: \"" + std::string(kPolice) +
                   "\"\n  data_classes: [99]\n  purposes: [PURPOSE_PANEL]\n"),
       "names unknown data class 99"},
      {"no lawful basis",
       base + Rule("  name: \"r\"\n  principals: \"" + std::string(kPolice) +
                   "\"\n  data_classes: [RISK]\n  purposes: [PURPOSE_PANEL]\n"),
       "p.textproto:16:3: rule \"r\" has no lawful_basis"},
      {"no legal gateway",
       base + Rule("  name: \"r\"\n  principals: \"" + std::string(kPolice) +
                   "\"\n  data_classes: [RISK]\n  purposes: [PURPOSE_PANEL]\n"
                   "  lawful_basis: \"b\"\n"),
       "has no legal_gateway"},
      {"no purposes",
       base + Rule("  name: \"r\"\n  principals: \"" + std::string(kPolice) +
                   "\"\n  data_classes: [RISK]\n"),
       "needs at least one principal, data class and purpose"},
      {"duplicate name", base + GoodRule("r") + GoodRule("r"),
       "p.textproto:24:3: rule name \"r\" is used twice"},
      {"unnamed", base + Rule("  principals: \"" + std::string(kPolice) + "\"\n"),
       "rule 1 has no name"},
      {"auditor sees content",
       base + Rule("  name: \"r\"\n  principals: \"" + std::string(kAuditor) +
                   "\"\n  data_classes: [RISK]\n  purposes: [PURPOSE_PANEL]\n"
                   "  lawful_basis: \"b\"\n  legal_gateway: \"g\"\n"),
       "gives case content to spiffe://drive.test/agency/gov/auditor, whose role is AUDITOR"},
  };
  for (const BadProtocol& c : cases) {
    EXPECT_THAT(ParseSharingProtocol(c.text, "p.textproto"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.name;
  }
}

// A protocol that would hand evaluators ordinary case content (a rule for
// safeguarding beside their evaluation rule) is refused: evaluators get the
// pseudonymised extract only.
TEST(SharingProtocolTest, EvaluatorsAreGivenOnlyPurposeEvaluation) {
  const std::string evaluator = "spiffe://drive.test/agency/uni/evaluator";
  const std::string base = std::string(kHeader) + Principals() +
                           Principal(evaluator, "uni", "EVALUATOR", "OTHER_AGENCY");
  auto rule = [&](const std::string& purposes) {
    return Rule("  name: \"evaluation\"\n  principals: \"" + evaluator +
                "\"\n  data_classes: [RISK, OFFENDING]\n  purposes: [" + purposes +
                "]\n  lawful_basis: \"UK GDPR Art 89\"\n  legal_gateway: \"DPA 2018 s19\"\n");
  };
  EXPECT_TRUE(ParseSharingProtocol(base + rule("PURPOSE_EVALUATION"), "p.textproto").ok());
  EXPECT_THAT(
      ParseSharingProtocol(base + rule("PURPOSE_EVALUATION, PURPOSE_SAFEGUARDING"), "p.textproto"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("an evaluator, content for PURPOSE_SAFEGUARDING")));
}

TEST(SharingProtocolTest, AClassNoRuleMentionsIsAWarning) {
  auto loaded =
      ParseSharingProtocol(std::string(kHeader) + Principals() + GoodRule("r"), "p.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(
      loaded->warnings,
      ::testing::Contains("no rule mentions data class VICTIM_LOCATION: nobody will see it"));
  EXPECT_THAT(loaded->warnings, ::testing::Not(::testing::Contains(HasSubstr("class RISK"))));
}

TEST(SharingProtocolTest, AMissingFileIsNotFound) {
  EXPECT_THAT(LoadSharingProtocolFile("/nonexistent/protocol.textproto"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/protocol.textproto")));
}

TEST(PrincipalDirectoryTest, FindsListedIdentitiesAndDeniesOthersNamingThem) {
  auto loaded = ParseSharingProtocol(
      std::string(kHeader) +
          Principal("spiffe://drive.test/agency/police/agency", "police", "AGENCY"),
      "p.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  PrincipalDirectory directory(loaded->protocol);
  auto police = directory.Find("spiffe://drive.test/agency/police/agency");
  ASSERT_TRUE(police.ok());
  EXPECT_EQ(police->agency(), "police");
  EXPECT_THAT(directory.Find("spiffe://drive.test/agency/police/admin"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("spiffe://drive.test/agency/police/admin is not a principal")));
  EXPECT_THAT(directory.Find(""),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no spiffe:// identity")));
}

}  // namespace
}  // namespace hub::auth
