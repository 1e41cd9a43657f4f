// A full disk. The log keeps a reserve of free space and refuses appends
// (RESOURCE_EXHAUSTED) below it, resuming by itself when space is freed. And
// if the disk fills anyway - simulated through a RocksDB file system that
// refuses writes or syncs with NoSpace - appends fail with
// RESOURCE_EXHAUSTED, nothing acknowledged is lost and nothing is corrupted.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

#include "storage/event_log.h"
#include "storage/internal/event_log_testing.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::storage {
namespace {

using ::hub::testing::IsOk;

class DiskFullFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class Refuse { kNothing, kWrites, kSyncs };

  DiskFullFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "DiskFullFileSystem"; }

  void Set(Refuse refuse) { refuse_.store(refuse); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    if (refuse_.load() == Refuse::kWrites) return Full();
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, file, dbg);
    if (status.ok()) file->reset(new File(std::move(*file), this));
    return status;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* file,
                                       rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus status = target()->ReopenWritableFile(name, options, file, dbg);
    if (status.ok()) file->reset(new File(std::move(*file), this));
    return status;
  }

 private:
  static rocksdb::IOStatus Full() { return rocksdb::IOStatus::NoSpace("simulated full disk"); }

  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, DiskFullFileSystem* fs)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_->refuse_.load() == Refuse::kWrites) return Full();
      return target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo&,
                             rocksdb::IODebugContext* dbg) override {
      return Append(data, options, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (fs_->refuse_.load() != Refuse::kNothing) return Full();
      return target()->Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      return Sync(options, dbg);
    }

   private:
    DiskFullFileSystem* fs_;
  };

  std::atomic<Refuse> refuse_{Refuse::kNothing};
};

class DiskFullTest : public ::testing::Test {
 protected:
  AppendRequest Request(const std::string& id) {
    AppendRequest request;
    request.case_id = "C-1";
    request.events.push_back({id, "payload " + id});
    return request;
  }

  std::shared_ptr<DiskFullFileSystem> fs_ = std::make_shared<DiskFullFileSystem>();
  std::unique_ptr<rocksdb::Env> env_ = rocksdb::NewCompositeEnv(fs_);
  hub::testing::TempDir dir_;
};

// Stores `count` events, failing the test if any is refused.
void AppendOk(EventLog& log, const std::string& prefix, int count,
              std::map<std::string, uint64_t>* acknowledged) {
  for (int i = 0; i < count; ++i) {
    AppendRequest request;
    request.case_id = "C-1";
    request.events.push_back({absl::StrCat(prefix, i), "payload"});
    auto result = log.Append(request);
    ASSERT_TRUE(result.ok()) << result.status();
    (*acknowledged)[request.events[0].event_id] = result->first_position;
  }
}

// Reopens the log at `path` and checks that it verifies, that positions are
// dense with no event stored twice, and that every acknowledged event is at
// its position.
void ExpectIntactAfterRestart(const std::string& path,
                              const std::map<std::string, uint64_t>& acknowledged) {
  auto reopened = EventLog::Open(path, EventLogOptions());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_THAT((*reopened)->Verify(), IsOk());
  auto all = (*reopened)->ReadFrom(1, 1000, 1 << 20);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), (*reopened)->LastPosition());
  std::map<std::string, uint64_t> stored;
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].position, i + 1);
    EXPECT_TRUE(stored.emplace((*all)[i].event_id, (*all)[i].position).second)
        << "stored twice: " << (*all)[i].event_id;
  }
  for (const auto& [id, position] : acknowledged) {
    ASSERT_EQ(stored.count(id), 1u) << id << " was acknowledged but is not in the log";
    EXPECT_EQ(stored.at(id), position) << id;
  }
}

