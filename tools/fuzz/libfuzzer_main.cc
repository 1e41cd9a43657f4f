// One fuzz target (tools/fuzz/fuzz_targets.h) as a libFuzzer binary, built
// by clang with -DHUB_LIBFUZZER=ON (tools/fuzz/run_libfuzzer.sh): the
// target is named at compile time by HUB_FUZZ_TARGET.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "google/protobuf/stubs/logging.h"

#include "tools/fuzz/fuzz_targets.h"

#ifndef HUB_FUZZ_TARGET
#error "HUB_FUZZ_TARGET names the target this binary drives"
#endif

namespace {

// Protobuf logs every invalid UTF-8 string it meets; millions of lines
// would say nothing and slow the fuzzer down.
void Quiet(google::protobuf::LogLevel, const char*, int, const std::string&) {}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(&Quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hub::fuzz::HUB_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
