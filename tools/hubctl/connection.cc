#include "tools/hubctl/connection.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "hub/v1/identity_service.grpc.pb.h"
#include "tools/hubctl/cli.h"

namespace hub::tools {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options) {
  grpc::SslCredentialsOptions ssl;
  for (auto [path, pem] : {std::pair{options.ca_cert_path, &ssl.pem_root_certs},
                           std::pair{options.cert_path, &ssl.pem_cert_chain},
                           std::pair{options.key_path, &ssl.pem_private_key}}) {
    absl::StatusOr<std::string> contents = ReadFile(path);
    if (!contents.ok()) return contents.status();
    *pem = *std::move(contents);
  }
  return grpc::CreateChannel(options.hub_address, grpc::SslCredentials(ssl));
}

absl::StatusOr<std::string> PreparedFor(const std::shared_ptr<grpc::Channel>& channel,
                                        int timeout_ms) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout_ms);
  hub::v1::WhoAmIResponse who;
  grpc::Status status =
      hub::v1::IdentityService::NewStub(channel)->WhoAmI(&context, hub::v1::WhoAmIRequest(), &who);
  if (!status.ok()) return absl::UnavailableError(Describe(status));
  return absl::StrCat(who.principal().display_name(), " (", who.principal().identity(), ")");
}

}  // namespace hub::tools
