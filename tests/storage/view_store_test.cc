#include "storage/view_store.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "tests/storage/raw_views.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::storage {
namespace {

using ::hub::testing::IsOk;
using ::hub::testing::IsOkAndHolds;
using ::hub::testing::StatusIs;

// Event `position` of `case_id`, seen by principal 0 as "full" and by
// principal 1 as "redacted"; principal 2 does not see it.
ProjectionBatch::Shaped Event(uint64_t position, uint64_t version, const std::string& case_id) {
  ProjectionBatch::Shaped shaped;
  shaped.position = position;
  shaped.stream_version = version;
  shaped.case_id = case_id;
  shaped.variants = {"full " + std::to_string(position), "redacted " + std::to_string(position)};
  shaped.visible_to = {{0, 0}, {1, 1}};
  return shaped;
}

// Every byte under `directory`, file by file.
std::vector<std::string> FileContents(const std::string& directory) {
  std::vector<std::string> contents;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    contents.emplace_back(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  return contents;
}

class ViewStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = ViewStore::Open(dir_.Sub("views"));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(opened).value();
    auto created = store_->CreateGeneration("v1", "digest-1", {"p0", "p1", "p2"});
    ASSERT_TRUE(created.ok());
    generation_ = created->generation;
  }

  // Numbers each principal's events as the projector does (1, 2, 3, ... in
  // its view, and per case), then stores the batch.
  absl::Status Apply(ProjectionBatch batch, std::optional<uint32_t> generation = std::nullopt) {
    const uint32_t into = generation.value_or(generation_);
    for (ProjectionBatch::Shaped& event : batch.events) {
      for (ProjectionBatch::Shaped::Sight& sight : event.visible_to) {
        sight.view_position = ++view_positions_[{into, sight.principal}];
        sight.view_version = ++view_versions_[{into, sight.principal, event.case_id}];
      }
    }
    return store_->Apply(into, batch);
  }

  std::vector<std::string> Payloads(const std::vector<ViewEvent>& events) {
    std::vector<std::string> payloads;
    for (const ViewEvent& event : events) payloads.push_back(event.payload);
    return payloads;
  }

  hub::testing::TempDir dir_;
  std::unique_ptr<ViewStore> store_;
  uint32_t generation_ = 0;
  std::map<std::pair<uint32_t, uint16_t>, uint64_t> view_positions_;
  std::map<std::tuple<uint32_t, uint16_t, std::string>, uint64_t> view_versions_;
};

// A correction reshapes stored events: the same principals keep seeing
// them under the same numbers; a reshape of an event not stored, or one
// that would change who sees it, is refused and writes nothing.
TEST_F(ViewStoreTest, AReshapedEventKeepsItsReadersAndTheirNumbers) {
  ProjectionBatch batch;
  batch.events = {Event(2, 1, "C-1"), Event(5, 2, "C-1")};
  batch.checkpoint = 5;
  ASSERT_THAT(Apply(batch), IsOk());

  ProjectionBatch missing;
  missing.checkpoint = 6;
  missing.reshaped.push_back({9, {"corrected"}, {{0, 0}}});
  EXPECT_THAT(store_->Apply(generation_, missing), StatusIs(absl::StatusCode::kFailedPrecondition));
  ProjectionBatch fewer;
  fewer.checkpoint = 6;
  fewer.reshaped.push_back({2, {"corrected"}, {{0, 0}}});
  EXPECT_THAT(store_->Apply(generation_, fewer), StatusIs(absl::StatusCode::kFailedPrecondition));
  ProjectionBatch more;
  more.checkpoint = 6;
  more.reshaped.push_back({2, {"corrected"}, {{0, 0}, {1, 0}, {2, 0}}});
  EXPECT_THAT(store_->Apply(generation_, more), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store_->Checkpoint(generation_), IsOkAndHolds(5u));

  ProjectionBatch reshape;
  reshape.checkpoint = 6;
  reshape.reshaped.push_back({2, {"full corrected", "redacted corrected"}, {{0, 0}, {1, 1}}});
  ASSERT_THAT(store_->Apply(generation_, reshape), IsOk());
  auto full = store_->ReadFrom(generation_, 0, 0, 100);
  ASSERT_TRUE(full.ok());
  EXPECT_THAT(Payloads(*full), ::testing::ElementsAre("full corrected", "full 5"));
  EXPECT_EQ((*full)[0].view_position, 1u);
  EXPECT_EQ((*full)[0].view_version, 1u);
  auto redacted = store_->ReadCase(generation_, 1, "C-1", 1, 100);
  ASSERT_TRUE(redacted.ok());
  EXPECT_THAT(Payloads(*redacted), ::testing::ElementsAre("redacted corrected", "redacted 5"));
  EXPECT_EQ((*redacted)[0].view_version, 1u);
}

