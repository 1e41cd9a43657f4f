// The hub against the limits of its own parts: a real hubd, started with
// certificates from deploy/certs.sh, loaded with the demonstration site and
// with --cases cases of 200 events each, and driven over mutual TLS; next to
// it, in the same run and over the same mutual TLS, a bare gRPC echo service
// as the baseline. Unary figures come from an asynchronous client keeping a
// fixed number of calls in flight (tools/bench/in_flight.h), so that the
// client's threads do not bound what is measured.
//
//   echo_async_16/64     unary echo of a publish-sized message, 16 (64) in
//                        flight: the baselines
//   publish_16/64        durable single-event publishes, 16 (64) in flight
//   publish_refused_16   the same refused at validation (nothing stored)
//   publish_latency      p50/p99 of publishes offered at half publish_16's
//                        rate on a fixed schedule
//   echo_stream_10       10 clients, server streaming of event-sized messages
//   delivery_10          10 subscribers of different agencies catching up
//                        with the whole log (redacted views, audited)
//   delivery_latency     publish -> delivery to 100 live subscribers, at
//                        1,000 events/s
//   timeline_200         GetCaseTimeline of a 200-event case, one client
//   timeline_16          GetCaseTimeline of random 200-event cases, 16 in
//                        flight, every read audited
//   list_cases_16        ListCases of a 20-case panel agenda, 16 in flight
//   rebuild              ApplyProtocol: every principal's views rebuilt from
//                        the whole log
//   erasure              EraseSubject of one victim's whereabouts, then of
//                        the rest of her, and RestrictProcessing of another
//                        victim placed and lifted: the views reshaped where
//                        they stand (against the rebuild)
//   hubd_rss             hubd's resident memory with the subscribers attached
//                        (and its peak over the run)
//
// Usage: hub_bench [--dir=bench-hub] [--scale=1] [--cases=100] [--seconds=3]
//                  [--json=FILE]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

#include "bench/echo.grpc.pb.h"
#include "hub/v1/admin_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/policy_service.grpc.pb.h"
#include "hub/v1/timeline_service.grpc.pb.h"
#include "tools/bench/in_flight.h"
#ifdef HUB_BENCH_POSTGRES
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

#include "tools/bench/postgres_peer.h"
#endif
#include "tools/bench/run_for.h"

extern char** environ;

ABSL_FLAG(std::string, dir, "bench-hub", "Scratch folder (emptied): certificates, hub data.");
ABSL_FLAG(double, scale, 1.0, "Demonstration site to load first (1: ~7,600 events).");
ABSL_FLAG(double, seconds, 3.0, "Duration of each throughput measurement.");
ABSL_FLAG(std::string, json, "", "Also write the results to this JSON file.");
ABSL_FLAG(int, cases, 100,
          "Cases of 200 events each (a referral and risk assessment by the police, 20 panel "
          "actions, 178 IDVA safety updates) to load after the demonstration site: the "
          "timelines and panel lists read them (5000: a million events).");
ABSL_FLAG(bool, postgres, true,
          "Run the PostgreSQL peer (tools/bench/postgres_peer.h) in the same run, where hub_bench "
          "was built with libpq (tools/bench/run.sh installs it).");
ABSL_FLAG(std::string, hubd_log, "",
          "Write what hubd logged to this file when it has stopped (with MALLOC_CONF="
          "stats_print:true in the environment: jemalloc's account of its memory).");
ABSL_FLAG(int, rounds, 3,
          "Rounds of the echo baselines then the publishes; each publish ratio is the median of "
          "the rounds' ratios.");

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// CPU seconds this process has used (user + system, every thread).
double OwnCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A client channel with its own connection (like a separate agency system).
std::shared_ptr<grpc::Channel> Channel(const std::string& address, const std::string& certs,
                                       const std::string& client, int id) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(certs + "/ca.crt");
  ssl.pem_cert_chain = ReadFile(certs + "/clients/" + client + ".crt");
  ssl.pem_private_key = ReadFile(certs + "/clients/" + client + ".key");
  grpc::ChannelArguments args;
  args.SetInt("hub.bench.connection", id);
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

class EchoService final : public hub::bench::Echo::CallbackService {
 public:
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context,
                                  const hub::bench::EchoMessage* request,
                                  hub::bench::EchoMessage* response) override {
    *response = *request;
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<hub::bench::EchoMessage>* Stream(
      grpc::CallbackServerContext* /*context*/, const hub::bench::StreamRequest* request) override {
    class Writer : public grpc::ServerWriteReactor<hub::bench::EchoMessage> {
     public:
      Writer(uint64_t count, uint32_t size) : left_(count) {
        message_.set_payload(std::string(size, 'e'));
        Next();
      }
      void OnWriteDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::CANCELLED);
          return;
        }
        Next();
      }
      void OnDone() override { delete this; }

     private:
      void Next() {
        if (left_ == 0) {
          Finish(grpc::Status::OK);
          return;
        }
        --left_;
        StartWrite(&message_);
      }
      uint64_t left_;
      hub::bench::EchoMessage message_;
    };
    return new Writer(request->count(), request->size());
  }
};

// hubd as a child process, stopped (SIGTERM) when this goes away.
class Hubd {
 public:
  bool Start(const std::string& config_path, std::string* address) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<std::string> args = {HUBD_PATH, "--config=" + config_path};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, HUBD_PATH, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (spawned != 0) return false;
    reader_ = std::thread([this, fd = fds[0]] {
      char buffer[4096];
      ssize_t n = 0;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        absl::MutexLock lock(&mu_);
        logs_.append(buffer, static_cast<size_t>(n));
      }
      close(fd);
    });
    const std::string marker = "msg=\"hubd ready\" address=";
    for (int i = 0; i < 1200; ++i) {
      {
        absl::MutexLock lock(&mu_);
        const size_t at = logs_.find(marker);
        if (at != std::string::npos && logs_.find('\n', at) != std::string::npos) {
          const size_t start = at + marker.size();
          *address = logs_.substr(start, logs_.find('\n', start) - start);
          return true;
        }
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    absl::MutexLock lock(&mu_);
    std::fprintf(stderr, "hubd did not start:\n%s\n", logs_.c_str());
    return false;
  }
  std::string Logs() {
    absl::MutexLock lock(&mu_);
    return logs_;
  }
  // CPU seconds hubd has used (user + system).
  double CpuSeconds() const {
    std::ifstream stat(absl::StrCat("/proc/", pid_, "/stat"));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name, which ends with the last ')'.
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::vector<std::string> values((std::istream_iterator<std::string>(fields)),
                                    std::istream_iterator<std::string>());
    if (values.size() < 13) return 0;
    return (std::strtod(values[11].c_str(), nullptr) + std::strtod(values[12].c_str(), nullptr)) /
           static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  // Waits (up to two minutes) until hubd uses under a tenth of a core, so
  // that figures are not taken while RocksDB still compacts what was loaded.
  void WaitUntilIdle() const {
    for (int i = 0; i < 60; ++i) {
      const double before = CpuSeconds();
      std::this_thread::sleep_for(std::chrono::seconds(2));
      if (CpuSeconds() - before < 0.2) return;
    }
  }
  // A memory figure of hubd from /proc ("VmRSS": resident now, "VmHWM": its
  // peak), in MiB.
  double MemoryMiB(const std::string& field) const {
    std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind(field + ":", 0) == 0) {
        return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024.0;
      }
    }
    return 0;
  }
  ~Hubd() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
    if (!absl::GetFlag(FLAGS_hubd_log).empty()) {
      std::ofstream(absl::GetFlag(FLAGS_hubd_log)) << logs_;
    }
  }

 private:
  pid_t pid_ = 0;
  std::thread reader_;
  absl::Mutex mu_;
  std::string logs_;
};

hub::v1::PublishRequest PublishRequest(int thread, uint64_t i) {
  hub::v1::PublishRequest request;
  request.set_case_id(absl::StrCat("C-BENCH-", thread % 16, "-", i % 50));
  hub::v1::EventEnvelope* event = request.add_events();
  event->set_event_id(absl::StrFormat("be0c%04x-0000-4000-8000-%012x", thread, i));
  event->mutable_occurred_time()->set_seconds(1795000000);
  event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
  event->set_lawful_basis("UK GDPR Art 6(1)(e) and Art 9(2)(g); DPA 2018 Sch 1 para 18");
  auto* safety = event->mutable_victim_safety_information();
  safety->set_victim_subject_id("V-BENCH");
  safety->set_risk_change(hub::v1::REDUCED);
  safety->set_safety_plan_in_place(true);
  safety->set_current_address("Flat 1, 1 Example Street, Exampletown EX1 1AB");
  safety->set_disclosure_notes(std::string(200, 'n'));
  return request;
}

// Each case begins with a referral (the example protocol's case_lifecycle):
// the police open every case the benchmark publishes to, before it measures.
bool OpenBenchCases(const std::string& address, const std::string& certs, int publishers) {
  std::vector<std::string> cases = {"C-BENCH-MARKER", "C-BENCH-TIMELINE"};
  for (int t = 0; t < publishers; ++t) {
    for (int k = 0; k < 50; ++k) cases.push_back(absl::StrCat("C-BENCH-", t, "-", k));
  }
  for (int k = 0; k < 100; ++k) cases.push_back(absl::StrCat("C-BENCH-LIVE-", k));
  auto police = hub::v1::EventService::NewStub(Channel(address, certs, "police-agency", 700));
  for (size_t i = 0; i < cases.size(); ++i) {
    hub::v1::PublishRequest request;
    request.set_case_id(cases[i]);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(absl::StrFormat("0be70000-0000-4000-8000-%012x", i));
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
    event->set_lawful_basis("UK GDPR Art 6(1)(e); DPA 2018 s35");
    event->mutable_referral_received()->set_route(hub::v1::ROUTE_MARAC);
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    const grpc::Status status = police->Publish(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "opening %s failed: %s\n", cases[i].c_str(),
                   status.error_message().c_str());
      return false;
    }
  }
  return true;
}

