#include "storage/view_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

  std::vector<std::string> Payloads(const std::vector<ViewEvent>& events) {
    std::vector<std::string> payloads;
    for (const ViewEvent& event : events) payloads.push_back(event.payload);
    return payloads;
  }

  hub::testing::TempDir dir_;
  std::unique_ptr<ViewStore> store_;
  uint32_t generation_ = 0;
};

TEST_F(ViewStoreTest, EachPrincipalReadsItsOwnShapeInLogOrder) {
  ProjectionBatch batch;
  batch.events = {Event(2, 1, "C-1"), Event(5, 1, "C-2"), Event(7, 2, "C-1")};
  batch.checkpoint = 8;
  ASSERT_THAT(store_->Apply(generation_, batch), IsOk());

  auto full = store_->ReadFrom(generation_, 0, 0, 100);
  ASSERT_TRUE(full.ok());
  EXPECT_THAT(Payloads(*full), ::testing::ElementsAre("full 2", "full 5", "full 7"));
  auto redacted = store_->ReadFrom(generation_, 1, 2, 100);
  ASSERT_TRUE(redacted.ok());
  EXPECT_THAT(Payloads(*redacted), ::testing::ElementsAre("redacted 5", "redacted 7"));
  EXPECT_EQ((*redacted)[1].case_id, "C-1");
  EXPECT_EQ((*redacted)[1].stream_version, 2u);
  EXPECT_THAT(store_->ReadFrom(generation_, 2, 0, 100), IsOkAndHolds(::testing::IsEmpty()));

  auto case_events = store_->ReadCase(generation_, 1, "C-1", 2, 100);
  ASSERT_TRUE(case_events.ok());
  EXPECT_THAT(Payloads(*case_events), ::testing::ElementsAre("redacted 7"));
  EXPECT_THAT(store_->Checkpoint(generation_), IsOkAndHolds(8u));
}

// A principal's index holds one entry per batch: reading must start inside
// an entry, cross into the next and stop at the limit.
TEST_F(ViewStoreTest, ReadsStartInsideABatchAndContinueAcrossBatches) {
  ProjectionBatch first;
  first.events = {Event(2, 1, "C-1"), Event(4, 2, "C-1"), Event(6, 3, "C-1")};
  first.checkpoint = 6;
  ASSERT_THAT(store_->Apply(generation_, first), IsOk());
  ProjectionBatch second;
  second.events = {Event(9, 1, "C-2"), Event(10, 4, "C-1")};
  second.events[0].visible_to = {{1, 1}};  // principal 0 does not see 9
  second.checkpoint = 12;
  ASSERT_THAT(store_->Apply(generation_, second), IsOk());

  auto from_middle = store_->ReadFrom(generation_, 0, 3, 100);
  ASSERT_TRUE(from_middle.ok());
  EXPECT_THAT(Payloads(*from_middle), ::testing::ElementsAre("full 4", "full 6", "full 10"));
  auto limited = store_->ReadFrom(generation_, 1, 4, 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_THAT(Payloads(*limited), ::testing::ElementsAre("redacted 6", "redacted 9"));
  EXPECT_THAT(store_->ReadFrom(generation_, 0, 10, 100), IsOkAndHolds(::testing::IsEmpty()));
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
  ASSERT_THAT(store_->Apply(generation_, batch), IsOk());
  EXPECT_THAT(store_->Apply(generation_, batch), StatusIs(absl::StatusCode::kFailedPrecondition));
  ProjectionBatch older;
  older.checkpoint = 2;
  EXPECT_THAT(store_->Apply(generation_, older), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ViewStoreTest, SummariesArePerPrincipalAndCase) {
  ProjectionBatch batch;
  batch.summaries = {{"C-1", {"s0-1", "s1-1", std::nullopt}, "relations of C-1"},
                     {"C-2", {"s0-2"}, ""}};
  batch.checkpoint = 1;
  ASSERT_THAT(store_->Apply(generation_, batch), IsOk());
  // A case's relations are kept with its summaries, and none is none.
  auto c1 = store_->CaseSummaries(generation_, "C-1");
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->relations, "relations of C-1");
  EXPECT_EQ(c1->by_principal.size(), 3u);
  auto c2 = store_->CaseSummaries(generation_, "C-2");
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2->relations, "");
  EXPECT_THAT(store_->Summary(generation_, 1, "C-1"),
              IsOkAndHolds(::testing::Optional(std::string("s1-1"))));
  EXPECT_THAT(store_->Summary(generation_, 1, "C-2"), IsOkAndHolds(std::nullopt));
  auto all = store_->Summaries(generation_, 0, "", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].first, "C-2");
  auto after = store_->Summaries(generation_, 0, "C-1", 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].second, "s0-2");
}

TEST_F(ViewStoreTest, ActivatingAGenerationDropsTheOthersAndSurvivesReopening) {
  EXPECT_EQ(store_->Active(), std::nullopt);
  ProjectionBatch batch;
  batch.events = {Event(1, 1, "C-1")};
  batch.checkpoint = 1;
  ASSERT_THAT(store_->Apply(generation_, batch), IsOk());
  ASSERT_THAT(store_->Activate(generation_), IsOk());

  auto next = store_->CreateGeneration("v2", "digest-2", {"p0"});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->generation, generation_ + 1);
  EXPECT_THAT(store_->Drop(generation_), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(store_->Activate(next->generation), IsOk());
  EXPECT_EQ(store_->Active()->protocol_version, "v2");
  EXPECT_THAT(store_->ReadFrom(generation_, 0, 0, 10), IsOkAndHolds(::testing::IsEmpty()));
  EXPECT_THAT(store_->Checkpoint(generation_), IsOkAndHolds(0u));

  store_.reset();
  auto reopened = ViewStore::Open(dir_.Sub("views"));
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE((*reopened)->Active().has_value());
  EXPECT_EQ((*reopened)->Active()->generation, next->generation);
  EXPECT_THAT((*reopened)->Active()->principals, ::testing::ElementsAre("p0"));
  EXPECT_THAT((*reopened)->Activate(99), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace hub::storage
