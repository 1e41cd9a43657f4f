#include "tools/hubctl/admin_commands.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"

#include "storage/event_log.h"
#include "storage/hash_chain.h"

#include "hub/v1/admin_service.grpc.pb.h"
#include "tools/hubctl/checkpoint_check.h"
#include "tools/hubctl/cli.h"
#include "tools/hubctl/subject_access_view.h"

namespace hub::tools {
namespace fs = std::filesystem;

namespace {

// What became of the views after an erasure or a restriction: rebuilt from
// the log, or reshaped where they stand (one of the two positions is set).
void PrintWhatTheViewsDid(uint64_t rebuilt_through, uint64_t reshaped_through, const char* tail) {
  if (rebuilt_through != 0) {
    std::printf("the views were rebuilt from the log (through position %llu)%s\n",
                static_cast<unsigned long long>(rebuilt_through), tail);
  }
  if (reshaped_through != 0) {
    std::printf("the views (through position %llu) were reshaped where they stand%s\n",
                static_cast<unsigned long long>(reshaped_through), tail);
  }
}

}  // namespace

int Backup(const std::shared_ptr<grpc::Channel>& channel, const OutputOptions& output) {
  grpc::ClientContext context;
  // A checkpoint of a large log takes longer than an ordinary call.
  SetDeadline(&context, std::max(output.timeout_ms, 600000));
  hub::v1::BackupResponse response;
  grpc::Status status = hub::v1::AdminService::NewStub(channel)->Backup(
      &context, hub::v1::BackupRequest(), &response);
  if (!status.ok()) return Fail(Describe(status));
  std::printf("backup %s: positions 1-%llu, %llu audit records, in %lld ms\n",
              response.path().c_str(), static_cast<unsigned long long>(response.last_position()),
              static_cast<unsigned long long>(response.audit_size()),
              static_cast<long long>(response.milliseconds()));
  for (const std::string& pruned : response.pruned()) {
    std::printf("removed the older backup %s\n", pruned.c_str());
  }
  return 0;
}

int Erase(const std::shared_ptr<grpc::Channel>& channel, const std::string& id, bool is_case,
          const std::string& data_class, const std::string& reason, const std::string& reference,
          const OutputOptions& output) {
  hub::v1::EraseSubjectRequest request;
  if (is_case) {
    request.set_case_id(id);
  } else {
    request.set_subject_id(id);
  }
  if (!data_class.empty()) {
    hub::v1::DataClass parsed = hub::v1::DATA_CLASS_UNSPECIFIED;
    if (!hub::v1::DataClass_Parse(data_class, &parsed) ||
        parsed == hub::v1::DATA_CLASS_UNSPECIFIED) {
      return Fail(data_class + " is not a data class (e.g. VICTIM_LOCATION; see events.proto)");
    }
    request.set_data_class(parsed);
  }
  request.set_reason(reason);
  request.set_reference(reference);
  grpc::ClientContext context;
  // The views are rebuilt before the call returns.
  SetDeadline(&context, std::max(output.timeout_ms, 600000));
  hub::v1::EraseSubjectResponse response;
  grpc::Status status =
      hub::v1::AdminService::NewStub(channel)->EraseSubject(&context, request, &response);
  if (!status.ok()) return Fail(Describe(status));
  std::printf("%s %s: data key %s destroyed%s; recorded at log position %llu\n",
              is_case ? "case" : "subject", id.c_str(), response.key_id().c_str(),
              response.newly_erased() ? "" : " (it had been erased before)",
              static_cast<unsigned long long>(response.position()));
  PrintWhatTheViewsDid(response.views_rebuilt_through(), response.views_reshaped_through(),
                       " without it");
  return 0;
}

int SubjectAccess(const std::shared_ptr<grpc::Channel>& channel, const std::string& subject,
                  const std::string& reference, const std::string& html_path,
                  const OutputOptions& output) {
  hub::v1::SubjectAccessRequest request;
  request.set_subject_id(subject);
  request.set_reference(reference);
  grpc::ClientContext context;
  // The hub reads its whole log and audit for it.
  SetDeadline(&context, std::max(output.timeout_ms, 600000));
  hub::v1::SubjectAccessResponse response;
  grpc::Status status =
      hub::v1::AdminService::NewStub(channel)->SubjectAccess(&context, request, &response);
  if (!status.ok()) return Fail(Describe(status));
  if (output.json) {
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(response, &json).ok()) {
      return Fail("cannot write the pack as JSON");
    }
    std::printf("%s\n", json.c_str());
  } else {
    std::printf("%s", SubjectAccessSummary(response).c_str());
  }
  if (!html_path.empty()) {
    if (!WriteOwnerOnlyFile(html_path, SubjectAccessHtml(response, reference))) {
      return Fail("cannot write " + html_path);
    }
    if (!output.json) std::printf("wrote the pack to %s\n", html_path.c_str());
  }
  return 0;
}