// An action tasked at a panel: every agency's view holds it (the example
// protocol shares actions with all of them for panel work).
hub::v1::PublishRequest ActionRequest(const std::string& case_id, const std::string& event_id) {
  hub::v1::PublishRequest request;
  request.set_case_id(case_id);
  hub::v1::EventEnvelope* event = request.add_events();
  event->set_event_id(event_id);
  event->mutable_occurred_time()->set_seconds(1795000000);
  event->set_purpose(hub::v1::PURPOSE_PANEL);
  event->set_lawful_basis("UK GDPR Art 6(1)(e); Crime and Disorder Act 1998 s115");
  auto* tasked = event->mutable_action_tasked();
  tasked->set_action_id(absl::StrCat("A-", event_id));
  tasked->set_owner_agency("housing");
  tasked->set_description("Review the tenancy and the perpetrator's access to the property");
  tasked->mutable_due_on()->set_year(2027);
  tasked->mutable_due_on()->set_month(1);
  tasked->mutable_due_on()->set_day(15);
  tasked->set_panel_id("P-BENCH");
  return request;
}

std::string BenchCaseId(int k) { return absl::StrFormat("C-T-%05d", k); }

// Case k of --cases, 200 events in three publishes, each by the agency the
// example protocol lets record it: the police refer and assess (high risk),
// the coordinator tasks 20 panel actions, the IDVA records 178 safety
// updates. Each request with its client's name.
std::vector<std::pair<std::string, hub::v1::PublishRequest>> BenchCaseRequests(int k) {
  auto event_id = [k](int j) { return absl::StrFormat("ca5e%04x-0000-4000-8000-%012x", j, k); };
  hub::v1::PublishRequest opening;
  opening.set_case_id(BenchCaseId(k));
  hub::v1::EventEnvelope* referral = opening.add_events();
  referral->set_event_id(event_id(0));
  referral->mutable_occurred_time()->set_seconds(1795000000);
  referral->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
  referral->set_lawful_basis("UK GDPR Art 6(1)(e); DPA 2018 s35");
  referral->mutable_referral_received()->set_route(hub::v1::ROUTE_MARAC);
  hub::v1::EventEnvelope* risk = opening.add_events();
  risk->set_event_id(event_id(1));
  risk->mutable_occurred_time()->set_seconds(1795000060);
  risk->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
  risk->set_lawful_basis("UK GDPR Art 6(1)(e) and Art 9(2)(g); DPA 2018 Sch 1 para 18");
  auto* assessed = risk->mutable_risk_assessed();
  assessed->set_tool(hub::v1::DASH);
  assessed->set_victim_subject_id("V-BENCH");
  assessed->set_dash_yes_count(16);
  assessed->set_risk_level(hub::v1::RISK_HIGH);
  hub::v1::PublishRequest actions;
  actions.set_case_id(BenchCaseId(k));
  for (int j = 2; j < 22; ++j) {
    *actions.add_events() = ActionRequest(BenchCaseId(k), event_id(j)).events(0);
  }
  hub::v1::PublishRequest safety;
  safety.set_case_id(BenchCaseId(k));
  for (int j = 22; j < 200; ++j) {
    hub::v1::EventEnvelope* event = safety.add_events();
    *event = PublishRequest(0, 0).events(0);
    event->set_event_id(event_id(j));
    event->mutable_occurred_time()->set_seconds(1795000000 + 3600 * j);
  }
  return {{"police-agency", std::move(opening)},
          {"dapp-coordinator", std::move(actions)},
          {"idva-agency", std::move(safety)}};
}

bool LoadBenchCase(int k, hub::v1::EventService::Stub& police,
                   hub::v1::EventService::Stub& coordinator, hub::v1::EventService::Stub& idva) {
  for (const auto& [client, request] : BenchCaseRequests(k)) {
    hub::v1::EventService::Stub& stub = client == "police-agency"      ? police
                                        : client == "dapp-coordinator" ? coordinator
                                                                       : idva;
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    const grpc::Status status = stub.Publish(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "loading %s failed: %s\n", BenchCaseId(k).c_str(),
                   status.error_message().c_str());
      return false;
    }
  }
  return true;
}

#ifdef HUB_BENCH_POSTGRES
// The member of the envelope's `event` oneof that is set (null: none).
const google::protobuf::FieldDescriptor* BodyField(const hub::v1::EventEnvelope& event) {
  return event.GetReflection()->GetOneofFieldDescriptor(
      event, event.GetDescriptor()->FindOneofByName("event"));
}

// An event as the PostgreSQL peer's publish() takes it: case, event id,
// type (the oneof's field name), purpose, lawful basis, occurred time, and
// the body as JSON with the contract's field names.
std::vector<std::string> PeerParameters(const std::string& case_id,
                                        const hub::v1::EventEnvelope& event) {
  const google::protobuf::Reflection* reflection = event.GetReflection();
  const google::protobuf::FieldDescriptor* field = BodyField(event);
  std::string body;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(reflection->GetMessage(event, field), &body,
                                                    options);
  return {case_id,
          event.event_id(),
          field->name(),
          hub::v1::Purpose_Name(event.purpose()),
          event.lawful_basis(),
          google::protobuf::util::TimeUtil::ToString(event.occurred_time()),
          body};
}

// A CSV field for COPY.
std::string Csv(const std::string& value) {
  return absl::StrCat("\"", absl::StrReplaceAll(value, {{"\"", "\"\""}}), "\"");
}

// The peer holds what hubd holds for the workloads: the 200-event cases
// and the publish cases, loaded with COPY; its read rule for the
// coordinator shows each event type's fields that hubd showed the
// coordinator of case 0 (so both redact alike).
absl::Status LoadPeer(hub::bench::PostgresPeer& peer, int bench_cases,
                      hub::v1::TimelineService::Stub& coordinator_timeline) {
  absl::StatusOr<std::unique_ptr<hub::bench::PostgresConnection>> owner = peer.ConnectAsOwner();
  if (!owner.ok()) return owner.status();
  grpc::ClientContext context;
  hub::v1::GetCaseTimelineRequest request;
  request.set_case_id(BenchCaseId(0));
  request.set_page_size(200);
  hub::v1::GetCaseTimelineResponse shown;
  if (const grpc::Status status = coordinator_timeline.GetCaseTimeline(&context, request, &shown);
      !status.ok()) {
    return absl::InternalError(status.error_message());
  }
  std::map<std::string, std::set<std::string>> fields;
  for (const hub::v1::TimelineEntry& entry : shown.entries()) {
    const hub::v1::EventEnvelope& event = entry.event();
    const google::protobuf::FieldDescriptor* field = BodyField(event);
    if (field == nullptr) continue;
    const google::protobuf::Message& body = event.GetReflection()->GetMessage(event, field);
    std::vector<const google::protobuf::FieldDescriptor*> set;
    body.GetReflection()->ListFields(body, &set);
    for (const auto* body_field : set) fields[field->name()].insert(body_field->name());
  }
  std::string rules =
      "INSERT INTO write_rules VALUES ('police-agency', 'referral_received'), "
      "('police-agency', 'risk_assessed'), ('dapp-coordinator', 'action_tasked'), "
      "('idva-agency', 'victim_safety_information');";
  for (const auto& [type, names] : fields) {
    absl::StrAppend(&rules, "INSERT INTO read_rules VALUES ('dapp-coordinator', '", type,
                    "', true, ARRAY[",
                    absl::StrJoin(names, ", ",
                                  [](std::string* out, const std::string& name) {
                                    absl::StrAppend(out, "'", name, "'");
                                  }),
                    "]::text[]);");
  }
  if (absl::Status status = (*owner)->Execute(rules); !status.ok()) return status;
  // Publish cases first (referred, version 1), then the 200-event cases in
  // slices of 500.
  std::string cases;
  std::string events;
  auto add_event = [&](const std::string& client, const std::string& case_id, int version,
                       const hub::v1::EventEnvelope& event) {
    const std::vector<std::string> p = PeerParameters(case_id, event);
    absl::StrAppend(&events, Csv(p[0]), ",", version, ",", Csv(p[1]), ",", Csv(client), ",",
                    Csv(p[2]), ",", Csv(p[3]), ",", Csv(p[4]), ",", Csv(p[5]), ",", Csv(p[6]),
                    "\n");
  };
  auto flush = [&]() -> absl::Status {
    if (absl::Status status =
            (*owner)->Copy("COPY cases (case_id, version) FROM STDIN (FORMAT csv)", cases);
        !status.ok()) {
      return status;
    }
    cases.clear();
    absl::Status status = (*owner)->Copy(
        "COPY events (case_id, stream_version, event_id, agency, event_type, "
        "purpose, lawful_basis, occurred_time, body) FROM STDIN (FORMAT csv)",
        events);
    events.clear();
    return status;
  };
  const hub::v1::EventEnvelope referral_template = BenchCaseRequests(0)[0].second.events(0);
  for (int t = 0; t < 16; ++t) {
    for (int k = 0; k < 50; ++k) {
      const std::string case_id = absl::StrCat("C-BENCH-", t, "-", k);
      absl::StrAppend(&cases, Csv(case_id), ",1\n");
      hub::v1::EventEnvelope referral = referral_template;
      referral.set_event_id(absl::StrFormat("0be7%04x-0000-4000-8000-%012x", t, k));
      add_event("police-agency", case_id, 1, referral);
    }
  }
  for (int k = 0; k < bench_cases; ++k) {
    absl::StrAppend(&cases, Csv(BenchCaseId(k)), ",200\n");
    int version = 0;
    for (const auto& [client, request] : BenchCaseRequests(k)) {
      for (const hub::v1::EventEnvelope& event : request.events()) {
        add_event(client, request.case_id(), ++version, event);
      }
    }
    if (k % 500 == 499) {
      if (absl::Status status = flush(); !status.ok()) return status;
    }
  }
  if (absl::Status status = flush(); !status.ok()) return status;
  if (absl::Status status = (*owner)->Execute("VACUUM ANALYZE"); !status.ok()) return status;
  return (*owner)->Execute("CHECKPOINT");
}
#endif