TEST_F(DiskFullTest, BelowTheReserveAppendsAreRefusedAndResumeWhenSpaceIsFreed) {
  std::atomic<uint64_t> free_bytes{10ull << 30};
  EventLogOptions options;
  options.min_free_bytes = 256ull << 20;
  options.free_space_probe = [&]() -> absl::StatusOr<uint64_t> { return free_bytes.load(); };
  const std::string path = dir_.Sub("log");
  auto opened = EventLog::Open(path, options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EventLog& log = **opened;
  std::map<std::string, uint64_t> acknowledged;
  AppendOk(log, "before-", 3, &acknowledged);

  // Free space is measured at most once a second: within that, appends
  // start being refused.
  free_bytes = 100ull << 20;
  absl::StatusOr<AppendResult> refused = AppendResult();
  for (int attempt = 0; attempt < 60 && refused.ok(); ++attempt) {
    refused = log.Append(Request(absl::StrCat("probe-", attempt)));
    if (refused.ok()) {
      acknowledged[absl::StrCat("probe-", attempt)] = refused->first_position;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_FALSE(refused.ok()) << "appends were not refused below the reserve";
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("100 MiB free, below the 256 MiB"));
  const uint64_t last = log.LastPosition();
  EXPECT_EQ(log.Append(Request("refused")).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(log.LastPosition(), last);
  // A delivery's audit is refused too (so the delivery is not sent), and
  // leaves nothing behind.
  const uint64_t audit_size = log.AuditSize();
  std::promise<absl::StatusOr<uint64_t>> audited;
  log.AuditAsync({"a delivery"}, [&](absl::StatusOr<uint64_t> index) { audited.set_value(index); });
  EXPECT_EQ(audited.get_future().get().status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(log.AuditSize(), audit_size);

  free_bytes = 1ull << 30;
  absl::StatusOr<AppendResult> resumed = absl::UnknownError("not tried");
  for (int attempt = 0; attempt < 100 && !resumed.ok(); ++attempt) {
    resumed = log.Append(Request("refused"));
    if (!resumed.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_FALSE(resumed->already_stored);
  acknowledged["refused"] = resumed->first_position;
  opened->reset();
  ExpectIntactAfterRestart(path, acknowledged);
}

TEST_F(DiskFullTest, ARefusedSyncFailsAppendsWhichResumeWhenSpaceReturns) {
  const std::string path = dir_.Sub("log");
  auto opened = internal::OpenEventLogWithEnv(path, EventLogOptions(), env_.get());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EventLog& log = **opened;
  std::map<std::string, uint64_t> acknowledged;
  AppendOk(log, "before-", 5, &acknowledged);

  fs_->Set(DiskFullFileSystem::Refuse::kSyncs);
  for (int i = 0; i < 3; ++i) {
    auto refused = log.Append(Request(absl::StrCat("during-", i)));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  }
  // Readers see exactly what was acknowledged.
  EXPECT_EQ(log.LastPosition(), 5u);

  // Space returns: appends succeed again by themselves, without reopening.
  fs_->Set(DiskFullFileSystem::Refuse::kNothing);
  absl::StatusOr<AppendResult> resumed = absl::UnknownError("not tried");
  for (int attempt = 0; attempt < 200 && !resumed.ok(); ++attempt) {
    resumed = log.Append(Request("after-0"));
    if (!resumed.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  acknowledged["after-0"] = resumed->first_position;
  // A refused append may have reached the WAL before its sync failed: its
  // retry (same event id) finds it, or stores it; never twice.
  for (int i = 0; i < 3; ++i) {
    auto retried = log.Append(Request(absl::StrCat("during-", i)));
    ASSERT_TRUE(retried.ok()) << retried.status();
    acknowledged[absl::StrCat("during-", i)] = retried->first_position;
    auto again = log.Append(Request(absl::StrCat("during-", i)));
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->already_stored);
  }
  EXPECT_THAT(log.Verify(), IsOk());
  opened->reset();
  ExpectIntactAfterRestart(path, acknowledged);
}

// A failed WAL write is one RocksDB does not reliably resume from in place
// (the reserve above is there so that it does not happen): appends are
// refused, and after a restart nothing is lost or damaged.
TEST_F(DiskFullTest, ARefusedWriteLosesNothingAndTheLogReopensIntact) {
  const std::string path = dir_.Sub("log");
  std::map<std::string, uint64_t> acknowledged;
  {
    auto opened = internal::OpenEventLogWithEnv(path, EventLogOptions(), env_.get());
    ASSERT_TRUE(opened.ok()) << opened.status();
    AppendOk(**opened, "before-", 5, &acknowledged);
    fs_->Set(DiskFullFileSystem::Refuse::kWrites);
    for (int i = 0; i < 3; ++i) {
      auto refused = (*opened)->Append(Request(absl::StrCat("during-", i)));
      ASSERT_FALSE(refused.ok());
      EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
    }
    EXPECT_EQ((*opened)->LastPosition(), 5u);
    fs_->Set(DiskFullFileSystem::Refuse::kNothing);
  }
  ExpectIntactAfterRestart(path, acknowledged);
}

}  // namespace
}  // namespace hub::storage
