// Drives the fuzz targets (tools/fuzz/fuzz_targets.h) with seeded random
// mutations of valid inputs, for a bounded time in every build, the
// sanitizer build included: no crash, no sanitizer finding, no broken
// invariant. HUB_FUZZ_SECONDS (default 3 per target) runs longer; the
// seed is printed so a failure can be replayed with HUB_FUZZ_SEED.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"

#include "tools/fuzz/fuzz_seeds.h"
#include "tools/fuzz/fuzz_targets.h"

namespace hub::fuzz {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value == nullptr ? fallback : std::strtoull(value, nullptr, 10);
}

// One mutation of `input`, chosen as a fuzzer would: bit flips, bytes set
// to boundary values, insertions, deletions, duplicated or spliced runs,
// truncation.
std::string Mutate(const std::string& input, const std::vector<std::string>& corpus,
                   std::mt19937_64& random) {
  std::string out = input;
  const int rounds = 1 + static_cast<int>(random() % 4);
  for (int round = 0; round < rounds; ++round) {
    const size_t size = out.size();
    auto at = [&](size_t bound) { return bound == 0 ? 0 : random() % bound; };
    switch (random() % 8) {
      case 0:
        if (size > 0) out[at(size)] ^= static_cast<char>(1 << (random() % 8));
        break;
      case 1: {
        static const char kBoundaries[] = {'\x00', '\x01', '\x7f', '\x80', '\xff', '\xfe', '\x0a'};
        if (size > 0) out[at(size)] = kBoundaries[random() % sizeof(kBoundaries)];
        break;
      }
      case 2:
        out.insert(at(size + 1), 1 + at(8), static_cast<char>(random()));
        break;
      case 3:
        if (size > 0) {
          const size_t from = at(size);
          out.erase(from, 1 + at(std::min<size_t>(16, size - from)));
        }
        break;
      case 4:
        if (size > 0) {
          const size_t from = at(size);
          const size_t length = 1 + at(std::min<size_t>(64, size - from));
          out.insert(at(out.size() + 1), out.substr(from, length));
        }
        break;
      case 5: {
        const std::string& other = corpus[at(corpus.size())];
        if (!other.empty()) {
          const size_t from = at(other.size());
          out.insert(at(size + 1),
                     other.substr(from, 1 + at(std::min<size_t>(128, other.size() - from))));
        }
        break;
      }
      case 6:
        out.resize(at(size + 1));
        break;
      default: {
        // A varint at its largest, where a length or an enum was.
        static const std::string kHuge("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
        out.insert(at(size + 1), kHuge);
        break;
      }
    }
  }
  return out;
}

// Runs `target` on mutations of `corpus` for the time budget; returns how
// many inputs it ran.
uint64_t RunMutations(const std::vector<std::string>& corpus,
                      const std::function<void(std::string_view)>& target, uint64_t seed) {
  std::mt19937_64 random(seed);
  // Protobuf logs every invalid UTF-8 string it meets; millions of lines
  // would say nothing.
  google::protobuf::LogSilencer quiet;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(EnvOr("HUB_FUZZ_SECONDS", 3));
  uint64_t runs = 0;
  for (const std::string& input : corpus) {
    target(input);
    ++runs;
  }
  std::vector<std::string> pool = corpus;
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 64; ++i) {
      std::string input = Mutate(pool[random() % pool.size()], corpus, random);
      target(input);
      ++runs;
      // Keep some mutants as parents, so mutations compound.
      if (random() % 16 == 0 && pool.size() < 4096) pool.push_back(std::move(input));
    }
  }
  return runs;
}

uint64_t Seed() {
  static const uint64_t seed =
      EnvOr("HUB_FUZZ_SEED", static_cast<uint64_t>(std::random_device()()));
  return seed;
}

TEST(FuzzTest, PublishRequestsFromMutatedDemoPublishes) {
  const std::vector<std::string> corpus = PublishRequestSeeds(0.05);
  ASSERT_GT(corpus.size(), 20u);
  const uint64_t runs = RunMutations(corpus, PublishRequestTarget, Seed());
  std::printf("publish requests: %llu inputs from %zu seeds (HUB_FUZZ_SEED=%llu)\n",
              static_cast<unsigned long long>(runs), corpus.size(),
              static_cast<unsigned long long>(Seed()));
}

TEST(FuzzTest, SharingProtocolsFromTheMutatedExample) {
  const std::string text = ExampleProtocolSeed();
  ASSERT_FALSE(text.empty());
  const uint64_t runs = RunMutations({text}, SharingProtocolTarget, Seed() + 1);
  std::printf("sharing protocols: %llu inputs (HUB_FUZZ_SEED=%llu)\n",
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(Seed()));
}

TEST(FuzzTest, StoredEventsFromMutatedEnvelopes) {
  const std::vector<std::string> corpus = StoredEventSeeds(0.02);
  ASSERT_FALSE(corpus.empty());
  const uint64_t runs = RunMutations(corpus, StoredEventTarget, Seed() + 2);
  std::printf("stored events: %llu inputs (HUB_FUZZ_SEED=%llu)\n",
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(Seed()));
}

}  // namespace
}  // namespace hub::fuzz
