#include "tools/hubctl/connection.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

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

}  // namespace hub::tools
