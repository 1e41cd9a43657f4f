// Merkle tree hashing and proofs in the manner of RFC 6962 / RFC 9162
// (Certificate Transparency), for the tamper-evident audit log:
//   leaf hash  = SHA-256(0x00 || record)
//   node hash  = SHA-256(0x01 || left || right)
// and the tree of n leaves splits at the largest power of two below n.
// An inclusion proof shows that a record is leaf m of the tree of size n;
// a consistency proof shows that the tree of size m is a prefix of the tree
// of size n, so nothing recorded before a signed tree head was changed.
//
// Trees are read through a HashSource, which gives the hash of any perfect
// subtree (a power-of-two aligned range of leaves); the audit log stores
// those, so roots and proofs cost O(log n) lookups.
#ifndef HUB_STORAGE_MERKLE_TREE_H_
#define HUB_STORAGE_MERKLE_TREE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "storage/hash_chain.h"

namespace hub::storage {

Sha256Digest MerkleLeafHash(std::string_view record);
Sha256Digest MerkleNodeHash(const Sha256Digest& left, const Sha256Digest& right);

class MerkleHashSource {
 public:
  virtual ~MerkleHashSource() = default;
  // The hash of leaves [index << level, (index + 1) << level), all of which
  // exist (level 0: a leaf hash).
  virtual absl::StatusOr<Sha256Digest> PerfectSubtreeHash(int level, uint64_t index) const = 0;
};

// The root of the first `size` leaves (SHA-256 of "" for an empty tree).
absl::StatusOr<Sha256Digest> MerkleRoot(const MerkleHashSource& source, uint64_t size);

// PATH(index, D[size]) of RFC 6962 section 2.1.1; INVALID_ARGUMENT unless
// index < size.
absl::StatusOr<std::vector<Sha256Digest>> MerkleInclusionProof(const MerkleHashSource& source,
                                                               uint64_t index, uint64_t size);

// PROOF(old_size, D[new_size]) of RFC 6962 section 2.1.2; INVALID_ARGUMENT
// unless old_size <= new_size.
absl::StatusOr<std::vector<Sha256Digest>> MerkleConsistencyProof(const MerkleHashSource& source,
                                                                 uint64_t old_size,
                                                                 uint64_t new_size);

// Verifiers (RFC 9162 sections 2.1.3.2 and 2.1.4.2): need nothing but the
// proof and the roots, so a governance group can check them offline.
bool VerifyMerkleInclusion(const Sha256Digest& leaf_hash, uint64_t index, uint64_t size,
                           const std::vector<Sha256Digest>& proof, const Sha256Digest& root);
bool VerifyMerkleConsistency(uint64_t old_size, uint64_t new_size,
                             const std::vector<Sha256Digest>& proof, const Sha256Digest& old_root,
                             const Sha256Digest& new_root);

}  // namespace hub::storage

#endif  // HUB_STORAGE_MERKLE_TREE_H_
