#include "storage/merkle_tree.h"

#include <string>

#include "absl/strings/str_cat.h"

#include "proto/status_macros.h"

namespace hub::storage {
namespace {

// The largest power of two strictly below n (n >= 2).
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

int Log2(uint64_t power_of_two) {
  int level = 0;
  while ((uint64_t{1} << level) < power_of_two) ++level;
  return level;
}

// MTH(D[begin : begin + size]); `begin` is aligned to the split structure.
absl::StatusOr<Sha256Digest> SubtreeHash(const MerkleHashSource& source, uint64_t begin,
                                         uint64_t size) {
  if (IsPowerOfTwo(size)) return source.PerfectSubtreeHash(Log2(size), begin >> Log2(size));
  const uint64_t k = SplitPoint(size);
  HUB_ASSIGN_OR_RETURN(Sha256Digest left, SubtreeHash(source, begin, k));
  HUB_ASSIGN_OR_RETURN(Sha256Digest right, SubtreeHash(source, begin + k, size - k));
  return MerkleNodeHash(left, right);
}

absl::Status InclusionPath(const MerkleHashSource& source, uint64_t index, uint64_t begin,
                           uint64_t size, std::vector<Sha256Digest>* proof) {
  if (size <= 1) return absl::OkStatus();
  const uint64_t k = SplitPoint(size);
  if (index < k) {
    HUB_RETURN_IF_ERROR(InclusionPath(source, index, begin, k, proof));
    HUB_ASSIGN_OR_RETURN(Sha256Digest right, SubtreeHash(source, begin + k, size - k));
    proof->push_back(right);
  } else {
    HUB_RETURN_IF_ERROR(InclusionPath(source, index - k, begin + k, size - k, proof));
    HUB_ASSIGN_OR_RETURN(Sha256Digest left, SubtreeHash(source, begin, k));
    proof->push_back(left);
  }
  return absl::OkStatus();
}

// SUBPROOF(m, D[begin : begin + size], b) of RFC 6962.
absl::Status SubProof(const MerkleHashSource& source, uint64_t m, uint64_t begin, uint64_t size,
                      bool whole, std::vector<Sha256Digest>* proof) {
  if (m == size) {
    if (whole) return absl::OkStatus();
    HUB_ASSIGN_OR_RETURN(Sha256Digest hash, SubtreeHash(source, begin, size));
    proof->push_back(hash);
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(size);
  if (m <= k) {
    HUB_RETURN_IF_ERROR(SubProof(source, m, begin, k, whole, proof));
    HUB_ASSIGN_OR_RETURN(Sha256Digest right, SubtreeHash(source, begin + k, size - k));
    proof->push_back(right);
  } else {
    HUB_RETURN_IF_ERROR(SubProof(source, m - k, begin + k, size - k, false, proof));
    HUB_ASSIGN_OR_RETURN(Sha256Digest left, SubtreeHash(source, begin, k));
    proof->push_back(left);
  }
  return absl::OkStatus();
}

}  // namespace

Sha256Digest MerkleLeafHash(std::string_view record) {
  std::string prefixed(1, '\0');
  prefixed.append(record);
  return Sha256(prefixed);
}

Sha256Digest MerkleNodeHash(const Sha256Digest& left, const Sha256Digest& right) {
  std::string data(1, '\1');
  data.append(reinterpret_cast<const char*>(left.data()), left.size());
  data.append(reinterpret_cast<const char*>(right.data()), right.size());
  return Sha256(data);
}

absl::StatusOr<Sha256Digest> MerkleRoot(const MerkleHashSource& source, uint64_t size) {
  if (size == 0) return Sha256("");
  return SubtreeHash(source, 0, size);
}

absl::StatusOr<std::vector<Sha256Digest>> MerkleInclusionProof(const MerkleHashSource& source,
                                                               uint64_t index, uint64_t size) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("record ", index, " is not in a tree of ", size, " records"));
  }
  std::vector<Sha256Digest> proof;
  HUB_RETURN_IF_ERROR(InclusionPath(source, index, 0, size, &proof));
  return proof;
}

absl::StatusOr<std::vector<Sha256Digest>> MerkleConsistencyProof(const MerkleHashSource& source,
                                                                 uint64_t old_size,
                                                                 uint64_t new_size) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("a tree of ", old_size, " records cannot be a prefix of one of ", new_size));
  }
  std::vector<Sha256Digest> proof;
  if (old_size == 0 || old_size == new_size) return proof;
  HUB_RETURN_IF_ERROR(SubProof(source, old_size, 0, new_size, true, &proof));
  return proof;
}

bool VerifyMerkleInclusion(const Sha256Digest& leaf_hash, uint64_t index, uint64_t size,
                           const std::vector<Sha256Digest>& proof, const Sha256Digest& root) {
  if (index >= size) return false;
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Sha256Digest r = leaf_hash;
  for (const Sha256Digest& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = MerkleNodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyMerkleConsistency(uint64_t old_size, uint64_t new_size,
                             const std::vector<Sha256Digest>& proof, const Sha256Digest& old_root,
                             const Sha256Digest& new_root) {
  if (old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (old_size == 0) return proof.empty();
  std::vector<Sha256Digest> path = proof;
  // When the old tree is a perfect subtree, its root starts the path.
  if (IsPowerOfTwo(old_size)) path.insert(path.begin(), old_root);
  if (path.empty()) return false;
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Sha256Digest fr = path[0];
  Sha256Digest sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Sha256Digest& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      fr = MerkleNodeHash(c, fr);
      sr = MerkleNodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = MerkleNodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

}  // namespace hub::storage
