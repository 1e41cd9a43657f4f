// Subject access (UK GDPR Art 15, DPA 2018 s45): everything the hub holds
// about one subject, gathered from the log and the access audit for the
// data protection officer who answers the request.
//
// What is held about a subject: every event that names them (a
// subject_reference field), and, for a perpetrator, every event of the
// cases they are linked to as perpetrator, because a case's record is
// about its perpetrator. Each value of those events is marked as the
// subject's own, as also concerning other people (released after review),
// or as other people's (withheld: its value is not handed over at all).
// The disclosure history is read from the audit: each read, timeline or
// delivery whose range covers a held event of the subject's cases.
#ifndef HUB_SERVICES_SUBJECT_ACCESS_H_
#define HUB_SERVICES_SUBJECT_ACCESS_H_

#include <cstdint>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "auth/field_sealing.h"
#include "storage/event_log.h"

#include "hub/v1/admin_service.pb.h"
#include "hub/v1/audit.pb.h"
#include "hub/v1/events.pb.h"

namespace hub::services {

// Who a case is about, as far as the pack needs to know.
struct CaseSubjects {
  // The subjects linked to it as perpetrator.
  std::set<std::string> perpetrators;
};

// `envelope` (opened, stored at `position`) as the pack for `subject` holds
// it, each value marked; the caller has established that the event belongs
// in the pack.
hub::v1::HeldEvent HeldEventOf(const hub::v1::EventEnvelope& envelope, uint64_t position,
                               const std::string& subject, const CaseSubjects& case_subjects);

// What `record` (at `audit_index`) disclosed of `held`'s events in `case_id`
// (false if nothing). `perpetrator_of_case`: whether a case overview of the
// case (which concerns its perpetrator) counts as the subject's data.
bool DisclosureOf(const hub::v1::AuditRecord& record, uint64_t audit_index,
                  const std::string& case_id, const hub::v1::SubjectAccessResponse& held,
                  bool perpetrator_of_case, hub::v1::SubjectDataDisclosure* disclosure);

// How large a pack one reply carries.
inline constexpr size_t kMaxSubjectAccessBytes = 64 << 20;

// The whole pack for `subject_id`, read from `log` (events opened with
// `sealer`, null if the hub seals nothing; parts whose key was erased are
// described, not shown) and its audit, as of `now`. RESOURCE_EXHAUSTED if
// it would exceed `max_bytes`.
absl::StatusOr<hub::v1::SubjectAccessResponse> GatherSubjectAccess(
    const storage::EventLog& log, const auth::FieldSealer* sealer, const std::string& subject_id,
    absl::Time now, size_t max_bytes = kMaxSubjectAccessBytes);

}  // namespace hub::services

#endif  // HUB_SERVICES_SUBJECT_ACCESS_H_
