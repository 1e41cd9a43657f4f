// Writing the access audit from the services: builds hub.v1.AuditRecord for
// each access and hands it to the log, either inside the append it describes
// (a publish: one atomic write) or on its own, durable before the caller
// proceeds (a read's record is stored before the data is returned).
#ifndef HUB_SERVICES_AUDIT_TRAIL_H_
#define HUB_SERVICES_AUDIT_TRAIL_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/repeated_ptr_field.h"

#include "storage/event_log.h"

#include "hub/v1/audit.pb.h"
#include "hub/v1/event_service.pb.h"
#include "hub/v1/sharing_protocol.pb.h"

namespace hub::services {

// A record for `principal` doing `action`, stamped with the current time.
hub::v1::AuditRecord AuditRecordFor(const hub::v1::Principal& principal,
                                    hub::v1::AuditAction action, hub::v1::AuditDecision decision);

// Makes `append` (prepared from `request`) also write a publish record for
// its positions, citing the recording rules that allowed it and the
// publisher's purposes and lawful bases.
void AuditPublish(const hub::v1::Principal& principal, const std::string& protocol_version,
                  const hub::v1::PublishRequest& request,
                  const std::vector<std::string>& recording_rules, storage::AppendRequest* append);

// Adds `value` to a repeated field unless it is already there.
void AddDistinct(const std::string& value, google::protobuf::RepeatedPtrField<std::string>* field);
// The same for an enum value (unspecified values are not added).
template <typename Enum>
void AddDistinctValue(Enum value, google::protobuf::RepeatedField<int>* field) {
  if (static_cast<int>(value) == 0) return;
  for (int existing : *field) {
    if (existing == static_cast<int>(value)) return;
  }
  field->Add(static_cast<int>(value));
}

// What a read or delivery disclosed, as AuditRecord.disclosed_digest: the
// SHA-256 over the SHA-256 of each message's bytes as sent, in order.
class DisclosureDigest {
 public:
  void Add(std::string_view sent_bytes);
  // Empty if nothing was added.
  std::string Finish() const;

 private:
  std::string digests_;
};

// Makes `append` also write `record`, completed with the positions and the
// digest of each event the append stored (a retry of an append already
// stored says so, unless the record gives its own reason).
void AuditAppend(hub::v1::AuditRecord record, storage::AppendRequest* append);

// Stores one record durably; the access it describes must not proceed if
// this fails.
absl::Status StoreAudit(storage::EventLog* log, const hub::v1::AuditRecord& record);
// The same without holding the caller's thread: `done` gets what StoreAudit
// would return, on the log's own thread once the record is durable (or at
// once if it is refused); it must be quick.
void StoreAuditAsync(storage::EventLog* log, const hub::v1::AuditRecord& record,
                     std::function<void(absl::Status)> done);

// Stores a denial (best effort: the denial stands either way) and returns
// `denial` for the caller to send on.
// How much of a caller's case id and of a refusal's message an audit
// record keeps; the rest is summarised as its length.
inline constexpr size_t kMaxAuditedCaseIdBytes = 256;
inline constexpr size_t kMaxAuditedReasonBytes = 2048;
std::string Bounded(std::string_view text, size_t max_bytes);

absl::Status AuditDenial(storage::EventLog* log, const hub::v1::Principal& principal,
                         hub::v1::AuditAction action, const std::string& case_id,
                         const absl::Status& denial,
                         hub::v1::Purpose purpose = hub::v1::PURPOSE_UNSPECIFIED);

}  // namespace hub::services

#endif  // HUB_SERVICES_AUDIT_TRAIL_H_
