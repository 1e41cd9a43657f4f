// Reading the google.rpc error details a hub status carries, as a client
// library would from the grpc-status-details-bin trailer.
#ifndef HUB_TESTS_INTEGRATION_ERROR_DETAILS_H_
#define HUB_TESTS_INTEGRATION_ERROR_DETAILS_H_

#include <optional>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace hub::testing {

// The detail of type `Detail` in `status`, if it carries one.
template <typename Detail>
std::optional<Detail> DetailOf(const grpc::Status& status) {
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(status.error_details())) return std::nullopt;
  for (const google::protobuf::Any& any : rpc.details()) {
    Detail detail;
    if (any.UnpackTo(&detail)) return detail;
  }
  return std::nullopt;
}

}  // namespace hub::testing

#endif  // HUB_TESTS_INTEGRATION_ERROR_DETAILS_H_
