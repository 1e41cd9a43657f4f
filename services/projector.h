// The projector: reads the event log in order and writes, for every
// principal of one view generation, the events it may see, shaped by the
// sharing protocol, and its case summaries. Checkpointed with the data, so a
// restart resumes where it stopped.
#ifndef HUB_SERVICES_PROJECTOR_H_
#define HUB_SERVICES_PROJECTOR_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"

#include "auth/field_sealing.h"
#include "auth/sharing_policy.h"
#include "storage/event_log.h"
#include "storage/view_store.h"

#include "hub/v1/views.pb.h"

namespace hub::services {

// What each principal may see under each relationship, decided once per
// batch, and an event as it is shaped (both defined in projector.cc).
struct Allowances;
struct ShapedEvent;

class Projector {
 public:
  // `sealer` opens events stored with sealed personal fields (null: the log
  // holds none); content under `withheld` keys (restricted processing) is
  // shown to no one.
  Projector(storage::EventLog* log, storage::ViewStore* views, storage::GenerationInfo generation,
            std::shared_ptr<const auth::SharingPolicy> policy,
            const auth::FieldSealer* sealer = nullptr,
            std::shared_ptr<const auth::WithheldKeys> withheld = nullptr);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Starts the projecting thread.
  absl::Status Start();
  // Stops it (finishing the batch in hand). Idempotent.
  void Stop();

  // Projects log events [checkpoint+1 ..] up to `max_events` in one batch,
  // on the calling thread; returns how many log positions it covered. For
  // benchmarks and tests; do not mix with Start().
  absl::StatusOr<uint64_t> ProjectOnce(size_t max_events);

  const storage::GenerationInfo& generation() const { return generation_; }
  const auth::SharingPolicy& policy() const { return *policy_; }
  // The last log position reflected in this generation's views.
  uint64_t checkpoint() const { return checkpoint_.load(std::memory_order_acquire); }
  // Blocks until checkpoint() > after, the timeout passes or the projector
  // stops; returns checkpoint().
  uint64_t WaitForCheckpointAfter(uint64_t after, std::chrono::milliseconds timeout) const;
  // OK, or why projecting stopped (e.g. a stored event that does not parse).
  absl::Status health() const;

  // Takes content sealed under `key_ids`, whose keys were just destroyed,
  // out of the views where they stand instead of building them again:
  // every event projected so far of the cases holding such content (the
  // views' index of sealed parts) is shaped again, seen by the same
  // principals at the same view positions, and its case's summaries and
  // facts are folded afresh; the generation's digest becomes
  // `generation_digest` in the same synced write. Events projected later
  // are opened without the keys anyway. Returns false, changing nothing,
  // where that would not give what building the views again gives: the
  // content decided who is related to a case or whom an event is about
  // (SharingPolicy::RoutingClasses). Written in batches of the projector's
  // size, the digest with the last; should who sees an event change all
  // the same (it cannot, for such content), it stops there with false,
  // the cases before it reshaped, and the digest as it was.
  // Runs between two batches on the projecting thread (on the calling one
  // before Start()). One at a time.
  absl::StatusOr<bool> ForgetInPlace(const std::set<std::string>& key_ids,
                                     const std::string& generation_digest);
  // The same for a restriction of processing placed or lifted: from now on
  // the views withhold content under `withheld` (every key restricted now,
  // with since when), the cases holding content under a key whose
  // restriction changed shaped again. False, changing nothing, where only
  // building the views again gives the right views: a case's routing key
  // restricted, or events stored before routing parts. Refused, the
  // projector goes on under the restrictions its views hold.
  absl::StatusOr<bool> RestrictInPlace(std::shared_ptr<const auth::WithheldKeys> withheld,
                                       const std::string& generation_digest);
  // What the last ForgetInPlace that changed the views shaped again: its
  // cases, and the log positions of their first and last event.
  struct Reshaped {
    std::vector<std::string> case_ids;
    uint64_t first_position = 0;
    uint64_t last_position = 0;
  };
  Reshaped last_reshaped() const;
  // How many times ForgetInPlace changed the views: content read before it
  // is not what the views hold after, at the same checkpoint().
  uint64_t edition() const { return edition_.load(std::memory_order_acquire); }

  // Every case's facts for the governance report, as of checkpoint() (or a
  // batch after it), by case id.
  using FactsByCase = std::map<std::string, std::shared_ptr<const hub::v1::CaseFacts>>;
  // Calls `read` with them (valid during the call only) and the checkpoint
  // they reflect at least. The first call reads them from the views; from
  // then on each batch keeps them up to date.
  absl::Status ReadFacts(
      const std::function<void(const FactsByCase& facts, uint64_t projected)>& read) const;

