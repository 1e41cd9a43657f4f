#include "tests/integration/hub_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"

#include "hub/v1/admin_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"

extern char** environ;

namespace hub::testing {
namespace {

int RunProgram(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

absl::StatusOr<hub::v1::BackupResponse> TakeBackup(const TestPki& pki, const std::string& address) {
  grpc::ClientContext context;
  hub::v1::BackupResponse backup;
  const grpc::Status status = hub::v1::AdminService::NewStub(pki.Channel(address, "operator-admin"))
                                  ->Backup(&context, hub::v1::BackupRequest(), &backup);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return backup;
}

std::string ExampleProtocolPath() {
  return std::string(HUB_SOURCE_DIR) + "/deploy/examples/sharing_protocol.textproto";
}

TestPki::TestPki(std::string dir) : dir_(std::move(dir)) { Run("dev", {ExampleProtocolPath()}); }

int TestPki::Run(const std::string& command, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {std::string(HUB_SOURCE_DIR) + "/deploy/certs.sh", command, dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv);
}

std::shared_ptr<grpc::Channel> TestPki::Channel(const std::string& address, const std::string& name,
                                                const std::string& target_name_override) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(ca_cert());
  if (!name.empty()) {
    ssl.pem_cert_chain = ReadFile(dir_ + "/clients/" + name + ".crt");
    ssl.pem_private_key = ReadFile(dir_ + "/clients/" + name + ".key");
  }
  grpc::ChannelArguments arguments;
  if (!target_name_override.empty()) {
    arguments.SetSslTargetNameOverride(target_name_override);
  }
  // Each test channel gets its own connection, so that certificate changes
  // are seen by the next handshake rather than hidden by a shared one.
  arguments.SetInt("grpc.use_local_subchannel_pool", 1);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), arguments);
}

std::string HubConfigText(const TestPki& pki, const std::string& data_dir,
                          const std::string& extra) {
  return absl::StrCat("listen_address: \"127.0.0.1:0\"\n", "data_dir: \"", data_dir, "\"\n",
                      "sharing_protocol_path: \"", ExampleProtocolPath(), "\"\n", "tls {\n",
                      "  ca_cert_path: \"", pki.ca_cert(), "\"\n", "  server_cert_path: \"",
                      pki.dir(), "/server/hubd.crt\"\n", "  server_key_path: \"", pki.dir(),
                      "/server/hubd.key\"\n", "  crl_dir: \"", pki.crl_dir(), "\"\n",
                      "  reload_interval_seconds: 1\n", "}\n",
                      "metrics { listen_address: \"127.0.0.1:0\" }\n", extra);
}

absl::StatusOr<std::unique_ptr<HubProcess>> HubProcess::Start(const std::string& work_dir,
                                                              const std::string& config_text,
                                                              bool until_listening) {
  const std::string config_path = work_dir + "/hubd.textproto";
  std::ofstream(config_path) << config_text;

  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<std::string> args = {HUBD_PATH, "--config=" + config_path, "--drain_ms=2000"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::unique_ptr<HubProcess> process(new HubProcess());
  const int spawned =
      posix_spawn(&process->pid_, HUBD_PATH, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) {
    close(fds[0]);
    return absl::InternalError(absl::StrCat("cannot start ", HUBD_PATH, ": ", strerror(spawned)));
  }
  process->log_reader_ = std::thread([p = process.get(), fd = fds[0]] { p->DrainLogs(fd); });

  // Wait for "hubd ready address=..." (or "hubd listening...") or for the
  // process to end.
  const std::string marker =
      until_listening ? "msg=\"hubd listening; not serving until the views are built\" address="
                      : "msg=\"hubd ready\" address=";
  HubProcess* p = process.get();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::string logs;
  {
    absl::MutexLock lock(&p->mu_);
    while (!p->exited_ && p->logs_.find(marker) == std::string::npos &&
           !p->logs_changed_.WaitWithDeadline(&p->mu_, deadline)) {
    }
    logs = p->logs_;
  }
  const size_t at = logs.find(marker);
  if (at == std::string::npos) {
    const int exit_status = p->Stop();
    return absl::FailedPreconditionError(
        absl::StrCat("hubd did not start (exit status ", exit_status, "):\n", p->Logs()));
  }
  const size_t start = at + marker.size();
  p->address_ = logs.substr(start, logs.find('\n', start) - start);
  return process;
}

void HubProcess::DrainLogs(int fd) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    logs_.append(buffer, static_cast<size_t>(n));
    logs_changed_.SignalAll();
  }
  close(fd);
  absl::MutexLock lock(&mu_);
  exited_ = true;
  logs_changed_.SignalAll();
}