// A disclosure: when a relationship lets a principal see more of a case,
// the batch of the event that began it delivers the case's earlier events
// after what the principal has (some for the first time, some again, now
// showing more), numbers its versions of the case in case order, and counts
// every delivery as made at that event.
TEST_F(ViewStoreTest, ADisclosureDeliversEarlierEventsAfterWhatThePrincipalHas) {
  ProjectionBatch batch;
  batch.events = {Event(2, 1, "C-1"), Event(3, 1, "C-2"), Event(5, 2, "C-1")};
  batch.events[1].visible_to.push_back({2, 1});  // principal 2 sees only case C-2
  batch.checkpoint = 5;
  ASSERT_THAT(Apply(batch), IsOk());

  using Sight = ProjectionBatch::Shaped::Sight;
  ProjectionBatch disclosure;
  disclosure.checkpoint = 7;
  // Principal 1 is shown more of event 2 (delivered again, same version);
  // principal 2 is shown events 2 and 5 for the first time.
  disclosure.reshaped.push_back(
      {2, {"full 2", "more of 2"}, {Sight{0, 0, 0, 0}, Sight{1, 1, 4, 0}, Sight{2, 1, 2, 1}}});
  disclosure.reshaped.push_back(
      {5, {"full 5", "redacted 5"}, {Sight{0, 0, 0, 0}, Sight{1, 1, 0, 0}, Sight{2, 1, 3, 2}}});
  ProjectionBatch::Shaped began = Event(7, 3, "C-1");
  began.visible_to = {Sight{0, 0, 4, 3}, Sight{1, 1, 5, 3}, Sight{2, 1, 4, 3}};
  disclosure.events = {began};

  // A reshape must keep every principal that saw the event, and one that
  // did not needs its numbers: refused, nothing written.
  ProjectionBatch dropping = disclosure;
  dropping.reshaped[1].visible_to.erase(dropping.reshaped[1].visible_to.begin());
  EXPECT_THAT(store_->Apply(generation_, dropping),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ProjectionBatch unnumbered = disclosure;
  unnumbered.reshaped[1].visible_to[2].view_position = 0;
  EXPECT_THAT(store_->Apply(generation_, unnumbered),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ProjectionBatch gap = disclosure;
  gap.reshaped[1].visible_to[2].view_position = 5;
  EXPECT_THAT(store_->Apply(generation_, gap), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Checkpoint(generation_), IsOkAndHolds(5u));

  ASSERT_THAT(store_->Apply(generation_, disclosure), IsOk());
  auto disclosed = store_->ReadFrom(generation_, 2, 0, 100);
  ASSERT_TRUE(disclosed.ok());
  EXPECT_THAT(Payloads(*disclosed),
              ::testing::ElementsAre("redacted 3", "more of 2", "redacted 5", "redacted 7"));
  for (size_t i = 0; i < disclosed->size(); ++i) {
    EXPECT_EQ((*disclosed)[i].view_position, i + 1);
  }
  EXPECT_EQ((*disclosed)[1].view_version, 1u);
  EXPECT_EQ((*disclosed)[2].view_version, 2u);
  auto again = store_->ReadFrom(generation_, 1, 3, 100);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(Payloads(*again), ::testing::ElementsAre("more of 2", "redacted 7"));
  EXPECT_EQ((*again)[0].position, 2u);
  EXPECT_EQ((*again)[0].view_position, 4u);
  EXPECT_EQ((*again)[0].view_version, 1u);
  // The case, read by version, is in case order, each event once.
  auto as_case = store_->ReadCase(generation_, 2, "C-1", 1, 100);
  ASSERT_TRUE(as_case.ok());
  EXPECT_THAT(Payloads(*as_case), ::testing::ElementsAre("more of 2", "redacted 5", "redacted 7"));

  // One case's deliveries, found by the index alone.
  auto one_case = store_->ReadCaseDeliveries(generation_, 2, "C-1", 0, 100, 100);
  ASSERT_TRUE(one_case.ok());
  EXPECT_THAT(Payloads(one_case->events),
              ::testing::ElementsAre("more of 2", "redacted 5", "redacted 7"));
  EXPECT_EQ(one_case->read_through, 4u);
  auto passed_over = store_->ReadCaseDeliveries(generation_, 2, "C-1", 0, 100, 1);
  ASSERT_TRUE(passed_over.ok());
  EXPECT_TRUE(passed_over->events.empty());
  EXPECT_EQ(passed_over->read_through, 1u);

  // Every delivery of the disclosure was made at the event that began it.
  EXPECT_THAT(store_->LogPositionOf(generation_, 2, 1), IsOkAndHolds(3u));
  EXPECT_THAT(store_->LogPositionOf(generation_, 2, 2), IsOkAndHolds(7u));
  EXPECT_THAT(store_->ViewPositionAt(generation_, 2, 2), IsOkAndHolds(0u));
  EXPECT_THAT(store_->ViewPositionAt(generation_, 2, 6), IsOkAndHolds(1u));
  EXPECT_THAT(store_->ViewPositionAt(generation_, 2, 7), IsOkAndHolds(4u));
  EXPECT_THAT(store_->ViewPositionAt(generation_, 1, 5), IsOkAndHolds(3u));
  EXPECT_THAT(store_->LastViewPositions(generation_),
              IsOkAndHolds(::testing::ElementsAre(4u, 5u, 4u)));

  auto visibility = store_->CaseVisibility(generation_, "C-1");
  ASSERT_TRUE(visibility.ok());
  ASSERT_EQ(visibility->size(), 3u);
  EXPECT_EQ((*visibility)[0].first, 2u);
  EXPECT_EQ((*visibility)[0].second, std::string("\x00\x01\x01", 3));
}

TEST_F(ViewStoreTest, EachPrincipalReadsItsOwnShapeInLogOrder) {
  ProjectionBatch batch;
  batch.events = {Event(2, 1, "C-1"), Event(5, 1, "C-2"), Event(7, 2, "C-1")};
  batch.checkpoint = 8;
  ASSERT_THAT(Apply(batch), IsOk());

  auto full = store_->ReadFrom(generation_, 0, 0, 100);
  ASSERT_TRUE(full.ok());
  EXPECT_THAT(Payloads(*full), ::testing::ElementsAre("full 2", "full 5", "full 7"));
  // Read after the principal's first event (view position 1).
  auto redacted = store_->ReadFrom(generation_, 1, 1, 100);
  ASSERT_TRUE(redacted.ok());
  ASSERT_THAT(Payloads(*redacted), ::testing::ElementsAre("redacted 5", "redacted 7"));
  EXPECT_EQ((*redacted)[0].view_position, 2u);
  EXPECT_EQ((*redacted)[1].case_id, "C-1");
  EXPECT_EQ((*redacted)[1].stream_version, 2u);
  EXPECT_THAT(store_->ReadFrom(generation_, 2, 0, 100), IsOkAndHolds(::testing::IsEmpty()));

  auto case_events = store_->ReadCase(generation_, 1, "C-1", 2, 100);
  ASSERT_TRUE(case_events.ok());
  EXPECT_THAT(Payloads(*case_events), ::testing::ElementsAre("redacted 7"));
  EXPECT_THAT(store_->Checkpoint(generation_), IsOkAndHolds(8u));
}

// Someone with the data folder deletes one event's record from the views:
// every read that would deliver it is refused as DATA_LOSS (the views are
// then rebuilt from the log), never answered with the event left out, which
// would renumber what the reader sees. The events around it are fetched in
// the same batched lookup.
TEST_F(ViewStoreTest, AnEventRecordDeletedOnDiskIsDataLossNotAGap) {
  ProjectionBatch batch;
  batch.events = {Event(2, 1, "C-1"), Event(5, 1, "C-2"), Event(7, 2, "C-1")};
  batch.checkpoint = 8;
  ASSERT_THAT(Apply(batch), IsOk());
  store_.reset();
  {
    RawViews views(dir_.Sub("views"));
    ASSERT_TRUE(views.ok());
    // view_content key: the 4-byte generation, then the 8-byte log position.
    std::string key;
    for (int shift = 24; shift >= 0; shift -= 8)
      key.push_back(static_cast<char>(generation_ >> shift));
    key.append(std::string(7, '\0')).push_back(static_cast<char>(5));
    views.Delete(views.content(), key);
  }
  auto reopened = ViewStore::Open(dir_.Sub("views"));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  store_ = std::move(reopened).value();

  EXPECT_THAT(store_->ReadFrom(generation_, 0, 0, 100),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("does not hold")));
  EXPECT_THAT(store_->ReadFrom(generation_, 1, 1, 100),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("does not hold")));
  // What does not reach the deleted event is still read.
  auto first = store_->ReadFrom(generation_, 0, 0, 1);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Payloads(*first), ::testing::ElementsAre("full 2"));
  auto case_events = store_->ReadCase(generation_, 0, "C-1", 0, 100);
  ASSERT_TRUE(case_events.ok()) << case_events.status();
  EXPECT_THAT(Payloads(*case_events), ::testing::ElementsAre("full 2", "full 7"));
}

