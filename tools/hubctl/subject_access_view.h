// How hubctl shows a subject access pack (AdminService.SubjectAccess): a
// summary for the terminal, and a self-contained printable HTML pack for the
// data protection officer to review and release (no scripts, no external
// resources, every value escaped). Other people's values never reach hubctl;
// values that also concern other people are marked for review.
#ifndef HUB_TOOLS_HUBCTL_SUBJECT_ACCESS_VIEW_H_
#define HUB_TOOLS_HUBCTL_SUBJECT_ACCESS_VIEW_H_

#include <string>

#include "hub/v1/admin_service.pb.h"

namespace hub::tools {

std::string SubjectAccessSummary(const hub::v1::SubjectAccessResponse& pack);
// `reference`: the request's reference, printed on the pack.
std::string SubjectAccessHtml(const hub::v1::SubjectAccessResponse& pack,
                              const std::string& reference);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_SUBJECT_ACCESS_VIEW_H_
