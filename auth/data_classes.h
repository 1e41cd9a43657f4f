// Reading the data-class annotations of the contract (proto/hub/v1/
// options.proto) through protobuf reflection. The sharing-protocol engine
// and the redactor work from these, never from per-event-type code.
#ifndef HUB_AUTH_DATA_CLASSES_H_
#define HUB_AUTH_DATA_CLASSES_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

#include "hub/v1/events.pb.h"
#include "hub/v1/options.pb.h"

namespace hub::auth {

// The class annotated on `field`, or DATA_CLASS_UNSPECIFIED.
hub::v1::DataClass FieldClass(const google::protobuf::FieldDescriptor& field);

// The event_class annotated on an event message, or DATA_CLASS_UNSPECIFIED.
hub::v1::DataClass EventClass(const google::protobuf::Descriptor& event);

// Whether `message` is a value type whose fields take their holder's class
// (options.proto's value_type), or one of Google's well-known types
// (google.protobuf.Timestamp), which are treated the same way.
bool IsValueType(const google::protobuf::Descriptor& message);

// Every problem with the annotations of `root` and the messages it reaches:
// a field without a class ("hub.v1.X.field has no data_class"), and a
// member of a oneof named "event" whose message has no event_class. Empty
// when everything is classified.
std::vector<std::string> UnclassifiedFields(const google::protobuf::Descriptor& root);

// Whether `message` or any message inside it carries fields this build of
// the contract does not know (from a newer or a hostile client). Such fields
// have no data class, so the hub refuses to store them.
bool HasUnknownFields(const google::protobuf::Message& message);

// The event message set in an envelope's "event" oneof, or nullptr.
const google::protobuf::Message* EventOf(const google::protobuf::Message& envelope);
// The same, to change it.
google::protobuf::Message* MutableEventOf(google::protobuf::Message* envelope);

// The member of a correction's `corrected` oneof that is set (the corrected
// event's type, e.g. victim_safety_information), or nullptr.
const google::protobuf::FieldDescriptor* CorrectedTypeOf(
    const hub::v1::RecordCorrected& correction);

// The oneof field name of the event in an envelope ("risk_assessed"), or "".
std::string EventTypeName(const google::protobuf::Message& envelope);

}  // namespace hub::auth

#endif  // HUB_AUTH_DATA_CLASSES_H_
