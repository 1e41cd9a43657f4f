// A generation being built is written without the write-ahead log. Once
// activated it must survive the process dying at any moment, with every
// event of every batch (the child: view_store_crash_child.cc).
#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "storage/view_store.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace hub::storage {
namespace {

TEST(ViewStoreCrashTest, AnActivatedGenerationSurvivesAProcessCrash) {
  hub::testing::TempDir dir;
  const std::string path = dir.Sub("views");
  const std::string child = HUB_VIEW_CRASH_CHILD_PATH;
  std::vector<std::string> args = {child, path};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, child.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child should have killed itself after writing (status " << status << ")";

  auto reopened = ViewStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::optional<GenerationInfo> active = (*reopened)->Active();
  ASSERT_TRUE(active.has_value());
  auto checkpoint = (*reopened)->Checkpoint(active->generation);
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(*checkpoint, 5001u);
  auto events = (*reopened)->ReadFrom(active->generation, 1, 0, 10000);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 5001u);
  for (uint64_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].payload, "redacted " + std::to_string(i + 1));
  }
  auto case_events = (*reopened)->ReadCase(active->generation, 0, "C-3", 1, 10000);
  ASSERT_TRUE(case_events.ok());
  EXPECT_EQ(case_events->size(), 715u);  // positions 3, 10, ... 4994, 5001
}

}  // namespace
}  // namespace hub::storage
