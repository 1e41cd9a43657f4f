// The hub's per-agency views as a whole: the active view generation and its
// projector, and the switch to a new generation when the sharing protocol
// changes (built from the log while the active one keeps serving, then
// activated at once, so no read mixes two protocol versions).
#ifndef HUB_SERVICES_VIEWS_H_
#define HUB_SERVICES_VIEWS_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "services/projector.h"
#include "storage/event_log.h"
#include "storage/memory.h"
#include "storage/view_store.h"

#include "hub/v1/sharing_protocol.pb.h"

namespace hub::services {

// A digest of the whole protocol (deterministic serialization, SHA-256 hex).
std::string ProtocolDigest(const hub::v1::SharingProtocol& protocol);
// What identifies a view generation: the protocol, how it was projected,
// and how far the log's erasures and restrictions went (a change to either,
// including one whose rebuild was interrupted, makes hubd build the views
// again when it starts).
absl::StatusOr<std::string> GenerationDigest(const hub::v1::SharingProtocol& protocol,
                                             const storage::EventLog& log);

// The key the views are encrypted under at rest: a data key of the hub's
// own, kept and wrapped like every other, outside the data folder.
absl::StatusOr<storage::ViewStoreOptions> EncryptedViews(auth::DataKeyStore& keys);

// What became of the views after content was erased (one of the two is
// set): built again from the log up to `rebuilt_through`, or reshaped
// where they stood, having projected it up to `reshaped_through`.
struct ViewsAfterErasure {
  uint64_t rebuilt_through = 0;
  uint64_t reshaped_through = 0;
};
// Takes content erased under `key_ids` (destroyed) out of the views: where
// they stand if that gives the right views, else by building them again.
// `erasures_before`: how many erasure records the log held before the
// caller recorded these (read under ErasureMutex, before appending).
using ForgetErased = std::function<absl::StatusOr<ViewsAfterErasure>(
    const std::string& why, const std::set<std::string>& key_ids, uint64_t erasures_before)>;
// The same after a restriction of processing was placed or lifted: the
// views take every restriction the log holds. `restrictions_before`: how
// many restriction records the log held before the caller recorded its own.
using TakeRestrictions = std::function<absl::StatusOr<ViewsAfterErasure>(
    const std::string& why, uint64_t restrictions_before)>;

class Views {
 public:
  // Opens the views in `directory`. They answer nothing (UNAVAILABLE) until
  // Start() has returned.
  // `sealer` opens the log's sealed events (null: it holds none); with
  // one, the views' files are encrypted under EncryptedViews(its keys), and
  // views found written otherwise (in the clear by an older hubd) are
  // removed, to be built again from the log. `memory`: the block cache and
  // memtable budget the views share with the log (null: their own).
  static absl::StatusOr<std::unique_ptr<Views>> Open(
      storage::EventLog* log, const std::string& directory,
      const auth::FieldSealer* sealer = nullptr,
      std::shared_ptr<storage::StorageMemory> memory = nullptr);
  // Makes sure the active generation is for `protocol`: resumes it, or
  // builds one from the log before returning (which takes a while for a
  // large log; hubd reports NOT_SERVING meanwhile). Once only.
  absl::Status Start(const hub::v1::SharingProtocol& protocol);
  ~Views();

  struct Handle {
    uint32_t generation = 0;
    uint16_t principal = 0;
    std::string protocol_version;
  };
  // The active view of `identity`. PERMISSION_DENIED if the protocol gives
  // it no view; UNAVAILABLE if projecting has failed.
  absl::StatusOr<Handle> For(std::string_view identity) const;
  // The log position of the event a reader was told is at `reader_position`
  // (see ReaderPosition), in the active generation or one it replaced whose
  // index is kept; 0 for 0. INVALID_ARGUMENT for a position the reader was
  // never given; FAILED_PRECONDITION for one of a generation no longer kept.
  absl::StatusOr<uint64_t> LogPositionOf(std::string_view identity, uint64_t reader_position) const;

  const storage::ViewStore& store() const { return *store_; }

  // The active protocol's decision for (identity, class, purpose) under any
  // relationship to the case, for audit records: which rule let a principal
  // see what it received (a rule that needs no relationship is cited first).
  auth::Decision Decide(std::string_view identity, hub::v1::DataClass data_class,
                        hub::v1::Purpose purpose) const;

  // What a read declared for `purpose` may show of the events in
  // `identity`'s view: the classes its rules for that purpose allow (under
  // any relationship: the view has applied the case's relationships
  // already), plus case administration (ids, positions, who recorded it),
  // without which nothing can be cited or paged. Every class when `purpose`
  // is unspecified.
  auth::ClassMask ClassesFor(std::string_view identity, hub::v1::Purpose purpose) const;

