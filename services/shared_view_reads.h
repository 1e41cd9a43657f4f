// The last read of each principal's view made for a subscription, kept for
// the other subscriptions of that principal: an agency runs several
// systems, all woken by the same batch and all reading the same deliveries,
// and each read of the views (an index scan and a fetch of the events) was
// a seventh of hubd's work when 100 subscribers followed the live log.
//
// A read is shared only while the views have not advanced since it was
// made (the same Projected()), nor taken an erasure where they stand (the
// same Views::Edition(): the read may hold what was erased): taking it is
// the same as having read at that
// moment, which a subscriber woken a little earlier would have done. What a
// later batch changes reaches every subscriber by the view's later
// deliveries, as it would have anyway. A read that can no longer be taken
// (the views moved on, or another generation is read) is let go at once:
// kept, it held up to a batch of each agency's deliveries, content since
// erased included, until that agency next read.
#ifndef HUB_SERVICES_SHARED_VIEW_READS_H_
#define HUB_SERVICES_SHARED_VIEW_READS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

#include "storage/view_store.h"

namespace hub::services {

class SharedViewReads {
 public:
  using Events = std::shared_ptr<const std::vector<storage::ViewEvent>>;
  // Where a read starts and what the views had reached when it was made.
  struct Read {
    uint32_t generation = 0;
    uint16_t principal = 0;
    uint64_t after_view_position = 0;
    size_t max_events = 0;
    uint64_t projected = 0;
    // And how many times erased content was taken out of them where they
    // stood (Views::Edition): a read of another edition may hold it.
    uint64_t edition = 0;
  };

  // The events of an identical read made while the views stood at
  // `read.projected`, or null.
  Events Find(const Read& read);
  // Keeps `events` as the principal's last read (replacing the one before,
  // and letting go of every read of another generation or edition).
  void Remember(const Read& read, Events events);
  // Lets go of every read kept: the views changed other than by projecting
  // further (another generation, an erasure taken where they stand), and
  // what was read of them may hold content erased since.
  void ForgetAll();
  // How many reads are kept (one per principal at most).
  size_t KeptReads() const;

 private:
  struct Kept {
    Read read;
    Events events;
  };
  // Whether `kept` could ever be taken by a read like `read`.
  static bool Usable(const Read& kept, const Read& read) {
    return kept.generation == read.generation && kept.edition == read.edition &&
           kept.projected >= read.projected;
  }
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint16_t, Kept> by_principal_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hub::services

#endif  // HUB_SERVICES_SHARED_VIEW_READS_H_
