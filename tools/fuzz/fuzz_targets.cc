#include "tools/fuzz/fuzz_targets.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "auth/data_classes.h"
#include "auth/recording_policy.h"
#include "auth/redactor.h"
#include "auth/sharing_policy.h"
#include "auth/sharing_protocol.h"
#include "services/envelope.h"
#include "services/request_validation.h"
#include "storage/view_store.h"

#include "hub/v1/config.pb.h"
#include "hub/v1/event_service.pb.h"

namespace hub::fuzz {
namespace {

[[noreturn]] void Broken(const char* invariant) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", invariant);
  std::abort();
}

hub::v1::Principal Police() {
  hub::v1::Principal principal;
  principal.set_identity("spiffe://drive.example-county.gov.uk/agency/police/agency");
  principal.set_agency("police");
  principal.set_role(hub::v1::AGENCY);
  return principal;
}

hub::v1::LimitsConfig Limits() {
  hub::v1::LimitsConfig limits;
  limits.set_max_event_bytes(64 * 1024);
  limits.set_max_events_per_append(256);
  limits.set_max_text_bytes(services::kDefaultMaxTextBytes);
  limits.set_max_free_text_bytes(services::kDefaultMaxFreeTextBytes);
  return limits;
}

// The example protocol, loaded once: the recording rules the publish target
// judges against.
const auth::RecordingPolicy& ExamplePolicy() {
  static const auth::RecordingPolicy* policy = [] {
    absl::StatusOr<auth::LoadedProtocol> loaded = auth::LoadSharingProtocolFile(
        std::string(HUB_SOURCE_DIR) + "/deploy/examples/sharing_protocol.textproto");
    if (!loaded.ok()) Broken("the example protocol loads");
    return new auth::RecordingPolicy(loaded->protocol);
  }();
  return *policy;
}

}  // namespace

void PublishRequestTarget(std::string_view bytes) {
  hub::v1::PublishRequest request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  static const hub::v1::Principal principal = Police();
  static const hub::v1::LimitsConfig limits = Limits();
  std::vector<hub::v1::EventEnvelope> envelopes;
  absl::StatusOr<storage::AppendRequest> append = services::PrepareAppend(
      principal, request, absl::FromUnixSeconds(1795000100), limits, &envelopes);
  if (!append.ok()) {
    if (append.status().message().empty()) Broken("a refusal says why");
    return;
  }
  if (append->events.size() != envelopes.size()) Broken("one payload per envelope");
  auth::CaseWriteState state;
  for (size_t i = 0; i < append->events.size(); ++i) {
    const std::string& payload = append->events[i].payload;
    if (payload.size() > limits.max_event_bytes()) Broken("stored events are within the limit");
    hub::v1::EventEnvelope stored;
    if (!stored.ParseFromString(payload)) Broken("a stored event parses");
    if (!services::CheckKnownEnums(stored, "").ok()) Broken("a stored event's enums are declared");
    if (auth::HasUnknownFields(stored)) Broken("a stored event has no unknown fields");
    if (!services::ReadEnvelopeHeader(payload).ok()) Broken("the views can read its header");
    // Judged as the gate would judge it on an empty case, then folded in.
    std::string rule;
    (void)ExamplePolicy().Check(principal, stored, state, request.case_id(), "events[0]", &rule);
    ExamplePolicy().Apply(stored, &state);
    // Every shape a principal could be given of it is itself well formed.
    const auth::ClassMask present = auth::ClassesPresent(stored);
    for (int drop = 0; drop < hub::v1::DataClass_ARRAYSIZE; ++drop) {
      auth::ClassMask allowed = present;
      allowed.reset(static_cast<size_t>(drop));
      hub::v1::EventEnvelope shaped = stored;
      if (auth::Redact(allowed, &shaped) && (auth::ClassesPresent(shaped) & ~allowed).any()) {
        Broken("a shaped event holds only allowed classes");
      }
    }
  }
}

void SharingProtocolTarget(std::string_view text) {
  absl::StatusOr<auth::LoadedProtocol> loaded = auth::ParseSharingProtocol(text, "fuzz");
  if (!loaded.ok()) {
    if (loaded.status().message().empty()) Broken("a refused protocol says why");
    return;
  }
  const auth::SharingPolicy sharing(loaded->protocol);
  const auth::RecordingPolicy recording(loaded->protocol);
  for (const hub::v1::Principal& principal : loaded->protocol.principals()) {
    for (int purpose = 0; purpose < hub::v1::Purpose_ARRAYSIZE; ++purpose) {
      const auto as_purpose = static_cast<hub::v1::Purpose>(purpose);
      const auth::ClassMask allowed =
          sharing.Allowed(principal.identity(), as_purpose, auth::kEveryRelation);
      for (int data_class = 0; data_class < hub::v1::DataClass_ARRAYSIZE; ++data_class) {
        const auth::Decision decision =
            sharing.Decide(principal.identity(), static_cast<hub::v1::DataClass>(data_class),
                           as_purpose, auth::kEveryRelation);
        if (decision.allowed != allowed[static_cast<size_t>(data_class)]) {
          Broken("Decide and Allowed agree");
        }
        if (decision.allowed && decision.rule.empty()) Broken("an allowed read cites its rule");
      }
      for (const std::string& type : auth::PublishableEventTypes()) {
        (void)recording.MayRecord(principal.identity(), type, as_purpose);
      }
    }
  }
}

void StoredEventTarget(std::string_view bytes) {
  absl::StatusOr<services::EnvelopeHeader> header = services::ReadEnvelopeHeader(bytes);
  hub::v1::EventEnvelope envelope;
  const bool parses = envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  // Whatever the full parser accepts, the subscription path can read.
  if (parses && !header.ok()) Broken("the header of a parsing event reads");
  storage::ViewEvent event;
  event.position = 70;
  event.stream_version = 30;
  event.view_position = 7;
  event.view_version = 3;
  event.payload = std::string(bytes);
  hub::v1::SubscribeResponse delivered;
  const std::string message = services::SerializedDelivery(event, /*generation=*/2);
  if (parses && !delivered.ParseFromString(message)) Broken("a delivery of a parsing event parses");
  if (parses && (delivered.event().global_position() != services::ReaderPosition(2, 7) ||
                 delivered.event().stream_version() != 3)) {
    Broken("a delivery carries the view's position and version");
  }
}

}  // namespace hub::fuzz
