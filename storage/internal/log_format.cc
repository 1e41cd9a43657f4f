#include "storage/internal/log_format.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace hub::storage::internal {
namespace {

void AppendBigEndian64(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

uint64_t ReadBigEndian64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

void AppendLittleEndian(uint64_t value, size_t width, std::string* out) {
  for (size_t i = 0; i < width; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

// Reads little-endian fields front to back, failing instead of overrunning.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool ReadInt(size_t width, uint64_t* value) {
    if (bytes_.size() < width) return false;
    *value = 0;
    for (size_t i = 0; i < width; ++i) {
      *value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
    }
    bytes_.remove_prefix(width);
    return true;
  }

  bool ReadBytes(size_t length, std::string* out) {
    if (bytes_.size() < length) return false;
    out->assign(bytes_.data(), length);
    bytes_.remove_prefix(length);
    return true;
  }

  bool ReadDigest(Sha256Digest* digest) {
    if (bytes_.size() < digest->size()) return false;
    std::memcpy(digest->data(), bytes_.data(), digest->size());
    bytes_.remove_prefix(digest->size());
    return true;
  }

  size_t remaining() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

}  // namespace

std::string EncodePositionKey(uint64_t position) {
  std::string key;
  key.reserve(8);
  AppendBigEndian64(position, &key);
  return key;
}

absl::StatusOr<uint64_t> DecodePositionKey(std::string_view key) {
  if (key.size() != 8) {
    return absl::DataLossError(absl::StrCat("log key has ", key.size(), " bytes; expected 8"));
  }
  return ReadBigEndian64(key);
}

std::string CaseIndexPrefix(std::string_view case_id) {
  std::string prefix(case_id);
  prefix.push_back('\0');
  return prefix;
}

std::string EncodeCaseIndexKey(std::string_view case_id, uint64_t version) {
  std::string key = CaseIndexPrefix(case_id);
  AppendBigEndian64(version, &key);
  return key;
}

std::string EncodeAuditNodeKey(int level, uint64_t index) {
  std::string key(1, static_cast<char>(level));
  AppendBigEndian64(index, &key);
  return key;
}

std::string EncodeChainHead(uint64_t position, const Sha256Digest& digest) {
  std::string value;
  AppendBigEndian64(position, &value);
  value.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  return value;
}

absl::StatusOr<ChainHead> DecodeChainHead(std::string_view value) {
  if (value.size() != 8 + kDigestBytes) {
    return absl::DataLossError(absl::StrCat("stored chain head has ", value.size(),
                                            " bytes; expected ", 8 + kDigestBytes));
  }
  ChainHead head;
  head.position = ReadBigEndian64(value);
  std::memcpy(head.digest.data(), value.data() + 8, kDigestBytes);
  return head;
}

std::string EncodeViewGeneration(uint64_t generation, std::string_view digest) {
  std::string value;
  AppendBigEndian64(generation, &value);
  value.append(digest);
  return value;
}

absl::StatusOr<ViewGenerationValue> DecodeViewGeneration(std::string_view value) {
  if (value.size() < 8) {
    return absl::DataLossError(
        absl::StrCat("stored views' generation has ", value.size(), " bytes; expected at least 8"));
  }
  ViewGenerationValue decoded;
  decoded.generation = ReadBigEndian64(value);
  decoded.digest = std::string(value.substr(8));
  return decoded;
}

std::string EncodeRecord(LogRecord* record) {
  std::string bytes;
  bytes.reserve(kRecordFixedBytes + record->case_id.size() + record->event_id.size() +
                record->payload.size() + kRecordTrailerBytes);
  bytes.push_back(static_cast<char>(kRecordFormat));
  AppendLittleEndian(record->position, 8, &bytes);
  AppendLittleEndian(record->stream_version, 8, &bytes);
  AppendLittleEndian(record->case_id.size(), 2, &bytes);
  AppendLittleEndian(record->event_id.size(), 2, &bytes);
  AppendLittleEndian(record->payload.size(), 4, &bytes);
  bytes.append(record->case_id);
  bytes.append(record->event_id);
  bytes.append(record->payload);
  bytes.append(reinterpret_cast<const char*>(record->previous_digest.data()), kDigestBytes);
  record->digest = Sha256(bytes);
  bytes.append(reinterpret_cast<const char*>(record->digest.data()), kDigestBytes);
  return bytes;
}

absl::StatusOr<LogRecord> DecodeRecord(std::string_view bytes) {
  if (bytes.size() < kRecordFixedBytes + kRecordTrailerBytes) {
    return absl::DataLossError(
        absl::StrCat("record is ", bytes.size(), " bytes, shorter than the smallest valid record"));
  }
  const std::string_view covered = bytes.substr(0, bytes.size() - kDigestBytes);
  Reader reader(bytes);
  LogRecord record;
  uint64_t format = 0;
  uint64_t case_id_length = 0;
  uint64_t event_id_length = 0;
  uint64_t payload_length = 0;
  reader.ReadInt(1, &format);
  if (format != kRecordFormat) {
    return absl::DataLossError(
        absl::StrCat("record format ", format, " is not the supported format ", kRecordFormat));
  }
  reader.ReadInt(8, &record.position);
  reader.ReadInt(8, &record.stream_version);
  reader.ReadInt(2, &case_id_length);
  reader.ReadInt(2, &event_id_length);
  reader.ReadInt(4, &payload_length);
  if (!reader.ReadBytes(case_id_length, &record.case_id) ||
      !reader.ReadBytes(event_id_length, &record.event_id) ||
      !reader.ReadBytes(payload_length, &record.payload) ||
      !reader.ReadDigest(&record.previous_digest) || !reader.ReadDigest(&record.digest) ||
      reader.remaining() != 0) {
    return absl::DataLossError("record lengths do not match its size");
  }
  if (Sha256(covered) != record.digest) {
    return absl::DataLossError(
        absl::StrCat("record at position ", record.position, " does not match its checksum"));
  }
  return record;
}

}  // namespace hub::storage::internal
