// Group commit: many threads submit requests and block; a staging thread
// takes everything queued as one group and writes it without waiting for the
// disk, and a finishing thread makes staged groups durable and wakes their
// submitters with their own results. Throughput then grows with concurrency
// instead of paying one fsync per request.
//
// The two phases overlap: while one fsync is in flight, the next groups are
// staged, so a single fsync covers everything that arrived meanwhile. Groups
// are staged and finished in queue order; the stage function runs on one
// thread only and may own writer-side state without locking. Asynchronous
// submitters are told on a third thread, so that what they do next (send a
// timeline's response, serialized there by gRPC) never delays the next
// fsync.
#ifndef HUB_STORAGE_INTERNAL_GROUP_COMMIT_H_
#define HUB_STORAGE_INTERNAL_GROUP_COMMIT_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "proto/thread_name.h"

namespace hub::storage::internal {

template <typename Request, typename Result>
class GroupCommitQueue {
 public:
  using Results = std::vector<absl::StatusOr<Result>>;
  // Second phase of a group: makes it durable and returns one result per
  // request, in order. Called on the finishing thread, in staging order.
  using FinishFn = std::function<Results()>;
  // First phase of a group: plans and writes `requests` (never empty) without
  // waiting for the disk. Called on the staging thread, in queue order, so it
  // may own writer-side state without locking.
  using StageFn = std::function<FinishFn(const std::vector<const Request*>& requests)>;
  // What a request weighs against `max_group_cost` (e.g. its bytes).
  using CostFn = std::function<size_t(const Request&)>;

  struct Limits {
    size_t max_pending = 4096;
    size_t max_group_requests = 1024;
    size_t max_group_cost = 16 * 1024 * 1024;
  };

  GroupCommitQueue(Limits limits, CostFn cost, StageFn stage)
      : limits_(limits),
        cost_(std::move(cost)),
        stage_(std::move(stage)),
        stager_([this] {
          NameThisThread("log-stage");
          StageLoop();
        }),
        finisher_([this] {
          NameThisThread("log-sync");
          FinishLoop();
        }),
        teller_([this] {
          NameThisThread("log-tell");
          TellLoop();
        }) {}

  ~GroupCommitQueue() { Close(); }

  GroupCommitQueue(const GroupCommitQueue&) = delete;
  GroupCommitQueue& operator=(const GroupCommitQueue&) = delete;

  // Blocks until `request` has been committed (or refused) and returns its
  // result. RESOURCE_EXHAUSTED if `max_pending` requests are already waiting,
  // UNAVAILABLE after Close(). Safe to call concurrently.
  absl::StatusOr<Result> Submit(const Request& request) ABSL_LOCKS_EXCLUDED(mu_) {
    Waiter self(&request);
    absl::MutexLock lock(&mu_);
    if (closed_) {
      return absl::UnavailableError("the event log is closing; no new appends are accepted");
    }
    if (pending_ >= limits_.max_pending) {
      return absl::ResourceExhaustedError(
          absl::StrCat(pending_, " appends are already waiting to be committed; the limit is ",
                       limits_.max_pending, ". Retry with backoff."));
    }
    ++pending_;
    queue_.push_back(&self);
    if (queue_.size() == 1) stage_wake_.Signal();
    while (!self.done) self.wake.Wait(&mu_);
    return std::move(self.result);
  }

