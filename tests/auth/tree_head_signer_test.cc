#include "auth/tree_head_signer.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::auth {
namespace {

using ::hub::testing::StatusIs;

TreeHead Head() {
  TreeHead head;
  head.tree_size = 1234;
  head.root_hash.fill(0xab);
  head.timestamp_ms = 1795000000123;
  return head;
}

mode_t Mode(const std::string& path) {
  struct stat info {};
  stat(path.c_str(), &info);
  return info.st_mode & 0777;
}

TEST(TreeHeadSignerTest, CreatesAKeyOnceAndExportsThePublicKey) {
  hub::testing::TempDir dir;
  const std::string path = dir.Sub("audit/key.pem");
  auto signer = TreeHeadSigner::LoadOrCreate(path);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(Mode(path), 0600u);
  std::ifstream exported(path + ".pub");
  std::string exported_pem((std::istreambuf_iterator<char>(exported)),
                           std::istreambuf_iterator<char>());
  EXPECT_EQ(exported_pem, (*signer)->public_key_pem());
  auto again = TreeHeadSigner::LoadOrCreate(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->public_key_pem(), (*signer)->public_key_pem()) << "the key must persist";
}

TEST(TreeHeadSignerTest, SignaturesVerifyAndAnyChangeIsCaught) {
  hub::testing::TempDir dir;
  auto signer = TreeHeadSigner::LoadOrCreate(dir.Sub("key.pem"));
  ASSERT_TRUE(signer.ok());
  auto signature = (*signer)->Sign(Head());
  ASSERT_TRUE(signature.ok());
  const std::string& key = (*signer)->public_key_pem();
  EXPECT_TRUE(VerifyTreeHead(key, Head(), *signature));

  TreeHead other = Head();
  other.tree_size = 1233;
  EXPECT_FALSE(VerifyTreeHead(key, other, *signature)) << "a truncated log";
  other = Head();
  other.root_hash[7] ^= 1;
  EXPECT_FALSE(VerifyTreeHead(key, other, *signature)) << "another root";
  other = Head();
  other.timestamp_ms += 1;
  EXPECT_FALSE(VerifyTreeHead(key, other, *signature)) << "another time";
  std::string damaged = *signature;
  damaged[damaged.size() / 2] ^= 1;
  EXPECT_FALSE(VerifyTreeHead(key, Head(), damaged));
  EXPECT_FALSE(VerifyTreeHead("not a key", Head(), *signature));

  auto impostor = TreeHeadSigner::LoadOrCreate(dir.Sub("impostor.pem"));
  ASSERT_TRUE(impostor.ok());
  EXPECT_FALSE(VerifyTreeHead((*impostor)->public_key_pem(), Head(), *signature));
}

TEST(TreeHeadSignerTest, StandardToolsVerifyTheSignature) {
  // The governance group needs only openssl and the exported public key.
  hub::testing::TempDir dir;
  auto signer = TreeHeadSigner::LoadOrCreate(dir.Sub("key.pem"));
  ASSERT_TRUE(signer.ok());
  auto signature = (*signer)->Sign(Head());
  ASSERT_TRUE(signature.ok());
  std::ofstream(dir.Sub("head.bin"), std::ios::binary) << TreeHeadSignedBytes(Head());
  std::ofstream(dir.Sub("head.sig"), std::ios::binary) << *signature;
  EXPECT_EQ(std::system(("openssl dgst -sha256 -verify " + dir.Sub("key.pem.pub") + " -signature " +
                         dir.Sub("head.sig") + " " + dir.Sub("head.bin") + " > /dev/null")
                            .c_str()),
            0);
}

TEST(TreeHeadSignerTest, RefusesAKeyOfAnotherKind) {
  hub::testing::TempDir dir;
  std::ofstream(dir.Sub("garbage.pem")) << "-----BEGIN PRIVATE KEY-----\nAAAA\n";
  EXPECT_THAT(TreeHeadSigner::LoadOrCreate(dir.Sub("garbage.pem")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_EQ(
      std::system(("openssl genpkey -algorithm ed25519 -out " + dir.Sub("ed.pem") + " 2>/dev/null")
                      .c_str()),
      0);
  EXPECT_THAT(TreeHeadSigner::LoadOrCreate(dir.Sub("ed.pem")),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("P-256")));
}

}  // namespace
}  // namespace hub::auth
