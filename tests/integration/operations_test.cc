// Operating the hub, with real hubd processes: what health reports while the
// hub starts and rebuilds its views.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

#include "auth/data_classes.h"
#include "storage/event_log.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/admin_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/identity_service.grpc.pb.h"
#include "hub/v1/policy_service.grpc.pb.h"
#include "tools/demo/demo_site.h"

namespace hub::testing {
namespace {

// grpc.health.v1.Health/Check for the whole server: "SERVING",
// "NOT_SERVING", or the call's error.
// Calls `method` with an empty request through the generic stub.
grpc::Status CallWithEmptyRequest(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& method, grpc::ByteBuffer* response) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, response,
                 [&](grpc::Status result) { done.set_value(std::move(result)); });
  return done.get_future().get();
}

std::string HealthOf(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ByteBuffer response;
  const grpc::Status status =
      CallWithEmptyRequest(channel, "/grpc.health.v1.Health/Check", &response);
  if (!status.ok()) return absl::StrCat("error ", status.error_code());
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  // HealthCheckResponse { status = 1 }: SERVING is 1, NOT_SERVING 2.
  if (bytes == std::string("\x08\x01", 2)) return "SERVING";
  if (bytes == std::string("\x08\x02", 2)) return "NOT_SERVING";
  return "unexpected response";
}

class OperationsTest : public ::testing::Test {
 protected:
  void StartHub(bool until_listening = false) {
    auto started =
        HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")), until_listening);
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
  }

