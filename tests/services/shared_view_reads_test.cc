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

}  // namespace
}  // namespace hub::services
