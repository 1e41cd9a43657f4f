// The insider: someone who holds the data folder (or a backup), edits the
// event log in RocksDB and recomputes every digest and the chain head, so
// that the log verifies on its own. Signed checkpoints collected earlier by
// a witness, signed with a key held outside the data folder, expose it.
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "auth/checkpoint.h"
#include "auth/tree_head_signer.h"
#include "storage/internal/log_format.h"
#include "tests/integration/hub_process.h"
#include "tests/integration/views_key.h"
#include "tests/storage/raw_log.h"
#include "tests/storage/raw_views.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/audit_service.grpc.pb.h"

namespace hub::testing {
namespace {

using ::testing::HasSubstr;

using Result = CommandResult;

class InsiderTest : public ::testing::Test {
 protected:
  // Once for the test binary: a hub opens 4 cases' worth of events, a
  // witness collects signed checkpoints of them, a backup is taken, a fifth
  // event is published and the hub stops (signing checkpoints again, which
  // the witness also keeps). Each test works on its own copy of the result.
  static void SetUpTestSuite() {
    base_ = new TempDir();
    shared_pki_ = new TestPki(base_->Sub("pki"));
    base_ready_ = BuildBase();
  }
  static void TearDownTestSuite() {
    delete shared_pki_;
    delete base_;
  }

  static bool BuildBase() {
    const std::string data = base_->Sub("data");
    auto started = HubProcess::Start(base_->path(), HubConfigText(*shared_pki_, data));
    if (!started.ok()) return false;
    const std::string address = (*started)->address();
    if (!OpenCases(*shared_pki_, address, {"C-IN-1", "C-IN-2", "C-IN-3"}).ok()) return false;
    // The witness collects checkpoints of the first 4 events over gRPC...
    hub::v1::GetCheckpointsResponse checkpoints;
    {
      grpc::ClientContext context;
      if (!hub::v1::AuditService::NewStub(shared_pki_->Channel(address, "governance-auditor"))
               ->GetCheckpoints(&context, hub::v1::GetCheckpointsRequest(), &checkpoints)
               .ok()) {
        return false;
      }
    }
    absl::StatusOr<hub::v1::BackupResponse> backup = TakeBackup(*shared_pki_, address);
    if (!backup.ok()) return false;
    backup_name_ = std::filesystem::path(backup->path()).filename().string();
    if (!OpenCases(*shared_pki_, address, {"C-IN-4"}).ok()) return false;
    // ... and those the hub signs as it stops, with the fifth.
    if ((*started)->Stop() != 0) return false;
    std::FILE* file = std::fopen(base_->Sub("witnessed-checkpoints.txt").c_str(), "w");
    if (file == nullptr) return false;
    std::fputs(absl::StrCat(checkpoints.log_checkpoint(), "\n", checkpoints.audit_checkpoint(),
                            "\n", ReadFile(data + "/audit/checkpoints.txt"))
                   .c_str(),
               file);
    std::fclose(file);
    return true;
  }

  void SetUp() override {
    ASSERT_TRUE(base_ready_) << "building the suite's hub state failed";
    for (const char* name : {"data", "data-keys", "data-backups", "witnessed-checkpoints.txt"}) {
      std::filesystem::copy(base_->Sub(name), dir_.Sub(name),
                            std::filesystem::copy_options::recursive);
    }
    backup_ = dir_.Sub("data-backups") + "/" + backup_name_;
  }

  Result LogVerify(const std::string& extra = "") {
    return RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_,
                                   " --public_key=", keys_, "/audit-key.pem.pub", extra));
  }

  Result Restore(const std::string& into) {
    return RunCommand(absl::StrCat(HUBCTL_PATH, " restore ", backup_, " --data_dir=", into,
                                   " --checkpoints=", witnessed_, " --public_key=", keys_,
                                   "/audit-key.pem.pub"));
  }