// One asynchronous unary call's state, alive until it completes.
template <typename Request, typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
};

// Keeps `in_flight` unary calls outstanding (slot s on stubs[s % size]):
// `make(slot, i)` builds a request, `invoke(stub->async(), context, request,
// response, callback)` starts it, `accept(status, response)` says whether it
// answered as it should.
template <typename Request, typename Response, typename Stub, typename Make, typename Invoke,
          typename Accept>
hub::bench::InFlightResult UnaryInFlight(int in_flight, double seconds,
                                         const std::vector<std::unique_ptr<Stub>>& stubs, Make make,
                                         Invoke invoke, Accept accept) {
  std::vector<std::unique_ptr<AsyncCall<Request, Response>>> calls(static_cast<size_t>(in_flight));
  return hub::bench::RunInFlight(
      in_flight, seconds, [&](int slot, uint64_t i, std::function<void(bool)> done) {
        // The previous call of this slot has completed (this may run inside
        // its completion, as gRPC's own callback benchmarks do).
        auto& call = calls[static_cast<size_t>(slot)];
        call = std::make_unique<AsyncCall<Request, Response>>();
        call->request = make(slot, i);
        AsyncCall<Request, Response>* raw = call.get();
        invoke(stubs[static_cast<size_t>(slot) % stubs.size()]->async(), &raw->context,
               &raw->request, &raw->response,
               [raw, &accept, done = std::move(done)](grpc::Status status) {
                 done(accept(status, raw->response));
               });
      });
}

// Connections an asynchronous client opens for `in_flight` calls: two for
// 16, as an agency system with a small pool would.
int ConnectionsFor(int in_flight) { return std::max(2, in_flight / 8); }

// Announces a phase on stderr with the monotonic clock (perf record -k mono
// uses the same clock, so a profile can be cut to one phase) and hubd's
// resident memory as the phase begins.
double (*hubd_rss_mib)() = nullptr;
std::atomic<const char*> current_phase{"starting"};
void Phase(const char* name) {
  current_phase = name;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  std::fprintf(stderr, "[hub_bench %ld.%06ld] %s (hubd resident %.0f MiB)\n",
               static_cast<long>(now.tv_sec), now.tv_nsec / 1000, name,
               hubd_rss_mib != nullptr ? hubd_rss_mib() : 0.0);
}

// Samples hubd's resident memory every 50 ms, so that the run can say in
// which phase it was highest (VmHWM gives the peak, not when).
class ResidentWatch {
 public:
  explicit ResidentWatch(double (*resident_mib)())
      : thread_([this, resident_mib] {
          while (!stop_.load()) {
            const double now = resident_mib();
            {
              absl::MutexLock lock(&mu_);
              if (now > highest_mib_) {
                highest_mib_ = now;
                phase_ = current_phase.load();
              }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }) {}
  ~ResidentWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // The highest sample and the phase it was taken in.
  std::pair<double, std::string> Highest() {
    absl::MutexLock lock(&mu_);
    return {highest_mib_, phase_};
  }

 private:
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  double highest_mib_ = 0;
  std::string phase_;
  std::thread thread_;
};

// The p-th percentile (0..1) of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
}

struct Row {
  std::string name;
  std::string value;
  std::string baseline;
  std::string ratio;
  std::string target;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As in hubd: Abseil's lock-order graph (on in Debian's build) would cost
  // every lock of every mutex a graph lookup, here and in the baselines.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const fs::path dir = fs::absolute(absl::GetFlag(FLAGS_dir));
  const double seconds = absl::GetFlag(FLAGS_seconds);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string certs = (dir / "certs").string();
  const std::string protocol =
      std::string(HUB_SOURCE_DIR) + "/deploy/examples/sharing_protocol.textproto";
  if (std::system(absl::StrCat(HUB_SOURCE_DIR, "/deploy/certs.sh dev ", certs, " ", protocol,
                               " >/dev/null 2>&1")
                      .c_str()) != 0) {
    std::fprintf(stderr, "deploy/certs.sh dev failed\n");
    return 1;
  }
  const std::string config = (dir / "hubd.textproto").string();
  std::ofstream(config) << absl::StrCat(
      "listen_address: \"127.0.0.1:0\"\ndata_dir: \"", (dir / "data").string(),
      "\"\nsharing_protocol_path: \"", protocol, "\"\ntls { ca_cert_path: \"", certs,
      "/ca.crt\" server_cert_path: \"", certs, "/server/hubd.crt\" server_key_path: \"", certs,
      "/server/hubd.key\" crl_dir: \"", certs, "/crl\" }\nmetrics { listen_address: \"off\" }\n");
  Hubd hubd;
  std::string address;
  if (!hubd.Start(config, &address)) return 1;
  static Hubd* running_hubd = &hubd;
  hubd_rss_mib = [] { return running_hubd->MemoryMiB("VmRSS"); };
  ResidentWatch resident_watch(hubd_rss_mib);
  std::printf("hubd at %s; loading the demonstration site at scale %g\n", address.c_str(),
              absl::GetFlag(FLAGS_scale));
  std::fflush(stdout);
  if (std::system(absl::StrCat(HUBCTL_PATH, " demo --hub=", address, " --certs_dir=", certs,
                               " --scale=", absl::GetFlag(FLAGS_scale), " --parallel=16")
                      .c_str()) != 0) {
    std::fprintf(stderr, "hubctl demo failed; hubd logged:\n%s\n", hubd.Logs().c_str());
    return 1;
  }
  const int bench_cases = absl::GetFlag(FLAGS_cases);
  if (bench_cases < 20) {
    std::fprintf(stderr, "--cases must be at least 20 (a panel agenda's worth)\n");
    return 1;
  }
  {
    Phase("loading the 200-event cases");
    const Clock::time_point start = Clock::now();
    std::atomic<bool> failed{false};
    std::vector<std::thread> loaders;
    for (int t = 0; t < 16; ++t) {
      loaders.emplace_back([&, t] {
        auto police = hub::v1::EventService::NewStub(Channel(address, certs, "police-agency", t));
        auto coordinator =
            hub::v1::EventService::NewStub(Channel(address, certs, "dapp-coordinator", t));
        auto idva = hub::v1::EventService::NewStub(Channel(address, certs, "idva-agency", t));
        for (int k = t; k < bench_cases && !failed.load(); k += 16) {
          if (!LoadBenchCase(k, *police, *coordinator, *idva)) failed = true;
        }
      });
    }
    for (std::thread& loader : loaders) loader.join();
    if (failed.load()) return 1;
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("loaded %d cases of 200 events in %.1f s (%.0f events/s)\n", bench_cases, took,
                bench_cases * 200 / took);
    std::fflush(stdout);
  }
#ifdef HUB_BENCH_POSTGRES
  std::unique_ptr<hub::bench::PostgresPeer> peer;
  if (absl::GetFlag(FLAGS_postgres)) {
    Phase("starting and loading the PostgreSQL peer");
    const Clock::time_point start = Clock::now();
    absl::StatusOr<std::unique_ptr<hub::bench::PostgresPeer>> started =
        hub::bench::PostgresPeer::Start((dir / "postgres").string(), certs);
    if (!started.ok()) {
      std::fprintf(stderr, "the PostgreSQL peer did not start: %s\n",
                   std::string(started.status().message()).c_str());
      return 1;
    }
    peer = std::move(*started);
    auto coordinator_timeline =
        hub::v1::TimelineService::NewStub(Channel(address, certs, "dapp-coordinator", 1700));
    if (absl::Status loaded = LoadPeer(*peer, bench_cases, *coordinator_timeline); !loaded.ok()) {
      std::fprintf(stderr, "loading the PostgreSQL peer failed: %s\n",
                   std::string(loaded.message()).c_str());
      return 1;
    }
    std::printf("PostgreSQL peer loaded in %.1f s\n",
                std::chrono::duration<double>(Clock::now() - start).count());
    std::fflush(stdout);
  }
  // 16 clients of the peer, each on its own connection as an agency (the
  // peer's clients are blocking: libpq answers one statement at a time per
  // connection, so its concurrency is its connections).
  // Empty if one could not be opened (said on stderr): the caller returns,
  // so that hubd and PostgreSQL are stopped on the way out.
  auto peer_clients = [&](const std::string& client, const char* name, const char* sql) {
    std::vector<std::unique_ptr<hub::bench::PostgresConnection>> connections;
    for (int c = 0; c < 16; ++c) {
      absl::StatusOr<std::unique_ptr<hub::bench::PostgresConnection>> connection =
          peer->Connect(client);
      absl::Status prepared =
          connection.ok() ? (*connection)->Prepare(name, sql) : connection.status();
      if (!prepared.ok()) {
        std::fprintf(stderr, "the PostgreSQL peer's clients: %s\n",
                     std::string(prepared.message()).c_str());
        return std::vector<std::unique_ptr<hub::bench::PostgresConnection>>();
      }
      connections.push_back(std::move(*connection));
    }
    return connections;
  };
  // Runs `call(connection, i)` on 16 connections for --seconds; its rate
  // and latencies (of calls that answered as they should).
  auto peer_run = [&](std::vector<std::unique_ptr<hub::bench::PostgresConnection>>& connections,
                      auto call) {
    absl::Mutex mu;
    hub::bench::InFlightResult result;
    std::atomic<uint64_t> failures{0};
    result.per_second = hub::bench::RunFor(16, seconds, [&](int t, uint64_t i) {
      const Clock::time_point start = Clock::now();
      const absl::Status status = call(*connections[static_cast<size_t>(t)], t, i);
      const double took = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      if (!status.ok()) {
        if (failures++ == 0) {
          std::fprintf(stderr, "a PostgreSQL peer call failed: %s\n",
                       std::string(status.message()).c_str());
        }
        return false;
      }
      absl::MutexLock lock(&mu);
      result.latency_ms.push_back(took);
      return true;
    });
    result.refused = failures.load();
    std::sort(result.latency_ms.begin(), result.latency_ms.end());
    return result;
  };
#endif

