// The contract's safety net: every field and every event of the hub's event
// contract carries a data class, so nothing can be added that the sharing
// protocol does not govern.
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/data_classes.h"

#include "hub/v1/events.pb.h"
#include "test_unclassified.pb.h"

namespace hub::auth {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST(DataClassTest, EveryFieldAndEventOfTheContractIsClassified) {
  EXPECT_THAT(UnclassifiedFields(*hub::v1::EventEnvelope::descriptor()), IsEmpty());
}

TEST(DataClassTest, EveryMessageOfTheEventsFileIsReachableAndClassified) {
  // A message defined but not (yet) wired into the envelope is checked too.
  const google::protobuf::FileDescriptor* file = hub::v1::EventEnvelope::descriptor()->file();
  for (int i = 0; i < file->message_type_count(); ++i) {
    EXPECT_THAT(UnclassifiedFields(*file->message_type(i)), IsEmpty())
        << file->message_type(i)->full_name();
  }
}

TEST(DataClassTest, EveryEventTypeIsInTheEnvelope) {
  const google::protobuf::OneofDescriptor* events =
      hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
  ASSERT_NE(events, nullptr);
  EXPECT_EQ(events->field_count(), 25);
  for (int i = 0; i < events->field_count(); ++i) {
    const hub::v1::DataClass event_class = EventClass(*events->field(i)->message_type());
    EXPECT_NE(event_class, hub::v1::DATA_CLASS_UNSPECIFIED);
    // The envelope field that holds an event has the event's own class, so
    // an event's visibility is decided by one class, not two.
    EXPECT_EQ(FieldClass(*events->field(i)), event_class) << events->field(i)->name();
  }
}

TEST(DataClassTest, TheCheckCatchesAMissingClass) {
  EXPECT_THAT(
      UnclassifiedFields(*hub::v1::testing::TestEnvelope::descriptor()),
      UnorderedElementsAre("hub.v1.testing.EventWithoutClass is an event without event_class",
                           "hub.v1.testing.FieldWithoutClass.forgotten has no data_class"));
}

TEST(DataClassTest, EventTypeNamesComeFromTheOneof) {
  hub::v1::EventEnvelope envelope;
  EXPECT_EQ(EventTypeName(envelope), "");
  EXPECT_EQ(EventOf(envelope), nullptr);
  envelope.mutable_victim_safety_information()->set_in_refuge(true);
  EXPECT_EQ(EventTypeName(envelope), "victim_safety_information");
  EXPECT_EQ(EventOf(envelope), &envelope.victim_safety_information());
}

}  // namespace
}  // namespace hub::auth
