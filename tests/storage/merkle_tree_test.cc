#include "storage/merkle_tree.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace hub::storage {
namespace {

using ::hub::testing::StatusIs;

// Leaves in memory; perfect subtrees computed on demand.
class InMemoryTree : public MerkleHashSource {
 public:
  explicit InMemoryTree(size_t leaves) {
    for (size_t i = 0; i < leaves; ++i) records_.push_back(absl::StrCat("audit record ", i));
  }
  absl::StatusOr<Sha256Digest> PerfectSubtreeHash(int level, uint64_t index) const override {
    if (level == 0) return MerkleLeafHash(records_.at(index));
    auto left = PerfectSubtreeHash(level - 1, 2 * index);
    auto right = PerfectSubtreeHash(level - 1, 2 * index + 1);
    return MerkleNodeHash(*left, *right);
  }
  const std::string& record(size_t i) const { return records_[i]; }

 private:
  std::vector<std::string> records_;
};

// MTH exactly as RFC 6962 section 2.1 defines it, straight from the leaves.
Sha256Digest ReferenceRoot(const InMemoryTree& tree, uint64_t begin, uint64_t size) {
  if (size == 1) return MerkleLeafHash(tree.record(begin));
  uint64_t k = 1;
  while (k * 2 < size) k *= 2;
  return MerkleNodeHash(ReferenceRoot(tree, begin, k), ReferenceRoot(tree, begin + k, size - k));
}

constexpr uint64_t kMaxSize = 40;

TEST(MerkleTreeTest, KnownHashes) {
  InMemoryTree empty(0);
  EXPECT_EQ(DigestToHex(*MerkleRoot(empty, 0)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(DigestToHex(MerkleLeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

TEST(MerkleTreeTest, RootsMatchTheRfcDefinition) {
  InMemoryTree tree(kMaxSize);
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    EXPECT_EQ(*MerkleRoot(tree, n), ReferenceRoot(tree, 0, n)) << n;
  }
}

TEST(MerkleTreeTest, EveryInclusionProofVerifiesAndTamperingFails) {
  InMemoryTree tree(kMaxSize);
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    const Sha256Digest root = *MerkleRoot(tree, n);
    for (uint64_t m = 0; m < n; ++m) {
      auto proof = MerkleInclusionProof(tree, m, n);
      ASSERT_TRUE(proof.ok());
      const Sha256Digest leaf = MerkleLeafHash(tree.record(m));
      ASSERT_TRUE(VerifyMerkleInclusion(leaf, m, n, *proof, root)) << m << " of " << n;
      EXPECT_FALSE(VerifyMerkleInclusion(MerkleLeafHash("altered"), m, n, *proof, root));
      if (n > 1) {
        EXPECT_FALSE(VerifyMerkleInclusion(leaf, (m + 1) % n, n, *proof, root)) << m << "/" << n;
      }
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<Sha256Digest> damaged = *proof;
        damaged[i][0] ^= 1;
        EXPECT_FALSE(VerifyMerkleInclusion(leaf, m, n, damaged, root));
      }
      if (!proof->empty()) {
        std::vector<Sha256Digest> truncated(proof->begin(), proof->end() - 1);
        EXPECT_FALSE(VerifyMerkleInclusion(leaf, m, n, truncated, root));
      }
    }
  }
  EXPECT_THAT(MerkleInclusionProof(tree, 5, 5), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MerkleTreeTest, EveryConsistencyProofVerifiesAndTamperingFails) {
  InMemoryTree tree(kMaxSize);
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    const Sha256Digest new_root = *MerkleRoot(tree, n);
    for (uint64_t m = 1; m <= n; ++m) {
      const Sha256Digest old_root = *MerkleRoot(tree, m);
      auto proof = MerkleConsistencyProof(tree, m, n);
      ASSERT_TRUE(proof.ok());
      ASSERT_TRUE(VerifyMerkleConsistency(m, n, *proof, old_root, new_root)) << m << " -> " << n;
      if (m == n) continue;
      // A rewritten history (another old root) is caught.
      EXPECT_FALSE(VerifyMerkleConsistency(m, n, *proof, MerkleLeafHash("forged"), new_root));
      EXPECT_FALSE(VerifyMerkleConsistency(m, n, *proof, old_root, MerkleLeafHash("forged")));
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<Sha256Digest> damaged = *proof;
        damaged[i][31] ^= 0x80;
        EXPECT_FALSE(VerifyMerkleConsistency(m, n, damaged, old_root, new_root));
      }
    }
  }
  EXPECT_THAT(MerkleConsistencyProof(tree, 6, 5), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(VerifyMerkleConsistency(6, 5, {}, *MerkleRoot(tree, 6), *MerkleRoot(tree, 5)));
}

}  // namespace
}  // namespace hub::storage