  hubd.WaitUntilIdle();
  Phase("loaded and idle");

  // The echo baseline: same server certificate, client certificates required.
  EchoService echo;
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = ReadFile(certs + "/ca.crt");
  ssl.pem_key_cert_pairs.push_back(
      {ReadFile(certs + "/server/hubd.key"), ReadFile(certs + "/server/hubd.crt")});
  grpc::ServerBuilder builder;
  int echo_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &echo_port);
  builder.RegisterService(&echo);
  std::unique_ptr<grpc::Server> echo_server = builder.BuildAndStart();
  const std::string echo_address = absl::StrCat("127.0.0.1:", echo_port);

  constexpr int kPublishers = 16;
  if (!OpenBenchCases(address, certs, kPublishers)) return 1;
  // Echo channels and hub channels, as many connections each as an
  // asynchronous client with that many calls in flight opens.
  auto echo_stubs = [&](int in_flight) {
    std::vector<std::unique_ptr<hub::bench::Echo::Stub>> stubs;
    for (int c = 0; c < ConnectionsFor(in_flight); ++c) {
      stubs.push_back(
          hub::bench::Echo::NewStub(Channel(echo_address, certs, "police-agency", 1000 + c)));
    }
    return stubs;
  };
  auto hub_stubs = [&](int in_flight, const std::string& client, int first_id) {
    std::vector<std::unique_ptr<hub::v1::EventService::Stub>> stubs;
    for (int c = 0; c < ConnectionsFor(in_flight); ++c) {
      stubs.push_back(
          hub::v1::EventService::NewStub(Channel(address, certs, client, first_id + c)));
    }
    return stubs;
  };
  const std::string publish_size = PublishRequest(0, 0).SerializeAsString();
  hub::bench::EchoMessage echo_message;
  echo_message.set_payload(std::string(publish_size.size(), 'e'));
  auto echo_in_flight = [&](int in_flight) {
    const auto stubs = echo_stubs(in_flight);
    return UnaryInFlight<hub::bench::EchoMessage, hub::bench::EchoMessage>(
               in_flight, seconds, stubs, [&](int, uint64_t) { return echo_message; },
               [](auto* async, auto* context, auto* request, auto* response, auto callback) {
                 async->Unary(context, request, response, std::move(callback));
               },
               [](const grpc::Status& status, const hub::bench::EchoMessage&) {
                 return status.ok();
               })
        .per_second;
  };
  // Every publish has an event id of its own: slot and that slot's count,
  // kept across rounds.
  std::vector<uint64_t> sequence(64, 0);
  auto publish_in_flight = [&](int in_flight, bool refused) {
    const auto stubs = hub_stubs(in_flight, "idva-agency", 1100);
    return UnaryInFlight<hub::v1::PublishRequest, hub::v1::PublishResponse>(
        in_flight, seconds, stubs,
        [&](int slot, uint64_t) {
          hub::v1::PublishRequest request = PublishRequest(slot, sequence[slot]++);
          // Refused at validation: an unknown enum number.
          if (refused) {
            request.mutable_events(0)->mutable_victim_safety_information()->set_risk_change(
                static_cast<hub::v1::RiskChange>(77));
          }
          return request;
        },
        [](auto* async, auto* context, auto* request, auto* response, auto callback) {
          async->Publish(context, request, response, std::move(callback));
        },
        [refused](const grpc::Status& status, const hub::v1::PublishResponse&) {
          return refused ? status.error_code() == grpc::StatusCode::INVALID_ARGUMENT : status.ok();
        });
  };

  // Baselines and publishes alternate for --rounds rounds, and each round's
  // ratios pair measurements taken seconds apart: the shared host's drift
  // (the echo rate alone moves by a third between runs) falls on both sides.
  std::vector<double> echo_rates;
  std::vector<double> echo64_rates;
  std::vector<double> publish_rates;
  std::vector<double> publish64_rates;
  std::vector<double> publish_ratios;
  std::vector<double> publish64_ratios;
  std::vector<double> refused_ratios;
  // CPU per call, which the shared host's drift moves far less than rates:
  // the echo's client and server both run in this process; a publish's
  // server side is hubd's CPU, its client side this process's.
  std::vector<double> echo_cpu_us;
  std::vector<double> publish_hubd_cpu_us;
  std::vector<double> publish_client_cpu_us;
  std::vector<double> publish_p99_ms;
  // The PostgreSQL peer's publishes, and the hub's publish_16 as a multiple
  // of them, by round (empty without the peer).
  std::vector<double> peer_publish_rates;
  std::vector<double> peer_publish_p99_ms;
  std::vector<double> over_peer_publish;
#ifdef HUB_BENCH_POSTGRES
  std::vector<std::unique_ptr<hub::bench::PostgresConnection>> peer_publishers;
  if (peer != nullptr) {
    peer_publishers = peer_clients("idva-agency", "publish", hub::bench::PostgresPeer::kPublish);
    if (peer_publishers.empty()) return 1;
  }
  std::vector<uint64_t> peer_sequence(16, 0);