  // Rewrites the log from `position` on as an insider with the format
  // document would: each record re-encoded with a fresh checksum and linked
  // to the (new) digest before it, then the chain head.
  void RewriteFrom(uint64_t position, uint64_t last, const std::string& payload,
                   const std::string& events = "") {
    storage::RawLog raw(events.empty() ? data_ + "/events" : events);
    storage::Sha256Digest previous = raw.Record(position - 1).digest;
    for (uint64_t p = position; p <= last; ++p) {
      storage::internal::LogRecord record = raw.Record(p);
      if (p == position) record.payload = payload;
      record.previous_digest = previous;
      raw.Put(raw.log(), storage::internal::EncodePositionKey(p),
              storage::internal::EncodeRecord(&record));
      previous = record.digest;
    }
    SetChainHead(&raw, last, previous);
  }

  static void SetChainHead(storage::RawLog* raw, uint64_t last,
                           const storage::Sha256Digest& digest) {
    std::string head = storage::internal::EncodePositionKey(last);
    head.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    raw->Put(raw->meta(), storage::internal::kChainHeadKey, head);
  }

  static TempDir* base_;
  static TestPki* shared_pki_;
  static bool base_ready_;
  static std::string backup_name_;

  TempDir dir_;
  TestPki& pki_ = *shared_pki_;
  const std::string data_ = dir_.Sub("data");
  const std::string keys_ = dir_.Sub("data-keys");
  const std::string witnessed_ = dir_.Sub("witnessed-checkpoints.txt");
  std::string backup_;
};

TempDir* InsiderTest::base_ = nullptr;
TestPki* InsiderTest::shared_pki_ = nullptr;
bool InsiderTest::base_ready_ = false;
std::string InsiderTest::backup_name_;

TEST_F(InsiderTest, AnUntouchedLogExtendsEveryWitnessedCheckpoint) {
  const Result verified = LogVerify(" --checkpoints=" + witnessed_);
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("consistent with 2 signed log checkpoints"));
}

TEST_F(InsiderTest, AnEditedEventWithRecomputedDigestsIsCaughtByTheCheckpoint) {
  RewriteFrom(2, 5, "the case record as the insider wants it");
  // The log is consistent with itself: the chain alone cannot tell.
  const Result alone = LogVerify();
  EXPECT_EQ(alone.exit_status, 0) << alone.output;
  // Against what the witness collected, it is not.
  const Result witnessed = LogVerify(" --checkpoints=" + witnessed_);
  EXPECT_NE(witnessed.exit_status, 0);
  EXPECT_THAT(witnessed.output,
              HasSubstr("does NOT extend checkpoint drive-hub/log size 4: its chain digest"));
  EXPECT_THAT(witnessed.output, HasSubstr("an event at or before position 4 was changed"));
}

TEST_F(InsiderTest, ALogRolledBackToAnEarlierStateIsCaught) {
  {
    storage::RawLog raw(data_ + "/events");
    // The newest event goes, with its index entries, and the head is set
    // back: a consistent, older log.
    const storage::Sha256Digest fourth = raw.Record(4).digest;
    const storage::internal::LogRecord fifth = raw.Record(5);
    raw.Delete(raw.log(), storage::internal::EncodePositionKey(5));
    raw.Delete(raw.event_ids(), fifth.event_id);
    raw.Delete(raw.case_index(),
               storage::internal::EncodeCaseIndexKey(fifth.case_id, fifth.stream_version));
    SetChainHead(&raw, 4, fourth);
  }
  const Result alone = LogVerify();
  EXPECT_EQ(alone.exit_status, 0) << alone.output;
  const Result witnessed = LogVerify(" --checkpoints=" + witnessed_);
  EXPECT_NE(witnessed.exit_status, 0);
  EXPECT_THAT(witnessed.output, HasSubstr("it holds only 4 events (rolled back"));
}

