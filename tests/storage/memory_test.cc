// The log and the views opened with one StorageMemory stay within its
// budget together, however much more data they hold than it.
#include "storage/memory.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "storage/event_log.h"
#include "storage/view_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::storage {
namespace {

TEST(StorageMemoryTest, TheLogAndTheViewsShareOneBudget) {
  hub::testing::TempDir dir;
  constexpr size_t kBudget = 8 << 20;
  const std::shared_ptr<StorageMemory> memory = StorageMemory::Create(kBudget, 2 << 20);
  EventLogOptions log_options;
  log_options.memory = memory;
  log_options.min_free_bytes = 0;
  HUB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log,
                           EventLog::Open(dir.Sub("events"), log_options));
  ViewStoreOptions view_options;
  view_options.memory = memory;
  HUB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ViewStore> views,
                           ViewStore::Open(dir.Sub("views"), view_options));

  // 24 MiB of events, three times the budget, read back in full.
  const std::string payload(4096, 'p');
  for (int batch = 0; batch < 96; ++batch) {
    AppendRequest request;
    request.case_id = absl::StrCat("C-", batch % 8);
    for (int i = 0; i < 64; ++i)
      request.events.push_back({absl::StrCat("e-", batch, "-", i), payload});
    HUB_ASSERT_OK_AND_ASSIGN(AppendResult appended, log->Append(request));
    (void)appended;
  }
  uint64_t read = 0;
  for (uint64_t from = 1; from <= 96 * 64;) {
    HUB_ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, log->ReadFrom(from, 512, 4 << 20));
    ASSERT_FALSE(events.empty());
    read += events.size();
    from += events.size();
  }
  EXPECT_EQ(read, 96u * 64u);
  // Cached blocks and memtables together: within the budget, give or take
  // what RocksDB's cache lets through (its shards each hold a share and may
  // go over it by what is in use; memtables reserve whole 256 KiB entries).
  EXPECT_GT(memory->UsedBytes(), kBudget / 2);
  EXPECT_LE(memory->UsedBytes(), kBudget + kBudget / 20);
}

}  // namespace
}  // namespace hub::storage
