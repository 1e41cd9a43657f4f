// Child process of event_log_crash_test: appends to the log from several
// threads until it is killed, and reports every acknowledged append on stdout
// as "<event id> <first position> <event count>\n", written with one write(2)
// so that a line is either whole in the pipe or absent.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

#include "storage/event_log.h"

namespace {

void WriteLine(const std::string& line) {
  const ssize_t written = write(STDOUT_FILENO, line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) std::abort();
}

void AppendForever(hub::storage::EventLog* log, const std::string& run, int thread) {
  for (int i = 0;; ++i) {
    hub::storage::AppendRequest request;
    request.case_id = absl::StrCat("C-", (thread + i) % 7);
    // Every fifth append is a batch, to crash in the middle of multi-event writes too.
    const int count = i % 5 == 0 ? 3 : 1;
    for (int e = 0; e < count; ++e) {
      request.events.push_back(
          {absl::StrCat(run, "-t", thread, "-", i, "-", e), std::string(100 + (i % 13) * 37, 'p')});
    }
    auto result = log->Append(request);
    if (!result.ok()) {
      std::fprintf(stderr, "append failed: %s\n", result.status().ToString().c_str());
      std::abort();
    }
    WriteLine(
        absl::StrCat(request.events[0].event_id, " ", result->first_position, " ", count, "\n"));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <log dir> <run id> <threads>\n", argv[0]);
    return 2;
  }
  auto log = hub::storage::EventLog::Open(argv[1], hub::storage::EventLogOptions());
  if (!log.ok()) {
    std::fprintf(stderr, "open failed: %s\n", log.status().ToString().c_str());
    return 1;
  }
  WriteLine("ready\n");
  std::vector<std::thread> threads;
  for (int t = 0; t < std::atoi(argv[3]); ++t) {
    threads.emplace_back(AppendForever, log->get(), std::string(argv[2]), t);
  }
  for (std::thread& thread : threads) thread.join();
  return 0;
}
