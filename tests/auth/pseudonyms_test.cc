// The evaluation key: made once with strict permissions outside the data
// folder, the same pseudonyms from it every time it is loaded, and refused
// where whoever holds the data (or another user) could read it.
#include "auth/pseudonyms.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::auth {
namespace {

using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

TEST(PseudonymiserTest, TheKeyIsMadeOnceOwnerOnlyAndGivesTheSamePseudonymsWhenLoadedAgain) {
  hub::testing::TempDir dir;
  const std::string data = dir.Sub("data");
  std::filesystem::create_directories(data);
  const std::string key = dir.Sub("keys") + "/evaluation.key";
  std::filesystem::create_directories(dir.Sub("keys"));
  std::filesystem::permissions(dir.Sub("keys"), std::filesystem::perms::owner_all);
  auto made = Pseudonymiser::LoadOrCreate(key, data);
  ASSERT_TRUE(made.ok()) << made.status();
  struct stat info {};
  ASSERT_EQ(stat(key.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  auto loaded = Pseudonymiser::LoadOrCreate(key, data);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*made)->Of("case", "C-1"), (*loaded)->Of("case", "C-1"));
  EXPECT_EQ((*made)->key_id(), (*loaded)->key_id());
}

TEST(PseudonymiserTest, AKeyOthersMayReadOrInsideTheDataFolderOrDamagedIsRefused) {
  hub::testing::TempDir dir;
  const std::string data = dir.Sub("data");
  std::filesystem::create_directories(data);
  // Inside the data folder: a backup of the data would carry it.
  EXPECT_THAT(Pseudonymiser::LoadOrCreate(data + "/evaluation.key", data),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(std::filesystem::exists(data + "/evaluation.key"));
  // Readable by others.
  const std::string key = dir.Sub("evaluation.key");
  ASSERT_TRUE(Pseudonymiser::LoadOrCreate(key, data).ok());
  std::filesystem::permissions(key, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  EXPECT_THAT(Pseudonymiser::LoadOrCreate(key, data),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // Not a key.
  const std::string damaged = dir.Sub("damaged.key");
  { std::ofstream(damaged) << "not a key\n"; }
  std::filesystem::permissions(
      damaged, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      std::filesystem::perm_options::replace);
  EXPECT_THAT(Pseudonymiser::LoadOrCreate(damaged, data),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("64 lower-case hex")));
}

}  // namespace
}  // namespace hub::auth
