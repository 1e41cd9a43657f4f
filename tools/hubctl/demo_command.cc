#include "tools/hubctl/demo_command.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"

#include "hub/v1/event_service.grpc.pb.h"
#include "tools/hubctl/cli.h"
#include "tools/hubctl/connection.h"

namespace hub::tools {
namespace {

constexpr int kAttempts = 5;

bool Transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

}  // namespace

int LoadDemoSite(const DemoLoad& load, const OutputOptions& output) {
  const hub::v1::CalendarDate& end = load.site.end_date;
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  if (absl::CivilDay(end.year(), end.month(), end.day()) > today) {
    return Fail(
        absl::StrCat("--end_date is after today; the hub refuses events that have not "
                     "happened yet"));
  }
  if (load.parallel < 1 || load.parallel > 64) return Fail("--parallel must be 1 to 64");
  const DemoSite site = GenerateDemoSite(load.site);

  std::map<std::string, std::unique_ptr<hub::v1::EventService::Stub>> stubs;
  for (const DemoCase& demo_case : site.cases) {
    for (const DemoPublish& publish : demo_case.publishes) {
      if (stubs.count(publish.publisher) > 0) continue;
      ConnectionOptions connection;
      connection.hub_address = load.hub_address;
      connection.ca_cert_path = load.certs_dir + "/ca.crt";
      connection.cert_path = load.certs_dir + "/clients/" + publish.publisher + ".crt";
      connection.key_path = load.certs_dir + "/clients/" + publish.publisher + ".key";
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Connect(connection);
      if (!channel.ok()) {
        return Fail(absl::StrCat("the demo publishes as ", publish.publisher, ": ",
                                 channel.status().message()));
      }
      stubs[publish.publisher] = hub::v1::EventService::NewStub(*channel);
    }
  }

  std::atomic<size_t> next_case{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> already{0};
  std::atomic<bool> failed{false};
  absl::Mutex error_mu;
  std::string first_error;
  const auto started = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (size_t i = next_case++; i < site.cases.size() && !failed; i = next_case++) {
      for (const DemoPublish& publish : site.cases[i].publishes) {
        grpc::Status status;
        hub::v1::PublishResponse response;
        for (int attempt = 0; attempt < kAttempts; ++attempt) {
          grpc::ClientContext context;
          SetDeadline(&context, output.timeout_ms);
          status = stubs.at(publish.publisher)->Publish(&context, publish.request, &response);
          if (status.ok() || !Transient(status.error_code())) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(100 << attempt));
        }
        if (!status.ok()) {
          absl::MutexLock lock(&error_mu);
          if (!failed.exchange(true)) {
            first_error = absl::StrCat("publishing case ", site.cases[i].case_id, " as ",
                                       publish.publisher, ": ", Describe(status));
          }
          return;
        }
        (response.already_stored() ? already : published) += publish.request.events_size();
      }
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < load.parallel; ++t) workers.emplace_back(worker);
  for (std::thread& thread : workers) thread.join();
  if (failed) return Fail(first_error);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (output.json) {
    std::printf(
        "{\"cases\":%zu,\"perpetrators\":%llu,\"victims\":%llu,\"children\":%llu,"
        "\"events\":%llu,\"published\":%llu,\"already_stored\":%llu,\"actions\":%llu,"
        "\"overdue_actions_at_end_date\":%llu,\"closed_cases\":%llu,\"seconds\":%.3f}\n",
        site.cases.size(), static_cast<unsigned long long>(site.perpetrators),
        static_cast<unsigned long long>(site.victims),
        static_cast<unsigned long long>(site.children),
        static_cast<unsigned long long>(site.events),
        static_cast<unsigned long long>(published.load()),
        static_cast<unsigned long long>(already.load()),
        static_cast<unsigned long long>(site.actions),
        static_cast<unsigned long long>(site.overdue_actions),
        static_cast<unsigned long long>(site.closed_cases), seconds);
    return 0;
  }
  std::printf(
      "demo site loaded (seed %llu, scale %g): %zu cases: %llu perpetrators, %llu victims, %llu "
      "children; %llu events (%llu new, %llu already stored) in %.1f s (%.0f events/s); %llu "
      "actions, %llu overdue at %04d-%02d-%02d; %llu cases closed\n",
      static_cast<unsigned long long>(load.site.seed), load.site.scale, site.cases.size(),
      static_cast<unsigned long long>(site.perpetrators),
      static_cast<unsigned long long>(site.victims), static_cast<unsigned long long>(site.children),
      static_cast<unsigned long long>(site.events),
      static_cast<unsigned long long>(published.load()),
      static_cast<unsigned long long>(already.load()), seconds,
      static_cast<double>(site.events) / std::max(seconds, 1e-9),
      static_cast<unsigned long long>(site.actions),
      static_cast<unsigned long long>(site.overdue_actions), end.year(), end.month(), end.day(),
      static_cast<unsigned long long>(site.closed_cases));
  if (!site.cases.empty()) {
    std::printf("try: hubctl timeline %s --as=dapp-coordinator\n",
                site.cases.front().case_id.c_str());
  }
  return 0;
}

}  // namespace hub::tools
