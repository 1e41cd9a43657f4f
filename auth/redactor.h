// Redaction by data class, driven entirely by the contract's annotations
// through protobuf reflection: no per-event-type code, so a field added to
// the contract is governed by its class from the start.
#ifndef HUB_AUTH_REDACTOR_H_
#define HUB_AUTH_REDACTOR_H_

#include "auth/sharing_policy.h"

#include "hub/v1/events.pb.h"

namespace hub::auth {

// Shapes `envelope` for a principal allowed `allowed`. Returns false (and
// leaves the envelope untouched) if the event's class is not allowed: the
// event is not visible at all. Otherwise removes, recursively, every field
// whose class is not allowed, and any unknown fields.
bool Redact(const ClassMask& allowed, hub::v1::EventEnvelope* envelope);

// The class of the event in `envelope` and of every field set in it,
// recursively (a value type counts as its holder's class). What Redact() leaves of an envelope
// depends only on `allowed & ClassesPresent(envelope)`, and it removes nothing if that equals
// ClassesPresent(envelope) and there are no unknown fields: principals allowed different classes
// often get the same shape.
// `unknown_fields`, if given, says whether any message in it carries fields
// this build does not know (which have no class).
ClassMask ClassesPresent(const hub::v1::EventEnvelope& envelope, bool* unknown_fields = nullptr);

}  // namespace hub::auth

#endif  // HUB_AUTH_REDACTOR_H_
