// Signed checkpoints as a witness reads them: standard format, verifiable
// with openssl alone, and refused when altered or signed by another key.
#include "auth/checkpoint.h"

#include <cstdlib>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/temp_dir.h"

namespace hub::auth {
namespace {

using ::testing::HasSubstr;

Checkpoint Example() {
  Checkpoint checkpoint;
  checkpoint.origin = "hub.drive.example-county.gov.uk/log";
  checkpoint.size = 1234;
  for (size_t i = 0; i < checkpoint.root.size(); ++i) checkpoint.root[i] = static_cast<uint8_t>(i);
  return checkpoint;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signer_ = *TreeHeadSigner::LoadOrCreate(dir_.Sub("key.pem"));
    other_ = *TreeHeadSigner::LoadOrCreate(dir_.Sub("other.pem"));
  }
  hub::testing::TempDir dir_;
  std::unique_ptr<TreeHeadSigner> signer_;
  std::unique_ptr<TreeHeadSigner> other_;
  const std::string name_ = "hub.drive.example-county.gov.uk";
};

TEST_F(CheckpointTest, IsASignedNoteInTheCheckpointFormat) {
  const std::string note = *SignCheckpoint(Example(), *signer_, name_);
  EXPECT_THAT(note, ::testing::StartsWith("hub.drive.example-county.gov.uk/log\n1234\n"
                                          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n"
                                          "\xe2\x80\x94 hub.drive.example-county.gov.uk "));
  EXPECT_EQ(note.back(), '\n');
  const absl::StatusOr<Checkpoint> opened = OpenCheckpoint(note, signer_->public_key_pem(), name_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->origin, Example().origin);
  EXPECT_EQ(opened->size, 1234u);
  EXPECT_EQ(opened->root, Example().root);
}

// The governance group needs only openssl: the key id is the first four
// bytes of SHA-256 of the key's DER form, the rest an ECDSA signature of the
// note text.
TEST_F(CheckpointTest, StandardToolsVerifyIt) {
  const std::string note = *SignCheckpoint(Example(), *signer_, name_);
  const std::string text = note.substr(0, note.find("\n\n") + 1);
  std::string signature;
  ASSERT_TRUE(absl::Base64Unescape(
      note.substr(note.rfind(' ') + 1, note.size() - note.rfind(' ') - 2), &signature));
  std::ofstream(dir_.Sub("note.txt"), std::ios::binary) << text;
  std::ofstream(dir_.Sub("note.sig"), std::ios::binary) << signature.substr(4);
  std::ofstream(dir_.Sub("key.id"), std::ios::binary) << signature.substr(0, 4);
  EXPECT_EQ(std::system(absl::StrCat("openssl dgst -sha256 -verify ", dir_.Sub("key.pem.pub"),
                                     " -signature ", dir_.Sub("note.sig"), " ",
                                     dir_.Sub("note.txt"), " > /dev/null")
                            .c_str()),
            0);
  EXPECT_EQ(std::system(absl::StrCat("openssl pkey -pubin -in ", dir_.Sub("key.pem.pub"),
                                     " -outform DER | openssl dgst -sha256 -binary | head -c 4 | "
                                     "cmp -s - ",
                                     dir_.Sub("key.id"))
                            .c_str()),
            0);
}

TEST_F(CheckpointTest, AnAlteredOrForeignCheckpointIsRefused) {
  const std::string note = *SignCheckpoint(Example(), *signer_, name_);
  std::string altered = note;
  altered.replace(altered.find("1234"), 4, "1235");
  EXPECT_EQ(OpenCheckpoint(altered, signer_->public_key_pem(), name_).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Signed with a key made by whoever holds the disk: not the hub's.
  const std::string forged = *SignCheckpoint(Example(), *other_, name_);
  const absl::Status refused = OpenCheckpoint(forged, signer_->public_key_pem(), name_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.message(), HasSubstr("carries no signature"));
  // The right key under another name is another key.
  EXPECT_FALSE(OpenCheckpoint(note, signer_->public_key_pem(), "someone-else").ok());
  EXPECT_EQ(OpenCheckpoint("no blank line\n", signer_->public_key_pem(), name_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointTest, AFileOfNotesSplitsIntoThem) {
  Checkpoint second = Example();
  second.size = 2000;
  const std::string first_note = *SignCheckpoint(Example(), *signer_, name_);
  const std::string second_note = *SignCheckpoint(second, *signer_, name_);
  const std::vector<std::string> notes =
      SplitNotes(absl::StrCat(first_note, "\n", second_note, "\n"));
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0], first_note);
  EXPECT_EQ(notes[1], second_note);
  EXPECT_EQ(OpenCheckpoint(notes[1], signer_->public_key_pem(), name_)->size, 2000u);
}

// Rotation: the old key vouches for the new one in a note both sign.
class KeyRotationTest : public CheckpointTest {
 protected:
  std::string Note(uint64_t size, const std::vector<const TreeHeadSigner*>& signers,
                   const TreeHeadSigner* next = nullptr) {
    Checkpoint checkpoint = Example();
    checkpoint.size = size;
    if (next != nullptr) checkpoint.next_key_pem = next->public_key_pem();
    return *SignCheckpoint(checkpoint, signers, name_);
  }
  // The key the hub rotates to (`other_` plays whoever holds the disk).
  std::unique_ptr<TreeHeadSigner> next_ = *TreeHeadSigner::LoadOrCreate(dir_.Sub("next.pem"));
};

TEST_F(KeyRotationTest, TheAnnouncementCarriesTheNextKeyAndBothSignatures) {
  const std::string note = Note(10, {signer_.get(), next_.get()}, next_.get());
  EXPECT_THAT(note, HasSubstr("\nnext-key MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"));
  const absl::StatusOr<Checkpoint> opened = OpenCheckpoint(note, signer_->public_key_pem(), name_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->next_key_pem, next_->public_key_pem());
  EXPECT_TRUE(OpenCheckpoint(note, next_->public_key_pem(), name_).ok());
}

TEST_F(KeyRotationTest, AWitnessFollowsTheChainOfKeys) {
  CheckpointKeyChain chain(signer_->public_key_pem());
  EXPECT_TRUE(chain.Open(Note(5, {signer_.get()}), name_).ok());
  EXPECT_TRUE(chain.Open(Note(10, {signer_.get(), next_.get()}, next_.get()), name_).ok());
  EXPECT_EQ(chain.rotations(), 1u);
  EXPECT_EQ(chain.key_in_force_pem(), next_->public_key_pem());
  const absl::StatusOr<Checkpoint> after = chain.Open(Note(20, {next_.get()}), name_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->size, 20u);
  // The hub's list of rotations, appended again, is accepted and changes
  // nothing.
  EXPECT_TRUE(chain.Open(Note(10, {signer_.get(), next_.get()}, next_.get()), name_).ok());
  EXPECT_EQ(chain.key_in_force_pem(), next_->public_key_pem());
}

// Whoever stole the old key signs a later checkpoint with it.
TEST_F(KeyRotationTest, TheRetiredKeySignsNothingAfterItsRotation) {
  CheckpointKeyChain chain(signer_->public_key_pem());
  ASSERT_TRUE(chain.Open(Note(10, {signer_.get(), next_.get()}, next_.get()), name_).ok());
  const absl::Status refused = chain.Open(Note(30, {signer_.get()}), name_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.message(), HasSubstr("retired at rotation 1"));
  // Nor may it announce a key of its own choosing.
  const absl::Status rerouted =
      chain.Open(Note(30, {signer_.get(), other_.get()}, other_.get()), name_).status();
  EXPECT_EQ(rerouted.code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(KeyRotationTest, AnAnnouncedKeyMustHaveSigned) {
  // The hub's key signed a note naming a key that did not sign it: no
  // proof that anyone holds it, so nobody follows.
  CheckpointKeyChain chain(signer_->public_key_pem());
  const absl::Status refused = chain.Open(Note(10, {signer_.get()}, other_.get()), name_).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.message(), HasSubstr("announces a next key that did not sign it"));
  EXPECT_EQ(chain.key_in_force_pem(), signer_->public_key_pem());
  // Nor does one starting from the new key accept what only the old signed.
  CheckpointKeyChain from_new(next_->public_key_pem());
  EXPECT_FALSE(from_new.Open(Note(5, {signer_.get()}), name_).ok());
}

TEST_F(KeyRotationTest, AMalformedNextKeyIsRefused) {
  std::string note = Note(10, {signer_.get(), next_.get()}, next_.get());
  const size_t line = note.find("next-key ") + 9;
  note.replace(line, note.find('\n', line) - line, "bm90IGEga2V5");
  EXPECT_EQ(OpenCheckpoint(note, signer_->public_key_pem(), name_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hub::auth
