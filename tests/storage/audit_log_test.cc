// The audit log kept with the event log: atomic with appends, hash-chained,
// a Merkle tree whose roots and proofs agree with the records, and damage in
// the RocksDB files found and named.
#include <future>
#include <memory>
#include <string>
#include <thread>
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
using ::hub::testing::IsOkAndHolds;
using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

// The same leaves, hashed in memory, as an independent reference.
class Leaves : public MerkleHashSource {
 public:
  explicit Leaves(std::vector<std::string> records) : records_(std::move(records)) {}
  absl::StatusOr<Sha256Digest> PerfectSubtreeHash(int level, uint64_t index) const override {
    if (level == 0) return MerkleLeafHash(records_.at(index));
    return MerkleNodeHash(*PerfectSubtreeHash(level - 1, 2 * index),
                          *PerfectSubtreeHash(level - 1, 2 * index + 1));
  }

 private:
  std::vector<std::string> records_;
};

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    log_.reset();
    auto opened = EventLog::Open(path_, EventLogOptions());
    ASSERT_TRUE(opened.ok()) << opened.status();
    log_ = std::move(opened).value();
  }
  absl::Status OpenStatus() {
    log_.reset();
    return EventLog::Open(path_, EventLogOptions()).status();
  }

  hub::testing::TempDir dir_;
  std::string path_ = dir_.Sub("log");
  std::unique_ptr<EventLog> log_;
};

