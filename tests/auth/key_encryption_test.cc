// Keys for data at rest, played as whoever holds the disk would: altered
// ciphertext, a wrapped key moved to another subject, a key folder others
// can read or that sits inside the data folder.
#include "auth/key_encryption.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/aead.h"
#include "auth/key_files.h"
#include "tests/testing/temp_dir.h"

namespace hub::auth {
namespace {

using ::hub::testing::TempDir;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1796000000);  // 2026-11-30 00:53:20 UTC

TEST(AeadTest, SealedDataOpensOnlyUnchangedUnderItsKeyAndPlace) {
  const std::string key = *NewAeadKey();
  const std::string secret = "Refuge: 14 Example Road";
  const absl::StatusOr<std::string> sealed = Seal(key, secret, "event 7 field location");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->size(), secret.size() + kAeadOverheadBytes);
  EXPECT_EQ(sealed->find(secret), std::string::npos);
  EXPECT_EQ(*Open(key, *sealed, "event 7 field location"), secret);

  // The same plaintext seals differently each time (a fresh nonce).
  EXPECT_NE(*Seal(key, secret, "event 7 field location"), *sealed);

  // Every byte is covered: nonce, ciphertext and tag.
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string altered = *sealed;
    altered[i] ^= 0x01;
    EXPECT_EQ(Open(key, altered, "event 7 field location").status().code(),
              absl::StatusCode::kDataLoss)
        << "byte " << i;
  }
  // Moved to another event or field, or opened with another key: refused.
  EXPECT_EQ(Open(key, *sealed, "event 8 field location").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(*NewAeadKey(), *sealed, "event 7 field location").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, sealed->substr(0, 20), "event 7 field location").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Seal("short", secret, "").status().code(), absl::StatusCode::kInvalidArgument);
}

// GCM under one key is broken by a single repeated nonce: nonces come from
// per-thread pools, so check many seals, on several threads, and a forked
// child (which inherits its parent's pool) never repeat one.
TEST(AeadTest, NoncesNeverRepeatAcrossSealsThreadsOrAFork) {
  const std::string key(kAeadKeyBytes, 'k');
  std::set<std::string> nonces;
  absl::Mutex mu;
  auto seal_many = [&](int count) {
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<std::string> sealed = Seal(key, "same text", "same place");
      ASSERT_TRUE(sealed.ok());
      absl::MutexLock lock(&mu);
      EXPECT_TRUE(nonces.insert(sealed->substr(0, kAeadNonceBytes)).second);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(seal_many, 1000);
  for (std::thread& thread : threads) thread.join();
  seal_many(10);
  EXPECT_EQ(nonces.size(), 4010u);

  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::string> sealed = Seal(key, "same text", "same place");
    const std::string nonce = sealed.ok() ? sealed->substr(0, kAeadNonceBytes) : "";
    const ssize_t written = ::write(pipe_ends[1], nonce.data(), nonce.size());
    ::_exit(written == static_cast<ssize_t>(kAeadNonceBytes) ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  std::string child_nonce(kAeadNonceBytes, '\0');
  EXPECT_EQ(::read(pipe_ends[0], child_nonce.data(), child_nonce.size()),
            static_cast<ssize_t>(kAeadNonceBytes));
  ::close(pipe_ends[0]);
  int wait_status = 0;
  ::waitpid(child, &wait_status, 0);
  absl::StatusOr<std::string> parent_next = Seal(key, "same text", "same place");
  ASSERT_TRUE(parent_next.ok());
  EXPECT_NE(child_nonce, parent_next->substr(0, kAeadNonceBytes));
  EXPECT_EQ(nonces.count(child_nonce), 0u);
}

TEST(AeadTest, EmptyPlaintextStillAuthenticates) {
  const std::string key = *NewAeadKey();
  const std::string sealed = *Seal(key, "", "nothing");
  EXPECT_EQ(*Open(key, sealed, "nothing"), "");
  EXPECT_FALSE(Open(key, sealed, "something").ok());
}

class KeyFolderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(mkdir(data_.c_str(), 0700), 0); }

  TempDir dir_;
  const std::string data_ = dir_.Sub("data");
  const std::string keys_ = dir_.Sub("keys");
};

