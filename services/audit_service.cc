#include "services/audit_service.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "auth/checkpoint.h"
#include "proto/status_macros.h"
#include "services/audit_trail.h"
#include "services/grpc_status.h"
#include "services/metrics.h"
#include "services/request_validation.h"
#include "services/tree_head_publisher.h"
#include "storage/merkle_tree.h"

namespace hub::services {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Records one call examines at most; the page token resumes the scan.
constexpr uint64_t kMaxScan = 20000;

std::string Bytes(const storage::Sha256Digest& digest) {
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

bool Matches(const hub::v1::QueryAuditRequest& request, const hub::v1::AuditRecord& record) {
  // A list of cases tells its reader about each case listed: "who saw case
  // X" includes it.
  if (!request.case_id().empty() && record.case_id() != request.case_id() &&
      std::find(record.listed_case_ids().begin(), record.listed_case_ids().end(),
                request.case_id()) == record.listed_case_ids().end() &&
      std::find(record.disclosed_case_ids().begin(), record.disclosed_case_ids().end(),
                request.case_id()) == record.disclosed_case_ids().end()) {
    return false;
  }
  if (!request.principal_identity().empty() &&
      record.principal_identity() != request.principal_identity()) {
    return false;
  }
  if (!request.agency().empty() && record.agency() != request.agency()) return false;
  if (request.action() != hub::v1::AUDIT_ACTION_UNSPECIFIED &&
      record.action() != request.action()) {
    return false;
  }
  if (request.decision() != hub::v1::AUDIT_DECISION_UNSPECIFIED &&
      record.decision() != request.decision()) {
    return false;
  }
  if (request.has_from_time() && record.time().seconds() < request.from_time().seconds()) {
    return false;
  }
  if (request.has_to_time() && record.time().seconds() > request.to_time().seconds()) return false;
  return true;
}

}  // namespace

absl::StatusOr<hub::v1::Principal> AuditService::Auditor(grpc::CallbackServerContext* context,
                                                         const std::string& what) const {
  HUB_ASSIGN_OR_RETURN(hub::v1::Principal principal,
                       authenticator_->PrincipalOf(*context->auth_context()));
  if (principal.role() != hub::v1::AUDITOR) {
    return AuditDenial(
        log_, principal, hub::v1::AUDIT_QUERY, "",
        absl::PermissionDeniedError(absl::StrCat(
            "principal ", principal.identity(), " has role ", hub::v1::Role_Name(principal.role()),
            "; only the governance group's auditor role reads the audit")));
  }
  hub::v1::AuditRecord record =
      AuditRecordFor(principal, hub::v1::AUDIT_QUERY, hub::v1::AUDIT_ALLOWED);
  record.set_reason(what);
  HUB_RETURN_IF_ERROR(StoreAudit(log_, record));
  return principal;
}

absl::Status AuditService::Query(const hub::v1::QueryAuditRequest& request,
                                 hub::v1::QueryAuditResponse* response) const {
  HUB_ASSIGN_OR_RETURN(const size_t page_size,
                       ServedPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize));
  const uint64_t size = log_->AuditSize();
  // The token is the next index to examine (scanning forwards) or one past
  // it (scanning backwards).
  uint64_t cursor = request.newest_first() ? size : 0;
  if (!request.page_token().empty()) {
    std::string decoded;
    if (!absl::WebSafeBase64Unescape(request.page_token(), &decoded) ||
        !absl::SimpleAtoi(decoded, &cursor) || cursor > size) {
      return absl::InvalidArgumentError("page_token is not one this hub issued");
    }
  }
  uint64_t scanned = 0;
  while (static_cast<size_t>(response->entries_size()) < page_size && scanned < kMaxScan) {
    if (request.newest_first() ? cursor == 0 : cursor >= size) {
      cursor = request.newest_first() ? 0 : size;
      break;
    }
    const uint64_t chunk = std::min<uint64_t>(256, kMaxScan - scanned);
    const uint64_t from = request.newest_first() ? (cursor > chunk ? cursor - chunk : 0) : cursor;
    const uint64_t count = request.newest_first() ? cursor - from : std::min(chunk, size - cursor);
    HUB_ASSIGN_OR_RETURN(std::vector<std::string> raw, log_->ReadAudit(from, count));
    for (size_t k = 0; k < raw.size(); ++k) {
      const size_t i = request.newest_first() ? raw.size() - 1 - k : k;
      const uint64_t index = from + i;
      ++scanned;
      hub::v1::AuditRecord record;
      if (!record.ParseFromString(raw[i])) {
        return absl::DataLossError(absl::StrCat("audit record ", index, " does not parse"));
      }
      cursor = request.newest_first() ? index : index + 1;
      if (!Matches(request, record)) continue;
      hub::v1::AuditEntry* entry = response->add_entries();
      entry->set_index(index);
      *entry->mutable_record() = std::move(record);
      entry->set_raw(raw[i]);
      if (static_cast<size_t>(response->entries_size()) >= page_size) break;
    }
    if (raw.empty()) break;
  }
  const bool done = request.newest_first() ? cursor == 0 : cursor >= size;
  if (!done) response->set_next_page_token(absl::WebSafeBase64Escape(absl::StrCat(cursor)));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuditService::QueryAudit(grpc::CallbackServerContext* context,
                                                   const hub::v1::QueryAuditRequest* request,
                                                   hub::v1::QueryAuditResponse* response) {
  CountedCall call(metrics_, "QueryAudit");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> auditor =
      Auditor(context, absl::StrCat("query: ", request->ShortDebugString()));
  if (!auditor.ok()) return FinishUnary(context, call, auditor.status());
  if (absl::Status known = CheckKnownEnums(*request, ""); !known.ok()) {
    return FinishUnary(context, call, known);
  }
  return FinishUnary(context, call, Query(*request, response));
}

grpc::ServerUnaryReactor* AuditService::GetSignedTreeHead(grpc::CallbackServerContext* context,
                                                          const hub::v1::GetSignedTreeHeadRequest*,
                                                          hub::v1::SignedTreeHead* response) {
  CountedCall call(metrics_, "GetSignedTreeHead");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> auditor = Auditor(context, "signed tree head");
  if (!auditor.ok()) return FinishUnary(context, call, auditor.status());
  // The auditor's own query record is part of the head it receives.
  auth::TreeHead head;
  head.tree_size = log_->AuditSize();
  absl::StatusOr<storage::Sha256Digest> root =
      storage::MerkleRoot(log_->AuditTree(), head.tree_size);
  if (!root.ok()) return FinishUnary(context, call, root.status());
  head.root_hash = *root;
  head.timestamp_ms = absl::ToUnixMillis(absl::Now());
  absl::StatusOr<std::string> signature = signer_->Sign(head);
  if (!signature.ok()) return FinishUnary(context, call, signature.status());
  response->set_tree_size(head.tree_size);
  response->set_root_hash(Bytes(head.root_hash));
  response->set_timestamp_ms(head.timestamp_ms);
  response->set_signature(*signature);
  response->set_public_key_pem(signer_->public_key_pem());
  return FinishUnary(context, call, absl::OkStatus());
}

grpc::ServerUnaryReactor* AuditService::GetCheckpoints(grpc::CallbackServerContext* context,
                                                       const hub::v1::GetCheckpointsRequest*,
                                                       hub::v1::GetCheckpointsResponse* response) {
  CountedCall call(metrics_, "GetCheckpoints");
  call.SetPrincipalOf(*authenticator_, *context);
  // Any principal may witness the hub: the checkpoints carry no case content.
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_READ_CHECKPOINTS, hub::v1::AUDIT_ALLOWED);
  if (absl::Status audited = StoreAudit(log_, record); !audited.ok()) {
    return FinishUnary(context, call, audited);
  }
  // The log first: its checkpoint is then never newer than the audit's.
  absl::StatusOr<std::string> log_note =
      SignedLogCheckpoint(*log_, *signer_, checkpoint_origin_, log_->LastPosition());
  if (!log_note.ok()) return FinishUnary(context, call, log_note.status());
  const uint64_t audit_size = log_->AuditSize();
  absl::StatusOr<storage::Sha256Digest> root = storage::MerkleRoot(log_->AuditTree(), audit_size);
  if (!root.ok()) return FinishUnary(context, call, root.status());
  absl::StatusOr<std::string> audit_note =
      SignedAuditCheckpoint(*signer_, checkpoint_origin_, audit_size, *root);
  if (!audit_note.ok()) return FinishUnary(context, call, audit_note.status());
  response->set_log_checkpoint(*log_note);
  response->set_audit_checkpoint(*audit_note);
  response->set_public_key_pem(signer_->public_key_pem());
  // Written once per rotation by this process before it serves, so read
  // without a lock.
  if (std::ifstream rotations(key_rotations_path_); rotations) {
    std::stringstream text;
    text << rotations.rdbuf();
    for (std::string& note : auth::SplitNotes(text.str())) {
      response->add_key_rotations(std::move(note));
    }
  }
  return FinishUnary(context, call, absl::OkStatus());
}

