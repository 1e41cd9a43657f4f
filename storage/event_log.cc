#include "storage/event_log.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <functional>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"

#include "proto/absl_compat.h"
#include "proto/status_macros.h"
#include "storage/internal/event_log_testing.h"
#include "storage/internal/group_commit.h"
#include "storage/internal/log_format.h"
#include "storage/internal/memtable_hints.h"
#include "storage/internal/rocksdb_status.h"
#include "storage/merkle_tree.h"

namespace hub::storage {
namespace {

using internal::DecodePositionKey;
using internal::DecodeRecord;
using internal::EncodeCaseIndexKey;
using internal::EncodePositionKey;
using internal::FromRocksStatus;
using internal::LogRecord;

std::string Quoted(std::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(AsAbsl(text)), "\"");
}

bool IsCaseIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == ':';
}

// Event ids are client-chosen (usually UUIDs); anything printable without
// spaces is accepted so that clients with other id schemes are not refused.
bool IsEventIdChar(char c) { return c > ' ' && c <= '~'; }

absl::Status ValidateAppend(const AppendRequest& request, const EventLogLimits& limits) {
  if (request.case_id.empty()) return absl::InvalidArgumentError("case id is empty");
  if (request.case_id.size() > limits.max_case_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "case id is ", request.case_id.size(), " bytes; the limit is ", limits.max_case_id_bytes));
  }
  if (!std::all_of(request.case_id.begin(), request.case_id.end(), IsCaseIdChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("case id ", Quoted(request.case_id),
                     " may contain only letters, digits, '-', '_', '.' and ':'"));
  }
  if (request.events.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("append to case ", request.case_id, " has no events"));
  }
  if (request.events.size() > limits.max_events_per_append) {
    return absl::InvalidArgumentError(absl::StrCat("append has ", request.events.size(),
                                                   " events; the limit is ",
                                                   limits.max_events_per_append));
  }
  absl::flat_hash_set<std::string_view> ids;
  for (size_t i = 0; i < request.events.size(); ++i) {
    const EventToAppend& event = request.events[i];
    if (event.event_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i, " has no event id"));
    }
    if (event.event_id.size() > limits.max_event_id_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("event id of event ", i, " is ",
                                                     event.event_id.size(), " bytes; the limit is ",
                                                     limits.max_event_id_bytes));
    }
    if (!std::all_of(event.event_id.begin(), event.event_id.end(), IsEventIdChar)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "event id ", Quoted(event.event_id), " contains spaces or non-printable characters"));
    }
    if (!ids.insert(event.event_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("event id ", event.event_id, " appears twice in one append"));
    }
    if (event.payload.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("event ", event.event_id, " has an empty payload"));
    }
    if (event.payload.size() > limits.max_event_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("event ", event.event_id, " is ",
                                                     event.payload.size(), " bytes; the limit is ",
                                                     limits.max_event_bytes));
    }
  }
  return absl::OkStatus();
}

StoredEvent ToStoredEvent(LogRecord&& record) {
  StoredEvent event;
  event.position = record.position;
  event.stream_version = record.stream_version;
  event.case_id = std::move(record.case_id);
  event.event_id = std::move(record.event_id);
  event.payload = std::move(record.payload);
  return event;
}

