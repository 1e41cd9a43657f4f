// A read of the views is shared only while it is the same read and the
// views have not advanced: anything else must read the views again.
#include "services/shared_view_reads.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace hub::services {
namespace {

SharedViewReads::Events Deliveries(uint64_t first_view_position, int count) {
  auto events = std::make_shared<std::vector<storage::ViewEvent>>();
  for (int i = 0; i < count; ++i) {
    storage::ViewEvent& event = events->emplace_back();
    event.view_position = first_view_position + i;
    event.case_id = "C-1";
  }
  return events;
}

TEST(SharedViewReadsTest, AnotherSubscriptionOfThePrincipalTakesTheSameReadWhileTheViewsStand) {
  SharedViewReads reads;
  const SharedViewReads::Read read{/*generation=*/3, /*principal=*/2, /*after_view_position=*/40,
                                   /*max_events=*/128, /*projected=*/1000};
  EXPECT_EQ(reads.Find(read), nullptr);
  const SharedViewReads::Events events = Deliveries(41, 5);
  reads.Remember(read, events);
  EXPECT_EQ(reads.Find(read), events);
}

TEST(SharedViewReadsTest, AnyOtherReadOrAdvancedViewsReadAgain) {
  SharedViewReads reads;
  const SharedViewReads::Read read{3, 2, 40, 128, 1000};
  reads.Remember(read, Deliveries(41, 5));
  SharedViewReads::Read later = read;
  later.projected = 1001;  // a batch was projected since
  EXPECT_EQ(reads.Find(later), nullptr);
  SharedViewReads::Read elsewhere = read;
  elsewhere.after_view_position = 41;
  EXPECT_EQ(reads.Find(elsewhere), nullptr);
  SharedViewReads::Read other_principal = read;
  other_principal.principal = 5;
  EXPECT_EQ(reads.Find(other_principal), nullptr);
  SharedViewReads::Read other_generation = read;
  other_generation.generation = 4;  // a protocol change numbers views afresh
  EXPECT_EQ(reads.Find(other_generation), nullptr);
  SharedViewReads::Read shorter = read;
  shorter.max_events = 1;
  EXPECT_EQ(reads.Find(shorter), nullptr);
  // The principal's next read replaces it.
  const SharedViewReads::Events next = Deliveries(46, 2);
  reads.Remember(later, next);
  EXPECT_EQ(reads.Find(read), nullptr);
  EXPECT_EQ(reads.Find(later), next);
}

// A read no subscription can take any more is not kept: it would hold a
// batch of the agency's deliveries (content erased since included) until
// the agency next read.
TEST(SharedViewReadsTest, AReadThatCanNoLongerBeTakenIsLetGo) {
  SharedViewReads reads;
  const SharedViewReads::Read housing{3, 2, 40, 128, 1000};
  const SharedViewReads::Read police{3, 5, 7, 128, 1000};
  reads.Remember(housing, Deliveries(41, 5));
  reads.Remember(police, Deliveries(8, 3));
  EXPECT_EQ(reads.KeptReads(), 2u);
  // The views moved on: housing's kept read is stale.
  SharedViewReads::Read later = housing;
  later.projected = 1001;
  EXPECT_EQ(reads.Find(later), nullptr);
  EXPECT_EQ(reads.KeptReads(), 1u);
  // A reader lagging behind a kept read leaves it for the others.
  SharedViewReads::Read lagging = police;
  lagging.projected = 999;
  EXPECT_EQ(reads.Find(lagging), nullptr);
  EXPECT_EQ(reads.KeptReads(), 1u);
  // A new generation (a protocol change, an erasure): every read of the
  // one before goes.
  SharedViewReads::Read rebuilt = housing;
  rebuilt.generation = 4;
  reads.Remember(rebuilt, Deliveries(1, 1));
  EXPECT_EQ(reads.KeptReads(), 1u);
  EXPECT_EQ(reads.Find(police), nullptr);
}

// Erased content taken out of the views where they stand leaves them at the
// same checkpoint: a read kept from before holds what was erased, and no
// subscription may take it after.
TEST(SharedViewReadsTest, AReadFromBeforeAnErasureInPlaceIsNeverTaken) {
  SharedViewReads reads;
  const SharedViewReads::Read before{3, 2, 40, 128, 1000, 0};
  reads.Remember(before, Deliveries(41, 5));
  ASSERT_NE(reads.Find(before), nullptr);
  SharedViewReads::Read after = before;
  after.edition = 1;
  EXPECT_EQ(reads.Find(after), nullptr);
  EXPECT_EQ(reads.KeptReads(), 0u);
  // Nor does a read of the new edition let an old one stay.
  const SharedViewReads::Read police{3, 5, 7, 128, 1000, 0};
  reads.Remember(police, Deliveries(8, 3));
  reads.Remember(after, Deliveries(41, 5));
  EXPECT_EQ(reads.KeptReads(), 1u);
  EXPECT_EQ(reads.Find(police), nullptr);
  // Told by the views that they changed, every read goes at once.
  reads.ForgetAll();
  EXPECT_EQ(reads.KeptReads(), 0u);
  EXPECT_EQ(reads.Find(after), nullptr);
}

}  // namespace
}  // namespace hub::services