int Restrict(const std::shared_ptr<grpc::Channel>& channel, const std::string& id, bool is_case,
             bool lift, const std::string& reason, const std::string& reference,
             const OutputOptions& output) {
  hub::v1::RestrictProcessingRequest request;
  if (is_case) {
    request.set_case_id(id);
  } else {
    request.set_subject_id(id);
  }
  request.set_lift(lift);
  request.set_reason(reason);
  request.set_reference(reference);
  grpc::ClientContext context;
  // The views are rebuilt before the call returns.
  SetDeadline(&context, std::max(output.timeout_ms, 600000));
  hub::v1::RestrictProcessingResponse response;
  grpc::Status status =
      hub::v1::AdminService::NewStub(channel)->RestrictProcessing(&context, request, &response);
  if (!status.ok()) return Fail(Describe(status));
  std::printf("%s %s: %s; recorded at log position %llu\n", is_case ? "case" : "subject",
              id.c_str(),
              lift ? "restriction lifted, its content is shown again as the protocol allows"
                   : "processing restricted, its content is kept and shown to no one",
              static_cast<unsigned long long>(response.position()));
  PrintWhatTheViewsDid(response.views_rebuilt_through(), response.views_reshaped_through(), "");
  return 0;
}

int RunRetention(const std::shared_ptr<grpc::Channel>& channel, bool dry_run,
                 std::optional<absl::Time> as_of, const OutputOptions& output) {
  hub::v1::RunRetentionRequest request;
  request.set_dry_run(dry_run);
  if (as_of.has_value()) request.mutable_as_of()->set_seconds(absl::ToUnixSeconds(*as_of));
  grpc::ClientContext context;
  // The log is read whole and the views rebuilt before the call returns.
  SetDeadline(&context, std::max(output.timeout_ms, 600000));
  hub::v1::RunRetentionResponse response;
  grpc::Status status =
      hub::v1::AdminService::NewStub(channel)->RunRetention(&context, request, &response);
  if (!status.ok()) return Fail(Describe(status));
  const std::string when =
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(response.as_of().seconds()),
                       absl::UTCTimeZone());
  if (output.json) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(response, &json);
    std::printf("%s\n", json.c_str());
    return 0;
  }
  std::printf("%s as of %s: %d data key(s) %s\n", dry_run ? "retention preview" : "retention",
              when.c_str(), response.erasures_size(), dry_run ? "would be destroyed" : "destroyed");
  if (response.erasures_size() > 0) {
    std::printf("%-28s %-8s %-22s %-22s %-10s %s\n", "rule", "scope", "owner", "class", "due",
                "key");
  }
  for (const hub::v1::RetentionErasure& erasure : response.erasures()) {
    std::printf("%-28s %-8s %-22s %-22s %-10s %s\n", erasure.rule().c_str(),
                erasure.scope().c_str(), erasure.owner().c_str(),
                hub::v1::DataClass_Name(erasure.data_class()).c_str(),
                absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(erasure.due().seconds()),
                                 absl::UTCTimeZone())
                    .c_str(),
                erasure.key_id().c_str());
  }
  if (response.first_position() != 0) {
    std::printf("recorded at log positions %llu-%llu\n",
                static_cast<unsigned long long>(response.first_position()),
                static_cast<unsigned long long>(response.last_position()));
  }
  PrintWhatTheViewsDid(response.views_rebuilt_through(), response.views_reshaped_through(),
                       " without it");
  return 0;
}

