// Writes the seed corpora of the libFuzzer binaries: the demonstration
// site's publishes (fuzz_publish_request), its events as stored
// (fuzz_stored_event) and the example sharing protocol
// (fuzz_sharing_protocol), the same seeds the mutation test uses.
//
// Usage: fuzz_seeds DIR   (writes DIR/publish, DIR/stored, DIR/protocol)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_format.h"

#include "tools/demo/demo_site.h"

namespace {

bool Write(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << bytes;
  return static_cast<bool>(file);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  for (const char* sub : {"publish", "stored", "protocol"}) {
    std::filesystem::create_directories(dir + "/" + sub);
  }
  hub::tools::DemoOptions options;
  options.scale = 0.05;
  int publishes = 0;
  int events = 0;
  for (const hub::tools::DemoCase& demo_case : hub::tools::GenerateDemoSite(options).cases) {
    for (const hub::tools::DemoPublish& publish : demo_case.publishes) {
      if (!Write(absl::StrFormat("%s/publish/%05d", dir, publishes++),
                 publish.request.SerializeAsString())) {
        return 1;
      }
      for (const hub::v1::EventEnvelope& event : publish.request.events()) {
        if (!Write(absl::StrFormat("%s/stored/%05d", dir, events++), event.SerializeAsString())) {
          return 1;
        }
      }
    }
  }
  std::ifstream example(std::string(HUB_SOURCE_DIR) +
                        "/deploy/examples/sharing_protocol.textproto");
  std::string text((std::istreambuf_iterator<char>(example)), std::istreambuf_iterator<char>());
  if (text.empty() || !Write(dir + "/protocol/example.textproto", text)) return 1;
  std::printf("%d publish requests, %d stored events, 1 sharing protocol in %s\n", publishes,
              events, dir.c_str());
  return 0;
}
