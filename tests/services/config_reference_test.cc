// The configuration reference (docs/CONFIGURATION.md) and the example file
// (deploy/examples/hubd.textproto) name every option hubd has: a new option
// in config.proto without documentation fails here.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

#include "hub/v1/config.pb.h"

namespace hub::services {
namespace {

void OptionPaths(const google::protobuf::Descriptor* message, const std::string& prefix,
                 std::vector<std::string>* out) {
  for (int i = 0; i < message->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = message->field(i);
    const std::string path = prefix.empty() ? field->name() : prefix + "." + field->name();
    if (field->message_type() != nullptr) {
      OptionPaths(field->message_type(), path, out);
    } else {
      out->push_back(path);
    }
  }
}

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(ConfigReferenceTest, EveryOptionIsDocumentedWithItsDefaultAndInTheExampleFile) {
  std::vector<std::string> options;
  OptionPaths(hub::v1::HubConfig::descriptor(), "", &options);
  ASSERT_GT(options.size(), 15u);
  const std::string reference = Read(std::string(HUB_SOURCE_DIR) + "/docs/CONFIGURATION.md");
  const std::string example = Read(std::string(HUB_SOURCE_DIR) + "/deploy/examples/hubd.textproto");
  ASSERT_FALSE(reference.empty());
  for (const std::string& option : options) {
    EXPECT_NE(reference.find("| `" + option + "` |"), std::string::npos)
        << option << " is not in docs/CONFIGURATION.md";
    const std::string leaf = option.substr(option.rfind('.') + 1);
    // allow_no_crl is deliberately left out of the example: it disables
    // revocation checks.
    if (leaf != "allow_no_crl") {
      EXPECT_NE(example.find(leaf + ":"), std::string::npos)
          << option << " is not in deploy/examples/hubd.textproto";
    }
  }
}

// The configuration files shipped for systemd and containers parse as
// hubd's configuration (a misspelt option would stop hubd at start).
TEST(ConfigReferenceTest, TheDeploymentConfigurationsParse) {
  for (const char* path : {"/deploy/systemd/hubd.textproto", "/deploy/container/hubd.textproto",
                           "/deploy/examples/hubd.textproto"}) {
    const std::string text = Read(std::string(HUB_SOURCE_DIR) + path);
    ASSERT_FALSE(text.empty()) << path;
    hub::v1::HubConfig config;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << path;
  }
}

}  // namespace
}  // namespace hub::services
