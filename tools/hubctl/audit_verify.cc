#include "tools/hubctl/audit_verify.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "auth/checkpoint.h"
#include "auth/tree_head_signer.h"
#include "storage/merkle_tree.h"

namespace hub::tools {
namespace {

storage::Sha256Digest Digest(const std::string& bytes) {
  storage::Sha256Digest digest{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), digest.size()), digest.begin());
  return digest;
}

// The first leaves of an exported audit, as a Merkle hash source.
class ExportedLeaves final : public storage::MerkleHashSource {
 public:
  explicit ExportedLeaves(std::vector<storage::Sha256Digest> leaves) : leaves_(std::move(leaves)) {}

  absl::StatusOr<storage::Sha256Digest> PerfectSubtreeHash(int level,
                                                           uint64_t index) const override {
    if (level == 0) {
      if (index >= leaves_.size()) return absl::OutOfRangeError("beyond the exported records");
      return leaves_[index];
    }
    absl::StatusOr<storage::Sha256Digest> left = PerfectSubtreeHash(level - 1, 2 * index);
    if (!left.ok()) return left;
    absl::StatusOr<storage::Sha256Digest> right = PerfectSubtreeHash(level - 1, 2 * index + 1);
    if (!right.ok()) return right;
    return storage::MerkleNodeHash(*left, *right);
  }

 private:
  std::vector<storage::Sha256Digest> leaves_;
};

}  // namespace

std::vector<std::string> VerifyAuditCheckpoints(const hub::v1::AuditExport& export_file,
                                                const std::string& checkpoints_text,
                                                const std::string& public_key_pem,
                                                size_t* checked) {
  std::vector<std::string> problems;
  *checked = 0;
  std::vector<storage::Sha256Digest> leaves;
  for (const hub::v1::ExportedRecord& record : export_file.records()) {
    if (record.index() != leaves.size()) break;  // only the prefix from record 0 counts
    leaves.push_back(storage::MerkleLeafHash(record.raw()));
  }
  const ExportedLeaves source(leaves);
  auth::CheckpointKeyChain keys(public_key_pem);
  for (const std::string& note : auth::SplitNotes(checkpoints_text)) {
    const std::string origin = note.substr(0, note.find('\n'));
    const bool audit = absl::EndsWith(origin, "/audit");
    // The event log's checkpoints are opened too: one may rotate the key.
    const std::string key_name = origin.substr(0, origin.rfind('/'));
    absl::StatusOr<auth::Checkpoint> checkpoint = keys.Open(note, key_name);
    if (!audit) {
      if (checkpoint.ok()) continue;
      problems.push_back(absl::StrCat("a checkpoint among the audit's is not the hub's: ",
                                      checkpoint.status().message()));
      return problems;
    }
    if (!checkpoint.ok()) {
      problems.push_back(absl::StrCat("audit checkpoint ", *checked + 1,
                                      " is not the hub's: ", checkpoint.status().message()));
      return problems;
    }
    if (checkpoint->size > export_file.head().tree_size()) {
      problems.push_back(absl::StrCat("the audit does NOT extend checkpoint ", origin, " size ",
                                      checkpoint->size, ": the signed head holds only ",
                                      export_file.head().tree_size(),
                                      " records (rolled back, or rebuilt from an older backup)"));
      return problems;
    }
    if (checkpoint->size > leaves.size()) {
      problems.push_back(absl::StrCat("checkpoint ", origin, " size ", checkpoint->size,
                                      " cannot be checked: the export does not hold records 0 to ",
                                      checkpoint->size - 1, " (export the whole audit)"));
      return problems;
    }
    absl::StatusOr<storage::Sha256Digest> root = storage::MerkleRoot(source, checkpoint->size);
    if (!root.ok() || *root != checkpoint->root) {
      problems.push_back(
          absl::StrCat("the audit does NOT extend checkpoint ", origin, " size ", checkpoint->size,
                       ": its first ", checkpoint->size,
                       " records are not the ones witnessed (the audit was rewritten or forked)"));
      return problems;
    }
    ++*checked;
  }
  if (*checked == 0) problems.push_back("the checkpoints file holds no checkpoint of the audit");
  return problems;
}

std::string KeyInForce(const std::string& checkpoints_text, const std::string& first_key_pem) {
  auth::CheckpointKeyChain keys(first_key_pem);
  for (const std::string& note : auth::SplitNotes(checkpoints_text)) {
    const std::string origin = note.substr(0, note.find('\n'));
    if (!keys.Open(note, origin.substr(0, origin.rfind('/'))).ok()) break;
  }
  return keys.key_in_force_pem();
}

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
