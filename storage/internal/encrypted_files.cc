#include "storage/internal/encrypted_files.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "rocksdb/env_encryption.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace hub::storage::internal {
namespace {

// A page, as RocksDB advises, so that the data after it stays aligned.
constexpr size_t kPrefixLength = 4096;
constexpr char kMarker[] = "hub views: AES-256-CTR v1\n";
constexpr size_t kMarkerLength = sizeof(kMarker) - 1;
constexpr size_t kFingerprintLength = 8;
constexpr size_t kIvLength = 16;
constexpr size_t kBlock = 16;

using Fingerprint = std::array<unsigned char, kFingerprintLength>;
using Iv = std::array<unsigned char, kIvLength>;

// Which key a file was written under, without revealing it: a wrong key is
// then a clear error instead of garbage that RocksDB reports as corruption.
Fingerprint FingerprintOf(const std::string& key) {
  const std::string input = "hub views key check\n" + key;
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  Fingerprint fingerprint{};
  std::memcpy(fingerprint.data(), digest.data(), fingerprint.size());
  return fingerprint;
}

// Fetched once: OpenSSL 3 looks an implicit EVP_aes_256_ctr() up again at
// every initialisation, and a stream initialises one per read and write.
const EVP_CIPHER* AesCtr() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  return cipher;
}

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};

class AesCtrStream final : public rocksdb::BlockAccessCipherStream {
 public:
  AesCtrStream(const std::string& key, const Iv& iv) : key_(key), iv_(iv) {}

  size_t BlockSize() override { return kBlock; }
  // Whole runs at once: RocksDB's default goes a block at a time.
  rocksdb::Status Encrypt(uint64_t offset, char* data, size_t size) override {
    return Apply(offset, data, size);
  }
  rocksdb::Status Decrypt(uint64_t offset, char* data, size_t size) override {
    return Apply(offset, data, size);
  }

 protected:
  void AllocateScratch(std::string& /*scratch*/) override {}
  rocksdb::Status EncryptBlock(uint64_t block, char* data, char* /*scratch*/) override {
    return Apply(block * kBlock, data, kBlock);
  }
  rocksdb::Status DecryptBlock(uint64_t block, char* data, char* /*scratch*/) override {
    return Apply(block * kBlock, data, kBlock);
  }

 private:
  // CTR is its own inverse: the keystream from block offset/16 on, with the
  // counter the file's IV plus the block number.
  rocksdb::Status Apply(uint64_t offset, char* data, size_t size) const {
    Iv counter = iv_;
    uint64_t add = offset / kBlock;
    for (size_t i = counter.size(); i-- > 0 && add != 0;) {
      const uint64_t sum = counter[i] + (add & 0xff);
      counter[i] = static_cast<unsigned char>(sum);
      add = (add >> 8) + (sum >> 8);
    }
    std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree> context(EVP_CIPHER_CTX_new());
    if (context == nullptr || AesCtr() == nullptr ||
        EVP_EncryptInit_ex(context.get(), AesCtr(), nullptr,
                           reinterpret_cast<const unsigned char*>(key_.data()),
                           counter.data()) != 1) {
      return rocksdb::Status::IOError("AES-256-CTR could not be set up");
    }
    int written = 0;
    // Into the block: the keystream's first bytes belong to the data before.
    if (const size_t skip = offset % kBlock; skip != 0) {
      std::array<unsigned char, kBlock> discard{};
      if (EVP_EncryptUpdate(context.get(), discard.data(), &written, discard.data(),
                            static_cast<int>(skip)) != 1) {
        return rocksdb::Status::IOError("AES-256-CTR failed");
      }
    }
    auto* bytes = reinterpret_cast<unsigned char*>(data);
    for (size_t done = 0; done < size;) {
      const int chunk = static_cast<int>(std::min<size_t>(size - done, 1 << 30));
      if (EVP_EncryptUpdate(context.get(), bytes + done, &written, bytes + done, chunk) != 1) {
        return rocksdb::Status::IOError("AES-256-CTR failed");
      }
      done += static_cast<size_t>(chunk);
    }
    return rocksdb::Status::OK();
  }

