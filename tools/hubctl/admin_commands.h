// hubctl's operator commands: an online backup through AdminService, and an
// offline restore of a backup into a new data folder.
#ifndef HUB_TOOLS_HUBCTL_ADMIN_COMMANDS_H_
#define HUB_TOOLS_HUBCTL_ADMIN_COMMANDS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/channel.h"

#include "tools/hubctl/event_commands.h"

namespace hub::tools {

// Asks the hub for a backup (operator certificate) and prints where it is.
int Backup(const std::shared_ptr<grpc::Channel>& channel, const OutputOptions& output);

// Erases a subject's (or, with `is_case`, a case's) personal data on
// request (operator certificate), all of it or only `data_class` (a class
// name such as VICTIM_LOCATION; empty: all): the hub destroys its data key
// and records why. Prints the record's position, the key destroyed and
// what became of the views.
int Erase(const std::shared_ptr<grpc::Channel>& channel, const std::string& id, bool is_case,
          const std::string& data_class, const std::string& reason, const std::string& reference,
          const OutputOptions& output);

// Restricts processing of a subject's (or, with `is_case`, a case's)
// personal data (operator certificate), or with `lift` ends the
// restriction: the content is kept but every view is rebuilt without it.
int Restrict(const std::shared_ptr<grpc::Channel>& channel, const std::string& id, bool is_case,
             bool lift, const std::string& reason, const std::string& reference,
             const OutputOptions& output);
// Applies the sharing protocol's retention rules as of `as_of` (operator
// certificate; nullopt: now), or with `dry_run` only says what would go.
// Prints one line per data key erased (or that would be).
int RunRetention(const std::shared_ptr<grpc::Channel>& channel, bool dry_run,
                 std::optional<absl::Time> as_of, const OutputOptions& output);
// Asks for everything the hub holds about `subject` (operator certificate),
// for the subject access request `reference`. Prints a summary (or, with
// json, the whole pack as JSON); with `html_path`, also writes the pack as
// a printable page, readable by its owner only.
int SubjectAccess(const std::shared_ptr<grpc::Channel>& channel, const std::string& subject,
                  const std::string& reference, const std::string& html_path,
                  const OutputOptions& output);
// Copies the backup in `backup_dir` into `data_dir` (which must not exist or
// be empty) and verifies what was copied: the event log's hash chain and
// indexes, and the access audit's chain and Merkle tree, and, given
// `checkpoints` (signed checkpoints a witness collected; empty: none) and
// the audit public key, that the backup's log extends every one of them.
// Removes the copy if anything does not verify.
int Restore(const std::string& backup_dir, const std::string& data_dir,
            const std::string& checkpoints = "", const std::string& public_key_pem = "");

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_ADMIN_COMMANDS_H_
