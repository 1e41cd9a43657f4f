#include "tools/fuzz/fuzz_seeds.h"

#include <fstream>
#include <iterator>

#include "tools/demo/demo_site.h"

namespace hub::fuzz {
namespace {

hub::tools::DemoSite Site(double scale) {
  hub::tools::DemoOptions options;
  options.scale = scale;
  return hub::tools::GenerateDemoSite(options);
}

}  // namespace

std::vector<std::string> PublishRequestSeeds(double scale) {
  std::vector<std::string> seeds;
  for (const hub::tools::DemoCase& demo_case : Site(scale).cases) {
    for (const hub::tools::DemoPublish& publish : demo_case.publishes) {
      seeds.push_back(publish.request.SerializeAsString());
    }
  }
  return seeds;
}

std::vector<std::string> StoredEventSeeds(double scale) {
  std::vector<std::string> seeds;
  for (const hub::tools::DemoCase& demo_case : Site(scale).cases) {
    for (const hub::tools::DemoPublish& publish : demo_case.publishes) {
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        seeds.push_back(event.SerializeAsString());
      }
    }
  }
  return seeds;
}

std::string ExampleProtocolSeed() {
  std::ifstream file(std::string(HUB_SOURCE_DIR) + "/deploy/examples/sharing_protocol.textproto");
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

}  // namespace hub::fuzz
