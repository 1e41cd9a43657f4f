// Data keys as erasure depends on them: erased means gone from the disk, for
// good, whoever asks and however the store is reopened; and the folder
// tells nobody which subjects it holds keys for.
#include "auth/data_keys.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/key_encryption.h"
#include "tests/testing/temp_dir.h"

namespace hub::auth {
namespace {

using ::hub::testing::TempDir;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1796000000);

class DataKeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(KeyFolder::AddKey(dir_.Sub("keks"), kNow).ok());
    Reopen();
  }
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<KeyFolder>> keks = KeyFolder::Open(dir_.Sub("keks"), data_);
    ASSERT_TRUE(keks.ok()) << keks.status();
    absl::StatusOr<std::unique_ptr<DataKeyStore>> store =
        DataKeyStore::Open(folder_, data_, std::shared_ptr<const KeyFolder>(*std::move(keks)));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  // Every file name and content in the store's folder, for searching.
  std::string FolderText() {
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(folder_)) {
      std::ifstream file(entry.path());
      all += entry.path().filename().string() + "\n" +
             std::string(std::istreambuf_iterator<char>(file), {}) + "\n";
    }
    return all;
  }

  TempDir dir_;
  const std::string data_ = dir_.Sub("data");
  const std::string folder_ = dir_.Sub("data-keys");
  std::unique_ptr<DataKeyStore> store_;
};

TEST_F(DataKeyStoreTest, KeyIdsNameNoSubject) {
  const std::string id = store_->KeyId("subject", "V-2026-0042");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(store_->KeyId("subject", "V-2026-0042"), id);
  EXPECT_NE(store_->KeyId("case", "V-2026-0042"), id);
  EXPECT_NE(store_->KeyId("subject", "V-2026-0043"), id);
  ASSERT_TRUE(store_->GetOrCreate(id).ok());
  EXPECT_THAT(FolderText(), ::testing::Not(HasSubstr("V-2026-0042")));
  // Another store (another partnership's hub) names the same subject otherwise.
  TempDir other;
  auto keks = KeyFolder::Open(dir_.Sub("keks"), data_);
  auto other_store = DataKeyStore::Open(other.Sub("keys"), other.Sub("data"),
                                        std::shared_ptr<const KeyFolder>(*std::move(keks)));
  ASSERT_TRUE(other_store.ok());
  EXPECT_NE((*other_store)->KeyId("subject", "V-2026-0042"), id);
}

// Key files written by any earlier build must keep their names: an id is
// the first 16 bytes of HMAC-SHA-256(index secret, scope "\n" name), hex.
TEST_F(DataKeyStoreTest, KeyIdsAreTheDocumentedKeyedHash) {
  std::ifstream file(folder_ + "/index.secret");
  std::string encoded(std::istreambuf_iterator<char>(file), {});
  while (!encoded.empty() && (encoded.back() == '\n' || encoded.back() == '\r')) {
    encoded.pop_back();
  }
  std::string secret;
  ASSERT_TRUE(absl::Base64Unescape(encoded, &secret));
  const std::string message = "subject\nV-2026-0042";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ASSERT_NE(
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length),
      nullptr);
  EXPECT_EQ(store_->KeyId("subject", "V-2026-0042"),
            absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16)));
}

TEST_F(DataKeyStoreTest, AKeyIsMadeOnceAndOutlivesTheProcess) {
  const std::string id = store_->KeyId("subject", "V-1");
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kNotFound);
  const absl::StatusOr<std::string> key = store_->GetOrCreate(id);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->size(), 32u);
  EXPECT_EQ(*store_->GetOrCreate(id), *key);
  Reopen();
  EXPECT_EQ(*store_->Get(id), *key);
  // Stored only wrapped.
  EXPECT_THAT(FolderText(), ::testing::Not(HasSubstr(*key)));
}

