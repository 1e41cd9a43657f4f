#include "storage/memory.h"

#include "rocksdb/cache.h"
#include "rocksdb/write_buffer_manager.h"

namespace hub::storage {

std::shared_ptr<StorageMemory> StorageMemory::Create(size_t total_bytes, size_t memtable_bytes) {
  std::shared_ptr<StorageMemory> memory(new StorageMemory());
  memory->total_bytes_ = total_bytes;
  memory->block_cache_ = rocksdb::NewLRUCache(total_bytes);
  // Charged to the cache: memtables push cached blocks out rather than
  // adding to them.
  memory->write_buffers_ =
      std::make_shared<rocksdb::WriteBufferManager>(memtable_bytes, memory->block_cache_);
  return memory;
}

size_t StorageMemory::UsedBytes() const { return block_cache_->GetUsage(); }

}  // namespace hub::storage
