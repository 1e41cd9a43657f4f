// hubd: the multi-agency hub server.
//
// Loads its configuration, opens and verifies the event log, loads the
// sharing protocol and CRLs, and serves the hub's gRPC API over mutual TLS
// until SIGTERM or SIGINT, when it drains and closes the log cleanly.
#ifdef HUB_JEMALLOC
#include <jemalloc/jemalloc.h>
#else
#include <malloc.h>
#endif
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

#include "auth/openssl_process.h"
#include "proto/version.h"
#include "services/config.h"
#include "services/hub_server.h"
#include "services/server_log.h"

ABSL_FLAG(std::string, config, "", "Configuration file (text format, hub.v1.HubConfig).");
ABSL_FLAG(std::optional<std::string>, listen_address, std::nullopt,
          "Overrides listen_address (host:port; port 0 picks a free one).");
ABSL_FLAG(std::optional<std::string>, data_dir, std::nullopt, "Overrides data_dir.");
ABSL_FLAG(int, drain_ms, 10000, "How long in-flight calls may take to finish on shutdown.");

namespace {

// Which malloc hubd runs on, for its start-up log.
std::string AllocatorName() {
#ifdef HUB_JEMALLOC
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr) {
    return std::string("jemalloc ") + version;
  }
  return "jemalloc";
#else
  return "glibc";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  hub::auth::KeepOpenSslUntilExit();
  absl::SetProgramUsageMessage(
      "Runs the multi-agency hub.\n\n"
      "Usage: hubd [--config=FILE] [--listen_address=HOST:PORT] [--data_dir=DIR]\n"
      "Every configuration option, with its default, is in deploy/examples/hubd.textproto.\n");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] {
    return absl::StrCat("hubd ", hub::kVersion, " (commit ", hub::kGitCommit, ")\n");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  hub::services::RouteLibraryLogsToServerLog();

#ifndef HUB_JEMALLOC
  // Without jemalloc (the sanitizer build): glibc gives each busy thread its
  // own heap (up to 8 per core) and keeps what each has freed; four heaps
  // keep a rebuild's freed memory from staying resident. An operator's
  // MALLOC_ARENA_MAX still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 4);
#endif
  // Abseil's lock-order graph is a debugging aid (the tests keep it); in the
  // server it costs a graph lookup on every lock of every mutex.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the shutdown signals before any thread starts, so that only the
  // sigwait below receives them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  hub::services::ConfigOverrides overrides;
  overrides.listen_address = absl::GetFlag(FLAGS_listen_address);
  overrides.data_dir = absl::GetFlag(FLAGS_data_dir);
  auto config = hub::services::LoadHubConfig(absl::GetFlag(FLAGS_config), overrides);
  if (!config.ok()) {
    hub::services::LogError("invalid configuration", {{"error", config.status().ToString()}});
    return 2;
  }
  hub::services::LogInfo("starting", {{"version", hub::kVersion},
                                      {"commit", hub::kGitCommit},
                                      {"data_dir", config->data_dir()},
                                      {"sharing_protocol", config->sharing_protocol_path()},
                                      {"allocator", AllocatorName()}});
  auto server = hub::services::HubServer::Start(*config);
  if (!server.ok()) {
    hub::services::LogError("cannot start", {{"error", server.status().ToString()}});
    return 1;
  }
  hub::services::LogInfo("hubd ready", {{"address", (*server)->address()}});
  // Under systemd (Type=notify), ready means serving: the views are built.
  // Without NOTIFY_SOCKET this does nothing.
  sd_notify(0, "READY=1\nSTATUS=serving");

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  hub::services::LogInfo("draining", {{"signal", std::to_string(signal_number)}});
  sd_notify(0, "STOPPING=1\nSTATUS=draining");
  (*server)->Shutdown(absl::GetFlag(FLAGS_drain_ms));
  hub::services::LogInfo("stopped", {});
  return 0;
}
