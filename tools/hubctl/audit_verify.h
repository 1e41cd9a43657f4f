// Offline verification of an audit export (hub.v1.AuditExport) against its
// signed tree head and the hub's exported audit public key. Needs nothing
// from the hub: the governance group runs it on its own copy.
#ifndef HUB_TOOLS_HUBCTL_AUDIT_VERIFY_H_
#define HUB_TOOLS_HUBCTL_AUDIT_VERIFY_H_

#include <string>
#include <vector>

#include "hub/v1/audit_service.pb.h"

namespace hub::tools {

// Every problem found, one sentence each, naming the record: a head not
// signed by `public_key_pem`, a record whose proof does not lead to the
// signed root (altered or replaced), a missing, duplicated or out-of-order
// record. Empty when the export is complete and intact.
std::vector<std::string> VerifyAuditExport(const hub::v1::AuditExport& export_file,
                                           const std::string& public_key_pem);

// Every problem with the export against the audit checkpoints (origin
// ending "/audit") in `checkpoints_text` that a witness collected: each must
// be signed by `public_key_pem`, and the export's records must rebuild its
// root at its size (an audit rolled back, or rebuilt from an older backup,
// does not). Needs an export of the whole audit from record 0. `checked`
// gets how many checkpoints held. Call after VerifyAuditExport found nothing.
std::vector<std::string> VerifyAuditCheckpoints(const hub::v1::AuditExport& export_file,
                                                const std::string& checkpoints_text,
                                                const std::string& public_key_pem, size_t* checked);

// The key that signs after every rotation announced in `checkpoints_text`
// (auth::CheckpointKeyChain), starting from `first_key_pem`; it stops at
// the first note that does not open (VerifyAuditCheckpoints names it).
std::string KeyInForce(const std::string& checkpoints_text, const std::string& first_key_pem);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_AUDIT_VERIFY_H_
