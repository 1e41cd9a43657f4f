// Per-principal views of the event log: for each principal, the events it
// may see, already shaped (redacted) by the sharing protocol, indexed by
// global position and by case, plus one summary per case. Each principal's
// events are numbered in its own view (1, 2, 3, ... overall, and per case),
// so the numbers it is given say nothing of events it does not see. The views are
// derived data, kept in their own RocksDB database (<data_dir>/views): they
// can always be rebuilt from the log.
//
// Views are built in generations, one per sharing-protocol version. A new
// protocol gets a new generation, built from the log while the active one
// keeps serving; activating it switches every reader at once, so a read
// never mixes two protocol versions. Each generation's data and its
// checkpoint (the last log position projected) are written in one atomic
// batch, so a restart resumes from the checkpoint.
//
// Storage does not interpret what it stores: shaping events is the
// projector's job. Thread safety: all methods may be called concurrently.
#ifndef HUB_STORAGE_VIEW_STORE_H_
#define HUB_STORAGE_VIEW_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

#include "storage/memory.h"

namespace hub::storage {

// Which principals a generation serves, and for which protocol.
struct GenerationInfo {
  uint32_t generation = 0;
  std::string protocol_version;
  // A digest of the whole protocol, to tell a changed file from the same one.
  std::string protocol_digest;
  // Principal identities; a principal's index here is its id in the views.
  std::vector<std::string> principals;
};

struct ViewEvent {
  // Where the event is in the log (for the audit; never shown to readers).
  uint64_t position = 0;
  uint64_t stream_version = 0;
  // Its number among the events the principal sees (1, 2, 3, ...), and
  // among those it sees of the case: what the principal is told.
  uint64_t view_position = 0;
  uint64_t view_version = 0;
  std::string case_id;
  // The shaped event as the principal may see it.
  std::string payload;
  // Read by delivery (ReadFrom, ReadCaseDeliveries): whether it was
  // delivered as an earlier event of its case when a relationship began (a
  // disclosure) rather than as it was projected.
  bool disclosed = false;
};

// What projecting a run of log positions produced, written atomically.
struct ProjectionBatch {
  struct Shaped {
    uint64_t position = 0;
    uint64_t stream_version = 0;
    std::string case_id;
    // When it happened (occurred, else recorded): timelines are read in
    // this order without fetching every event of the case.
    int64_t happened_seconds = 0;
    int32_t happened_nanos = 0;
    // One payload per distinct shape of the event; principals share them.
    std::vector<std::string> variants;
    // Each principal that sees it: which variant, and the event's numbers
    // in that principal's view (each principal's view positions continue
    // the generation's without a gap, in log order).
    struct Sight {
      uint16_t principal = 0;
      uint8_t variant = 0;
      uint64_t view_position = 0;
      uint64_t view_version = 0;
    };
    std::vector<Sight> visible_to;
  };
  std::vector<Shaped> events;
  // Every principal's summary of a case after these events (nullopt: the
  // principal sees nothing of the case), indexed like the generation's
  // principals. Replaces what was stored for the case as a whole.
  struct CaseSummaries {
    std::string case_id;
    std::vector<std::optional<std::string>> by_principal;
    // Who is related to the case (a serialized hub.v1.CaseRelations; empty:
    // nobody), for need-to-know rules.
    std::string relations;
    // What the governance report needs of the case (a serialized
    // hub.v1.CaseFacts; empty: nothing).
    std::string facts;
  };
  std::vector<CaseSummaries> summaries;
  // Events already in the views (or stored by this batch, before it is
  // reshaped) whose shapes changed (a correction), or that principals see
  // for the first time or see more of (a relationship began: a
  // disclosure). Each replaces the event's stored shapes. A principal that
  // saw the event still sees it.
  struct Reshaped {
    uint64_t position = 0;
    std::vector<std::string> variants;
    // Exactly the principals that see the event, with their variant. A
    // non-zero view position delivers the event (again, or for the first
    // time) at that position of the principal's view; zero keeps the one
    // stored. A zero view version keeps the one stored. A principal that
    // did not see the event needs both.
    std::vector<Shaped::Sight> visible_to;
  };
  std::vector<Reshaped> reshaped;
  // The last log position this batch covers (projected or skipped).
  uint64_t checkpoint = 0;
  // (data key id, case id): the case holds an event with a part sealed
  // under the key, so that an erasure finds the cases its keys' content is
  // in without reading the log. Repeats are harmless.
  std::vector<std::pair<std::string, std::string>> sealed_under;
  // Non-empty: the generation's digest (GenerationInfo::protocol_digest)
  // becomes this in the same write, which is then synced. Erased content
  // taken out of the views where they stand changes what they are derived
  // from; a crash before the write leaves the old digest, and the views are
  // built again.
  std::string generation_digest;
};

// An event of a case in a principal's view, without its content.
struct CaseEntry {
  uint64_t position = 0;
  uint64_t view_version = 0;
  int64_t happened_seconds = 0;
  int32_t happened_nanos = 0;
};

// What a projection batch left of a case (see ProjectionBatch::CaseSummaries).
struct StoredCase {
  std::vector<std::optional<std::string>> by_principal;
  std::string relations;
  std::string facts;
};

struct ViewStoreOptions {
  // The AES-256 key (32 bytes) every file of the views is encrypted under
  // at rest (storage/internal/encrypted_files.h); empty: in the clear.
  std::string encryption_key;
  // Block cache and memtable budget shared with the log (hubd's); null:
  // the views' own, 64 MiB each.
  std::shared_ptr<StorageMemory> memory;
};

class ViewStore {
 public:
  // How many replaced generations keep their index.
  static constexpr int kRetiredKept = 4;