 private:
  // What projecting a case needs to remember: every principal's summary of
  // it (nullopt: it has seen none of it; empty: taken by a later batch) and
  // who is related to it.
  struct CaseState {
    std::vector<std::optional<hub::v1::CaseSummary>> summaries;
    hub::v1::CaseRelations relations;
    hub::v1::CaseFacts facts;
    // Its summaries' estimated memory while remembered after being written.
    size_t remembered_bytes = 0;
  };
  using SummariesByCase = std::map<std::string, CaseState>;
  // A batch ready to write, and the case summaries it leaves.
  struct Prepared {
    storage::ProjectionBatch batch;
    SummariesByCase summaries;
    uint64_t covered = 0;
  };
  // Log events [from ..], at most max_events (and a batch's bytes).
  absl::StatusOr<std::vector<storage::StoredEvent>> ReadBatch(uint64_t from,
                                                              size_t max_events) const;
  // Shapes a run of log events (ending before a case's second event that
  // lets a principal see more of the case, see DiscloseInBatch); `in_flight`:
  // the summaries of a batch being written, which the store may not hold
  // yet.
  // `store_ready`: waits until the views hold everything before `stored`
  // (the batch being written), called before the views are read.
  absl::StatusOr<Prepared> Prepare(const std::vector<storage::StoredEvent>& stored,
                                   SummariesByCase* in_flight,
                                   const std::function<absl::Status()>& store_ready);
  // The summaries of a case for a batch being prepared, taken from
  // `in_flight` or those last written, or loaded, into `batch`. Two threads
  // may call it at once for different cases.
  absl::StatusOr<CaseState*> SummariesFor(const std::string& case_id, SummariesByCase* in_flight,
                                          SummariesByCase* batch);
  // A batch of one event that changes what principals see of its case's
  // earlier events: a correction (their content), or a relationship that
  // lets a principal see more of the case (a disclosure: what it may now
  // see of each earlier event is delivered to it, after what it has, and
  // its versions of the case are numbered again in case order). The case
  // is projected again from its first event, every correction applied,
  // under its relationships with `last`; its stored events are reshaped
  // and its summaries folded afresh. The views must hold everything before
  // it.
  absl::StatusOr<Prepared> PrepareCaseAgain(const storage::StoredEvent& last);
  // A case's stored events through a log position, opened: as recorded
  // and as corrected since, and the target of each correction.
  struct OpenedCase {
    std::vector<storage::StoredEvent> events;
    std::vector<hub::v1::EventEnvelope*> original;
    std::vector<hub::v1::EventEnvelope*> corrected;
    // What decides each event's subjects and the case's relationships
    // (auth::FieldSealer::Open): pseudonyms where an event is sealed, the
    // original itself where it is plain.
    std::vector<const hub::v1::EventEnvelope*> routing;
    std::vector<std::optional<size_t>> target;
  };
  absl::StatusOr<OpenedCase> OpenCase(const std::string& case_id, uint64_t through_position,
                                      google::protobuf::Arena* arena) const;
  // A case's stored events through a log position, as stored.
  absl::StatusOr<std::vector<storage::StoredEvent>> CaseEventsThrough(
      const std::string& case_id, uint64_t through_position) const;
  // A view position not yet given: the delivery is numbered in its turn.
  static constexpr uint64_t kToDeliver = ~uint64_t{0};
  // What shaping a case's stored events again gives.
  struct CaseAgain {
    // Their new shapes (numbered kToDeliver where delivered).
    std::vector<storage::ProjectionBatch::Reshaped> reshaped;
    // Every principal's summary of them, folded afresh.
    std::vector<std::optional<hub::v1::CaseSummary>> summaries;
    // Folded afresh if fold_facts.
    bool fold_facts = false;
    hub::v1::CaseFacts facts;
    // Who saw each event before (as the views hold it) and who sees it
    // now, and which corrections each principal is told of, by the event
    // they correct.
    std::vector<std::vector<bool>> saw;
    std::vector<std::vector<bool>> sees;
    std::map<std::pair<size_t, uint16_t>, std::set<std::string>> told;
  };
  // Shapes the first `count` events of `opened` (stored in the views, or
  // in `in_batch`: log position -> who sees it, as CaseVisibility) again
  // under `after`, the case's relationships: each is seen by whoever saw
  // it, and if `disclosure`, also by whoever may now see some of its
  // content; delivered to those who did not see it or now see more of it
  // than under `before`.
  absl::Status ShapeStoredAgain(
      const OpenedCase& opened, size_t count, const Allowances& allowances,
      const hub::v1::CaseRelations& before, const hub::v1::CaseRelations& after, bool disclosure,
      google::protobuf::Arena* arena, CaseAgain* again,
      const std::vector<std::pair<uint64_t, std::string>>& in_batch = {}) const;
  // Shapes event `index` of `stored` (opened), which lets a principal see
  // more of its case, with the case's history: its events, stored and
  // earlier in the batch (`earlier_in_batch`, as `shaped`), shaped again
  // into `disclosed` (delivered just before it, exactly as if the batch
  // had ended before it), and `state`'s summaries folded afresh. The views
  // must hold everything before the batch.
  absl::Status DiscloseInBatch(const std::vector<storage::StoredEvent>& stored,
                               const std::vector<hub::v1::EventEnvelope*>& opened,
                               const std::vector<const hub::v1::EventEnvelope*>& routing,
                               size_t index, const std::vector<size_t>& earlier_in_batch,
                               const Allowances& allowances, CaseState* state,
                               const std::vector<ShapedEvent>& shaped,
                               std::vector<storage::ProjectionBatch::Reshaped>* disclosed) const;
  // Gives the deliveries marked kToDeliver their view positions, in order.
  void NumberDeliveries(std::vector<storage::ProjectionBatch::Reshaped>* reshaped);
  // Where the first correction in `stored` is (stored.size(): none): a
  // batch ends before one, which is projected on its own.
  static absl::StatusOr<size_t> FirstCorrection(const std::vector<storage::StoredEvent>& stored);
  struct InPlaceRequest;
  // Hands `request` to the projecting thread (takes it on this one before
  // Start()) and waits for its answer.
  absl::StatusOr<bool> TakeInPlace(InPlaceRequest* request);
  // ForgetInPlace's and RestrictInPlace's work, on the projecting thread.
  absl::StatusOr<bool> ReshapeInPlace(const InPlaceRequest& request);
  // Reads each principal's last view position from the store, once.
  absl::Status KnowViewPositions();
  // A case's summaries and relations as a batch stores them.
  static storage::ProjectionBatch::CaseSummaries SerializedSummaries(const std::string& case_id,
                                                                     const CaseState& state);
  // Makes a written batch visible to readers.
  void Publish(uint64_t checkpoint);
  // Keeps the summaries of a written batch for the batches after it.
  void RememberWritten(SummariesByCase summaries);
  // Keeps the facts of a written batch's cases for ReadFacts (once it has
  // been called).
  void RememberFacts(const SummariesByCase& summaries);
  // After a failed write: what was prepared beyond the store is read from
  // the store again.
  void ForgetUnwritten();
  // The projecting thread: ProjectUntilStopped, then answers a
  // ForgetInPlace left waiting.
  void Loop();
  void ProjectUntilStopped();

