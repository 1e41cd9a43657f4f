#include "auth/revocation.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::auth {
namespace {

using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

// CRLs made by the operator's own tool, deploy/certs.sh.
class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Certs("init " + ca_ + " drive.test"), 0);
    ASSERT_EQ(Certs("client " + ca_ + " police agency"), 0);
    ASSERT_EQ(Certs("client " + ca_ + " housing agency"), 0);
  }
  static int Certs(const std::string& args) {
    return std::system(
        (std::string(HUB_SOURCE_DIR) + "/deploy/certs.sh " + args + " >/dev/null").c_str());
  }
  std::string Serial(const std::string& name) {
    std::ifstream file(ca_ + "/clients/" + name + ".crt");
    std::stringstream pem;
    pem << file.rdbuf();
    auto serial = CertificateSerial(pem.str());
    EXPECT_TRUE(serial.ok()) << serial.status();
    return serial.value_or("");
  }

  hub::testing::TempDir dir_;
  std::string ca_ = dir_.Sub("ca");
};

TEST_F(RevocationTest, ARevokedSerialIsRevokedAndOthersAreNot) {
  ASSERT_EQ(Certs("revoke " + ca_ + " police-agency"), 0);
  auto list = RevocationList::Load(ca_ + "/crl", ca_ + "/ca.crt", absl::Now());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->IsRevoked(Serial("police-agency")));
  EXPECT_FALSE(list->IsRevoked(Serial("housing-agency")));
  EXPECT_EQ(list->revoked_count(), 1u);
  EXPECT_GT(list->next_update(), absl::Now() + absl::Hours(24 * 29));
}

TEST_F(RevocationTest, AnEmptyFolderIsRefused) {
  ASSERT_EQ(std::system(("rm -f " + ca_ + "/crl/*").c_str()), 0);
  EXPECT_THAT(RevocationList::Load(ca_ + "/crl", ca_ + "/ca.crt", absl::Now()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("holds no CRL")));
}

TEST_F(RevocationTest, AMissingFolderIsRefused) {
  EXPECT_THAT(RevocationList::Load(ca_ + "/nothing", ca_ + "/ca.crt", absl::Now()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot read the CRL")));
}

TEST_F(RevocationTest, AnExpiredCrlIsRefused) {
  EXPECT_THAT(
      RevocationList::Load(ca_ + "/crl", ca_ + "/ca.crt", absl::Now() + absl::Hours(24 * 31)),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has expired")));
}

TEST_F(RevocationTest, ACrlFromAnotherCaIsRefused) {
  const std::string other = dir_.Sub("other");
  ASSERT_EQ(Certs("init " + other + " drive.test"), 0);
  ASSERT_EQ(std::system(("cp " + other + "/crl/ca.crl.pem " + ca_ + "/crl/forged.pem").c_str()), 0);
  EXPECT_THAT(RevocationList::Load(ca_ + "/crl", ca_ + "/ca.crt", absl::Now()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not signed by the CA")));
}

TEST_F(RevocationTest, GarbageIsNotACrl) {
  std::ofstream(ca_ + "/crl/garbage.pem") << "not a crl";
  EXPECT_THAT(RevocationList::Load(ca_ + "/crl", ca_ + "/ca.crt", absl::Now()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not a PEM CRL")));
}

TEST(CertificateSerialTest, GarbageIsInvalid) {
  EXPECT_THAT(CertificateSerial("-----BEGIN CERTIFICATE-----\nxx\n"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hub::auth
