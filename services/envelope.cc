#include "services/envelope.h"

#include <array>
#include <cctype>
#include <cstring>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/time_util.h"
#include "google/protobuf/wire_format_lite.h"

#include "auth/data_classes.h"
#include "proto/error_details.h"
#include "proto/status_macros.h"
#include "services/audit_trail.h"
#include "services/request_validation.h"

namespace hub::services {
namespace {

// A correction names the event it corrects and the fields it replaces, by
// their names in that event's type, and sets nothing else: a correction is
// read as "these fields now hold this".
absl::Status ValidateCorrection(const hub::v1::EventEnvelope& envelope, const std::string& where) {
  const hub::v1::RecordCorrected& correction = envelope.record_corrected();
  if (correction.corrected_event_id().empty() ||
      correction.corrected_event_id() == envelope.event_id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".record_corrected.corrected_event_id must name an earlier event of the case"));
  }
  if (correction.reason().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".record_corrected needs a reason, for those told of the correction"));
  }
  const google::protobuf::Reflection* reflection = correction.GetReflection();
  const google::protobuf::FieldDescriptor* member = auth::CorrectedTypeOf(correction);
  if (member == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ".record_corrected.corrected must hold the corrected event's type with the "
                     "corrected values, e.g. victim_safety_information"));
  }
  const google::protobuf::Message& values = reflection->GetMessage(correction, member);
  const google::protobuf::Descriptor* type = values.GetDescriptor();
  if (correction.fields().empty() || correction.fields_size() > type->field_count()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".record_corrected.fields must name the fields of ", member->name(),
                     " that are replaced"));
  }
  std::set<std::string> named;
  for (const std::string& name : correction.fields()) {
    const google::protobuf::FieldDescriptor* field = type->FindFieldByName(name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where,
                                                     ".record_corrected.fields: ", member->name(),
                                                     " has no field \"", Bounded(name, 64), "\""));
    }
    if (field->options().GetExtension(hub::v1::subject_reference)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".record_corrected.fields: ", member->name(), ".", name,
          " names a subject, which a correction does not change; link the right subject instead"));
    }
    if (!named.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".record_corrected.fields names ", name, " twice"));
    }
  }
  std::vector<const google::protobuf::FieldDescriptor*> set;
  values.GetReflection()->ListFields(values, &set);
  for (const google::protobuf::FieldDescriptor* field : set) {
    if (named.count(field->name()) == 0 &&
        !field->options().GetExtension(hub::v1::subject_reference)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".record_corrected.", member->name(), ".", field->name(),
          " is set but not named in fields: a correction sets only the fields it replaces"));
    }
  }
  return absl::OkStatus();
}

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxLawfulBasisBytes = 512;

