// What the hub does with bytes it did not write, as fuzz targets: each takes
// arbitrary input, runs it through the code that parses and judges requests
// and protocols, and aborts if an invariant breaks (a crash or a sanitizer
// finding is the other failure). Run by a seeded random-mutation test in
// every build (tests/tools/fuzz_test.cc), and coverage-guided as libFuzzer
// binaries of a clang build (tools/fuzz/run_libfuzzer.sh).
#ifndef HUB_TOOLS_FUZZ_FUZZ_TARGETS_H_
#define HUB_TOOLS_FUZZ_FUZZ_TARGETS_H_

#include <string_view>

namespace hub::fuzz {

// A serialized PublishRequest from an agency system: parsed, validated and
// stamped as the publish path does (services/envelope.h), judged by the
// example protocol's recording rules against an empty case, and every
// stored payload checked: within the limits, parseable, enums declared,
// readable by the views' header reader and redactable.
void PublishRequestTarget(std::string_view bytes);

// Sharing-protocol text as an operator would apply it: parsed and
// validated; a protocol that passes is turned into the reading and
// recording policies and every decision is asked of them.
void SharingProtocolTarget(std::string_view text);

// The bytes of a view's stored event as the subscription path reads them
// without parsing (services/envelope.h ReadEnvelopeHeader) and delivers them.
void StoredEventTarget(std::string_view bytes);

}  // namespace hub::fuzz

#endif  // HUB_TOOLS_FUZZ_FUZZ_TARGETS_H_