grpc::ServerUnaryReactor* AuditService::GetInclusionProof(
    grpc::CallbackServerContext* context, const hub::v1::GetInclusionProofRequest* request,
    hub::v1::InclusionProof* response) {
  CountedCall call(metrics_, "GetInclusionProof");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> auditor = Auditor(
      context, absl::StrCat("inclusion proof of ", request->index(), " in ", request->tree_size()));
  if (!auditor.ok()) return FinishUnary(context, call, auditor.status());
  if (request->tree_size() > log_->AuditSize()) {
    return FinishUnary(
        context, absl::InvalidArgumentError(absl::StrCat("the audit holds ", log_->AuditSize(),
                                                         " records, not ", request->tree_size())));
  }
  absl::StatusOr<std::vector<storage::Sha256Digest>> path =
      storage::MerkleInclusionProof(log_->AuditTree(), request->index(), request->tree_size());
  if (!path.ok()) return FinishUnary(context, call, path.status());
  response->set_index(request->index());
  response->set_tree_size(request->tree_size());
  for (const storage::Sha256Digest& node : *path) response->add_path(Bytes(node));
  return FinishUnary(context, call, absl::OkStatus());
}

grpc::ServerUnaryReactor* AuditService::GetConsistencyProof(
    grpc::CallbackServerContext* context, const hub::v1::GetConsistencyProofRequest* request,
    hub::v1::ConsistencyProof* response) {
  CountedCall call(metrics_, "GetConsistencyProof");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> auditor = Auditor(
      context,
      absl::StrCat("consistency proof ", request->first_size(), " -> ", request->second_size()));
  if (!auditor.ok()) return FinishUnary(context, call, auditor.status());
  if (request->second_size() > log_->AuditSize()) {
    return FinishUnary(
        context, call,
        absl::InvalidArgumentError(absl::StrCat("the audit holds ", log_->AuditSize(),
                                                " records, not ", request->second_size())));
  }
  absl::StatusOr<std::vector<storage::Sha256Digest>> path = storage::MerkleConsistencyProof(
      log_->AuditTree(), request->first_size(), request->second_size());
  if (!path.ok()) return FinishUnary(context, call, path.status());
  response->set_first_size(request->first_size());
  response->set_second_size(request->second_size());
  for (const storage::Sha256Digest& node : *path) response->add_path(Bytes(node));
  return FinishUnary(context, call, absl::OkStatus());
}

