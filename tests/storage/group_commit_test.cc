#include "storage/internal/group_commit.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace hub::storage::internal {
namespace {

using ::hub::testing::StatusIs;

using Queue = GroupCommitQueue<int, int>;

size_t UnitCost(const int&) { return 1; }

// A stage function whose groups all succeed with `request * 10`.
Queue::FinishFn TimesTen(const std::vector<const int*>& requests) {
  Queue::Results results;
  for (const int* request : requests) results.push_back(*request * 10);
  return [results] { return results; };
}

TEST(GroupCommitTest, GroupsConcurrentRequestsAndKeepsQueueOrder) {
  absl::Mutex mu;
  std::vector<int> staged;
  std::atomic<int> groups{0};
  Queue queue({4096, 1024, 1 << 20}, UnitCost, [&](const std::vector<const int*>& requests) {
    ++groups;
    // Slow staging (planning, writing): requests arriving meanwhile queue up
    // and are staged together as the next group.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    absl::MutexLock lock(&mu);
    for (const int* request : requests) staged.push_back(*request);
    return TimesTen(requests);
  });
  constexpr int kThreads = 16;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int request = t * 1000 + i;
        auto result = queue.Submit(request);
        ASSERT_TRUE(result.ok());
        EXPECT_EQ(*result, request * 10);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(staged.size(), static_cast<size_t>(kThreads * kPerThread));
  // Batching happened: far fewer groups than requests.
  EXPECT_LT(groups.load(), kThreads * kPerThread / 2);
  // Each thread's requests were staged in the order it made them.
  std::vector<int> last_seen(kThreads, -1);
  for (int request : staged) {
    EXPECT_GT(request % 1000, last_seen[request / 1000]);
    last_seen[request / 1000] = request % 1000;
  }
}

TEST(GroupCommitTest, FinishesGroupsInStagingOrder) {
  absl::Mutex mu;
  std::vector<int> finished;
  Queue queue({4096, 1, 1 << 20}, UnitCost, [&](const std::vector<const int*>& requests) {
    const int request = *requests[0];
    return [&, request] {
      absl::MutexLock lock(&mu);
      finished.push_back(request);
      return Queue::Results{request};
    };
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) ASSERT_TRUE(queue.Submit(t * 1000 + i).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<int> last_seen(8, -1);
  for (int request : finished) {
    EXPECT_GT(request % 1000, last_seen[request / 1000]);
    last_seen[request / 1000] = request % 1000;
  }
  EXPECT_EQ(finished.size(), 400u);
}

TEST(GroupCommitTest, RefusesBeyondMaxPendingInsteadOfQueueingWithoutBound) {
  absl::Notification release;
  absl::Notification finishing;
  Queue queue({1, 1, 1 << 20}, UnitCost, [&](const std::vector<const int*>& requests) {
    return [&, count = requests.size()] {
      if (!finishing.HasBeenNotified()) finishing.Notify();
      release.WaitForNotification();
      return Queue::Results(count, 0);
    };
  });
  std::thread first([&] { EXPECT_TRUE(queue.Submit(1).ok()); });
  finishing.WaitForNotification();
  // The first request is pending until its group finishes: the queue is full.
  EXPECT_THAT(queue.Submit(2), StatusIs(absl::StatusCode::kResourceExhausted,
                                        ::testing::HasSubstr("the limit is 1")));
  release.Notify();
  first.join();
  EXPECT_TRUE(queue.Submit(3).ok());
}

TEST(GroupCommitTest, GroupsAreBoundedByCost) {
  std::atomic<size_t> largest_group{0};
  Queue queue(
      {4096, 1024, 10}, [](const int& cost) { return static_cast<size_t>(cost); },
      [&](const std::vector<const int*>& requests) {
        size_t cost = 0;
        for (const int* request : requests) cost += *request;
        size_t seen = largest_group.load();
        while (cost > seen && !largest_group.compare_exchange_weak(seen, cost)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return TimesTen(requests);
      });
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(queue.Submit(4).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(largest_group.load(), 10u);
}

TEST(GroupCommitTest, CloseCommitsWhatIsQueuedAndRefusesNewRequests) {
  Queue queue({16, 16, 16}, UnitCost, TimesTen);
  EXPECT_TRUE(queue.Submit(1).ok());
  queue.Close();
  queue.Close();
  EXPECT_THAT(queue.Submit(2), StatusIs(absl::StatusCode::kUnavailable));
}

// Asynchronous submitters hold no thread while their request is committed:
// each is told its own result, once, after the group's finish phase; a
// request refused up front is told at once; closing commits what is queued.
TEST(GroupCommitTest, AsyncSubmittersAreToldTheirOwnResultOnce) {
  absl::Notification finish_may_run;
  std::atomic<int> finished_groups{0};
  Queue queue({4096, 1024, 1 << 20}, UnitCost, [&](const std::vector<const int*>& requests) {
    Queue::Results results;
    for (const int* request : requests) results.push_back(*request * 10);
    return [&, results]() -> Queue::Results {
      finish_may_run.WaitForNotification();
      ++finished_groups;
      return results;
    };
  });
  absl::Mutex mu;
  std::vector<std::pair<int, int>> told;  // (request, result)
  for (int i = 0; i < 100; ++i) {
    queue.SubmitAsync(i, [&, i](absl::StatusOr<int> result) {
      ASSERT_TRUE(result.ok()) << result.status();
      absl::MutexLock lock(&mu);
      told.emplace_back(i, *result);
    });
  }
  {
    // Nothing is told before the group is durable (its finish phase ran).
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(told.empty());
  }
  finish_may_run.Notify();
  queue.Close();
  ASSERT_EQ(told.size(), 100u);
  for (size_t i = 0; i < told.size(); ++i) {
    EXPECT_EQ(told[i].first, static_cast<int>(i));  // in queue order
    EXPECT_EQ(told[i].second, told[i].first * 10);
  }
  bool refused = false;
  queue.SubmitAsync(7, [&](absl::StatusOr<int> result) {
    refused = true;
    EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kUnavailable));
  });
  EXPECT_TRUE(refused);
}

// What an asynchronous submitter does once told (a timeline's response is
// serialized and sent there) must not hold up the next group's fsync: a
// told callback that stalls leaves later groups committing, and callbacks
// are still told in commit order.
TEST(GroupCommitTest, ASlowAsyncCallbackDoesNotDelayTheNextGroupsCommit) {
  std::atomic<int> finished_groups{0};
  Queue queue({4096, 1, 1 << 20}, UnitCost, [&](const std::vector<const int*>& requests) {
    Queue::Results results;
    for (const int* request : requests) results.push_back(*request * 10);
    return [&, results] {
      ++finished_groups;
      return results;
    };
  });
  absl::Notification first_told;
  absl::Notification release_first;
  absl::Mutex mu;
  std::vector<int> told;
  queue.SubmitAsync(1, [&](absl::StatusOr<int> result) {
    ASSERT_TRUE(result.ok()) << result.status();
    first_told.Notify();
    release_first.WaitForNotification();
    absl::MutexLock lock(&mu);
    told.push_back(*result);
  });
  ASSERT_TRUE(first_told.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // One request per group: each of these is its own fsync, made while the
  // first callback is still running.
  absl::Notification committed;
  std::thread submitter([&] {
    for (int i = 2; i <= 4; ++i) {
      queue.SubmitAsync(i, [&](absl::StatusOr<int> result) {
        ASSERT_TRUE(result.ok()) << result.status();
        absl::MutexLock lock(&mu);
        told.push_back(*result);
      });
    }
    EXPECT_THAT(queue.Submit(5), ::hub::testing::IsOkAndHolds(50));
    committed.Notify();
  });
  const bool committed_meanwhile = committed.WaitForNotificationWithTimeout(absl::Seconds(10));
  release_first.Notify();
  submitter.join();
  EXPECT_TRUE(committed_meanwhile) << "the next groups waited for a callback";
  EXPECT_EQ(finished_groups.load(), 5);
  queue.Close();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(told, ::testing::ElementsAre(10, 20, 30, 40));
}

}  // namespace
}  // namespace hub::storage::internal