bool IsUuid(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

// Checks one envelope and stamps what the hub owns.
absl::Status StampEnvelope(const hub::v1::Principal& principal, const std::string& case_id,
                           absl::Time now, const std::string& where, const TextLimits& text_limits,
                           hub::v1::EventEnvelope* envelope) {
  if (!IsUuid(envelope->event_id())) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".event_id \"", envelope->event_id(),
        "\" is not a UUID (e.g. 0b7e4f8c-1d2e-4a5b-8c6d-7e8f9a0b1c2d); choose one per event "
        "and reuse it when retrying"));
  }
  if (!envelope->case_id().empty() && envelope->case_id() != case_id) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".case_id is ", envelope->case_id(),
                                                   " but the request is for case ", case_id));
  }
  if (!envelope->producing_agency().empty() && envelope->producing_agency() != principal.agency()) {
    return absl::PermissionDeniedError(absl::StrCat(
        where, " claims producing_agency \"", envelope->producing_agency(),
        "\" but the caller's certificate is agency \"", principal.agency(),
        "\"; the hub takes the producing agency from the certificate, leave it unset"));
  }
  if (!envelope->producer_identity().empty() &&
      envelope->producer_identity() != principal.identity()) {
    return absl::PermissionDeniedError(
        absl::StrCat(where, " claims producer_identity ", envelope->producer_identity(),
                     " but the caller's certificate is ", principal.identity()));
  }
  if (envelope->has_recorded_time() || envelope->global_position() != 0 ||
      envelope->stream_version() != 0 ||
      envelope->classification() != hub::v1::DATA_CLASS_UNSPECIFIED ||
      envelope->erased_size() > 0 || envelope->corrections_size() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        " sets recorded_time, global_position, stream_version, classification, erased or "
        "corrections, which the hub stamps; leave them unset"));
  }
  const google::protobuf::Message* event = auth::EventOf(*envelope);
  if (event == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " has no event: set one of EventEnvelope's event fields, e.g. referral_received"));
  }
  if (envelope->has_protocol_changed()) {
    return absl::PermissionDeniedError(
        absl::StrCat(where,
                     " is a protocol_changed event, which only the hub records (use "
                     "PolicyService.ApplyProtocol)"));
  }
  if (envelope->has_data_erased()) {
    return absl::PermissionDeniedError(absl::StrCat(
        where, " is a data_erased event, which only the hub records (AdminService.EraseSubject)"));
  }
  if (envelope->has_processing_restricted()) {
    return absl::PermissionDeniedError(
        absl::StrCat(where,
                     " is a processing_restricted event, which only the hub records "
                     "(AdminService.RestrictProcessing)"));
  }
  if (envelope->has_record_corrected()) {
    HUB_RETURN_IF_ERROR(ValidateCorrection(*envelope, where));
  }
  if (auth::HasUnknownFields(*envelope)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     " has fields or an event type this hub does not know (a newer contract?); "
                     "unknown fields have no data class, so they are refused"));
  }
  // Stored numbers outside the contract would reach every reader: the
  // timeline as "?", the panel list as a risk level no one defined.
  HUB_RETURN_IF_ERROR(CheckKnownEnums(*envelope, where));
  HUB_RETURN_IF_ERROR(
      CheckText(*event, absl::StrCat(where, ".", auth::EventTypeName(*envelope)), text_limits));
  const google::protobuf::Timestamp& occurred = envelope->occurred_time();
  if (!envelope->has_occurred_time() || occurred.seconds() < TimeUtil::kTimestampMinSeconds ||
      occurred.seconds() > TimeUtil::kTimestampMaxSeconds || occurred.nanos() < 0 ||
      occurred.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".occurred_time is missing or invalid"));
  }
  if (ToAbslTime(envelope->occurred_time()) > now + kMaxClockSkew) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".occurred_time ", TimeUtil::ToString(envelope->occurred_time()),
                     " is in the future (the hub's clock says ", absl::FormatTime(now), ")"));
  }
  if (envelope->purpose() == hub::v1::PURPOSE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".purpose is required"));
  }
  if (envelope->lawful_basis().empty() || envelope->lawful_basis().size() > kMaxLawfulBasisBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".lawful_basis is required (at most ", kMaxLawfulBasisBytes,
                     " bytes), e.g. \"UK GDPR Art 6(1)(e); DPA 2018 s35\""));
  }
  if (envelope->has_follow_up_checked()) {
    const int months = envelope->follow_up_checked().months_after_closure();
    if (months != 6 && months != 12) {
      return WithFieldViolation(absl::InvalidArgumentError(absl::StrCat(
                                    where, ".follow_up_checked.months_after_closure is ", months,
                                    "; follow-up checks are made 6 and 12 months after closure")),
                                absl::StrCat(where, ".follow_up_checked.months_after_closure"),
                                "must be 6 or 12");
    }
  }
  envelope->set_case_id(case_id);
  envelope->set_producing_agency(principal.agency());
  envelope->set_producer_identity(principal.identity());
  *envelope->mutable_recorded_time() = ToTimestamp(now);
  envelope->set_classification(auth::EventClass(*event->GetDescriptor()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<storage::AppendRequest> PrepareAppend(
    const hub::v1::Principal& principal, const hub::v1::PublishRequest& request, absl::Time now,
    const hub::v1::LimitsConfig& limits, std::vector<hub::v1::EventEnvelope>* envelopes) {
  if (principal.role() != hub::v1::AGENCY && principal.role() != hub::v1::COORDINATOR) {
    return absl::PermissionDeniedError(absl::StrCat(
        "principal ", principal.identity(), " has role ", hub::v1::Role_Name(principal.role()),
        "; only agency systems and coordinators publish events"));
  }
  if (request.case_id().empty()) return absl::InvalidArgumentError("case_id is required");
  if (request.case_id().rfind(kReservedCasePrefix, 0) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("case ids beginning with \"",
                                                   kReservedCasePrefix,
                                                   "\" are reserved for the hub's own records"));
  }
  if (request.events().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the publish to case ", request.case_id(), " has no events"));
  }
  if (static_cast<uint64_t>(request.events_size()) > limits.max_events_per_append()) {
    return absl::InvalidArgumentError(absl::StrCat("the publish has ", request.events_size(),
                                                   " events; the limit is ",
                                                   limits.max_events_per_append()));
  }
  TextLimits text_limits;
  if (limits.max_text_bytes() != 0) text_limits.max_text_bytes = limits.max_text_bytes();
  if (limits.max_free_text_bytes() != 0) {
    text_limits.max_free_text_bytes = limits.max_free_text_bytes();
  }
  storage::AppendRequest append;
  append.case_id = request.case_id();
  if (request.has_expected_version()) append.expected_version = request.expected_version();
  append.events.reserve(request.events_size());
  for (int i = 0; i < request.events_size(); ++i) {
    hub::v1::EventEnvelope envelope = request.events(i);
    absl::Status stamped = StampEnvelope(principal, request.case_id(), now,
                                         absl::StrCat("events[", i, "]"), text_limits, &envelope);
    if (!stamped.ok()) return stamped;
    storage::EventToAppend event;
    event.event_id = envelope.event_id();
    // The limit is the publisher's: sealing (once admitted) adds a few bytes.
    if (const size_t bytes = envelope.ByteSizeLong(); bytes > limits.max_event_bytes()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "events[", i, "] is ", bytes, " bytes; the limit is ", limits.max_event_bytes()));
    }
    envelope.SerializeToString(&event.payload);
    append.events.push_back(std::move(event));
    if (envelopes != nullptr) envelopes->push_back(std::move(envelope));
  }
  return append;
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp.set_seconds(nanos / 1000000000);
  timestamp.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return timestamp;
}

