// Personal data at rest. Before an event is stored, every field that holds
// personal data (a class marked personal in the contract, or free text) is
// taken out of it and encrypted, one part per class, under the data key of
// whom it is about (auth/data_keys.h): victim and child classes under the
// key of the one subject the event names, everything else under the key of
// the case (the perpetrator's). What remains in the clear is what routing,
// ordering and auditing need: ids, times, the event's type and its
// non-personal fields. Erasing a key leaves the parts it sealed unreadable
// while the stored bytes, and every proof over them, stay as they were.
//
// An event naming several subjects (an order protecting two victims) keeps
// its victim fields under the case's key: erasing one of the victims must
// not erase what concerns the others.
//
// Whom an event is about and who supports her decide who may see it, and
// they are personal too. So a sealed event also carries a routing part,
// under its case's routing key: what the sharing policy's relationships
// read, each subject named by a pseudonym made under a key of her own.
// Erasing her destroys that key with the others: her events keep their
// readers and their place in the views, and nothing left leads back to her.
#ifndef HUB_AUTH_FIELD_SEALING_H_
#define HUB_AUTH_FIELD_SEALING_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

#include "auth/data_keys.h"

#include "hub/v1/events.pb.h"

namespace hub::storage::v1 {
class SealedEnvelope;
}  // namespace hub::storage::v1

namespace hub::auth {

// Whether the contract marks `data_class` as personal.
bool IsPersonalClass(hub::v1::DataClass data_class);
// Whether a field holds personal data: a personal class, or free text.
bool IsPersonalField(const google::protobuf::FieldDescriptor& field);

// Whether content of `data_class` is about a victim or a child (sealed
// under the key of the one subject an event names) rather than about the
// case and its perpetrator.
bool BelongsToTheSubject(hub::v1::DataClass data_class);

// The subjects an event names (its subject_reference fields), in order,
// each once.
std::vector<std::string> SubjectsOf(const hub::v1::EventEnvelope& envelope);

// Whose data key seals `data_class` of `envelope`: ("subject", id) or
// ("case", case id).
struct KeyOwner {
  std::string scope;
  std::string name;
};
KeyOwner KeyOwnerOf(const hub::v1::EventEnvelope& envelope, hub::v1::DataClass data_class);

// The data key of `owner`'s content of `data_class`: one key per owner and
// class, so that a retention rule can destroy one class (a victim's
// whereabouts) and keep the rest (the case record).
std::string DataKeyIdOf(const DataKeyStore& keys, const KeyOwner& owner,
                        hub::v1::DataClass data_class);
// Every key that can hold content of `owner`: one per personal class, and
// the single key per owner that events sealed before keys were per class
// used (erasing an owner destroys them all).
std::vector<std::string> AllDataKeyIdsOf(const DataKeyStore& keys, const KeyOwner& owner);
// The key an owner's routing facts use: for a case, the key its events'
// routing parts are sealed under; for a subject, the key of her
// pseudonyms (FieldSealer::PseudonymOf). Among AllDataKeyIdsOf(owner).
std::string RoutingKeyIdOf(const DataKeyStore& keys, const KeyOwner& owner);
// The classes whose fields are sealed, in number order.
std::vector<hub::v1::DataClass> PersonalClasses();
// The personal classes `envelope` holds content of (each sealed apart,
// under KeyOwnerOf(envelope, class)), in number order.
std::vector<hub::v1::DataClass> PersonalClassesIn(const hub::v1::EventEnvelope& envelope);

// A part of an event that could not be opened because its key was erased.
struct ErasedPart {
  hub::v1::DataClass data_class = hub::v1::DATA_CLASS_UNSPECIFIED;
  std::string key_id;
  Erasure erasure;
  // Not erased: withheld under a restriction of processing (erasure's
  // erased_at is when the restriction began).
  bool restricted = false;
};

// Keys whose content is withheld under a restriction of processing, and
// since when.
using WithheldKeys = std::map<std::string, absl::Time>;

class FieldSealer {
 public:
  explicit FieldSealer(DataKeyStore* keys) : keys_(keys) {}

