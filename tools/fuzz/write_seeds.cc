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
#include <vector>

#include "absl/strings/str_format.h"

#include "tools/fuzz/fuzz_seeds.h"

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
  const auto write_all = [&dir](const char* sub, const std::vector<std::string>& seeds) {
    std::filesystem::create_directories(dir + "/" + sub);
    for (size_t i = 0; i < seeds.size(); ++i) {
      if (!Write(absl::StrFormat("%s/%s/%05d", dir, sub, i), seeds[i])) return false;
    }
    return true;
  };
  const std::vector<std::string> publishes = hub::fuzz::PublishRequestSeeds(0.05);
  const std::vector<std::string> events = hub::fuzz::StoredEventSeeds(0.05);
  const std::string protocol = hub::fuzz::ExampleProtocolSeed();
  if (protocol.empty() || !write_all("publish", publishes) || !write_all("stored", events) ||
      !write_all("protocol", {protocol})) {
    return 1;
  }
  std::printf("%zu publish requests, %zu stored events, 1 sharing protocol in %s\n",
              publishes.size(), events.size(), dir.c_str());
  return 0;
}