TEST_F(KeyFolderTest, WrapsDataKeysThatUnwrapOnlyForTheirContext) {
  const absl::StatusOr<std::string> id = KeyFolder::AddKey(keys_, kNow);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "20261130T005320Z");
  struct stat info;
  ASSERT_EQ(stat((keys_ + "/" + *id + ".kek").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0400u);
  ASSERT_EQ(stat(keys_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);

  const absl::StatusOr<std::unique_ptr<KeyFolder>> folder = KeyFolder::Open(keys_, data_);
  ASSERT_TRUE(folder.ok()) << folder.status();
  const std::string data_key = *NewAeadKey();
  const absl::StatusOr<WrappedKey> wrapped = (*folder)->Wrap(data_key, "subject S-1");
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  EXPECT_EQ(wrapped->kek_id, *id);
  EXPECT_EQ(wrapped->sealed.find(data_key), std::string::npos);
  EXPECT_EQ(*(*folder)->Unwrap(*wrapped, "subject S-1"), data_key);

  // A wrapped key copied to another subject does not open there.
  EXPECT_EQ((*folder)->Unwrap(*wrapped, "subject S-2").status().code(),
            absl::StatusCode::kDataLoss);
  // Nor does one that claims another key-encryption key.
  WrappedKey relabelled = *wrapped;
  relabelled.kek_id = "20990101T000000Z";
  EXPECT_EQ((*folder)->Unwrap(relabelled, "subject S-1").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KeyFolderTest, RotationKeepsOldWrapsReadableUntilTheOldKeyIsRemoved) {
  const std::string first = *KeyFolder::AddKey(keys_, kNow);
  const std::string data_key = *NewAeadKey();
  const WrappedKey old_wrap = *(*KeyFolder::Open(keys_, data_))->Wrap(data_key, "case C-1");

  const std::string second = *KeyFolder::AddKey(keys_, kNow + absl::Hours(24 * 90));
  std::unique_ptr<KeyFolder> rotated = *KeyFolder::Open(keys_, data_);
  EXPECT_EQ(rotated->ActiveKeyId(), second);
  EXPECT_EQ(*rotated->Unwrap(old_wrap, "case C-1"), data_key);
  const WrappedKey new_wrap = *rotated->Wrap(*rotated->Unwrap(old_wrap, "case C-1"), "case C-1");
  EXPECT_EQ(new_wrap.kek_id, second);

  // Two keys made in the same second do not overwrite each other.
  const std::string same_second = *KeyFolder::AddKey(keys_, kNow);
  EXPECT_NE(same_second, first);

  ASSERT_EQ(unlink((keys_ + "/" + first + ".kek").c_str()), 0);
  std::unique_ptr<KeyFolder> retired = *KeyFolder::Open(keys_, data_);
  const absl::Status gone = retired->Unwrap(old_wrap, "case C-1").status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(gone.message(), HasSubstr(first));
  EXPECT_EQ(*retired->Unwrap(new_wrap, "case C-1"), data_key);
}

TEST_F(KeyFolderTest, KeysOthersCanReadAreRefused) {
  const std::string id = *KeyFolder::AddKey(keys_, kNow);
  const std::string file = keys_ + "/" + id + ".kek";

  ASSERT_EQ(chmod(keys_.c_str(), 0750), 0);
  absl::Status refused = KeyFolder::Open(keys_, data_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("chmod 700"));
  ASSERT_EQ(chmod(keys_.c_str(), 0700), 0);

  ASSERT_EQ(chmod(file.c_str(), 0644), 0);
  refused = KeyFolder::Open(keys_, data_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("mode 0644"));
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  EXPECT_TRUE(KeyFolder::Open(keys_, data_).ok());
}

TEST_F(KeyFolderTest, KeysInsideTheDataFolderAreRefusedEvenThroughALink) {
  const std::string inside = data_ + "/keys";
  ASSERT_TRUE(KeyFolder::AddKey(inside, kNow).ok());
  absl::Status refused = KeyFolder::Open(inside, data_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("inside the data folder"));

  // A link from outside that leads into the data folder is no better.
  const std::string link = dir_.Sub("innocent-looking");
  ASSERT_EQ(symlink(inside.c_str(), link.c_str()), 0);
  refused = KeyFolder::Open(link, data_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("inside the data folder"));

  // Nor a single key file in it.
  const std::string key_file = data_ + "/signing.key";
  std::ofstream(key_file) << "secret";
  ASSERT_EQ(chmod(key_file.c_str(), 0600), 0);
  EXPECT_EQ(CheckSecretKeyFile(key_file, data_).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(KeyFolderTest, AFolderWithoutKeysOrWithSomethingElseIsRefused) {
  ASSERT_EQ(mkdir(keys_.c_str(), 0700), 0);
  EXPECT_EQ(KeyFolder::Open(keys_, data_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(KeyFolder::Open(dir_.Sub("missing"), data_).status().code(),
            absl::StatusCode::kNotFound);

  const std::string not_a_key = keys_ + "/20260101T000000Z.kek";
  std::ofstream(not_a_key) << "not base64 of 32 bytes\n";
  ASSERT_EQ(chmod(not_a_key.c_str(), 0600), 0);
  const absl::Status refused = KeyFolder::Open(keys_, data_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("is not a key-encryption key"));
}

}  // namespace
}  // namespace hub::auth