// A principal's index holds one entry per batch: reading must start inside
// an entry, cross into the next and stop at the limit.
TEST_F(ViewStoreTest, ReadsStartInsideABatchAndContinueAcrossBatches) {
  ProjectionBatch first;
  first.events = {Event(2, 1, "C-1"), Event(4, 2, "C-1"), Event(6, 3, "C-1")};
  first.checkpoint = 6;
  ASSERT_THAT(Apply(first), IsOk());
  ProjectionBatch second;
  second.events = {Event(9, 1, "C-2"), Event(10, 4, "C-1")};
  second.events[0].visible_to = {{1, 1}};  // principal 0 does not see 9
  second.checkpoint = 12;
  ASSERT_THAT(Apply(second), IsOk());

  // Positions are the reader's own: principal 0's second and later events.
  auto from_middle = store_->ReadFrom(generation_, 0, 1, 100);
  ASSERT_TRUE(from_middle.ok());
  EXPECT_THAT(Payloads(*from_middle), ::testing::ElementsAre("full 4", "full 6", "full 10"));
  auto limited = store_->ReadFrom(generation_, 1, 2, 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_THAT(Payloads(*limited), ::testing::ElementsAre("redacted 6", "redacted 9"));
  EXPECT_THAT(store_->ReadFrom(generation_, 0, 4, 100), IsOkAndHolds(::testing::IsEmpty()));
  auto case_events = store_->ReadCase(generation_, 0, "C-1", 2, 100);
  ASSERT_TRUE(case_events.ok());
  EXPECT_THAT(Payloads(*case_events), ::testing::ElementsAre("full 4", "full 6", "full 10"));
  EXPECT_THAT(store_->ReadCase(generation_, 0, "C-2", 1, 100), IsOkAndHolds(::testing::IsEmpty()));
  EXPECT_THAT(store_->ReadCase(generation_, 2, "C-1", 1, 100), IsOkAndHolds(::testing::IsEmpty()));
}

TEST_F(ViewStoreTest, ABatchMustContinueAfterTheCheckpoint) {
  ProjectionBatch batch;
  batch.events = {Event(3, 1, "C-1")};
  batch.checkpoint = 3;
  ASSERT_THAT(Apply(batch), IsOk());
  EXPECT_THAT(Apply(batch), StatusIs(absl::StatusCode::kFailedPrecondition));
  ProjectionBatch older;
  older.checkpoint = 2;
  EXPECT_THAT(Apply(older), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// A view's numbers are what readers are told: a batch that would leave a
// gap (counting an event the principal does not see) or a repeat is refused.
TEST_F(ViewStoreTest, ABatchThatWouldLeaveAGapInAViewIsRefused) {
  ProjectionBatch batch;
  batch.events = {Event(3, 1, "C-1")};
  batch.checkpoint = 3;
  ASSERT_THAT(Apply(batch), IsOk());
  ProjectionBatch gap;
  gap.events = {Event(4, 2, "C-1")};
  gap.events[0].visible_to = {{0, 0, 3, 2}, {1, 1, 2, 2}};  // principal 0 skips 2
  gap.checkpoint = 4;
  EXPECT_THAT(store_->Apply(generation_, gap), StatusIs(absl::StatusCode::kInvalidArgument));
  gap.events[0].visible_to = {{0, 0, 2, 2}, {1, 1, 2, 2}};
  ASSERT_THAT(store_->Apply(generation_, gap), IsOk());
  auto read = store_->ReadFrom(generation_, 0, 0, 10);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1].view_position, 2u);
  EXPECT_EQ((*read)[1].position, 4u);
  EXPECT_THAT(store_->LastViewPositions(generation_),
              IsOkAndHolds(::testing::ElementsAre(2u, 2u, 0u)));
}

// A timeline is ordered from the case's entries alone: each says where the
// event is, its version in the principal's view and when it happened.
TEST_F(ViewStoreTest, ACasesEntriesGiveItsOrderWithoutItsContent) {
  ProjectionBatch batch;
  for (uint64_t version = 1; version <= 5; ++version) {
    batch.events.push_back(Event(10 + version, version, "C-1"));
    batch.events.back().happened_seconds = 1000 - static_cast<int64_t>(version);  // backdated
    batch.events.back().happened_nanos = static_cast<int32_t>(version);
    if (version == 2) batch.events.back().visible_to = {{1, 1}};  // principal 0 misses it
  }
  batch.checkpoint = 15;
  ASSERT_THAT(Apply(batch), IsOk());
  auto entries = store_->CaseEntries(generation_, 0, "C-1", 100);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[1].position, 13u);
  EXPECT_EQ((*entries)[1].view_version, 2u);
  EXPECT_EQ((*entries)[1].happened_seconds, 997);
  EXPECT_EQ((*entries)[1].happened_nanos, 3);
  EXPECT_THAT(store_->CaseEntries(generation_, 1, "C-1", 4),
              StatusIs(absl::StatusCode::kResourceExhausted));
  auto events = store_->ReadEvents(generation_, 0, {15, 11});
  ASSERT_TRUE(events.ok());
  EXPECT_THAT(Payloads(*events), ::testing::ElementsAre("full 15", "full 11"));
  EXPECT_EQ((*events)[0].view_version, 4u);
}