  // Enough events that building views for them takes a noticeable while.
  void PublishMany(int publishes, int events_each) {
    auto stub = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"));
    for (int p = 0; p < publishes; ++p) {
      hub::v1::PublishRequest request;
      request.set_case_id(absl::StrCat("C-LOAD-", p));
      for (int e = 0; e < events_each; ++e) {
        hub::v1::EventEnvelope* event = request.add_events();
        event->set_event_id(absl::StrCat("10ad0000-0000-4000-8000-", absl::Dec(p, absl::kZeroPad6),
                                         absl::Dec(e, absl::kZeroPad6)));
        event->mutable_occurred_time()->set_seconds(1795000000);
        event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
        event->set_lawful_basis("UK GDPR Art 6(1)(e)");
        if (e == 0) {
          // Each case begins with its referral.
          event->set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
          event->mutable_referral_received()->set_route(hub::v1::ROUTE_MARAC);
          continue;
        }
        event->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
        event->mutable_risk_assessed()->set_dash_yes_count(e % 24);
      }
      grpc::ClientContext context;
      hub::v1::PublishResponse response;
      const grpc::Status status = stub->Publish(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

// Probes need no certificate: a second, plain-text port answers health
// checks and nothing else (no API, no reflection).
TEST_F(OperationsTest, AHealthOnlyPortAnswersProbesWithoutACertificateAndNothingElse) {
  auto started = HubProcess::Start(
      dir_.path(),
      HubConfigText(pki_, dir_.Sub("data"), "health { listen_address: \"127.0.0.1:0\" }\n"));
  ASSERT_TRUE(started.ok()) << started.status();
  hub_ = std::move(started).value();
  const std::string marker = "msg=\"health served\" address=";
  ASSERT_TRUE(hub_->WaitForLog(marker, absl::Seconds(10)));
  const std::string logs = hub_->Logs();
  const size_t at = logs.find(marker) + marker.size();
  const std::string address = logs.substr(at, logs.find('\n', at) - at);

  auto plain = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  EXPECT_EQ(HealthOf(plain), "SERVING");
  for (const char* method : {"/hub.v1.EventService/ReadCase", "/hub.v1.PolicyService/GetProtocol",
                             "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}) {
    grpc::ByteBuffer response;
    EXPECT_EQ(CallWithEmptyRequest(plain, method, &response).error_code(),
              grpc::StatusCode::UNIMPLEMENTED)
        << method;
  }
  // The probe the container image and Kubernetes use.
  EXPECT_EQ(
      std::system(
          absl::StrCat(HUBCTL_PATH, " health --plaintext --hub=", address, " > /dev/null").c_str()),
      0);
  // The TLS port still refuses a caller without a certificate.
  const std::shared_ptr<grpc::Channel> uncertified = pki_.Channel(hub_->address(), "");
  EXPECT_NE(HealthOf(uncertified), "SERVING");
  // The refused handshake is over before the test ends: one cut short when
  // the process exits leaves OpenSSL's allocations to LeakSanitizer (an
  // ASan run once reported 904 bytes from CRYPTO_zalloc here).
  const auto settle_by = std::chrono::system_clock::now() + std::chrono::seconds(10);
  for (grpc_connectivity_state state = uncertified->GetState(false);
       state == GRPC_CHANNEL_CONNECTING && uncertified->WaitForStateChange(state, settle_by);
       state = uncertified->GetState(false)) {
  }
}

// One datagram from `fd` within `timeout_ms`, or "" if none came.
std::string ReceiveDatagram(int fd, int timeout_ms) {
  pollfd ready{fd, POLLIN, 0};
  if (poll(&ready, 1, timeout_ms) != 1) return "";
  char buffer[512];
  const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
  return n > 0 ? std::string(buffer, n) : "";
}

// Under systemd (Type=notify) hubd says it is ready once it serves, with its
// views built, and that it is stopping when it drains.
TEST_F(OperationsTest, HubdNotifiesSystemdWhenItServesAndWhenItDrains) {
  const std::string socket_path = dir_.Sub("notify.sock");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof(address.sun_path));
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(setenv("NOTIFY_SOCKET", socket_path.c_str(), 1), 0);
  StartHub(/*until_listening=*/true);
  unsetenv("NOTIFY_SOCKET");
  const std::string ready = ReceiveDatagram(fd, 30000);
  EXPECT_THAT(ready, ::testing::HasSubstr("READY=1"));
  // Ready means serving: systemd starts what depends on hubd only then.
  EXPECT_EQ(HealthOf(pki_.Channel(hub_->address(), "operator-admin")), "SERVING");
  EXPECT_EQ(hub_->Stop(), 0);
  EXPECT_THAT(ReceiveDatagram(fd, 10000), ::testing::HasSubstr("STOPPING=1"));
  close(fd);
}

TEST_F(OperationsTest, HealthIsNotServingWhileTheViewsAreBuiltAndWhileTheyAreRebuilt) {
  StartHub();
  // Enough events that building the views takes a noticeable while (the
  // sanitizers make it about six times slower).
#if defined(__SANITIZE_ADDRESS__)
  PublishMany(/*publishes=*/120, /*events_each=*/250);  // 30,000 events
#else
  PublishMany(/*publishes=*/480, /*events_each=*/250);  // 120,000 events
#endif
  EXPECT_EQ(HealthOf(pki_.Channel(hub_->address(), "operator-admin")), "SERVING");
  ASSERT_EQ(hub_->Stop(), 0);

  // Without its views, hubd rebuilds them from the log on start: it listens
  // at once, says NOT_SERVING, and refuses reads until they are built.
  std::filesystem::remove_all(dir_.Sub("data") + "/views");
  StartHub(/*until_listening=*/true);
  auto channel = pki_.Channel(hub_->address(), "operator-admin");
  EXPECT_EQ(HealthOf(channel), "NOT_SERVING");
  {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-LOAD-1");
    hub::v1::ReadCaseResponse response;
    const grpc::Status status =
        hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
            ->ReadCase(&context, request, &response);
    // Refused, unless the views were already built by the time it arrived.
    if (status.ok()) {
      EXPECT_TRUE(hub_->WaitForLog("msg=\"views built\"", absl::Seconds(10))) << hub_->Logs();
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    }
  }
  ASSERT_TRUE(hub_->WaitForLog("msg=\"hubd ready\"", absl::Seconds(120))) << hub_->Logs();
  EXPECT_EQ(HealthOf(channel), "SERVING");

  // A new protocol: the views are rebuilt while the old ones serve, and
  // health says NOT_SERVING until the new ones are in force.
  std::ifstream file(ExampleProtocolPath());
  std::stringstream text;
  text << file.rdbuf();
  std::string protocol = text.str();
  protocol.replace(protocol.find("version: \"2026-11-1\""), 20, "version: \"2026-12-1\"");
  std::atomic<bool> applied{false};
  std::thread apply([&] {
    grpc::ClientContext context;
    hub::v1::ApplyProtocolRequest request;
    request.set_protocol_text(protocol);
    hub::v1::ApplyProtocolResponse response;
    EXPECT_TRUE(
        hub::v1::PolicyService::NewStub(channel)->ApplyProtocol(&context, request, &response).ok());
    applied = true;
  });
  ASSERT_TRUE(hub_->WaitForLog("rebuilding views for a new sharing protocol", absl::Seconds(30)));
  const std::string during = HealthOf(channel);
  const bool still_applying = !applied;
  apply.join();
  if (still_applying) {
    EXPECT_EQ(during, "NOT_SERVING");
  }
  EXPECT_TRUE(still_applying) << "the rebuild finished before health could be asked; "
                                 "publish more events in this test";
  EXPECT_EQ(HealthOf(channel), "SERVING");
}

TEST_F(OperationsTest, ABackupTakenWhilePublishingRestoresEveryAcknowledgedEvent) {
  StartHub();
  ASSERT_TRUE(
      OpenCases(pki_, hub_->address(), {"C-BACKUP-0", "C-BACKUP-1", "C-BACKUP-2", "C-BACKUP-3"})
          .ok());
  absl::Mutex mu;
  std::set<std::string> acknowledged;  // event ids
  std::atomic<bool> stop{false};
  std::vector<std::thread> publishers;
  for (int t = 0; t < 4; ++t) {
    publishers.emplace_back([&, t] {
      auto stub = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "police-agency"));
      for (int i = 0; !stop; ++i) {
        hub::v1::PublishRequest request;
        request.set_case_id(absl::StrCat("C-BACKUP-", t));
        hub::v1::EventEnvelope* event = request.add_events();
        event->set_event_id(
            absl::StrCat("bac0000", t, "-0000-4000-8000-", absl::Dec(i, absl::kZeroPad12)));
        event->mutable_occurred_time()->set_seconds(1795000000);
        event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
        event->set_lawful_basis("UK GDPR Art 6(1)(e)");
        event->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
        grpc::ClientContext context;
        hub::v1::PublishResponse response;
        if (stub->Publish(&context, request, &response).ok()) {
          absl::MutexLock lock(&mu);
          acknowledged.insert(event->event_id());
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::set<std::string> before_backup;
  {
    absl::MutexLock lock(&mu);
    before_backup = acknowledged;
  }
  absl::StatusOr<hub::v1::BackupResponse> taken = TakeBackup(pki_, hub_->address());
  ASSERT_TRUE(taken.ok()) << taken.status();
  const hub::v1::BackupResponse& backup = *taken;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (std::thread& publisher : publishers) publisher.join();
  ASSERT_GT(before_backup.size(), 20u);
  EXPECT_GE(backup.last_position(), before_backup.size());
  {
    // Only the operator takes backups.
    grpc::ClientContext context;
    hub::v1::BackupResponse refused;
    EXPECT_EQ(hub::v1::AdminService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                  ->Backup(&context, hub::v1::BackupRequest(), &refused)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  ASSERT_EQ(hub_->Stop(), 0);

  // Restore into a new folder: hubctl verifies both chains and the indexes.
  const std::string restored = dir_.Sub("restored-data");
  const CommandResult restore =
      RunCommand(absl::StrCat(HUBCTL_PATH, " restore ", backup.path(), " --data_dir=", restored));
  ASSERT_EQ(restore.exit_status, 0) << restore.output;
  EXPECT_THAT(restore.output, ::testing::HasSubstr("event log verified"));
  EXPECT_THAT(restore.output, ::testing::HasSubstr("audit verified"));

  // A hub started on it (with the keys folder, kept apart from the data)
  // verifies both chains, rebuilds its views and serves.
  std::filesystem::create_directories(dir_.Sub("restored-work"));
  auto started = HubProcess::Start(
      dir_.Sub("restored-work"),
      HubConfigText(pki_, restored, "keys_dir: \"" + dir_.Sub("data-keys") + "\"\n"));
  ASSERT_TRUE(started.ok()) << started.status();
  {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-BACKUP-0");
    hub::v1::ReadCaseResponse response;
    ASSERT_TRUE(hub::v1::EventService::NewStub(pki_.Channel((*started)->address(), "police-agency"))
                    ->ReadCase(&context, request, &response)
                    .ok());
    EXPECT_GT(response.events_size(), 0);
  }
  ASSERT_EQ((*started)->Stop(), 0);

  // Every event acknowledged before the backup began is there.
  storage::EventLogOptions options;
  options.create_if_missing = false;
  auto log = storage::EventLog::Open(restored + "/events", options);
  ASSERT_TRUE(log.ok()) << log.status();
  std::map<std::string, uint64_t> stored;
  for (uint64_t next = 1; next <= (*log)->LastPosition();) {
    auto events = (*log)->ReadFrom(next, 10000, 8 << 20);
    ASSERT_TRUE(events.ok()) << events.status();
    for (const storage::StoredEvent& event : *events) stored[event.event_id] = event.position;
    next += events->size();
  }
  for (const std::string& id : before_backup) {
    ASSERT_EQ(stored.count(id), 1u) << id << " was acknowledged before the backup began";
  }
  log->reset();

  // Restore never overwrites a data folder, and takes only a whole backup.
  EXPECT_NE(std::system(absl::StrCat(HUBCTL_PATH, " restore ", backup.path(),
                                     " --data_dir=", restored, " 2>/dev/null")
                            .c_str()),
            0);
  EXPECT_NE(std::system(absl::StrCat(HUBCTL_PATH, " restore ", dir_.Sub("data"),
                                     " --data_dir=", dir_.Sub("elsewhere"), " 2>/dev/null")
                            .c_str()),
            0);

  // A damaged backup (a table file lost in the copy) is refused, and the
  // partial copy is removed rather than left to be started by mistake.
  const std::string damaged = dir_.Sub("damaged-backup");
  std::filesystem::copy(backup.path(), damaged, std::filesystem::copy_options::recursive);
  bool removed_one = false;
  for (const auto& entry : std::filesystem::directory_iterator(damaged + "/events")) {
    if (entry.path().extension() == ".sst") {
      std::filesystem::remove(entry.path());
      removed_one = true;
      break;
    }
  }
  ASSERT_TRUE(removed_one) << "the backup holds no table file to damage";
  const std::string target = dir_.Sub("from-damaged");
  EXPECT_NE(std::system(absl::StrCat(HUBCTL_PATH, " restore ", damaged, " --data_dir=", target,
                                     " 2>/dev/null")
                            .c_str()),
            0);
  EXPECT_FALSE(std::filesystem::exists(target + "/events"));
}

// GET http://address/metrics, the body.
std::string Scrape(const std::string& address) {
  const size_t colon = address.rfind(':');
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &server.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0) {
    if (fd >= 0) close(fd);
    return "";
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// Every file under `root` whose bytes contain `needle`.
// Whoever holds the data folder or a backup must not hold the audit signing
// key too: with it they could edit the audit and sign it again.
TEST_F(OperationsTest, NeitherTheDataFolderNorABackupHoldsTheAuditSigningKey) {
  StartHub();
  ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-KEY-0"}).ok());
  absl::StatusOr<hub::v1::BackupResponse> taken = TakeBackup(pki_, hub_->address());
  ASSERT_TRUE(taken.ok()) << taken.status();
  const hub::v1::BackupResponse& backup = *taken;
  ASSERT_EQ(hub_->Stop(), 0);

  const std::string key_path = dir_.Sub("data-keys") + "/audit-key.pem";
  const std::string key = ReadFile(key_path);
  ASSERT_THAT(key, ::testing::HasSubstr("PRIVATE KEY"));
  struct stat info;
  ASSERT_EQ(stat(key_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir_.Sub("data-keys").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  // The key's body, a line of it, and any private key at all.
  const std::vector<std::string> lines = absl::StrSplit(key, '\n');
  ASSERT_GT(lines.size(), 2u);
  for (const std::string& root : {dir_.Sub("data"), backup.path()}) {
    EXPECT_THAT(FilesContaining(root, lines[1]), ::testing::IsEmpty()) << root;
    EXPECT_THAT(FilesContaining(root, "PRIVATE KEY"), ::testing::IsEmpty()) << root;
  }
  // The public half is beside the key, for the governance group.
  EXPECT_THAT(ReadFile(key_path + ".pub"), ::testing::HasSubstr("PUBLIC KEY"));
}

TEST_F(OperationsTest, HubdRefusesAKeysFolderInsideTheDataOrReadableByOthers) {
  const std::string data = dir_.Sub("data");
  std::filesystem::create_directories(data);
  absl::StatusOr<std::unique_ptr<HubProcess>> refused = HubProcess::Start(
      dir_.path(), HubConfigText(pki_, data, absl::StrCat("keys_dir: \"", data, "/keys\"\n")));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("inside the data folder"));

  const std::string shared = dir_.Sub("shared-keys");
  std::filesystem::create_directories(shared);
  ASSERT_EQ(chmod(shared.c_str(), 0755), 0);
  refused = HubProcess::Start(
      dir_.path(), HubConfigText(pki_, data, absl::StrCat("keys_dir: \"", shared, "\"\n")));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("chmod 700"));
}

// A key an older release kept in <data_dir>/audit is moved out at start,
// the same key (the governance group's public key still verifies).
TEST_F(OperationsTest, AnAuditKeyInTheDataFolderIsMovedOutOfIt) {
  StartHub();
  ASSERT_EQ(hub_->Stop(), 0);
  const std::string keys = dir_.Sub("data-keys");
  const std::string old_path = dir_.Sub("data") + "/audit/audit-key.pem";
  const std::string key = ReadFile(keys + "/audit-key.pem");
  std::filesystem::rename(keys + "/audit-key.pem", old_path);
  std::filesystem::rename(keys + "/audit-key.pem.pub", old_path + ".pub");

  StartHub();
  EXPECT_TRUE(
      hub_->WaitForLog("moved the audit signing key out of the data folder", absl::Seconds(5)));
  EXPECT_FALSE(std::filesystem::exists(old_path));
  EXPECT_FALSE(std::filesystem::exists(old_path + ".pub"));
  EXPECT_EQ(ReadFile(keys + "/audit-key.pem"), key);
  EXPECT_THAT(FilesContaining(dir_.Sub("data"), "PRIVATE KEY"), ::testing::IsEmpty());
}

// Two different audit keys (one left in the data folder, another in the
// keys folder): hubd will not guess which one the governance group trusts.
TEST_F(OperationsTest, TwoDifferentAuditKeysStopHubdFromStarting) {
  StartHub();
  ASSERT_EQ(hub_->Stop(), 0);
  const std::string stray = dir_.Sub("data") + "/audit/audit-key.pem";
  ASSERT_EQ(std::system(absl::StrCat("openssl ecparam -name prime256v1 -genkey -noout -out ", stray,
                                     " 2>/dev/null")
                            .c_str()),
            0);
  const std::string key = ReadFile(dir_.Sub("data-keys") + "/audit-key.pem");
  auto refused = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("two audit keys"));
  // Neither key was touched.
  EXPECT_EQ(ReadFile(dir_.Sub("data-keys") + "/audit-key.pem"), key);
  EXPECT_TRUE(std::filesystem::exists(stray));
}

TEST_F(OperationsTest, PrometheusMetricsCountCallsByPrincipalAndStatusAndReportTheHubsState) {
  StartHub();
  const std::string marker = "msg=\"metrics served\" address=";
  ASSERT_TRUE(hub_->WaitForLog(marker, absl::Seconds(10)));
  const std::string logs = hub_->Logs();
  const size_t at = logs.find(marker) + marker.size();
  const std::string metrics_address = logs.substr(at, logs.find('\n', at) - at);

  PublishMany(/*publishes=*/1, /*events_each=*/3);
  {
    grpc::ClientContext context;
    hub::v1::WhoAmIResponse response;
    ASSERT_TRUE(hub::v1::IdentityService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                    ->WhoAmI(&context, hub::v1::WhoAmIRequest(), &response)
                    .ok());
  }
  {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id("C-LOAD-0");
    hub::v1::ReadCaseResponse response;
    EXPECT_EQ(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "governance-auditor"))
                  ->ReadCase(&context, request, &response)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    auto stream = hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "idva-agency"))
                      ->Subscribe(&context, hub::v1::SubscribeRequest());
    hub::v1::SubscribeResponse item;
    while (stream->Read(&item) && !item.has_caught_up()) {
    }
    const std::string body = Scrape(metrics_address);
    EXPECT_THAT(body, ::testing::HasSubstr("hub_subscribers 1"));
    EXPECT_THAT(body, ::testing::HasSubstr("hub_subscriber_lag_events 0"));
    context.TryCancel();
  }

  const std::string body = Scrape(metrics_address);
  ASSERT_FALSE(body.empty()) << "nothing served on " << metrics_address;
  EXPECT_THAT(body, ::testing::HasSubstr(
                        "hub_requests_total{code=\"OK\",method=\"Publish\",principal=\"police/"
                        "agency\"} 1"));
  EXPECT_THAT(body, ::testing::HasSubstr("hub_requests_total{code=\"PERMISSION_DENIED\",method="
                                         "\"ReadCase\",principal=\"governance/auditor\"} 1"));
  EXPECT_THAT(body,
              ::testing::HasSubstr("hub_request_duration_seconds_count{method=\"Publish\"} 1"));
  // Every service's calls are counted, not only the event services'.
  EXPECT_THAT(body, ::testing::HasSubstr("hub_requests_total{code=\"OK\",method=\"WhoAmI\""));
  EXPECT_THAT(body, ::testing::HasSubstr("hub_request_duration_seconds_count{method=\"WhoAmI\"}"));
  EXPECT_THAT(body,
              ::testing::HasSubstr("hub_events_delivered_total{principal=\"idva/agency\"} 3"));
  EXPECT_THAT(body, ::testing::HasSubstr("hub_log_last_position 4"));
  EXPECT_THAT(body,
              ::testing::ContainsRegex(
                  "hub_build_info\\{commit=\"([0-9a-f]+|unknown)\",version=\"[0-9.]+\"\\} 1"));
  EXPECT_THAT(body, ::testing::HasSubstr("hub_view_projection_lag_events 0"));
  EXPECT_THAT(body, ::testing::ContainsRegex("hub_audit_tree_size [1-9]"));
  EXPECT_THAT(body, ::testing::ContainsRegex("hub_crl_next_update_timestamp_seconds [1-9]"));
  // Metrics are for monitoring: no case ids, no content.
  EXPECT_THAT(body, ::testing::Not(::testing::HasSubstr("C-LOAD")));
}

// Every string value in `message` of at least `min_size` bytes.
void TextIn(const google::protobuf::Message& message, size_t min_size, std::set<std::string>* out) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  for (const auto* field : fields) {
    const int count = field->is_repeated() ? message.GetReflection()->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
        std::string value = field->is_repeated()
                                ? message.GetReflection()->GetRepeatedString(message, field, i)
                                : message.GetReflection()->GetString(message, field);
        if (value.size() >= min_size) out->insert(std::move(value));
      } else if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        TextIn(field->is_repeated() ? message.GetReflection()->GetRepeatedMessage(message, field, i)
                                    : message.GetReflection()->GetMessage(message, field),
               min_size, out);
      }
    }
  }
}

// hubd's logs are for operators: one structured line per event, and never
// case content. A demonstration site is published, read, listed and
// refused; not one subject id or piece of free text from its events may
// appear in what hubd logged.
TEST_F(OperationsTest, LogsHoldNoSubjectIdsAndNoFreeTextFromEvents) {
  StartHub();
  auto run = [&](const std::string& as, const std::string& arguments) {
    const std::string command =
        absl::StrCat(HUBCTL_PATH, " --hub=", hub_->address(), " --certs_dir=", pki_.dir(),
                     " --as=", as, " ", arguments, " >/dev/null 2>&1");
    return std::system(command.c_str());
  };
  ASSERT_EQ(run("operator-admin", "demo --scale=0.1"), 0);
  tools::DemoOptions options;
  options.scale = 0.1;
  const tools::DemoSite site = tools::GenerateDemoSite(options);
  for (size_t i = 0; i < 3; ++i) {
    const std::string& case_id = site.cases[i].case_id;
    EXPECT_EQ(run("dapp-coordinator", "timeline " + case_id), 0);
    EXPECT_EQ(run("police-agency", "read " + case_id), 0);
    EXPECT_NE(run("governance-auditor", "timeline " + case_id), 0);  // refused
  }
  EXPECT_EQ(run("idva-agency", "cases"), 0);
  EXPECT_EQ(run("housing-agency", "tail --until_caught_up"), 0);
  ASSERT_EQ(hub_->Stop(), 0);

  const std::string logs = hub_->Logs();
  std::set<std::string> secrets;
  for (const tools::DemoCase& demo_case : site.cases) {
    for (const tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        const google::protobuf::Message* body = auth::EventOf(event);
        if (body != nullptr) TextIn(*body, 6, &secrets);
      }
    }
  }
  ASSERT_GT(secrets.size(), 100u);
  for (const std::string& secret : secrets) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << "hubd logged \"" << secret << "\"";
  }
  // And every line is structured: a time, a level and a message.
  for (absl::string_view line : absl::StrSplit(logs, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "ts=")) << line;
    EXPECT_TRUE(absl::StrContains(line, " level=")) << line;
    EXPECT_TRUE(absl::StrContains(line, " msg=")) << line;
  }
}

}  // namespace
}  // namespace hub::testing
