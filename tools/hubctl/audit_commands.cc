#include "tools/hubctl/audit_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"

#include "proto/status_macros.h"
#include "storage/hash_chain.h"

#include "hub/v1/audit_service.grpc.pb.h"
#include "tools/hubctl/audit_verify.h"
#include "tools/hubctl/cli.h"

namespace hub::tools {
namespace {

std::string Hex(const std::string& bytes) {
  storage::Sha256Digest digest{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), digest.size()), digest.begin());
  return storage::DigestToHex(digest);
}

// Calls `visit` with every entry matching `query`, following page tokens,
// until it returns false; the call's failure, described, if one fails.
absl::Status ForEachAuditEntry(hub::v1::AuditService::Stub& stub, hub::v1::QueryAuditRequest query,
                               int timeout_ms,
                               const std::function<bool(const hub::v1::AuditEntry&)>& visit) {
  do {
    grpc::ClientContext context;
    SetDeadline(&context, timeout_ms);
    hub::v1::QueryAuditResponse response;
    grpc::Status status = stub.QueryAudit(&context, query, &response);
    if (!status.ok()) return absl::UnavailableError(Describe(status));
    for (const hub::v1::AuditEntry& entry : response.entries()) {
      if (!visit(entry)) return absl::OkStatus();
    }
    query.set_page_token(response.next_page_token());
  } while (!query.page_token().empty());
  return absl::OkStatus();
}

// The index of the first record (oldest first) or last record (newest
// first) matching `query`, if any.
absl::StatusOr<std::optional<uint64_t>> FirstMatch(hub::v1::AuditService::Stub& stub,
                                                   hub::v1::QueryAuditRequest query,
                                                   int timeout_ms) {
  query.set_page_size(1);
  std::optional<uint64_t> first;
  HUB_RETURN_IF_ERROR(
      ForEachAuditEntry(stub, query, timeout_ms, [&first](const hub::v1::AuditEntry& entry) {
        first = entry.index();
        return false;
      }));
  return first;
}

}  // namespace

int AuditQuery(const std::shared_ptr<grpc::Channel>& channel, hub::v1::QueryAuditRequest query,
               const OutputOptions& output) {
  auto stub = hub::v1::AuditService::NewStub(channel);
  if (!output.json) {
    std::printf("%8s  %-30s %-22s %-16s %-12s %-14s %s\n", "index", "time", "who", "action",
                "decision", "case", "positions");
  }
  absl::Status listed =
      ForEachAuditEntry(*stub, query, output.timeout_ms, [&](const hub::v1::AuditEntry& entry) {
        const hub::v1::AuditRecord& record = entry.record();
        if (output.json) {
          std::string json;
          (void)google::protobuf::util::MessageToJsonString(record, &json);
          std::printf("{\"index\":%llu,\"record\":%s}\n",
                      static_cast<unsigned long long>(entry.index()), json.c_str());
          return true;
        }
        std::printf("%8llu  %-30s %-22s %-16s %-12s %-14s %llu-%llu\n",
                    static_cast<unsigned long long>(entry.index()),
                    google::protobuf::util::TimeUtil::ToString(record.time()).c_str(),
                    absl::StrCat(record.agency(), "/", hub::v1::Role_Name(record.role())).c_str(),
                    hub::v1::AuditAction_Name(record.action()).c_str(),
                    hub::v1::AuditDecision_Name(record.decision()).c_str(),
                    record.case_id().c_str(),
                    static_cast<unsigned long long>(record.first_position()),
                    static_cast<unsigned long long>(record.last_position()));
        return true;
      });
  if (!listed.ok()) return Fail(std::string(listed.message()));
  return 0;
}

namespace {

bool Discloses(hub::v1::AuditAction action) {
  return action == hub::v1::AUDIT_READ_CASE || action == hub::v1::AUDIT_READ_TIMELINE ||
         action == hub::v1::AUDIT_LIST_CASES || action == hub::v1::AUDIT_DELIVER;
}

std::string JsonString(const std::string& text) {
  google::protobuf::Value value;
  value.set_string_value(text);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(value, &json);
  return json;
}

std::string JsonArray(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& item : items) quoted.push_back(JsonString(item));
  return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
}

template <typename Enum, typename Name>
std::vector<std::string> Names(const google::protobuf::RepeatedField<int>& values, Name name) {
  std::vector<std::string> names;
  for (int value : values) names.push_back(name(static_cast<Enum>(value)));
  return names;
}

}  // namespace

