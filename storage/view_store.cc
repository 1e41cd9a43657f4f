#include "storage/view_store.h"

#include <atomic>
#include <filesystem>
#include <limits>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"

#include "proto/status_macros.h"
#include "storage/internal/encrypted_files.h"
#include "storage/internal/memtable_hints.h"
#include "storage/internal/rocksdb_status.h"

namespace hub::storage {
namespace {

using internal::FromRocksStatus;

// Column families (see storage/FORMAT.md, "Views").
enum Family { kMeta = 0, kContent, kIndex, kCases, kSummaries, kKeys, kFamilyCount };
constexpr const char* kFamilyNames[kFamilyCount] = {"default",    "view_content",   "view_index",
                                                    "view_cases", "view_summaries", "view_keys"};
constexpr char kActiveKey[] = "active";
constexpr char kGenerationPrefix[] = "gen/";
// Generations replaced by a later one, whose index is kept.
constexpr char kRetiredPrefix[] = "retired/";
constexpr char kCheckpointPrefix[] = "ckpt/";

void PutBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>(value >> shift));
  }
}

uint64_t GetBigEndian(std::string_view bytes, size_t offset, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  }
  return value;
}

std::string GenerationKey(uint32_t generation) {
  std::string key;
  PutBigEndian(generation, 4, &key);
  return key;
}

void PutVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// False if `bytes` ends inside the varint.
bool GetVarint(std::string_view bytes, size_t* offset, uint64_t* value) {
  *value = 0;
  for (int shift = 0; shift < 64 && *offset < bytes.size(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(bytes[(*offset)++]);
    *value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

std::string PrincipalKey(uint32_t generation, uint16_t principal) {
  std::string key = GenerationKey(generation);
  PutBigEndian(principal, 2, &key);
  return key;
}

std::string ContentKey(uint32_t generation, uint64_t position) {
  std::string key = GenerationKey(generation);
  PutBigEndian(position, 8, &key);
  return key;
}

// A key of view_keys without its case id: the generation, the data key
// id and a zero byte.
std::string SealedUnderPrefix(uint32_t generation, const std::string& key_id) {
  std::string key = GenerationKey(generation);
  key.append(key_id);
  key.push_back('\0');
  return key;
}

std::string CaseKey(uint32_t generation, const std::string& case_id) {
  std::string key = GenerationKey(generation);
  key.append(case_id);
  key.push_back('\0');
  return key;
}

// In a visibility array, the principal sees no variant of the event.
constexpr uint8_t kNotVisible = 0xff;

// Case entry value: log position (8), when the event happened (8-byte
// seconds, 4-byte nanos), then the visibility bytes.
constexpr size_t kCaseEntryHeader = 20;

bool CaseEntryVisibleTo(std::string_view value, uint16_t principal) {
  return kCaseEntryHeader + principal < value.size() &&
         static_cast<uint8_t>(value[kCaseEntryHeader + principal]) != kNotVisible;
}

// Index entry value: the checkpoint of the batch that wrote it (8), then per
// delivery the event's log position (8; its top bit set for a disclosure of
// an earlier event) and its case's fingerprint (4).
constexpr size_t kIndexHeader = 8;
constexpr size_t kDeliverySize = 12;
constexpr uint64_t kDisclosed = uint64_t{1} << 63;

// Four bytes of a case id, so that a case's deliveries are found in a view
// without fetching the others' contents (a match is checked on the content).
uint32_t CaseFingerprint(std::string_view case_id) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (char c : case_id) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 16777619u;
  }
  return hash;
}

// One decoded index entry.
struct IndexEntry {
  uint64_t first_view_position = 0;
  uint64_t checkpoint = 0;
  std::string_view deliveries;

  size_t size() const { return deliveries.size() / kDeliverySize; }
  uint64_t position(size_t i) const {
    return GetBigEndian(deliveries, i * kDeliverySize, 8) & ~kDisclosed;
  }
  bool disclosed(size_t i) const {
    return (GetBigEndian(deliveries, i * kDeliverySize, 8) & kDisclosed) != 0;
  }
  uint32_t fingerprint(size_t i) const {
    return static_cast<uint32_t>(GetBigEndian(deliveries, i * kDeliverySize + 8, 4));
  }
  // The log position a delivery counts as made at: an event's own, and for
  // a disclosure that of the next event delivered after it (the one that
  // began the relationship, or a later one), else the batch's checkpoint.
  // Never earlier than the truth, so a reader carried into a new generation
  // may be given an event again but never misses one.
  uint64_t delivered_at(size_t i) const {
    for (size_t next = i; next < size(); ++next) {
      if (!disclosed(next)) return position(next);
    }
    return checkpoint;
  }
};

// The entry `it` is at, whose key must start with `prefix` (one
// principal's index in one generation).
absl::StatusOr<IndexEntry> DecodeIndexEntry(const rocksdb::Iterator& it, size_t prefix_size) {
  const std::string_view key(it.key().data(), it.key().size());
  const std::string_view value(it.value().data(), it.value().size());
  if (key.size() != prefix_size + 8 || value.size() < kIndexHeader + kDeliverySize ||
      (value.size() - kIndexHeader) % kDeliverySize != 0) {
    return absl::DataLossError("a view index entry is damaged");
  }
  IndexEntry entry;
  entry.first_view_position = GetBigEndian(key, prefix_size, 8);
  entry.checkpoint = GetBigEndian(value, 0, 8);
  entry.deliveries = value.substr(kIndexHeader);
  return entry;
}

// One byte per principal: the variant it sees, or kNotVisible.
std::string VisibilityOf(const ProjectionBatch::Shaped& event, size_t principals) {
  std::string visibility(principals, static_cast<char>(kNotVisible));
  for (const ProjectionBatch::Shaped::Sight& sight : event.visible_to) {
    visibility[sight.principal] = static_cast<char>(sight.variant);
  }
  return visibility;
}

// Content value: stream version, case id (2-byte length), visibility (2-byte
// principal count, a byte each), for each principal that sees the event (in
// principal order) its view position and view version as varints, variant
// count (1 byte), then each variant with a 4-byte length.
std::string EncodeContent(const ProjectionBatch::Shaped& event, const std::string& visibility) {
  std::string numbers;
  {
    std::vector<const ProjectionBatch::Shaped::Sight*> by_principal(visibility.size());
    for (const ProjectionBatch::Shaped::Sight& sight : event.visible_to) {
      by_principal[sight.principal] = &sight;
    }
    for (const ProjectionBatch::Shaped::Sight* sight : by_principal) {
      if (sight == nullptr) continue;
      PutVarint(sight->view_position, &numbers);
      PutVarint(sight->view_version, &numbers);
    }
  }
  std::string value;
  size_t size = 8 + 2 + event.case_id.size() + 2 + visibility.size() + numbers.size() + 1;
  for (const std::string& variant : event.variants) size += 4 + variant.size();
  value.reserve(size);
  PutBigEndian(event.stream_version, 8, &value);
  PutBigEndian(event.case_id.size(), 2, &value);
  value.append(event.case_id);
  PutBigEndian(visibility.size(), 2, &value);
  value.append(visibility);
  value.append(numbers);
  PutBigEndian(event.variants.size(), 1, &value);
  for (const std::string& variant : event.variants) {
    PutBigEndian(variant.size(), 4, &value);
    value.append(variant);
  }
  return value;
}

// What a content record says besides its shapes.
struct ContentHeader {
  uint64_t stream_version = 0;
  std::string case_id;
  std::string visibility;
  // (view position, view version) of each principal that sees the event.
  std::map<uint16_t, std::pair<uint64_t, uint64_t>> numbers;
};

absl::StatusOr<ContentHeader> DecodeContentHeader(std::string_view value) {
  const auto truncated = [] { return absl::DataLossError("a view record is truncated"); };
  if (value.size() < 10) return truncated();
  ContentHeader header;
  header.stream_version = GetBigEndian(value, 0, 8);
  const size_t case_length = GetBigEndian(value, 8, 2);
  size_t offset = 10;
  if (value.size() - offset < case_length + 2) return truncated();
  header.case_id = std::string(value.substr(offset, case_length));
  offset += case_length;
  const size_t principals = GetBigEndian(value, offset, 2);
  offset += 2;
  if (value.size() - offset < principals) return truncated();
  header.visibility = std::string(value.substr(offset, principals));
  offset += principals;
  for (size_t principal = 0; principal < principals; ++principal) {
    if (static_cast<uint8_t>(header.visibility[principal]) == kNotVisible) continue;
    uint64_t view_position = 0;
    uint64_t view_version = 0;
    if (!GetVarint(value, &offset, &view_position) || !GetVarint(value, &offset, &view_version)) {
      return truncated();
    }
    header.numbers[static_cast<uint16_t>(principal)] = {view_position, view_version};
  }
  return header;
}

// The event at `position` as `principal` sees it, or nullopt if it does not.
absl::StatusOr<std::optional<ViewEvent>> DecodeContentFor(uint64_t position, uint16_t principal,
                                                          std::string_view value) {
  const auto truncated = [] { return absl::DataLossError("a view record is truncated"); };
  size_t offset = 0;
  const auto take = [&](size_t count) -> bool {
    if (value.size() - offset < count) return false;
    offset += count;
    return true;
  };
  if (!take(10)) return truncated();
  ViewEvent event;
  event.position = position;
  event.stream_version = GetBigEndian(value, 0, 8);
  const size_t case_length = GetBigEndian(value, 8, 2);
  const size_t case_offset = offset;
  if (!take(case_length + 2)) return truncated();
  const size_t principals = GetBigEndian(value, offset - 2, 2);
  const size_t visibility_offset = offset;
  if (!take(principals)) return truncated();
  if (principal >= principals) return std::optional<ViewEvent>();
  const uint8_t wanted = static_cast<uint8_t>(value[visibility_offset + principal]);
  if (wanted == kNotVisible) return std::optional<ViewEvent>();
  for (size_t other = 0; other < principals; ++other) {
    if (static_cast<uint8_t>(value[visibility_offset + other]) == kNotVisible) continue;
    uint64_t view_position = 0;
    uint64_t view_version = 0;
    if (!GetVarint(value, &offset, &view_position) || !GetVarint(value, &offset, &view_version)) {
      return truncated();
    }
    if (other == principal) {
      event.view_position = view_position;
      event.view_version = view_version;
    }
  }
  if (!take(1)) return truncated();
  const size_t variants = GetBigEndian(value, offset - 1, 1);
  if (wanted >= variants) return absl::DataLossError("a view record names a missing variant");
  for (size_t v = 0;; ++v) {
    if (!take(4)) return truncated();
    const size_t length = GetBigEndian(value, offset - 4, 4);
    const size_t start = offset;
    if (!take(length)) return truncated();
    if (v == wanted) {
      event.case_id = std::string(value.substr(case_offset, case_length));
      event.payload = std::string(value.substr(start, length));
      return std::optional<ViewEvent>(std::move(event));
    }
  }
}

// Case summaries value: 2-byte principal count, then for each principal a
// 4-byte length (kNoSummary: none) and the summary; then, if the case has
// any (or facts), a 4-byte length and the case's relations (possibly
// empty); then, if it has any, a 4-byte length and the case's facts.
constexpr uint32_t kNoSummary = 0xffffffff;

std::string EncodeSummaries(const ProjectionBatch::CaseSummaries& summaries) {
  std::string value;
  PutBigEndian(summaries.by_principal.size(), 2, &value);
  for (const std::optional<std::string>& summary : summaries.by_principal) {
    PutBigEndian(summary.has_value() ? summary->size() : kNoSummary, 4, &value);
    if (summary.has_value()) value.append(*summary);
  }
  if (!summaries.relations.empty() || !summaries.facts.empty()) {
    PutBigEndian(summaries.relations.size(), 4, &value);
    value.append(summaries.relations);
  }
  if (!summaries.facts.empty()) {
    PutBigEndian(summaries.facts.size(), 4, &value);
    value.append(summaries.facts);
  }
  return value;
}

absl::StatusOr<StoredCase> DecodeSummaries(std::string_view value) {
  const auto damaged = [] { return absl::DataLossError("a case summary record is damaged"); };
  if (value.size() < 2) return damaged();
  StoredCase stored;
  stored.by_principal.resize(GetBigEndian(value, 0, 2));
  size_t offset = 2;
  for (std::optional<std::string>& summary : stored.by_principal) {
    if (value.size() - offset < 4) return damaged();
    const uint64_t length = GetBigEndian(value, offset, 4);
    offset += 4;
    if (length == kNoSummary) continue;
    if (value.size() - offset < length) return damaged();
    summary = std::string(value.substr(offset, length));
    offset += length;
  }
  for (std::string* part : {&stored.relations, &stored.facts}) {
    if (offset == value.size()) break;
    if (value.size() - offset < 4) return damaged();
    const uint64_t length = GetBigEndian(value, offset, 4);
    offset += 4;
    if (value.size() - offset < length) return damaged();
    *part = std::string(value.substr(offset, length));
    offset += length;
  }
  if (offset != value.size()) return damaged();
  return stored;
}

std::string EncodeGeneration(const GenerationInfo& info) {
  std::vector<std::string> lines = {info.protocol_version, info.protocol_digest};
  lines.insert(lines.end(), info.principals.begin(), info.principals.end());
  return absl::StrJoin(lines, "\n");
}

GenerationInfo DecodeGeneration(uint32_t generation, const std::string& value) {
  std::vector<std::string> lines = absl::StrSplit(value, '\n');
  GenerationInfo info;
  info.generation = generation;
  if (lines.size() >= 2) {
    info.protocol_version = lines[0];
    info.protocol_digest = lines[1];
    info.principals.assign(lines.begin() + 2, lines.end());
  }
  return info;
}

class RocksViewStore final : public ViewStore {
 public:
  RocksViewStore(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db,
                 std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : env_(std::move(env)), db_(std::move(db)), handles_(std::move(handles)) {}

  ~RocksViewStore() override {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
  }

  // Puts the new shapes and numbers of a stored event into `batch`, and
  // its case entry's visibility into `case_entries`; `case_id`: its case.
  // `in_batch`: the events the same batch stores, which a reshape may
  // concern too.
  absl::Status Reshape(uint32_t generation, const ProjectionBatch::Reshaped& reshaped,
                       const std::map<uint64_t, const ProjectionBatch::Shaped*>& in_batch,
                       rocksdb::WriteBatch* batch, std::map<std::string, std::string>* case_entries,
                       std::string* case_id) const {
    const std::string content_key = ContentKey(generation, reshaped.position);
    ContentHeader header;
    if (auto same_batch = in_batch.find(reshaped.position); same_batch != in_batch.end()) {
      const ProjectionBatch::Shaped& event = *same_batch->second;
      header.stream_version = event.stream_version;
      header.case_id = event.case_id;
      for (const ProjectionBatch::Shaped::Sight& sight : event.visible_to) {
        header.numbers[sight.principal] = {sight.view_position, sight.view_version};
        header.visibility.resize(
            std::max<size_t>(header.visibility.size(), sight.principal + size_t{1}));
      }
    } else {
      std::string stored;
      rocksdb::Status read =
          db_->Get(rocksdb::ReadOptions(), family(kContent), content_key, &stored);
      if (read.IsNotFound()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "view generation ", generation, " holds no event at position ", reshaped.position));
      }
      HUB_RETURN_IF_ERROR(FromRocksStatus(read, "reading a view record"));
      HUB_ASSIGN_OR_RETURN(header, DecodeContentHeader(stored));
    }
    ProjectionBatch::Shaped shaped;
    shaped.position = reshaped.position;
    shaped.stream_version = header.stream_version;
    shaped.case_id = header.case_id;
    shaped.variants = reshaped.variants;
    size_t kept = 0;
    uint16_t principals = static_cast<uint16_t>(header.visibility.size());
    for (const ProjectionBatch::Shaped::Sight& sight : reshaped.visible_to) {
      if (sight.variant >= reshaped.variants.size()) {
        return absl::InvalidArgumentError("a principal is given a shape the event lacks");
      }
      ProjectionBatch::Shaped::Sight& numbered = shaped.visible_to.emplace_back(sight);
      auto numbers = header.numbers.find(sight.principal);
      if (numbers != header.numbers.end()) {
        ++kept;
        if (numbered.view_position == 0) numbered.view_position = numbers->second.first;
        if (numbered.view_version == 0) numbered.view_version = numbers->second.second;
      } else if (sight.view_position == 0 || sight.view_version == 0) {
        return absl::FailedPreconditionError(
            "an event shown to a principal for the first time needs its numbers");
      }
      principals = std::max<uint16_t>(principals, sight.principal + 1);
    }
    if (kept != header.numbers.size()) {
      return absl::FailedPreconditionError(
          "a reshaped event must still be seen by the principals that saw it");
    }
    std::string visibility = VisibilityOf(shaped, principals);
    HUB_RETURN_IF_ERROR(FromRocksStatus(
        batch->Put(family(kContent), content_key, EncodeContent(shaped, visibility)), "batch"));
    std::string case_key = CaseKey(generation, header.case_id);
    PutBigEndian(header.stream_version, 8, &case_key);
    std::string entry;
    if (auto pending = case_entries->find(case_key); pending != case_entries->end()) {
      entry = pending->second;
    } else {
      HUB_RETURN_IF_ERROR(
          FromRocksStatus(db_->Get(rocksdb::ReadOptions(), family(kCases), case_key, &entry),
                          "reading a case entry"));
    }
    if (entry.size() < kCaseEntryHeader) return absl::DataLossError("a case entry is truncated");
    entry.resize(kCaseEntryHeader);
    entry.append(visibility);
    (*case_entries)[std::move(case_key)] = std::move(entry);
    *case_id = std::move(header.case_id);
    return absl::OkStatus();
  }

  absl::Status Load() {
    HUB_ASSIGN_OR_RETURN(std::vector<GenerationInfo> generations, Generations());
    std::string active;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family(kMeta), kActiveKey, &active);
    if (status.IsNotFound()) return absl::OkStatus();
    HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the active view generation"));
    const uint32_t number = static_cast<uint32_t>(GetBigEndian(active, 0, 4));
    for (GenerationInfo& info : generations) {
      if (info.generation == number) active_ = std::move(info);
    }
    return absl::OkStatus();
  }

  std::optional<GenerationInfo> Active() const override {
    absl::MutexLock lock(&mu_);
    return active_;
  }

  absl::StatusOr<std::vector<GenerationInfo>> Generations() const override {
    return GenerationsUnder(kGenerationPrefix);
  }

  absl::StatusOr<GenerationInfo> CreateGeneration(std::string protocol_version,
                                                  std::string protocol_digest,
                                                  std::vector<std::string> principals,
                                                  uint32_t at_least) override {
    if (principals.size() > std::numeric_limits<uint16_t>::max()) {
      return absl::InvalidArgumentError("a protocol may list at most 65535 principals");
    }
    absl::MutexLock lock(&write_mu_);
    HUB_ASSIGN_OR_RETURN(std::vector<GenerationInfo> existing, Generations());
    // Never a retired generation's number: readers' positions name it.
    HUB_ASSIGN_OR_RETURN(std::vector<GenerationInfo> retired, RetiredGenerations());
    existing.insert(existing.end(), retired.begin(), retired.end());
    GenerationInfo info;
    info.generation = std::max<uint32_t>(at_least, 1);
    for (const GenerationInfo& g : existing)
      info.generation = std::max(info.generation, g.generation + 1);
    info.protocol_version = std::move(protocol_version);
    info.protocol_digest = std::move(protocol_digest);
    info.principals = std::move(principals);
    rocksdb::WriteBatch batch;
    HUB_RETURN_IF_ERROR(
        FromRocksStatus(batch.Put(family(kMeta), kGenerationPrefix + GenerationKey(info.generation),
                                  EncodeGeneration(info)),
                        "batch"));
    HUB_RETURN_IF_ERROR(Write(&batch, /*sync=*/true));
    return info;
  }

  absl::Status Activate(uint32_t generation) override {
    absl::ReleasableMutexLock lock(&write_mu_);
    HUB_ASSIGN_OR_RETURN(std::vector<GenerationInfo> generations, Generations());
    std::optional<GenerationInfo> chosen;
    for (const GenerationInfo& info : generations) {
      if (info.generation == generation) chosen = info;
    }
    if (!chosen.has_value()) {
      return absl::NotFoundError(absl::StrCat("view generation ", generation, " does not exist"));
    }
    std::optional<uint32_t> replaced;
    {
      absl::MutexLock active_lock(&mu_);
      if (active_.has_value() && active_->generation != generation) {
        replaced = active_->generation;
      }
    }
    // What was projected without the WAL is on disk before it is read.
    rocksdb::FlushOptions flush;
    flush.wait = true;
    HUB_RETURN_IF_ERROR(FromRocksStatus(db_->Flush(flush, handles_), "flushing the views"));
    rocksdb::WriteBatch batch;
    HUB_RETURN_IF_ERROR(
        FromRocksStatus(batch.Put(family(kMeta), kActiveKey, GenerationKey(generation)), "batch"));
    HUB_RETURN_IF_ERROR(Write(&batch, /*sync=*/true));
    {
      absl::MutexLock active_lock(&mu_);
      active_ = chosen;
    }
    std::vector<uint32_t> dropped;
    for (const GenerationInfo& info : generations) {
      if (info.generation == generation) continue;
      if (replaced == info.generation) {
        HUB_RETURN_IF_ERROR(RetireLocked(info));
      } else {
        HUB_RETURN_IF_ERROR(DropLocked(info.generation));
      }
      dropped.push_back(info.generation);
    }
    lock.Release();
    for (uint32_t old : dropped) HUB_RETURN_IF_ERROR(CompactAway(old));
    return absl::OkStatus();
  }

  absl::Status Drop(uint32_t generation) override {
    absl::MutexLock lock(&write_mu_);
    {
      absl::MutexLock active_lock(&mu_);
      if (active_.has_value() && active_->generation == generation) {
        return absl::FailedPreconditionError("the active view generation cannot be dropped");
      }
    }
    return DropLocked(generation);
  }

  absl::StatusOr<uint64_t> Checkpoint(uint32_t generation) const override {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family(kMeta),
                                      kCheckpointPrefix + GenerationKey(generation), &value);
    if (status.IsNotFound()) return 0;
    HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading a view checkpoint"));
    return GetBigEndian(value, 0, 8);
  }

  absl::Status Apply(uint32_t generation, const ProjectionBatch& projection) override {
    HUB_ASSIGN_OR_RETURN(uint64_t checkpoint, Checkpoint(generation));
    if (projection.checkpoint < checkpoint ||
        (!projection.events.empty() && projection.events.front().position <= checkpoint)) {
      return absl::FailedPreconditionError(absl::StrCat("view generation ", generation,
                                                        " is projected up to ", checkpoint,
                                                        "; a batch must continue after it"));
    }
    // Reserved at once: a rebuild's batches are megabytes, and growing the
    // buffer by doubling copied each of them several times.
    size_t reserve = 64;
    for (const ProjectionBatch::Shaped& event : projection.events) {
      reserve += 2 * event.case_id.size() + 80 + 24 * event.visible_to.size();
      for (const std::string& variant : event.variants) reserve += variant.size() + 4;
    }
    // A disclosure's earlier events are as large as new ones: left out, a
    // rebuild's batch doubled its buffer (and copied it) on top of them.
    for (const ProjectionBatch::Reshaped& event : projection.reshaped) {
      reserve += 2 * 32 + 80 + 24 * event.visible_to.size();
      for (const std::string& variant : event.variants) reserve += variant.size() + 4;
    }
    for (const auto& [key_id, case_id] : projection.sealed_under) {
      reserve += key_id.size() + case_id.size() + 16;
    }
    for (const ProjectionBatch::CaseSummaries& summaries : projection.summaries) {
      reserve += summaries.case_id.size() + 16;
      reserve += summaries.relations.size() + summaries.facts.size() + 8;
      for (const auto& summary : summaries.by_principal) {
        reserve += 4 + (summary.has_value() ? summary->size() : 0);
      }
    }
    rocksdb::WriteBatch batch(reserve);
    // Per principal, what this batch delivers to it: (view position, log
    // position, case fingerprint); one index entry per principal and batch.
    struct Delivery {
      uint64_t view_position;
      // With kDisclosed for an earlier event delivered by a reshape.
      uint64_t position;
      uint32_t fingerprint;
    };
    std::map<uint16_t, std::vector<Delivery>> deliveries_by_principal;
    std::map<std::string, std::string> case_entries;
    for (const ProjectionBatch::Shaped& event : projection.events) {
      if (event.variants.size() >= kNotVisible) {
        return absl::InvalidArgumentError("an event may have at most 254 shapes");
      }
      uint16_t principals = 0;
      const uint32_t fingerprint = CaseFingerprint(event.case_id);
      for (const ProjectionBatch::Shaped::Sight& sight : event.visible_to) {
        if (sight.variant >= event.variants.size()) {
          return absl::InvalidArgumentError("a principal is given a shape the event lacks");
        }
        principals = std::max<uint16_t>(principals, sight.principal + 1);
        deliveries_by_principal[sight.principal].push_back(
            {sight.view_position, event.position, fingerprint});
      }
      const std::string visibility = VisibilityOf(event, principals);
      HUB_RETURN_IF_ERROR(
          FromRocksStatus(batch.Put(family(kContent), ContentKey(generation, event.position),
                                    EncodeContent(event, visibility)),
                          "batch"));
      std::string case_key = CaseKey(generation, event.case_id);
      PutBigEndian(event.stream_version, 8, &case_key);
      std::string case_value;
      PutBigEndian(event.position, 8, &case_value);
      PutBigEndian(static_cast<uint64_t>(event.happened_seconds), 8, &case_value);
      PutBigEndian(static_cast<uint32_t>(event.happened_nanos), 4, &case_value);
      case_value.append(visibility);
      case_entries.emplace(std::move(case_key), std::move(case_value));
    }
    std::map<uint64_t, const ProjectionBatch::Shaped*> in_batch;
    if (!projection.reshaped.empty()) {
      for (const ProjectionBatch::Shaped& event : projection.events) {
        in_batch.emplace(event.position, &event);
      }
    }
    for (const ProjectionBatch::Reshaped& reshaped : projection.reshaped) {
      if (reshaped.variants.size() >= kNotVisible) {
        return absl::InvalidArgumentError("an event may have at most 254 shapes");
      }
      std::string case_id;
      HUB_RETURN_IF_ERROR(Reshape(generation, reshaped, in_batch, &batch, &case_entries, &case_id));
      const uint32_t fingerprint = CaseFingerprint(case_id);
      for (const ProjectionBatch::Shaped::Sight& sight : reshaped.visible_to) {
        if (sight.view_position == 0) continue;
        deliveries_by_principal[sight.principal].push_back(
            {sight.view_position, reshaped.position | kDisclosed, fingerprint});
      }
    }
    // Each principal's deliveries continue its view without a gap or a
    // repeat, in view order.
    std::map<uint16_t, std::string> index_values;
    for (auto& [principal, deliveries] : deliveries_by_principal) {
      std::sort(deliveries.begin(), deliveries.end(), [](const Delivery& a, const Delivery& b) {
        return a.view_position < b.view_position;
      });
      std::string& value = index_values[principal];
      value.reserve(kIndexHeader + kDeliverySize * deliveries.size());
      PutBigEndian(projection.checkpoint, 8, &value);
      for (size_t i = 0; i < deliveries.size(); ++i) {
        if (deliveries[i].view_position == 0 ||
            (i > 0 && deliveries[i].view_position != deliveries[i - 1].view_position + 1)) {
          return absl::InvalidArgumentError(
              "a principal's view positions must continue without a gap or a repeat");
        }
        PutBigEndian(deliveries[i].position, 8, &value);
        PutBigEndian(deliveries[i].fingerprint, 4, &value);
      }
    }
    // In key order: RocksDB's memtable inserts ascending keys of a batch
    // next to each other instead of searching from the top each time.
    for (const auto& [key, value] : case_entries) {
      HUB_RETURN_IF_ERROR(FromRocksStatus(batch.Put(family(kCases), key, value), "batch"));
    }
    for (const auto& [principal, value] : index_values) {
      std::string key = PrincipalKey(generation, principal);
      PutBigEndian(deliveries_by_principal[principal].front().view_position, 8, &key);
      HUB_RETURN_IF_ERROR(FromRocksStatus(batch.Put(family(kIndex), key, value), "batch"));
    }
    for (const ProjectionBatch::CaseSummaries& summaries : projection.summaries) {
      HUB_RETURN_IF_ERROR(FromRocksStatus(
          batch.Put(family(kSummaries), GenerationKey(generation) + summaries.case_id,
                    EncodeSummaries(summaries)),
          "batch"));
    }
    for (const auto& [key_id, case_id] : projection.sealed_under) {
      HUB_RETURN_IF_ERROR(FromRocksStatus(
          batch.Put(family(kKeys), SealedUnderPrefix(generation, key_id) + case_id, ""), "batch"));
    }
    std::string checkpoint_value;
    PutBigEndian(projection.checkpoint, 8, &checkpoint_value);
    HUB_RETURN_IF_ERROR(FromRocksStatus(
        batch.Put(family(kMeta), kCheckpointPrefix + GenerationKey(generation), checkpoint_value),
        "batch"));
    // Views are derived from the log: losing an unsynced tail in a power cut
    // only means projecting it again from the (equally old) checkpoint.
    //
    // A generation nobody reads yet is written without the WAL: a crash may
    // leave it torn across families, but hubd drops any generation that is
    // not active when it starts a build, and Activate flushes it to disk
    // first (under write_mu_, so no unlogged batch slips in between).
    absl::MutexLock lock(&write_mu_);
    // Each principal's view continues the one stored, without a gap (its
    // last position is read from the index once, then remembered).
    std::unique_ptr<rocksdb::Iterator> it;
    for (const auto& [principal, deliveries] : deliveries_by_principal) {
      auto known = last_view_positions_.find({generation, principal});
      if (known == last_view_positions_.end()) {
        if (it == nullptr) it.reset(db_->NewIterator(rocksdb::ReadOptions(), family(kIndex)));
        HUB_ASSIGN_OR_RETURN(const uint64_t stored,
                             LastViewPosition(it.get(), generation, principal));
        known = last_view_positions_.emplace(std::make_pair(generation, principal), stored).first;
      }
      if (deliveries.front().view_position != known->second + 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a batch must continue each principal's view: principal ", principal, " is at ",
            known->second, ", the batch starts at ", deliveries.front().view_position));
      }
    }
    bool active = false;
    {
      absl::MutexLock active_lock(&mu_);
      active = active_.has_value() && active_->generation == generation;
    }
    std::optional<GenerationInfo> redigested;
    if (!projection.generation_digest.empty()) {
      HUB_ASSIGN_OR_RETURN(std::vector<GenerationInfo> generations, Generations());
      for (GenerationInfo& info : generations) {
        if (info.generation == generation) redigested = std::move(info);
      }
      if (!redigested.has_value()) {
        return absl::NotFoundError(absl::StrCat("view generation ", generation, " does not exist"));
      }
      redigested->protocol_digest = projection.generation_digest;
      HUB_RETURN_IF_ERROR(
          FromRocksStatus(batch.Put(family(kMeta), kGenerationPrefix + GenerationKey(generation),
                                    EncodeGeneration(*redigested)),
                          "batch"));
    }
    HUB_RETURN_IF_ERROR(Write(&batch, /*sync=*/redigested.has_value(),
                              /*logged=*/active || redigested.has_value()));
    for (const auto& [principal, deliveries] : deliveries_by_principal) {
      last_view_positions_[{generation, principal}] = deliveries.back().view_position;
    }
    if (redigested.has_value()) {
      absl::MutexLock active_lock(&mu_);
      if (active_.has_value() && active_->generation == generation) active_ = redigested;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ViewEvent>> ReadFrom(uint32_t generation, uint16_t principal,
                                                  uint64_t after_view_position,
                                                  size_t max_events) const override {
    HUB_ASSIGN_OR_RETURN(CasePage page, ReadDeliveries(generation, principal, after_view_position,
                                                       nullptr, max_events, max_events));
    return std::move(page.events);
  }

  absl::StatusOr<CasePage> ReadCaseDeliveries(uint32_t generation, uint16_t principal,
                                              const std::string& case_id,
                                              uint64_t after_view_position, size_t max_events,
                                              size_t max_scanned) const override {
    return ReadDeliveries(generation, principal, after_view_position, &case_id, max_events,
                          std::max<size_t>(max_scanned, 1));
  }

  // Deliveries after `after_view_position` (of `case_id` only, if given).
  absl::StatusOr<CasePage> ReadDeliveries(uint32_t generation, uint16_t principal,
                                          uint64_t after_view_position, const std::string* case_id,
                                          size_t max_events, size_t max_scanned) const {
    const std::string prefix = PrincipalKey(generation, principal);
    std::string start = prefix;
    PutBigEndian(after_view_position + 1, 8, &start);
    const uint32_t wanted = case_id != nullptr ? CaseFingerprint(*case_id) : 0;
    std::vector<uint64_t> positions;
    std::vector<uint64_t> view_positions;
    std::vector<bool> disclosed;
    CasePage page;
    page.read_through = after_view_position;
    size_t scanned = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kIndex)));
    // The entry holding after_view_position + 1 starts at or before it.
    it->SeekForPrev(start);
    if (!it->Valid() || !it->key().starts_with(prefix)) it->Seek(start);
    for (; it->Valid() && it->key().starts_with(prefix) && positions.size() < max_events &&
           scanned < max_scanned;
         it->Next()) {
      HUB_ASSIGN_OR_RETURN(const IndexEntry entry, DecodeIndexEntry(*it, prefix.size()));
      for (size_t i = 0; i < entry.size() && positions.size() < max_events && scanned < max_scanned;
           ++i) {
        const uint64_t view_position = entry.first_view_position + i;
        if (view_position <= after_view_position) continue;
        ++scanned;
        page.read_through = view_position;
        if (case_id != nullptr && entry.fingerprint(i) != wanted) continue;
        positions.push_back(entry.position(i));
        view_positions.push_back(view_position);
        disclosed.push_back(entry.disclosed(i));
      }
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading a view"));
    HUB_ASSIGN_OR_RETURN(std::vector<ViewEvent> events, Contents(generation, principal, positions));
    page.events.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      // Another case with the same fingerprint.
      if (case_id != nullptr && events[i].case_id != *case_id) continue;
      events[i].view_position = view_positions[i];
      events[i].disclosed = disclosed[i];
      page.events.push_back(std::move(events[i]));
    }
    return page;
  }

  absl::StatusOr<std::vector<ViewEvent>> ReadCase(uint32_t generation, uint16_t principal,
                                                  const std::string& case_id, uint64_t from_version,
                                                  size_t max_events) const override {
    const std::string prefix = CaseKey(generation, case_id);
    std::string start = prefix;
    // The principal's n-th event of the case is at least the case's n-th.
    PutBigEndian(std::max<uint64_t>(from_version, 1), 8, &start);
    std::vector<uint64_t> positions;
    // The view version of the next event the principal sees, once known:
    // the first one's is read from its content, the rest follow it.
    std::optional<uint64_t> next_version;
    std::optional<ViewEvent> first_wanted;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kCases)));
    for (it->Seek(start); it->Valid() && it->key().starts_with(prefix) &&
                          positions.size() + (first_wanted.has_value() ? 1 : 0) < max_events;
         it->Next()) {
      const std::string_view value(it->value().data(), it->value().size());
      if (value.size() < kCaseEntryHeader)
        return absl::DataLossError("a view case entry is damaged");
      if (!CaseEntryVisibleTo(value, principal)) continue;
      const uint64_t position = GetBigEndian(value, 0, 8);
      if (!next_version.has_value()) {
        HUB_ASSIGN_OR_RETURN(std::vector<ViewEvent> first,
                             Contents(generation, principal, {position}));
        next_version = first.front().view_version;
        // Read once: kept if it is wanted, not fetched again below.
        if (*next_version >= from_version) {
          first_wanted = std::move(first.front());
          ++*next_version;
          continue;
        }
      }
      if (*next_version >= from_version) positions.push_back(position);
      ++*next_version;
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading a view"));
    HUB_ASSIGN_OR_RETURN(std::vector<ViewEvent> events, Contents(generation, principal, positions));
    if (first_wanted.has_value()) events.insert(events.begin(), *std::move(first_wanted));
    return events;
  }

  absl::StatusOr<std::vector<CaseEntry>> CaseEntries(uint32_t generation, uint16_t principal,
                                                     const std::string& case_id,
                                                     size_t max_entries) const override {
    const std::string prefix = CaseKey(generation, case_id);
    std::vector<CaseEntry> entries;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kCases)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view value(it->value().data(), it->value().size());
      if (value.size() < kCaseEntryHeader)
        return absl::DataLossError("a view case entry is damaged");
      if (!CaseEntryVisibleTo(value, principal)) continue;
      if (entries.size() == max_entries) {
        return absl::ResourceExhaustedError(
            absl::StrCat("case ", case_id, " has more than ", max_entries, " events in the view"));
      }
      CaseEntry& entry = entries.emplace_back();
      entry.position = GetBigEndian(value, 0, 8);
      // The principal's events of a case are numbered from 1 in case order.
      entry.view_version = entries.size();
      entry.happened_seconds = static_cast<int64_t>(GetBigEndian(value, 8, 8));
      entry.happened_nanos = static_cast<int32_t>(GetBigEndian(value, 16, 4));
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading a view"));
    return entries;
  }

  absl::StatusOr<std::vector<ViewEvent>> ReadEvents(
      uint32_t generation, uint16_t principal,
      const std::vector<uint64_t>& positions) const override {
    return Contents(generation, principal, positions);
  }

  absl::StatusOr<uint64_t> LogPositionOf(uint32_t generation, uint16_t principal,
                                         uint64_t view_position) const override {
    if (view_position == 0) return 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kIndex)));
    return DeliveredAt(it.get(), generation, principal, view_position);
  }

  absl::StatusOr<uint64_t> ViewPositionAt(uint32_t generation, uint16_t principal,
                                          uint64_t log_position) const override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kIndex)));
    HUB_ASSIGN_OR_RETURN(const uint64_t last, LastViewPosition(it.get(), generation, principal));
    // Deliveries are made at non-decreasing log positions: the last one at
    // or before `log_position` is found by halving.
    uint64_t low = 0;
    uint64_t high = last;
    while (low < high) {
      const uint64_t middle = low + (high - low + 1) / 2;
      HUB_ASSIGN_OR_RETURN(const uint64_t at, DeliveredAt(it.get(), generation, principal, middle));
      if (at <= log_position) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    return low;
  }

  absl::StatusOr<std::vector<uint64_t>> LastViewPositions(uint32_t generation) const override {
    std::optional<GenerationInfo> info;
    HUB_ASSIGN_OR_RETURN(std::vector<GenerationInfo> generations, Generations());
    for (GenerationInfo& candidate : generations) {
      if (candidate.generation == generation) info = std::move(candidate);
    }
    if (!info.has_value()) {
      return absl::NotFoundError(absl::StrCat("view generation ", generation, " does not exist"));
    }
    std::vector<uint64_t> last(info->principals.size(), 0);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kIndex)));
    for (size_t principal = 0; principal < last.size(); ++principal) {
      HUB_ASSIGN_OR_RETURN(last[principal], LastViewPosition(it.get(), generation,
                                                             static_cast<uint16_t>(principal)));
    }
    return last;
  }

  absl::StatusOr<std::vector<GenerationInfo>> RetiredGenerations() const override {
    return GenerationsUnder(kRetiredPrefix);
  }

  absl::StatusOr<StoredCase> CaseSummaries(uint32_t generation,
                                           const std::string& case_id) const override {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family(kSummaries),
                                      GenerationKey(generation) + case_id, &value);
    if (status.IsNotFound()) return StoredCase();
    HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading a case summary"));
    return DecodeSummaries(value);
  }

  absl::StatusOr<std::optional<std::string>> Summary(uint32_t generation, uint16_t principal,
                                                     const std::string& case_id) const override {
    HUB_ASSIGN_OR_RETURN(StoredCase stored, CaseSummaries(generation, case_id));
    if (principal >= stored.by_principal.size()) return std::optional<std::string>();
    return std::move(stored.by_principal[principal]);
  }

  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> CaseVisibility(
      uint32_t generation, const std::string& case_id) const override {
    const std::string prefix = CaseKey(generation, case_id);
    std::vector<std::pair<uint64_t, std::string>> events;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kCases)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view value(it->value().data(), it->value().size());
      if (value.size() < kCaseEntryHeader)
        return absl::DataLossError("a view case entry is damaged");
      events.emplace_back(GetBigEndian(value, 0, 8), std::string(value.substr(kCaseEntryHeader)));
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading a view"));
    return events;
  }

  absl::StatusOr<std::set<std::string>> CasesSealedUnder(
      uint32_t generation, const std::set<std::string>& key_ids) const override {
    std::set<std::string> cases;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kKeys)));
    for (const std::string& key_id : key_ids) {
      const std::string prefix = SealedUnderPrefix(generation, key_id);
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        cases.emplace(it->key().data() + prefix.size(), it->key().size() - prefix.size());
      }
      HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the views' key index"));
    }
    return cases;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SealedUnder(
      uint32_t generation) const override {
    std::vector<std::pair<std::string, std::string>> index;
    const std::string prefix = GenerationKey(generation);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kKeys)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view rest(it->key().data() + prefix.size(),
                                  it->key().size() - prefix.size());
      const size_t zero = rest.find('\0');
      if (zero == std::string_view::npos) {
        return absl::DataLossError("an entry of the views' key index is damaged");
      }
      index.emplace_back(std::string(rest.substr(0, zero)), std::string(rest.substr(zero + 1)));
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the views' key index"));
    return index;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AllCaseFacts(
      uint32_t generation) const override {
    const std::string prefix = GenerationKey(generation);
    std::vector<std::pair<std::string, std::string>> facts;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), family(kSummaries)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      HUB_ASSIGN_OR_RETURN(StoredCase stored, DecodeSummaries(std::string_view(
                                                  it->value().data(), it->value().size())));
      if (stored.facts.empty()) continue;
      facts.emplace_back(
          std::string(it->key().data() + prefix.size(), it->key().size() - prefix.size()),
          std::move(stored.facts));
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the cases' report facts"));
    return facts;
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Summaries(
      uint32_t generation, uint16_t principal, const std::string& after_case,
      size_t max_cases) const override {
    const std::string prefix = GenerationKey(generation);
    std::vector<std::pair<std::string, std::string>> summaries;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), family(kSummaries)));
    for (it->Seek(prefix + after_case);
         it->Valid() && it->key().starts_with(prefix) && summaries.size() < max_cases; it->Next()) {
      std::string case_id(it->key().data() + prefix.size(), it->key().size() - prefix.size());
      if (case_id == after_case && !after_case.empty()) continue;
      HUB_ASSIGN_OR_RETURN(StoredCase stored, DecodeSummaries(std::string_view(
                                                  it->value().data(), it->value().size())));
      if (principal < stored.by_principal.size() && stored.by_principal[principal].has_value()) {
        summaries.emplace_back(std::move(case_id), std::move(*stored.by_principal[principal]));
      }
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading case summaries"));
    return summaries;
  }

 private:
  rocksdb::ColumnFamilyHandle* family(Family f) const { return handles_[f]; }

  absl::Status Resume() override { return FromRocksStatus(db_->Resume(), "resuming the views"); }

  absl::Status Write(rocksdb::WriteBatch* batch, bool sync, bool logged = true) {
    rocksdb::WriteOptions options;
    options.sync = sync;
    options.disableWAL = !logged;
    return FromRocksStatus(db_->Write(options, batch), "writing the views");
  }

  // The events at `positions` as `principal` sees them, fetched together.
  absl::StatusOr<std::vector<ViewEvent>> Contents(uint32_t generation, uint16_t principal,
                                                  const std::vector<uint64_t>& positions) const {
    std::vector<std::string> keys;
    keys.reserve(positions.size());
    for (uint64_t position : positions) keys.push_back(ContentKey(generation, position));
    const std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    // The batched form: keys in one block (a case's events recorded
    // together) share one fetch and one decryption of it, and the values
    // stay pinned in the cache rather than copied out. The vector form looks
    // up each key on its own, which was most of a timeline's cost.
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(rocksdb::ReadOptions(), family(kContent), slices.size(), slices.data(),
                  values.data(), statuses.data(), /*sorted_input=*/false);
    std::vector<ViewEvent> events;
    events.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        return absl::DataLossError("a view index names an event the view does not hold");
      }
      HUB_RETURN_IF_ERROR(FromRocksStatus(statuses[i], "reading a view"));
      HUB_ASSIGN_OR_RETURN(std::optional<ViewEvent> event,
                           DecodeContentFor(positions[i], principal, values[i].ToStringView()));
      if (!event.has_value()) {
        return absl::DataLossError("a view index names an event its principal does not see");
      }
      events.push_back(std::move(*event));
    }
    return events;
  }

  // Rewrites the files that held a dropped generation, so that its content
  // (which may be what an erasure or a narrower protocol took away) leaves
  // the disk rather than waiting for compaction to reach it. Without the
  // write lock: readers and the active generation's writer go on meanwhile.
  absl::Status CompactAway(uint32_t generation) {
    const std::string begin = GenerationKey(generation);
    const std::string end = GenerationKey(generation + 1);
    const rocksdb::Slice begin_slice(begin);
    const rocksdb::Slice end_slice(end);
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (Family f : {kContent, kIndex, kCases, kSummaries, kKeys}) {
      HUB_RETURN_IF_ERROR(FromRocksStatus(
          db_->CompactRange(options, family(f), &begin_slice, &end_slice), "compacting a view"));
    }
    return absl::OkStatus();
  }

  absl::Status CompactReshaped(uint32_t generation, uint64_t first_position, uint64_t last_position,
                               const std::vector<std::string>& case_ids) override {
    rocksdb::CompactRangeOptions options;
    // The replaced versions may sit in the bottommost files already.
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    options.exclusive_manual_compaction = false;
    options.canceled = &compactions_canceled_;
    const auto compact = [&](Family f, const std::string& begin, const std::string& end) {
      const rocksdb::Slice begin_slice(begin);
      const rocksdb::Slice end_slice(end);
      const rocksdb::Status status =
          db_->CompactRange(options, family(f), &begin_slice, &end_slice);
      if (status.IsManualCompactionPaused() || compactions_canceled_.load()) {
        return absl::CancelledError("the views are closing");
      }
      return FromRocksStatus(status, "compacting reshaped views");
    };
    HUB_RETURN_IF_ERROR(compact(kContent, ContentKey(generation, first_position),
                                ContentKey(generation, last_position)));
    for (const std::string& case_id : case_ids) {
      const std::string cases = CaseKey(generation, case_id);
      HUB_RETURN_IF_ERROR(compact(kCases, cases, cases + std::string(8, '\xff')));
      const std::string summaries = GenerationKey(generation) + case_id;
      HUB_RETURN_IF_ERROR(compact(kSummaries, summaries, summaries));
    }
    return absl::OkStatus();
  }

  void CancelCompactions() override { compactions_canceled_.store(true); }

  // The principal's last view position (0: none), read with `it` (an
  // iterator over the index).
  static absl::StatusOr<uint64_t> LastViewPosition(rocksdb::Iterator* it, uint32_t generation,
                                                   uint16_t principal) {
    const std::string prefix = PrincipalKey(generation, principal);
    it->SeekForPrev(prefix + std::string(8, '\xff'));
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading a view index"));
    if (!it->Valid() || !it->key().starts_with(prefix)) return 0;
    HUB_ASSIGN_OR_RETURN(const IndexEntry entry, DecodeIndexEntry(*it, prefix.size()));
    return entry.first_view_position + entry.size() - 1;
  }

  // Where the principal's delivery at `view_position` (> 0) was made.
  static absl::StatusOr<uint64_t> DeliveredAt(rocksdb::Iterator* it, uint32_t generation,
                                              uint16_t principal, uint64_t view_position) {
    const std::string prefix = PrincipalKey(generation, principal);
    std::string key = prefix;
    PutBigEndian(view_position, 8, &key);
    it->SeekForPrev(key);
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading a view index"));
    if (it->Valid() && it->key().starts_with(prefix)) {
      HUB_ASSIGN_OR_RETURN(const IndexEntry entry, DecodeIndexEntry(*it, prefix.size()));
      if (view_position - entry.first_view_position < entry.size()) {
        return entry.delivered_at(view_position - entry.first_view_position);
      }
    }
    return absl::NotFoundError(absl::StrCat("the view holds no event ", view_position));
  }

  absl::StatusOr<std::vector<GenerationInfo>> GenerationsUnder(std::string_view prefix) const {
    std::vector<GenerationInfo> generations;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family(kMeta)));
    for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
         it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
         it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key.size() != prefix.size() + 4) continue;
      generations.push_back(DecodeGeneration(
          static_cast<uint32_t>(GetBigEndian(key, prefix.size(), 4)), it->value().ToString()));
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "listing view generations"));
    return generations;
  }

  // Deletes a replaced generation's data but its index (what a reader's
  // position in it meant), and forgets the indexes of the oldest retired
  // generations beyond kRetiredKept.
  absl::Status RetireLocked(const GenerationInfo& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    rocksdb::WriteBatch retired_record;
    HUB_RETURN_IF_ERROR(FromRocksStatus(
        retired_record.Put(family(kMeta), kRetiredPrefix + GenerationKey(info.generation),
                           EncodeGeneration(info)),
        "batch"));
    HUB_RETURN_IF_ERROR(
        DeleteLocked(info.generation, {kContent, kCases, kSummaries, kKeys}, &retired_record));
    HUB_ASSIGN_OR_RETURN(std::vector<GenerationInfo> retired, RetiredGenerations());
    for (size_t i = 0; i + kRetiredKept < retired.size(); ++i) {
      const std::string old_begin = GenerationKey(retired[i].generation);
      const std::string old_end = GenerationKey(retired[i].generation + 1);
      HUB_RETURN_IF_ERROR(FromRocksStatus(
          db_->DeleteRange(rocksdb::WriteOptions(), family(kIndex), old_begin, old_end),
          "forgetting a retired view"));
      rocksdb::WriteBatch forget;
      HUB_RETURN_IF_ERROR(
          FromRocksStatus(forget.Delete(family(kMeta), kRetiredPrefix + old_begin), "batch"));
      HUB_RETURN_IF_ERROR(Write(&forget, /*sync=*/true));
    }
    return absl::OkStatus();
  }

  absl::Status DropLocked(uint32_t generation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    rocksdb::WriteBatch nothing_more;
    return DeleteLocked(generation, {kContent, kIndex, kCases, kSummaries, kKeys}, &nothing_more);
  }

  // Deletes a generation's data in `families` and its generation and
  // checkpoint records, writing `batch` (further records) with the latter.
  absl::Status DeleteLocked(uint32_t generation, std::initializer_list<Family> families,
                            rocksdb::WriteBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    absl::erase_if(last_view_positions_,
                   [generation](const auto& entry) { return entry.first.first == generation; });
    const std::string begin = GenerationKey(generation);
    const std::string end = GenerationKey(generation + 1);
    for (Family f : families) {
      HUB_RETURN_IF_ERROR(FromRocksStatus(
          db_->DeleteRange(rocksdb::WriteOptions(), family(f), begin, end), "dropping a view"));
    }
    HUB_RETURN_IF_ERROR(
        FromRocksStatus(batch->Delete(family(kMeta), kGenerationPrefix + begin), "batch"));
    HUB_RETURN_IF_ERROR(
        FromRocksStatus(batch->Delete(family(kMeta), kCheckpointPrefix + begin), "batch"));
    return Write(batch, /*sync=*/true);
  }

  // The files' encryption (null: in the clear); outlives the database.
  const std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  absl::Mutex write_mu_;
  // Each (generation, principal)'s last view position as stored, once read.
  absl::flat_hash_map<std::pair<uint32_t, uint16_t>, uint64_t> last_view_positions_
      ABSL_GUARDED_BY(write_mu_);
  mutable absl::Mutex mu_;
  std::optional<GenerationInfo> active_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> compactions_canceled_{false};
};

}  // namespace