#endif
  for (int round = 0; round < std::max(1, absl::GetFlag(FLAGS_rounds)); ++round) {
    Phase("echo_async_16");
    double own_before = OwnCpuSeconds();
    echo_rates.push_back(echo_in_flight(16));
    echo_cpu_us.push_back((OwnCpuSeconds() - own_before) * 1e6 /
                          std::max(echo_rates.back() * seconds, 1.0));
    Phase("publish_16");
    own_before = OwnCpuSeconds();
    const double hubd_before = hubd.CpuSeconds();
    const hub::bench::InFlightResult published = publish_in_flight(16, false);
    publish_rates.push_back(published.per_second);
    publish_p99_ms.push_back(Percentile(published.latency_ms, 0.99));
    const double publishes = std::max(publish_rates.back() * seconds, 1.0);
    publish_hubd_cpu_us.push_back((hubd.CpuSeconds() - hubd_before) * 1e6 / publishes);
    publish_client_cpu_us.push_back((OwnCpuSeconds() - own_before) * 1e6 / publishes);
    publish_ratios.push_back(publish_rates.back() / std::max(echo_rates.back(), 1.0));
#ifdef HUB_BENCH_POSTGRES
    if (peer != nullptr) {
      Phase("peer_publish_16");
      const hub::bench::InFlightResult peer_published = peer_run(
          peer_publishers,
          [&](hub::bench::PostgresConnection& connection, int t, uint64_t) -> absl::Status {
            const hub::v1::PublishRequest request = PublishRequest(t, peer_sequence[t]++);
            return connection.Run("publish", PeerParameters(request.case_id(), request.events(0)))
                .status();
          });
      if (peer_published.refused > 0) return 1;
      peer_publish_rates.push_back(peer_published.per_second);
      peer_publish_p99_ms.push_back(Percentile(peer_published.latency_ms, 0.99));
      over_peer_publish.push_back(publish_rates.back() / std::max(peer_published.per_second, 1.0));
    }
#endif
    // The same publishes refused at validation (an unknown enum number):
    // hubd's transport, authentication, parsing and checks, nothing stored
    // or audited. How much of the echo's rate is left once the hub does
    // anything at all.
    Phase("publish_refused_16");
    refused_ratios.push_back(publish_in_flight(16, true).per_second /
                             std::max(echo_rates.back(), 1.0));
    Phase("echo_async_64");
    echo64_rates.push_back(echo_in_flight(64));
    Phase("publish_64");
    publish64_rates.push_back(publish_in_flight(64, false).per_second);
    publish64_ratios.push_back(publish64_rates.back() / std::max(echo64_rates.back(), 1.0));
  }
  auto by_round = [](const std::vector<double>& ratios) {
    return absl::StrJoin(ratios, ", ", [](std::string* out, double ratio) {
      absl::StrAppendFormat(out, "%.2f", ratio);
    });
  };
  const double echo_rate = hub::bench::Median(echo_rates);
  const double publish_rate = hub::bench::Median(publish_rates);
  const double publish_ratio = hub::bench::Median(publish_ratios);

  Phase("publish latency at half load");
  // Offered at half publish_16's rate on a fixed schedule, from the same
  // 16 connections' worth of channels.
  const double target = publish_rate / 2;
  const hub::bench::InFlightResult paced = [&] {
    const auto stubs = hub_stubs(16, "idva-agency", 1200);
    return hub::bench::RunPaced(target, seconds, [&](uint64_t i, std::function<void(bool)> done) {
      const int slot = static_cast<int>(i % 16);
      auto* call = new AsyncCall<hub::v1::PublishRequest, hub::v1::PublishResponse>();
      call->request = PublishRequest(slot, sequence[slot]++);
      stubs[i % stubs.size()]->async()->Publish(
          &call->context, &call->request, &call->response,
          [call, done = std::move(done)](grpc::Status status) {
            done(status.ok());
            delete call;
          });
    });
  }();
  const std::vector<double>& latencies = paced.latency_ms;

  // Streaming: 10 clients, each receiving the whole log's worth of messages.
  // Every one of them sees the live phase's actions (tasked to housing):
  // health, which sees only the cases it is involved in, would see none.
  constexpr int kSubscribers = 10;
  const std::vector<std::string> agencies = {
      "police-agency", "probation-agency", "childrens-services-agency", "housing-agency",
      "idva-agency",   "drive-agency",     "probation-agency",          "dapp-coordinator",
      "police-agency", "idva-agency"};
  // Where each agency's view ends now: the position, in its own view, of a
  // marker event published now (every publish before it has been
  // acknowledged; actions are in every agency's view). Readers are told
  // positions in their own views, never the log's.
  uint64_t markers = 0;
  auto view_ends = [&]() -> std::vector<uint64_t> {
    auto stub = hub::v1::EventService::NewStub(Channel(address, certs, "dapp-coordinator", 99));
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    const grpc::Status status =
        stub->Publish(&context,
                      ActionRequest("C-BENCH-MARKER",
                                    absl::StrFormat("3a4e0000-0000-4000-8000-%012x", markers++)),
                      &response);
    if (!status.ok()) {
      std::fprintf(stderr, "publishing a marker failed: %s\n", status.error_message().c_str());
      std::exit(1);
    }
    std::vector<uint64_t> ends;
    for (const std::string& agency : agencies) {
      auto reader = hub::v1::EventService::NewStub(Channel(address, certs, agency, 98));
      hub::v1::ReadCaseRequest read;
      read.set_case_id("C-BENCH-MARKER");
      read.set_from_version(markers);
      grpc::ClientContext read_context;
      hub::v1::ReadCaseResponse events;
      const grpc::Status read_status = reader->ReadCase(&read_context, read, &events);
      if (!read_status.ok() || events.events_size() == 0) {
        std::fprintf(stderr, "%s could not read the marker: %s\n", agency.c_str(),
                     read_status.error_message().c_str());
        std::exit(1);
      }
      ends.push_back(events.events(events.events_size() - 1).global_position());
    }
    return ends;
  };
  // How many events the echo streams: as many as the coordinator's view
  // holds (about the whole log).
  const uint64_t log_size = view_ends()[7] % 1'000'000'000'000;
  auto stream_all = [&](auto open_and_count) {
    std::atomic<uint64_t> received{0};
    std::vector<std::thread> clients;
    const Clock::time_point start = Clock::now();
    for (int c = 0; c < kSubscribers; ++c) {
      clients.emplace_back([&, c] { received += open_and_count(c); });
    }
    for (std::thread& client : clients) client.join();
    return static_cast<double>(received.load()) /
           std::chrono::duration<double>(Clock::now() - start).count();
  };
  Phase("echo_stream_10");
  const double echo_stream_rate = stream_all([&](int c) -> uint64_t {
    auto stub = hub::bench::Echo::NewStub(Channel(echo_address, certs, agencies[c], 200 + c));
    grpc::ClientContext context;
    hub::bench::StreamRequest request;
    request.set_count(log_size);
    request.set_size(static_cast<uint32_t>(publish_size.size()));
    auto reader = stub->Stream(&context, request);
    hub::bench::EchoMessage message;
    uint64_t count = 0;
    while (reader->Read(&message)) ++count;
    (void)reader->Finish();
    return count;
  });
  Phase("delivery_10");
  const double delivery_rate = stream_all([&](int c) -> uint64_t {
    auto stub = hub::v1::EventService::NewStub(Channel(address, certs, agencies[c], 300 + c));
    grpc::ClientContext context;
    auto reader = stub->Subscribe(&context, hub::v1::SubscribeRequest());
    hub::v1::SubscribeResponse item;
    uint64_t count = 0;
    while (reader->Read(&item)) {
      if (item.has_caught_up()) break;
      ++count;
    }
    context.TryCancel();
    return count;
  });

  Phase("live delivery");
  // Live delivery: subscribers attached at the end of the log, while 4
  // clients publish actions (every agency's view holds them) at 1,000
  // events/s on a fixed schedule; latency from the start of each publish
  // call to each subscriber's receipt of the event. First one subscriber
  // per agency system (10, the harness the live target was first set
  // against), then 100 (the 10 agencies' systems, ten connections each).
  constexpr double kLiveRate = 1000;
  constexpr int kLivePublishers = 4;
  const uint64_t live_events = static_cast<uint64_t>(kLiveRate * seconds);
  struct LiveRun {
    std::vector<double> delivery_ms;
    uint64_t expected = 0;
    double rss_attached = 0;
  };
  // `first_id`: the run's first event number (event ids differ by run).
  auto measure_live = [&](int live_subscribers, uint64_t first_id) {
    LiveRun run;
    const std::vector<uint64_t> live_from = view_ends();
    const Clock::time_point live_epoch = Clock::now();
    auto since_epoch_ms = [&] {
      return std::chrono::duration<double, std::milli>(Clock::now() - live_epoch).count();
    };
    std::vector<std::atomic<double>> sent_at_ms(live_events);
    absl::Mutex deliveries_mu;
    std::atomic<int> attached{0};
    std::vector<std::unique_ptr<grpc::ClientContext>> live_contexts;
    std::vector<std::thread> live_subscribers_threads;
    for (int c = 0; c < live_subscribers; ++c) {
      live_contexts.push_back(std::make_unique<grpc::ClientContext>());
      live_subscribers_threads.emplace_back([&, c] {
        auto stub = hub::v1::EventService::NewStub(
            Channel(address, certs, agencies[c % kSubscribers], 400 + c));
        hub::v1::SubscribeRequest request;
        request.set_after_position(live_from[c % kSubscribers]);
        auto reader = stub->Subscribe(live_contexts[c].get(), request);
        hub::v1::SubscribeResponse item;
        std::vector<double> local;
        while (reader->Read(&item)) {
          if (item.has_caught_up()) {
            ++attached;
            continue;
          }
          const std::string& id = item.event().event_id();
          if (id.rfind("1a7e", 0) != 0 || id.size() != 36) continue;
          const uint64_t n = std::strtoull(id.c_str() + 24, nullptr, 16);
          if (n >= first_id && n - first_id < live_events) {
            local.push_back(since_epoch_ms() - sent_at_ms[n - first_id].load());
          }
        }
        absl::MutexLock lock(&deliveries_mu);
        run.delivery_ms.insert(run.delivery_ms.end(), local.begin(), local.end());
      });
    }
    for (int i = 0; i < 300 && attached.load() < live_subscribers; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    {
      std::vector<std::thread> publishers;
      const Clock::time_point schedule = Clock::now();
      for (int t = 0; t < kLivePublishers; ++t) {
        publishers.emplace_back([&, t] {
          auto stub =
              hub::v1::EventService::NewStub(Channel(address, certs, "dapp-coordinator", 500 + t));
          for (uint64_t i = t; i < live_events; i += kLivePublishers) {
            std::this_thread::sleep_until(
                schedule + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(static_cast<double>(i) / kLiveRate)));
            const hub::v1::PublishRequest request =
                ActionRequest(absl::StrCat("C-BENCH-LIVE-", i % 100),
                              absl::StrFormat("1a7e0000-0000-4000-8000-%012x", first_id + i));
            sent_at_ms[i] = since_epoch_ms();
            grpc::ClientContext context;
            hub::v1::PublishResponse response;
            (void)stub->Publish(&context, request, &response);
          }
        });
      }
      for (std::thread& publisher : publishers) publisher.join();
    }
    // Let the last deliveries arrive, then measure memory with everyone
    // attached.
    for (size_t seen = 0;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      absl::MutexLock lock(&deliveries_mu);
      if (run.delivery_ms.size() == seen) break;
      seen = run.delivery_ms.size();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    run.rss_attached = hubd.MemoryMiB("VmRSS");
    for (auto& context : live_contexts) context->TryCancel();
    for (std::thread& subscriber : live_subscribers_threads) subscriber.join();
    std::sort(run.delivery_ms.begin(), run.delivery_ms.end());
    run.expected = live_events * live_subscribers;
    return run;
  };
  const LiveRun live_10 = measure_live(kSubscribers, 0);
  Phase("live delivery, 100 subscribers");
  const LiveRun live_100 = measure_live(100, live_events);
  const std::vector<double>& delivery_ms = live_100.delivery_ms;
  const uint64_t expected_deliveries = live_100.expected;
  const double rss_attached = live_100.rss_attached;

  Phase("timeline_200");
  // A case of 200 events (actions from the coordinator, safety updates from
  // the IDVA) read whole by the coordinator, one call at a time, next to a
  // single client's echo latency.
  const std::string timeline_case = "C-BENCH-TIMELINE";
  {
    auto coordinator =
        hub::v1::EventService::NewStub(Channel(address, certs, "dapp-coordinator", 600));
    auto idva = hub::v1::EventService::NewStub(Channel(address, certs, "idva-agency", 601));
    for (uint64_t i = 0; i < 200; ++i) {
      grpc::ClientContext context;
      hub::v1::PublishResponse response;
      const std::string id = absl::StrFormat("7173e000-0000-4000-8000-%012x", i);
      hub::v1::PublishRequest request;
      if (i % 2 == 0) {
        request = ActionRequest(timeline_case, id);
      } else {
        request = PublishRequest(0, i);
        request.set_case_id(timeline_case);
        request.mutable_events(0)->set_event_id(id);
      }
      const grpc::Status status =
          (i % 2 == 0 ? coordinator : idva)->Publish(&context, request, &response);
      if (!status.ok()) {
        std::fprintf(stderr, "publishing the timeline case failed: %s\n",
                     status.error_message().c_str());
        return 1;
      }
    }
  }
  constexpr int kTimelineCalls = 300;
  auto timeline_stub =
      hub::v1::TimelineService::NewStub(Channel(address, certs, "dapp-coordinator", 602));
  auto echo_stub = hub::bench::Echo::NewStub(Channel(echo_address, certs, "police-agency", 603));
  std::vector<double> timeline_ms;
  std::vector<double> echo_ms;
  int timeline_entries = 0;
  for (int i = 0; i < kTimelineCalls + 20; ++i) {
    Clock::time_point start = Clock::now();
    {
      grpc::ClientContext context;
      hub::bench::EchoMessage response;
      (void)echo_stub->Unary(&context, echo_message, &response);
    }
    const double echo_took =
        std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    start = Clock::now();
    grpc::ClientContext context;
    hub::v1::GetCaseTimelineRequest request;
    request.set_case_id(timeline_case);
    request.set_page_size(200);
    hub::v1::GetCaseTimelineResponse response;
    const grpc::Status status = timeline_stub->GetCaseTimeline(&context, request, &response);
    const double took = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!status.ok()) {
      std::fprintf(stderr, "GetCaseTimeline failed: %s\n", status.error_message().c_str());
      return 1;
    }
    timeline_entries = response.entries_size();
    if (i < 20) continue;  // warming up: connections, caches
    timeline_ms.push_back(took);
    echo_ms.push_back(echo_took);
  }
  std::sort(timeline_ms.begin(), timeline_ms.end());
  std::sort(echo_ms.begin(), echo_ms.end());

  Phase("timeline_16");
  // 16 coordinators' reads in flight, each of a random one of the
  // 200-event cases, whole (a page of 200), each audited durably.
  std::vector<std::minstd_rand> randoms;
  for (int slot = 0; slot < 64; ++slot) randoms.emplace_back(slot + 1);
  auto random_case = [&](int slot) {
    return BenchCaseId(static_cast<int>(randoms[static_cast<size_t>(slot)]() %
                                        static_cast<uint32_t>(bench_cases)));
  };
  std::vector<std::unique_ptr<hub::v1::TimelineService::Stub>> timeline_stubs;
  for (int c = 0; c < ConnectionsFor(16); ++c) {
    timeline_stubs.push_back(
        hub::v1::TimelineService::NewStub(Channel(address, certs, "dapp-coordinator", 1600 + c)));
  }
  std::atomic<uint64_t> short_timelines{0};
  const hub::bench::InFlightResult timelines =
      UnaryInFlight<hub::v1::GetCaseTimelineRequest, hub::v1::GetCaseTimelineResponse>(
          16, seconds, timeline_stubs,
          [&](int slot, uint64_t) {
            hub::v1::GetCaseTimelineRequest request;
            request.set_case_id(random_case(slot));
            request.set_page_size(200);
            return request;
          },
          [](auto* async, auto* context, auto* request, auto* response, auto callback) {
            async->GetCaseTimeline(context, request, response, std::move(callback));
          },
          [&](const grpc::Status& status, const hub::v1::GetCaseTimelineResponse& response) {
            if (status.ok() && response.entries_size() != 200) ++short_timelines;
            return status.ok() && response.entries_size() == 200;
          });
  if (timelines.refused > 0) {
    std::fprintf(stderr, "%llu of the timeline_16 reads failed or were short (%llu short)\n",
                 static_cast<unsigned long long>(timelines.refused),
                 static_cast<unsigned long long>(short_timelines.load()));
    return 1;
  }

  // The peer's timeline_16: 16 connections as the coordinator, random
  // 200-event cases, each read audited in its transaction.
  hub::bench::InFlightResult peer_timelines;
