// Whether the stored views are what the log and the protocol in force
// derive. The views are derived data outside every hash chain: whoever holds
// the data folder could edit one agency's view (show it an event it should
// not see, hide one it should) and nothing else would notice. This check
// projects the log again into a scratch store, up to the stored views'
// checkpoint, and compares everything a reader can get from the two:
// each principal's events in log order, its case summaries, each case's
// events by version, and each case's relations.
#ifndef HUB_SERVICES_VIEWS_CHECK_H_
#define HUB_SERVICES_VIEWS_CHECK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "auth/field_sealing.h"
#include "storage/event_log.h"
#include "storage/view_store.h"

namespace hub::services {

struct ViewsCheck {
  // The log positions compared: 1 to this (the stored views' checkpoint).
  uint64_t checkpoint = 0;
  std::string protocol_version;
  size_t principals = 0;
  uint64_t events = 0;
  uint64_t cases = 0;
  // One sentence per damaged principal or case, naming the first
  // difference; empty when the views are intact.
  std::vector<std::string> damage;
  // The views derived again, active and up to `checkpoint`: a repair puts
  // them in place of the stored ones.
  std::unique_ptr<storage::ViewStore> rebuilt;
};

// Checks the active generation of `stored` against views derived from `log`
// under the protocol recorded in it, built in `scratch_directory` (which
// must not exist). FAILED_PRECONDITION when there is nothing to compare (no
// active views, or views for another protocol than the one in force: hubd
// rebuilds those at start).
// `sealer` opens the log's sealed events (null: it holds none).
absl::StatusOr<ViewsCheck> CheckViews(storage::EventLog* log, const storage::ViewStore& stored,
                                      const std::string& scratch_directory,
                                      const auth::FieldSealer* sealer = nullptr);

}  // namespace hub::services

#endif  // HUB_SERVICES_VIEWS_CHECK_H_
