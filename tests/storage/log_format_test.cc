#include "storage/internal/log_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"

namespace hub::storage::internal {
namespace {

using ::hub::testing::StatusIs;

LogRecord Sample() {
  LogRecord record;
  record.position = 42;
  record.stream_version = 7;
  record.case_id = "C-2026-00172";
  record.event_id = "0b7e4f8c-1111-4222-8333-944445555666";
  record.payload = std::string("binary\0payload", 14);
  record.previous_digest = Sha256("the previous record");
  return record;
}

TEST(LogFormatTest, RoundTripsEveryField) {
  LogRecord record = Sample();
  const std::string bytes = EncodeRecord(&record);
  auto decoded = DecodeRecord(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->position, 42u);
  EXPECT_EQ(decoded->stream_version, 7u);
  EXPECT_EQ(decoded->case_id, record.case_id);
  EXPECT_EQ(decoded->event_id, record.event_id);
  EXPECT_EQ(decoded->payload, record.payload);
  EXPECT_EQ(decoded->previous_digest, record.previous_digest);
  EXPECT_EQ(decoded->digest, record.digest);
  EXPECT_EQ(record.digest, Sha256(std::string_view(bytes).substr(0, bytes.size() - 32)));
}

TEST(LogFormatTest, EveryFlippedBitIsDetected) {
  LogRecord record = Sample();
  const std::string bytes = EncodeRecord(&record);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      EXPECT_THAT(DecodeRecord(damaged), StatusIs(absl::StatusCode::kDataLoss))
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(LogFormatTest, EveryTruncationIsDetected) {
  LogRecord record = Sample();
  const std::string bytes = EncodeRecord(&record);
  for (size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_THAT(DecodeRecord(bytes.substr(0, length)), StatusIs(absl::StatusCode::kDataLoss))
        << "length " << length;
  }
  EXPECT_THAT(DecodeRecord(bytes + "x"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(LogFormatTest, PositionKeysSortNumerically) {
  EXPECT_LT(EncodePositionKey(255), EncodePositionKey(256));
  EXPECT_LT(EncodePositionKey(1), EncodePositionKey(uint64_t{1} << 40));
  EXPECT_EQ(*DecodePositionKey(EncodePositionKey(123456789)), 123456789u);
  EXPECT_THAT(DecodePositionKey("short"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(LogFormatTest, CaseIndexKeysOfOneCaseShareAPrefixNoOtherCaseHas) {
  EXPECT_EQ(EncodeCaseIndexKey("C-1", 3).rfind(CaseIndexPrefix("C-1"), 0), 0u);
  EXPECT_NE(EncodeCaseIndexKey("C-10", 3).rfind(CaseIndexPrefix("C-1"), 0), 0u);
  EXPECT_LT(EncodeCaseIndexKey("C-1", 255), EncodeCaseIndexKey("C-1", 256));
}

}  // namespace
}  // namespace hub::storage::internal