uint64_t ReadBigEndian64(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

// What an append will write, planned by the group-commit leader.
struct PlannedEvent {
  std::string case_id;
  uint64_t position = 0;
  uint64_t version = 0;
};

class RocksEventLog final : public EventLog {
 public:
  RocksEventLog(EventLogLimits limits, std::unique_ptr<rocksdb::DB> db,
                std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : EventLog(limits),
        db_(std::move(db)),
        handles_(std::move(handles)),
        queue_({limits.max_pending_appends, limits.max_group_events, limits.max_group_bytes},
               &AppendCost, [this](const std::vector<const AppendRequest*>& requests) {
                 return StageGroup(requests);
               }) {}

  ~RocksEventLog() override { Close(); }

  void SetFreeSpaceReserve(uint64_t min_free_bytes,
                           std::function<absl::StatusOr<uint64_t>()> probe) {
    min_free_bytes_ = min_free_bytes;
    free_space_probe_ = std::move(probe);
  }

  absl::Status LoadAudit() {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), audit()));
    it->SeekToLast();
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the end of the audit log"));
    uint64_t size = 0;
    Sha256Digest digest = kGenesisDigest;
    if (it->Valid()) {
      HUB_ASSIGN_OR_RETURN(LogRecord last, DecodeAt(it->key(), it->value()));
      size = last.position;
      digest = last.digest;
    }
    std::string head_value;
    rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), meta(), internal::kAuditHeadKey, &head_value);
    if (!status.IsNotFound() || size != 0) {
      HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the audit head"));
      HUB_ASSIGN_OR_RETURN(internal::ChainHead head, internal::DecodeChainHead(head_value));
      if (head.position != size || head.digest != digest) {
        return absl::DataLossError(absl::StrCat("the stored audit head says ", head.position,
                                                " records but the audit log holds ", size,
                                                "; audit records have been removed or altered"));
      }
    }
    // The frontier: at each level where the tree of `size` leaves ends in an
    // unpaired perfect subtree, that subtree's hash.
    std::vector<Sha256Digest> frontier;
    for (int level = 0; level < 64 && (size >> level) != 0; ++level) {
      frontier.emplace_back();
      if (((size >> level) & 1) == 0) continue;
      HUB_ASSIGN_OR_RETURN(frontier.back(),
                           audit_tree_.PerfectSubtreeHash(level, (size >> level) - 1));
    }
    next_audit_ = size;
    audit_head_ = digest;
    frontier_ = std::move(frontier);
    audit_size_.store(size, std::memory_order_release);
    return absl::OkStatus();
  }

  absl::Status LoadHead() {
    HUB_ASSIGN_OR_RETURN(std::optional<LogRecord> last, LastRecord(nullptr));
    std::string head_value;
    rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), meta(), internal::kChainHeadKey, &head_value);
    if (status.IsNotFound()) {
      if (last.has_value()) {
        return absl::DataLossError(
            absl::StrCat("the log holds records up to position ", last->position,
                         " but no stored chain head; the log has been altered"));
      }
      return absl::OkStatus();
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the chain head"));
    HUB_ASSIGN_OR_RETURN(internal::ChainHead head, internal::DecodeChainHead(head_value));
    const uint64_t last_position = last.has_value() ? last->position : 0;
    const Sha256Digest last_digest = last.has_value() ? last->digest : kGenesisDigest;
    if (head.position != last_position || head.digest != last_digest) {
      return absl::DataLossError(absl::StrCat(
          "the stored chain head is position ", head.position, " (", DigestToHex(head.digest),
          ") but the last record is position ", last_position, " (", DigestToHex(last_digest),
          "); records have been removed or altered"));
    }
    next_position_ = last_position + 1;
    head_digest_ = last_digest;
    last_position_.store(last_position, std::memory_order_release);
    return absl::OkStatus();
  }

  absl::StatusOr<AppendResult> Append(const AppendRequest& request) override {
    HUB_RETURN_IF_ERROR(ValidateAppend(request, limits()));
    return queue_.Submit(request);
  }

  void AppendAsync(AppendRequest request,
                   std::function<void(absl::StatusOr<AppendResult>)> done) override {
    if (absl::Status valid = ValidateAppend(request, limits()); !valid.ok()) {
      done(valid);
      return;
    }
    queue_.SubmitAsync(std::move(request), std::move(done));
  }

  absl::StatusOr<std::optional<StoredEvent>> FindEvent(std::string_view event_id) const override {
    absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
    HUB_RETURN_IF_ERROR(CheckOpen());
    HUB_ASSIGN_OR_RETURN(std::optional<uint64_t> position, StoredPositionOfEvent(event_id));
    if (!position.has_value()) return std::optional<StoredEvent>();
    HUB_ASSIGN_OR_RETURN(LogRecord record, StoredRecordAt(*position));
    if (record.event_id != event_id) {
      return absl::DataLossError(absl::StrCat("the event-id index maps ", AsAbsl(event_id),
                                              " to position ", *position, ", which holds ",
                                              record.event_id));
    }
    return std::optional<StoredEvent>(ToStoredEvent(std::move(record)));
  }

  absl::StatusOr<std::vector<StoredEvent>> ReadFrom(uint64_t from_position, size_t max_events,
                                                    size_t max_bytes) const override {
    absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
    HUB_RETURN_IF_ERROR(CheckOpen());
    max_events = std::min(max_events, limits().max_read_events);
    max_bytes = std::min(max_bytes, limits().max_read_bytes);
    const uint64_t last = LastPosition();
    std::vector<StoredEvent> events;
    if (from_position == 0) from_position = 1;
    if (from_position > last || max_events == 0) return events;

    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log()));
    size_t bytes = 0;
    uint64_t expected = from_position;
    Sha256Digest previous_digest{};
    for (it->Seek(EncodePositionKey(from_position));
         it->Valid() && expected <= last && events.size() < max_events; it->Next()) {
      HUB_ASSIGN_OR_RETURN(LogRecord record, DecodeAt(it->key(), it->value()));
      if (record.position != expected) {
        return absl::DataLossError(absl::StrCat("position ", expected,
                                                " is missing from the log; found ", record.position,
                                                " instead"));
      }
      if (!events.empty() && record.previous_digest != previous_digest) {
        return absl::DataLossError(absl::StrCat("record at position ", record.position,
                                                " does not link to the record before it"));
      }
      previous_digest = record.digest;
      bytes += record.payload.size();
      events.push_back(ToStoredEvent(std::move(record)));
      ++expected;
      if (bytes >= max_bytes) break;
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the log"));
    if (events.empty()) {
      return absl::DataLossError(
          absl::StrCat("position ", from_position, " is missing from the log"));
    }
    return events;
  }

  absl::StatusOr<Sha256Digest> ChainDigestAt(uint64_t position) const override {
    absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
    HUB_RETURN_IF_ERROR(CheckOpen());
    if (position == 0 || position > LastPosition()) {
      return absl::NotFoundError(absl::StrCat("the log holds no position ", position,
                                              " (it holds 1 to ", LastPosition(), ")"));
    }
    const std::string key = EncodePositionKey(position);
    std::string value;
    HUB_RETURN_IF_ERROR(
        FromRocksStatus(db_->Get(rocksdb::ReadOptions(), log(), key, &value), "reading the log"));
    HUB_ASSIGN_OR_RETURN(LogRecord record, DecodeAt(key, value));
    return record.digest;
  }

  absl::StatusOr<std::vector<StoredEvent>> ReadCase(std::string_view case_id, uint64_t from_version,
                                                    size_t max_events) const override {
    absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
    HUB_RETURN_IF_ERROR(CheckOpen());
    max_events = std::min(max_events, limits().max_read_events);
    const std::string prefix = internal::CaseIndexPrefix(case_id);
    const uint64_t last = LastPosition();
    std::vector<std::string> position_keys;
    std::vector<uint64_t> versions;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), case_index()));
    for (it->Seek(EncodeCaseIndexKey(case_id, std::max<uint64_t>(from_version, 1)));
         it->Valid() && it->key().starts_with(prefix) && position_keys.size() < max_events;
         it->Next()) {
      if (it->value().size() != 8) {
        return absl::DataLossError(
            absl::StrCat("case index entry for ", AsAbsl(case_id), " is damaged"));
      }
      // Events past LastPosition() are not yet durable or acknowledged.
      if (ReadBigEndian64(std::string_view(it->value().data(), it->value().size())) > last) break;
      position_keys.emplace_back(it->value().data(), it->value().size());
      versions.push_back(ReadBigEndian64(
          std::string_view(it->key().data(), it->key().size()).substr(prefix.size())));
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the case index"));

    // Fetched together, in position order: a case's events lie far apart
    // in the log, and one lookup each was most of a disclosure's cost.
    const std::vector<rocksdb::Slice> keys(position_keys.begin(), position_keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(rocksdb::ReadOptions(), log(), keys.size(), keys.data(), values.data(),
                  statuses.data(), /*sorted_input=*/true);
    std::vector<StoredEvent> events;
    events.reserve(position_keys.size());
    for (size_t i = 0; i < position_keys.size(); ++i) {
      HUB_RETURN_IF_ERROR(FromRocksStatus(statuses[i], "reading the log"));
      HUB_ASSIGN_OR_RETURN(LogRecord record, DecodeAt(position_keys[i], values[i]));
      if (record.case_id != case_id || record.stream_version != versions[i]) {
        return absl::DataLossError(absl::StrCat("case index for ", AsAbsl(case_id), " version ",
                                                versions[i], " points at position ",
                                                record.position, ", which holds another event"));
      }
      events.push_back(ToStoredEvent(std::move(record)));
    }
    return events;
  }

  absl::StatusOr<uint64_t> CaseVersion(std::string_view case_id) const override {
    absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
    HUB_RETURN_IF_ERROR(CheckOpen());
    return StoredCaseVersion(case_id, LastPosition());
  }

  EventLogStats Stats() const override {
    EventLogStats stats;
    stats.appends_committed = appends_committed_.load(std::memory_order_relaxed);
    stats.events_committed = events_committed_.load(std::memory_order_relaxed);
    stats.synced_writes = synced_writes_.load(std::memory_order_relaxed);
    return stats;
  }

  uint64_t LastPosition() const override { return last_position_.load(std::memory_order_acquire); }

  uint64_t WaitForPositionAfter(uint64_t after_position,
                                std::chrono::milliseconds timeout) const override {
    const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
    absl::MutexLock lock(&position_mu_);
    while (LastPosition() <= after_position && !closed_) {
      if (position_advanced_.WaitWithDeadline(&position_mu_, deadline)) break;
    }
    return LastPosition();
  }

  absl::StatusOr<uint64_t> Audit(std::vector<std::string> records) override {
    if (records.empty()) return absl::InvalidArgumentError("no audit records to append");
    AppendRequest request;
    request.audit_records = [records = std::move(records)](const AppendResult&) { return records; };
    HUB_ASSIGN_OR_RETURN(AppendResult result, queue_.Submit(request));
    return result.first_audit_index;
  }

  void AuditAsync(std::vector<std::string> records,
                  std::function<void(absl::StatusOr<uint64_t>)> done) override {
    if (records.empty()) {
      done(absl::InvalidArgumentError("no audit records to append"));
      return;
    }
    AppendRequest request;
    request.audit_records = [records = std::move(records)](const AppendResult&) { return records; };
    queue_.SubmitAsync(std::move(request),
                       [done = std::move(done)](absl::StatusOr<AppendResult> result) {
                         if (!result.ok()) {
                           done(result.status());
                         } else {
                           done(result->first_audit_index);
                         }
                       });
  }

  uint64_t AuditSize() const override { return audit_size_.load(std::memory_order_acquire); }

  absl::StatusOr<std::vector<std::string>> ReadAudit(uint64_t from_index,
                                                     size_t max_records) const override {
    absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
    HUB_RETURN_IF_ERROR(CheckOpen());
    const uint64_t size = AuditSize();
    std::vector<std::string> records;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), audit()));
    Sha256Digest previous{};
    for (it->Seek(EncodePositionKey(from_index + 1));
         it->Valid() && from_index + records.size() < size &&
         records.size() < std::min(max_records, limits().max_read_events);
         it->Next()) {
      const uint64_t index = from_index + records.size();
      HUB_ASSIGN_OR_RETURN(LogRecord record, DecodeAt(it->key(), it->value()));
      if (record.position != index + 1) {
        return absl::DataLossError(absl::StrCat("audit record ", index, " is missing"));
      }
      if (!records.empty() && record.previous_digest != previous) {
        return absl::DataLossError(
            absl::StrCat("audit record ", index, " does not link to the record before it"));
      }
      previous = record.digest;
      records.push_back(std::move(record.payload));
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the audit log"));
    if (records.empty() && from_index < size) {
      return absl::DataLossError(absl::StrCat("audit record ", from_index, " is missing"));
    }
    return records;
  }

  const MerkleHashSource& AuditTree() const override { return audit_tree_; }

  absl::StatusOr<uint64_t> VerifyAudit() const override;

  absl::StatusOr<CheckpointInfo> Checkpoint(const std::string& directory) override {
    absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
    HUB_RETURN_IF_ERROR(CheckOpen());
    // What is acknowledged now is in the copy; groups written after this
    // may be in it too, whole (each is one atomic write batch).
    CheckpointInfo info{LastPosition(), AuditSize()};
    rocksdb::Checkpoint* raw = nullptr;
    HUB_RETURN_IF_ERROR(
        FromRocksStatus(rocksdb::Checkpoint::Create(db_.get(), &raw), "preparing a checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // log_size_for_flush 0: flush the memtables first, so the copy needs no
    // WAL replay and holds every write made before it.
    HUB_RETURN_IF_ERROR(FromRocksStatus(checkpoint->CreateCheckpoint(directory, 0),
                                        absl::StrCat("writing a checkpoint to ", directory)));
    return info;
  }

  absl::StatusOr<VerifiedLog> Verify() const override { return VerifyLog(/*check_indexes=*/true); }

  // The hash chain and stored head always; the two indexes only when asked,
  // because their point lookups cost more than the sequential chain scan.
  absl::StatusOr<VerifiedLog> VerifyLog(bool check_indexes) const;

  absl::StatusOr<std::optional<ViewGeneration>> LatestViewGeneration() const override {
    std::string value;
    const rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), meta(), internal::kViewGenerationKey, &value);
    if (status.IsNotFound()) return std::nullopt;
    HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the views' generation"));
    HUB_ASSIGN_OR_RETURN(internal::ViewGenerationValue decoded,
                         internal::DecodeViewGeneration(value));
    if (decoded.generation > std::numeric_limits<uint32_t>::max()) {
      return absl::DataLossError("the views' generation recorded in the event log is damaged");
    }
    return ViewGeneration{static_cast<uint32_t>(decoded.generation), std::move(decoded.digest)};
  }

  absl::Status RecordViewGeneration(const ViewGeneration& generation) override {
    rocksdb::WriteOptions options;
    options.sync = true;
    return FromRocksStatus(
        db_->Put(options, meta(), internal::kViewGenerationKey,
                 internal::EncodeViewGeneration(generation.generation, generation.digest)),
        "recording the views' generation");
  }

  void Close() override {
    queue_.Close();
    {
      absl::MutexLock lock(&position_mu_);
      closed_ = true;
      position_advanced_.SignalAll();
    }
    absl::MutexLock lifecycle(&lifecycle_mu_);
    if (db_ == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    handles_.clear();
    db_->Close().PermitUncheckedError();
    db_.reset();
  }

 private:
  static size_t AppendCost(const AppendRequest& request) {
    size_t bytes = 0;
    for (const EventToAppend& event : request.events) {
      bytes += event.payload.size() + event.event_id.size();
    }
    return bytes;
  }

  rocksdb::ColumnFamilyHandle* meta() const { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* log() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* event_ids() const { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* case_index() const { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* audit() const { return handles_[4]; }
  rocksdb::ColumnFamilyHandle* audit_nodes() const { return handles_[5]; }

  absl::Status CheckOpen() const {
    if (db_ == nullptr) return absl::UnavailableError("the event log is closed");
    return absl::OkStatus();
  }

  static absl::StatusOr<LogRecord> DecodeAt(const rocksdb::Slice& key,
                                            const rocksdb::Slice& value) {
    HUB_ASSIGN_OR_RETURN(uint64_t position,
                         DecodePositionKey(std::string_view(key.data(), key.size())));
    absl::StatusOr<LogRecord> record = DecodeRecord(std::string_view(value.data(), value.size()));
    if (!record.ok()) {
      return absl::DataLossError(
          absl::StrCat("record at position ", position, ": ", record.status().message()));
    }
    if (record->position != position) {
      return absl::DataLossError(absl::StrCat("record stored at position ", position,
                                              " says it is position ", record->position));
    }
    return record;
  }

  absl::StatusOr<std::optional<LogRecord>> LastRecord(const rocksdb::Snapshot* snapshot) const {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, log()));
    it->SeekToLast();
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the end of the log"));
    if (!it->Valid()) return std::optional<LogRecord>();
    HUB_ASSIGN_OR_RETURN(LogRecord record, DecodeAt(it->key(), it->value()));
    return std::optional<LogRecord>(std::move(record));
  }

  // The case's latest version among events at positions <= `max_position`
  // (the leader plans on staged events; readers see only durable ones).
  absl::StatusOr<uint64_t> StoredCaseVersion(std::string_view case_id,
                                             uint64_t max_position) const {
    const std::string prefix = internal::CaseIndexPrefix(case_id);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), case_index()));
    for (it->SeekForPrev(EncodeCaseIndexKey(case_id, std::numeric_limits<uint64_t>::max()));
         it->Valid() && it->key().starts_with(prefix); it->Prev()) {
      if (ReadBigEndian64(std::string_view(it->value().data(), it->value().size())) <=
          max_position) {
        return ReadBigEndian64(
            std::string_view(it->key().data(), it->key().size()).substr(prefix.size()));
      }
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the case index"));
    return 0;
  }

  absl::StatusOr<std::optional<uint64_t>> StoredPositionOfEvent(std::string_view event_id) const {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), event_ids(),
                                      rocksdb::Slice(event_id.data(), event_id.size()), &value);
    if (status.IsNotFound()) return std::optional<uint64_t>();
    HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the event-id index"));
    if (value.size() != 8) {
      return absl::DataLossError(
          absl::StrCat("event-id index entry for ", AsAbsl(event_id), " is damaged"));
    }
    return std::optional<uint64_t>(ReadBigEndian64(value));
  }

  absl::StatusOr<LogRecord> StoredRecordAt(uint64_t position) const {
    std::string value;
    const std::string key = EncodePositionKey(position);
    HUB_RETURN_IF_ERROR(
        FromRocksStatus(db_->Get(rocksdb::ReadOptions(), log(), key, &value), "reading the log"));
    return DecodeAt(key, value);
  }

  absl::StatusOr<PlannedEvent> StoredEventAt(uint64_t position) const {
    HUB_ASSIGN_OR_RETURN(LogRecord record, StoredRecordAt(position));
    return PlannedEvent{std::move(record.case_id), record.position, record.stream_version};
  }

  // Writer-side state below is owned by the group-commit leader: StageGroup
  // runs on one thread at a time, so it needs no lock.
  struct GroupPlan {
    rocksdb::WriteBatch batch;
    absl::flat_hash_map<std::string, PlannedEvent> events_by_id;
    absl::flat_hash_map<std::string, uint64_t> case_versions;
    uint64_t next_position = 0;
    Sha256Digest head_digest{};
    // The audit log's next index, chain head and Merkle frontier (see
    // PlanAudit), copied from the writer state and written back on success.
    uint64_t next_audit = 0;
    Sha256Digest audit_head{};
    std::vector<Sha256Digest> frontier;
  };

  // Adds audit records to the plan: each hash-chained, and each a new leaf
  // of the Merkle tree, storing every perfect subtree it completes. The
  // frontier holds, per level, the last completed left child waiting for its
  // right sibling.
  absl::Status PlanAudit(GroupPlan& plan, const std::vector<std::string>& records) const {
    for (const std::string& payload : records) {
      if (payload.empty() || payload.size() > limits().max_event_bytes) {
        return absl::InvalidArgumentError(absl::StrCat("an audit record is ", payload.size(),
                                                       " bytes; it must be 1 to ",
                                                       limits().max_event_bytes));
      }
      LogRecord record;
      record.position = plan.next_audit + 1;
      record.payload = payload;
      record.previous_digest = plan.audit_head;
      const std::string encoded = internal::EncodeRecord(&record);
      plan.audit_head = record.digest;
      HUB_RETURN_IF_ERROR(FromRocksStatus(
          plan.batch.Put(audit(), EncodePositionKey(record.position), encoded), "batch"));
      Sha256Digest node = MerkleLeafHash(payload);
      uint64_t index = plan.next_audit;
      int level = 0;
      HUB_RETURN_IF_ERROR(PutNode(plan, level, index, node));
      while ((index & 1) == 1) {
        node = MerkleNodeHash(plan.frontier[level], node);
        index >>= 1;
        ++level;
        HUB_RETURN_IF_ERROR(PutNode(plan, level, index, node));
      }
      if (plan.frontier.size() <= static_cast<size_t>(level)) plan.frontier.resize(level + 1);
      plan.frontier[level] = node;
      ++plan.next_audit;
    }
    return absl::OkStatus();
  }

  absl::Status PutNode(GroupPlan& plan, int level, uint64_t index, const Sha256Digest& hash) const {
    return FromRocksStatus(
        plan.batch.Put(audit_nodes(), internal::EncodeAuditNodeKey(level, index),
                       rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), hash.size())),
        "batch");
  }

  absl::StatusOr<PlannedEvent> FindEvent(const GroupPlan& plan, const std::string& event_id,
                                         bool* found) const {
    *found = false;
    if (auto it = plan.events_by_id.find(event_id); it != plan.events_by_id.end()) {
      *found = true;
      return it->second;
    }
    HUB_ASSIGN_OR_RETURN(std::optional<uint64_t> position, StoredPositionOfEvent(event_id));
    if (!position.has_value()) return PlannedEvent{};
    *found = true;
    return StoredEventAt(*position);
  }

  // Either recognises `request` as a retry of an append that is stored (or
  // planned earlier in this group), or refuses it because some of its ids are
  // taken; returns nullopt when every id is new.
  absl::StatusOr<std::optional<AppendResult>> CheckForRetry(const GroupPlan& plan,
                                                            const AppendRequest& request) const {
    std::vector<PlannedEvent> existing;
    const EventToAppend* first_new = nullptr;
    for (const EventToAppend& event : request.events) {
      bool found = false;
      HUB_ASSIGN_OR_RETURN(PlannedEvent stored, FindEvent(plan, event.event_id, &found));
      if (found) {
        if (stored.case_id != request.case_id) {
          return absl::AlreadyExistsError(absl::StrCat(
              "event id ", event.event_id, " is already stored at position ", stored.position,
              " in another case; event ids must be unique across the hub"));
        }
        existing.push_back(std::move(stored));
      } else if (first_new == nullptr) {
        first_new = &event;
      }
    }
    if (existing.empty()) return std::optional<AppendResult>();
    bool same_batch = existing.size() == request.events.size();
    for (size_t i = 1; same_batch && i < existing.size(); ++i) {
      same_batch = existing[i].position == existing[i - 1].position + 1;
    }
    if (!same_batch) {
      return absl::AlreadyExistsError(absl::StrCat(
          "this append mixes event ids that are already stored (the first at position ",
          existing.front().position, ") with new or reordered ones",
          first_new != nullptr ? absl::StrCat(" such as ", first_new->event_id) : "",
          "; a retry must resend exactly the same batch"));
    }
    AppendResult result;
    result.first_position = existing.front().position;
    result.last_position = existing.back().position;
    result.first_version = existing.front().version;
    result.last_version = existing.back().version;
    result.already_stored = true;
    return std::optional<AppendResult>(result);
  }

  // Plans one request into the group's batch; on error the batch is unchanged.
  absl::StatusOr<AppendResult> PlanAppend(GroupPlan& plan, const AppendRequest& request) const {
    HUB_ASSIGN_OR_RETURN(std::optional<AppendResult> retry, CheckForRetry(plan, request));
    if (retry.has_value()) return *retry;

    uint64_t current_version = 0;
    if (auto it = plan.case_versions.find(request.case_id); it != plan.case_versions.end()) {
      current_version = it->second;
    } else if (auto cached = case_versions_.find(request.case_id); cached != case_versions_.end()) {
      current_version = cached->second;
    } else {
      HUB_ASSIGN_OR_RETURN(current_version, StoredCaseVersion(request.case_id, UINT64_MAX));
    }
    if (request.expected_version.has_value() && *request.expected_version != current_version) {
      return VersionConflictError(request.case_id, current_version, *request.expected_version);
    }

    AppendResult result;
    result.first_position = plan.next_position;
    result.first_version = current_version + 1;
    for (const EventToAppend& event : request.events) {
      LogRecord record;
      record.position = plan.next_position++;
      record.stream_version = ++current_version;
      record.case_id = request.case_id;
      record.event_id = event.event_id;
      record.payload = event.payload;
      record.previous_digest = plan.head_digest;
      const std::string position_key = EncodePositionKey(record.position);
      const std::string encoded = internal::EncodeRecord(&record);
      plan.head_digest = record.digest;
      result.event_digests.push_back(record.digest);
      HUB_RETURN_IF_ERROR(FromRocksStatus(plan.batch.Put(log(), position_key, encoded), "batch"));
      HUB_RETURN_IF_ERROR(
          FromRocksStatus(plan.batch.Put(event_ids(), event.event_id, position_key), "batch"));
      HUB_RETURN_IF_ERROR(FromRocksStatus(
          plan.batch.Put(case_index(), EncodeCaseIndexKey(request.case_id, record.stream_version),
                         position_key),
          "batch"));
      plan.events_by_id[event.event_id] =
          PlannedEvent{request.case_id, record.position, record.stream_version};
    }
    plan.case_versions[request.case_id] = current_version;
    result.last_position = plan.next_position - 1;
    result.last_version = current_version;
    return result;
  }

  using Results = std::vector<absl::StatusOr<AppendResult>>;

  // Group-commit phase one (see internal/group_commit.h): plans the group on
  // top of every earlier staged group and writes it to RocksDB without
  // syncing. Nothing is acknowledged or visible to readers yet: ReadFrom,
  // ReadCase and CaseVersion stop at LastPosition(), which only FinishGroup
  // advances.
  internal::GroupCommitQueue<AppendRequest, AppendResult>::FinishFn StageGroup(
      const std::vector<const AppendRequest*>& requests) {
    Results results;
    results.reserve(requests.size());
    if (!Failure().ok() && !TryRecover().ok()) {
      results.assign(requests.size(), Failure());
      return [results]() { return results; };
    }
    if (absl::Status reserve = CheckFreeSpace(); !reserve.ok()) {
      results.assign(requests.size(), reserve);
      return [results]() { return results; };
    }
    GroupPlan plan;
    plan.next_position = next_position_;
    plan.head_digest = head_digest_;
    plan.next_audit = next_audit_;
    plan.audit_head = audit_head_;
    plan.frontier = frontier_;
    for (const AppendRequest* request : requests) {
      plan.batch.SetSavePoint();
      const uint64_t next_before = plan.next_position;
      const Sha256Digest head_before = plan.head_digest;
      const uint64_t audit_before = plan.next_audit;
      const Sha256Digest audit_head_before = plan.audit_head;
      const std::vector<Sha256Digest> frontier_before = plan.frontier;
      // Audit-only requests (from Audit()) carry no events.
      absl::StatusOr<AppendResult> result =
          request->events.empty() ? AppendResult() : PlanAppend(plan, *request);
      if (result.ok() && request->audit_records) {
        result->first_audit_index = plan.next_audit;
        const std::vector<std::string> records = request->audit_records(*result);
        absl::Status audited = PlanAudit(plan, records);
        if (audited.ok()) {
          result->audit_count = records.size();
        } else {
          result = audited;
        }
      }
      if (!result.ok()) {
        plan.batch.RollbackToSavePoint().PermitUncheckedError();
        plan.next_position = next_before;
        plan.head_digest = head_before;
        plan.next_audit = audit_before;
        plan.audit_head = audit_head_before;
        plan.frontier = frontier_before;
      } else {
        plan.batch.PopSavePoint().PermitUncheckedError();
      }
      results.push_back(std::move(result));
    }
    const uint64_t sequence = ++staged_groups_;
    const bool writes = plan.next_position != next_position_ || plan.next_audit != next_audit_;
    if (writes) {
      absl::Status status = FromRocksStatus(
          plan.batch.Put(meta(), internal::kChainHeadKey,
                         internal::EncodeChainHead(plan.next_position - 1, plan.head_digest)),
          "batch");
      if (status.ok() && plan.next_audit != next_audit_) {
        status = FromRocksStatus(
            plan.batch.Put(meta(), internal::kAuditHeadKey,
                           internal::EncodeChainHead(plan.next_audit, plan.audit_head)),
            "batch");
      }
      if (status.ok()) {
        status = FromRocksStatus(db_->Write(rocksdb::WriteOptions(), &plan.batch),
                                 "writing the event log");
      }
      if (!status.ok()) {
        RecordFailure(status);
        return [this, sequence, results = std::move(results)]() mutable {
          return FinishGroup(sequence, /*synced=*/false, 0, 0, std::move(results));
        };
      }
      next_position_ = plan.next_position;
      head_digest_ = plan.head_digest;
      next_audit_ = plan.next_audit;
      audit_head_ = plan.audit_head;
      frontier_ = plan.frontier;
      {
        absl::MutexLock lock(&sync_mu_);
        written_groups_ = sequence;
      }
      // Bounded by the number of cases; cleared (not evicted piecemeal) when
      // a national-scale log has more live cases than the bound.
      if (case_versions_.size() + plan.case_versions.size() > kMaxCachedCaseVersions) {
        case_versions_.clear();
      }
      for (auto& [case_id, version] : plan.case_versions) case_versions_[case_id] = version;
    }
    return [this, sequence, writes, last = plan.next_position - 1, audit_size = plan.next_audit,
            results = std::move(results)]() mutable {
      absl::Status synced;
      if (writes) synced = SyncThrough(sequence);
      if (!synced.ok()) RecordFailure(synced);
      return FinishGroup(sequence, writes && synced.ok(), last, audit_size, std::move(results));
    };
  }

  // Group-commit phase two, after the group's sync: acknowledges groups in
  // the order they were staged. A group is only acknowledged if it and every
  // group before it became durable; otherwise its results become the failure,
  // including retries that point at events of a failed group.
  Results FinishGroup(uint64_t sequence, bool synced, uint64_t last_position, uint64_t audit_size,
                      Results results) {
    absl::MutexLock lock(&position_mu_);
    while (finished_groups_ + 1 != sequence) group_finished_.Wait(&position_mu_);
    if (synced && failure_.ok()) {
      const uint64_t previous = last_position_.load(std::memory_order_relaxed);
      events_committed_.fetch_add(last_position - previous, std::memory_order_relaxed);
      last_position_.store(last_position, std::memory_order_release);
      audit_size_.store(std::max(audit_size, audit_size_.load(std::memory_order_relaxed)),
                        std::memory_order_release);
      position_advanced_.SignalAll();
    }
    const uint64_t durable = last_position_.load(std::memory_order_relaxed);
    const uint64_t durable_audit = audit_size_.load(std::memory_order_relaxed);
    for (absl::StatusOr<AppendResult>& result : results) {
      if (!result.ok()) continue;
      if (result->last_position > durable ||
          result->first_audit_index + result->audit_count > durable_audit) {
        result = failure_.ok() ? absl::InternalError("append was not made durable") : failure_;
      } else if (!result->already_stored) {
        appends_committed_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    finished_groups_ = sequence;
    group_finished_.SignalAll();
    return results;
  }

  // Makes every group up to `sequence` durable. One fsync covers every group
  // written before it started, so concurrent callers share syncs instead of
  // queueing one fsync each behind RocksDB's WAL lock.
  absl::Status SyncThrough(uint64_t sequence) {
    absl::MutexLock lock(&sync_mu_);
    while (synced_groups_ < sequence && sync_in_progress_) sync_done_.Wait(&sync_mu_);
    if (synced_groups_ >= sequence) return absl::OkStatus();
    sync_in_progress_ = true;
    const uint64_t target = written_groups_;
    sync_mu_.Unlock();
    absl::Status status = FromRocksStatus(db_->SyncWAL(), "syncing the event log");
    sync_mu_.Lock();
    sync_in_progress_ = false;
    if (status.ok()) {
      synced_groups_ = target;
      synced_writes_.fetch_add(1, std::memory_order_relaxed);
    }
    sync_done_.SignalAll();
    return status;
  }

  absl::Status Failure() const {
    absl::MutexLock lock(&position_mu_);
    return failure_;
  }

  // After a failed write or sync the in-memory head can no longer be
  // trusted (a group may or may not have reached the WAL): appends are
  // refused until TryRecover() has brought RocksDB back and reloaded the
  // head from what is actually stored.
  void RecordFailure(const absl::Status& status) {
    absl::MutexLock lock(&position_mu_);
    if (!failure_.ok()) return;
    failure_ = status.code() == absl::StatusCode::kResourceExhausted
                   ? absl::ResourceExhaustedError(
                         absl::StrCat(status.message(),
                                      "; nothing was stored; appends resume by themselves "
                                      "once space is freed"))
                   : absl::UnavailableError(absl::StrCat(
                         "an event log write failed (", status.message(),
                         "); appends resume once the storage recovers; retry with the same "
                         "event ids"));
  }

  // RESOURCE_EXHAUSTED while the disk has less than the reserve free.
  // Measured at most every kFreeSpaceInterval (a statfs per group would be
  // cheap, but not free); called by the group-commit leader only.
  absl::Status CheckFreeSpace() {
    if (min_free_bytes_ == 0) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (now >= next_free_space_check_) {
      next_free_space_check_ = now + kFreeSpaceInterval;
      absl::StatusOr<uint64_t> free = free_space_probe_();
      // A probe that fails says nothing about space: writes go ahead.
      free_bytes_ = free.ok() ? *free : std::numeric_limits<uint64_t>::max();
    }
    if (free_bytes_ >= min_free_bytes_) return absl::OkStatus();
    return absl::ResourceExhaustedError(absl::StrCat(
        "the disk holding the event log is nearly full: ", free_bytes_ >> 20,
        " MiB free, below the ", min_free_bytes_ >> 20,
        " MiB the hub keeps in reserve; nothing was stored. Free space (or grow the volume); "
        "publishes resume by themselves"));
  }

  // Called by the group-commit leader while appends are refused, at most
  // every kRecoveryInterval: waits for every staged group to finish (they
  // have all failed), asks RocksDB to resume (after a full disk, RocksDB's
  // own recovery brings it out of read-only mode once it sees free space;
  // until then Resume() reports the error, or Busy while that recovery
  // runs), makes whatever reached the WAL durable, and reloads the chain
  // and audit heads from what is stored - exactly what a restart would do. A group that was written
  // but whose sync failed is then in the log: its appends were answered with an error and their
  // retries (same event ids) find them stored.
  absl::Status TryRecover() {
    const absl::Time now = absl::Now();
    if (now < next_recovery_attempt_) return Failure();
    next_recovery_attempt_ = now + kRecoveryInterval;
    {
      absl::MutexLock lock(&position_mu_);
      while (finished_groups_ != staged_groups_) group_finished_.Wait(&position_mu_);
    }
    HUB_RETURN_IF_ERROR(FromRocksStatus(db_->Resume(), "resuming the event log"));
    HUB_RETURN_IF_ERROR(FromRocksStatus(db_->SyncWAL(), "syncing the event log"));
    HUB_RETURN_IF_ERROR(LoadHead());
    HUB_RETURN_IF_ERROR(LoadAudit());
    case_versions_.clear();
    {
      absl::MutexLock lock(&sync_mu_);
      written_groups_ = staged_groups_;
      synced_groups_ = staged_groups_;
    }
    absl::MutexLock lock(&position_mu_);
    failure_ = absl::OkStatus();
    position_advanced_.SignalAll();
    return absl::OkStatus();
  }

  // Readers hold lifecycle_mu_ shared so that Close() (exclusive) cannot
  // destroy the database under them. The group-commit leader needs no lock:
  // Close() drains the queue before it takes the lock.
  mutable absl::Mutex lifecycle_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  // How often a refusing log tries to recover: often enough that appends
  // resume soon after space is freed, rarely enough not to spin.
  static constexpr absl::Duration kRecoveryInterval = absl::Milliseconds(500);

  static constexpr absl::Duration kFreeSpaceInterval = absl::Seconds(1);

  // Owned by the group-commit leader (see StageGroup).
  uint64_t min_free_bytes_ = 0;
  std::function<absl::StatusOr<uint64_t>()> free_space_probe_;
  absl::Time next_free_space_check_ = absl::InfinitePast();
  uint64_t free_bytes_ = std::numeric_limits<uint64_t>::max();
  absl::Time next_recovery_attempt_ = absl::InfinitePast();
  uint64_t next_position_ = 1;
  Sha256Digest head_digest_ = kGenesisDigest;
  uint64_t staged_groups_ = 0;
  uint64_t next_audit_ = 0;
  Sha256Digest audit_head_ = kGenesisDigest;
  std::vector<Sha256Digest> frontier_;

  absl::Mutex sync_mu_;
  absl::CondVar sync_done_;
  uint64_t written_groups_ ABSL_GUARDED_BY(sync_mu_) = 0;
  uint64_t synced_groups_ ABSL_GUARDED_BY(sync_mu_) = 0;
  bool sync_in_progress_ ABSL_GUARDED_BY(sync_mu_) = false;
  // Each case's current version, so that appends skip an index seek.
  absl::flat_hash_map<std::string, uint64_t> case_versions_;
  static constexpr size_t kMaxCachedCaseVersions = 1 << 20;

  std::atomic<uint64_t> last_position_{0};
  std::atomic<uint64_t> audit_size_{0};

  // Reads the stored perfect-subtree hashes of the audit tree.
  class StoredAuditTree : public MerkleHashSource {
   public:
    explicit StoredAuditTree(const RocksEventLog* log) : log_(log) {}
    absl::StatusOr<Sha256Digest> PerfectSubtreeHash(int level, uint64_t index) const override {
      std::string value;
      rocksdb::Status status = log_->db_->Get(rocksdb::ReadOptions(), log_->audit_nodes(),
                                              internal::EncodeAuditNodeKey(level, index), &value);
      if (status.IsNotFound()) {
        return absl::DataLossError(
            absl::StrCat("audit tree node ", level, "/", index, " is missing"));
      }
      HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the audit tree"));
      if (value.size() != 32) {
        return absl::DataLossError(
            absl::StrCat("audit tree node ", level, "/", index, " is damaged"));
      }
      Sha256Digest hash;
      std::copy(value.begin(), value.end(), hash.begin());
      return hash;
    }

   private:
    const RocksEventLog* log_;
  };
  StoredAuditTree audit_tree_{this};
  std::atomic<uint64_t> appends_committed_{0};
  std::atomic<uint64_t> events_committed_{0};
  std::atomic<uint64_t> synced_writes_{0};
  mutable absl::Mutex position_mu_;
  mutable absl::CondVar position_advanced_;
  bool closed_ ABSL_GUARDED_BY(position_mu_) = false;
  uint64_t finished_groups_ ABSL_GUARDED_BY(position_mu_) = 0;
  mutable absl::CondVar group_finished_;
  absl::Status failure_ ABSL_GUARDED_BY(position_mu_);

  internal::GroupCommitQueue<AppendRequest, AppendResult> queue_;
};

absl::StatusOr<VerifiedLog> RocksEventLog::VerifyLog(bool check_indexes) const {
  absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
  HUB_RETURN_IF_ERROR(CheckOpen());
  // One snapshot, so that appends made while verifying do not confuse it.
  std::unique_ptr<const rocksdb::Snapshot, std::function<void(const rocksdb::Snapshot*)>> snapshot(
      db_->GetSnapshot(), [this](const rocksdb::Snapshot* s) { db_->ReleaseSnapshot(s); });
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.get();
  options.fill_cache = false;

  absl::flat_hash_map<std::string, uint64_t> case_versions;
  uint64_t expected = 1;
  Sha256Digest previous = kGenesisDigest;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, log()));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    HUB_ASSIGN_OR_RETURN(LogRecord record, DecodeAt(it->key(), it->value()));
    if (record.position != expected) {
      return absl::DataLossError(absl::StrCat("position ", expected,
                                              " is missing: the next stored record is position ",
                                              record.position));
    }
    if (record.previous_digest != previous) {
      return absl::DataLossError(absl::StrCat("the hash chain breaks between positions ",
                                              expected - 1, " and ", expected,
                                              ": a record was altered, replaced or reordered"));
    }
    uint64_t& case_version = case_versions[record.case_id];
    if (record.stream_version != case_version + 1) {
      return absl::DataLossError(absl::StrCat(
          "record at position ", expected, " is version ", record.stream_version, " of case ",
          record.case_id, ", but the case's previous version is ", case_version));
    }
    case_version = record.stream_version;
    previous = record.digest;
    if (!check_indexes) continue;
    const std::string position_key = EncodePositionKey(expected);
    std::string indexed;
    rocksdb::Status status = db_->Get(options, event_ids(), record.event_id, &indexed);
    if (!status.ok() || indexed != position_key) {
      return absl::DataLossError(absl::StrCat("the event-id index does not map ", record.event_id,
                                              " to position ", expected));
    }
    status = db_->Get(options, case_index(),
                      EncodeCaseIndexKey(record.case_id, record.stream_version), &indexed);
    if (!status.ok() || indexed != position_key) {
      return absl::DataLossError(absl::StrCat("the case index does not map ", record.case_id,
                                              " version ", record.stream_version, " to position ",
                                              expected));
    }
  }
  HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the log"));
  const uint64_t last_position = expected - 1;

  for (rocksdb::ColumnFamilyHandle* index : {event_ids(), case_index()}) {
    if (!check_indexes) break;
    std::unique_ptr<rocksdb::Iterator> entries(db_->NewIterator(options, index));
    uint64_t count = 0;
    for (entries->SeekToFirst(); entries->Valid(); entries->Next()) ++count;
    HUB_RETURN_IF_ERROR(FromRocksStatus(entries->status(), "reading an index"));
    if (count != last_position) {
      return absl::DataLossError(absl::StrCat("the ", index->GetName(), " index has ", count,
                                              " entries for ", last_position, " records"));
    }
  }

  std::string head_value;
  rocksdb::Status status = db_->Get(options, meta(), internal::kChainHeadKey, &head_value);
  if (status.IsNotFound() && last_position == 0) return VerifiedLog{};
  HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the chain head"));
  HUB_ASSIGN_OR_RETURN(internal::ChainHead head, internal::DecodeChainHead(head_value));
  if (head.position != last_position || head.digest != previous) {
    return absl::DataLossError(absl::StrCat("the stored chain head is position ", head.position,
                                            " but the log ends at position ", last_position,
                                            head.position > last_position
                                                ? ": records were removed from the end"
                                                : ": the head or the last record was altered"));
  }
  return VerifiedLog{last_position, previous};
}

