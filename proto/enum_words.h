// An enum value of the contract in words, for people: "ROUTE_MARAC" ->
// "MARAC", "ACTION_IN_PROGRESS" -> "in progress", "SESSION_MISSED" ->
// "session missed". The prefix every value of the enum shares is dropped;
// the domain's acronyms stay in capitals. Shared by the hub's summaries and
// hubctl's pages so that both say the same thing.
#ifndef HUB_PROTO_ENUM_WORDS_H_
#define HUB_PROTO_ENUM_WORDS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"

namespace hub {

inline std::string EnumWords(const google::protobuf::EnumValueDescriptor* value) {
  if (value == nullptr) return "?";
  static const auto* kAcronyms = new absl::flat_hash_set<std::string>{
      "MARAC", "DAPP", "MATAC", "MASH", "DASH", "RFG", "DVPN", "DVPO", "DAPO", "IDVA"};
  // The longest "WORD_" prefix shared by every value but the zero one.
  const google::protobuf::EnumDescriptor* type = value->type();
  std::string prefix;
  bool first = true;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    const std::string& name = type->value(i)->name();
    if (first) {
      prefix = name.substr(0, name.find('_') == std::string::npos ? 0 : name.find('_') + 1);
      first = false;
    } else if (name.compare(0, prefix.size(), prefix) != 0) {
      prefix.clear();
    }
  }
  std::string name = value->name();
  if (!prefix.empty() && name.size() > prefix.size() &&
      name.compare(0, prefix.size(), prefix) == 0) {
    name.erase(0, prefix.size());
  }
  std::vector<std::string> words;
  for (const std::string& word : std::vector<std::string>(absl::StrSplit(name, '_'))) {
    words.push_back(kAcronyms->contains(word) ? word : absl::AsciiStrToLower(word));
  }
  return absl::StrJoin(words, " ");
}

template <typename Enum>
std::string EnumWords(Enum value) {
  return EnumWords(google::protobuf::GetEnumDescriptor<Enum>()->FindValueByNumber(value));
}

}  // namespace hub

#endif  // HUB_PROTO_ENUM_WORDS_H_
