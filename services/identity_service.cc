#include "services/identity_service.h"

#include "services/grpc_status.h"
#include "services/metrics.h"

namespace hub::services {

grpc::ServerUnaryReactor* IdentityService::WhoAmI(grpc::CallbackServerContext* context,
                                                  const hub::v1::WhoAmIRequest*,
                                                  hub::v1::WhoAmIResponse* response) {
  CountedCall call(metrics_, "WhoAmI");
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call, principal.status());
  call.SetPrincipal(*principal);
  *response->mutable_principal() = *std::move(principal);
  const std::shared_ptr<const auth::PrincipalDirectory> directory = authenticator_->directory();
  response->set_partnership(directory->partnership());
  response->set_protocol_version(directory->protocol_version());
  return FinishUnary(context, call, absl::OkStatus());
}

}  // namespace hub::services