#ifdef HUB_BENCH_POSTGRES
  if (peer != nullptr) {
    Phase("peer_timeline_16");
    auto readers =
        peer_clients("dapp-coordinator", "timeline", hub::bench::PostgresPeer::kTimeline);
    if (readers.empty()) return 1;
    peer_timelines = peer_run(
        readers, [&](hub::bench::PostgresConnection& connection, int t, uint64_t) -> absl::Status {
          absl::StatusOr<int> rows = connection.Run("timeline", {random_case(t), "200"});
          if (!rows.ok()) return rows.status();
          if (*rows != 200) return absl::InternalError(absl::StrCat("answered ", *rows, " rows"));
          return absl::OkStatus();
        });
    if (peer_timelines.refused > 0) return 1;
  }
#endif

  Phase("list_cases_16");
  // 16 panel lists in flight: the coordinator's overviews of a 20-case
  // agenda drawn from the 200-event cases (each with 20 open actions).
  constexpr int kAgendaCases = 20;
  const hub::bench::InFlightResult lists =
      UnaryInFlight<hub::v1::ListCasesRequest, hub::v1::ListCasesResponse>(
          16, seconds, timeline_stubs,
          [&](int slot, uint64_t) {
            hub::v1::ListCasesRequest request;
            std::vector<std::string> agenda;
            while (agenda.size() < kAgendaCases) {
              std::string id = random_case(slot);
              if (std::find(agenda.begin(), agenda.end(), id) == agenda.end()) {
                agenda.push_back(std::move(id));
              }
            }
            for (std::string& id : agenda) request.add_case_ids(std::move(id));
            request.set_purpose(hub::v1::PURPOSE_PANEL);
            return request;
          },
          [](auto* async, auto* context, auto* request, auto* response, auto callback) {
            async->ListCases(context, request, response, std::move(callback));
          },
          [](const grpc::Status& status, const hub::v1::ListCasesResponse& response) {
            return status.ok() && response.cases_size() == kAgendaCases;
          });
  if (lists.refused > 0) {
    std::fprintf(stderr, "%llu of the list_cases_16 calls failed or were short\n",
                 static_cast<unsigned long long>(lists.refused));
    return 1;
  }

  Phase("free_text_16");
  // One principal (the coordinator) publishes actions whose descriptions are
  // free text of the largest size the hub accepts, from 16 clients: hubd's
  // resident memory is sampled throughout (case summaries keep a bounded
  // extract of each description, the views the rest on disk).
  constexpr size_t kMaxFreeTextBytes = 8192;  // limits.max_free_text_bytes' default
  std::atomic<bool> flooding{true};
  double rss_free_text_peak = 0;
  std::thread sampler([&] {
    while (flooding.load()) {
      rss_free_text_peak = std::max(rss_free_text_peak, hubd.MemoryMiB("VmRSS"));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::atomic<uint64_t> free_text_failures{0};
  std::vector<std::unique_ptr<hub::v1::EventService::Stub>> coordinator_stubs;
  for (int t = 0; t < kPublishers; ++t) {
    coordinator_stubs.push_back(
        hub::v1::EventService::NewStub(Channel(address, certs, "dapp-coordinator", 800 + t)));
  }
  const double free_text_rate = hub::bench::RunFor(kPublishers, seconds, [&](int t, uint64_t i) {
    hub::v1::PublishRequest request =
        ActionRequest(absl::StrCat("C-BENCH-", t, "-", i % 50),
                      absl::StrFormat("f7ee%04x-0000-4000-8000-%012x", t, i));
    request.mutable_events(0)->mutable_action_tasked()->set_description(
        std::string(kMaxFreeTextBytes, static_cast<char>('a' + i % 26)));
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    const grpc::Status status = coordinator_stubs[t]->Publish(&context, request, &response);
    if (!status.ok() && free_text_failures++ == 0) {
      std::fprintf(stderr, "a free-text publish failed: %s\n", status.error_message().c_str());
    }
    return status.ok();
  });
  // Sampled until the views have taken it all in: projecting the flood
  // (every principal's shape of 8 KiB events) is where it weighs most.
  hubd.WaitUntilIdle();
  flooding = false;
  sampler.join();
  const double rss_after_free_text = hubd.MemoryMiB("VmRSS");
  if (free_text_failures.load() > 0) {
    std::fprintf(stderr, "%llu free-text publishes failed\n",
                 static_cast<unsigned long long>(free_text_failures.load()));
    return 1;
  }

  Phase("rebuild");
  // A protocol change: the same protocol under a new version, so every
  // principal's views are rebuilt from the whole log.
  std::string protocol_text = ReadFile(protocol);
  const std::string version_line = "version: \"";
  const size_t version_at = protocol_text.find(version_line);
  protocol_text.insert(protocol_text.find('"', version_at + version_line.size()), "-bench");
  hub::v1::ApplyProtocolResponse applied;
  {
    auto policy = hub::v1::PolicyService::NewStub(Channel(address, certs, "operator-admin", 700));
    grpc::ClientContext context;
    hub::v1::ApplyProtocolRequest request;
    request.set_protocol_text(protocol_text);
    const grpc::Status status = policy->ApplyProtocol(&context, request, &applied);
    if (!status.ok()) {
      std::fprintf(stderr, "ApplyProtocol failed: %s\n", status.error_message().c_str());
      return 1;
    }
  }
  // hubd's own account of the rebuild (projecting, then activating).
  for (absl::string_view line : absl::StrSplit(hubd.Logs(), '\n')) {
    if (absl::StrContains(line, "sharing protocol applied")) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
  }
  const double rebuild_rate = static_cast<double>(applied.rebuilt_through_position()) /
                              std::max<double>(1, applied.rebuild_milliseconds()) * 1000.0;
  Phase("rebuilt");

  Phase("erasure");
  // One victim's whereabouts erased on request, as a data protection
  // officer would ask it: content that decides no relationship, taken out
  // of the views where they stand. Her id is read as her advocate sees
  // the demonstration site's first case.
  // The first victim of a demonstration case, or "" (said why).
  const auto victim_of = [&](const std::string& case_id) {
    auto events = hub::v1::EventService::NewStub(Channel(address, certs, "idva-agency", 60));
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id(case_id);
    request.set_page_size(1000);
    hub::v1::ReadCaseResponse response;
    const grpc::Status status = events->ReadCase(&context, request, &response);
    for (const hub::v1::EventEnvelope& event : response.events()) {
      if (status.ok() && event.has_victim_safety_information() &&
          !event.victim_safety_information().victim_subject_id().empty()) {
        return event.victim_safety_information().victim_subject_id();
      }
    }
    std::fprintf(stderr, "no victim found in %s: %s\n", case_id.c_str(),
                 status.error_message().c_str());
    return std::string();
  };
  const std::string victim = victim_of("C-2025-00001");
  if (victim.empty()) return 1;
  // Milliseconds of the whole call; false if it failed.
  const auto erase = [&](hub::v1::DataClass data_class, const char* reason, const char* reference,
                         hub::v1::EraseSubjectResponse* response, double* milliseconds) {
    auto admin = hub::v1::AdminService::NewStub(Channel(address, certs, "operator-admin", 700));
    hub::v1::EraseSubjectRequest request;
    request.set_subject_id(victim);
    request.set_data_class(data_class);
    request.set_reason(reason);
    request.set_reference(reference);
    grpc::ClientContext context;
    const absl::Time started = absl::Now();
    const grpc::Status status = admin->EraseSubject(&context, request, response);
    *milliseconds = absl::ToDoubleMilliseconds(absl::Now() - started);
    if (!status.ok()) {
      std::fprintf(stderr, "EraseSubject failed: %s\n", status.error_message().c_str());
    }
    return status.ok();
  };
  hub::v1::EraseSubjectResponse erased;
  double erasure_ms = 0;
  if (!erase(hub::v1::VICTIM_LOCATION, "hub_bench: a victim's whereabouts erased on request",
             "HUB-BENCH-ERASURE", &erased, &erasure_ms)) {
    return 1;
  }
  // Then the rest of her: her identity, which decided who is related to
  // her case and whom its events are about, and every other class of hers.
  hub::v1::EraseSubjectResponse erased_whole;
  double whole_erasure_ms = 0;
  if (!erase(hub::v1::DATA_CLASS_UNSPECIFIED, "hub_bench: all of a victim erased on request",
             "HUB-BENCH-ERASURE-2", &erased_whole, &whole_erasure_ms)) {
    return 1;
  }
  // Another victim's processing restricted while she contests its
  // accuracy, then the restriction lifted.
  const std::string contesting = victim_of("C-2025-00002");
  if (contesting.empty()) return 1;
  const auto restrict = [&](bool lift, hub::v1::RestrictProcessingResponse* response,
                            double* milliseconds) {
    auto admin = hub::v1::AdminService::NewStub(Channel(address, certs, "operator-admin", 700));
    hub::v1::RestrictProcessingRequest request;
    request.set_subject_id(contesting);
    request.set_lift(lift);
    request.set_reason("hub_bench: accuracy contested by the data subject");
    request.set_reference("HUB-BENCH-RESTRICTION");
    grpc::ClientContext context;
    const absl::Time started = absl::Now();
    const grpc::Status status = admin->RestrictProcessing(&context, request, response);
    *milliseconds = absl::ToDoubleMilliseconds(absl::Now() - started);
    if (!status.ok()) {
      std::fprintf(stderr, "RestrictProcessing failed: %s\n", status.error_message().c_str());
    }
    return status.ok();
  };
  hub::v1::RestrictProcessingResponse restricted;
  hub::v1::RestrictProcessingResponse lifted;
  double restriction_ms = 0;
  double lift_ms = 0;
  if (!restrict(false, &restricted, &restriction_ms) || !restrict(true, &lifted, &lift_ms)) {
    return 1;
  }
  const double rss_peak = hubd.MemoryMiB("VmHWM");
  resident_watch.Stop();
  const auto [rss_highest_sample, rss_highest_phase] = resident_watch.Highest();
  const double rss_end = hubd.MemoryMiB("VmRSS");

  const std::vector<Row> rows = {
      {"echo_async_16 (baseline)", absl::StrFormat("%.0f calls/s (median)", echo_rate), "", "1.00",
       ""},
      {"publish_16",
       absl::StrFormat("%.0f publishes/s (median; ratio by round: %s; p99 %.2f ms)", publish_rate,
                       by_round(publish_ratios), hub::bench::Median(publish_p99_ms)),
       "echo_async_16", absl::StrFormat("%.2f", publish_ratio), ">= 0.50"},
      peer_publish_rates.empty()
          ? Row{"peer_publish_16 (PostgreSQL peer)",
                "not run (hub_bench built without libpq: tools/bench/run.sh)", "", "", ""}
          : Row{"peer_publish_16 (PostgreSQL 15 peer, 16 connections)",
                absl::StrFormat("%.0f publishes/s (median; p99 %.2f ms)",
                                hub::bench::Median(peer_publish_rates),
                                hub::bench::Median(peer_publish_p99_ms)),
                "", "", ""},
      {"publish_16 over the peer",
       absl::StrFormat("ratio by round: %s", by_round(over_peer_publish)), "peer_publish_16",
       over_peer_publish.empty() ? ""
                                 : absl::StrFormat("%.2f", hub::bench::Median(over_peer_publish)),
       ">= 3"},
      {"publish_refused_16 (refused at validation: nothing stored)",
       absl::StrFormat("ratio by round: %s", by_round(refused_ratios)), "echo_async_16",
       absl::StrFormat("%.2f", hub::bench::Median(refused_ratios)), ""},
      {"echo_async_64 (baseline)",
       absl::StrFormat("%.0f calls/s (median)", hub::bench::Median(echo64_rates)), "", "1.00", ""},
      {"publish_64",
       absl::StrFormat("%.0f publishes/s (median; ratio by round: %s)",
                       hub::bench::Median(publish64_rates), by_round(publish64_ratios)),
       "echo_async_64", absl::StrFormat("%.2f", hub::bench::Median(publish64_ratios)), ""},
      {"CPU per call (median): echo, client and server / publish, hubd + client",
       absl::StrFormat("%.0f us / %.0f + %.0f us", hub::bench::Median(echo_cpu_us),
                       hub::bench::Median(publish_hubd_cpu_us),
                       hub::bench::Median(publish_client_cpu_us)),
       "", "", ""},
      {"publish latency at half load (offered on a schedule)",
       absl::StrFormat("p50 %.2f ms, p99 %.2f ms (%.0f/s offered, %.0f/s answered)",
                       Percentile(latencies, 0.5), Percentile(latencies, 0.99), target,
                       paced.per_second),
       "", "", "p99 <= 5 ms"},
      {"echo_stream_10 (baseline)", absl::StrFormat("%.0f messages/s", echo_stream_rate), "",
       "1.00", ""},
      {"delivery_10 (catch-up)", absl::StrFormat("%.0f events/s", delivery_rate), "echo_stream_10",
       absl::StrFormat("%.2f", delivery_rate / echo_stream_rate), ">= 0.50"},
      {"delivery latency, live, 10 subscribers (one per agency), 1,000 events/s",
       absl::StrFormat("p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d of %d deliveries)",
                       Percentile(live_10.delivery_ms, 0.5), Percentile(live_10.delivery_ms, 0.99),
                       live_10.delivery_ms.empty() ? 0.0 : live_10.delivery_ms.back(),
                       live_10.delivery_ms.size(), live_10.expected),
       "", "", "p99 <= 20 ms"},
      {"delivery latency, live, 100 subscribers, 1,000 events/s",
       absl::StrFormat("p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d of %d deliveries)",
                       Percentile(delivery_ms, 0.5), Percentile(delivery_ms, 0.99),
                       delivery_ms.empty() ? 0.0 : delivery_ms.back(), delivery_ms.size(),
                       expected_deliveries),
       "", "", "p99 <= 20 ms"},
      {"echo_unary_1 latency (baseline)",
       absl::StrFormat("p50 %.2f ms, p99 %.2f ms", Percentile(echo_ms, 0.5),
                       Percentile(echo_ms, 0.99)),
       "", "", ""},
      {absl::StrFormat("timeline_200 (%d entries)", timeline_entries),
       absl::StrFormat("p50 %.2f ms, p99 %.2f ms", Percentile(timeline_ms, 0.5),
                       Percentile(timeline_ms, 0.99)),
       "echo_unary_1 p99",
       absl::StrFormat("%.1f", Percentile(timeline_ms, 0.99) / Percentile(echo_ms, 0.99)), ""},
      {"timeline_16 (random 200-event cases, 16 in flight)",
       absl::StrFormat("%.0f reads/s; p50 %.2f ms, p99 %.2f ms", timelines.per_second,
                       Percentile(timelines.latency_ms, 0.5),
                       Percentile(timelines.latency_ms, 0.99)),
       "echo_async_16", absl::StrFormat("%.2f", timelines.per_second / std::max(echo_rate, 1.0)),
       "p99 <= 10 ms"},
      {"peer_timeline_16 (PostgreSQL 15 peer, 16 connections)",
       peer_timelines.latency_ms.empty()
           ? std::string("not run")
           : absl::StrFormat("%.0f reads/s; p50 %.2f ms, p99 %.2f ms", peer_timelines.per_second,
                             Percentile(peer_timelines.latency_ms, 0.5),
                             Percentile(peer_timelines.latency_ms, 0.99)),
       "", "", ""},
      {"timeline_16 over the peer", "", "peer_timeline_16",
       peer_timelines.latency_ms.empty()
           ? ""
           : absl::StrFormat("%.2f",
                             timelines.per_second / std::max(peer_timelines.per_second, 1.0)),
       ">= 5"},
      {"list_cases_16 (20-case panel agenda, 16 in flight)",
       absl::StrFormat("%.0f lists/s; p50 %.2f ms, p99 %.2f ms", lists.per_second,
                       Percentile(lists.latency_ms, 0.5), Percentile(lists.latency_ms, 0.99)),
       "echo_async_16", absl::StrFormat("%.2f", lists.per_second / std::max(echo_rate, 1.0)), ""},
      {"rebuild (protocol change)",
       absl::StrFormat("%.0f events/s (%llu positions in %lld ms)", rebuild_rate,
                       static_cast<unsigned long long>(applied.rebuilt_through_position()),
                       static_cast<long long>(applied.rebuild_milliseconds())),
       "", "", ">= 150k events/s"},
      {"erasure of one victim's whereabouts (on request; her case's events reshaped)",
       absl::StrFormat(
           "%.0f ms, the views %s", erasure_ms,
           erased.views_reshaped_through() != 0 ? "reshaped where they stand" : "rebuilt"),
       "rebuild",
       absl::StrFormat("%.4f", erasure_ms / std::max<double>(1, applied.rebuild_milliseconds())),
       "< 1 s"},
      {"erasure of the rest of her (the whole subject, identity included)",
       absl::StrFormat(
           "%.0f ms, the views %s", whole_erasure_ms,
           erased_whole.views_reshaped_through() != 0 ? "reshaped where they stand" : "rebuilt"),
       "rebuild",
       absl::StrFormat("%.4f",
                       whole_erasure_ms / std::max<double>(1, applied.rebuild_milliseconds())),
       "< 1 s"},
      {"restriction of another victim's processing, then its lift",
       absl::StrFormat(
           "%.0f ms, the views %s; lifted in %.0f ms, the views %s", restriction_ms,
           restricted.views_reshaped_through() != 0 ? "reshaped where they stand" : "rebuilt",
           lift_ms, lifted.views_reshaped_through() != 0 ? "reshaped where they stand" : "rebuilt"),
       "rebuild",
       absl::StrFormat("%.4f",
                       restriction_ms / std::max<double>(1, applied.rebuild_milliseconds())),
       ""},
      {"free_text_16 (8 KiB descriptions, one principal)",
       absl::StrFormat("%.0f publishes/s; hubd resident %.0f MiB at most (publishing, then "
                       "projecting it), %.0f MiB after",
                       free_text_rate, rss_free_text_peak, rss_after_free_text),
       "", "", "<= 512 MiB"},
      {"hubd resident memory",
       absl::StrFormat("%.0f MiB with 100 subscribers; %.0f MiB after the rebuild; peak %.0f MiB "
                       "(highest sample every 50 ms: %.0f MiB, during %s)",
                       rss_attached, rss_end, rss_peak, rss_highest_sample, rss_highest_phase),
       "", "", "<= 512 MiB"},
  };
  std::printf(
      "\n%llu events in the coordinator's view (about the log); %d cases of 200 events; "
      "unary calls from an asynchronous client\n\n",
      static_cast<unsigned long long>(log_size), bench_cases);
  std::printf("| figure | value | baseline | ratio | target |\n| --- | --- | --- | ---: | --- |\n");
  for (const Row& row : rows) {
    std::printf("| %s | %s | %s | %s | %s |\n", row.name.c_str(), row.value.c_str(),
                row.baseline.c_str(), row.ratio.c_str(), row.target.c_str());
  }
  if (!absl::GetFlag(FLAGS_json).empty()) {
    const std::vector<std::pair<const char*, double>> figures = {
        {"log_positions", static_cast<double>(log_size)},
        {"echo_async_16", echo_rate},
        {"publish_16", publish_rate},
        {"publish_ratio", publish_ratio},
        {"publish_16_p99_ms", hub::bench::Median(publish_p99_ms)},
        {"echo_async_64", hub::bench::Median(echo64_rates)},
        {"publish_64", hub::bench::Median(publish64_rates)},
        {"publish_64_ratio", hub::bench::Median(publish64_ratios)},
        {"latency_p50_ms", Percentile(latencies, 0.5)},
        {"latency_p99_ms", Percentile(latencies, 0.99)},
        {"echo_stream_10", echo_stream_rate},
        {"delivery_10", delivery_rate},
        {"delivery_ratio", delivery_rate / echo_stream_rate},
        {"delivery_latency_10_p50_ms", Percentile(live_10.delivery_ms, 0.5)},
        {"delivery_latency_10_p99_ms", Percentile(live_10.delivery_ms, 0.99)},
        {"deliveries_10", static_cast<double>(live_10.delivery_ms.size())},
        {"delivery_latency_p50_ms", Percentile(delivery_ms, 0.5)},
        {"delivery_latency_p99_ms", Percentile(delivery_ms, 0.99)},
        {"deliveries", static_cast<double>(delivery_ms.size())},
        {"expected_deliveries", static_cast<double>(expected_deliveries)},
        {"echo_unary_1_p99_ms", Percentile(echo_ms, 0.99)},
        {"timeline_200_p50_ms", Percentile(timeline_ms, 0.5)},
        {"timeline_200_p99_ms", Percentile(timeline_ms, 0.99)},
        {"timeline_16", timelines.per_second},
        {"timeline_16_p99_ms", Percentile(timelines.latency_ms, 0.99)},
        {"list_cases_16", lists.per_second},
        {"peer_publish_16", hub::bench::Median(peer_publish_rates)},
        {"publish_16_over_peer", hub::bench::Median(over_peer_publish)},
        {"peer_timeline_16", peer_timelines.per_second},
        {"peer_timeline_16_p99_ms", Percentile(peer_timelines.latency_ms, 0.99)},
        {"timeline_16_over_peer",
         peer_timelines.per_second > 0 ? timelines.per_second / peer_timelines.per_second : 0},
        {"list_cases_16_p99_ms", Percentile(lists.latency_ms, 0.99)},
        {"rebuild_events_per_second", rebuild_rate},
        {"rebuild_ms", static_cast<double>(applied.rebuild_milliseconds())},
        {"erasure_ms", erasure_ms},
        {"erasure_in_place", erased.views_reshaped_through() != 0 ? 1.0 : 0.0},
        {"whole_subject_erasure_ms", whole_erasure_ms},
        {"whole_subject_erasure_in_place", erased_whole.views_reshaped_through() != 0 ? 1.0 : 0.0},
        {"restriction_ms", restriction_ms},
        {"restriction_lift_ms", lift_ms},
        {"restriction_in_place", restricted.views_reshaped_through() != 0 ? 1.0 : 0.0},
        {"rss_mib_with_subscribers", rss_attached},
        {"rss_mib_end", rss_end},
        {"rss_mib_peak", rss_peak},
        {"rss_mib_highest_sample", rss_highest_sample},
        {"free_text_16", free_text_rate},
        {"rss_mib_free_text_peak", rss_free_text_peak},
        {"echo_cpu_us", hub::bench::Median(echo_cpu_us)},
        {"publish_hubd_cpu_us", hub::bench::Median(publish_hubd_cpu_us)},
        {"publish_client_cpu_us", hub::bench::Median(publish_client_cpu_us)},
    };
    std::ofstream json(absl::GetFlag(FLAGS_json));
    json << "{"
         << absl::StrJoin(figures, ",",
                          [](std::string* out, const std::pair<const char*, double>& figure) {
                            absl::StrAppendFormat(out, "\"%s\":%.3f", figure.first, figure.second);
                          })
         << "}\n";
  }
  echo_server->Shutdown();
  return 0;
}
