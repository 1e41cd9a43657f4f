// One memory budget for the hub's RocksDB databases (the event log and the
// views): a block cache they share, with their memtables charged to it, so
// that what RocksDB holds stays within one figure however large the data
// grows. Without it each database keeps its own cache and memtable budget
// (64 MiB each), which is what tools opening a single database want.
#ifndef HUB_STORAGE_MEMORY_H_
#define HUB_STORAGE_MEMORY_H_

#include <cstddef>
#include <memory>

namespace rocksdb {
class Cache;
class WriteBufferManager;
}  // namespace rocksdb

namespace hub::storage {

class StorageMemory {
 public:
  // `total_bytes` for cached blocks and memtables together, of which
  // memtables may take up to `memtable_bytes` (then the largest is flushed).
  static std::shared_ptr<StorageMemory> Create(size_t total_bytes, size_t memtable_bytes);

  size_t total_bytes() const { return total_bytes_; }
  // What the databases are opened with.
  const std::shared_ptr<rocksdb::Cache>& block_cache() const { return block_cache_; }
  const std::shared_ptr<rocksdb::WriteBufferManager>& write_buffers() const {
    return write_buffers_;
  }
  // Bytes held now: cached blocks and memtables.
  size_t UsedBytes() const;

 private:
  StorageMemory() = default;
  size_t total_bytes_ = 0;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
};

}  // namespace hub::storage

#endif  // HUB_STORAGE_MEMORY_H_
