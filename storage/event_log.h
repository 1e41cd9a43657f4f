// The hub's append-only event log, stored in RocksDB.
//
// Every event has a global position (1, 2, 3, ... dense, never reused) and a
// version within its case's stream (1, 2, 3, ...). Appends to one case are
// atomic, optionally conditional on the case's current version, idempotent by
// event id, and durable (fsync'd) before they are acknowledged. Each stored
// record carries the SHA-256 of its predecessor, so any later edit, deletion
// or reordering of the log is detected by Verify() and refuses Open().
//
// The record layout is specified in storage/FORMAT.md.
//
// Thread safety: all methods are safe to call concurrently. Concurrent
// appends are grouped into one synced write (group commit).
#ifndef HUB_STORAGE_EVENT_LOG_H_
#define HUB_STORAGE_EVENT_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "storage/hash_chain.h"
#include "storage/limits.h"
#include "storage/memory.h"
#include "storage/merkle_tree.h"

namespace hub::storage {

struct EventToAppend {
  // Client-chosen, unique across the whole log; a retry reuses it.
  std::string event_id;
  // The serialized event envelope; opaque to storage.
  std::string payload;
};

struct AppendResult;

struct AppendRequest {
  std::string case_id;
  // When set, the append succeeds only if the case is at exactly this version
  // (0: the case has no events yet).
  std::optional<uint64_t> expected_version;
  std::vector<EventToAppend> events;
  // Optional: the audit records of this append, made once its positions are
  // known and written in the same atomic write as the events (also for a
  // recognised retry). Called on the log's writer thread; must be quick.
  std::function<std::vector<std::string>(const AppendResult&)> audit_records;
};

struct AppendResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t first_version = 0;
  uint64_t last_version = 0;
  // Where this append's audit records went (count 0: none).
  uint64_t first_audit_index = 0;
  uint64_t audit_count = 0;
  // True when every event id was already stored by an earlier append of this
  // same batch: the original positions are returned and nothing is written.
  bool already_stored = false;
  // The chain digest of each record written, in position order (empty for
  // a recognised retry).
  std::vector<Sha256Digest> event_digests;
};

struct StoredEvent {
  uint64_t position = 0;
  uint64_t stream_version = 0;
  std::string case_id;
  std::string event_id;
  std::string payload;
};

// What a full verification established.
struct VerifiedLog {
  uint64_t last_position = 0;
  Sha256Digest head_digest = kGenesisDigest;
};

// Counters since Open(), for metrics and benchmarks.
struct EventLogStats {
  uint64_t appends_committed = 0;  // appends that wrote events
  uint64_t events_committed = 0;
  uint64_t synced_writes = 0;  // WAL fsyncs; each covers one or more groups
};

struct EventLogOptions {
  EventLogLimits limits;
  // Verify the whole hash chain of the events and of the audit, and their
  // stored heads, when opening, and refuse to open if they do not verify
  // (the indexes are checked by Verify()).
  // Only tools that inspect a damaged log turn this off.
  bool verify_on_open = true;
  // Create the data folder and an empty log if none exists.
  bool create_if_missing = true;
  // Appends are refused (RESOURCE_EXHAUSTED) while the disk holding the log
  // has less free space than this, so that RocksDB never meets a full disk
  // mid-write (a failed WAL write leaves its database read-only until it is
  // reopened). Appends resume by themselves once space is freed. 0: no
  // reserve.
  uint64_t min_free_bytes = 256ull << 20;
  // How free space is measured; by default the file system holding the
  // log's folder. Tests replace it.
  std::function<absl::StatusOr<uint64_t>()> free_space_probe;
  // Block cache and memtable budget shared with the views (hubd's); null:
  // the log's own, 64 MiB each.
  std::shared_ptr<StorageMemory> memory;
};

// A version conflict is FAILED_PRECONDITION with this payload attached, so
// callers can tell it from other precondition failures and report the
// current version.
inline constexpr std::string_view kVersionConflictPayloadUrl =
    "type.hub.drive/storage.VersionConflict";
bool IsVersionConflict(const absl::Status& status);
// What Append checks of a request before it looks at the log (ids, sizes,
// limits): INVALID_ARGUMENT naming the problem.
absl::Status ValidateAppendRequest(const AppendRequest& request, const EventLogLimits& limits);
// The status Append returns when `case_id` is at `current`, not `expected`.
absl::Status VersionConflictError(std::string_view case_id, uint64_t current, uint64_t expected);
// The case's current version carried by a version-conflict status.
std::optional<uint64_t> CurrentVersionFromConflict(const absl::Status& status);

