// Files encrypted at rest for a RocksDB database the hub can rebuild (the
// views): AES-256-CTR through OpenSSL under a key held outside the data
// folder, with a fresh random IV per file kept in the file's first 4 KiB.
// CTR gives confidentiality only: what the views hold is checked against
// the log by `hubctl views verify`, not by the cipher.
#ifndef HUB_STORAGE_INTERNAL_ENCRYPTED_FILES_H_
#define HUB_STORAGE_INTERNAL_ENCRYPTED_FILES_H_

#include <memory>
#include <string>

#include "rocksdb/env.h"

namespace hub::storage::internal {

// What an error says when a file was not written under `key` (written in
// the clear, or under another key): the data is unreadable, not damaged.
inline constexpr char kNotUnderThisKey[] = "not encrypted under this views key";

// An Env whose files are encrypted under `key` (32 bytes), over the
// default Env. Must outlive every database opened with it.
std::unique_ptr<rocksdb::Env> NewEncryptedEnv(const std::string& key);

// Whether every file of the database in `directory` (if any) was written
// through NewEncryptedEnv (under some key). Debian's RocksDB asserts, and
// aborts, when its encrypted Env meets a file shorter than the encryption
// prefix, as files written in the clear or torn by a crash are: such a
// database is told apart before RocksDB opens it.
bool MissingOrEncrypted(const std::string& directory);

}  // namespace hub::storage::internal

#endif  // HUB_STORAGE_INTERNAL_ENCRYPTED_FILES_H_