int AuditDisclosures(const std::shared_ptr<grpc::Channel>& channel, const std::string& case_id,
                     const OutputOptions& output) {
  auto stub = hub::v1::AuditService::NewStub(channel);
  hub::v1::QueryAuditRequest query;
  query.set_case_id(case_id);
  query.set_decision(hub::v1::AUDIT_ALLOWED);
  query.set_page_size(1000);
  if (!output.json) {
    std::printf("%-24s %-24s %-12s %-28s %-44s %-14s %s\n", "time", "who", "how", "event types",
                "data classes", "purpose", "rules");
  }
  size_t disclosures = 0;
  absl::Status listed =
      ForEachAuditEntry(*stub, query, output.timeout_ms, [&](const hub::v1::AuditEntry& entry) {
        const hub::v1::AuditRecord& record = entry.record();
        if (!Discloses(record.action())) return true;
        ++disclosures;
        const std::string how = absl::StrReplaceAll(
            absl::AsciiStrToLower(hub::v1::AuditAction_Name(record.action())), {{"audit_", ""}});
        const std::vector<std::string> classes = Names<hub::v1::DataClass>(
            record.data_classes(), [](hub::v1::DataClass c) { return hub::v1::DataClass_Name(c); });
        const std::vector<std::string> purposes = Names<hub::v1::Purpose>(
            record.event_purposes(), [](hub::v1::Purpose p) { return hub::v1::Purpose_Name(p); });
        const std::string declared = record.purpose() == hub::v1::PURPOSE_UNSPECIFIED
                                         ? ""
                                         : hub::v1::Purpose_Name(record.purpose());
        const std::string when = google::protobuf::util::TimeUtil::ToString(record.time());
        const std::string who = record.principal_identity();
        const std::vector<std::string> types(record.event_types().begin(),
                                             record.event_types().end());
        const std::vector<std::string> rules(record.rules().begin(), record.rules().end());
        const std::vector<std::string> bases(record.lawful_bases().begin(),
                                             record.lawful_bases().end());
        if (output.json) {
          std::printf(
              "{\"audit_index\":%llu,\"time\":%s,\"principal\":%s,\"how\":%s,"
              "\"event_types\":%s,\"data_classes\":%s,\"declared_purpose\":%s,"
              "\"event_purposes\":%s,\"rules\":%s,\"lawful_bases\":%s,\"events\":%llu,"
              "\"protocol_version\":%s}\n",
              static_cast<unsigned long long>(entry.index()), JsonString(when).c_str(),
              JsonString(who).c_str(), JsonString(how).c_str(), JsonArray(types).c_str(),
              JsonArray(classes).c_str(), JsonString(declared).c_str(), JsonArray(purposes).c_str(),
              JsonArray(rules).c_str(), JsonArray(bases).c_str(),
              static_cast<unsigned long long>(record.event_count()),
              JsonString(record.protocol_version()).c_str());
          return true;
        }
        std::printf("%-24s %-24s %-12s %-28s %-44s %-14s %s\n", when.substr(0, 23).c_str(),
                    absl::StrCat(record.agency(), "/", hub::v1::Role_Name(record.role())).c_str(),
                    how.c_str(), absl::StrJoin(types, ",").c_str(),
                    absl::StrJoin(classes, ",").c_str(),
                    (declared.empty() ? absl::StrJoin(purposes, ",") : declared).c_str(),
                    absl::StrJoin(rules, ",").c_str());
        return true;
      });
  if (!listed.ok()) return Fail(std::string(listed.message()));
  if (!output.json) std::printf("%zu disclosures of case %s\n", disclosures, case_id.c_str());
  return 0;
}

int AuditHead(const std::shared_ptr<grpc::Channel>& channel, const OutputOptions& output) {
  grpc::ClientContext context;
  SetDeadline(&context, output.timeout_ms);
  hub::v1::SignedTreeHead head;
  grpc::Status status = hub::v1::AuditService::NewStub(channel)->GetSignedTreeHead(
      &context, hub::v1::GetSignedTreeHeadRequest(), &head);
  if (!status.ok()) return Fail(Describe(status));
  std::printf(
      "tree size:  %llu\nroot hash:  %s\ntimestamp:  %lld ms\nsignature:  %zu bytes "
      "(ECDSA P-256, SHA-256)\n",
      static_cast<unsigned long long>(head.tree_size()), Hex(head.root_hash()).c_str(),
      static_cast<long long>(head.timestamp_ms()), head.signature().size());
  return 0;
}

int AuditCheckpoints(const std::shared_ptr<grpc::Channel>& channel, const OutputOptions& output) {
  grpc::ClientContext context;
  SetDeadline(&context, output.timeout_ms);
  hub::v1::GetCheckpointsResponse checkpoints;
  grpc::Status status = hub::v1::AuditService::NewStub(channel)->GetCheckpoints(
      &context, hub::v1::GetCheckpointsRequest(), &checkpoints);
  if (!status.ok()) return Fail(Describe(status));
  // Rotations first, in order, so that a witness file appended to follows
  // the key; those it holds already are accepted again.
  for (const std::string& rotation : checkpoints.key_rotations()) {
    std::printf("%s\n", rotation.c_str());
  }
  std::printf("%s\n%s\n", checkpoints.log_checkpoint().c_str(),
              checkpoints.audit_checkpoint().c_str());
  return 0;
}