hub::v1::EventEnvelope HubRecord(std::string event_id, const std::string& case_id,
                                 const std::string& by, absl::Time now, std::string lawful_basis) {
  hub::v1::EventEnvelope envelope;
  envelope.set_event_id(std::move(event_id));
  envelope.set_case_id(case_id);
  envelope.set_producing_agency("hub");
  envelope.set_producer_identity(by);
  envelope.mutable_recorded_time()->set_seconds(absl::ToUnixSeconds(now));
  *envelope.mutable_occurred_time() = envelope.recorded_time();
  envelope.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
  envelope.set_lawful_basis(std::move(lawful_basis));
  envelope.set_classification(hub::v1::PROTOCOL_GOVERNANCE);
  return envelope;
}

namespace {

absl::Status ParseWithPosition(const std::string& payload, uint64_t position,
                               uint64_t stream_version, hub::v1::EventEnvelope* envelope) {
  if (!envelope->ParseFromString(payload)) {
    return absl::DataLossError(absl::StrCat("the event at position ", position, " does not parse"));
  }
  // Positions are how readers page and resume: always present.
  envelope->set_global_position(position);
  envelope->set_stream_version(stream_version);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<hub::v1::EventEnvelope> EnvelopeOf(const storage::ViewEvent& event,
                                                  uint32_t generation) {
  hub::v1::EventEnvelope envelope;
  HUB_RETURN_IF_ERROR(ParseViewEvent(event, generation, &envelope));
  return envelope;
}

absl::Status ParseViewEvent(const storage::ViewEvent& event, uint32_t generation,
                            hub::v1::EventEnvelope* envelope) {
  return ParseWithPosition(event.payload, ReaderPosition(generation, event.view_position),
                           event.view_version, envelope);
}

absl::StatusOr<hub::v1::EventEnvelope> EnvelopeOf(const storage::StoredEvent& event,
                                                  const auth::FieldSealer* sealer,
                                                  std::vector<auth::ErasedPart>* erased,
                                                  const auth::WithheldKeys* withheld,
                                                  hub::v1::EventEnvelope* routing) {
  if (!auth::FieldSealer::IsSealed(event.payload)) {
    hub::v1::EventEnvelope envelope;
    HUB_RETURN_IF_ERROR(ParseEnvelope(event, &envelope));
    return envelope;
  }
  if (sealer == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("the event at position ", event.position,
                                                      " is sealed and no data keys were given"));
  }
  std::vector<auth::ErasedPart> gone;
  HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope,
                       sealer->Open(event.payload, &gone, withheld, routing));
  envelope.set_global_position(event.position);
  envelope.set_stream_version(event.stream_version);
  // Readers are told what went, when and why (the projector shows each
  // entry only to those who could have seen its class).
  for (const auth::ErasedPart& part : gone) {
    hub::v1::ErasedContent* entry = envelope.add_erased();
    entry->set_erased_class(part.data_class);
    entry->mutable_erased_at()->set_seconds(absl::ToUnixSeconds(part.erasure.erased_at));
    entry->set_rule(part.erasure.rule);
    entry->set_restricted(part.restricted);
  }
  if (erased != nullptr) *erased = std::move(gone);
  return envelope;
}

