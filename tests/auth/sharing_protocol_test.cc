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
  EXPECT_EQ(loaded->protocol.principals_size(), 10);
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
  ASSERT_EQ(loaded->warnings.size(), 1u);
  EXPECT_THAT(loaded->warnings[0], HasSubstr("every caller is refused"));
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
