// Integration-test helpers: a partnership PKI made with the operator's own
// deploy/certs.sh, and a real hubd process on a loopback port chosen by the
// kernel, talked to over real mutual TLS.
#ifndef HUB_TESTS_INTEGRATION_HUB_PROCESS_H_
#define HUB_TESTS_INTEGRATION_HUB_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"

#include "hub/v1/admin_service.pb.h"
#include "hub/v1/events.pb.h"

namespace hub::testing {

// The example sharing protocol shipped in deploy/examples.
std::string ExampleProtocolPath();

// The whole of a file ("" if it cannot be read).
std::string ReadFile(const std::string& path);

// Every file below `root` whose bytes contain `needle` (a secret, a canary).
std::vector<std::string> FilesContaining(const std::string& root, const std::string& needle);

// What a command run through the shell printed (stdout and stderr) and its
// exit status (-1 if it did not exit).
struct CommandResult {
  int exit_status = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

// A certificate authority folder managed with deploy/certs.sh.
class TestPki {
 public:
  // Runs `certs.sh dev DIR <example protocol>`: CA, localhost server, one
  // client per principal.
  explicit TestPki(std::string dir);

  // Runs deploy/certs.sh <command> <dir> <args...>; returns its exit status.
  int Run(const std::string& command, const std::vector<std::string>& args) const;

  const std::string& dir() const { return dir_; }
  std::string ca_cert() const { return dir_ + "/ca.crt"; }
  std::string crl_dir() const { return dir_ + "/crl"; }

  // A channel to `address` presenting client certificate `name` (e.g.
  // "police-agency"); empty name: no client certificate at all.
  std::shared_ptr<grpc::Channel> Channel(const std::string& address, const std::string& name,
                                         const std::string& target_name_override = "") const;

 private:
  std::string dir_;
};

class HubProcess {
 public:
  // Writes `config_text` (hub.v1.HubConfig text format) to a file and starts
  // hubd with it; waits until it reports ready. If hubd exits first, returns
  // FAILED_PRECONDITION carrying everything it logged.
  // With `until_listening`, returns as soon as hubd listens, before it has
  // built its views and serves.
  static absl::StatusOr<std::unique_ptr<HubProcess>> Start(const std::string& work_dir,
                                                           const std::string& config_text,
                                                           bool until_listening = false);

  // SIGTERM, then waits for the process.
  ~HubProcess();
  HubProcess(const HubProcess&) = delete;
  HubProcess& operator=(const HubProcess&) = delete;

  const std::string& address() const { return address_; }
  std::string Logs() const;
  // Whether hubd logs a line containing `text` within `timeout` (its log
  // reaches the test through a pipe, after the RPC that caused it returns).
  bool WaitForLog(const std::string& text, absl::Duration timeout) const;
  // Sends SIGTERM and returns the exit status once hubd has stopped.
  int Stop();

 private:
  HubProcess() = default;
  void DrainLogs(int fd);

  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string address_;
  std::thread log_reader_;
  mutable absl::Mutex mu_;
  std::string logs_ ABSL_GUARDED_BY(mu_);
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  mutable absl::CondVar logs_changed_;
};

// A configuration for a hub whose certificates come from `pki`, data in
// `data_dir`, listening on a free loopback port; `extra` is appended.
std::string HubConfigText(const TestPki& pki, const std::string& data_dir,
                          const std::string& extra = "");

// A backup taken by the hub at `address`, asked for as the operator.
absl::StatusOr<hub::v1::BackupResponse> TakeBackup(const TestPki& pki, const std::string& address);

// Opens `case_ids` as the police would: each case's first event must be a
// referral (the example protocol's case_lifecycle). Event ids are derived
// from the case id, so opening twice is an idempotent retry.
absl::Status OpenCases(const TestPki& pki, const std::string& address,
                       const std::vector<std::string>& case_ids);

// Publishes one event into `case_id` as the client `as`: its id is
// `id_prefix` (the first 24 characters of a UUID) followed by `number`,
// with an occurred time, `purpose` and a lawful basis; `fill` sets the rest.
grpc::Status PublishOne(const TestPki& pki, const std::string& address, const std::string& as,
                        const std::string& case_id, const std::string& id_prefix, uint64_t number,
                        hub::v1::Purpose purpose,
                        const std::function<void(hub::v1::EventEnvelope*)>& fill);

// Runs hubctl `arguments` against the hub at `address` as the client `as`.
CommandResult Hubctl(const TestPki& pki, const std::string& address, const std::string& as,
                     const std::string& arguments);

// Where `as`'s view ends now: the position of the last event of its view
// (what a subscription from 0 says when it has caught up); 0 if empty.
uint64_t ViewEnd(const TestPki& pki, const std::string& address, const std::string& as);

// `as`'s view of a case (EventService.ReadCase over mutual TLS); a refusal
// fails the calling test and yields no events.
std::vector<hub::v1::EventEnvelope> ReadCaseAs(const TestPki& pki, const std::string& address,
                                               const std::string& as, const std::string& case_id);

}  // namespace hub::testing

#endif  // HUB_TESTS_INTEGRATION_HUB_PROCESS_H_