  const std::string key_;
  const Iv iv_;
};

class AesCtrProvider final : public rocksdb::EncryptionProvider {
 public:
  explicit AesCtrProvider(std::string key)
      : key_(std::move(key)), fingerprint_(FingerprintOf(key_)) {}

  const char* Name() const override { return "HubViewsAes256Ctr"; }
  size_t GetPrefixLength() const override { return kPrefixLength; }

  rocksdb::Status CreateNewPrefix(const std::string& /*file*/, char* prefix,
                                  size_t length) const override {
    if (length < kMarkerLength + kFingerprintLength + kIvLength) {
      return rocksdb::Status::InvalidArgument("the encryption prefix is too short");
    }
    std::memset(prefix, 0, length);
    std::memcpy(prefix, kMarker, kMarkerLength);
    std::memcpy(prefix + kMarkerLength, fingerprint_.data(), kFingerprintLength);
    const bool drawn =
        RAND_bytes(reinterpret_cast<unsigned char*>(prefix + kMarkerLength + kFingerprintLength),
                   kIvLength) == 1;
    // Files are made on RocksDB's background threads, which live until the
    // process ends: OpenSSL's random state for such a thread would never be
    // freed. Drawn again for the next file, it costs microseconds a file.
    OPENSSL_thread_stop();
    if (!drawn) return rocksdb::Status::IOError("no random IV could be drawn for a views file");
    return rocksdb::Status::OK();
  }

  rocksdb::Status AddCipher(const std::string& /*descriptor*/, const char* /*cipher*/,
                            size_t /*length*/, bool /*for_write*/) override {
    return rocksdb::Status::NotSupported("the views key is given when the views are opened");
  }

  rocksdb::Status CreateCipherStream(
      const std::string& file, const rocksdb::EnvOptions& /*options*/, rocksdb::Slice& prefix,
      std::unique_ptr<rocksdb::BlockAccessCipherStream>* result) override {
    if (prefix.size() < kMarkerLength + kFingerprintLength + kIvLength ||
        std::memcmp(prefix.data(), kMarker, kMarkerLength) != 0 ||
        std::memcmp(prefix.data() + kMarkerLength, fingerprint_.data(), kFingerprintLength) != 0) {
      return rocksdb::Status::Corruption(file, kNotUnderThisKey);
    }
    Iv iv{};
    std::memcpy(iv.data(), prefix.data() + kMarkerLength + kFingerprintLength, kIvLength);
    *result = std::make_unique<AesCtrStream>(key_, iv);
    return rocksdb::Status::OK();
  }

 private:
  const std::string key_;
  const Fingerprint fingerprint_;
};

}  // namespace

bool MissingOrEncrypted(const std::string& directory) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    // RocksDB's lock and its own log are never encrypted.
    if (name == "LOCK" || name.rfind("LOG", 0) == 0 || !entry.is_regular_file(error)) continue;
    // A file cut short by a crash before its prefix was written counts as
    // unreadable too: the views are rebuilt rather than RocksDB aborting.
    std::ifstream file(entry.path(), std::ios::binary);
    std::string start(kMarkerLength, '\0');
    file.read(start.data(), static_cast<std::streamsize>(start.size()));
    if (file.gcount() != static_cast<std::streamsize>(kMarkerLength) || start != kMarker ||
        entry.file_size(error) < kPrefixLength) {
      return false;
    }
  }
  return true;
}

std::unique_ptr<rocksdb::Env> NewEncryptedEnv(const std::string& key) {
  return std::unique_ptr<rocksdb::Env>(
      rocksdb::NewEncryptedEnv(rocksdb::Env::Default(), std::make_shared<AesCtrProvider>(key)));
}

}  // namespace hub::storage::internal