absl::StatusOr<uint64_t> RocksEventLog::VerifyAudit() const {
  absl::ReaderMutexLock lifecycle(&lifecycle_mu_);
  HUB_RETURN_IF_ERROR(CheckOpen());
  const uint64_t size = AuditSize();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), audit()));
  Sha256Digest previous = kGenesisDigest;
  std::vector<Sha256Digest> frontier;
  uint64_t index = 0;
  for (it->SeekToFirst(); it->Valid() && index < size; it->Next(), ++index) {
    absl::StatusOr<LogRecord> record = DecodeAt(it->key(), it->value());
    if (!record.ok() || record->position != index + 1) {
      return absl::DataLossError(absl::StrCat("audit record ", index, " is missing or damaged"));
    }
    if (record->previous_digest != previous) {
      return absl::DataLossError(
          absl::StrCat("the audit chain breaks between records ", index - 1, " and ", index));
    }
    previous = record->digest;
    // Recompute the nodes this leaf completes and compare with the stored ones.
    Sha256Digest node = MerkleLeafHash(record->payload);
    uint64_t at = index;
    int level = 0;
    for (;;) {
      absl::StatusOr<Sha256Digest> stored = audit_tree_.PerfectSubtreeHash(level, at);
      if (!stored.ok() || *stored != node) {
        return absl::DataLossError(absl::StrCat("the audit tree disagrees with record ", index,
                                                " at node ", level, "/", at));
      }
      if ((at & 1) == 0) break;
      node = MerkleNodeHash(frontier[level], node);
      at >>= 1;
      ++level;
    }
    if (frontier.size() <= static_cast<size_t>(level)) frontier.resize(level + 1);
    frontier[level] = node;
  }
  HUB_RETURN_IF_ERROR(FromRocksStatus(it->status(), "reading the audit log"));
  if (index != size) {
    return absl::DataLossError(absl::StrCat("audit record ", index, " is missing"));
  }
  return size;
}

