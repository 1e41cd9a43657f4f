// hubctl's audit commands for the governance group.
#ifndef HUB_TOOLS_HUBCTL_AUDIT_COMMANDS_H_
#define HUB_TOOLS_HUBCTL_AUDIT_COMMANDS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/channel.h"

#include "hub/v1/audit_service.pb.h"
#include "tools/hubctl/event_commands.h"

namespace hub::tools {

// Prints the records matching `query`, following page tokens.
int AuditQuery(const std::shared_ptr<grpc::Channel>& channel, hub::v1::QueryAuditRequest query,
               const OutputOptions& output);

// Who received what of `case_id`: every allowed read, timeline, case-list
// entry and delivery (subscriptions with or without a case filter) that
// disclosed anything of the case, with when, the event types and data
// classes, the rules, the declared and recorded purposes and the lawful
// bases; a table, or one JSON object per disclosure.
int AuditDisclosures(const std::shared_ptr<grpc::Channel>& channel, const std::string& case_id,
                     const OutputOptions& output);

// Prints the current signed tree head.
int AuditHead(const std::shared_ptr<grpc::Channel>& channel, const OutputOptions& output);

// Prints the hub's signed checkpoints of the log and the audit as they are
// now (any principal), for a witness to append to the file it keeps.
int AuditCheckpoints(const std::shared_ptr<grpc::Channel>& channel, const OutputOptions& output);

// Which records an export holds. Record indexes select directly; times
// select from the first record at or after `since` to the last at or before
// `until` (records are appended in time order, give or take the few
// milliseconds a group commit spans, so a record just outside the window may
// ride along; none inside it is left out).
struct AuditExportRange {
  uint64_t first_record = 0;
  std::optional<uint64_t> last_record;  // inclusive; none = the head's last
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();
};

// Writes a hub.v1.AuditExport (a fresh signed head, the records of `range`
// in its tree, each with its inclusion proof) to `path`.
int AuditExportToFile(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                      const AuditExportRange& range, const OutputOptions& output);

// Checks an export offline with the hub's audit public key (PEM file); exit
// status 0 only if it is complete and intact, else names every problem.
// With `checkpoints_path`, also that the audit extends every audit checkpoint
// in it (VerifyAuditCheckpoints).
int AuditVerifyFile(const std::string& export_path, const std::string& public_key_path,
                    const std::string& checkpoints_path = "");

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_AUDIT_COMMANDS_H_