// Readers keep positions: each must lead back to its event's log position,
// wherever it falls among the index's entries.
TEST_F(ViewStoreTest, ViewPositionsLeadBackToLogPositions) {
  std::vector<uint64_t> seen_by_0;
  // The first batch the principal sees starts well after position 1.
  for (uint64_t batch_start = 5; batch_start < 400; batch_start += 40) {
    ProjectionBatch batch;
    for (uint64_t position = batch_start; position < batch_start + 40; position += 3) {
      batch.events.push_back(Event(position, 1, "C-" + std::to_string(position)));
      if (position % 2 == 0) {
        batch.events.back().visible_to = {{1, 1}};
      } else {
        seen_by_0.push_back(position);
      }
    }
    batch.checkpoint = batch_start + 39;
    ASSERT_THAT(Apply(batch), IsOk());
  }
  for (size_t i = 0; i < seen_by_0.size(); ++i) {
    EXPECT_THAT(store_->LogPositionOf(generation_, 0, i + 1), IsOkAndHolds(seen_by_0[i])) << i;
  }
  EXPECT_THAT(store_->LogPositionOf(generation_, 0, 0), IsOkAndHolds(0u));
  EXPECT_THAT(store_->LogPositionOf(generation_, 0, seen_by_0.size() + 1),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->LogPositionOf(generation_, 2, 1), StatusIs(absl::StatusCode::kNotFound));
}