  storage::EventLog* const log_;
  storage::ViewStore* const views_;
  const storage::GenerationInfo generation_;
  const std::shared_ptr<const auth::SharingPolicy> policy_;
  const auth::FieldSealer* const sealer_;
  // Changed only by RestrictInPlace, between two batches.
  std::shared_ptr<const auth::WithheldKeys> withheld_;

  std::atomic<uint64_t> checkpoint_{0};
  mutable absl::Mutex mu_;
  mutable absl::CondVar advanced_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // A ForgetInPlace waiting for the projecting thread (defined in
  // projector.cc), and whether one is being served.
  InPlaceRequest* in_place_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool in_place_busy_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool loop_ended_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> edition_{0};
  Reshaped last_reshaped_ ABSL_GUARDED_BY(mu_);
  absl::Status health_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  // Summaries as last written (only the projecting thread uses them).
  SummariesByCase written_summaries_;
  // Their estimated memory, bounded (see projector.cc).
  size_t written_bytes_ = 0;
  // Each principal's last view position handed out (only the projecting
  // thread uses them); read from the store when not known.
  std::vector<uint64_t> last_view_positions_;
  bool view_positions_known_ = false;
  // Loaded by the first ReadFacts (a rebuild nobody reports on does not
  // copy them batch after batch).
  mutable absl::Mutex facts_mu_;
  mutable bool facts_loaded_ ABSL_GUARDED_BY(facts_mu_) = false;
  // Serialized, by case id: parsed, 5,000 cases' facts held 59 MB of
  // hubd's 512 MiB all the time, for reports asked for a few times a
  // month. Each report parses them again, into an arena freed when it
  // ends.
  mutable std::map<std::string, std::string> facts_ ABSL_GUARDED_BY(facts_mu_);
};

}  // namespace hub::services

#endif  // HUB_SERVICES_PROJECTOR_H_
