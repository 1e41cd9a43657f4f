#include "services/identity_service.h"

#include "services/grpc_status.h"

namespace hub::services {

grpc::ServerUnaryReactor* IdentityService::WhoAmI(grpc::CallbackServerContext* context,
                                                  const hub::v1::WhoAmIRequest*,
                                                  hub::v1::WhoAmIResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) {
    reactor->Finish(ToGrpcStatus(principal.status()));
    return reactor;
  }
  *response->mutable_principal() = *std::move(principal);
  const std::shared_ptr<const auth::PrincipalDirectory> directory = authenticator_->directory();
  response->set_partnership(directory->partnership());
  response->set_protocol_version(directory->protocol_version());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace hub::services
