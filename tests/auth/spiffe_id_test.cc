#include "auth/spiffe_id.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace hub::auth {
namespace {

using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SpiffeIdTest, ParsesTheHubsForm) {
  auto id = ParseHubSpiffeId("spiffe://drive.example.org/agency/idva/agency");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->partnership, "drive.example.org");
  EXPECT_EQ(id->agency, "idva");
  EXPECT_EQ(id->role, hub::v1::AGENCY);
  EXPECT_EQ(ParseHubSpiffeId("spiffe://p/agency/dapp/coordinator")->role, hub::v1::COORDINATOR);
  EXPECT_EQ(ParseHubSpiffeId("spiffe://p/agency/gov/auditor")->role, hub::v1::AUDITOR);
  EXPECT_EQ(ParseHubSpiffeId("spiffe://p/agency/op/admin")->role, hub::v1::ADMIN);
}

TEST(SpiffeIdTest, RefusesEverythingElse) {
  for (const char* bad : {
           "",
           "https://drive.example.org/agency/idva/agency",
           "spiffe://drive.example.org/agency/idva",
           "spiffe://drive.example.org/agency/idva/agency/extra",
           "spiffe://drive.example.org/team/idva/agency",
           "spiffe://drive.example.org/agency//agency",
           "spiffe://drive.example.org/agency/IDVA/agency",
           "spiffe://drive.example.org/agency/idva/agency?x=1",
           "spiffe:///agency/idva/agency",
       }) {
    EXPECT_THAT(ParseHubSpiffeId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParseHubSpiffeId("spiffe://p/agency/police/superuser"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("names role \"superuser\"")));
}

TEST(SpiffeIdTest, RoleSegmentsRoundTrip) {
  for (hub::v1::Role role :
       {hub::v1::AGENCY, hub::v1::COORDINATOR, hub::v1::AUDITOR, hub::v1::ADMIN}) {
    auto id = ParseHubSpiffeId("spiffe://p/agency/a/" + RoleSegment(role));
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(id->role, role);
  }
  EXPECT_EQ(RoleSegment(hub::v1::ROLE_UNSPECIFIED), "");
}

}  // namespace
}  // namespace hub::auth