bool HubProcess::WaitForLog(const std::string& text, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (logs_.find(text) == std::string::npos) {
    if (exited_ || logs_changed_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return logs_.find(text) != std::string::npos;
}

std::string HubProcess::Logs() const {
  absl::MutexLock lock(&mu_);
  return logs_;
}

int HubProcess::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
  }
  if (log_reader_.joinable()) log_reader_.join();
  return exit_status_;
}

HubProcess::~HubProcess() { Stop(); }

absl::Status OpenCases(const TestPki& pki, const std::string& address,
                       const std::vector<std::string>& case_ids) {
  auto stub = hub::v1::EventService::NewStub(pki.Channel(address, "police-agency"));
  for (const std::string& case_id : case_ids) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(absl::StrFormat("0fe70000-0000-4000-8000-%012x",
                                        std::hash<std::string>()(case_id) & 0xffffffffffffULL));
    event->mutable_occurred_time()->set_seconds(1790000000);
    event->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
    event->set_lawful_basis("UK GDPR Art 6(1)(e); DPA 2018 s35");
    hub::v1::ReferralReceived* referral = event->mutable_referral_received();
    referral->set_route(hub::v1::ROUTE_MARAC);
    referral->set_referring_agency("police");
    referral->set_eligibility(hub::v1::ACCEPTED);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    hub::v1::PublishResponse response;
    const grpc::Status status = stub->Publish(&context, request, &response);
    if (!status.ok()) {
      return absl::InternalError(
          absl::StrCat("opening case ", case_id, ": ", status.error_message()));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> FilesContaining(const std::string& root, const std::string& needle) {
  std::vector<std::string> found;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ignored)) {
    if (!entry.is_regular_file()) continue;
    if (ReadFile(entry.path().string()).find(needle) != std::string::npos) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

grpc::Status PublishOne(const TestPki& pki, const std::string& address, const std::string& as,
                        const std::string& case_id, const std::string& id_prefix, uint64_t number,
                        hub::v1::Purpose purpose,
                        const std::function<void(hub::v1::EventEnvelope*)>& fill) {
  hub::v1::PublishRequest request;
  request.set_case_id(case_id);
  hub::v1::EventEnvelope* event = request.add_events();
  event->set_event_id(absl::StrFormat("%s%012x", id_prefix, number));
  event->mutable_occurred_time()->set_seconds(1795000000);
  event->set_purpose(purpose);
  event->set_lawful_basis("UK GDPR Art 6(1)(e)");
  fill(event);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  hub::v1::PublishResponse response;
  return hub::v1::EventService::NewStub(pki.Channel(address, as))
      ->Publish(&context, request, &response);
}

CommandResult Hubctl(const TestPki& pki, const std::string& address, const std::string& as,
                     const std::string& arguments) {
  return RunCommand(absl::StrCat(HUBCTL_PATH, " --hub=", address, " --certs_dir=", pki.dir(),
                                 " --as=", as, " ", arguments));
}

uint64_t ViewEnd(const TestPki& pki, const std::string& address, const std::string& as) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = hub::v1::EventService::NewStub(pki.Channel(address, as))->Subscribe(&context, {});
  hub::v1::SubscribeResponse item;
  while (stream->Read(&item)) {
    if (item.has_caught_up()) {
      context.TryCancel();
      return item.caught_up().position();
    }
  }
  ADD_FAILURE() << as
                << "'s subscription ended before catching up: " << stream->Finish().error_message();
  return 0;
}

std::vector<hub::v1::EventEnvelope> ReadCaseAs(const TestPki& pki, const std::string& address,
                                               const std::string& as, const std::string& case_id) {
  grpc::ClientContext context;
  hub::v1::ReadCaseRequest request;
  request.set_case_id(case_id);
  hub::v1::ReadCaseResponse response;
  const grpc::Status status = hub::v1::EventService::NewStub(pki.Channel(address, as))
                                  ->ReadCase(&context, request, &response);
  EXPECT_TRUE(status.ok()) << as << " reading " << case_id << ": " << status.error_message();
  return {response.events().begin(), response.events().end()};
}

}  // namespace hub::testing
