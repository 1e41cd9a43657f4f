// Throughput measurement (and the median of repeated rounds) shared by the
// benchmarks.
#ifndef HUB_TOOLS_BENCH_RUN_FOR_H_
#define HUB_TOOLS_BENCH_RUN_FOR_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace hub::bench {

// Calls `work(thread, i)` (i: that thread's call count) from `threads`
// threads until `seconds` pass; returns completed calls per second. A call
// that returns false (a refused request) is not counted.
template <typename Work>
double RunFor(int threads, double seconds, Work work) {
  using Clock = std::chrono::steady_clock;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> pool;
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t local = 0;
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        if constexpr (std::is_void_v<decltype(work(t, i))>) {
          work(t, i);
          ++local;
        } else {
          if (work(t, i)) ++local;
        }
      }
      done += local;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& thread : pool) thread.join();
  return static_cast<double>(done.load()) /
         std::chrono::duration<double>(Clock::now() - start).count();
}

// The median of `values` (0 if there are none): a figure measured in
// several rounds is reported as its median.
inline double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace hub::bench

#endif  // HUB_TOOLS_BENCH_RUN_FOR_H_
