#include "storage/event_log.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::storage {
namespace {

using ::hub::testing::IsOk;
using ::hub::testing::IsOkAndHolds;
using ::hub::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

AppendRequest Batch(const std::string& case_id, std::vector<std::string> ids,
                    std::optional<uint64_t> expected_version = std::nullopt) {
  AppendRequest request;
  request.case_id = case_id;
  request.expected_version = expected_version;
  for (std::string& id : ids) request.events.push_back({id, "payload of " + id});
  return request;
}

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    log_.reset();
    auto opened = EventLog::Open(dir_.Sub("log"), options_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    log_ = std::move(opened).value();
  }

  std::vector<uint64_t> Positions(const std::vector<StoredEvent>& events) {
    std::vector<uint64_t> positions;
    for (const StoredEvent& event : events) positions.push_back(event.position);
    return positions;
  }

  hub::testing::TempDir dir_;
  EventLogOptions options_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(EventLogTest, AssignsDenseGlobalPositionsAndPerCaseVersions) {
  HUB_ASSERT_OK_AND_ASSIGN(AppendResult a, log_->Append(Batch("C-1", {"e1", "e2"})));
  HUB_ASSERT_OK_AND_ASSIGN(AppendResult b, log_->Append(Batch("C-2", {"e3"})));
  HUB_ASSERT_OK_AND_ASSIGN(AppendResult c, log_->Append(Batch("C-1", {"e4"})));

  EXPECT_EQ(a.first_position, 1u);
  EXPECT_EQ(a.last_position, 2u);
  EXPECT_EQ(a.first_version, 1u);
  EXPECT_EQ(a.last_version, 2u);
  EXPECT_FALSE(a.already_stored);
  EXPECT_EQ(b.first_position, 3u);
  EXPECT_EQ(b.first_version, 1u);
  EXPECT_EQ(c.first_position, 4u);
  EXPECT_EQ(c.first_version, 3u);
  EXPECT_EQ(log_->LastPosition(), 4u);
  EXPECT_THAT(log_->CaseVersion("C-1"), IsOkAndHolds(3u));
  EXPECT_THAT(log_->CaseVersion("C-3"), IsOkAndHolds(0u));
}

// What a signed checkpoint commits to: the chain digest at a size, which for
// the newest record is the chain head.
TEST_F(EventLogTest, TheViewsGenerationIsKeptDurablyOutsideTheChain) {
  const auto none = log_->LatestViewGeneration();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_THAT(log_->Append(Batch("C-1", {"e1"})), IsOk());
  ASSERT_THAT(log_->RecordViewGeneration({7, std::string("digest\0of 7", 11)}), IsOk());
  Reopen();
  const auto recorded = log_->LatestViewGeneration();
  ASSERT_TRUE(recorded.ok() && recorded->has_value());
  EXPECT_EQ((*recorded)->generation, 7u);
  EXPECT_EQ((*recorded)->digest, std::string("digest\0of 7", 11));
  EXPECT_THAT(log_->Verify(), IsOk());
}

TEST_F(EventLogTest, ChainDigestAtIsTheDigestEachRecordLinksTo) {
  HUB_ASSERT_OK_AND_ASSIGN(AppendResult a, log_->Append(Batch("C-1", {"e1", "e2", "e3"})));
  HUB_ASSERT_OK_AND_ASSIGN(VerifiedLog verified, log_->Verify());
  HUB_ASSERT_OK_AND_ASSIGN(Sha256Digest last, log_->ChainDigestAt(a.last_position));
  EXPECT_EQ(last, verified.head_digest);
  HUB_ASSERT_OK_AND_ASSIGN(Sha256Digest first, log_->ChainDigestAt(a.first_position));
  EXPECT_NE(first, last);
  EXPECT_EQ(log_->ChainDigestAt(a.last_position + 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log_->ChainDigestAt(0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EventLogTest, ReadFromReturnsEventsInOrderWithTheirContent) {
  ASSERT_THAT(log_->Append(Batch("C-1", {"e1", "e2"})), IsOk());
  ASSERT_THAT(log_->Append(Batch("C-2", {"e3"})), IsOk());

  HUB_ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, log_->ReadFrom(0, 100, 1 << 20));
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_EQ(events[2].position, 3u);
  EXPECT_EQ(events[2].case_id, "C-2");
  EXPECT_EQ(events[2].event_id, "e3");
  EXPECT_EQ(events[2].stream_version, 1u);
  EXPECT_EQ(events[2].payload, "payload of e3");
}

TEST_F(EventLogTest, ReadFromPagesByCountAndBytesAndAlwaysMakesProgress) {
  for (int i = 1; i <= 10; ++i) {
    ASSERT_THAT(log_->Append(Batch("C-1", {absl::StrCat("e", i)})), IsOk());
  }
  HUB_ASSERT_OK_AND_ASSIGN(auto page, log_->ReadFrom(4, 3, 1 << 20));
  EXPECT_THAT(Positions(page), ElementsAre(4, 5, 6));
  HUB_ASSERT_OK_AND_ASSIGN(page, log_->ReadFrom(9, 100, 1 << 20));
  EXPECT_THAT(Positions(page), ElementsAre(9, 10));
  HUB_ASSERT_OK_AND_ASSIGN(page, log_->ReadFrom(2, 100, 1));
  EXPECT_THAT(Positions(page), ElementsAre(2));
  HUB_ASSERT_OK_AND_ASSIGN(page, log_->ReadFrom(11, 100, 1 << 20));
  EXPECT_THAT(page, SizeIs(0));
}

TEST_F(EventLogTest, FindEventLooksAnIdUpInWhicheverCaseHoldsIt) {
  ASSERT_THAT(log_->Append(Batch("C-1", {"e1", "e2"})).status(), IsOk());
  ASSERT_THAT(log_->Append(Batch("C-2", {"e3"})).status(), IsOk());
  HUB_ASSERT_OK_AND_ASSIGN(std::optional<StoredEvent> found, log_->FindEvent("e3"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->case_id, "C-2");
  EXPECT_EQ(found->position, 3u);
  EXPECT_EQ(found->stream_version, 1u);
  EXPECT_EQ(found->payload, "payload of e3");
  HUB_ASSERT_OK_AND_ASSIGN(found, log_->FindEvent("e2"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->stream_version, 2u);
  HUB_ASSERT_OK_AND_ASSIGN(found, log_->FindEvent("e9"));
  EXPECT_FALSE(found.has_value());
  // Still there after a restart (from the tables, not the memtable).
  Reopen();
  EXPECT_THAT(log_->FindEvent("e1"),
              IsOkAndHolds(::testing::Optional(::testing::Field(&StoredEvent::case_id, "C-1"))));
}

TEST_F(EventLogTest, ReadCaseReturnsOnlyThatCaseFromAVersion) {
  ASSERT_THAT(log_->Append(Batch("C-1", {"e1", "e2"})), IsOk());
  ASSERT_THAT(log_->Append(Batch("C-10", {"e3"})), IsOk());
  ASSERT_THAT(log_->Append(Batch("C-1", {"e4"})), IsOk());

  HUB_ASSERT_OK_AND_ASSIGN(auto events, log_->ReadCase("C-1", 2, 100));
  EXPECT_THAT(Positions(events), ElementsAre(2, 4));
  EXPECT_EQ(events[1].stream_version, 3u);
  HUB_ASSERT_OK_AND_ASSIGN(events, log_->ReadCase("C-1", 0, 1));
  EXPECT_THAT(Positions(events), ElementsAre(1));
  HUB_ASSERT_OK_AND_ASSIGN(events, log_->ReadCase("C-9", 0, 100));
  EXPECT_THAT(events, SizeIs(0));
}

TEST_F(EventLogTest, ExpectedVersionMismatchIsADistinctErrorAndWritesNothing) {
  ASSERT_THAT(log_->Append(Batch("C-1", {"e1"}, 0)), IsOk());
  ASSERT_THAT(log_->Append(Batch("C-1", {"e2"}, 1)), IsOk());

  absl::StatusOr<AppendResult> stale = log_->Append(Batch("C-1", {"e3"}, 1));
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("case C-1 is at version 2, expected 1")));
  EXPECT_TRUE(IsVersionConflict(stale.status()));
  EXPECT_EQ(CurrentVersionFromConflict(stale.status()), 2u);
  EXPECT_THAT(log_->Append(Batch("C-2", {"e4"}, 3)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("at version 0")));
  EXPECT_EQ(log_->LastPosition(), 2u);
  // The refused event id is still free.
  EXPECT_THAT(log_->Append(Batch("C-1", {"e3"}, 2)), IsOk());
}

TEST_F(EventLogTest, OtherPreconditionFailuresAreNotVersionConflicts) {
  EXPECT_FALSE(IsVersionConflict(absl::FailedPreconditionError("something else")));
  EXPECT_EQ(CurrentVersionFromConflict(absl::FailedPreconditionError("x")), std::nullopt);
}

TEST_F(EventLogTest, RetryOfAStoredBatchReturnsOriginalPositionsAndWritesNothing) {
  HUB_ASSERT_OK_AND_ASSIGN(AppendResult first, log_->Append(Batch("C-1", {"e1", "e2"}, 0)));
  ASSERT_THAT(log_->Append(Batch("C-1", {"e3"})), IsOk());

  // The retry carries the stale expected_version of the original request.
  HUB_ASSERT_OK_AND_ASSIGN(AppendResult retry, log_->Append(Batch("C-1", {"e1", "e2"}, 0)));
  EXPECT_TRUE(retry.already_stored);
  EXPECT_EQ(retry.first_position, first.first_position);
  EXPECT_EQ(retry.last_position, first.last_position);
  EXPECT_EQ(retry.first_version, 1u);
  EXPECT_EQ(retry.last_version, 2u);
  EXPECT_EQ(log_->LastPosition(), 3u);

  Reopen();
  HUB_ASSERT_OK_AND_ASSIGN(retry, log_->Append(Batch("C-1", {"e1", "e2"})));
  EXPECT_TRUE(retry.already_stored);
  EXPECT_EQ(retry.first_position, 1u);
  EXPECT_EQ(log_->LastPosition(), 3u);
}

TEST_F(EventLogTest, ReusedIdsThatAreNotARetryAreRefused) {
  ASSERT_THAT(log_->Append(Batch("C-1", {"e1", "e2"})), IsOk());

  EXPECT_THAT(log_->Append(Batch("C-2", {"e1"})),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("in another case")));
  EXPECT_THAT(log_->Append(Batch("C-1", {"e1", "new"})),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("same batch")));
  EXPECT_THAT(log_->Append(Batch("C-1", {"e2", "e1"})),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("reordered")));
  EXPECT_EQ(log_->LastPosition(), 2u);
  HUB_ASSERT_OK_AND_ASSIGN(auto events, log_->ReadFrom(1, 100, 1 << 20));
  EXPECT_THAT(events, SizeIs(2));
}

