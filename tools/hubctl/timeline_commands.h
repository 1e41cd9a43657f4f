// hubctl's panel-preparation commands: a case timeline (terminal table,
// JSON or printable HTML) and the list of cases.
#ifndef HUB_TOOLS_HUBCTL_TIMELINE_COMMANDS_H_
#define HUB_TOOLS_HUBCTL_TIMELINE_COMMANDS_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"

#include "hub/v1/timeline_service.pb.h"
#include "tools/hubctl/event_commands.h"

namespace hub::tools {

// Prints the whole timeline selected by `request` (following page tokens),
// with the case's overview; with a non-empty `html_path`, writes it there as
// a self-contained HTML page instead.
int ShowTimeline(const std::shared_ptr<grpc::Channel>& channel,
                 hub::v1::GetCaseTimelineRequest request, const std::string& html_path,
                 const OutputOptions& output);

// Prints the cases matching `request` (following page tokens).
int ShowCases(const std::shared_ptr<grpc::Channel>& channel, hub::v1::ListCasesRequest request,
              const OutputOptions& output);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_TIMELINE_COMMANDS_H_
