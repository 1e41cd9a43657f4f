#include "services/server_log.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hub::services {
namespace {

void AppendValue(const std::string& value, std::string* line) {
  const bool needs_quotes = value.empty() || value.find_first_of(" \"=\t\n\\") != std::string::npos;
  if (!needs_quotes) {
    line->append(value);
    return;
  }
  line->push_back('"');
  for (char c : value) {
    switch (c) {
      case '"':
        line->append("\\\"");
        break;
      case '\\':
        line->append("\\\\");
        break;
      case '\n':
        line->append("\\n");
        break;
      case '\t':
        line->append("\\t");
        break;
      default:
        line->push_back(c);
    }
  }
  line->push_back('"');
}

void Write(const char* level, const std::string& message, const LogFields& fields) {
  std::string line = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
      FormatLogLine(level, message, fields), "\n");
  // One write(2) per line keeps concurrent lines whole.
  const ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

std::string FormatLogLine(const char* level, const std::string& message, const LogFields& fields) {
  std::string line = absl::StrCat("level=", level, " msg=");
  AppendValue(message, &line);
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, " ", key, "=");
    AppendValue(value, &line);
  }
  return line;
}

void LogInfo(const std::string& message, const LogFields& fields) {
  Write("info", message, fields);
}
void LogWarning(const std::string& message, const LogFields& fields) {
  Write("warn", message, fields);
}
void LogError(const std::string& message, const LogFields& fields) {
  Write("error", message, fields);
}

}  // namespace hub::services
