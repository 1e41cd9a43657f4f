// On-disk layout of the event log: column families, keys and the record
// encoding, shared by the writer and every reader. Specified in
// storage/FORMAT.md; change both together and bump kRecordFormat.
#ifndef HUB_STORAGE_INTERNAL_LOG_FORMAT_H_
#define HUB_STORAGE_INTERNAL_LOG_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "storage/hash_chain.h"

namespace hub::storage::internal {

inline constexpr char kLogFamily[] = "log";
inline constexpr char kEventIdFamily[] = "event_ids";
inline constexpr char kCaseIndexFamily[] = "case_index";
// Audit records: big-endian (index + 1) -> record (the log record layout,
// with index + 1 as its position and the audit payload as payload).
inline constexpr char kAuditFamily[] = "audit";
// Audit Merkle tree: level (1 byte) + big-endian index -> 32-byte hash.
inline constexpr char kAuditNodeFamily[] = "audit_nodes";

// Keys in the default column family.
inline constexpr char kFormatKey[] = "format";
inline constexpr char kFormatValue[] = "drive-hub event log v1";
inline constexpr char kChainHeadKey[] = "chain_head";
inline constexpr char kAuditHeadKey[] = "audit_head";
// The views' newest generation (EncodeViewGeneration).
inline constexpr char kViewGenerationKey[] = "view_generation";

inline constexpr uint8_t kRecordFormat = 1;
// format byte, position, stream version, two 16-bit lengths, one 32-bit length.
inline constexpr size_t kRecordFixedBytes = 1 + 8 + 8 + 2 + 2 + 4;
inline constexpr size_t kDigestBytes = 32;
inline constexpr size_t kRecordTrailerBytes = 2 * kDigestBytes;  // prev hash, own hash

// Big-endian so that RocksDB's bytewise order is numeric order.
std::string EncodePositionKey(uint64_t position);
absl::StatusOr<uint64_t> DecodePositionKey(std::string_view key);

// case_id, a 0x00 separator (case ids never contain it), big-endian version.
std::string EncodeCaseIndexKey(std::string_view case_id, uint64_t version);
std::string CaseIndexPrefix(std::string_view case_id);

std::string EncodeAuditNodeKey(int level, uint64_t index);

// Chain head value: big-endian position followed by the head record's digest.
std::string EncodeChainHead(uint64_t position, const Sha256Digest& digest);
struct ChainHead {
  uint64_t position = 0;
  Sha256Digest digest = kGenesisDigest;
};
absl::StatusOr<ChainHead> DecodeChainHead(std::string_view value);

// The views' generation value: big-endian generation number followed by the
// digest of what it was built from.
std::string EncodeViewGeneration(uint64_t generation, std::string_view digest);
struct ViewGenerationValue {
  uint64_t generation = 0;
  std::string digest;
};
absl::StatusOr<ViewGenerationValue> DecodeViewGeneration(std::string_view value);

struct LogRecord {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  std::string case_id;
  std::string event_id;
  std::string payload;
  Sha256Digest previous_digest = kGenesisDigest;
  // SHA-256 of every byte of the encoded record before this digest.
  Sha256Digest digest = kGenesisDigest;
};

// Encodes `record` and fills in `record->digest`.
std::string EncodeRecord(LogRecord* record);

// Decodes and checks the record's own digest; DATA_LOSS on any mismatch.
absl::StatusOr<LogRecord> DecodeRecord(std::string_view bytes);

}  // namespace hub::storage::internal

#endif  // HUB_STORAGE_INTERNAL_LOG_FORMAT_H_