absl::Status ParseEnvelope(const storage::StoredEvent& event, hub::v1::EventEnvelope* envelope,
                           const auth::FieldSealer* sealer, const auth::WithheldKeys* withheld,
                           hub::v1::EventEnvelope* routing) {
  if (auth::FieldSealer::IsSealed(event.payload)) {
    HUB_ASSIGN_OR_RETURN(*envelope, EnvelopeOf(event, sealer, nullptr, withheld, routing));
    return absl::OkStatus();
  }
  return ParseWithPosition(event.payload, event.position, event.stream_version, envelope);
}

namespace {

using google::protobuf::internal::WireFormatLite;

constexpr int kMaxEnvelopeField = 64;

// Which field numbers of EventEnvelope are event types (its `event` oneof).
const std::array<bool, kMaxEnvelopeField>& EventTypeFields() {
  static const std::array<bool, kMaxEnvelopeField> fields = [] {
    std::array<bool, kMaxEnvelopeField> is_type{};
    const google::protobuf::OneofDescriptor* events =
        hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
    for (int i = 0; i < events->field_count(); ++i) {
      const int number = events->field(i)->number();
      if (number < kMaxEnvelopeField) is_type[number] = true;
    }
    return is_type;
  }();
  return fields;
}

uint8_t* WriteVarintField(int field, uint64_t value, uint8_t* out) {
  out = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_VARINT), out);
  return google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, out);
}

size_t VarintFieldSize(int field, uint64_t value) {
  return google::protobuf::io::CodedOutputStream::VarintSize32(
             WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_VARINT)) +
         google::protobuf::io::CodedOutputStream::VarintSize64(value);
}

}  // namespace

