// Kills a real appending process with SIGKILL at random moments, many times,
// and checks after every restart that each acknowledged append is present
// exactly once at the position it was acknowledged with, that positions are
// dense and that the hash chain verifies. The seed is printed; set
// HUB_CRASH_SEED to replay a failure, HUB_CRASH_ITERATIONS for a longer run.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "storage/event_log.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace hub::storage {
namespace {

struct Ack {
  uint64_t first_position = 0;
  int count = 0;
};

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

// Runs the child until it is ready, lets it append for `run_ms`, kills it,
// and returns everything it acknowledged.
std::map<std::string, Ack> RunAndKill(const std::string& dir, const std::string& run_id,
                                      int run_ms) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const std::string child = HUB_CRASH_CHILD_PATH;
  std::vector<std::string> args = {child, dir, run_id, "8"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, child.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);

  std::string output;
  char buffer[65536];
  bool killed = false;
  const auto deadline_after_ready = [&] {
    return std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  };
  std::chrono::steady_clock::time_point kill_at = std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (!killed && std::chrono::steady_clock::now() >= kill_at) {
      kill(pid, SIGKILL);
      killed = true;
    }
    // The child writes continuously, so reads return quickly until it dies.
    const ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
    if (kill_at == std::chrono::steady_clock::time_point::max() &&
        output.find("ready\n") != std::string::npos) {
      kill_at = deadline_after_ready();
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child should die by SIGKILL, not by itself (status " << status << ")";

  std::map<std::string, Ack> acks;
  std::istringstream lines(output);
  std::string id;
  Ack ack;
  std::string ready;
  lines >> ready;
  while (lines >> id >> ack.first_position >> ack.count) acks[id] = ack;
  return acks;
}

TEST(EventLogCrashTest, AcknowledgedAppendsSurviveSigkillExactlyOnce) {
  const uint64_t seed = EnvOr("HUB_CRASH_SEED", std::random_device()());
  const uint64_t iterations = EnvOr("HUB_CRASH_ITERATIONS", 25);
  std::printf("crash test seed %llu, %llu iterations\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(iterations));
  std::mt19937_64 random(seed);
  hub::testing::TempDir dir;
  const std::string path = dir.Sub("log");

  std::map<std::string, Ack> acknowledged;
  for (uint64_t iteration = 0; iteration < iterations; ++iteration) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, " iteration ", iteration));
    const int run_ms = static_cast<int>(random() % 250) + 10;
    std::map<std::string, Ack> acks = RunAndKill(path, absl::StrCat("r", iteration), run_ms);
    acknowledged.insert(acks.begin(), acks.end());

    auto opened = EventLog::Open(path, EventLogOptions());
    ASSERT_TRUE(opened.ok()) << opened.status();
    EventLog& log = **opened;

    // Read the whole log: positions are dense (ReadFrom verifies) and every
    // event id occurs once.
    std::map<std::string, uint64_t> stored;
    for (uint64_t next = 1; next <= log.LastPosition();) {
      auto events = log.ReadFrom(next, 10000, 8 << 20);
      ASSERT_TRUE(events.ok()) << events.status();
      for (const StoredEvent& event : *events) {
        ASSERT_EQ(event.position, next);
        ASSERT_TRUE(stored.emplace(event.event_id, event.position).second)
            << event.event_id << " is stored twice";
        ++next;
      }
    }
    for (const auto& [id, ack] : acknowledged) {
      auto found = stored.find(id);
      ASSERT_NE(found, stored.end()) << "acknowledged event " << id << " was lost";
      ASSERT_EQ(found->second, ack.first_position) << id;
    }
    ASSERT_THAT(log.Verify(), hub::testing::IsOk());

    // A retry after the restart is recognised and writes nothing.
    if (!acks.empty()) {
      auto it = acks.begin();
      std::advance(it, static_cast<long>(random() % acks.size()));
      const std::string prefix = it->first.substr(0, it->first.size() - 1);
      AppendRequest retry;
      retry.case_id = "ignored";
      for (int e = 0; e < it->second.count; ++e) {
        retry.events.push_back({absl::StrCat(prefix, e), "retried"});
      }
      auto stored_events = log.ReadFrom(it->second.first_position, 1, 1);
      ASSERT_TRUE(stored_events.ok());
      retry.case_id = stored_events->front().case_id;
      const uint64_t last = log.LastPosition();
      auto result = log.Append(retry);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_TRUE(result->already_stored);
      EXPECT_EQ(result->first_position, it->second.first_position);
      EXPECT_EQ(log.LastPosition(), last);
    }
  }
  EXPECT_GT(acknowledged.size(), iterations) << "the child should have appended something";
  std::printf("%zu acknowledged appends checked across %llu kills\n", acknowledged.size(),
              static_cast<unsigned long long>(iterations));
}

}  // namespace
}  // namespace hub::storage