int Restore(const std::string& backup_dir, const std::string& data_dir,
            const std::string& checkpoints, const std::string& public_key_pem) {
  const fs::path backup(backup_dir);
  if (!fs::exists(backup / "BACKUP.txt") || !fs::is_directory(backup / "events")) {
    return Fail(backup_dir + " is not a complete hub backup (no BACKUP.txt or events/)");
  }
  std::error_code error;
  if (fs::exists(data_dir) && !fs::is_empty(data_dir, error)) {
    return Fail(data_dir + " is not empty; restore into a new data folder");
  }
  fs::create_directories(data_dir, error);
  if (error) return Fail(absl::StrCat("cannot create ", data_dir, ": ", error.message()));
  auto undo = [&](const std::string& message) {
    std::error_code ignored;
    fs::remove_all(fs::path(data_dir) / "events", ignored);
    fs::remove_all(fs::path(data_dir) / "audit", ignored);
    return Fail(message);
  };
  fs::copy(backup / "events", fs::path(data_dir) / "events", fs::copy_options::recursive, error);
  if (error) return undo(absl::StrCat("cannot copy the event log: ", error.message()));
  if (fs::exists(backup / "audit")) {
    fs::copy(backup / "audit", fs::path(data_dir) / "audit", fs::copy_options::recursive, error);
    if (error) return undo(absl::StrCat("cannot copy the audit key: ", error.message()));
    fs::permissions(fs::path(data_dir) / "audit", fs::perms::owner_all, fs::perm_options::replace,
                    error);
  }
  // Opening verifies both hash chains and their heads; Verify() adds the
  // indexes. hubd verifies the chains again when it starts on the folder.
  storage::EventLogOptions options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<storage::EventLog>> log =
      storage::EventLog::Open((fs::path(data_dir) / "events").string(), options);
  if (!log.ok()) return undo(absl::StrCat("the backup does NOT verify: ", log.status().message()));
  absl::StatusOr<storage::VerifiedLog> verified = (*log)->Verify();
  if (!verified.ok()) {
    return undo(absl::StrCat("the backup does NOT verify: ", verified.status().message()));
  }
  absl::StatusOr<uint64_t> audit = (*log)->VerifyAudit();
  if (!audit.ok()) {
    return undo(absl::StrCat("the backup's audit does NOT verify: ", audit.status().message()));
  }
  std::string witnessed;
  if (!checkpoints.empty()) {
    absl::StatusOr<CheckpointsChecked> checked =
        CheckLogExtendsCheckpoints(**log, checkpoints, public_key_pem, /*log_may_be_older=*/true);
    if (!checked.ok()) {
      log->reset();
      return undo(absl::StrCat("the backup does NOT match what was witnessed: ",
                               checked.status().message()));
    }
    witnessed = absl::StrCat(", consistent with ", checked->count, " signed log checkpoints");
    if (checked->later > 0) {
      absl::StrAppend(&witnessed, "; it predates ", checked->later,
                      " later checkpoints: events up to position ", checked->largest_later_size,
                      " were witnessed that this backup does not hold");
    }
  }
  std::printf(
      "restored %s into %s: event log verified (%llu events, head %s%s), audit verified (%llu "
      "records). Start hubd with --data_dir=%s (and its certificates); it rebuilds the views "
      "from the log.\n",
      backup_dir.c_str(), data_dir.c_str(),
      static_cast<unsigned long long>(verified->last_position),
      storage::DigestToHex(verified->head_digest).c_str(), witnessed.c_str(),
      static_cast<unsigned long long>(*audit), data_dir.c_str());
  return 0;
}

}  // namespace hub::tools