constexpr size_t kMemtableBudgetBytes = 64 << 20;
constexpr size_t kBlockCacheBytes = 64 << 20;

rocksdb::ColumnFamilyOptions IndexFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Idempotency and version checks are point lookups on every append.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions options;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.memtable_insert_with_hint_prefix_extractor = internal::HintByKeyWithoutCounter();
  return options;
}

// Event ids are random: a hint per id would only grow the memtable.
rocksdb::ColumnFamilyOptions RandomKeyFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options = IndexFamilyOptions(cache);
  options.memtable_insert_with_hint_prefix_extractor.reset();
  return options;
}

}  // namespace

absl::Status VersionConflictError(std::string_view case_id, uint64_t current, uint64_t expected) {
  absl::Status status = absl::FailedPreconditionError(
      absl::StrCat("case ", AsAbsl(case_id), " is at version ", current, ", expected ", expected,
                   "; read the case's new events and retry with expected_version ", current));
  status.SetPayload(AsAbsl(kVersionConflictPayloadUrl), absl::Cord(absl::StrCat(current)));
  return status;
}

absl::Status ValidateAppendRequest(const AppendRequest& request, const EventLogLimits& limits) {
  return ValidateAppend(request, limits);
}

bool IsVersionConflict(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(AsAbsl(kVersionConflictPayloadUrl)).has_value();
}

