// Where RocksDB's memtable may start looking when it inserts a key.
//
// Nearly every key the hub writes ends in an 8-byte big-endian counter
// after a fixed part (a log position; a case and its version; a view
// generation and principal and position), and each write continues the
// counter of the same fixed part. Without a hint the skip list searches
// for every such key from its top, which was most of the cost of an
// append's memtable inserts; with the fixed part as the hint's prefix, an
// insert starts where the previous one of the same prefix ended.
#ifndef HUB_STORAGE_INTERNAL_MEMTABLE_HINTS_H_
#define HUB_STORAGE_INTERNAL_MEMTABLE_HINTS_H_

#include <memory>

#include "rocksdb/slice_transform.h"

namespace hub::storage::internal {

// A prefix extractor for ColumnFamilyOptions::
// memtable_insert_with_hint_prefix_extractor: a key's prefix is all of it
// but its last 8 bytes; keys shorter than that get no hint.
std::shared_ptr<const rocksdb::SliceTransform> HintByKeyWithoutCounter();

}  // namespace hub::storage::internal

#endif  // HUB_STORAGE_INTERNAL_MEMTABLE_HINTS_H_
