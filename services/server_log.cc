#include "services/server_log.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"

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

void ProtobufLog(google::protobuf::LogLevel level, const char* filename, int line,
                 const std::string& message) {
  const char* severity = level >= google::protobuf::LOGLEVEL_ERROR     ? "error"
                         : level == google::protobuf::LOGLEVEL_WARNING ? "warn"
                                                                       : "info";
  Write(severity, message,
        {{"source", "protobuf"},
         {"at", absl::StrCat(filename == nullptr ? "" : filename, ":", line)}});
}

void GrpcLog(gpr_log_func_args* args) {
  const char* severity = args->severity == GPR_LOG_SEVERITY_ERROR  ? "error"
                         : args->severity == GPR_LOG_SEVERITY_INFO ? "info"
                                                                   : "debug";
  Write(severity, args->message == nullptr ? "" : args->message,
        {{"source", "grpc"},
         {"at", absl::StrCat(args->file == nullptr ? "" : args->file, ":", args->line)}});
}

}  // namespace

void RouteLibraryLogsToServerLog() {
  google::protobuf::SetLogHandler(&ProtobufLog);
  gpr_set_log_function(&GrpcLog);
}

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
