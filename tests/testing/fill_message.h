// A message with every field set, for tests that must cover the whole
// contract (every field of every event type) rather than examples of it.
#ifndef HUB_TESTS_TESTING_FILL_MESSAGE_H_
#define HUB_TESTS_TESTING_FILL_MESSAGE_H_

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"

namespace hub::testing {

// Sets every field of `message` to a non-default value, recursively; in each
// oneof, member number `choice` (or the last one). Strings are
// "value of <field's full name> #<copy>" (repeated fields get two copies),
// so a test can look for any field's value in bytes.
inline void FillEveryField(google::protobuf::Message* message, int choice) {
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  const google::protobuf::Reflection* reflection = message->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (const auto* oneof = field->containing_oneof()) {
      const int chosen = std::min(choice, oneof->field_count() - 1);
      if (oneof->field(chosen) != field) continue;
    }
    const int copies = field->is_repeated() ? 2 : 1;
    for (int copy = 0; copy < copies; ++copy) {
      const std::string text = absl::StrCat("value of ", field->full_name(), " #", copy);
      switch (field->cpp_type()) {
        case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
          field->is_repeated() ? reflection->AddString(message, field, text)
                               : reflection->SetString(message, field, text);
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
          field->is_repeated() ? reflection->AddInt32(message, field, 7)
                               : reflection->SetInt32(message, field, 7);
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
          field->is_repeated() ? reflection->AddInt64(message, field, 7)
                               : reflection->SetInt64(message, field, 7);
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
          field->is_repeated() ? reflection->AddUInt64(message, field, 7)
                               : reflection->SetUInt64(message, field, 7);
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
          field->is_repeated() ? reflection->AddBool(message, field, true)
                               : reflection->SetBool(message, field, true);
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_ENUM: {
          const auto* value = field->enum_type()->value(field->enum_type()->value_count() - 1);
          field->is_repeated() ? reflection->AddEnum(message, field, value)
                               : reflection->SetEnum(message, field, value);
          break;
        }
        case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
          FillEveryField(field->is_repeated() ? reflection->AddMessage(message, field)
                                              : reflection->MutableMessage(message, field),
                         choice);
          break;
        default:
          FAIL() << "the corpus cannot fill " << field->full_name() << "; extend FillEveryField()";
      }
    }
  }
}

}  // namespace hub::testing

#endif  // HUB_TESTS_TESTING_FILL_MESSAGE_H_