// Per case, a principal reads from a version of its own view, however many
// events of the case it does not see lie before it.
TEST_F(ViewStoreTest, ACaseIsReadFromAVersionOfTheReadersView) {
  ProjectionBatch batch;
  for (uint64_t version = 1; version <= 12; ++version) {
    batch.events.push_back(Event(version, version, "C-1"));
    if (version % 3 != 0) batch.events.back().visible_to = {{1, 1}};  // 0 sees 3, 6, 9, 12
  }
  batch.checkpoint = 12;
  ASSERT_THAT(Apply(batch), IsOk());
  auto from_second = store_->ReadCase(generation_, 0, "C-1", 2, 100);
  ASSERT_TRUE(from_second.ok());
  EXPECT_THAT(Payloads(*from_second), ::testing::ElementsAre("full 6", "full 9", "full 12"));
  EXPECT_EQ(from_second->front().view_version, 2u);
  EXPECT_EQ(from_second->front().stream_version, 6u);
  auto limited = store_->ReadCase(generation_, 0, "C-1", 3, 1);
  ASSERT_TRUE(limited.ok());
  EXPECT_THAT(Payloads(*limited), ::testing::ElementsAre("full 9"));
  EXPECT_THAT(store_->ReadCase(generation_, 0, "C-1", 5, 100), IsOkAndHolds(::testing::IsEmpty()));
  auto all_of_1 = store_->ReadCase(generation_, 1, "C-1", 1, 100);
  ASSERT_TRUE(all_of_1.ok());
  EXPECT_EQ(all_of_1->size(), 12u);
  EXPECT_EQ(all_of_1->back().view_version, 12u);
}

