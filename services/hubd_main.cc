// hubd: the multi-agency hub server.
//
// Opens (or creates) the event log in the data folder, refusing to start if
// its hash chain does not verify, and runs until SIGTERM or SIGINT, when it
// finishes in-flight work and closes the log cleanly.
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "services/server_log.h"
#include "storage/event_log.h"

ABSL_FLAG(std::string, data_dir, "./data", "Folder holding the hub's RocksDB data.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Runs the multi-agency hub.\n\nUsage: hubd [--data_dir=DIR]\n");
  absl::ParseCommandLine(argc, argv);

  // Block the shutdown signals before any thread starts, so that only the
  // sigwait below receives them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const absl::Time started = absl::Now();
  hub::services::LogInfo("opening event log", {{"data_dir", data_dir}});
  auto log = hub::storage::EventLog::Open(data_dir + "/events", hub::storage::EventLogOptions());
  if (!log.ok()) {
    hub::services::LogError("cannot open the event log", {{"error", log.status().ToString()}});
    return 1;
  }
  hub::services::LogInfo(
      "event log verified",
      {{"last_position", std::to_string((*log)->LastPosition())},
       {"open_ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() - started))}});
  hub::services::LogInfo("hubd ready", {});

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  hub::services::LogInfo("shutting down", {{"signal", std::to_string(signal_number)}});
  (*log)->Close();
  hub::services::LogInfo("stopped", {});
  return 0;
}
