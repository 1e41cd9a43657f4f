#include "services/request_validation.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "proto/absl_compat.h"
#include "proto/error_details.h"

#include "hub/v1/options.pb.h"

namespace hub::services {
namespace {

using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string FieldPath(std::string_view path, const FieldDescriptor& field, int index) {
  std::string out = path.empty() ? field.name() : absl::StrCat(AsAbsl(path), ".", field.name());
  if (index >= 0) absl::StrAppend(&out, "[", index, "]");
  return out;
}

std::string DeclaredValues(const EnumDescriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) names.push_back(type.value(i)->name());
  return absl::StrJoin(names, ", ");
}

// Calls `visit(field, index)` for every set field of `message` (index -1 for
// a singular field).
template <typename Visit>
absl::Status ForEachSetField(const Message& message, Visit visit) {
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->is_map()) continue;  // The contract has none; nothing to check.
    if (field->is_repeated()) {
      for (int i = 0; i < reflection.FieldSize(message, field); ++i) {
        if (absl::Status status = visit(*field, i); !status.ok()) return status;
      }
    } else if (absl::Status status = visit(*field, -1); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

// A code point that makes text misrepresent itself: C0 and C1 controls,
// DEL, and the bidirectional embeddings, overrides and isolates
// (U+202A-U+202E, U+2066-U+2069).
std::string_view ForbiddenCharacter(std::string_view text, bool free_text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      if (free_text && (c == '\n' || c == '\r' || c == '\t')) continue;
      return "a control character";
    }
    if (c == 0xc2 && i + 1 < text.size()) {
      const unsigned char next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return "a control character";
    }
    if (c == 0xe2 && i + 2 < text.size()) {
      const unsigned char b1 = static_cast<unsigned char>(text[i + 1]);
      const unsigned char b2 = static_cast<unsigned char>(text[i + 2]);
      if ((b1 == 0x80 && b2 >= 0xaa && b2 <= 0xae) || (b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9)) {
        return "a Unicode bidirectional override";
      }
    }
  }
  return {};
}

}  // namespace

absl::Status CheckKnownEnums(const Message& message, std::string_view path) {
  const Reflection& reflection = *message.GetReflection();
  return ForEachSetField(message, [&](const FieldDescriptor& field, int index) -> absl::Status {
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const Message& inner = index < 0 ? reflection.GetMessage(message, &field)
                                       : reflection.GetRepeatedMessage(message, &field, index);
      return CheckKnownEnums(inner, FieldPath(path, field, index));
    }
    if (field.cpp_type() != FieldDescriptor::CPPTYPE_ENUM) return absl::OkStatus();
    const int number = index < 0 ? reflection.GetEnumValue(message, &field)
                                 : reflection.GetRepeatedEnumValue(message, &field, index);
    if (field.enum_type()->FindValueByNumber(number) != nullptr) return absl::OkStatus();
    return WithFieldViolation(
        absl::InvalidArgumentError(
            absl::StrCat(FieldPath(path, field, index), " is ", number, ", which is not a ",
                         field.enum_type()->full_name(), " this hub knows (",
                         DeclaredValues(*field.enum_type()), "); nothing was done")),
        FieldPath(path, field, index), "an enum number the contract does not declare");
  });
}

absl::Status CheckText(const Message& message, std::string_view path, const TextLimits& limits) {
  const Reflection& reflection = *message.GetReflection();
  std::string scratch;
  return ForEachSetField(message, [&](const FieldDescriptor& field, int index) -> absl::Status {
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const Message& inner = index < 0 ? reflection.GetMessage(message, &field)
                                       : reflection.GetRepeatedMessage(message, &field, index);
      return CheckText(inner, FieldPath(path, field, index), limits);
    }
    if (field.type() != FieldDescriptor::TYPE_STRING) return absl::OkStatus();
    const std::string& text =
        index < 0 ? reflection.GetStringReference(message, &field, &scratch)
                  : reflection.GetRepeatedStringReference(message, &field, index, &scratch);
    const bool free_text = field.options().GetExtension(hub::v1::free_text);
    const uint32_t limit = free_text ? limits.max_free_text_bytes : limits.max_text_bytes;
    if (text.size() > limit) {
      return WithFieldViolation(
          absl::InvalidArgumentError(absl::StrCat(
              FieldPath(path, field, index), " is ", text.size(), " bytes; the limit is ", limit,
              free_text ? " for free text" : " for a short text field", " (limits.",
              free_text ? "max_free_text_bytes" : "max_text_bytes", ")")),
          FieldPath(path, field, index), "longer than its limit");
    }
    if (std::string_view found = ForbiddenCharacter(text, free_text); !found.empty()) {
      return WithFieldViolation(
          absl::InvalidArgumentError(absl::StrCat(
              FieldPath(path, field, index), " holds ", AsAbsl(found),
              free_text ? "" : " (short text fields are one line: no line breaks or tabs)",
              "; remove it and retry")),
          FieldPath(path, field, index), absl::StrCat("holds ", AsAbsl(found)));
    }
    return absl::OkStatus();
  });
}

size_t Utf8PrefixLength(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text.size();
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  return cut;
}

absl::StatusOr<size_t> ServedPageSize(int32_t requested, size_t default_size, size_t max_size) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size is ", requested, "; it must be 0 (the default, ", default_size,
                     ") or more (at most ", max_size, " are served per page)"));
  }
  if (requested == 0) return default_size;
  return std::min<size_t>(static_cast<size_t>(requested), max_size);
}

}  // namespace hub::services
