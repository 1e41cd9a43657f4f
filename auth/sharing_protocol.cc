#include "auth/sharing_protocol.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

#include "auth/spiffe_id.h"
#include "proto/absl_compat.h"

namespace hub::auth {
namespace {

using google::protobuf::TextFormat;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string_view source) : source_(source) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, message);
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

// "file:line:col: " of a parsed field, for validation errors.
class Locator {
 public:
  Locator(std::string_view source, const TextFormat::ParseInfoTree* tree)
      : source_(source), tree_(tree) {}

  // The position of a principal's field.
  std::string At(const TextFormat::ParseInfoTree* tree, const std::string& field_name) const {
    const google::protobuf::FieldDescriptor* field =
        hub::v1::Principal::descriptor()->FindFieldByName(field_name);
    const auto location = tree->GetLocation(field, -1);
    if (location.line < 0) return absl::StrCat(source_, ": ");
    return absl::StrCat(source_, ":", location.line + 1, ":", location.column + 1, ": ");
  }

  const TextFormat::ParseInfoTree* principal_tree(int index) const {
    return tree_->GetTreeForNested(
        hub::v1::SharingProtocol::descriptor()->FindFieldByName("principals"), index);
  }

 private:
  std::string source_;
  const TextFormat::ParseInfoTree* tree_;
};

absl::Status ValidatePrincipals(const hub::v1::SharingProtocol& protocol, const Locator& at) {
  absl::flat_hash_set<std::string> identities;
  for (int i = 0; i < protocol.principals_size(); ++i) {
    const hub::v1::Principal& principal = protocol.principals(i);
    const TextFormat::ParseInfoTree* tree = at.principal_tree(i);
    absl::StatusOr<HubSpiffeId> id = ParseHubSpiffeId(principal.identity());
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at.At(tree, "identity"), id.status().message()));
    }
    if (id->partnership != protocol.partnership()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.At(tree, "identity"), "identity ", principal.identity(), " belongs to partnership \"",
          id->partnership, "\", not \"", protocol.partnership(), "\""));
    }
    if (id->agency != principal.agency()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.At(tree, "agency"), "agency \"", principal.agency(), "\" does not match \"",
          id->agency, "\" in identity ", principal.identity()));
    }
    if (id->role != principal.role()) {
      return absl::InvalidArgumentError(absl::StrCat(
          at.At(tree, "role"), "role ", hub::v1::Role_Name(principal.role()), " does not match \"",
          RoleSegment(id->role), "\" in identity ", principal.identity()));
    }
    if (principal.agency_kind() == hub::v1::AGENCY_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(at.At(tree, "identity"), "principal ",
                                                     principal.identity(), " has no agency_kind"));
    }
    if (!identities.insert(principal.identity()).second) {
      return absl::InvalidArgumentError(absl::StrCat(at.At(tree, "identity"), "identity ",
                                                     principal.identity(), " is listed twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoadedProtocol> ParseSharingProtocol(std::string_view text,
                                                    std::string_view source_name) {
  LoadedProtocol loaded;
  TextFormat::Parser parser;
  CollectErrors errors(source_name);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &loaded.protocol)) {
    return absl::InvalidArgumentError(absl::StrJoin(errors.errors(), "\n"));
  }
  const Locator at(source_name, &tree);
  if (loaded.protocol.partnership().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(source_name), ": the protocol names no partnership"));
  }
  if (loaded.protocol.version().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(source_name), ": the protocol has no version"));
  }
  absl::Status principals = ValidatePrincipals(loaded.protocol, at);
  if (!principals.ok()) return principals;
  if (loaded.protocol.principals_size() == 0) {
    loaded.warnings.push_back(
        absl::StrCat(AsAbsl(source_name), ": no principals are listed; every caller is refused"));
  }
  return loaded;
}

absl::StatusOr<LoadedProtocol> LoadSharingProtocolFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot read the sharing protocol ", path));
  }
  std::stringstream text;
  text << file.rdbuf();
  return ParseSharingProtocol(text.str(), path);
}

}  // namespace hub::auth
