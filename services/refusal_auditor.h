// Audits callers the hub refuses after the TLS handshake (revoked
// certificates, identities the protocol does not list) without making the
// refusal path wait for a disk write: refusals queue (bounded, so a flood
// of them cannot grow memory) and a background thread writes them.
#ifndef HUB_SERVICES_REFUSAL_AUDITOR_H_
#define HUB_SERVICES_REFUSAL_AUDITOR_H_

#include <deque>
#include <string>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"

#include "storage/event_log.h"

namespace hub::services {

class RefusalAuditor {
 public:
  RefusalAuditor(storage::EventLog* log, size_t max_pending);
  ~RefusalAuditor();
  RefusalAuditor(const RefusalAuditor&) = delete;
  RefusalAuditor& operator=(const RefusalAuditor&) = delete;

  // Queues one refusal; never blocks. Beyond max_pending, refusals are
  // counted and reported in one audit record instead of one each.
  void Record(const std::string& identity, const std::string& reason);

  // Writes what is queued and stops. Idempotent.
  void Stop();

 private:
  void Loop();

  storage::EventLog* const log_;
  const size_t max_pending_;
  absl::Mutex mu_;
  std::deque<std::pair<std::string, std::string>> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar wake_;
  std::thread thread_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_REFUSAL_AUDITOR_H_