struct InvalidAppendCase {
  std::string name;
  AppendRequest request;
  std::string message;
};

TEST_F(EventLogTest, InvalidAppendsAreRefusedWithTheLimitNamedAndWriteNothing) {
  const EventLogLimits limits;
  AppendRequest too_many = Batch("C-1", {});
  for (size_t i = 0; i <= limits.max_events_per_append; ++i) {
    too_many.events.push_back({absl::StrCat("e", i), "x"});
  }
  AppendRequest oversized = Batch("C-1", {"big"});
  oversized.events[0].payload.assign(limits.max_event_bytes + 1, 'x');
  AppendRequest empty_payload = Batch("C-1", {"e1"});
  empty_payload.events[0].payload.clear();

  const std::vector<InvalidAppendCase> cases = {
      {"empty batch", Batch("C-1", {}), "has no events"},
      {"empty case id", Batch("", {"e1"}), "case id is empty"},
      {"case id with a separator", Batch(std::string("C\0-1", 4), {"e1"}), "may contain only"},
      {"case id with a space", Batch("C 1", {"e1"}), "may contain only"},
      {"long case id", Batch(std::string(limits.max_case_id_bytes + 1, 'c'), {"e1"}),
       "the limit is 64"},
      {"too many events", too_many, "257 events; the limit is 256"},
      {"oversized event", oversized, "65537 bytes; the limit is 65536"},
      {"empty payload", empty_payload, "empty payload"},
      {"empty event id", Batch("C-1", {""}), "has no event id"},
      {"event id with a space", Batch("C-1", {"e 1"}), "non-printable"},
      {"long event id", Batch("C-1", {std::string(limits.max_event_id_bytes + 1, 'e')}),
       "the limit is 64"},
      {"duplicate ids", Batch("C-1", {"e1", "e2", "e1"}), "appears twice"},
  };
  for (const InvalidAppendCase& c : cases) {
    EXPECT_THAT(log_->Append(c.request),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.name;
  }
  EXPECT_EQ(log_->LastPosition(), 0u);
  EXPECT_THAT(log_->Verify(), IsOk());
}

TEST_F(EventLogTest, RestartResumesPositionsAndTheChain) {
  ASSERT_THAT(log_->Append(Batch("C-1", {"e1", "e2"})), IsOk());
  Reopen();
  EXPECT_EQ(log_->LastPosition(), 2u);
  HUB_ASSERT_OK_AND_ASSIGN(AppendResult next, log_->Append(Batch("C-1", {"e3"}, 2)));
  EXPECT_EQ(next.first_position, 3u);
  EXPECT_EQ(next.first_version, 3u);
  HUB_ASSERT_OK_AND_ASSIGN(VerifiedLog verified, log_->Verify());
  EXPECT_EQ(verified.last_position, 3u);
}

TEST_F(EventLogTest, WaitForPositionAfterWakesOnAppendAndOnTimeout) {
  EXPECT_EQ(log_->WaitForPositionAfter(0, std::chrono::milliseconds(1)), 0u);
  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_THAT(log_->Append(Batch("C-1", {"e1"})), IsOk());
  });
  EXPECT_EQ(log_->WaitForPositionAfter(0, std::chrono::seconds(30)), 1u);
  appender.join();
  EXPECT_EQ(log_->WaitForPositionAfter(0, std::chrono::seconds(30)), 1u);
}

