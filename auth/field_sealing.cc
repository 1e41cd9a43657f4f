#include "auth/field_sealing.h"

#include <algorithm>
#include <array>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/aead.h"
#include "auth/data_classes.h"
#include "auth/sharing_policy.h"
#include "proto/absl_compat.h"
#include "proto/status_macros.h"

#include "hub/storage/v1/sealed.pb.h"
#include "hub/v1/options.pb.h"

namespace hub::auth {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// What sealing needs to know of a field. Read from the contract's options
// once per field: looking the extensions up on every field of every publish
// was a third of sealing's cost.
struct SealingTraits {
  // A message that is not a value type: its fields are judged one by one.
  bool walk_into = false;
  bool personal = false;
  bool subject_reference = false;
  hub::v1::DataClass data_class = hub::v1::DATA_CLASS_UNSPECIFIED;
};

SealingTraits ReadTraits(const FieldDescriptor& field) {
  SealingTraits traits;
  traits.walk_into =
      field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !IsValueType(*field.message_type());
  traits.data_class = FieldClass(field);
  traits.personal =
      field.options().GetExtension(hub::v1::free_text) || IsPersonalClass(traits.data_class);
  traits.subject_reference = field.cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
                             field.options().GetExtension(hub::v1::subject_reference);
  return traits;
}

// The traits of every field an envelope can hold, built once and only read
// afterwards (so threads share it without a lock).
class TraitsTable {
 public:
  static const TraitsTable& Get() {
    static const TraitsTable* const table = new TraitsTable();
    return *table;
  }

  SealingTraits Of(const FieldDescriptor& field) const {
    const auto found = traits_.find(&field);
    return found != traits_.end() ? found->second : ReadTraits(field);
  }

 private:
  TraitsTable() { Add(*hub::v1::EventEnvelope::descriptor()); }

  void Add(const google::protobuf::Descriptor& message) {
    for (int i = 0; i < message.field_count(); ++i) {
      const FieldDescriptor& field = *message.field(i);
      if (!traits_.emplace(&field, ReadTraits(field)).second) continue;
      if (field.message_type() != nullptr) Add(*field.message_type());
    }
  }

  absl::flat_hash_map<const FieldDescriptor*, SealingTraits> traits_;
};

// Takes every personal leaf out of `open` into the part of its class (made
// by `part_of`, holding only the path to what it seals), and collects the
// subjects the event names on the way. Messages that are not value types
// stay in `open` however empty, so that the event's type stays in the clear.
void MovePersonalLeaves(Message* open, absl::FunctionRef<Message*(hub::v1::DataClass)> part_of,
                        std::vector<std::string>* subjects) {
  const TraitsTable& table = TraitsTable::Get();
  const google::protobuf::Reflection* reflection = open->GetReflection();
  reflection->MutableUnknownFields(open)->Clear();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*open, &fields);
  for (const FieldDescriptor* field : fields) {
    const SealingTraits traits = table.Of(*field);
    if (traits.walk_into) {
      // A part could not be merged back into the right element of a
      // repeated message, so one (the contract has none) is sealed whole.
      if (field->is_repeated()) {
        reflection->SwapFields(open, part_of(traits.data_class), {field});
        continue;
      }
      MovePersonalLeaves(
          reflection->MutableMessage(open, field),
          [&](hub::v1::DataClass data_class) {
            Message* parent = part_of(data_class);
            return parent->GetReflection()->MutableMessage(parent, field);
          },
          subjects);
      continue;
    }
    if (traits.subject_reference) {
      const auto add = [subjects](std::string value) {
        if (!value.empty() &&
            std::find(subjects->begin(), subjects->end(), value) == subjects->end()) {
          subjects->push_back(std::move(value));
        }
      };
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(*open, field); ++i) {
          add(reflection->GetRepeatedString(*open, field, i));
        }
      } else {
        add(reflection->GetString(*open, field));
      }
    }
    if (traits.personal) reflection->SwapFields(open, part_of(traits.data_class), {field});
  }
}