  // Calls `read` with every case's facts for the governance report in the
  // active views, the log position they reflect (while catching up, a case
  // may lag one batch behind it) and the protocol version. UNAVAILABLE
  // while the views are being built or projecting has failed.
  absl::Status ReadReportFacts(
      const std::function<void(const Projector::FactsByCase& facts, uint64_t projected,
                               const std::string& protocol_version)>& read) const;

  // The last log position reflected in the active views.
  uint64_t Projected() const;
  // Waits until the active views reflect `position` (or the timeout);
  // returns Projected().
  uint64_t WaitProjected(uint64_t position, std::chrono::milliseconds timeout) const;

  // Builds views for `protocol` from the log while the active ones keep
  // serving, and returns them once caught up, not yet active.
  // DEADLINE_EXCEEDED (and nothing changes) if they have not caught up
  // within `timeout`; UNAVAILABLE before Start() has returned. One protocol
  // change at a time: callers serialize.
  absl::StatusOr<std::unique_ptr<Projector>> BuildNext(const hub::v1::SharingProtocol& protocol,
                                                       std::chrono::milliseconds timeout);
  // Makes views from BuildNext() the active ones, for every reader at once.
  absl::Status Activate(std::unique_ptr<Projector> next);

  // Takes content sealed under `key_ids`, whose keys were just destroyed,
  // out of the active views where they stand (Projector::ForgetInPlace):
  // the cases holding a part under one of them are found in the log and
  // shaped again. `protocol` is the one in force. False, changing nothing,
  // where only building the views again gives the right views: they are of
  // another protocol, restrictions changed since they were built,
  // projecting is failing, or the content decided relationships or whom
  // events are about. Also false unless the views took every erasure
  // recorded before this one (`erasures_before`, see ForgetErased): an
  // earlier erasure whose views could not be built would otherwise stay in
  // them for good once the digest counted it.
  // `why` is logged with it.
  absl::StatusOr<bool> ForgetInPlace(const hub::v1::SharingProtocol& protocol,
                                     const std::set<std::string>& key_ids, uint64_t erasures_before,
                                     const std::string& why = "");
  // Takes the restrictions of processing the log now holds into the active
  // views where they stand (Projector::RestrictInPlace), after one was
  // placed or lifted. False, changing nothing, where only building the
  // views again gives the right views, or unless they took every
  // restriction recorded before this one (`restrictions_before`, read
  // under ErasureMutex before recording it).
  absl::StatusOr<bool> RestrictInPlace(const hub::v1::SharingProtocol& protocol,
                                       uint64_t restrictions_before, const std::string& why = "");
  // The active views' Projector::edition(): a read made under another
  // edition, at the same Projected(), may hold content erased since.
  uint64_t Edition() const;

  // Calls `listener` whenever what the active views hold changes other than
  // by projecting further: another generation made active, or an erasure
  // taken where they stand. For whoever keeps what it read of them. The
  // listener must not call back into the views. Returns a token for
  // StopNotifying, which waits for a call under way.
  int NotifyOnChange(std::function<void()> listener) const;
  void StopNotifying(int token) const;

  // Stops projecting. Idempotent.
  void Stop();

 private:
  Views(storage::EventLog* log, std::unique_ptr<storage::ViewStore> store,
        const auth::FieldSealer* sealer)
      : log_(log), store_(std::move(store)), sealer_(sealer) {}
  absl::StatusOr<std::unique_ptr<Projector>> Build(const hub::v1::SharingProtocol& protocol,
                                                   std::chrono::milliseconds timeout);
  std::shared_ptr<Projector> active() const;
  // What erasures taken in place replaced is compacted away from the disk
  // on a thread of its own, one after another (ViewStore::CompactReshaped).
  struct Purge {
    uint32_t generation = 0;
    Projector::Reshaped reshaped;
  };
  void SchedulePurge(Purge purge);
  // ForgetInPlace's and RestrictInPlace's frame: `take` runs if the active
  // views' digest is `digest_before`, and is given the digest the log now
  // gives; logged as `what`.
  absl::StatusOr<bool> TakeInPlace(
      const std::string& digest_before, const hub::v1::SharingProtocol& protocol,
      const std::function<absl::StatusOr<bool>(Projector&, const std::string&)>& take,
      const char* what, const std::string& why);
  void PurgeLoop();

  storage::EventLog* const log_;
  std::unique_ptr<storage::ViewStore> store_;
  const auth::FieldSealer* const sealer_;
  mutable absl::Mutex mu_;
  // Shared so that a reader holding it is safe across a protocol switch.
  std::shared_ptr<Projector> active_ ABSL_GUARDED_BY(mu_);
  void NotifyChanged() const;
  mutable absl::Mutex listeners_mu_;
  mutable std::map<int, std::function<void()>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  mutable int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;
  absl::Mutex purge_mu_;
  std::vector<Purge> purges_ ABSL_GUARDED_BY(purge_mu_);
  bool purges_stopped_ ABSL_GUARDED_BY(purge_mu_) = false;
  std::thread purger_;
};

}  // namespace hub::services

#endif  // HUB_SERVICES_VIEWS_H_