  // Opens or creates the views database in `directory`.
  static absl::StatusOr<std::unique_ptr<ViewStore>> Open(const std::string& directory,
                                                         const ViewStoreOptions& options = {});
  // Whether Open failed because the folder's files were not written under
  // the key given (in the clear by an older hubd, or under another key):
  // unreadable rather than damaged, and derived data, built again from the
  // log.
  static bool WrittenUnderAnotherKey(const absl::Status& status);
  virtual ~ViewStore() = default;

  // The generation readers use, or nullopt before the first activation.
  virtual std::optional<GenerationInfo> Active() const = 0;
  // Every generation that exists (the active one, one being built).
  virtual absl::StatusOr<std::vector<GenerationInfo>> Generations() const = 0;

  // Registers a new, empty generation numbered one above any existing or
  // retired, and at least `at_least`.
  virtual absl::StatusOr<GenerationInfo> CreateGeneration(std::string protocol_version,
                                                          std::string protocol_digest,
                                                          std::vector<std::string> principals,
                                                          uint32_t at_least = 1) = 0;
  // Makes `generation` the one readers use, atomically; then deletes the
  // data of every other generation, except that the generation it replaces
  // keeps its index (view positions to log positions) so that readers'
  // positions in it can still be translated (the last kRetiredKept).
  virtual absl::Status Activate(uint32_t generation) = 0;
  // Deletes a generation that is not active.
  virtual absl::Status Drop(uint32_t generation) = 0;

  // The last log position projected into `generation` (0: none).
  virtual absl::StatusOr<uint64_t> Checkpoint(uint32_t generation) const = 0;
  // Stores a batch and advances the checkpoint, atomically. The batch must
  // start after the current checkpoint (FAILED_PRECONDITION otherwise); its
  // reshaped events must be stored ones, seen by the same principals
  // (FAILED_PRECONDITION otherwise).
  // Batches of a generation that is not active skip the write-ahead log (a
  // rebuild writes gigabytes): after a crash such a generation may be torn
  // and must be dropped, never resumed. Activate makes it durable first.
  virtual absl::Status Apply(uint32_t generation, const ProjectionBatch& batch) = 0;

  // Rewrites the files holding `generation`'s events at log positions
  // [first_position, last_position] and the records of `case_ids`, so that
  // the versions a reshaping replaced (erased content) are gone from the
  // disk, not only from every read. As slow as the range is large: callers
  // run it away from requests. CANCELLED once CancelCompactions() is called.
  virtual absl::Status CompactReshaped(uint32_t generation, uint64_t first_position,
                                       uint64_t last_position,
                                       const std::vector<std::string>& case_ids) = 0;
  // Stops CompactReshaped calls under way (at shutdown).
  virtual void CancelCompactions() = 0;

  // After a failed write (e.g. a full disk): asks RocksDB to leave its
  // read-only error state, which succeeds once the cause is gone.
  virtual absl::Status Resume() = 0;

