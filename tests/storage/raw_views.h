// Test helper: the views' RocksDB column families opened directly, as an
// insider holding the data folder (and, since the views are encrypted, the
// views key from the keys folder) could change them behind the hub's back.
#ifndef HUB_TESTS_STORAGE_RAW_VIEWS_H_
#define HUB_TESTS_STORAGE_RAW_VIEWS_H_

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"

#include "storage/internal/encrypted_files.h"

namespace hub::storage {

class RawViews {
 public:
  // `views_key`: the key the views' files are encrypted under (empty: they
  // are in the clear).
  explicit RawViews(const std::string& path, const std::string& views_key = "") {
    const rocksdb::Status status = Open(path, views_key);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  // Whether the views open with `views_key` (empty: in the clear), every
  // family of them.
  static rocksdb::Status TryOpen(const std::string& path, const std::string& views_key) {
    RawViews views;
    return views.Open(path, views_key);
  }
  ~RawViews() {
    if (db_ == nullptr) return;
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  RawViews(const RawViews&) = delete;
  RawViews& operator=(const RawViews&) = delete;

  bool ok() const { return db_ != nullptr; }
  rocksdb::ColumnFamilyHandle* content() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* index() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* keys() { return handles_[5]; }

  // The first key of `family` ("" if it holds none).
  std::string FirstKey(rocksdb::ColumnFamilyHandle* family) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family));
    it->SeekToFirst();
    return it->Valid() ? it->key().ToString() : "";
  }
  // The last key of `family` ("" if it holds none).
  std::string LastKey(rocksdb::ColumnFamilyHandle* family) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family));
    it->SeekToLast();
    return it->Valid() ? it->key().ToString() : "";
  }
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

 private:
  RawViews() = default;
  rocksdb::Status Open(const std::string& path, const std::string& views_key) {
    if (!views_key.empty()) env_ = internal::NewEncryptedEnv(views_key);
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name :
         {"default", "view_content", "view_index", "view_cases", "view_summaries", "view_keys"}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DBOptions options;
    if (env_ != nullptr) options.env = env_.get();
    rocksdb::DB* db = nullptr;
    const rocksdb::Status status = rocksdb::DB::Open(options, path, families, &handles_, &db);
    db_.reset(db);
    return status;
  }

  // The files' encryption (null: in the clear); outlives the database.
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace hub::storage

#endif  // HUB_TESTS_STORAGE_RAW_VIEWS_H_
