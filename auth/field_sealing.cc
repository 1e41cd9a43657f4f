#include "auth/field_sealing.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"

#include "auth/aead.h"
#include "auth/data_classes.h"

#include "hub/storage/v1/sealed.pb.h"
#include "hub/v1/options.pb.h"

namespace hub::auth {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Keeps in `message` only the leaves `keep` says yes to. Messages that are
// not value types are walked into whatever their own class, so that the
// event's type (its oneof member) stays in every part and in the clear.
template <typename Keep>
void KeepLeaves(const Keep& keep, Message* message) {
  const google::protobuf::Reflection* reflection = message->GetReflection();
  reflection->MutableUnknownFields(message)->Clear();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    const bool walk_into = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                           !IsValueType(*field->message_type());
    if (!walk_into) {
      if (!keep(*field)) reflection->ClearField(message, field);
      continue;
    }
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        KeepLeaves(keep, reflection->MutableRepeatedMessage(message, field, i));
      }
    } else {
      KeepLeaves(keep, reflection->MutableMessage(message, field));
    }
  }
}

void CollectPersonalClasses(const Message& message, std::vector<hub::v1::DataClass>* classes) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !IsValueType(*field->message_type())) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CollectPersonalClasses(reflection->GetRepeatedMessage(message, field, i), classes);
        }
      } else {
        CollectPersonalClasses(reflection->GetMessage(message, field), classes);
      }
    } else if (IsPersonalField(*field)) {
      classes->push_back(FieldClass(*field));
    }
  }
}

void CollectSubjects(const Message& message, std::vector<std::string>* subjects) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (IsValueType(*field->message_type())) continue;
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CollectSubjects(reflection->GetRepeatedMessage(message, field, i), subjects);
        }
      } else {
        CollectSubjects(reflection->GetMessage(message, field), subjects);
      }
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
        !field->options().GetExtension(hub::v1::subject_reference)) {
      continue;
    }
    const auto add = [subjects](std::string value) {
      if (!value.empty() &&
          std::find(subjects->begin(), subjects->end(), value) == subjects->end()) {
        subjects->push_back(std::move(value));
      }
    };
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        add(reflection->GetRepeatedString(message, field, i));
      }
    } else {
      add(reflection->GetString(message, field));
    }
  }
}

// Binds a part to its event and class: a part moved to another event or
// relabelled does not open.
std::string AssociatedData(const hub::v1::EventEnvelope& open, hub::v1::DataClass data_class) {
  return absl::StrCat("hub sealed part\n", open.case_id(), "\n", open.event_id(), "\n",
                      static_cast<int>(data_class));
}

