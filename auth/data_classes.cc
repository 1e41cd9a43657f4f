#include "auth/data_classes.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace hub::auth {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr char kEventOneof[] = "event";

void Walk(const Descriptor& message, absl::flat_hash_set<const Descriptor*>& seen,
          std::vector<std::string>& problems) {
  if (!seen.insert(&message).second || IsValueType(message)) return;
  for (int i = 0; i < message.field_count(); ++i) {
    const FieldDescriptor& field = *message.field(i);
    if (FieldClass(field) == hub::v1::DATA_CLASS_UNSPECIFIED) {
      problems.push_back(absl::StrCat(field.full_name(), " has no data_class"));
    }
    if (field.message_type() == nullptr) continue;
    const google::protobuf::OneofDescriptor* oneof = field.containing_oneof();
    if (oneof != nullptr && oneof->name() == kEventOneof &&
        EventClass(*field.message_type()) == hub::v1::DATA_CLASS_UNSPECIFIED) {
      problems.push_back(
          absl::StrCat(field.message_type()->full_name(), " is an event without event_class"));
    }
    Walk(*field.message_type(), seen, problems);
  }
}

bool ReadIsValueType(const Descriptor& message) {
  return message.options().GetExtension(hub::v1::value_type) ||
         message.file()->package().rfind("google.", 0) == 0;
}

// The annotations of every message and field an EventEnvelope can hold,
// read once: reading a field's options (an extension lookup) for every
// field of every event was a tenth of shaping in a view rebuild. Built on
// first use and never changed after, so any thread may read it.
struct Annotations {
  absl::flat_hash_map<const FieldDescriptor*, hub::v1::DataClass> field_class;
  absl::flat_hash_map<const Descriptor*, hub::v1::DataClass> event_class;
  absl::flat_hash_map<const Descriptor*, bool> value_type;

  void Add(const Descriptor& message) {
    if (!value_type.try_emplace(&message, ReadIsValueType(message)).second) return;
    event_class.emplace(&message, message.options().GetExtension(hub::v1::event_class));
    for (int i = 0; i < message.field_count(); ++i) {
      const FieldDescriptor& field = *message.field(i);
      field_class.emplace(&field, field.options().GetExtension(hub::v1::data_class));
      if (field.message_type() != nullptr) Add(*field.message_type());
    }
  }
};

const Annotations& EnvelopeAnnotations() {
  static const Annotations* const annotations = [] {
    auto* built = new Annotations();
    built->Add(*hub::v1::EventEnvelope::descriptor());
    return built;
  }();
  return *annotations;
}

}  // namespace

hub::v1::DataClass FieldClass(const FieldDescriptor& field) {
  const auto& known = EnvelopeAnnotations().field_class;
  if (auto found = known.find(&field); found != known.end()) return found->second;
  return field.options().GetExtension(hub::v1::data_class);
}

hub::v1::DataClass EventClass(const Descriptor& event) {
  const auto& known = EnvelopeAnnotations().event_class;
  if (auto found = known.find(&event); found != known.end()) return found->second;
  return event.options().GetExtension(hub::v1::event_class);
}

bool IsValueType(const Descriptor& message) {
  const auto& known = EnvelopeAnnotations().value_type;
  if (auto found = known.find(&message); found != known.end()) return found->second;
  return ReadIsValueType(message);
}

std::vector<std::string> UnclassifiedFields(const Descriptor& root) {
  std::vector<std::string> problems;
  absl::flat_hash_set<const Descriptor*> seen;
  Walk(root, seen, problems);
  return problems;
}

bool HasUnknownFields(const google::protobuf::Message& message) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) return true;
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        if (HasUnknownFields(reflection->GetRepeatedMessage(message, field, i))) return true;
      }
    } else if (HasUnknownFields(reflection->GetMessage(message, field))) {
      return true;
    }
  }
  return false;
}

namespace {

// The `event` oneof of `message`'s type (found by name once for
// EventEnvelope, the one the hub passes on every path).
const google::protobuf::OneofDescriptor* EventOneofOf(const Descriptor& message) {
  static const google::protobuf::OneofDescriptor* const envelope_event =
      hub::v1::EventEnvelope::descriptor()->FindOneofByName(kEventOneof);
  return &message == hub::v1::EventEnvelope::descriptor() ? envelope_event
                                                          : message.FindOneofByName(kEventOneof);
}

}  // namespace

const google::protobuf::Message* EventOf(const google::protobuf::Message& envelope) {
  const google::protobuf::OneofDescriptor* oneof = EventOneofOf(*envelope.GetDescriptor());
  if (oneof == nullptr) return nullptr;
  const google::protobuf::Reflection* reflection = envelope.GetReflection();
  const FieldDescriptor* set = reflection->GetOneofFieldDescriptor(envelope, oneof);
  return set == nullptr ? nullptr : &reflection->GetMessage(envelope, set);
}

google::protobuf::Message* MutableEventOf(google::protobuf::Message* envelope) {
  const google::protobuf::OneofDescriptor* oneof = EventOneofOf(*envelope->GetDescriptor());
  if (oneof == nullptr) return nullptr;
  const google::protobuf::Reflection* reflection = envelope->GetReflection();
  const FieldDescriptor* set = reflection->GetOneofFieldDescriptor(*envelope, oneof);
  return set == nullptr ? nullptr : reflection->MutableMessage(envelope, set);
}

const google::protobuf::FieldDescriptor* CorrectedTypeOf(
    const hub::v1::RecordCorrected& correction) {
  static const google::protobuf::OneofDescriptor* const corrected =
      hub::v1::RecordCorrected::descriptor()->FindOneofByName("corrected");
  return correction.GetReflection()->GetOneofFieldDescriptor(correction, corrected);
}

std::string EventTypeName(const google::protobuf::Message& envelope) {
  const google::protobuf::OneofDescriptor* oneof = EventOneofOf(*envelope.GetDescriptor());
  if (oneof == nullptr) return "";
  const FieldDescriptor* set = envelope.GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return set == nullptr ? "" : set->name();
}

}  // namespace hub::auth
