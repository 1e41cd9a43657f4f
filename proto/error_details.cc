#include "proto/error_details.h"

#include "absl/strings/cord.h"
#include "google/rpc/error_details.pb.h"

#include "proto/absl_compat.h"

namespace hub {
namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";
// The hub's own mark, never sent: see WithoutRetry.
constexpr char kNoRetryUrl[] = "hub.drive-partnership/no-retry";

std::string TypeUrl(const google::protobuf::Message& message) {
  return std::string(kTypeUrlPrefix) + message.GetDescriptor()->full_name();
}

template <typename Detail>
Detail Existing(const absl::Status& status) {
  Detail detail;
  if (auto payload = status.GetPayload(TypeUrl(detail)); payload.has_value()) {
    detail.ParseFromString(std::string(*payload));
  }
  return detail;
}

absl::Status With(absl::Status status, const google::protobuf::Message& detail) {
  if (status.ok()) return status;
  status.SetPayload(TypeUrl(detail), absl::Cord(detail.SerializeAsString()));
  return status;
}

}  // namespace

absl::Status WithErrorInfo(absl::Status status, std::string_view reason,
                           const std::vector<std::pair<std::string, std::string>>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(kErrorDomain);
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
  return With(std::move(status), info);
}

absl::Status WithFieldViolation(absl::Status status, std::string_view field,
                                std::string_view description) {
  auto request = Existing<google::rpc::BadRequest>(status);
  google::rpc::BadRequest::FieldViolation* violation = request.add_field_violations();
  violation->set_field(std::string(field));
  violation->set_description(std::string(description));
  return With(std::move(status), request);
}

absl::Status WithQuotaViolation(absl::Status status, std::string_view subject,
                                std::string_view description) {
  auto failure = Existing<google::rpc::QuotaFailure>(status);
  google::rpc::QuotaFailure::Violation* violation = failure.add_violations();
  violation->set_subject(std::string(subject));
  violation->set_description(std::string(description));
  return With(std::move(status), failure);
}

absl::Status WithRetryDelay(absl::Status status, absl::Duration delay) {
  google::rpc::RetryInfo retry;
  const int64_t nanos = absl::ToInt64Nanoseconds(delay);
  retry.mutable_retry_delay()->set_seconds(nanos / 1000000000);
  retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return With(std::move(status), retry);
}

absl::Status WithoutRetry(absl::Status status) {
  if (!status.ok()) status.SetPayload(kNoRetryUrl, absl::Cord());
  return status;
}

google::rpc::Status RpcStatusOf(const absl::Status& status) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  const absl::StatusCode code = status.code();
  absl::Status with_retry = status;
  if ((code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kAborted ||
       code == absl::StatusCode::kResourceExhausted) &&
      !status.GetPayload(TypeUrl(google::rpc::RetryInfo())).has_value() &&
      !status.GetPayload(kNoRetryUrl).has_value()) {
    with_retry = WithRetryDelay(
        status, code == absl::StatusCode::kAborted ? absl::Milliseconds(50) : absl::Seconds(1));
  }
  with_retry.ForEachPayload([&rpc](absl::string_view type_url, const absl::Cord& payload) {
    // Only google.rpc details: other payloads are the hub's own bookkeeping.
    if (type_url.rfind(kTypeUrlPrefix, 0) != 0) return;
    google::protobuf::Any* detail = rpc.add_details();
    detail->set_type_url(std::string(type_url));
    detail->set_value(std::string(payload));
  });
  return rpc;
}

}  // namespace hub
