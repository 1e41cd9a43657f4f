// hubctl's case-event commands: publish from a file, read a case, tail a
// subscription. Each returns the process exit status.
#ifndef HUB_TOOLS_HUBCTL_EVENT_COMMANDS_H_
#define HUB_TOOLS_HUBCTL_EVENT_COMMANDS_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"

#include "hub/v1/event_service.pb.h"

namespace hub::tools {

struct OutputOptions {
  bool json = false;  // one JSON object per line instead of a table
  int timeout_ms = 10000;
};

// Publishes the hub.v1.PublishRequest in `path` (text format, or JSON if the
// name ends in .json). Envelopes without an event_id get one derived from
// the file's content, so running the same file again is an idempotent retry.
int PublishFromFile(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                    const OutputOptions& output);

// Prints every event of the requested case in the caller's view.
int ReadCase(const std::shared_ptr<grpc::Channel>& channel, hub::v1::ReadCaseRequest request,
             const OutputOptions& output);

// Follows the caller's view as requested until interrupted (or, with
// `until_caught_up`, until it has caught up).
int Tail(const std::shared_ptr<grpc::Channel>& channel, const hub::v1::SubscribeRequest& request,
         bool until_caught_up, const OutputOptions& output);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_EVENT_COMMANDS_H_
