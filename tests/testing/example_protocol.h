// The example sharing protocol (deploy/examples/sharing_protocol.textproto),
// loaded and validated as hubd loads it, for tests that judge against it.
// Test targets define HUB_SOURCE_DIR.
#ifndef HUB_TESTS_TESTING_EXAMPLE_PROTOCOL_H_
#define HUB_TESTS_TESTING_EXAMPLE_PROTOCOL_H_

#include <string>

#include "gtest/gtest.h"

#include "auth/sharing_protocol.h"

namespace hub::testing {

inline std::string ExampleProtocolFile() {
  return std::string(HUB_SOURCE_DIR) + "/deploy/examples/sharing_protocol.textproto";
}

// The protocol; a test failure (and an empty protocol) if it does not load
// or warns.
inline hub::v1::SharingProtocol LoadExampleProtocol() {
  absl::StatusOr<auth::LoadedProtocol> loaded =
      auth::LoadSharingProtocolFile(ExampleProtocolFile());
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return {};
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings.front();
  return loaded->protocol;
}

}  // namespace hub::testing

#endif  // HUB_TESTS_TESTING_EXAMPLE_PROTOCOL_H_
