#include "services/grpc_status.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

#include "proto/error_details.h"
#include "storage/event_log.h"

namespace hub::services {
namespace {

grpc::Status WithDetails(const absl::Status& status) {
  // absl::StatusCode and grpc::StatusCode share their numbering (both follow
  // google.rpc.Code), so the cast is exact for every defined code. The
  // details (a google.rpc.Status in the grpc-status-details-bin trailer) let
  // a program act without parsing the message.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      RpcStatusOf(status).SerializeAsString());
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // The log says which version a conflicting case is at; a program gets it
  // as an ErrorInfo rather than by parsing the message.
  if (std::optional<uint64_t> current = storage::CurrentVersionFromConflict(status);
      current.has_value()) {
    return WithDetails(
        WithErrorInfo(status, "VERSION_CONFLICT", {{"current_version", absl::StrCat(*current)}}));
  }
  return WithDetails(status);
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace hub::services