void CollectPersonalClasses(const Message& message, std::vector<hub::v1::DataClass>* classes) {
  const TraitsTable& table = TraitsTable::Get();
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const SealingTraits traits = table.Of(*field);
    if (traits.walk_into) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CollectPersonalClasses(reflection->GetRepeatedMessage(message, field, i), classes);
        }
      } else {
        CollectPersonalClasses(reflection->GetMessage(message, field), classes);
      }
    } else if (traits.personal) {
      classes->push_back(traits.data_class);
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
    if (!TraitsTable::Get().Of(*field).subject_reference) continue;
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

// Binds a routing part to its event, apart from every class's part.
std::string RoutingAssociatedData(const hub::v1::EventEnvelope& open) {
  return absl::StrCat("hub routing part\n", open.case_id(), "\n", open.event_id());
}

bool IsRelationshipField(const FieldDescriptor& field) {
  const std::vector<const FieldDescriptor*>& fields = SharingPolicy::RelationshipFields();
  return std::find(fields.begin(), fields.end(), &field) != fields.end();
}

// Copies a field of a scalar kind the relationship fields have (strings,
// enums), singular or repeated.
void CopyField(const Message& from, const FieldDescriptor& field, Message* to) {
  const google::protobuf::Reflection* in = from.GetReflection();
  const google::protobuf::Reflection* out = to->GetReflection();
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    if (!field.is_repeated()) {
      out->SetString(to, &field, in->GetString(from, &field));
      return;
    }
    for (int i = 0; i < in->FieldSize(from, &field); ++i) {
      out->AddString(to, &field, in->GetRepeatedString(from, &field, i));
    }
  } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    if (!field.is_repeated()) {
      out->SetEnumValue(to, &field, in->GetEnumValue(from, &field));
      return;
    }
    for (int i = 0; i < in->FieldSize(from, &field); ++i) {
      out->AddEnumValue(to, &field, in->GetRepeatedEnumValue(from, &field, i));
    }
  }
}

// Copies into `routing` what of `from` decides relationships and subjects:
// the messages on the way (however empty: whether an event links a victim
// or a child is itself what decides), the relationship fields, and each
// subject reference as `pseudonym_of` names it (left out where it gives
// nothing).
absl::Status CopyRouting(
    const Message& from, Message* routing,
    absl::FunctionRef<absl::StatusOr<std::string>(const std::string&)> pseudonym_of) {
  const TraitsTable& table = TraitsTable::Get();
  const google::protobuf::Reflection* reflection = from.GetReflection();
  const google::protobuf::Reflection* out = routing->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(from, &fields);
  for (const FieldDescriptor* field : fields) {
    const SealingTraits traits = table.Of(*field);
    if (traits.walk_into) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(from, field); ++i) {
          HUB_RETURN_IF_ERROR(CopyRouting(reflection->GetRepeatedMessage(from, field, i),
                                          out->AddMessage(routing, field), pseudonym_of));
        }
      } else {
        HUB_RETURN_IF_ERROR(CopyRouting(reflection->GetMessage(from, field),
                                        out->MutableMessage(routing, field), pseudonym_of));
      }
      continue;
    }
    if (traits.subject_reference) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(from, field); ++i) {
          HUB_ASSIGN_OR_RETURN(std::string pseudonym,
                               pseudonym_of(reflection->GetRepeatedString(from, field, i)));
          if (!pseudonym.empty()) out->AddString(routing, field, std::move(pseudonym));
        }
      } else {
        HUB_ASSIGN_OR_RETURN(std::string pseudonym,
                             pseudonym_of(reflection->GetString(from, field)));
        if (!pseudonym.empty()) out->SetString(routing, field, std::move(pseudonym));
      }
      continue;
    }
    if (IsRelationshipField(*field)) CopyField(from, *field, routing);
  }
  return absl::OkStatus();
}

KeyOwner KeyOwnerOf(const std::vector<std::string>& subjects, const std::string& case_id,
                    hub::v1::DataClass data_class) {
  if (BelongsToTheSubject(data_class) && subjects.size() == 1) return {"subject", subjects.front()};
  return {"case", case_id};
}

}  // namespace

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

bool IsPersonalClass(hub::v1::DataClass data_class) {
  static const std::array<bool, hub::v1::DataClass_ARRAYSIZE> personal = [] {
    std::array<bool, hub::v1::DataClass_ARRAYSIZE> marked{};
    for (int number = 0; number < hub::v1::DataClass_ARRAYSIZE; ++number) {
      const google::protobuf::EnumValueDescriptor* value =
          hub::v1::DataClass_descriptor()->FindValueByNumber(number);
      marked[number] = value != nullptr && value->options().GetExtension(hub::v1::personal);
    }
    return marked;
  }();
  return data_class >= 0 && data_class < hub::v1::DataClass_ARRAYSIZE && personal[data_class];
}

bool IsPersonalField(const FieldDescriptor& field) { return TraitsTable::Get().Of(field).personal; }

std::vector<std::string> SubjectsOf(const hub::v1::EventEnvelope& envelope) {
  std::vector<std::string> subjects;
  CollectSubjects(envelope, &subjects);
  return subjects;
}