TEST_F(ViewStoreTest, SummariesArePerPrincipalAndCase) {
  ProjectionBatch batch;
  batch.summaries = {{"C-1", {"s0-1", "s1-1", std::nullopt}, "relations of C-1", "facts of C-1"},
                     {"C-2", {"s0-2"}, "", ""},
                     {"C-3", {"s0-3"}, "", "facts of C-3"}};
  batch.checkpoint = 1;
  ASSERT_THAT(Apply(batch), IsOk());
  // A case's relations are kept with its summaries, and none is none.
  auto c1 = store_->CaseSummaries(generation_, "C-1");
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->relations, "relations of C-1");
  EXPECT_EQ(c1->by_principal.size(), 3u);
  EXPECT_EQ(c1->facts, "facts of C-1");
  auto c2 = store_->CaseSummaries(generation_, "C-2");
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->relations, "");
  EXPECT_EQ(c2->facts, "");
  // Facts without relations keep both apart.
  auto c3 = store_->CaseSummaries(generation_, "C-3");
  ASSERT_TRUE(c3.ok());
  EXPECT_EQ(c3->relations, "");
  EXPECT_EQ(c3->facts, "facts of C-3");
  // The report reads every case's facts at once, and only cases with some.
  using Facts = std::vector<std::pair<std::string, std::string>>;
  EXPECT_THAT(store_->AllCaseFacts(generation_),
              IsOkAndHolds(Facts{{"C-1", "facts of C-1"}, {"C-3", "facts of C-3"}}));
  EXPECT_THAT(store_->Summary(generation_, 1, "C-1"),
              IsOkAndHolds(::testing::Optional(std::string("s1-1"))));
  EXPECT_THAT(store_->Summary(generation_, 1, "C-2"), IsOkAndHolds(std::nullopt));
  auto all = store_->Summaries(generation_, 0, "", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[1].first, "C-2");
  auto after = store_->Summaries(generation_, 0, "C-1", 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].second, "s0-2");
}

TEST_F(ViewStoreTest, ActivatingAGenerationDropsTheOthersAndSurvivesReopening) {
  EXPECT_EQ(store_->Active(), std::nullopt);
  ProjectionBatch batch;
  batch.events = {Event(1, 1, "C-1")};
  batch.checkpoint = 1;
  ASSERT_THAT(Apply(batch), IsOk());
  ASSERT_THAT(store_->Activate(generation_), IsOk());

  auto next = store_->CreateGeneration("v2", "digest-2", {"p0"});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->generation, generation_ + 1);
  EXPECT_THAT(store_->Drop(generation_), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(store_->Activate(next->generation), IsOk());
  EXPECT_EQ(store_->Active()->protocol_version, "v2");
  // The replaced generation keeps only its index: what its readers'
  // positions meant.
  EXPECT_THAT(store_->ReadCase(generation_, 0, "C-1", 1, 10), IsOkAndHolds(::testing::IsEmpty()));
  EXPECT_THAT(store_->Checkpoint(generation_), IsOkAndHolds(0u));
  EXPECT_THAT(store_->LogPositionOf(generation_, 0, 1), IsOkAndHolds(1u));
  auto retired = store_->RetiredGenerations();
  ASSERT_TRUE(retired.ok());
  ASSERT_EQ(retired->size(), 1u);
  EXPECT_EQ((*retired)[0].generation, generation_);
  EXPECT_THAT((*retired)[0].principals, ::testing::ElementsAre("p0", "p1", "p2"));

  store_.reset();
  auto reopened = ViewStore::Open(dir_.Sub("views"));
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->Active().has_value());
  EXPECT_EQ((*reopened)->Active()->generation, next->generation);
  EXPECT_THAT((*reopened)->Active()->principals, ::testing::ElementsAre("p0"));
  EXPECT_THAT((*reopened)->Activate(99), StatusIs(absl::StatusCode::kNotFound));
}

