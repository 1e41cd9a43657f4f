// The sharing protocol in force is recorded in the event log itself: every
// change is a ProtocolChanged event in case "hub.protocol", so the log says
// which protocol applied when, and the latest record is the one in force.
#ifndef HUB_SERVICES_PROTOCOL_RECORDS_H_
#define HUB_SERVICES_PROTOCOL_RECORDS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

#include "storage/event_log.h"

#include "hub/v1/sharing_protocol.pb.h"

namespace hub::services {

inline constexpr char kProtocolCase[] = "hub.protocol";

struct RecordedProtocol {
  hub::v1::SharingProtocol protocol;
  std::string text;
  std::string digest;
  uint64_t position = 0;
  uint64_t case_version = 0;
};

// The latest recorded protocol, or nullopt if none was ever recorded.
absl::StatusOr<std::optional<RecordedProtocol>> LatestRecordedProtocol(
    const storage::EventLog& log);

// Records `protocol` (parsed from `text`) as the one in force; fails with a
// version conflict if another change was recorded since `expected_version`
// of the protocol case. Returns the log position of the record.
absl::StatusOr<uint64_t> RecordProtocol(storage::EventLog* log,
                                        const hub::v1::SharingProtocol& protocol,
                                        const std::string& text,
                                        const std::string& previous_version,
                                        uint64_t expected_version, const std::string& recorded_by);

}  // namespace hub::services

#endif  // HUB_SERVICES_PROTOCOL_RECORDS_H_