TEST_F(InsiderTest, CheckpointsReSignedWithAFreshKeyAreRefused) {
  RewriteFrom(2, 5, "the case record as the insider wants it");
  // The insider signs a checkpoint of the edited log with a key of their own
  // (the hub's is not in the data folder) and swaps it into the file.
  auto forger = auth::TreeHeadSigner::LoadOrCreate(dir_.Sub("forger.pem"));
  ASSERT_TRUE(forger.ok());
  auth::Checkpoint forged;
  forged.origin = "drive-hub/log";
  forged.size = 4;
  {
    storage::RawLog raw(data_ + "/events");
    forged.root = raw.Record(4).digest;
  }
  const std::string note = *auth::SignCheckpoint(forged, **forger, "drive-hub");
  std::FILE* file = std::fopen(dir_.Sub("forged.txt").c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(note.c_str(), file);
  std::fclose(file);
  const Result verified = LogVerify(" --checkpoints=" + dir_.Sub("forged.txt"));
  EXPECT_NE(verified.exit_status, 0);
  EXPECT_THAT(verified.output, HasSubstr("is not the hub's"));
  // Nor does the data folder hold the key that would have made it pass.
  EXPECT_FALSE(std::filesystem::exists(data_ + "/audit/audit-key.pem"));
}

TEST_F(InsiderTest, RestoreRefusesABackupAlteredAfterItWasTaken) {
  const Result intact = Restore(dir_.Sub("restored"));
  EXPECT_EQ(intact.exit_status, 0) << intact.output;
  EXPECT_THAT(intact.output, HasSubstr("consistent with 1 signed log checkpoints"));
  // The backup is older than the last checkpoint: said, not hidden.
  EXPECT_THAT(intact.output, HasSubstr("it predates 1 later checkpoints: events up to position 5"));

  // Whoever holds the backup rewrites an event in it, digests and all.
  RewriteFrom(3, 4, "an altered referral", backup_ + "/events");
  const Result altered = Restore(dir_.Sub("restored-altered"));
  EXPECT_NE(altered.exit_status, 0);
  EXPECT_THAT(altered.output, HasSubstr("the backup does NOT match what was witnessed"));
  EXPECT_THAT(altered.output, HasSubstr("an event at or before position 4 was changed"));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("restored-altered") + "/events"));
}

// The insider restores an older backup and starts the hub on it with the
// real keys: the hub serves, signs new heads and checkpoints, and every
// export verifies on its own. What the witness collected before does not
// fit the rebuilt audit or log.
TEST_F(InsiderTest, AHubRestartedFromAnOlderBackupDoesNotExtendTheWitnessedCheckpoints) {
  const std::string restored = dir_.Sub("restored");
  ASSERT_EQ(RunCommand(absl::StrCat(HUBCTL_PATH, " restore ", backup_, " --data_dir=", restored))
                .exit_status,
            0);
  std::filesystem::create_directories(dir_.Sub("restored-work"));
  auto started = HubProcess::Start(dir_.Sub("restored-work"),
                                   HubConfigText(pki_, restored, "keys_dir: \"" + keys_ + "\"\n"));
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_TRUE(OpenCases(pki_, (*started)->address(), {"C-IN-OTHER"}).ok());
  const std::string exported = dir_.Sub("audit.export");
  const Result export_result = RunCommand(
      absl::StrCat(HUBCTL_PATH, " --hub=", (*started)->address(), " --certs_dir=", pki_.dir(),
                   " --as=governance-auditor audit export ", exported));
  ASSERT_EQ(export_result.exit_status, 0) << export_result.output;
  ASSERT_EQ((*started)->Stop(), 0);

  const std::string key = " --public_key=" + keys_ + "/audit-key.pem.pub";
  const Result alone = RunCommand(absl::StrCat(HUBCTL_PATH, " audit verify ", exported, key));
  EXPECT_EQ(alone.exit_status, 0) << alone.output;
  const Result audit = RunCommand(
      absl::StrCat(HUBCTL_PATH, " audit verify ", exported, key, " --checkpoints=", witnessed_));
  EXPECT_NE(audit.exit_status, 0);
  EXPECT_THAT(audit.output, HasSubstr("the audit does NOT extend checkpoint drive-hub/audit"));
  const Result log = RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", restored, key,
                                             " --checkpoints=", witnessed_));
  EXPECT_NE(log.exit_status, 0);
  EXPECT_THAT(log.output, HasSubstr("does NOT extend checkpoint drive-hub/log size 5"));
}

