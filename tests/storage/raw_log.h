// Test helper: the event log's RocksDB column families opened directly, as
// an insider or a failing disk could change them behind the log's back.
#ifndef HUB_TESTS_STORAGE_RAW_LOG_H_
#define HUB_TESTS_STORAGE_RAW_LOG_H_

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "storage/internal/log_format.h"

namespace hub::storage {

// Direct access to the log's column families, as an attacker would have.
class RawLog {
 public:
  explicit RawLog(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {internal::kLogFamily, {}},
        {internal::kEventIdFamily, {}},
        {internal::kCaseIndexFamily, {}},
        {internal::kAuditFamily, {}},
        {internal::kAuditNodeFamily, {}}};
    rocksdb::DB* db = nullptr;
    rocksdb::Status status = rocksdb::DB::Open(rocksdb::Options(), path, families, &handles_, &db);
    EXPECT_TRUE(status.ok()) << status.ToString();
    db_.reset(db);
  }
  ~RawLog() {
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  RawLog(const RawLog&) = delete;
  RawLog& operator=(const RawLog&) = delete;

  rocksdb::ColumnFamilyHandle* meta() { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* log() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* event_ids() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* case_index() { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* audit() { return handles_[4]; }
  rocksdb::ColumnFamilyHandle* audit_nodes() { return handles_[5]; }

  std::string Get(rocksdb::ColumnFamilyHandle* family, const std::string& key) {
    std::string value;
    EXPECT_TRUE(db_->Get(rocksdb::ReadOptions(), family, key, &value).ok());
    return value;
  }
  void Put(rocksdb::ColumnFamilyHandle* family, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), family, key, value).ok());
  }
  void Delete(rocksdb::ColumnFamilyHandle* family, const std::string& key) {
    ASSERT_TRUE(db_->Delete(rocksdb::WriteOptions(), family, key).ok());
  }
  internal::LogRecord Record(uint64_t position) {
    auto record = internal::DecodeRecord(Get(log(), internal::EncodePositionKey(position)));
    EXPECT_TRUE(record.ok());
    return *record;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace hub::storage

#endif  // HUB_TESTS_STORAGE_RAW_LOG_H_
