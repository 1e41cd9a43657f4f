#include "services/audit_trail.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "auth/data_classes.h"
#include "proto/absl_compat.h"
#include "services/request_validation.h"
#include "services/server_log.h"
#include "storage/hash_chain.h"

namespace hub::services {

hub::v1::AuditRecord AuditRecordFor(const hub::v1::Principal& principal,
                                    hub::v1::AuditAction action, hub::v1::AuditDecision decision) {
  hub::v1::AuditRecord record;
  const int64_t now_ns = absl::ToUnixNanos(absl::Now());
  record.mutable_time()->set_seconds(now_ns / 1000000000);
  record.mutable_time()->set_nanos(static_cast<int32_t>(now_ns % 1000000000));
  record.set_principal_identity(principal.identity());
  record.set_agency(principal.agency());
  record.set_role(principal.role());
  record.set_action(action);
  record.set_decision(decision);
  return record;
}

void AddDistinct(const std::string& value, google::protobuf::RepeatedPtrField<std::string>* field) {
  if (value.empty()) return;
  for (const std::string& existing : *field) {
    if (existing == value) return;
  }
  *field->Add() = value;
}

void AuditPublish(const hub::v1::Principal& principal, const std::string& protocol_version,
                  const hub::v1::PublishRequest& request,
                  const std::vector<std::string>& recording_rules, storage::AppendRequest* append) {
  hub::v1::AuditRecord record =
      AuditRecordFor(principal, hub::v1::AUDIT_PUBLISH, hub::v1::AUDIT_ALLOWED);
  for (const std::string& rule : recording_rules) AddDistinct(rule, record.mutable_rules());
  for (const hub::v1::EventEnvelope& event : request.events()) {
    AddDistinct(event.lawful_basis(), record.mutable_lawful_bases());
    AddDistinctValue(event.purpose(), record.mutable_event_purposes());
    AddDistinct(auth::EventTypeName(event), record.mutable_event_types());
    if (const google::protobuf::Message* content = auth::EventOf(event); content != nullptr) {
      AddDistinctValue(auth::EventClass(*content->GetDescriptor()), record.mutable_data_classes());
    }
  }
  if (!request.events().empty()) record.set_purpose(request.events(0).purpose());
  record.set_case_id(append->case_id);
  record.set_event_count(append->events.size());
  record.set_protocol_version(protocol_version);
  AuditAppend(std::move(record), append);
}

void AuditAppend(hub::v1::AuditRecord record, storage::AppendRequest* append) {
  append->audit_records = [record](const storage::AppendResult& result) mutable {
    record.set_first_position(result.first_position);
    record.set_last_position(result.last_position);
    for (const storage::Sha256Digest& digest : result.event_digests) {
      record.add_event_digests(digest.data(), digest.size());
    }
    if (result.already_stored && record.reason().empty()) {
      record.set_reason("a retry of an append already stored");
    }
    return std::vector<std::string>{record.SerializeAsString()};
  };
}

void DisclosureDigest::Add(std::string_view sent_bytes) {
  const storage::Sha256Digest digest = storage::Sha256(sent_bytes);
  digests_.append(reinterpret_cast<const char*>(digest.data()), digest.size());
}

std::string DisclosureDigest::Finish() const {
  if (digests_.empty()) return "";
  const storage::Sha256Digest digest = storage::Sha256(digests_);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

namespace {

absl::Status AuditOutcome(const absl::StatusOr<uint64_t>& stored) {
  if (!stored.ok()) {
    return absl::UnavailableError(absl::StrCat("the access could not be audited (",
                                               stored.status().message(), "), so it was refused"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status StoreAudit(storage::EventLog* log, const hub::v1::AuditRecord& record) {
  return AuditOutcome(log->Audit({record.SerializeAsString()}));
}

void StoreAuditAsync(storage::EventLog* log, const hub::v1::AuditRecord& record,
                     std::function<void(absl::Status)> done) {
  log->AuditAsync(
      {record.SerializeAsString()},
      [done = std::move(done)](absl::StatusOr<uint64_t> stored) { done(AuditOutcome(stored)); });
}

std::string Bounded(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  // Never inside a UTF-8 sequence: the record must stay valid UTF-8.
  return absl::StrCat(AsAbsl(text.substr(0, Utf8PrefixLength(text, max_bytes))), "... (",
                      text.size(), " bytes)");
}

absl::Status AuditDenial(storage::EventLog* log, const hub::v1::Principal& principal,
                         hub::v1::AuditAction action, const std::string& case_id,
                         const absl::Status& denial, hub::v1::Purpose purpose) {
  hub::v1::AuditRecord record = AuditRecordFor(principal, action, hub::v1::AUDIT_DENIED);
  // What a hostile caller sends is bounded before it is audited, so that an
  // oversized request cannot make its own refusal unauditable.
  record.set_case_id(Bounded(case_id, kMaxAuditedCaseIdBytes));
  record.set_purpose(purpose);
  record.set_reason(Bounded(std::string_view(denial.message().data(), denial.message().size()),
                            kMaxAuditedReasonBytes));
  absl::Status stored = StoreAudit(log, record);
  if (!stored.ok()) LogError("a denial could not be audited", {{"error", stored.ToString()}});
  return denial;
}

}  // namespace hub::services