// Content reshaped where the views stand changes what they are derived
// from: the new digest is written with it, survives reopening, and a batch
// that fails writes neither.
TEST_F(ViewStoreTest, AReshapingBatchCarriesTheGenerationsNewDigest) {
  ProjectionBatch batch;
  batch.events = {Event(1, 1, "C-1")};
  batch.checkpoint = 1;
  ASSERT_THAT(Apply(batch), IsOk());
  ASSERT_THAT(store_->Activate(generation_), IsOk());
  const std::string digest = store_->Active()->protocol_digest;

  ProjectionBatch refused;
  refused.checkpoint = 1;
  refused.generation_digest = "never written";
  ProjectionBatch::Reshaped unknown;
  unknown.position = 7;  // not in the views
  unknown.variants = {"x"};
  unknown.visible_to = {{0, 0, 0, 0}};
  refused.reshaped = {unknown};
  EXPECT_FALSE(Apply(refused).ok());
  EXPECT_EQ(store_->Active()->protocol_digest, digest);

  ProjectionBatch reshaping;
  reshaping.checkpoint = 1;
  reshaping.generation_digest = "digest after an erasure";
  ProjectionBatch::Reshaped event;
  event.position = 1;
  event.variants = {"reshaped payload"};
  event.visible_to = {{0, 0, 0, 0}, {1, 0, 0, 0}};
  reshaping.reshaped = {event};
  ASSERT_THAT(Apply(reshaping), IsOk());
  EXPECT_EQ(store_->Active()->protocol_digest, "digest after an erasure");
  EXPECT_THAT(store_->Checkpoint(generation_), IsOkAndHolds(1u));
  store_.reset();
  auto reopened = ViewStore::Open(dir_.Sub("views"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Active()->protocol_digest, "digest after an erasure");
  auto events = (*reopened)->ReadFrom(generation_, 0, 0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().payload, "reshaped payload");
}

// Reshaped where the views stand, an event's earlier shape is gone from
// every read at once, and from every file once compacted: what an erasure
// took out is not left on disk for whoever later holds the views key.
TEST_F(ViewStoreTest, CompactingAReshapedEventLeavesNoFileHoldingItsEarlierShape) {
  static constexpr char kCanary[] = "CANARY-RESHAPED 51 Refuge Road";
  ProjectionBatch batch;
  ProjectionBatch::Shaped event = Event(5, 1, "C-1");
  event.variants = {kCanary, "redacted"};
  batch.events = {event};
  batch.checkpoint = 5;
  ASSERT_THAT(Apply(batch), IsOk());
  // On disk: activating flushes what was projected.
  ASSERT_THAT(store_->Activate(generation_), IsOk());
  ProjectionBatch reshaping;
  reshaping.checkpoint = 5;
  ProjectionBatch::Reshaped reshaped;
  reshaped.position = 5;
  reshaped.variants = {"erased", "redacted"};
  reshaped.visible_to = {{0, 0, 0, 0}, {1, 1, 0, 0}};
  reshaping.reshaped = {reshaped};
  ASSERT_THAT(Apply(reshaping), IsOk());
  auto events = store_->ReadFrom(generation_, 0, 0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().payload, "erased");
  const auto holding_the_canary = [this] {
    int files = 0;
    for (const std::string& contents : FileContents(dir_.Sub("views"))) {
      files += contents.find(kCanary) != std::string::npos ? 1 : 0;
    }
    return files;
  };
  ASSERT_GT(holding_the_canary(), 0) << "the earlier shape never reached a file";
  ASSERT_THAT(store_->CompactReshaped(generation_, 5, 5, {"C-1"}), IsOk());
  EXPECT_EQ(holding_the_canary(), 0);
  store_->CancelCompactions();
  EXPECT_THAT(store_->CompactReshaped(generation_, 5, 5, {"C-1"}),
              StatusIs(absl::StatusCode::kCancelled));
}

// Readers' positions name a generation: its number is never given again,
// and only the last few replaced generations keep their index.
TEST_F(ViewStoreTest, RetiredGenerationsKeepTheirNumberAndOnlyTheLastFewTheirIndex) {
  ProjectionBatch batch;
  batch.events = {Event(1, 1, "C-1")};
  batch.checkpoint = 1;
  ASSERT_THAT(Apply(batch), IsOk());
  ASSERT_THAT(store_->Activate(generation_), IsOk());
  std::vector<uint32_t> numbers = {generation_};
  for (int i = 0; i < ViewStore::kRetiredKept + 2; ++i) {
    auto next = store_->CreateGeneration("v", "digest", {"p0", "p1", "p2"});
    ASSERT_TRUE(next.ok());
    EXPECT_GT(next->generation, numbers.back());
    ASSERT_THAT(Apply(batch, next->generation), IsOk());
    ASSERT_THAT(store_->Activate(next->generation), IsOk());
    numbers.push_back(next->generation);
  }
  auto retired = store_->RetiredGenerations();
  ASSERT_TRUE(retired.ok());
  ASSERT_EQ(retired->size(), static_cast<size_t>(ViewStore::kRetiredKept));
  EXPECT_EQ(retired->back().generation, numbers[numbers.size() - 2]);
  EXPECT_THAT(store_->LogPositionOf(numbers[0], 0, 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->LogPositionOf(numbers[numbers.size() - 2], 0, 1), IsOkAndHolds(1u));
}

TEST_F(ViewStoreTest, AGenerationIsNumberedAtLeastAsAskedAndNeverBelowOneThatExists) {
  // generation_ exists (the fixture's); asked for less, the next is above it.
  auto next = store_->CreateGeneration("v", "digest", {"p0"}, 1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->generation, generation_ + 1);
  // Asked for more (the number the event log recorded), that number.
  auto recorded = store_->CreateGeneration("v", "digest", {"p0"}, 40);
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->generation, 40u);
  auto after = store_->CreateGeneration("v", "digest", {"p0"}, 40);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->generation, 41u);
}

}  // namespace
}  // namespace hub::storage

