#include "tools/hubctl/audit_verify.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

#include "auth/tree_head_signer.h"
#include "storage/merkle_tree.h"

namespace hub::tools {
namespace {

storage::Sha256Digest Digest(const std::string& bytes) {
  storage::Sha256Digest digest{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), digest.size()), digest.begin());
  return digest;
}

}  // namespace

std::vector<std::string> VerifyAuditExport(const hub::v1::AuditExport& export_file,
                                           const std::string& public_key_pem) {
  std::vector<std::string> problems;
  const hub::v1::SignedTreeHead& sth = export_file.head();
  auth::TreeHead head;
  head.tree_size = sth.tree_size();
  head.root_hash = Digest(sth.root_hash());
  head.timestamp_ms = sth.timestamp_ms();
  if (sth.root_hash().size() != 32 ||
      !auth::VerifyTreeHead(public_key_pem, head, sth.signature())) {
    problems.push_back(
        "the tree head is not signed by this public key, or it was altered; nothing in the "
        "export can be trusted");
    return problems;
  }
  const uint64_t size = sth.tree_size();
  const uint64_t first = export_file.first_index();
  const uint64_t end = export_file.end_index() == 0 ? size : export_file.end_index();
  if (first >= end || end > size) {
    problems.push_back(absl::StrCat("the export claims records ", first, " to ", end,
                                    ", which is not a range of the ", size,
                                    " records of the signed head"));
    return problems;
  }
  // Per index of the range: 0 not in the export, 1 verified, 2 present but
  // reported.
  std::vector<uint8_t> state(end - first, 0);
  for (int k = 0; k < export_file.records_size(); ++k) {
    const hub::v1::ExportedRecord& record = export_file.records(k);
    std::vector<storage::Sha256Digest> path;
    for (const std::string& node : record.inclusion_path()) path.push_back(Digest(node));
    if (record.index() >= size) {
      problems.push_back(absl::StrCat("entry ", k, " claims record ", record.index(),
                                      ", beyond the ", size, " records of the signed head"));
      continue;
    }
    if (record.index() < first || record.index() >= end) {
      problems.push_back(absl::StrCat("entry ", k, " holds record ", record.index(),
                                      ", outside the exported range ", first, " to ", end - 1));
      continue;
    }
    uint8_t& seen = state[record.index() - first];
    if (!storage::VerifyMerkleInclusion(storage::MerkleLeafHash(record.raw()), record.index(), size,
                                        path, head.root_hash)) {
      problems.push_back(absl::StrCat("record ", record.index(),
                                      " is altered or replaced: it is not the record the signed "
                                      "head holds at that index"));
      if (seen == 0) seen = 2;
      continue;
    }
    if (seen == 1) {
      problems.push_back(absl::StrCat("record ", record.index(), " appears twice"));
      continue;
    }
    seen = 1;
    if (record.index() != first + static_cast<uint64_t>(k)) {
      problems.push_back(
          absl::StrCat("the export is reordered: entry ", k, " holds record ", record.index()));
    }
  }
  for (uint64_t i = first; i < end; ++i) {
    if (state[i - first] == 0) problems.push_back(absl::StrCat("record ", i, " is missing"));
  }
  return problems;
}

}  // namespace hub::tools
