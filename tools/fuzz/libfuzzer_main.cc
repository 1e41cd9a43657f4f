// One libFuzzer binary per target (HUB_FUZZ_TARGET names it); built only
// with clang and -DHUB_LIBFUZZER=ON, see tools/fuzz/run_libfuzzer.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tools/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hub::fuzz::HUB_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