class EventLog {
 public:
  // Opens (or creates) the log in `directory`. Fails with DATA_LOSS if the
  // hash chain or the stored head does not verify, naming the first bad
  // position; with FAILED_PRECONDITION if the folder holds something that is
  // not an event log of this format.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const std::string& directory,
                                                        const EventLogOptions& options);

  virtual ~EventLog() = default;
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends `request.events` to one case, atomically, and returns their
  // positions once they are durable. Errors, none of which write anything:
  //  INVALID_ARGUMENT  empty batch, malformed or duplicate ids, a limit exceeded;
  //  FAILED_PRECONDITION  expected_version mismatch (IsVersionConflict());
  //  ALREADY_EXISTS  an event id is stored already but this is not a retry of
  //                  the same batch (another case, other ids, or another order);
  //  RESOURCE_EXHAUSTED  too many appends waiting, or the disk is full;
  //  UNAVAILABLE  the log is closing, or an earlier write failed.
  virtual absl::StatusOr<AppendResult> Append(const AppendRequest& request) = 0;
  // As Append, without blocking the caller: `done` gets the result, on the
  // log's own thread once the append is durable (or at once if it is
  // refused). `done` must be quick and must not call back into the log's
  // appends. For servers that must not hold a thread per append in flight.
  virtual void AppendAsync(AppendRequest request,
                           std::function<void(absl::StatusOr<AppendResult>)> done) = 0;

  // Events with positions >= `from_position`, in order, at most `max_events`
  // and about `max_bytes` (always at least one event if any exists). Each
  // record's checksum and chain link are verified; DATA_LOSS if one fails.
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadFrom(uint64_t from_position,
                                                            size_t max_events,
                                                            size_t max_bytes) const = 0;

  // The case's events with stream versions >= `from_version`, in order, at
  // most `max_events`. An unknown case yields an empty vector.
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadCase(std::string_view case_id,
                                                            uint64_t from_version,
                                                            size_t max_events) const = 0;

  // The stored event with this id, in whichever case holds it; nullopt if
  // none does (a lookup in the event-id index, whose bloom filter answers
  // most unknown ids without reading a block). Its checksum is verified.
  virtual absl::StatusOr<std::optional<StoredEvent>> FindEvent(std::string_view event_id) const = 0;

  // The case's current stream version (0 if it has no events).
  virtual absl::StatusOr<uint64_t> CaseVersion(std::string_view case_id) const = 0;

  // The position of the last durable event (0 when the log is empty).
  virtual uint64_t LastPosition() const = 0;

  // Blocks until the log holds a position after `after_position`, the timeout
  // passes, or the log closes; returns LastPosition() then. No polling.
  virtual uint64_t WaitForPositionAfter(uint64_t after_position,
                                        std::chrono::milliseconds timeout) const = 0;

  // Re-reads the whole log: every record's checksum, position density, every
  // chain link, the stored head, and both indexes (each record indexed by its
  // event id and case version, and no index entry without a record).
  // DATA_LOSS naming the first damaged position or index entry.
  virtual absl::StatusOr<VerifiedLog> Verify() const = 0;

  // The chain digest of the record at `position` (the SHA-256 its successor
  // links to; for the last record, the chain head): what a signed checkpoint
  // of the log commits to. NOT_FOUND past LastPosition(), DATA_LOSS if the
  // record fails its checksum.
  virtual absl::StatusOr<Sha256Digest> ChainDigestAt(uint64_t position) const = 0;

  virtual EventLogStats Stats() const = 0;

  // --- The audit log, kept in the same database so that an append and its
  // audit records commit together. Records are indexed 0, 1, 2, ...,
  // hash-chained like the event log, and the leaves of an RFC 6962 Merkle
  // tree whose perfect-subtree hashes are stored as records are added.

  // Appends audit records on their own (a read, a denial), durable when this
  // returns; returns the index of the first. INVALID_ARGUMENT if empty or a
  // record exceeds max_event_bytes.
  virtual absl::StatusOr<uint64_t> Audit(std::vector<std::string> records) = 0;
  // The same without waiting: `done` gets the index of the first record (or
  // why they were not stored) on the log's own thread once durable, with the
  // same restrictions as AppendAsync's.
  virtual void AuditAsync(std::vector<std::string> records,
                          std::function<void(absl::StatusOr<uint64_t>)> done) = 0;
  // How many audit records are durable.
  virtual uint64_t AuditSize() const = 0;
  // Audit records from `from_index`, in order, at most `max_records`; each
  // record's checksum and chain link are verified (DATA_LOSS otherwise).
  virtual absl::StatusOr<std::vector<std::string>> ReadAudit(uint64_t from_index,
                                                             size_t max_records) const = 0;
  // The audit Merkle tree's stored perfect-subtree hashes (for roots and
  // proofs of any size up to AuditSize()).
  virtual const MerkleHashSource& AuditTree() const = 0;
  // Re-reads every audit record: checksums, chain, and that the stored tree
  // agrees with the records. DATA_LOSS naming the first bad index.
  virtual absl::StatusOr<uint64_t> VerifyAudit() const = 0;

  // The views' newest generation number and the digest of what it was
  // built from (protocol, projection format, erasures, restrictions), kept
  // with the log because readers hold positions that name it: views built
  // again from nothing (a lost views folder) take the same number when they
  // derive the same thing, and a number above it otherwise, never one that
  // meant something else. Not part of the hash chain (the views are
  // derived data); in every checkpoint and backup. nullopt if none yet.
  struct ViewGeneration {
    uint32_t generation = 0;
    std::string digest;
  };
  virtual absl::StatusOr<std::optional<ViewGeneration>> LatestViewGeneration() const = 0;
  // Records a generation durably before any reader is given its positions.
  virtual absl::Status RecordViewGeneration(const ViewGeneration& generation) = 0;

  // A consistent copy of the whole log (events, indexes, audit) in
  // `directory`, which must not exist, taken while appends continue: it
  // holds every append acknowledged before the call, each group of appends
  // whole or not at all. On the same file system the copy hard-links the
  // log's immutable files, so it costs little space until they diverge.
  // Returns the last position and audit size the copy holds.
  struct CheckpointInfo {
    uint64_t last_position = 0;
    uint64_t audit_size = 0;
  };
  virtual absl::StatusOr<CheckpointInfo> Checkpoint(const std::string& directory) = 0;

  // Finishes queued appends, refuses new ones, wakes waiters, and closes the
  // database. Idempotent; also done by the destructor.
  virtual void Close() = 0;

  const EventLogLimits& limits() const { return limits_; }

 protected:
  explicit EventLog(EventLogLimits limits) : limits_(limits) {}

 private:
  const EventLogLimits limits_;
};

}  // namespace hub::storage

#endif  // HUB_STORAGE_EVENT_LOG_H_