absl::Status AuditService::Export(const hub::v1::ExportAuditRequest& request,
                                  hub::v1::ExportAuditResponse* response) const {
  constexpr int kDefaultExportPage = 500;
  constexpr int kMaxExportPage = 2000;
  HUB_ASSIGN_OR_RETURN(const uint64_t page,
                       ServedPageSize(request.page_size(), kDefaultExportPage, kMaxExportPage));
  if (request.tree_size() == 0 || request.tree_size() > log_->AuditSize()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree_size must be that of a signed head, 1 to ", log_->AuditSize()));
  }
  const uint64_t end = request.end_index() == 0 ? request.tree_size() : request.end_index();
  if (end > request.tree_size()) {
    return absl::InvalidArgumentError(absl::StrCat("end_index ", end, " is past the ",
                                                   request.tree_size(), " records of the tree"));
  }
  if (request.from_index() >= end) {
    return absl::InvalidArgumentError(absl::StrCat("from_index ", request.from_index(),
                                                   " is not before the end of the range, ", end));
  }
  const uint64_t count = std::min(page, end - request.from_index());
  HUB_ASSIGN_OR_RETURN(std::vector<std::string> raw, log_->ReadAudit(request.from_index(), count));
  for (size_t i = 0; i < raw.size(); ++i) {
    const uint64_t index = request.from_index() + i;
    HUB_ASSIGN_OR_RETURN(
        std::vector<storage::Sha256Digest> path,
        storage::MerkleInclusionProof(log_->AuditTree(), index, request.tree_size()));
    hub::v1::ExportedRecord* record = response->add_records();
    record->set_index(index);
    record->set_raw(std::move(raw[i]));
    for (const storage::Sha256Digest& node : path) record->add_inclusion_path(Bytes(node));
  }
  const uint64_t next = request.from_index() + raw.size();
  response->set_next_index(next < end ? next : 0);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuditService::ExportAudit(grpc::CallbackServerContext* context,
                                                    const hub::v1::ExportAuditRequest* request,
                                                    hub::v1::ExportAuditResponse* response) {
  CountedCall call(metrics_, "ExportAudit");
  call.SetPrincipalOf(*authenticator_, *context);
  absl::StatusOr<hub::v1::Principal> auditor = Auditor(
      context, absl::StrCat("export of records ", request->from_index(), " to ",
                            request->end_index() == 0 ? request->tree_size() : request->end_index(),
                            " of tree ", request->tree_size()));
  if (!auditor.ok()) return FinishUnary(context, call, auditor.status());
  return FinishUnary(context, call, Export(*request, response));
}

}  // namespace hub::services
