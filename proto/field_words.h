// An event's values in words, for people: dates as 2026-11-30, enums through
// EnumWords, booleans as yes/no. Shared by hubctl's timeline pages and the
// hub's subject access packs, so that a value reads the same in both.
#ifndef HUB_PROTO_FIELD_WORDS_H_
#define HUB_PROTO_FIELD_WORDS_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

#include "proto/enum_words.h"

#include "hub/v1/events.pb.h"

namespace hub {

inline std::string DateWords(const hub::v1::CalendarDate& date) {
  if (date.year() == 0) return "";
  return absl::StrFormat("%04d-%02d-%02d", date.year(), date.month(), date.day());
}

// Element `index` of `field` in `message` (index is ignored unless the field
// is repeated).
inline std::string ValueWords(const google::protobuf::Message& message,
                              const google::protobuf::FieldDescriptor* field, int index) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return repeated ? reflection->GetRepeatedString(message, field, index)
                      : reflection->GetString(message, field);
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? reflection->GetRepeatedBool(message, field, index)
                       : reflection->GetBool(message, field))
                 ? "yes"
                 : "no";
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(repeated ? reflection->GetRepeatedInt32(message, field, index)
                                   : reflection->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(repeated ? reflection->GetRepeatedInt64(message, field, index)
                                   : reflection->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(repeated ? reflection->GetRepeatedUInt32(message, field, index)
                                   : reflection->GetUInt32(message, field));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(repeated ? reflection->GetRepeatedUInt64(message, field, index)
                                   : reflection->GetUInt64(message, field));
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumWords(repeated ? reflection->GetRepeatedEnum(message, field, index)
                                : reflection->GetEnum(message, field));
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const google::protobuf::Message& value =
          repeated ? reflection->GetRepeatedMessage(message, field, index)
                   : reflection->GetMessage(message, field);
      if (const auto* date = dynamic_cast<const hub::v1::CalendarDate*>(&value)) {
        return DateWords(*date);
      }
      return value.ShortDebugString();
    }
    default:
      return "";
  }
}

// Calls visit(field, path, index, words) for every value set in `message`,
// in field order, descending into nested messages (a date is one value):
// path is the dotted field path under `prefix` ("victim.subject_id"),
// index the element of a repeated field (0 otherwise).
template <typename Visit>
void ForEachValue(const google::protobuf::Message& message, const std::string& prefix,
                  Visit&& visit) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    const std::string path =
        prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
    const bool nested = field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
                        field->message_type() != hub::v1::CalendarDate::descriptor();
    if (nested && !field->is_repeated()) {
      ForEachValue(message.GetReflection()->GetMessage(message, field), path, visit);
      continue;
    }
    const int count = field->is_repeated() ? message.GetReflection()->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) visit(field, path, i, ValueWords(message, field, i));
  }
}

}  // namespace hub

#endif  // HUB_PROTO_FIELD_WORDS_H_