bool BelongsToTheSubject(hub::v1::DataClass data_class) {
  switch (data_class) {
    case hub::v1::VICTIM_IDENTITY:
    case hub::v1::VICTIM_LOCATION:
    case hub::v1::VICTIM_DISCLOSURE:
    case hub::v1::VICTIM_RISK_SUMMARY:
    case hub::v1::CHILD_SAFEGUARDING:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool IsPersonalClass(hub::v1::DataClass data_class) {
  const google::protobuf::EnumValueDescriptor* value =
      hub::v1::DataClass_descriptor()->FindValueByNumber(data_class);
  return value != nullptr && value->options().GetExtension(hub::v1::personal);
}

bool IsPersonalField(const FieldDescriptor& field) {
  return field.options().GetExtension(hub::v1::free_text) || IsPersonalClass(FieldClass(field));
}

std::vector<std::string> SubjectsOf(const hub::v1::EventEnvelope& envelope) {
  std::vector<std::string> subjects;
  CollectSubjects(envelope, &subjects);
  return subjects;
}

KeyOwner KeyOwnerOf(const hub::v1::EventEnvelope& envelope, hub::v1::DataClass data_class) {
  if (BelongsToTheSubject(data_class)) {
    std::vector<std::string> subjects = SubjectsOf(envelope);
    if (subjects.size() == 1) return {"subject", std::move(subjects.front())};
  }
  return {"case", envelope.case_id()};
}

std::string DataKeyIdOf(const DataKeyStore& keys, const KeyOwner& owner,
                        hub::v1::DataClass data_class) {
  return keys.KeyId(absl::StrCat(owner.scope, "/", static_cast<int>(data_class)), owner.name);
}

std::vector<std::string> AllDataKeyIdsOf(const DataKeyStore& keys, const KeyOwner& owner) {
  std::vector<std::string> ids = {keys.KeyId(owner.scope, owner.name)};
  for (const hub::v1::DataClass data_class : PersonalClasses()) {
    ids.push_back(DataKeyIdOf(keys, owner, data_class));
  }
  return ids;
}

std::vector<hub::v1::DataClass> PersonalClasses() {
  std::vector<hub::v1::DataClass> classes;
  for (int number = 0; number < hub::v1::DataClass_ARRAYSIZE; ++number) {
    if (hub::v1::DataClass_IsValid(number) &&
        IsPersonalClass(static_cast<hub::v1::DataClass>(number))) {
      classes.push_back(static_cast<hub::v1::DataClass>(number));
    }
  }
  return classes;
}

std::vector<hub::v1::DataClass> PersonalClassesIn(const hub::v1::EventEnvelope& envelope) {
  std::vector<hub::v1::DataClass> classes;
  CollectPersonalClasses(envelope, &classes);
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  return classes;
}

absl::StatusOr<std::string> FieldSealer::Seal(const hub::v1::EventEnvelope& envelope) const {
  const std::vector<hub::v1::DataClass> classes = PersonalClassesIn(envelope);
  if (classes.empty()) return envelope.SerializeAsString();

  hub::storage::v1::SealedEnvelope sealed;
  *sealed.mutable_open() = envelope;
  KeepLeaves([](const FieldDescriptor& field) { return !IsPersonalField(field); },
             sealed.mutable_open());
  for (const hub::v1::DataClass data_class : classes) {
    hub::v1::EventEnvelope part = envelope;
    KeepLeaves(
        [data_class](const FieldDescriptor& field) {
          return IsPersonalField(field) && FieldClass(field) == data_class;
        },
        &part);
    // Ids the part's associated data names are in the clear already.
    part.clear_case_id();
    part.clear_event_id();
    const KeyOwner owner = KeyOwnerOf(envelope, data_class);
    const std::string key_id = DataKeyIdOf(*keys_, owner, data_class);
    absl::StatusOr<std::string> key = keys_->GetOrCreate(key_id);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> ciphertext =
        auth::Seal(*key, part.SerializeAsString(), AssociatedData(envelope, data_class));
    if (!ciphertext.ok()) return ciphertext.status();
    hub::storage::v1::SealedPart* stored = sealed.add_parts();
    stored->set_key_id(key_id);
    stored->set_data_class(data_class);
    stored->set_ciphertext(*std::move(ciphertext));
  }
  std::string bytes(1, '\0');
  sealed.AppendToString(&bytes);
  return bytes;
}

absl::StatusOr<hub::v1::EventEnvelope> FieldSealer::Open(std::string_view stored,
                                                         std::vector<ErasedPart>* erased,
                                                         const WithheldKeys* withheld) const {
  hub::v1::EventEnvelope envelope;
  if (!IsSealed(stored)) {
    if (!envelope.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
      return absl::DataLossError("a stored event does not parse");
    }
    return envelope;
  }
  hub::storage::v1::SealedEnvelope sealed;
  if (!sealed.ParseFromArray(stored.data() + 1, static_cast<int>(stored.size() - 1))) {
    return absl::DataLossError("a sealed event does not parse");
  }
  envelope = std::move(*sealed.mutable_open());
  for (const hub::storage::v1::SealedPart& part : sealed.parts()) {
    if (withheld != nullptr) {
      if (const auto found = withheld->find(part.key_id()); found != withheld->end()) {
        if (erased != nullptr) {
          erased->push_back(
              {part.data_class(), part.key_id(), {found->second, "restricted", ""}, true});
        }
        continue;
      }
    }
    absl::StatusOr<std::string> key = keys_->Get(part.key_id());
    if (!key.ok()) {
      if (std::optional<Erasure> erasure = keys_->Erased(part.key_id()); erasure.has_value()) {
        if (erased != nullptr) erased->push_back({part.data_class(), part.key_id(), *erasure});
        continue;
      }
      if (absl::IsNotFound(key.status())) {
        return absl::FailedPreconditionError(absl::StrCat(
            "data key ", part.key_id(), " of event ", envelope.event_id(),
            " is not in the data key folder and was not erased: restore the keys folder"));
      }
      return key.status();
    }
    absl::StatusOr<std::string> bytes =
        auth::Open(*key, part.ciphertext(), AssociatedData(envelope, part.data_class()));
    if (!bytes.ok()) {
      return absl::DataLossError(
          absl::StrCat("a sealed part of event ", envelope.event_id(), " was altered or moved"));
    }
    hub::v1::EventEnvelope fields;
    if (!fields.ParseFromString(*bytes)) {
      return absl::DataLossError(
          absl::StrCat("a sealed part of event ", envelope.event_id(), " does not parse"));
    }
    envelope.MergeFrom(fields);
  }
  return envelope;
}

absl::StatusOr<std::vector<std::string>> FieldSealer::KeyIdsOf(std::string_view stored) {
  std::vector<std::string> key_ids;
  if (!IsSealed(stored)) return key_ids;
  hub::storage::v1::SealedEnvelope sealed;
  if (!sealed.ParseFromArray(stored.data() + 1, static_cast<int>(stored.size() - 1))) {
    return absl::DataLossError("a sealed event does not parse");
  }
  for (const hub::storage::v1::SealedPart& part : sealed.parts()) {
    if (std::find(key_ids.begin(), key_ids.end(), part.key_id()) == key_ids.end()) {
      key_ids.push_back(part.key_id());
    }
  }
  return key_ids;
}

}  // namespace hub::auth
