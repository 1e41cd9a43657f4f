// Child process of view_store_crash_test: builds a generation of the views
// in `argv[1]` (50 batches of 100 events, written without the write-ahead
// log as a rebuild writes them), activates it, applies one more batch, and
// kills itself with SIGKILL: nothing is flushed or closed on the way out.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "storage/view_store.h"

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: view_store_crash_child VIEWS_DIR\n");
    return 2;
  }
  auto store = hub::storage::ViewStore::Open(argv[1]);
  if (!store.ok()) return Fail("open", store.status());
  auto generation = (*store)->CreateGeneration("v1", "digest-1", {"p0", "p1"});
  if (!generation.ok()) return Fail("create", generation.status());
  auto event = [](uint64_t position) {
    hub::storage::ProjectionBatch::Shaped shaped;
    shaped.position = position;
    shaped.stream_version = position;
    shaped.case_id = "C-" + std::to_string(position % 7);
    shaped.variants = {"full " + std::to_string(position), "redacted " + std::to_string(position)};
    // Both see every event: each view numbers them as the log does.
    shaped.visible_to = {{0, 0, position, position}, {1, 1, position, position}};
    return shaped;
  };
  for (uint64_t batch_number = 0; batch_number < 50; ++batch_number) {
    hub::storage::ProjectionBatch batch;
    for (uint64_t i = 1; i <= 100; ++i) batch.events.push_back(event(batch_number * 100 + i));
    batch.checkpoint = (batch_number + 1) * 100;
    if (absl::Status applied = (*store)->Apply(generation->generation, batch); !applied.ok()) {
      return Fail("apply", applied);
    }
  }
  if (absl::Status activated = (*store)->Activate(generation->generation); !activated.ok()) {
    return Fail("activate", activated);
  }
  // Active now: this batch goes through the write-ahead log.
  hub::storage::ProjectionBatch after;
  after.events = {event(5001)};
  after.checkpoint = 5001;
  if (absl::Status applied = (*store)->Apply(generation->generation, after); !applied.ok()) {
    return Fail("apply after activation", applied);
  }
  kill(getpid(), SIGKILL);
  return 3;  // not reached
}
