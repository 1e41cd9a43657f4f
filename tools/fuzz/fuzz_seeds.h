// The valid inputs fuzzing starts from, shared by the seeded mutation test
// (tests/tools/fuzz_test.cc) and the libFuzzer seed corpora (fuzz_seeds).
#ifndef HUB_TOOLS_FUZZ_FUZZ_SEEDS_H_
#define HUB_TOOLS_FUZZ_FUZZ_SEEDS_H_

#include <string>
#include <vector>

namespace hub::fuzz {

// The demonstration site's publish requests at `scale`, serialized.
std::vector<std::string> PublishRequestSeeds(double scale);
// The events of those publishes, serialized as the log stores them.
std::vector<std::string> StoredEventSeeds(double scale);
// The example sharing protocol's text (deploy/examples).
std::string ExampleProtocolSeed();

}  // namespace hub::fuzz

#endif  // HUB_TOOLS_FUZZ_FUZZ_SEEDS_H_