TEST_F(AuditLogTest, RecordsAreDenseDurableAndReadBack) {
  EXPECT_THAT(log_->Audit({"read C-1 by police", "read C-2 by idva"}), IsOkAndHolds(0u));
  EXPECT_THAT(log_->Audit({"denied C-1 to housing"}), IsOkAndHolds(2u));
  EXPECT_EQ(log_->AuditSize(), 3u);
  Reopen();
  EXPECT_EQ(log_->AuditSize(), 3u);
  EXPECT_THAT(log_->ReadAudit(1, 10),
              IsOkAndHolds(::testing::ElementsAre("read C-2 by idva", "denied C-1 to housing")));
  EXPECT_THAT(log_->Audit({"after restart"}), IsOkAndHolds(3u));
  EXPECT_THAT(log_->VerifyAudit(), IsOkAndHolds(4u));
  EXPECT_THAT(log_->Audit({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(log_->Audit({std::string(70000, 'x')}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audit record")));
  EXPECT_EQ(log_->AuditSize(), 4u);
}

// Deliveries are audited without waiting: the answer comes once the record
// is durable, and nothing to record is refused without writing anything.
TEST_F(AuditLogTest, AnAsynchronousAuditAnswersOnceDurable) {
  ASSERT_THAT(log_->Audit({"first"}), IsOkAndHolds(0u));
  std::promise<absl::StatusOr<uint64_t>> stored;
  log_->AuditAsync({"second", "third"},
                   [&](absl::StatusOr<uint64_t> index) { stored.set_value(index); });
  EXPECT_THAT(stored.get_future().get(), IsOkAndHolds(1u));
  EXPECT_EQ(log_->AuditSize(), 3u);

  std::promise<absl::StatusOr<uint64_t>> nothing;
  log_->AuditAsync({}, [&](absl::StatusOr<uint64_t> index) { nothing.set_value(index); });
  EXPECT_THAT(nothing.get_future().get(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(log_->AuditSize(), 3u);

  Reopen();
  EXPECT_THAT(log_->ReadAudit(0, 10),
              IsOkAndHolds(::testing::ElementsAre("first", "second", "third")));
}

TEST_F(AuditLogTest, AnAppendAndItsAuditRecordCommitTogether) {
  AppendRequest request;
  request.case_id = "C-1";
  request.events.push_back({"e1", "payload"});
  request.audit_records = [](const AppendResult& result) {
    return std::vector<std::string>{absl::StrCat("published position ", result.first_position)};
  };
  auto result = log_->Append(request);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->first_audit_index, 0u);
  EXPECT_EQ(result->audit_count, 1u);
  EXPECT_THAT(log_->ReadAudit(0, 10), IsOkAndHolds(::testing::ElementsAre("published position 1")));

  // A refused append writes no audit record through the log (the service
  // audits the denial itself).
  request.events[0].event_id = "e2";
  request.expected_version = 0;
  EXPECT_TRUE(IsVersionConflict(log_->Append(request).status()));
  EXPECT_EQ(log_->AuditSize(), 1u);

  // An audit record that cannot be written takes its append down with it.
  AppendRequest oversized;
  oversized.case_id = "C-1";
  oversized.events.push_back({"e3", "payload"});
  oversized.audit_records = [](const AppendResult&) {
    return std::vector<std::string>{std::string(70000, 'x')};
  };
  EXPECT_THAT(log_->Append(oversized), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(log_->LastPosition(), 1u);
  EXPECT_EQ(log_->AuditSize(), 1u);
}

TEST_F(AuditLogTest, TheStoredTreeGivesTheRootsAndProofsOfTheRecords) {
  std::vector<std::string> records;
  for (int i = 0; i < 37; ++i) {
    records.push_back(absl::StrCat("record ", i));
    ASSERT_THAT(log_->Audit({records.back()}), IsOk());
    if (i == 20) Reopen();  // the frontier is rebuilt from the stored tree
  }
  const Leaves reference(records);
  for (uint64_t n = 1; n <= records.size(); ++n) {
    auto stored_root = MerkleRoot(log_->AuditTree(), n);
    ASSERT_TRUE(stored_root.ok()) << stored_root.status();
    ASSERT_EQ(*stored_root, *MerkleRoot(reference, n)) << n;
  }
  const Sha256Digest root = *MerkleRoot(log_->AuditTree(), 37);
  auto inclusion = MerkleInclusionProof(log_->AuditTree(), 11, 37);
  ASSERT_TRUE(inclusion.ok());
  EXPECT_TRUE(VerifyMerkleInclusion(MerkleLeafHash("record 11"), 11, 37, *inclusion, root));
  auto consistency = MerkleConsistencyProof(log_->AuditTree(), 20, 37);
  ASSERT_TRUE(consistency.ok());
  EXPECT_TRUE(
      VerifyMerkleConsistency(20, 37, *consistency, *MerkleRoot(log_->AuditTree(), 20), root));
}

TEST_F(AuditLogTest, ConcurrentAppendsAndAuditsKeepOneConsistentTree) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        if (i % 2 == 0) {
          ASSERT_TRUE(log_->Audit({absl::StrCat("read by ", t, " #", i)}).ok());
        } else {
          AppendRequest request;
          request.case_id = absl::StrCat("C-", t);
          request.events.push_back({absl::StrCat("t", t, "-", i), "payload"});
          request.audit_records = [](const AppendResult& result) {
            return std::vector<std::string>{absl::StrCat("published ", result.first_position)};
          };
          ASSERT_TRUE(log_->Append(request).ok());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(log_->VerifyAudit(), IsOkAndHolds(320u));
  Reopen();
  EXPECT_THAT(log_->VerifyAudit(), IsOkAndHolds(320u));
  EXPECT_THAT(log_->Verify(), IsOk());
}

class AuditTamperTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    for (int i = 0; i < 6; ++i) ASSERT_THAT(log_->Audit({absl::StrCat("record ", i)}), IsOk());
    log_.reset();
  }
  absl::Status VerifyStatus() {
    auto opened = EventLog::Open(path_, EventLogOptions());
    if (!opened.ok()) return opened.status();
    return (*opened)->VerifyAudit().status();
  }
};

TEST_F(AuditTamperTest, AnAlteredRecordIsNamed) {
  {
    RawLog raw(path_);
    std::string value = raw.Get(raw.audit(), internal::EncodePositionKey(3));
    value[value.find("record 2")] ^= 0x20;
    raw.Put(raw.audit(), internal::EncodePositionKey(3), value);
  }
  EXPECT_THAT(VerifyStatus(), StatusIs(absl::StatusCode::kDataLoss,
                                       HasSubstr("audit record 2 is missing or damaged")));
}

// Re-encoded with a fresh checksum, the record no longer matches its leaf in
// the stored tree (and the next record's chain link), so it is named.
TEST_F(AuditTamperTest, ARewrittenRecordIsCaughtByTheTree) {
  {
    RawLog raw(path_);
    auto record = internal::DecodeRecord(raw.Get(raw.audit(), internal::EncodePositionKey(4)));
    ASSERT_TRUE(record.ok());
    record->payload = "a quieter record";
    raw.Put(raw.audit(), internal::EncodePositionKey(4), internal::EncodeRecord(&*record));
  }
  EXPECT_THAT(VerifyStatus(), StatusIs(absl::StatusCode::kDataLoss,
                                       HasSubstr("the audit tree disagrees with record 3")));
}

TEST_F(AuditTamperTest, ADeletedLastRecordContradictsTheStoredHead) {
  {
    RawLog raw(path_);
    raw.Delete(raw.audit(), internal::EncodePositionKey(6));
  }
  EXPECT_THAT(OpenStatus(), StatusIs(absl::StatusCode::kDataLoss,
                                     HasSubstr("says 6 records but the audit log holds 5")));
}

TEST_F(AuditTamperTest, AnAlteredTreeNodeIsNamed) {
  {
    RawLog raw(path_);
    raw.Put(raw.audit_nodes(), internal::EncodeAuditNodeKey(1, 1), std::string(32, 'x'));
  }
  EXPECT_THAT(VerifyStatus(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("the audit tree disagrees with record 3 at node 1/1")));
}

}  // namespace
}  // namespace hub::storage
