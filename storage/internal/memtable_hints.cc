#include "storage/internal/memtable_hints.h"

namespace hub::storage::internal {
namespace {

constexpr size_t kCounterBytes = 8;

class KeyWithoutCounter : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "hub.KeyWithoutCounter"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - kCounterBytes);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= kCounterBytes; }
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> HintByKeyWithoutCounter() {
  static const std::shared_ptr<const rocksdb::SliceTransform> transform =
      std::make_shared<KeyWithoutCounter>();
  return transform;
}

}  // namespace hub::storage::internal