bool ViewStore::WrittenUnderAnotherKey(const absl::Status& status) {
  return absl::StrContains(status.message(), internal::kNotUnderThisKey);
}

absl::StatusOr<std::unique_ptr<ViewStore>> ViewStore::Open(const std::string& directory,
                                                           const ViewStoreOptions& store_options) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the views folder ", directory, ": ", error.message()));
  }
  std::unique_ptr<rocksdb::Env> env;
  if (!store_options.encryption_key.empty()) {
    if (store_options.encryption_key.size() != 32) {
      return absl::InvalidArgumentError("the views key must be 32 bytes (AES-256)");
    }
    if (!internal::MissingOrEncrypted(directory)) {
      return absl::FailedPreconditionError(absl::StrCat("the views in ", directory, " are ",
                                                        internal::kNotUnderThisKey,
                                                        ": they were written in the clear"));
    }
    env = internal::NewEncryptedEnv(store_options.encryption_key);
  }
  rocksdb::DBOptions options;
  if (env != nullptr) options.env = env.get();
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.info_log_level = rocksdb::WARN_LEVEL;
  options.keep_log_file_num = 3;
  options.max_background_jobs = 2;
  // Memtables bounded whatever the size of the views (see the event log).
  rocksdb::BlockBasedTableOptions table;
  if (store_options.memory != nullptr) {
    options.write_buffer_manager = store_options.memory->write_buffers();
    table.block_cache = store_options.memory->block_cache();
  } else {
    options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(64 << 20);
    table.block_cache = rocksdb::NewLRUCache(64 << 20);
  }
  rocksdb::ColumnFamilyOptions family_options;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  family_options.memtable_insert_with_hint_prefix_extractor = internal::HintByKeyWithoutCounter();
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kFamilyNames) families.emplace_back(name, family_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  HUB_RETURN_IF_ERROR(
      FromRocksStatus(rocksdb::DB::Open(options, directory, families, &handles, &raw),
                      absl::StrCat("opening the views in ", directory)));
  auto store =
      std::make_unique<RocksViewStore>(std::move(env), std::unique_ptr<rocksdb::DB>(raw), handles);
  HUB_RETURN_IF_ERROR(store->Load());
  return store;
}

}  // namespace hub::storage
