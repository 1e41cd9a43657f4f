// An asynchronous load generator: a fixed number of calls kept in flight
// from gRPC's callback API, so that the client's threads do not bound what
// the server is measured at (16 blocking client threads on a 2-core host
// reach about a quarter of what the transport carries).
#ifndef HUB_TOOLS_BENCH_IN_FLIGHT_H_
#define HUB_TOOLS_BENCH_IN_FLIGHT_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace hub::bench {

struct InFlightResult {
  double per_second = 0;           // completed, accepted calls per second
  uint64_t refused = 0;            // calls `done` reported as not accepted
  std::vector<double> latency_ms;  // of accepted calls, sorted
};

// Keeps `in_flight` calls outstanding for `seconds`: `start(slot, i, done)`
// begins call i of that slot asynchronously and arranges for `done(ok)` to be
// called when it completes (on one of gRPC's callback threads). A slot starts
// its next call from that completion, so its own state (context, request,
// response) is never used by two calls at once. Returns once every slot's
// last call has completed.
template <typename Start>
InFlightResult RunInFlight(int in_flight, double seconds, Start start) {
  using Clock = std::chrono::steady_clock;
  struct Slot {
    uint64_t next = 0;
    uint64_t accepted = 0;
    uint64_t refused = 0;
    Clock::time_point started;
    std::vector<double> latency_ms;
  };
  std::vector<Slot> slots(static_cast<size_t>(in_flight));
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  int running = in_flight;
  bool all_done = false;
  std::function<void(int)> launch = [&](int s) {
    Slot& slot = slots[static_cast<size_t>(s)];
    slot.started = Clock::now();
    start(s, slot.next++, [&, s](bool ok) {
      Slot& done = slots[static_cast<size_t>(s)];
      if (ok) {
        ++done.accepted;
        done.latency_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - done.started).count());
      } else {
        ++done.refused;
      }
      if (stop.load(std::memory_order_relaxed)) {
        absl::MutexLock lock(&mu);
        all_done = --running == 0;
        return;
      }
      launch(s);
    });
  };
  const Clock::time_point begin = Clock::now();
  for (int s = 0; s < in_flight; ++s) launch(s);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&all_done));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  InFlightResult result;
  uint64_t accepted = 0;
  for (Slot& slot : slots) {
    accepted += slot.accepted;
    result.refused += slot.refused;
    result.latency_ms.insert(result.latency_ms.end(), slot.latency_ms.begin(),
                             slot.latency_ms.end());
  }
  std::sort(result.latency_ms.begin(), result.latency_ms.end());
  result.per_second = static_cast<double>(accepted) / elapsed;
  return result;
}

// Starts calls on a fixed schedule, `per_second` of them for `seconds`,
// whatever is still outstanding (an open loop: a slow answer does not slow
// the offered load, so queueing shows in the latencies). `start(i, done)`
// as for RunInFlight; the calls' own state must be per call.
template <typename Start>
InFlightResult RunPaced(double per_second, double seconds, Start start) {
  using Clock = std::chrono::steady_clock;
  const auto total = static_cast<uint64_t>(per_second * seconds);
  std::vector<double> latency_ms(total, -1);
  absl::Mutex mu;
  uint64_t finished = 0;
  uint64_t refused = 0;
  bool all_done = total == 0;
  const Clock::time_point begin = Clock::now();
  for (uint64_t i = 0; i < total; ++i) {
    std::this_thread::sleep_until(
        begin + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(i) / per_second)));
    const Clock::time_point started = Clock::now();
    start(i, [&, i, started](bool ok) {
      const double took = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      absl::MutexLock lock(&mu);
      if (ok) {
        latency_ms[i] = took;
      } else {
        ++refused;
      }
      all_done = ++finished == total;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&all_done));
  }
  InFlightResult result;
  result.refused = refused;
  for (double took : latency_ms) {
    if (took >= 0) result.latency_ms.push_back(took);
  }
  std::sort(result.latency_ms.begin(), result.latency_ms.end());
  result.per_second = static_cast<double>(result.latency_ms.size()) /
                      std::chrono::duration<double>(Clock::now() - begin).count();
  return result;
}

}  // namespace hub::bench

#endif  // HUB_TOOLS_BENCH_IN_FLIGHT_H_
