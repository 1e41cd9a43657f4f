// What every service that reads case content on a principal's behalf does
// first: make sure the caller may read case content at all, and that the
// views hold every event acknowledged before the read began; and, after,
// cite in the audit the rule that let the caller see each event.
#ifndef HUB_SERVICES_VIEW_ACCESS_H_
#define HUB_SERVICES_VIEW_ACCESS_H_

#include <string>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

#include "services/authenticator.h"
#include "services/views.h"
#include "storage/event_log.h"

#include "hub/v1/audit.pb.h"
#include "hub/v1/events.pb.h"

namespace hub::services {

// The principal of the call if it may read case content; PERMISSION_DENIED
// for auditors and operators (they read no case content), and audits that
// denial as `action` on `case_id`.
absl::StatusOr<hub::v1::Principal> CaseContentReader(const Authenticator& authenticator,
                                                     const grpc::CallbackServerContext& context,
                                                     storage::EventLog* log,
                                                     hub::v1::AuditAction action,
                                                     const std::string& case_id);

// Checks the purpose a reader declares: INVALID_ARGUMENT if it is not a
// purpose at all; PERMISSION_DENIED (and audited as `action` on `case_id`)
// if the protocol gives the principal no rule for it. Unspecified is fine.
absl::Status CheckDeclaredPurpose(const Views& views, const hub::v1::Principal& principal,
                                  hub::v1::Purpose purpose, storage::EventLog* log,
                                  hub::v1::AuditAction action, const std::string& case_id);

// Waits (up to 5 s) until the views reflect every event acknowledged now,
// so a read never misses an event whose publish has returned. UNAVAILABLE
// if they do not catch up in time.
absl::Status AwaitViews(const storage::EventLog& log, const Views& views);

// Cites, in `record`, the rule and lawful basis under which `identity` may
// see `event`.
void CiteRule(const Views& views, const std::string& identity, const hub::v1::EventEnvelope& event,
              hub::v1::AuditRecord* record);
// The same for an event shared as `classification` for `purpose`.
void CiteRule(const Views& views, const std::string& identity, hub::v1::DataClass classification,
              hub::v1::Purpose purpose, hub::v1::AuditRecord* record);

// CiteRule for each event of one read, once per kind of event: a read of
// 200 events holds a handful of (class, purpose, type), and citing each
// event looked the rule up and compared the record's lists 200 times.
class ReadCitations {
 public:
  ReadCitations(const Views& views, const std::string& identity, hub::v1::AuditRecord* record)
      : views_(views), identity_(identity), record_(record) {}
  void Cite(const hub::v1::EventEnvelope& event);

 private:
  const Views& views_;
  const std::string& identity_;
  hub::v1::AuditRecord* const record_;
  absl::flat_hash_set<std::tuple<int, int, int>> cited_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_VIEW_ACCESS_H_
