#include "auth/redactor.h"

#include <vector>

#include "auth/data_classes.h"

namespace hub::auth {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

void Strip(const ClassMask& allowed, Message* message) {
  const google::protobuf::Reflection* reflection = message->GetReflection();
  reflection->MutableUnknownFields(message)->Clear();
  // A value type (a date, a timestamp) is kept or removed whole by its holder.
  if (IsValueType(*message->GetDescriptor())) return;
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    const hub::v1::DataClass data_class = FieldClass(*field);
    // An unclassified field is never shared (the data-class test keeps the
    // contract free of them; this keeps a mistake from leaking).
    if (data_class == hub::v1::DATA_CLASS_UNSPECIFIED || !allowed[data_class]) {
      reflection->ClearField(message, field);
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        Strip(allowed, reflection->MutableRepeatedMessage(message, field, i));
      }
    } else {
      Strip(allowed, reflection->MutableMessage(message, field));
    }
  }
}

void AddClassesPresent(const Message& message, ClassMask* present, bool* unknown_fields) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) *unknown_fields = true;
  if (IsValueType(*message.GetDescriptor())) return;
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    present->set(FieldClass(*field));
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        AddClassesPresent(reflection->GetRepeatedMessage(message, field, i), present,
                          unknown_fields);
      }
    } else {
      AddClassesPresent(reflection->GetMessage(message, field), present, unknown_fields);
    }
  }
}

}  // namespace

ClassMask ClassesPresent(const hub::v1::EventEnvelope& envelope, bool* unknown_fields) {
  ClassMask present;
  bool unknown = false;
  if (const Message* event = EventOf(envelope); event != nullptr) {
    present.set(EventClass(*event->GetDescriptor()));
  }
  AddClassesPresent(envelope, &present, &unknown);
  if (unknown_fields != nullptr) *unknown_fields = unknown;
  return present;
}

bool Redact(const ClassMask& allowed, hub::v1::EventEnvelope* envelope) {
  const Message* event = EventOf(*envelope);
  if (event == nullptr) return false;
  const hub::v1::DataClass event_class = EventClass(*event->GetDescriptor());
  if (event_class == hub::v1::DATA_CLASS_UNSPECIFIED || !allowed[event_class]) return false;
  Strip(allowed, envelope);
  return true;
}

}  // namespace hub::auth
