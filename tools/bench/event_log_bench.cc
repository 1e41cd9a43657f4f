// Durable append throughput of the event log against raw RocksDB, measured in
// the same run on the same disk so that the ratios survive a noisy machine.
//
//   raw_put_1     one writer, one synced Put per write: what one fsync costs
//   raw_put_16    sixteen writers, synced Puts (RocksDB's own write grouping)
//   log_append_N  N concurrent appenders, one event per append, each durable
//
// Usage: event_log_bench [--dir=bench-data] [--seconds=2] [--rounds=3] [--json=FILE]
// RocksDB is included directly here only to measure the raw baseline.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"

#include "storage/event_log.h"

#include "tools/bench/run_for.h"

ABSL_FLAG(std::string, dir, "bench-data", "Scratch folder on the disk to measure (emptied).");
ABSL_FLAG(double, seconds, 2.0, "Duration of each measurement.");
ABSL_FLAG(int, rounds, 3, "Measurements of each figure; the median is reported.");
ABSL_FLAG(std::string, json, "", "Also write the results to this JSON file.");

namespace {

using Clock = std::chrono::steady_clock;

// A payload the size of a typical serialized event envelope.
const std::string kPayload(400, 'e');

struct Figure {
  std::string name;
  int writers = 0;
  double per_second = 0;
  double cpu_us_per_write = 0;
};

double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

double RawPuts(const std::string& path, int writers, double seconds) {
  std::filesystem::remove_all(path);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, path, &raw).ok()) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(1);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write;
  write.sync = true;
  const double rate = hub::bench::RunFor(writers, seconds, [&](int t, uint64_t i) {
    if (!db->Put(write, absl::StrCat(t, "-", i), kPayload).ok()) std::abort();
  });
  db->Close().PermitUncheckedError();
  return rate;
}

double LogAppends(const std::string& path, int appenders, double seconds, bool audited = false) {
  std::filesystem::remove_all(path);
  auto log = hub::storage::EventLog::Open(path, hub::storage::EventLogOptions());
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    std::exit(1);
  }
  const double rate = hub::bench::RunFor(appenders, seconds, [&](int t, uint64_t i) {
    hub::storage::AppendRequest request;
    request.case_id = absl::StrCat("C-", (t * 7 + i) % 175);
    request.events.push_back({absl::StrCat("bench-", t, "-", i), kPayload});
    if (audited) {
      // What the hub writes for a publish: one ~150-byte audit record,
      // committed in the same write as the event.
      request.audit_records = [](const hub::storage::AppendResult& result) {
        return std::vector<std::string>{absl::StrCat(std::string(140, 'a'), result.first_position)};
      };
    }
    auto result = (*log)->Append(request);
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
      std::abort();
    }
  });
  const hub::storage::EventLogStats stats = (*log)->Stats();
  std::printf("  (%d appenders: %.1f events per synced write)\n", appenders,
              static_cast<double>(stats.events_committed) /
                  static_cast<double>(std::max<uint64_t>(stats.synced_writes, 1)));
  (*log)->Close();
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As in hubd: Abseil's lock-order graph (on in Debian's build) would cost
  // every lock of every mutex a graph lookup, here and in the baselines.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  std::filesystem::create_directories(dir);

  // Every figure is measured --rounds times, interleaved with the others,
  // and reported as its median: the host's noise drifts over seconds, and
  // interleaving exposes every figure to the same drift.
  const std::vector<std::pair<std::string, int>> plan = {
      {"raw_put_1", 1},    {"raw_put_16", 16},    {"log_append_1", 1},
      {"log_append_4", 4}, {"log_append_16", 16}, {"log_append_16_audited", 16}};
  std::vector<std::vector<double>> samples(plan.size());
  // CPU per write (this process, every thread): what a durable append costs
  // the machine, next to what it costs in time.
  std::vector<std::vector<double>> cpu_us(plan.size());
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    for (size_t f = 0; f < plan.size(); ++f) {
      const auto& [name, writers] = plan[f];
      const bool raw = name.rfind("raw_", 0) == 0;
      const double cpu_before = ProcessCpuSeconds();
      samples[f].push_back(
          raw ? RawPuts(dir + "/raw", writers, seconds)
              : LogAppends(dir + "/log", writers, seconds, name == "log_append_16_audited"));
      cpu_us[f].push_back((ProcessCpuSeconds() - cpu_before) * 1e6 /
                          std::max(samples[f].back() * seconds, 1.0));
    }
  }
  std::vector<Figure> figures;
  for (size_t f = 0; f < plan.size(); ++f) {
    figures.push_back({plan[f].first, plan[f].second, hub::bench::Median(samples[f]),
                       hub::bench::Median(cpu_us[f])});
  }
  std::filesystem::remove_all(dir);
  const Figure unaudited_16 = figures[4];

  const double baseline = figures[0].per_second;
  std::printf("%-22s %8s %14s %22s %14s\n", "figure", "writers", "writes/s",
              "x raw_put_1 (1 fsync)", "CPU us/write");
  for (const Figure& figure : figures) {
    std::printf("%-22s %8d %14.0f %22.2f %14.1f\n", figure.name.c_str(), figure.writers,
                figure.per_second, figure.per_second / baseline, figure.cpu_us_per_write);
  }
  const double log16 = unaudited_16.per_second;
  std::printf("\nlog_append_16 / raw_put_1 = %.2fx (target >= 5x; perfect batching of 16 = 16x)\n",
              log16 / baseline);
  std::printf("log_append_16 / raw_put_16 = %.2fx (against RocksDB's own write grouping)\n",
              log16 / figures[1].per_second);
  std::printf(
      "log_append_16_audited / log_append_16 = %.2fx (the cost of an audit record per "
      "append)\n",
      figures.back().per_second / log16);

  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    std::ofstream json(json_path);
    json << "{\n  \"seconds_per_figure\": " << seconds << ",\n  \"figures\": [\n";
    for (size_t i = 0; i < figures.size(); ++i) {
      json << absl::StrFormat(
          "    {\"name\": \"%s\", \"writers\": %d, \"per_second\": %.1f, \"ratio_to_raw_put_1\": "
          "%.3f}%s\n",
          figures[i].name, figures[i].writers, figures[i].per_second,
          figures[i].per_second / baseline, i + 1 < figures.size() ? "," : "");
    }
    json << "  ]\n}\n";
  }
  return 0;
}
