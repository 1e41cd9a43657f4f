// hubctl: the hub's command-line tool.
//
//   hubctl log verify --data_dir=DIR   re-verify the event log offline
//   hubctl log read --data_dir=DIR [--from=N] [--limit=N]
//
// Offline commands open the data folder directly, so hubd must be stopped
// (RocksDB's lock refuses a second opener with a clear error).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

#include "storage/event_log.h"

ABSL_FLAG(std::string, data_dir, "./data", "The hub's data folder (offline commands).");
ABSL_FLAG(uint64_t, from, 1, "log read: first global position.");
ABSL_FLAG(uint64_t, limit, 20, "log read: how many events at most.");

namespace {

constexpr char kUsage[] =
    "The multi-agency hub's command-line tool.\n\n"
    "Usage:\n"
    "  hubctl log verify [--data_dir=DIR]   verify the event log's hash chain and indexes\n"
    "  hubctl log read [--data_dir=DIR] [--from=N] [--limit=N]\n"
    "                                       list events (position, case, version, id, size)\n\n"
    "Offline commands need hubd to be stopped.\n";

absl::StatusOr<std::unique_ptr<hub::storage::EventLog>> OpenExisting() {
  hub::storage::EventLogOptions options;
  options.create_if_missing = false;
  options.verify_on_open = false;  // verification is what `log verify` reports
  return hub::storage::EventLog::Open(absl::GetFlag(FLAGS_data_dir) + "/events", options);
}

int LogVerify() {
  auto log = OpenExisting();
  if (!log.ok()) {
    std::fprintf(stderr, "hubctl: %s\n", log.status().ToString().c_str());
    return 1;
  }
  auto verified = (*log)->Verify();
  if (!verified.ok()) {
    std::fprintf(stderr, "hubctl: the event log does NOT verify: %s\n",
                 verified.status().ToString().c_str());
    return 1;
  }
  std::printf("event log verified: %llu events, head %s\n",
              static_cast<unsigned long long>(verified->last_position),
              hub::storage::DigestToHex(verified->head_digest).c_str());
  return 0;
}

int LogRead() {
  auto log = OpenExisting();
  if (!log.ok()) {
    std::fprintf(stderr, "hubctl: %s\n", log.status().ToString().c_str());
    return 1;
  }
  auto events = (*log)->ReadFrom(absl::GetFlag(FLAGS_from), absl::GetFlag(FLAGS_limit), 8 << 20);
  if (!events.ok()) {
    std::fprintf(stderr, "hubctl: %s\n", events.status().ToString().c_str());
    return 1;
  }
  std::printf("%10s  %-20s %8s  %-38s %8s\n", "position", "case", "version", "event id", "bytes");
  for (const hub::storage::StoredEvent& event : *events) {
    std::printf("%10llu  %-20s %8llu  %-38s %8zu\n",
                static_cast<unsigned long long>(event.position), event.case_id.c_str(),
                static_cast<unsigned long long>(event.stream_version), event.event_id.c_str(),
                event.payload.size());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> command(args.begin() + 1, args.end());
  if (command == std::vector<std::string>{"log", "verify"}) return LogVerify();
  if (command == std::vector<std::string>{"log", "read"}) return LogRead();
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}