TEST_F(DataKeyStoreTest, AnErasedKeyIsGoneForGood) {
  const std::string id = store_->KeyId("subject", "V-1");
  const std::string kept_id = store_->KeyId("subject", "V-2");
  ASSERT_TRUE(store_->GetOrCreate(id).ok());
  const std::string kept = *store_->GetOrCreate(kept_id);
  std::ifstream file(folder_ + "/" + id + ".key");
  const std::string wrapped(std::istreambuf_iterator<char>(file), {});
  ASSERT_FALSE(wrapped.empty());

  ASSERT_TRUE(store_->Erase(id, {kNow, "request", "SAR-2026-17"}).ok());
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kNotFound);
  const absl::Status refused = store_->GetOrCreate(id).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("erased"));
  EXPECT_THAT(FolderText(), ::testing::Not(HasSubstr(wrapped.substr(0, wrapped.size() - 1))));
  const std::optional<Erasure> erasure = store_->Erased(id);
  ASSERT_TRUE(erasure.has_value());
  EXPECT_EQ(erasure->erased_at, kNow);
  EXPECT_EQ(erasure->rule, "request");
  EXPECT_EQ(erasure->reference, "SAR-2026-17");
  EXPECT_FALSE(store_->Erased(kept_id).has_value());
  // Again: the first record stays.
  EXPECT_TRUE(store_->Erase(id, {kNow + absl::Hours(1), "other", ""}).ok());
  EXPECT_EQ(store_->Erased(id)->rule, "request");

  Reopen();
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetOrCreate(id).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*store_->Get(kept_id), kept);
}

// A crash between the erasure's record and the key's removal.
TEST_F(DataKeyStoreTest, AnInterruptedErasureIsFinishedAtOpen) {
  const std::string id = store_->KeyId("subject", "V-1");
  ASSERT_TRUE(store_->GetOrCreate(id).ok());
  store_.reset();
  std::ofstream(folder_ + "/" + id + ".erased") << "erased_at 1796000000\nrule request\n";
  Reopen();
  EXPECT_FALSE(std::filesystem::exists(folder_ + "/" + id + ".key"));
  EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DataKeyStoreTest, AKeyFileMovedToAnotherSubjectDoesNotOpen) {
  const std::string victim = store_->KeyId("subject", "V-1");
  const std::string other = store_->KeyId("subject", "V-2");
  ASSERT_TRUE(store_->GetOrCreate(victim).ok());
  std::filesystem::copy_file(folder_ + "/" + victim + ".key", folder_ + "/" + other + ".key");
  Reopen();
  EXPECT_EQ(store_->Get(other).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(DataKeyStoreTest, KeyEncryptionKeysRotateWithoutTouchingTheData) {
  const std::string id = store_->KeyId("case", "C-1");
  const std::string key = *store_->GetOrCreate(id);
  ASSERT_TRUE(KeyFolder::AddKey(dir_.Sub("keks"), kNow + absl::Hours(24)).ok());
  Reopen();
  EXPECT_EQ(*store_->Rewrap(), 1u);
  EXPECT_EQ(*store_->Rewrap(), 0u);
  // The old KEK goes; the data key still opens under the new one.
  std::filesystem::permissions(dir_.Sub("keks"), std::filesystem::perms::owner_all);
  for (const auto& entry : std::filesystem::directory_iterator(dir_.Sub("keks"))) {
    if (entry.path().filename().string().rfind("20261130T005320Z", 0) == 0) {
      std::filesystem::remove(entry.path());
    }
  }
  Reopen();
  EXPECT_EQ(*store_->Get(id), key);
}

// Whoever deletes the index secret (or restores the keys without it) must
// not get a store that quietly names every key anew and loses them all.
TEST_F(DataKeyStoreTest, AStoreWithKeysButNoIndexSecretIsRefused) {
  const std::string id = store_->KeyId("subject", "V-1");
  ASSERT_TRUE(store_->GetOrCreate(id).ok());
  store_.reset();
  std::filesystem::remove(folder_ + "/index.secret");
  auto keks = KeyFolder::Open(dir_.Sub("keks"), data_);
  ASSERT_TRUE(keks.ok());
  const absl::Status refused =
      DataKeyStore::Open(folder_, data_, std::shared_ptr<const KeyFolder>(*std::move(keks)))
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("index.secret"));
  EXPECT_FALSE(std::filesystem::exists(folder_ + "/index.secret"));
}

TEST_F(DataKeyStoreTest, TheStoreMayNotLieInsideTheDataFolder) {
  auto keks = KeyFolder::Open(dir_.Sub("keks"), data_);
  ASSERT_TRUE(keks.ok());
  const absl::Status refused =
      DataKeyStore::Open(data_ + "/keys", data_, std::shared_ptr<const KeyFolder>(*std::move(keks)))
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hub::auth