int AuditExportToFile(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                      const AuditExportRange& range, const OutputOptions& output) {
  auto stub = hub::v1::AuditService::NewStub(channel);
  hub::v1::AuditExport export_file;
  {
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    grpc::Status status = stub->GetSignedTreeHead(&context, hub::v1::GetSignedTreeHeadRequest(),
                                                  export_file.mutable_head());
    if (!status.ok()) return Fail(Describe(status));
  }
  const uint64_t tree_size = export_file.head().tree_size();
  if (tree_size == 0) return Fail("the audit is empty; there is nothing to export");
  uint64_t first = range.first_record;
  uint64_t last = std::min(range.last_record.value_or(tree_size - 1), tree_size - 1);
  if (range.since != absl::InfinitePast()) {
    hub::v1::QueryAuditRequest query;
    *query.mutable_from_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(range.since));
    auto match = FirstMatch(*stub, query, output.timeout_ms);
    if (!match.ok()) return Fail(std::string(match.status().message()));
    if (!match->has_value() || **match >= tree_size) {
      return Fail("no audit record of the signed head is at or after --since");
    }
    first = std::max(first, **match);
  }
  if (range.until != absl::InfiniteFuture()) {
    hub::v1::QueryAuditRequest query;
    *query.mutable_to_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(range.until));
    query.set_newest_first(true);
    auto match = FirstMatch(*stub, query, output.timeout_ms);
    if (!match.ok()) return Fail(std::string(match.status().message()));
    if (!match->has_value()) return Fail("no audit record is at or before --until");
    last = std::min(last, **match);
  }
  if (first > last) {
    return Fail(absl::StrCat("the range selects no record: first ", first, ", last ", last,
                             " (the signed head holds records 0 to ", tree_size - 1, ")"));
  }
  export_file.set_first_index(first);
  export_file.set_end_index(last + 1);
  hub::v1::ExportAuditRequest request;
  request.set_tree_size(tree_size);
  request.set_from_index(first);
  request.set_end_index(last + 1);
  do {
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    hub::v1::ExportAuditResponse response;
    grpc::Status status = stub->ExportAudit(&context, request, &response);
    if (!status.ok()) return Fail(Describe(status));
    for (hub::v1::ExportedRecord& record : *response.mutable_records()) {
      *export_file.add_records() = std::move(record);
    }
    request.set_from_index(response.next_index());
  } while (request.from_index() != 0);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file || !export_file.SerializeToOstream(&file)) return Fail("cannot write " + path);
  std::printf("exported audit records %llu to %llu of tree size %llu (root %s) to %s\n",
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
              static_cast<unsigned long long>(tree_size),
              Hex(export_file.head().root_hash()).c_str(), path.c_str());
  return 0;
}

int AuditVerifyFile(const std::string& export_path, const std::string& public_key_path,
                    const std::string& checkpoints_path) {
  std::ifstream file(export_path, std::ios::binary);
  hub::v1::AuditExport export_file;
  if (!file || !export_file.ParseFromIstream(&file)) {
    return Fail(export_path + " is not an audit export");
  }
  std::ifstream key_file(public_key_path);
  if (!key_file) return Fail("cannot read the public key " + public_key_path);
  std::stringstream key;
  key << key_file.rdbuf();
  std::string checkpoints;
  if (!checkpoints_path.empty()) {
    std::ifstream checkpoints_file(checkpoints_path);
    if (!checkpoints_file) return Fail("cannot read checkpoints file " + checkpoints_path);
    std::stringstream text;
    text << checkpoints_file.rdbuf();
    checkpoints = text.str();
  }
  // After a key rotation the head is signed by the key the checkpoints
  // announced, which the given (first trusted) key vouched for.
  const std::string head_key = checkpoints.empty() ? key.str() : KeyInForce(checkpoints, key.str());
  std::vector<std::string> problems = VerifyAuditExport(export_file, head_key);
  size_t witnessed = 0;
  if (problems.empty() && !checkpoints_path.empty()) {
    problems = VerifyAuditCheckpoints(export_file, checkpoints, key.str(), &witnessed);
  }
  if (problems.empty()) {
    const uint64_t tree_size = export_file.head().tree_size();
    const uint64_t end = export_file.end_index() == 0 ? tree_size : export_file.end_index();
    std::printf(
        "audit export verified: records %llu to %llu (%d records) of tree size %llu, root %s, "
        "signed by the given key%s\n",
        static_cast<unsigned long long>(export_file.first_index()),
        static_cast<unsigned long long>(end - 1), export_file.records_size(),
        static_cast<unsigned long long>(tree_size), Hex(export_file.head().root_hash()).c_str(),
        head_key == key.str() ? "" : " (rotated: the key in force, which it vouched for)");
    if (!checkpoints_path.empty()) {
      std::printf("consistent with %zu signed audit checkpoints\n", witnessed);
    }
    return 0;
  }
  for (const std::string& problem : problems) {
    std::fprintf(stderr, "hubctl: audit export does NOT verify: %s\n", problem.c_str());
  }
  return 1;
}

}  // namespace hub::tools
