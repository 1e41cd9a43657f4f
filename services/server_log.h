// Structured, one-line-per-event logging for the hub's processes:
//   ts=2026-11-23T12:00:00.123Z level=info msg="event log verified" key=value ...
// Values are quoted when they contain spaces or quotes. Callers must never
// pass case content or personal data: only ids of the hub's own making,
// counts, positions, durations and error messages.
#ifndef HUB_SERVICES_SERVER_LOG_H_
#define HUB_SERVICES_SERVER_LOG_H_

#include <string>
#include <utility>
#include <vector>

namespace hub::services {

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Writes one line to stderr. Safe to call concurrently; lines never interleave.
void LogInfo(const std::string& message, const LogFields& fields);
void LogWarning(const std::string& message, const LogFields& fields);
void LogError(const std::string& message, const LogFields& fields);

// Sends what Protocol Buffers and gRPC log themselves (a request that does
// not parse, a connection error) through the same structured lines, with
// source=protobuf or source=grpc, instead of their own formats on stderr.
// Their messages name fields and peers, never field values.
void RouteLibraryLogsToServerLog();

// The line LogInfo/LogWarning/LogError would write, without the timestamp.
std::string FormatLogLine(const char* level, const std::string& message, const LogFields& fields);

}  // namespace hub::services

#endif  // HUB_SERVICES_SERVER_LOG_H_
