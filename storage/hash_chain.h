// SHA-256 digests and the hash chain that links every stored record to its
// predecessor. The event log (and later the audit log) use it so that an edit,
// deletion or reordering of stored records is detectable by re-verification.
#ifndef HUB_STORAGE_HASH_CHAIN_H_
#define HUB_STORAGE_HASH_CHAIN_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace hub::storage {

using Sha256Digest = std::array<uint8_t, 32>;

// The predecessor of the first record in a chain.
inline constexpr Sha256Digest kGenesisDigest{};

// SHA-256 of `data` (OpenSSL). Safe to call concurrently.
Sha256Digest Sha256(std::string_view data);

// Lower-case hexadecimal, for messages and tools.
std::string DigestToHex(const Sha256Digest& digest);

}  // namespace hub::storage

#endif  // HUB_STORAGE_HASH_CHAIN_H_