absl::StatusOr<EnvelopeHeader> ReadEnvelopeHeader(std::string_view payload) {
  static_assert(hub::v1::EventEnvelope::kPurposeFieldNumber < kMaxEnvelopeField &&
                hub::v1::EventEnvelope::kClassificationFieldNumber < kMaxEnvelopeField);
  const std::array<bool, kMaxEnvelopeField>& event_types = EventTypeFields();
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                                            static_cast<int>(payload.size()));
  EnvelopeHeader header;
  bool well_formed = true;
  while (const uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool varint = WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT;
    uint32_t value = 0;
    if (varint && field == hub::v1::EventEnvelope::kPurposeFieldNumber) {
      well_formed = in.ReadVarint32(&value);
      header.purpose = hub::v1::Purpose_IsValid(static_cast<int>(value))
                           ? static_cast<hub::v1::Purpose>(value)
                           : hub::v1::PURPOSE_UNSPECIFIED;
    } else if (varint && field == hub::v1::EventEnvelope::kClassificationFieldNumber) {
      well_formed = in.ReadVarint32(&value);
      header.classification = hub::v1::DataClass_IsValid(static_cast<int>(value))
                                  ? static_cast<hub::v1::DataClass>(value)
                                  : hub::v1::DATA_CLASS_UNSPECIFIED;
    } else {
      if (field < kMaxEnvelopeField && event_types[field]) header.event_type_field = field;
      well_formed = WireFormatLite::SkipField(&in, tag);
    }
    if (!well_formed) break;
  }
  if (!well_formed || !in.ConsumedEntireMessage()) {
    return absl::DataLossError("an event of a view is not a well-formed EventEnvelope");
  }
  return header;
}

std::string SerializedDelivery(const storage::ViewEvent& event, uint32_t generation) {
  using google::protobuf::io::CodedOutputStream;
  const int position_field = hub::v1::EventEnvelope::kGlobalPositionFieldNumber;
  const int version_field = hub::v1::EventEnvelope::kStreamVersionFieldNumber;
  const uint64_t position = ReaderPosition(generation, event.view_position);
  const size_t envelope_size = event.payload.size() + VarintFieldSize(position_field, position) +
                               VarintFieldSize(version_field, event.view_version);
  const uint32_t event_tag = WireFormatLite::MakeTag(hub::v1::SubscribeResponse::kEventFieldNumber,
                                                     WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  std::string message(CodedOutputStream::VarintSize32(event_tag) +
                          CodedOutputStream::VarintSize64(envelope_size) + envelope_size,
                      '\0');
  uint8_t* out = reinterpret_cast<uint8_t*>(message.data());
  out = CodedOutputStream::WriteVarint32ToArray(event_tag, out);
  out = CodedOutputStream::WriteVarint64ToArray(envelope_size, out);
  std::memcpy(out, event.payload.data(), event.payload.size());
  out += event.payload.size();
  out = WriteVarintField(position_field, position, out);
  WriteVarintField(version_field, event.view_version, out);
  return message;
}

absl::StatusOr<bool> IsStoredCorrection(std::string_view stored) {
  std::string_view envelope = stored;
  if (auth::FieldSealer::IsSealed(stored)) {
    // hub.storage.v1.SealedEnvelope: the open envelope is field 1.
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(stored.data() + 1),
                                              static_cast<int>(stored.size() - 1));
    envelope = std::string_view();
    while (const uint32_t tag = in.ReadTag()) {
      if (WireFormatLite::GetTagFieldNumber(tag) == 1 &&
          WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        uint32_t length = 0;
        const void* data = nullptr;
        int available = 0;
        if (!in.ReadVarint32(&length) || !in.GetDirectBufferPointer(&data, &available) ||
            static_cast<uint32_t>(available) < length) {
          return absl::DataLossError("a sealed event is truncated");
        }
        envelope = std::string_view(static_cast<const char*>(data), length);
        break;
      }
      if (!WireFormatLite::SkipField(&in, tag)) {
        return absl::DataLossError("a sealed event is not well-formed");
      }
    }
  }
  HUB_ASSIGN_OR_RETURN(EnvelopeHeader header, ReadEnvelopeHeader(envelope));
  return header.event_type_field == hub::v1::EventEnvelope::kRecordCorrectedFieldNumber;
}

}  // namespace hub::services
