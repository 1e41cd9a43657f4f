// Checks every request meets the contract before anything acts on it, so
// a careless or hostile client cannot store what the contract does not
// define. Protobuf accepts any number in an enum field (proto3 enums are
// open) and any length in a string; these checks close both, by reflection
// over the contract, never per message type.
#ifndef HUB_SERVICES_REQUEST_VALIDATION_H_
#define HUB_SERVICES_REQUEST_VALIDATION_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace hub::services {

// Defaults of limits.max_text_bytes and limits.max_free_text_bytes.
inline constexpr uint32_t kDefaultMaxTextBytes = 256;
inline constexpr uint32_t kDefaultMaxFreeTextBytes = 8192;

// INVALID_ARGUMENT naming the field (under `path`, e.g. "events[2]") if any
// enum field of `message`, or of a message inside it, holds a number its
// enum does not declare. A client with a newer contract learns which field
// this hub does not understand yet.
absl::Status CheckKnownEnums(const google::protobuf::Message& message, std::string_view path);

struct TextLimits {
  uint32_t max_text_bytes = kDefaultMaxTextBytes;
  uint32_t max_free_text_bytes = kDefaultMaxFreeTextBytes;
};

// INVALID_ARGUMENT naming the field if a string field of `message` (or of a
// message inside it) is longer than its limit or holds characters that
// have no place in it: control characters (line breaks and tabs are allowed
// in free text) and the Unicode bidirectional overrides that make a text
// display differently from what it says. Which limit applies is the
// contract's (free_text) option. Strings parsed by protobuf are valid UTF-8
// already.
absl::Status CheckText(const google::protobuf::Message& message, std::string_view path,
                       const TextLimits& limits);

// How many leading bytes of `text` to keep so that at most `max_bytes`
// remain and no UTF-8 sequence is cut (what is kept stays valid UTF-8).
size_t Utf8PrefixLength(std::string_view text, size_t max_bytes);

// The page size a list call serves, as AIP-158 has it: 0 means
// `default_size`, a size above `max_size` is served as `max_size` (the
// response's next_page_token says more follows); only a negative size is
// INVALID_ARGUMENT.
absl::StatusOr<size_t> ServedPageSize(int32_t requested, size_t default_size, size_t max_size);

}  // namespace hub::services

#endif  // HUB_SERVICES_REQUEST_VALIDATION_H_