  // The principal's deliveries after view position `after_view_position`,
  // in view order: each event as it is now, with the view position it was
  // delivered at (an event delivered again, when a relationship shows the
  // principal more of it, appears at both).
  virtual absl::StatusOr<std::vector<ViewEvent>> ReadFrom(uint32_t generation, uint16_t principal,
                                                          uint64_t after_view_position,
                                                          size_t max_events) const = 0;
  // The same, only the deliveries of one case: at most `max_events`, after
  // looking at no more than `max_scanned` deliveries of any case.
  struct CasePage {
    std::vector<ViewEvent> events;
    // The last view position looked at: the next read goes on after it.
    uint64_t read_through = 0;
  };
  virtual absl::StatusOr<CasePage> ReadCaseDeliveries(uint32_t generation, uint16_t principal,
                                                      const std::string& case_id,
                                                      uint64_t after_view_position,
                                                      size_t max_events,
                                                      size_t max_scanned) const = 0;
  // The principal's events of one case with view versions >= from_version.
  virtual absl::StatusOr<std::vector<ViewEvent>> ReadCase(uint32_t generation, uint16_t principal,
                                                          const std::string& case_id,
                                                          uint64_t from_version,
                                                          size_t max_events) const = 0;
  // Every event of a case in the principal's view, in version order,
  // without content: at most `max_entries` (RESOURCE_EXHAUSTED beyond).
  virtual absl::StatusOr<std::vector<CaseEntry>> CaseEntries(uint32_t generation,
                                                             uint16_t principal,
                                                             const std::string& case_id,
                                                             size_t max_entries) const = 0;
  // The principal's events at these log positions (each one it sees), in
  // the order given.
  virtual absl::StatusOr<std::vector<ViewEvent>> ReadEvents(
      uint32_t generation, uint16_t principal, const std::vector<uint64_t>& positions) const = 0;
  // The log position the principal's delivery numbered `view_position` in
  // `generation` (active, being built or retired) counts as made at: the
  // event's own, or for a disclosure of an earlier event that of the next
  // event delivered (at the latest, the batch's checkpoint). 0 for view
  // position 0. Deliveries are made at non-decreasing log positions, in a
  // batch's deliveries the reshaped (disclosed) events of a case come just
  // before that case's next event delivered.
  // NOT_FOUND if the view holds no such delivery (or the generation's
  // index is no longer kept).
  virtual absl::StatusOr<uint64_t> LogPositionOf(uint32_t generation, uint16_t principal,
                                                 uint64_t view_position) const = 0;
  // The principal's last view position in `generation` whose delivery was
  // made at or before `log_position` (0: none): where a reader who had
  // everything up to that log position goes on.
  virtual absl::StatusOr<uint64_t> ViewPositionAt(uint32_t generation, uint16_t principal,
                                                  uint64_t log_position) const = 0;
  // Each principal's last view position in `generation` (0: none yet).
  virtual absl::StatusOr<std::vector<uint64_t>> LastViewPositions(uint32_t generation) const = 0;
  // Generations replaced by a later one whose index is still kept.
  virtual absl::StatusOr<std::vector<GenerationInfo>> RetiredGenerations() const = 0;
  // The principal's summary of a case, or nullopt if it sees none of it.
  virtual absl::StatusOr<std::optional<std::string>> Summary(uint32_t generation,
                                                             uint16_t principal,
                                                             const std::string& case_id) const = 0;
  // Every principal's summary of a case and the case's relations, as the
  // last batch that touched it stored them; empty if none did.
  virtual absl::StatusOr<StoredCase> CaseSummaries(uint32_t generation,
                                                   const std::string& case_id) const = 0;
  // Who sees each event of a case the views hold, in case order: its log
  // position and one byte per principal (its variant, 0xff: none; a
  // principal beyond the string's end sees none).
  virtual absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> CaseVisibility(
      uint32_t generation, const std::string& case_id) const = 0;
  // The cases of `generation` holding content sealed under one of `key_ids`
  // (ProjectionBatch::sealed_under), as far as it is projected.
  virtual absl::StatusOr<std::set<std::string>> CasesSealedUnder(
      uint32_t generation, const std::set<std::string>& key_ids) const = 0;
  // That whole index: every (data key id, case id), in order.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SealedUnder(
      uint32_t generation) const = 0;
  // Every case's facts for the governance report (ProjectionBatch::
  // CaseSummaries::facts), in case-id order, for the cases that have any.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AllCaseFacts(
      uint32_t generation) const = 0;
  // Every case summary of a principal, in case-id order, after `after_case`.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Summaries(
      uint32_t generation, uint16_t principal, const std::string& after_case,
      size_t max_cases) const = 0;
};

}  // namespace hub::storage

#endif  // HUB_STORAGE_VIEW_STORE_H_