KeyOwner KeyOwnerOf(const hub::v1::EventEnvelope& envelope, hub::v1::DataClass data_class) {
  return BelongsToTheSubject(data_class)
             ? KeyOwnerOf(SubjectsOf(envelope), envelope.case_id(), data_class)
             : KeyOwner{"case", envelope.case_id()};
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
  ids.push_back(RoutingKeyIdOf(keys, owner));
  return ids;
}

std::string RoutingKeyIdOf(const DataKeyStore& keys, const KeyOwner& owner) {
  return keys.KeyId(absl::StrCat(owner.scope, "/routing"), owner.name);
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
  hub::storage::v1::SealedEnvelope sealed;
  *sealed.mutable_open() = envelope;
  // One part per class, in class order; each starts empty and receives only
  // the path to the leaves it seals.
  std::map<hub::v1::DataClass, hub::v1::EventEnvelope> parts;
  std::vector<std::string> subjects;
  MovePersonalLeaves(
      sealed.mutable_open(),
      [&parts](hub::v1::DataClass data_class) -> Message* { return &parts[data_class]; },
      &subjects);
  if (parts.empty()) return envelope.SerializeAsString();
  for (const auto& [data_class, part] : parts) {
    const std::string key_id =
        DataKeyIdOf(*keys_, KeyOwnerOf(subjects, envelope.case_id(), data_class), data_class);
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
  // Every sealed event carries its routing facts under its case's key
  // (after its parts: nothing is made for a subject already erased), so
  // that an erased subject's events keep their place in the views.
  HUB_ASSIGN_OR_RETURN(const hub::v1::EventEnvelope routing, RoutingOf(envelope));
  const std::string routing_key_id = RoutingKeyIdOf(*keys_, {"case", envelope.case_id()});
  HUB_ASSIGN_OR_RETURN(const std::string routing_key, keys_->GetOrCreate(routing_key_id));
  HUB_ASSIGN_OR_RETURN(
      std::string routing_ciphertext,
      auth::Seal(routing_key, routing.SerializeAsString(), RoutingAssociatedData(envelope)));
  sealed.mutable_routing()->set_key_id(routing_key_id);
  sealed.mutable_routing()->set_ciphertext(std::move(routing_ciphertext));
  std::string bytes(1, '\0');
  sealed.AppendToString(&bytes);
  return bytes;
}

absl::StatusOr<std::string> FieldSealer::PseudonymOf(std::string_view case_id,
                                                     std::string_view subject_id) const {
  HUB_ASSIGN_OR_RETURN(const std::string key, keys_->GetOrCreate(RoutingKeyIdOf(
                                                  *keys_, {"subject", std::string(subject_id)})));
  const std::string message =
      absl::StrCat("hub subject pseudonym\n", AsAbsl(case_id), "\n", AsAbsl(subject_id));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr) {
    return absl::InternalError("HMAC-SHA-256 failed making a subject's pseudonym");
  }
  // 128 bits: unique among a case's few subjects, and past guessing.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string pseudonym = "pseudonym-";
  for (unsigned int i = 0; i < 16 && i < length; ++i) {
    pseudonym.push_back(kHex[digest[i] >> 4]);
    pseudonym.push_back(kHex[digest[i] & 0xf]);
  }
  return pseudonym;
}

absl::StatusOr<hub::v1::EventEnvelope> FieldSealer::RoutingOf(
    const hub::v1::EventEnvelope& envelope) const {
  hub::v1::EventEnvelope routing;
  HUB_RETURN_IF_ERROR(CopyRouting(envelope, &routing, [&](const std::string& subject_id) {
    return PseudonymOf(envelope.case_id(), subject_id);
  }));
  return routing;
}

