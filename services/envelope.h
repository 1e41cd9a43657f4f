// Turning a PublishRequest into what the event log stores: validating every
// envelope and stamping what only the hub may set (producing agency from the
// certificate, recorded time, classification). And back: a stored event as
// the envelope a reader receives.
#ifndef HUB_SERVICES_ENVELOPE_H_
#define HUB_SERVICES_ENVELOPE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "auth/field_sealing.h"
#include "storage/event_log.h"
#include "storage/view_store.h"

#include "hub/v1/config.pb.h"
#include "hub/v1/event_service.pb.h"
#include "hub/v1/sharing_protocol.pb.h"

namespace hub::services {

// Case ids the hub keeps for its own records (e.g. "hub.protocol").
inline constexpr char kReservedCasePrefix[] = "hub.";

// How far in the future an occurred_time may be (clock skew between systems).
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);

// Validates `request` from `principal` at `now` and returns the append, or:
//  PERMISSION_DENIED  the role may not publish, or an envelope claims another
//                     producing agency or identity than the certificate's;
//  INVALID_ARGUMENT   anything malformed, naming the envelope and field.
// Nothing is written either way. `envelopes`, if given, receives the stamped
// envelopes in order (what the append's payloads serialize, before they are
// sealed).
absl::StatusOr<storage::AppendRequest> PrepareAppend(
    const hub::v1::Principal& principal, const hub::v1::PublishRequest& request, absl::Time now,
    const hub::v1::LimitsConfig& limits, std::vector<hub::v1::EventEnvelope>* envelopes = nullptr);

// The envelope for a stored event, with its position and version filled in,
// its sealed parts opened with `sealer` (parts whose key was erased are left
// out and described in `erased`, if given). DATA_LOSS if the stored payload
// does not parse; FAILED_PRECONDITION for a sealed payload without a sealer.
google::protobuf::Timestamp ToTimestamp(absl::Time time);

// An event the hub records itself (a protocol change, an erasure, a
// restriction): into `case_id`, by `by` (the identity that asked) at `now`,
// for governance under `lawful_basis`. The caller sets the event.
hub::v1::EventEnvelope HubRecord(std::string event_id, const std::string& case_id,
                                 const std::string& by, absl::Time now, std::string lawful_basis);

// Parts under a key in `withheld` (a restriction of processing) stay closed
// and are described as restricted. A sealed event's routing facts go into
// `routing` if given (auth::FieldSealer::Open); a plain one names no
// subject and routes as it is, so `routing` is then left alone.
absl::StatusOr<hub::v1::EventEnvelope> EnvelopeOf(const storage::StoredEvent& event,
                                                  const auth::FieldSealer* sealer = nullptr,
                                                  std::vector<auth::ErasedPart>* erased = nullptr,
                                                  const auth::WithheldKeys* withheld = nullptr,
                                                  hub::v1::EventEnvelope* routing = nullptr);
// The same into `envelope` (which may live on an arena).
absl::Status ParseEnvelope(const storage::StoredEvent& event, hub::v1::EventEnvelope* envelope,
                           const auth::FieldSealer* sealer = nullptr,
                           const auth::WithheldKeys* withheld = nullptr,
                           hub::v1::EventEnvelope* routing = nullptr);
// What a reader is told of where an event is: its number in the reader's
// own view (1, 2, 3, ... with no gaps for events it does not see) plus the
// view generation times kGenerationStride. A protocol change numbers every
// view afresh under a new generation, so a position a reader kept still
// names the event it named.
inline constexpr uint64_t kGenerationStride = 1'000'000'000'000;
inline uint64_t ReaderPosition(uint32_t generation, uint64_t view_position) {
  return generation * kGenerationStride + view_position;
}

// The same for an event of a view (already shaped for its principal), with
// the numbers of the principal's view in `generation`: global_position is
// its ReaderPosition, stream_version its version in the case as the
// principal sees it.
absl::StatusOr<hub::v1::EventEnvelope> EnvelopeOf(const storage::ViewEvent& event,
                                                  uint32_t generation);
// The same into `envelope` (which may live on an arena).
absl::Status ParseViewEvent(const storage::ViewEvent& event, uint32_t generation,
                            hub::v1::EventEnvelope* envelope);

// What a stream needs to know of a view's event to filter and audit it,
// read from the top level of its stored bytes without parsing it whole.
struct EnvelopeHeader {
  hub::v1::Purpose purpose = hub::v1::PURPOSE_UNSPECIFIED;
  hub::v1::DataClass classification = hub::v1::DATA_CLASS_UNSPECIFIED;
  // The field number of the event's type in EventEnvelope's `event` oneof
  // (0: none).
  int event_type_field = 0;
};
// DATA_LOSS if the payload is not a well-formed message.
absl::StatusOr<EnvelopeHeader> ReadEnvelopeHeader(std::string_view payload);

// Whether a stored event (of either form: the sealed one keeps the event's
// type in the clear) is a correction, read without opening or parsing it
// whole. DATA_LOSS if it is not well-formed.
absl::StatusOr<bool> IsStoredCorrection(std::string_view stored);

// A SubscribeResponse carrying `event`, serialized straight from the stored
// bytes with its position and version appended: protobuf parsers take the
// last value of a repeated scalar field, so readers see exactly what
// EnvelopeOf(event) would give them, without the hub parsing and
// re-serializing every event it streams.
std::string SerializedDelivery(const storage::ViewEvent& event, uint32_t generation);

}  // namespace hub::services

#endif  // HUB_SERVICES_ENVELOPE_H_