namespace hub::storage {
namespace {

// Whoever holds the disk reads nothing of the views without the views key,
// and views written in the clear (by an older hubd) are told apart from
// damaged ones.
TEST(EncryptedViewStoreTest, NoFileHoldsAViewInTheClearAndOnlyItsKeyOpensIt) {
  hub::testing::TempDir dir;
  const std::string path = dir.Sub("views");
  const ViewStoreOptions key{std::string(32, 'k'), nullptr};
  constexpr char kCanary[] = "CANARY-VIEW 12 Example Road";
  {
    auto store = ViewStore::Open(path, key);
    ASSERT_TRUE(store.ok()) << store.status();
    auto created = (*store)->CreateGeneration("v1", "digest-1", {"p0"});
    ASSERT_TRUE(created.ok());
    ProjectionBatch batch;
    ProjectionBatch::Shaped& shaped = batch.events.emplace_back();
    shaped.position = 1;
    shaped.stream_version = 1;
    shaped.case_id = "C-1";
    shaped.variants = {kCanary};
    shaped.visible_to = {{0, 0, 1, 1}};
    batch.checkpoint = 1;
    ASSERT_TRUE((*store)->Apply(created->generation, batch).ok());
    ASSERT_TRUE((*store)->Activate(created->generation).ok());
  }
  const std::vector<std::string> files = FileContents(path);
  ASSERT_FALSE(files.empty());
  for (const std::string& contents : files) {
    EXPECT_EQ(contents.find(kCanary), std::string::npos);
  }

  auto reopened = ViewStore::Open(path, key);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto events = (*reopened)->ReadFrom((*reopened)->Active()->generation, 0, 0, 10);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().payload, kCanary);
  reopened->reset();

  auto other_key = ViewStore::Open(path, ViewStoreOptions{std::string(32, 'o'), nullptr});
  ASSERT_FALSE(other_key.ok());
  EXPECT_TRUE(ViewStore::WrittenUnderAnotherKey(other_key.status())) << other_key.status();
  EXPECT_FALSE(ViewStore::Open(path).ok());
  EXPECT_THAT(ViewStore::Open(path, ViewStoreOptions{"short", nullptr}),
              StatusIs(absl::StatusCode::kInvalidArgument));

  // A file a crash left without its prefix: unreadable, not fatal.
  std::ofstream(path + "/000999.log").flush();
  auto torn = ViewStore::Open(path, key);
  ASSERT_FALSE(torn.ok());
  EXPECT_TRUE(ViewStore::WrittenUnderAnotherKey(torn.status())) << torn.status();

  const std::string clear = dir.Sub("clear");
  ASSERT_TRUE(ViewStore::Open(clear).ok());
  auto upgraded = ViewStore::Open(clear, key);
  ASSERT_FALSE(upgraded.ok());
  EXPECT_TRUE(ViewStore::WrittenUnderAnotherKey(upgraded.status())) << upgraded.status();
}

}  // namespace
}  // namespace hub::storage