  // The bytes to store for `envelope`: its serialization if it holds no
  // personal field; otherwise a zero byte (which no serialized envelope
  // begins with) and a hub.storage.v1.SealedEnvelope. FAILED_PRECONDITION
  // if a key it needs was erased.
  absl::StatusOr<std::string> Seal(const hub::v1::EventEnvelope& envelope) const;

  // The envelope in stored bytes of either form, with every part whose key
  // is held; the parts whose key was erased are left out and described in
  // `erased` (if given). DATA_LOSS if the bytes do not parse or a part was
  // altered; FAILED_PRECONDITION if a key is missing without having been
  // erased (a keys folder lost or not restored).
  // Parts under a key in `withheld` are left closed and described in
  // `erased` as restricted.
  absl::StatusOr<hub::v1::EventEnvelope> Open(std::string_view stored,
                                              std::vector<ErasedPart>* erased = nullptr,
                                              const WithheldKeys* withheld = nullptr) const {
    return Open(stored, erased, withheld, nullptr);
  }

  // The same, and in `routing` what decides whom the event is about and
  // who is related to its case (a skeleton envelope: the producing agency,
  // the fields of SharingPolicy::RelationshipFields, and every subject
  // reference as the subject's pseudonym in the case). From the event's
  // routing part if its key is held; otherwise (an event stored before
  // routing parts, or its case erased) from what `envelope` still holds,
  // leaving out a subject whose pseudonym key was erased.
  absl::StatusOr<hub::v1::EventEnvelope> Open(std::string_view stored,
                                              std::vector<ErasedPart>* erased,
                                              const WithheldKeys* withheld,
                                              hub::v1::EventEnvelope* routing) const;

  // What decides whom `envelope` is about and who is related to its case,
  // with every subject named by her pseudonym in the case (see Open).
  // FAILED_PRECONDITION if a subject's pseudonym key was erased.
  absl::StatusOr<hub::v1::EventEnvelope> RoutingOf(const hub::v1::EventEnvelope& envelope) const;
  // A subject's pseudonym in a case: a keyed hash of the two under a key
  // of the subject's own (RoutingKeyIdOf), made if need be. Erasing the
  // subject destroys that key: her pseudonym then still tells her events
  // apart from others' but can no longer be traced back to her, by anyone.
  absl::StatusOr<std::string> PseudonymOf(std::string_view case_id,
                                          std::string_view subject_id) const;

  // Whether stored bytes are in the sealed form.
  static bool IsSealed(std::string_view stored) { return !stored.empty() && stored[0] == '\0'; }
  // The data keys the sealed parts of stored bytes use (none if plain).
  static absl::StatusOr<std::vector<std::string>> KeyIdsOf(std::string_view stored);
  // Each sealed part of stored bytes: its data key and class (none if
  // plain), without opening any.
  struct PartKey {
    std::string key_id;
    hub::v1::DataClass data_class = hub::v1::DATA_CLASS_UNSPECIFIED;
    // The routing part (no class of its own).
    bool routing = false;
  };
  static absl::StatusOr<std::vector<PartKey>> PartsOf(std::string_view stored);

  DataKeyStore& keys() const { return *keys_; }

 private:
  // Opens the routing part of `sealed` into `routing`: false if it has
  // none or its key is erased or withheld.
  absl::StatusOr<bool> OpenRouting(const hub::storage::v1::SealedEnvelope& sealed,
                                   const hub::v1::EventEnvelope& envelope,
                                   const WithheldKeys* withheld,
                                   hub::v1::EventEnvelope* routing) const;

  DataKeyStore* const keys_;
};

}  // namespace hub::auth

#endif  // HUB_AUTH_FIELD_SEALING_H_
