#include "services/shared_view_reads.h"

#include <utility>

namespace hub::services {

SharedViewReads::Events SharedViewReads::Find(const Read& read) {
  absl::MutexLock lock(&mu_);
  auto found = by_principal_.find(read.principal);
  if (found == by_principal_.end()) return nullptr;
  const Read& kept = found->second.read;
  if (!Usable(kept, read)) {
    by_principal_.erase(found);
    return nullptr;
  }
  if (kept.generation != read.generation || kept.projected != read.projected ||
      kept.after_view_position != read.after_view_position || kept.max_events != read.max_events) {
    return nullptr;
  }
  return found->second.events;
}

void SharedViewReads::Remember(const Read& read, Events events) {
  absl::MutexLock lock(&mu_);
  absl::erase_if(by_principal_, [&read](const auto& kept) {
    return kept.second.read.generation != read.generation ||
           kept.second.read.edition != read.edition;
  });
  by_principal_[read.principal] = Kept{read, std::move(events)};
}

void SharedViewReads::ForgetAll() {
  absl::MutexLock lock(&mu_);
  by_principal_.clear();
}

size_t SharedViewReads::KeptReads() const {
  absl::MutexLock lock(&mu_);
  return by_principal_.size();
}

}  // namespace hub::services