absl::StatusOr<hub::v1::EventEnvelope> FieldSealer::Open(std::string_view stored,
                                                         std::vector<ErasedPart>* erased,
                                                         const WithheldKeys* withheld,
                                                         hub::v1::EventEnvelope* routing) const {
  hub::v1::EventEnvelope envelope;
  if (!IsSealed(stored)) {
    if (!envelope.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
      return absl::DataLossError("a stored event does not parse");
    }
    // Nothing personal, so no subject: the event routes as it is.
    if (routing != nullptr) *routing = envelope;
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
  if (routing == nullptr) return envelope;
  HUB_ASSIGN_OR_RETURN(const bool routed, OpenRouting(sealed, envelope, withheld, routing));
  if (routed) return envelope;
  // Stored before routing parts, or its case erased or withheld: from what
  // is open, each subject whose pseudonym can still be made.
  routing->Clear();
  HUB_RETURN_IF_ERROR(CopyRouting(
      envelope, routing, [&](const std::string& subject_id) -> absl::StatusOr<std::string> {
        absl::StatusOr<std::string> pseudonym = PseudonymOf(envelope.case_id(), subject_id);
        if (absl::IsFailedPrecondition(pseudonym.status())) return std::string();
        return pseudonym;
      }));
  return envelope;
}

absl::StatusOr<bool> FieldSealer::OpenRouting(const hub::storage::v1::SealedEnvelope& sealed,
                                              const hub::v1::EventEnvelope& envelope,
                                              const WithheldKeys* withheld,
                                              hub::v1::EventEnvelope* routing) const {
  if (!sealed.has_routing()) return false;
  const hub::storage::v1::SealedPart& part = sealed.routing();
  if (withheld != nullptr && withheld->count(part.key_id()) > 0) return false;
  absl::StatusOr<std::string> key = keys_->Get(part.key_id());
  if (!key.ok()) {
    if (keys_->Erased(part.key_id()).has_value()) return false;
    if (absl::IsNotFound(key.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("the routing key ", part.key_id(), " of event ", envelope.event_id(),
                       " is not in the data key folder and was not erased: restore the keys "
                       "folder"));
    }
    return key.status();
  }
  absl::StatusOr<std::string> bytes =
      auth::Open(*key, part.ciphertext(), RoutingAssociatedData(envelope));
  if (!bytes.ok() || !routing->ParseFromString(*bytes)) {
    return absl::DataLossError(
        absl::StrCat("the routing part of event ", envelope.event_id(), " was altered or moved"));
  }
  return true;
}

absl::StatusOr<std::vector<std::string>> FieldSealer::KeyIdsOf(std::string_view stored) {
  HUB_ASSIGN_OR_RETURN(std::vector<PartKey> parts, PartsOf(stored));
  std::vector<std::string> key_ids;
  for (PartKey& part : parts) {
    if (std::find(key_ids.begin(), key_ids.end(), part.key_id) == key_ids.end()) {
      key_ids.push_back(std::move(part.key_id));
    }
  }
  return key_ids;
}

absl::StatusOr<std::vector<FieldSealer::PartKey>> FieldSealer::PartsOf(std::string_view stored) {
  using google::protobuf::internal::WireFormatLite;
  std::vector<PartKey> parts;
  if (!IsSealed(stored)) return parts;
  // Read off the wire, skipping the open envelope and the ciphertexts: an
  // erasure looks at every stored event for the keys it destroyed, and
  // parsing each whole was most of that.
  const absl::Status damaged = absl::DataLossError("a sealed event does not parse");
  const int size = static_cast<int>(stored.size() - 1);
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(stored.data() + 1),
                                               size);
  constexpr int kParts = hub::storage::v1::SealedEnvelope::kPartsFieldNumber;
  constexpr int kRouting = hub::storage::v1::SealedEnvelope::kRoutingFieldNumber;
  constexpr int kKeyId = hub::storage::v1::SealedPart::kKeyIdFieldNumber;
  constexpr int kDataClass = hub::storage::v1::SealedPart::kDataClassFieldNumber;
  while (const uint32_t tag = input.ReadTag()) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    if ((number != kParts && number != kRouting) ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&input, tag)) return damaged;
      continue;
    }
    uint32_t length = 0;
    // A length past the end would not be pushed as a limit at all.
    if (!input.ReadVarint32(&length) || length > static_cast<uint32_t>(input.BytesUntilLimit())) {
      return damaged;
    }
    const auto limit = input.PushLimit(static_cast<int>(length));
    PartKey& part = parts.emplace_back();
    part.routing = number == kRouting;
    while (const uint32_t field = input.ReadTag()) {
      const int number = WireFormatLite::GetTagFieldNumber(field);
      const auto wire_type = WireFormatLite::GetTagWireType(field);
      if (number == kKeyId && wire_type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        uint32_t key_length = 0;
        if (!input.ReadVarint32(&key_length) ||
            !input.ReadString(&part.key_id, static_cast<int>(key_length))) {
          return damaged;
        }
      } else if (number == kDataClass && wire_type == WireFormatLite::WIRETYPE_VARINT) {
        uint32_t data_class = 0;
        if (!input.ReadVarint32(&data_class)) return damaged;
        part.data_class = static_cast<hub::v1::DataClass>(data_class);
      } else if (!WireFormatLite::SkipField(&input, field)) {
        return damaged;
      }
    }
    if (input.BytesUntilLimit() != 0 || part.key_id.empty()) return damaged;
    input.PopLimit(limit);
  }
  if (input.CurrentPosition() != size) return damaged;
  return parts;
}

}  // namespace hub::auth
