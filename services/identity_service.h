// IdentityService: tells an agency system how the hub sees its certificate.
#ifndef HUB_SERVICES_IDENTITY_SERVICE_H_
#define HUB_SERVICES_IDENTITY_SERVICE_H_

#include <memory>

#include "services/authenticator.h"
#include "services/metrics.h"

#include "hub/v1/identity_service.grpc.pb.h"

namespace hub::services {

class IdentityService final : public hub::v1::IdentityService::CallbackService {
 public:
  IdentityService(std::shared_ptr<const Authenticator> authenticator, Metrics* metrics)
      : authenticator_(std::move(authenticator)), metrics_(metrics) {}

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* context,
                                   const hub::v1::WhoAmIRequest* request,
                                   hub::v1::WhoAmIResponse* response) override;

 private:
  std::shared_ptr<const Authenticator> authenticator_;
  Metrics* const metrics_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_IDENTITY_SERVICE_H_