TEST_F(InsiderTest, TheHubsOwnAuditExtendsTheWitnessedCheckpoints) {
  auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string exported = dir_.Sub("audit.export");
  const Result export_result = RunCommand(
      absl::StrCat(HUBCTL_PATH, " --hub=", (*started)->address(), " --certs_dir=", pki_.dir(),
                   " --as=governance-auditor audit export ", exported));
  ASSERT_EQ(export_result.exit_status, 0) << export_result.output;
  const Result audit =
      RunCommand(absl::StrCat(HUBCTL_PATH, " audit verify ", exported, " --public_key=", keys_,
                              "/audit-key.pem.pub --checkpoints=", witnessed_));
  EXPECT_EQ(audit.exit_status, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr("consistent with 2 signed audit checkpoints"));
}

// Any partner witnesses the hub over gRPC: the checkpoints it collects prove
// the log it is later shown, and tamper with it shows.
TEST_F(InsiderTest, APartnerWitnessesTheHubOverGrpc) {
  auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
  ASSERT_TRUE(started.ok()) << started.status();
  const Result collected = RunCommand(absl::StrCat(HUBCTL_PATH, " --hub=", (*started)->address(),
                                                   " --certs_dir=", pki_.dir(),
                                                   " --as=probation-agency audit checkpoints"));
  ASSERT_EQ(collected.exit_status, 0) << collected.output;
  EXPECT_THAT(collected.output, HasSubstr("drive-hub/log\n5\n"));
  EXPECT_THAT(collected.output, HasSubstr("drive-hub/audit\n"));
  const std::string partner = dir_.Sub("probation-witnessed.txt");
  std::FILE* file = std::fopen(partner.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(collected.output.c_str(), file);
  std::fclose(file);
  ASSERT_TRUE(OpenCases(pki_, (*started)->address(), {"C-IN-5"}).ok());
  ASSERT_EQ((*started)->Stop(), 0);

  const Result verified = LogVerify(" --checkpoints=" + partner);
  EXPECT_EQ(verified.exit_status, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("consistent with 1 signed log checkpoints"));
  RewriteFrom(5, 6, "what the probation service was never told");
  const Result tampered = LogVerify(" --checkpoints=" + partner);
  EXPECT_NE(tampered.exit_status, 0);
  EXPECT_THAT(tampered.output, HasSubstr("does NOT extend checkpoint drive-hub/log size 5"));
}

// The operator rotates the audit key; the governance group keeps trusting
// the key it holds and follows the rotation. Whoever stole the old key
// signs nothing that a witness accepts after it.
TEST_F(InsiderTest, AWitnessFollowsAnAuditKeyRotationAndTheOldKeyIsRetired) {
  const std::string first_key = dir_.Sub("first-key.pub");
  std::filesystem::copy(keys_ + "/audit-key.pem.pub", first_key);
  const std::string stolen = ReadFile(keys_ + "/audit-key.pem");
  std::filesystem::copy(keys_ + "/audit-key.pem", dir_.Sub("stolen.pem"));
  const Result prepared = RunCommand(
      absl::StrCat(HUBCTL_PATH, " keys rotate --keys_dir=", keys_, " --data_dir=", data_));
  ASSERT_EQ(prepared.exit_status, 0) << prepared.output;
  EXPECT_EQ(RunCommand(
                absl::StrCat(HUBCTL_PATH, " keys rotate --keys_dir=", keys_, " --data_dir=", data_))
                .exit_status,
            1);

  auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_TRUE(OpenCases(pki_, (*started)->address(), {"C-IN-5"}).ok());
  const std::string connect =
      absl::StrCat(HUBCTL_PATH, " --hub=", (*started)->address(), " --certs_dir=", pki_.dir());
  const Result collected = RunCommand(connect + " --as=probation-agency audit checkpoints");
  ASSERT_EQ(collected.exit_status, 0) << collected.output;
  EXPECT_THAT(collected.output, HasSubstr("\nnext-key "));
  const std::string exported = dir_.Sub("audit.export");
  ASSERT_EQ(RunCommand(connect + " --as=governance-auditor audit export " + exported).exit_status,
            0);
  ASSERT_EQ((*started)->Stop(), 0);

  // The old private key is gone from the keys folder; its public half stays.
  EXPECT_NE(ReadFile(keys_ + "/audit-key.pem"), stolen);
  EXPECT_FALSE(std::filesystem::exists(keys_ + "/audit-key.next.pem"));
  size_t retired = 0;
  for (const auto& entry : std::filesystem::directory_iterator(keys_)) {
    if (entry.path().filename().string().find(".retired-") != std::string::npos) {
      EXPECT_EQ(ReadFile(entry.path().string()), ReadFile(first_key));
      ++retired;
    }
  }
  EXPECT_EQ(retired, 1u);

  // The witness appends what it collected and checks from the first key.
  std::FILE* file = std::fopen(witnessed_.c_str(), "a");
  ASSERT_NE(file, nullptr);
  std::fputs(collected.output.c_str(), file);
  std::fclose(file);
  const std::string from_first = " --public_key=" + first_key + " --checkpoints=";
  const Result log = RunCommand(
      absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_, from_first, witnessed_));
  EXPECT_EQ(log.exit_status, 0) << log.output;
  const Result audit =
      RunCommand(absl::StrCat(HUBCTL_PATH, " audit verify ", exported, from_first, witnessed_));
  EXPECT_EQ(audit.exit_status, 0) << audit.output;
  EXPECT_THAT(audit.output, HasSubstr("rotated"));
  // The hub's own file, which holds the announcement too, verifies the same.
  EXPECT_EQ(RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_, from_first,
                                    data_, "/audit/checkpoints.txt"))
                .exit_status,
            0);

  // The thief edits the log and signs a checkpoint of it with the old key.
  // After the rotation (at size 5), where no witnessed checkpoint reaches.
  RewriteFrom(6, 6, "the case record as the thief wants it");
  auto thief = auth::TreeHeadSigner::LoadOrCreate(dir_.Sub("stolen.pem"));
  ASSERT_TRUE(thief.ok());
  auth::Checkpoint forged;
  forged.origin = "drive-hub/log";
  forged.size = 6;
  {
    storage::RawLog raw(data_ + "/events");
    forged.root = raw.Record(6).digest;
  }
  // A new witness is handed the hub's rotations and the forged checkpoint.
  const std::string offered = dir_.Sub("offered-checkpoints.txt");
  file = std::fopen(offered.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs((ReadFile(data_ + "/audit/key-rotations.txt") + "\n" +
              *auth::SignCheckpoint(forged, **thief, "drive-hub"))
                 .c_str(),
             file);
  std::fclose(file);
  const Result refused =
      RunCommand(absl::StrCat(HUBCTL_PATH, " log verify --data_dir=", data_, from_first, offered));
  EXPECT_NE(refused.exit_status, 0);
  EXPECT_THAT(refused.output, HasSubstr("retired at rotation 1"));
}