  // As Submit, without blocking: `done` is called with the result on the
  // telling thread once the request is committed (or at once, on this
  // thread, if it is refused), in commit order. The queue keeps `request`
  // until then. Later groups are made durable meanwhile, but their `done`s
  // wait for this one: keep it short.
  using Done = std::function<void(absl::StatusOr<Result>)>;
  void SubmitAsync(Request request, Done done) ABSL_LOCKS_EXCLUDED(mu_) {
    auto self = std::make_unique<Waiter>(nullptr);
    self->owned = std::move(request);
    self->request = &*self->owned;
    self->done_callback = std::move(done);
    absl::Status refused;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        refused = absl::UnavailableError("the event log is closing; no new appends are accepted");
      } else if (pending_ >= limits_.max_pending) {
        refused = absl::ResourceExhaustedError(
            absl::StrCat(pending_, " appends are already waiting to be committed; the limit is ",
                         limits_.max_pending, ". Retry with backoff."));
      } else {
        ++pending_;
        queue_.push_back(self.release());
        if (queue_.size() == 1) stage_wake_.Signal();
        return;
      }
    }
    self->done_callback(refused);
  }

  // Refuses new requests, commits every queued one, and stops the threads.
  // Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      stage_wake_.Signal();
    }
    if (stager_.joinable()) stager_.join();
    if (finisher_.joinable()) finisher_.join();
    if (teller_.joinable()) teller_.join();
  }

 private:
  struct Waiter {
    explicit Waiter(const Request* r) : request(r) {}
    const Request* request;
    bool done = false;
    absl::StatusOr<Result> result = absl::UnknownError("not committed");
    absl::CondVar wake;
    // For SubmitAsync: the request the queue keeps, and whom to tell. The
    // waiter is then owned by the queue and deleted once told.
    std::optional<Request> owned;
    Done done_callback;
  };

  struct StagedGroup {
    std::vector<Waiter*> members;
    FinishFn finish;
  };

  // Stages whatever is queued as one group while the previous groups are
  // being synced, so that one fsync covers everything that arrived meanwhile.
  void StageLoop() {
    absl::MutexLock lock(&mu_);
    for (;;) {
      while (queue_.empty() && !closed_) stage_wake_.Wait(&mu_);
      if (queue_.empty()) break;
      StagedGroup group;
      std::vector<const Request*> requests;
      size_t cost = 0;
      while (!queue_.empty()) {
        Waiter* waiter = queue_.front();
        const size_t waiter_cost = cost_(*waiter->request);
        if (!group.members.empty() && (group.members.size() >= limits_.max_group_requests ||
                                       cost + waiter_cost > limits_.max_group_cost)) {
          break;
        }
        queue_.pop_front();
        group.members.push_back(waiter);
        requests.push_back(waiter->request);
        cost += waiter_cost;
      }
      mu_.Unlock();
      group.finish = stage_(requests);
      mu_.Lock();
      staged_.push_back(std::move(group));
      finish_wake_.Signal();
    }
    stager_done_ = true;
    finish_wake_.Signal();
  }

  void FinishLoop() {
    absl::MutexLock lock(&mu_);
    for (;;) {
      while (staged_.empty() && !stager_done_) finish_wake_.Wait(&mu_);
      if (staged_.empty()) break;
      std::deque<StagedGroup> groups;
      groups.swap(staged_);
      mu_.Unlock();
      std::vector<Results> all_results;
      for (StagedGroup& group : groups) {
        Results results = group.finish();
        if (results.size() != group.members.size()) {
          results.assign(group.members.size(),
                         absl::InternalError("group commit returned the wrong number of results"));
        }
        all_results.push_back(std::move(results));
      }
      mu_.Lock();
      for (size_t g = 0; g < groups.size(); ++g) {
        for (size_t i = 0; i < groups[g].members.size(); ++i) {
          Waiter* member = groups[g].members[i];
          member->result = std::move(all_results[g][i]);
          --pending_;
          if (member->done_callback) {
            to_tell_.emplace_back(member);
            continue;
          }
          member->done = true;
          member->wake.Signal();
        }
      }
      if (!to_tell_.empty()) tell_wake_.Signal();
    }
    finisher_done_ = true;
    tell_wake_.Signal();
  }

  // Tells asynchronous submitters their results, outside the lock and in
  // commit order.
  void TellLoop() {
    absl::MutexLock lock(&mu_);
    for (;;) {
      while (to_tell_.empty() && !finisher_done_) tell_wake_.Wait(&mu_);
      if (to_tell_.empty()) break;
      std::deque<std::unique_ptr<Waiter>> telling;
      telling.swap(to_tell_);
      mu_.Unlock();
      for (std::unique_ptr<Waiter>& waiter : telling) {
        waiter->done_callback(std::move(waiter->result));
      }
      telling.clear();
      mu_.Lock();
    }
  }

  const Limits limits_;
  const CostFn cost_;
  const StageFn stage_;

  absl::Mutex mu_;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<StagedGroup> staged_ ABSL_GUARDED_BY(mu_);
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stager_done_ ABSL_GUARDED_BY(mu_) = false;
  // Committed asynchronous requests not yet told, in commit order.
  std::deque<std::unique_ptr<Waiter>> to_tell_ ABSL_GUARDED_BY(mu_);
  bool finisher_done_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar stage_wake_;
  absl::CondVar finish_wake_;
  absl::CondVar tell_wake_;
  // Last members: they start running as soon as they are constructed.
  std::thread stager_;
  std::thread finisher_;
  std::thread teller_;
};

}  // namespace hub::storage::internal

#endif  // HUB_STORAGE_INTERNAL_GROUP_COMMIT_H_
