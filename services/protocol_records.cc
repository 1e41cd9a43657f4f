#include "services/protocol_records.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "auth/sharing_protocol.h"
#include "proto/status_macros.h"
#include "services/envelope.h"
#include "services/views.h"

namespace hub::services {

absl::StatusOr<std::optional<RecordedProtocol>> LatestRecordedProtocol(
    const storage::EventLog& log) {
  HUB_ASSIGN_OR_RETURN(uint64_t version, log.CaseVersion(kProtocolCase));
  if (version == 0) return std::optional<RecordedProtocol>();
  HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> events,
                       log.ReadCase(kProtocolCase, version, 1));
  if (events.empty()) return absl::DataLossError("the latest protocol record cannot be read");
  HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(events.front()));
  if (!envelope.has_protocol_changed()) {
    return absl::DataLossError(absl::StrCat("position ", events.front().position, " in case ",
                                            kProtocolCase, " is not a protocol record"));
  }
  absl::StatusOr<auth::LoadedProtocol> loaded = auth::ParseSharingProtocol(
      envelope.protocol_changed().protocol_text(),
      absl::StrCat("the protocol recorded at position ", events.front().position));
  if (!loaded.ok()) return loaded.status();
  RecordedProtocol recorded;
  recorded.protocol = std::move(loaded->protocol);
  recorded.text = envelope.protocol_changed().protocol_text();
  recorded.digest = envelope.protocol_changed().digest();
  recorded.position = events.front().position;
  recorded.case_version = version;
  return std::optional<RecordedProtocol>(std::move(recorded));
}

absl::StatusOr<uint64_t> RecordProtocol(storage::EventLog* log,
                                        const hub::v1::SharingProtocol& protocol,
                                        const std::string& text,
                                        const std::string& previous_version,
                                        uint64_t expected_version, const std::string& recorded_by) {
  hub::v1::EventEnvelope envelope =
      HubRecord(absl::StrCat("hub-protocol-", expected_version + 1), kProtocolCase, recorded_by,
                absl::Now(), "UK GDPR Art 5(2) and Art 30 (accountability, records of processing)");
  hub::v1::ProtocolChanged* changed = envelope.mutable_protocol_changed();
  changed->set_version(protocol.version());
  changed->set_digest(ProtocolDigest(protocol));
  changed->set_protocol_text(text);
  changed->set_previous_version(previous_version);
  storage::AppendRequest append;
  append.case_id = kProtocolCase;
  append.expected_version = expected_version;
  append.events.push_back({envelope.event_id(), envelope.SerializeAsString()});
  HUB_ASSIGN_OR_RETURN(storage::AppendResult result, log->Append(append));
  return result.first_position;
}

}  // namespace hub::services
