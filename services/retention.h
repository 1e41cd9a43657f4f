// Retention: the sharing protocol's rules for how long personal content is
// kept, applied by destroying data keys (auth/field_sealing.h keeps one key
// per owner and class, so a rule can take a victim's whereabouts and keep
// the case record). The log stays append-only and every proof holds; each
// erasure is recorded in the log (DataErased in case "hub.erasures", naming
// its rule) and in the audit.
//
// A rule runs from the latest event of its `after` type in a case, as the
// hub recorded it (recorded_time: a publisher cannot backdate content into
// erasure). From a closing event, a later reopening stops the clock. A
// subject's content (victim and child classes) goes only once the period
// has run in every case that names the subject.
#ifndef HUB_SERVICES_RETENTION_H_
#define HUB_SERVICES_RETENTION_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#include "auth/data_keys.h"
#include "auth/field_sealing.h"
#include "services/views.h"
#include "storage/event_log.h"

#include "hub/v1/admin_service.pb.h"
#include "hub/v1/events.pb.h"
#include "hub/v1/sharing_protocol.pb.h"

namespace hub::services {

// The case erasure records are kept in.
inline constexpr char kErasureCase[] = "hub.erasures";

// Held by each erasure and restriction from its record in the log until
// the views have taken it in, and by a protocol change while it builds its
// views. A view generation's digest counts those records, and a digest
// taken while an erasure stood between its record and its keys would count
// one its views never lost: after a crash the views would be resumed, not
// built again, with that content in them. Taken before PolicyService's
// own lock, never after it.
absl::Mutex& ErasureMutex();

// Content a rule erases: an owner's (case or subject) content of one class.
struct DueErasure {
  const hub::v1::RetentionRule* rule = nullptr;
  auth::KeyOwner owner;
  hub::v1::DataClass data_class = hub::v1::DATA_CLASS_UNSPECIFIED;
  // When the period ran out.
  absl::Time due;
};

// What retention needs to know of the log, folded event by event (opened
// events: sealed content whose key is gone is simply absent). Keeps only
// ids, times and classes.
class RetentionFacts {
 public:
  // `protocol` must outlive this.
  explicit RetentionFacts(const hub::v1::SharingProtocol& protocol);

  void Add(const hub::v1::EventEnvelope& envelope);

  // What has run out by `as_of`, in (rule, scope, owner, class) order.
  std::vector<DueErasure> Due(absl::Time as_of) const;

 private:
  struct CaseFacts {
    // Latest recorded time of each event type in the case.
    std::map<std::string, absl::Time> latest;
    absl::Time reopened = absl::InfinitePast();
    // Personal classes sealed under the case's own key.
    std::set<hub::v1::DataClass> case_classes;
  };
  struct SubjectFacts {
    std::set<std::string> cases;
    std::set<hub::v1::DataClass> classes;
  };
  // When `rule`'s period started in `facts`' case (nullopt: not started).
  std::optional<absl::Time> Start(const hub::v1::RetentionRule& rule, const CaseFacts& facts) const;

  const hub::v1::SharingProtocol& protocol_;
  std::set<std::string> closing_;
  std::set<std::string> reopening_;
  std::map<std::string, CaseFacts> cases_;
  std::map<std::string, SubjectFacts> subjects_;
};

// Applies the rules: on demand (AdminService.RunRetention) and on a schedule.
class Retention {
 public:
  // None may be null; all must outlive this.
  Retention(storage::EventLog* log, auth::DataKeyStore* keys, const auth::FieldSealer* sealer,
            ForgetErased forget_erased);
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // Applies the rules in force as of `as_of` (the caller checks that it may
  // be in the future); `by` names who asked, for the record.
  absl::StatusOr<hub::v1::RunRetentionResponse> Run(absl::Time as_of, bool dry_run,
                                                    const hub::v1::Principal& by);

  // Runs every `interval` (as of the real time) until destroyed.
  void StartSchedule(absl::Duration interval);

 private:
  storage::EventLog* const log_;
  auth::DataKeyStore* const keys_;
  const auth::FieldSealer* const sealer_;
  const ForgetErased forget_erased_;
  // One run at a time: two would record the same erasures twice.
  absl::Mutex run_mu_;
  absl::Notification stop_;
  std::thread schedule_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_RETENTION_H_
