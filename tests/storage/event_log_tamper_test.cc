// Damages a stored log behind the EventLog's back, in the RocksDB files, the
// way an insider or a failing disk could, and checks that Open() refuses it
// and Verify() names what is wrong.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "storage/event_log.h"
#include "storage/internal/log_format.h"
#include "tests/storage/raw_log.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::storage {
namespace {

using ::hub::testing::IsOk;
using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

class EventLogTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = EventLog::Open(path_, EventLogOptions());
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 1; i <= 5; ++i) {
      AppendRequest request;
      request.case_id = i % 2 == 0 ? "C-even" : "C-odd";
      request.events.push_back({absl::StrCat("e", i), absl::StrCat("refuge address ", i)});
      ASSERT_THAT((*log)->Append(request), IsOk());
    }
  }

  absl::Status OpenStatus() { return EventLog::Open(path_, EventLogOptions()).status(); }

  absl::Status VerifyWithoutOpenCheck() {
    EventLogOptions options;
    options.verify_on_open = false;
    auto log = EventLog::Open(path_, options);
    if (!log.ok()) return log.status();
    return (*log)->Verify().status();
  }

  hub::testing::TempDir dir_;
  std::string path_ = dir_.Sub("log");
};

TEST_F(EventLogTamperTest, AnUntouchedLogOpens) { EXPECT_THAT(OpenStatus(), IsOk()); }

TEST_F(EventLogTamperTest, AlteredBytesFailTheRecordChecksum) {
  {
    RawLog raw(path_);
    std::string value = raw.Get(raw.log(), internal::EncodePositionKey(3));
    value[value.find("refuge")] ^= 0x20;
    raw.Put(raw.log(), internal::EncodePositionKey(3), value);
  }
  EXPECT_THAT(OpenStatus(), StatusIs(absl::StatusCode::kDataLoss,
                                     HasSubstr("position 3 does not match its checksum")));
}

TEST_F(EventLogTamperTest, ARewrittenRecordWithAFreshChecksumBreaksTheChain) {
  {
    RawLog raw(path_);
    internal::LogRecord record = raw.Record(3);
    record.payload = "a different address";
    raw.Put(raw.log(), internal::EncodePositionKey(3), internal::EncodeRecord(&record));
  }
  EXPECT_THAT(OpenStatus(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("breaks between positions 3 and 4")));
}

TEST_F(EventLogTamperTest, ADeletedRecordIsNamed) {
  {
    RawLog raw(path_);
    raw.Delete(raw.log(), internal::EncodePositionKey(2));
  }
  EXPECT_THAT(OpenStatus(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 2 is missing")));
}

TEST_F(EventLogTamperTest, SwappedRecordsAreDetected) {
  {
    RawLog raw(path_);
    std::string second = raw.Get(raw.log(), internal::EncodePositionKey(2));
    std::string fourth = raw.Get(raw.log(), internal::EncodePositionKey(4));
    raw.Put(raw.log(), internal::EncodePositionKey(2), fourth);
    raw.Put(raw.log(), internal::EncodePositionKey(4), second);
  }
  EXPECT_THAT(OpenStatus(), StatusIs(absl::StatusCode::kDataLoss,
                                     HasSubstr("stored at position 2 says it is position 4")));
}

TEST_F(EventLogTamperTest, TruncatingTheTailContradictsTheStoredHead) {
  {
    RawLog raw(path_);
    raw.Delete(raw.log(), internal::EncodePositionKey(5));
  }
  EXPECT_THAT(OpenStatus(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("chain head is position 5 (")));
}

TEST_F(EventLogTamperTest, AMissingIndexEntryIsNamed) {
  {
    RawLog raw(path_);
    raw.Delete(raw.event_ids(), "e4");
  }
  EXPECT_THAT(VerifyWithoutOpenCheck(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("event-id index does not map e4 to position 4")));
}

TEST_F(EventLogTamperTest, AnExtraIndexEntryIsCounted) {
  {
    RawLog raw(path_);
    raw.Put(raw.event_ids(), "forged", internal::EncodePositionKey(1));
  }
  EXPECT_THAT(VerifyWithoutOpenCheck(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("has 6 entries for 5 records")));
}

TEST_F(EventLogTamperTest, AnotherFormatIsRefused) {
  {
    RawLog raw(path_);
    raw.Put(raw.meta(), internal::kFormatKey, "something else v9");
  }
  EXPECT_THAT(OpenStatus(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("something else v9")));
}

}  // namespace
}  // namespace hub::storage