std::optional<uint64_t> CurrentVersionFromConflict(const absl::Status& status) {
  if (!IsVersionConflict(status)) return std::nullopt;
  uint64_t version = 0;
  const std::string text(*status.GetPayload(AsAbsl(kVersionConflictPayloadUrl)));
  if (!absl::SimpleAtoi(text, &version)) return std::nullopt;
  return version;
}

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const std::string& directory,
                                                         const EventLogOptions& options) {
  return internal::OpenEventLogWithEnv(directory, options, rocksdb::Env::Default());
}

absl::StatusOr<std::unique_ptr<EventLog>> internal::OpenEventLogWithEnv(
    const std::string& directory, const EventLogOptions& options, rocksdb::Env* env) {
  if (!options.create_if_missing && !std::filesystem::exists(directory)) {
    return absl::FailedPreconditionError(
        absl::StrCat("there is no event log in ", directory, ": the folder does not exist"));
  }
  if (options.create_if_missing) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create the data folder ", directory, ": ", error.message()));
    }
  }
  rocksdb::DBOptions db_options;
  db_options.env = env;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  db_options.paranoid_checks = true;
  db_options.info_log_level = rocksdb::WARN_LEVEL;
  db_options.keep_log_file_num = 3;
  db_options.max_background_jobs = 2;
  db_options.recycle_log_file_num = 4;

  // Memtables are bounded whatever the size of the log: every memtable of
  // the six families counts against one budget (the largest is flushed when
  // it is reached).
  std::shared_ptr<rocksdb::Cache> cache;
  if (options.memory != nullptr) {
    db_options.write_buffer_manager = options.memory->write_buffers();
    cache = options.memory->block_cache();
  } else {
    db_options.write_buffer_manager =
        std::make_shared<rocksdb::WriteBufferManager>(kMemtableBudgetBytes);
    cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  }
  rocksdb::BlockBasedTableOptions log_table;
  log_table.block_cache = cache;
  rocksdb::ColumnFamilyOptions log_options;
  log_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(log_table));
  log_options.memtable_insert_with_hint_prefix_extractor = internal::HintByKeyWithoutCounter();

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, IndexFamilyOptions(cache)},
      {internal::kLogFamily, log_options},
      {internal::kEventIdFamily, RandomKeyFamilyOptions(cache)},
      {internal::kCaseIndexFamily, IndexFamilyOptions(cache)},
      {internal::kAuditFamily, log_options},
      {internal::kAuditNodeFamily, IndexFamilyOptions(cache)},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  HUB_RETURN_IF_ERROR(
      FromRocksStatus(rocksdb::DB::Open(db_options, directory, families, &handles, &raw_db),
                      absl::StrCat("opening the event log in ", directory)));
  auto log = std::make_unique<RocksEventLog>(options.limits, std::unique_ptr<rocksdb::DB>(raw_db),
                                             handles);
  log->SetFreeSpaceReserve(
      options.min_free_bytes,
      options.free_space_probe ? options.free_space_probe
                               : [directory]() -> absl::StatusOr<uint64_t> {
        std::error_code error;
        const std::filesystem::space_info space = std::filesystem::space(directory, error);
        if (error) return absl::UnavailableError(error.message());
        return space.available;
      });

  std::string format;
  rocksdb::Status status =
      raw_db->Get(rocksdb::ReadOptions(), handles[0], internal::kFormatKey, &format);
  if (status.IsNotFound()) {
    rocksdb::WriteOptions write;
    write.sync = true;
    status = raw_db->Put(write, handles[0], internal::kFormatKey, internal::kFormatValue);
    format = internal::kFormatValue;
  }
  HUB_RETURN_IF_ERROR(FromRocksStatus(status, "reading the log's format"));
  if (format != internal::kFormatValue) {
    return absl::FailedPreconditionError(
        absl::StrCat(directory, " holds data of format \"", absl::CHexEscape(format),
                     "\"; this hub reads \"", internal::kFormatValue, "\""));
  }
  absl::Status loaded = log->LoadHead();
  if (loaded.ok()) loaded = log->LoadAudit();
  if (loaded.ok() && options.verify_on_open) {
    loaded = log->VerifyLog(/*check_indexes=*/false).status();
    if (loaded.ok()) loaded = log->VerifyAudit().status();
  }
  if (!loaded.ok()) {
    return absl::Status(
        loaded.code(),
        absl::StrCat("the event log in ", directory, " does not verify: ", loaded.message(),
                     ". Refusing to open it; restore it from a backup, or "
                     "inspect it with `hubctl log verify`."));
  }
  return log;
}

}  // namespace hub::storage
