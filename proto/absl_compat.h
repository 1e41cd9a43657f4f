// Debian 12's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so the two do not convert implicitly. The project's
// interfaces use std::string_view; this is the one bridge to Abseil's.
#ifndef HUB_PROTO_ABSL_COMPAT_H_
#define HUB_PROTO_ABSL_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace hub {

inline absl::string_view AsAbsl(std::string_view text) { return {text.data(), text.size()}; }

inline std::string_view AsStd(absl::string_view text) { return {text.data(), text.size()}; }

}  // namespace hub

#endif  // HUB_PROTO_ABSL_COMPAT_H_
