// The one place where absl::Status becomes grpc::Status.
#ifndef HUB_SERVICES_GRPC_STATUS_H_
#define HUB_SERVICES_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace hub::services {

// Same code, same message; payloads are not sent to clients.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Finishes a unary callback call with `status` and returns its reactor.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status);

}  // namespace hub::services

#endif  // HUB_SERVICES_GRPC_STATUS_H_