// The views are derived data outside every chain: an insider edits one
// agency's view directly. Deriving them again from the log shows it.
TEST_F(InsiderTest, ADamagedViewIsDetectedAndRebuilt) {
  const std::string verify = absl::StrCat(HUBCTL_PATH, " views verify --data_dir=", data_);
  const Result intact = RunCommand(verify);
  ASSERT_EQ(intact.exit_status, 0) << intact.output;
  EXPECT_THAT(intact.output, HasSubstr("views verified"));
  EXPECT_THAT(intact.output, HasSubstr("log positions 1 to 5"));
  // Whoever holds the disk alone cannot even read the views: they are
  // encrypted under a key in the keys folder.
  EXPECT_FALSE(storage::RawViews::TryOpen(data_ + "/views", "").ok());
  // An insider holding the keys folder too opens them through the hub's
  // own encryption, and edits them.
  const absl::StatusOr<std::string> views_key = ViewsKeyOf(keys_, data_);
  ASSERT_TRUE(views_key.ok()) << views_key.status();
  // An event hidden from one principal: its last index entry removed.
  {
    storage::RawViews views(data_ + "/views", *views_key);
    ASSERT_TRUE(views.ok());
    const std::string last = views.LastKey(views.index());
    ASSERT_FALSE(last.empty());
    views.Delete(views.index(), last);
  }
  const Result hidden = RunCommand(verify);
  EXPECT_NE(hidden.exit_status, 0);
  EXPECT_THAT(hidden.output, HasSubstr("is damaged: the event at position"));
  EXPECT_THAT(hidden.output, HasSubstr("is missing"));
  EXPECT_THAT(hidden.output, HasSubstr("the views do NOT verify (1 damaged)"));
  // What the agencies are shown of an event, changed in place.
  {
    storage::RawViews views(data_ + "/views", *views_key);
    ASSERT_TRUE(views.ok());
    const std::string first = views.FirstKey(views.content());
    ASSERT_FALSE(first.empty());
    std::string content = views.Get(views.content(), first);
    content[content.size() - 3] ^= 0x20;
    views.Put(views.content(), first, content);
  }
  const Result altered = RunCommand(verify);
  EXPECT_NE(altered.exit_status, 0);
  EXPECT_THAT(altered.output, HasSubstr("(case C-IN-1) was altered"));

  const Result repaired = RunCommand(verify + " --repair");
  EXPECT_EQ(repaired.exit_status, 0) << repaired.output;
  EXPECT_THAT(repaired.output, HasSubstr("views repaired"));
  const Result again = RunCommand(verify);
  EXPECT_EQ(again.exit_status, 0) << again.output;
  EXPECT_FALSE(std::filesystem::exists(data_ + "/views.rederived"));
  // hubd resumes the rebuilt views, and they grow as before.
  auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, data_));
  ASSERT_TRUE(started.ok()) << started.status();
  ASSERT_TRUE(OpenCases(pki_, (*started)->address(), {"C-IN-6"}).ok());
  ASSERT_EQ((*started)->Stop(), 0);
  const Result grown = RunCommand(verify);
  EXPECT_EQ(grown.exit_status, 0) << grown.output;
  EXPECT_THAT(grown.output, HasSubstr("log positions 1 to 6"));

  // A delivery passed off as a disclosure of an earlier event (which moves
  // where a reader resumes after a protocol change): the top bit of its
  // log position in the index entry (after the entry's 8-byte checkpoint).
  {
    storage::RawViews views(data_ + "/views", *views_key);
    ASSERT_TRUE(views.ok());
    const std::string first = views.FirstKey(views.index());
    ASSERT_FALSE(first.empty());
    std::string entry = views.Get(views.index(), first);
    ASSERT_GT(entry.size(), 8u);
    entry[8] = static_cast<char>(entry[8] ^ 0x80);
    views.Put(views.index(), first, entry);
  }
  const Result disclosed = RunCommand(verify);
  EXPECT_NE(disclosed.exit_status, 0);
  EXPECT_THAT(disclosed.output,
              HasSubstr("is marked a disclosure of an earlier event where the log makes it a "
                        "new event"));
}

}  // namespace
}  // namespace hub::testing
