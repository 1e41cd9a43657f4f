// Machine-readable details on an error, the google.rpc way: an
// absl::Status carries them as payloads keyed by their type URL, and the
// service layer sends them as the google.rpc.Status a gRPC client decodes
// from the grpc-status-details-bin trailer. So a program need not parse a
// message for a field name, a quota or a reason; the message stays for
// people. Here, with the contract, because every layer adds them.
#ifndef HUB_PROTO_ERROR_DETAILS_H_
#define HUB_PROTO_ERROR_DETAILS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"

namespace hub {

// The domain of every ErrorInfo the hub sends.
inline constexpr char kErrorDomain[] = "hub.drive-partnership";

// `status` with a google.rpc.ErrorInfo: a stable UPPER_SNAKE_CASE reason and
// its particulars.
absl::Status WithErrorInfo(absl::Status status, std::string_view reason,
                           const std::vector<std::pair<std::string, std::string>>& metadata = {});
// `status` with a google.rpc.BadRequest naming the request field at fault.
absl::Status WithFieldViolation(absl::Status status, std::string_view field,
                                std::string_view description);
// `status` with a google.rpc.QuotaFailure naming the quota (its setting).
absl::Status WithQuotaViolation(absl::Status status, std::string_view subject,
                                std::string_view description);
// `status` with a google.rpc.RetryInfo: retry after `delay`.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);
// `status` marked as one that retrying unchanged will not pass (a limit of
// the protocol rather than of the moment): it gets no RetryInfo.
absl::Status WithoutRetry(absl::Status status);

// The google.rpc.Status of `status`: its code, message and the details
// above. Statuses a client should retry (UNAVAILABLE, ABORTED,
// RESOURCE_EXHAUSTED) carry a RetryInfo even if none was given, unless
// marked WithoutRetry.
google::rpc::Status RpcStatusOf(const absl::Status& status);

}  // namespace hub

#endif  // HUB_PROTO_ERROR_DETAILS_H_
