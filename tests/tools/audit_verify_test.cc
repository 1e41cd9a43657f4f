#include "tools/hubctl/audit_verify.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/tree_head_signer.h"
#include "storage/merkle_tree.h"
#include "tests/testing/temp_dir.h"

namespace hub::tools {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class Leaves : public storage::MerkleHashSource {
 public:
  explicit Leaves(const std::vector<std::string>& records) : records_(records) {}
  absl::StatusOr<storage::Sha256Digest> PerfectSubtreeHash(int level,
                                                           uint64_t index) const override {
    if (level == 0) return storage::MerkleLeafHash(records_.at(index));
    return storage::MerkleNodeHash(*PerfectSubtreeHash(level - 1, 2 * index),
                                   *PerfectSubtreeHash(level - 1, 2 * index + 1));
  }

 private:
  const std::vector<std::string>& records_;
};

std::string Bytes(const storage::Sha256Digest& digest) {
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// An export of 9 records, signed by a fresh audit key.
class AuditVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 9; ++i) records_.push_back(absl::StrCat("audit record ", i));
    const Leaves tree(records_);
    auto signer = auth::TreeHeadSigner::LoadOrCreate(dir_.Sub("key.pem"));
    ASSERT_TRUE(signer.ok());
    public_key_ = (*signer)->public_key_pem();
    auth::TreeHead head;
    head.tree_size = records_.size();
    head.root_hash = *storage::MerkleRoot(tree, records_.size());
    head.timestamp_ms = 1795000000000;
    hub::v1::SignedTreeHead* sth = export_.mutable_head();
    sth->set_tree_size(head.tree_size);
    sth->set_root_hash(Bytes(head.root_hash));
    sth->set_timestamp_ms(head.timestamp_ms);
    sth->set_signature(*(*signer)->Sign(head));
    for (uint64_t i = 0; i < records_.size(); ++i) {
      hub::v1::ExportedRecord* record = export_.add_records();
      record->set_index(i);
      record->set_raw(records_[i]);
      const auto proof = storage::MerkleInclusionProof(tree, i, records_.size());
      ASSERT_TRUE(proof.ok());
      for (const auto& node : *proof) record->add_inclusion_path(Bytes(node));
    }
  }

  hub::testing::TempDir dir_;
  std::vector<std::string> records_;
  std::string public_key_;
  hub::v1::AuditExport export_;
};

TEST_F(AuditVerifyTest, AnIntactExportVerifies) {
  EXPECT_THAT(VerifyAuditExport(export_, public_key_), IsEmpty());
}

TEST_F(AuditVerifyTest, AnAlteredRecordIsNamed) {
  export_.mutable_records(3)->set_raw("audit record 3, quietly edited");
  EXPECT_THAT(VerifyAuditExport(export_, public_key_),
              ElementsAre(::testing::HasSubstr("record 3 is altered or replaced")));
}

TEST_F(AuditVerifyTest, ADeletedRecordIsNamed) {
  export_.mutable_records()->DeleteSubrange(5, 1);
  auto problems = VerifyAuditExport(export_, public_key_);
  EXPECT_THAT(problems, ::testing::Contains("record 5 is missing"));
}

TEST_F(AuditVerifyTest, ReorderedRecordsAreNamed) {
  export_.mutable_records()->SwapElements(2, 6);
  EXPECT_THAT(VerifyAuditExport(export_, public_key_),
              ElementsAre("the export is reordered: entry 2 holds record 6",
                          "the export is reordered: entry 6 holds record 2"));
}

TEST_F(AuditVerifyTest, ATruncatedExportIsNamed) {
  export_.mutable_records()->DeleteSubrange(7, 2);
  EXPECT_THAT(VerifyAuditExport(export_, public_key_),
              ElementsAre("record 7 is missing", "record 8 is missing"));
}

TEST_F(AuditVerifyTest, ARecordMovedToAnotherIndexIsNamed) {
  export_.mutable_records(4)->set_index(1);
  auto problems = VerifyAuditExport(export_, public_key_);
  EXPECT_THAT(problems, ::testing::Contains(::testing::HasSubstr("record 1 is altered")));
  EXPECT_THAT(problems, ::testing::Contains("record 4 is missing"));
}

class AuditRangeVerifyTest : public AuditVerifyTest {
 protected:
  // Records 3 to 6 of the 9-record tree.
  void SetUp() override {
    AuditVerifyTest::SetUp();
    export_.mutable_records()->DeleteSubrange(7, 2);
    export_.mutable_records()->DeleteSubrange(0, 3);
    export_.set_first_index(3);
    export_.set_end_index(7);
  }
};

TEST_F(AuditRangeVerifyTest, AnIntactRangeVerifies) {
  EXPECT_THAT(VerifyAuditExport(export_, public_key_), IsEmpty());
}

TEST_F(AuditRangeVerifyTest, ARecordMissingAtEitherEndIsNamed) {
  export_.mutable_records()->RemoveLast();
  export_.mutable_records()->DeleteSubrange(0, 1);
  EXPECT_THAT(VerifyAuditExport(export_, public_key_),
              ElementsAre(::testing::HasSubstr("reordered"), ::testing::HasSubstr("reordered"),
                          "record 3 is missing", "record 6 is missing"));
}

TEST_F(AuditRangeVerifyTest, AlteredAndForeignRecordsAreNamed) {
  export_.mutable_records(1)->set_raw("edited");
  export_.mutable_records(2)->set_index(8);  // a record from outside the range
  auto problems = VerifyAuditExport(export_, public_key_);
  EXPECT_THAT(problems, ::testing::Contains(::testing::HasSubstr("record 4 is altered")));
  EXPECT_THAT(problems, ::testing::Contains("entry 2 holds record 8, outside the exported range "
                                            "3 to 6"));
  EXPECT_THAT(problems, ::testing::Contains("record 5 is missing"));
}

TEST_F(AuditRangeVerifyTest, ARangeBeyondTheHeadIsRefused) {
  export_.set_end_index(12);
  EXPECT_THAT(VerifyAuditExport(export_, public_key_),
              ElementsAre(::testing::HasSubstr("which is not a range of the 9 records")));
}

TEST_F(AuditVerifyTest, AForgedHeadIsRefused) {
  export_.mutable_head()->set_tree_size(8);  // hide the last record
  EXPECT_THAT(VerifyAuditExport(export_, public_key_),
              ElementsAre(::testing::HasSubstr("not signed by this public key")));
  hub::testing::TempDir other;
  auto impostor = auth::TreeHeadSigner::LoadOrCreate(other.Sub("key.pem"));
  ASSERT_TRUE(impostor.ok());
  export_.mutable_head()->set_tree_size(9);
  EXPECT_THAT(VerifyAuditExport(export_, (*impostor)->public_key_pem()),
              ElementsAre(::testing::HasSubstr("not signed by this public key")));
}

}  // namespace
}  // namespace hub::tools