TEST_F(EventLogTest, CloseWakesWaitersAndRefusesAppendsAndReads) {
  std::thread waiter([&] { EXPECT_EQ(log_->WaitForPositionAfter(0, std::chrono::hours(1)), 0u); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  log_->Close();
  waiter.join();
  EXPECT_THAT(log_->Append(Batch("C-1", {"e1"})), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(log_->ReadFrom(1, 1, 1), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(EventLogTest, ConcurrentAppendersGetDenseUniquePositions) {
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 100;
  std::vector<std::thread> threads;
  std::vector<std::vector<AppendResult>> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        auto result =
            log_->Append(Batch(absl::StrCat("C-", i % 7), {absl::StrCat("t", t, "-", i)}));
        ASSERT_TRUE(result.ok()) << result.status();
        results[t].push_back(*result);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::set<uint64_t> positions;
  for (const auto& per_thread : results) {
    uint64_t previous = 0;
    for (const AppendResult& result : per_thread) {
      EXPECT_GT(result.first_position, previous) << "a thread's appends must stay in order";
      previous = result.first_position;
      positions.insert(result.first_position);
    }
  }
  EXPECT_EQ(positions.size(), static_cast<size_t>(kThreads * kAppendsPerThread));
  EXPECT_EQ(*positions.rbegin(), static_cast<uint64_t>(kThreads * kAppendsPerThread));
  HUB_ASSERT_OK_AND_ASSIGN(VerifiedLog verified, log_->Verify());
  EXPECT_EQ(verified.last_position, static_cast<uint64_t>(kThreads * kAppendsPerThread));
}

TEST_F(EventLogTest, ConcurrentConditionalAppendsToOneCaseNeverLoseAnUpdate) {
  constexpr int kThreads = 8;
  constexpr int kSuccessesPerThread = 20;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int done = 0, attempt = 0; done < kSuccessesPerThread; ++attempt) {
        auto version = log_->CaseVersion("C-1");
        ASSERT_TRUE(version.ok());
        auto result = log_->Append(Batch("C-1", {absl::StrCat("t", t, "-", attempt)}, *version));
        if (result.ok()) {
          ASSERT_EQ(result->first_version, *version + 1);
          ++done;
        } else {
          ASSERT_TRUE(IsVersionConflict(result.status())) << result.status();
          ++conflicts;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(log_->CaseVersion("C-1"), IsOkAndHolds(uint64_t{kThreads * kSuccessesPerThread}));
  EXPECT_THAT(log_->Verify(), IsOk());
}

TEST_F(EventLogTest, ConcurrentRetriesOfOneBatchStoreItOnce) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<AppendResult> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto result = log_->Append(Batch("C-1", {"same-1", "same-2"}));
      ASSERT_TRUE(result.ok()) << result.status();
      results[t] = *result;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const AppendResult& result : results) {
    EXPECT_EQ(result.first_position, 1u);
    EXPECT_EQ(result.last_position, 2u);
  }
  EXPECT_EQ(log_->LastPosition(), 2u);
}

TEST(EventLogOpenTest, RefusesAFolderWithoutALogWhenNotCreating) {
  hub::testing::TempDir dir;
  EventLogOptions options;
  options.create_if_missing = false;
  EXPECT_THAT(EventLog::Open(dir.Sub("absent"), options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("does not exist")));
}

}  // namespace
}  // namespace hub::storage
