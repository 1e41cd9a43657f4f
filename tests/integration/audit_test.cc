// After a realistic sequence against a real hubd (publishes, reads, a
// subscription, a denied read, a protocol change), the audit in the data
// folder answers "who saw case X" completely and correctly.
#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

#include "auth/tree_head_signer.h"
#include "storage/event_log.h"
#include "storage/hash_chain.h"
#include "storage/merkle_tree.h"
#include "tests/integration/hub_process.h"
#include "tests/testing/temp_dir.h"

#include "hub/v1/audit.pb.h"
#include "hub/v1/audit_service.grpc.pb.h"
#include "hub/v1/event_service.grpc.pb.h"
#include "hub/v1/policy_service.grpc.pb.h"

namespace hub::testing {
namespace {

constexpr char kPrefix[] = "spiffe://drive.example-county.gov.uk/agency/";

// Position 1 records the protocol; SetUp opens C-X first.
constexpr uint64_t kCaseXOpenedAt = 2;

class AuditTrailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = HubProcess::Start(dir_.path(), HubConfigText(pki_, dir_.Sub("data")));
    ASSERT_TRUE(started.ok()) << started.status();
    hub_ = std::move(started).value();
    ASSERT_TRUE(OpenCases(pki_, hub_->address(), {"C-X", "C-Y", "C-Q"}).ok());
  }

  std::unique_ptr<hub::v1::EventService::Stub> Events(const std::string& as) {
    return hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), as));
  }

  hub::v1::PublishResponse Publish(const std::string& as, const std::string& case_id,
                                   const std::string& event_id) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(event_id);
    event->mutable_occurred_time()->set_seconds(1795000000);
    event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
    event->set_lawful_basis("UK GDPR Art 6(1)(e)");
    event->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
    grpc::ClientContext context;
    hub::v1::PublishResponse response;
    EXPECT_TRUE(Events(as)->Publish(&context, request, &response).ok());
    return response;
  }

  grpc::Status Read(const std::string& as, const std::string& case_id) {
    grpc::ClientContext context;
    hub::v1::ReadCaseRequest request;
    request.set_case_id(case_id);
    hub::v1::ReadCaseResponse response;
    return Events(as)->ReadCase(&context, request, &response);
  }

  // Every audit record, read from the stopped hub's data folder.
  std::vector<hub::v1::AuditRecord> AuditRecords() {
    EXPECT_EQ(hub_->Stop(), 0);
    storage::EventLogOptions options;
    options.create_if_missing = false;
    auto log = storage::EventLog::Open(dir_.Sub("data") + "/events", options);
    EXPECT_TRUE(log.ok()) << log.status();
    EXPECT_TRUE((*log)->VerifyAudit().ok());
    auto payloads = (*log)->ReadAudit(0, 100000);
    EXPECT_TRUE(payloads.ok());
    std::vector<hub::v1::AuditRecord> records;
    for (const std::string& payload : *payloads) {
      records.emplace_back();
      EXPECT_TRUE(records.back().ParseFromString(payload));
    }
    return records;
  }

  TempDir dir_;
  TestPki pki_{dir_.Sub("pki")};
  std::unique_ptr<HubProcess> hub_;
};

TEST_F(AuditTrailTest, TheAuditAnswersWhoSawACase) {
  Publish("police-agency", "C-X", "a0000000-0000-4000-8000-000000000001");
  Publish("police-agency", "C-Y", "a0000000-0000-4000-8000-000000000002");
  ASSERT_TRUE(Read("drive-agency", "C-X").ok());
  EXPECT_EQ(Read("governance-auditor", "C-X").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  {
    grpc::ClientContext context;
    hub::v1::SubscribeRequest request;
    request.set_case_id("C-X");
    auto stream = Events("idva-agency")->Subscribe(&context, request);
    hub::v1::SubscribeResponse item;
    ASSERT_TRUE(stream->Read(&item));
    ASSERT_TRUE(item.has_event());
    context.TryCancel();
  }
  {
    grpc::ClientContext context;
    hub::v1::ApplyProtocolRequest request;
    std::ifstream file(ExampleProtocolPath());
    std::stringstream text;
    text << file.rdbuf();
    std::string protocol = text.str();
    protocol.replace(protocol.find("2026-11-1"), 9, "2026-11-9");
    request.set_protocol_text(protocol);
    hub::v1::ApplyProtocolResponse response;
    ASSERT_TRUE(hub::v1::PolicyService::NewStub(pki_.Channel(hub_->address(), "operator-admin"))
                    ->ApplyProtocol(&context, request, &response)
                    .ok());
  }

  const std::vector<hub::v1::AuditRecord> records = AuditRecords();
  // Where the police's assessment went in the log, as its record says (the
  // police were not told: positions are each reader's own).
  uint64_t published_at = 0;
  for (const hub::v1::AuditRecord& record : records) {
    if (record.case_id() == "C-X" && record.action() == hub::v1::AUDIT_PUBLISH &&
        record.last_position() != kCaseXOpenedAt) {
      published_at = record.first_position();
    }
  }
  ASSERT_GT(published_at, kCaseXOpenedAt);
  // Who saw case C-X: every record about it, and nothing about C-Y mixed in.
  std::vector<std::string> saw_x;
  for (const hub::v1::AuditRecord& record : records) {
    if (record.case_id() != "C-X") continue;
    const bool opening =
        record.action() == hub::v1::AUDIT_PUBLISH && record.last_position() == kCaseXOpenedAt;
    if (opening) continue;
    saw_x.push_back(absl::StrCat(record.principal_identity().substr(sizeof(kPrefix) - 1), " ",
                                 hub::v1::AuditAction_Name(record.action()), " ",
                                 hub::v1::AuditDecision_Name(record.decision())));
    if (record.decision() == hub::v1::AUDIT_ALLOWED) {
      EXPECT_THAT(record.lawful_bases(),
                  ::testing::Contains(::testing::HasSubstr("UK GDPR Art 6(1)(e)")));
      if (record.action() == hub::v1::AUDIT_PUBLISH) {
        EXPECT_EQ(record.last_position(), published_at);
        EXPECT_EQ(record.event_count(), 1u);
        // The recording rule that let the police record it.
        EXPECT_THAT(record.rules(), ::testing::ElementsAre("risk-assessments"));
      } else {
        // The referral and the risk assessment shared for safeguarding:
        // the example protocol's "risk" rule let Drive and the IDVA see it.
        EXPECT_EQ(record.first_position(), kCaseXOpenedAt);
        EXPECT_EQ(record.last_position(), published_at);
        EXPECT_EQ(record.event_count(), 2u);
        EXPECT_THAT(record.rules(), ::testing::ElementsAre("case-administration", "risk"));
      }
    }
  }
  EXPECT_THAT(saw_x, ::testing::ElementsAre("police/agency AUDIT_PUBLISH AUDIT_ALLOWED",
                                            "drive/agency AUDIT_READ_CASE AUDIT_ALLOWED",
                                            "governance/auditor AUDIT_READ_CASE AUDIT_DENIED",
                                            "idva/agency AUDIT_DELIVER AUDIT_ALLOWED"));
  const hub::v1::AuditRecord& change = records.back();
  EXPECT_EQ(change.action(), hub::v1::AUDIT_PROTOCOL_CHANGE);
  EXPECT_EQ(change.principal_identity(), std::string(kPrefix) + "operator/admin");
  EXPECT_EQ(change.protocol_version(), "2026-11-9");
  // On shutdown the hub signed a head covering every record, and appended it
  // to the file the governance group collects.
  std::ifstream heads(dir_.Sub("data") + "/audit/tree-heads.txt");
  std::string line, last;
  while (std::getline(heads, line)) last = line;
  std::istringstream fields(last);
  uint64_t size = 0;
  std::string root_hex, signature_base64;
  int64_t timestamp_ms = 0;
  fields >> size >> root_hex >> timestamp_ms >> signature_base64;
  EXPECT_EQ(size, records.size());
  std::ifstream key_file(dir_.Sub("data-keys") + "/audit-key.pem.pub");
  std::string key((std::istreambuf_iterator<char>(key_file)), std::istreambuf_iterator<char>());
  auth::TreeHead head;
  head.tree_size = size;
  head.timestamp_ms = timestamp_ms;
  const std::string root = absl::HexStringToBytes(root_hex);
  ASSERT_EQ(root.size(), 32u);
  std::copy(root.begin(), root.end(), head.root_hash.begin());
  std::string signature;
  ASSERT_TRUE(absl::Base64Unescape(signature_base64, &signature));
  EXPECT_TRUE(auth::VerifyTreeHead(key, head, signature));

  // No case content in the audit: the published risk level is nowhere.
  for (const hub::v1::AuditRecord& record : records) {
    EXPECT_EQ(record.SerializeAsString().find("RISK_HIGH"), std::string::npos);
  }
}

// The audit proves which bytes were recorded (each publish names the chain
// digest of every record it wrote, which the log's hash chain holds) and
// which bytes were disclosed (a read commits to the events exactly as sent).
TEST_F(AuditTrailTest, TheAuditProvesWhatWasRecordedAndWhatWasDisclosed) {
  Publish("police-agency", "C-X", "d1000000-0000-4000-8000-000000000001");
  grpc::ClientContext context;
  hub::v1::ReadCaseRequest request;
  request.set_case_id("C-X");
  hub::v1::ReadCaseResponse read;
  ASSERT_TRUE(Events("drive-agency")->ReadCase(&context, request, &read).ok());
  ASSERT_GT(read.events_size(), 0);
  // What the reader holds, digested as the documentation says.
  std::string digests;
  for (const hub::v1::EventEnvelope& event : read.events()) {
    const storage::Sha256Digest digest = storage::Sha256(event.SerializeAsString());
    digests.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  }
  const storage::Sha256Digest held = storage::Sha256(digests);

  const std::vector<hub::v1::AuditRecord> records = AuditRecords();
  storage::EventLogOptions options;
  options.create_if_missing = false;
  auto log = storage::EventLog::Open(dir_.Sub("data") + "/events", options);
  ASSERT_TRUE(log.ok()) << log.status();
  bool publish_found = false;
  bool read_found = false;
  for (const hub::v1::AuditRecord& record : records) {
    if (record.action() == hub::v1::AUDIT_PUBLISH && record.case_id() == "C-X" &&
        record.decision() == hub::v1::AUDIT_ALLOWED) {
      // The record names where the event went in the log, and its digest.
      auto at = (*log)->ReadFrom(record.first_position(), 1, 1 << 20);
      ASSERT_TRUE(at.ok());
      ASSERT_EQ(at->size(), 1u);
      if (at->front().event_id != "d1000000-0000-4000-8000-000000000001") continue;  // opening
      publish_found = true;
      ASSERT_EQ(record.event_digests_size(), 1);
      const auto stored = (*log)->ChainDigestAt(record.first_position());
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(record.event_digests(0),
                std::string(reinterpret_cast<const char*>(stored->data()), stored->size()));
    }
    if (record.action() == hub::v1::AUDIT_READ_CASE &&
        record.decision() == hub::v1::AUDIT_ALLOWED) {
      read_found = true;
      EXPECT_EQ(record.disclosed_digest(),
                std::string(reinterpret_cast<const char*>(held.data()), held.size()));
    }
  }
  EXPECT_TRUE(publish_found);
  EXPECT_TRUE(read_found);
  // Every publish that wrote events names a digest for each.
  for (const hub::v1::AuditRecord& record : records) {
    if (record.action() != hub::v1::AUDIT_PUBLISH || record.decision() != hub::v1::AUDIT_ALLOWED) {
      continue;
    }
    EXPECT_EQ(static_cast<uint64_t>(record.event_digests_size()),
              record.last_position() - record.first_position() + 1);
  }
}

TEST_F(AuditTrailTest, RefusedCallersAreAudited) {
  ASSERT_EQ(pki_.Run("client", {"stranger", "agency"}), 0);
  grpc::ClientContext context;
  hub::v1::ReadCaseRequest request;
  request.set_case_id("C-X");
  hub::v1::ReadCaseResponse response;
  ASSERT_EQ(hub::v1::EventService::NewStub(pki_.Channel(hub_->address(), "stranger-agency"))
                ->ReadCase(&context, request, &response)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  bool found = false;
  for (const hub::v1::AuditRecord& record : AuditRecords()) {
    if (record.action() != hub::v1::AUDIT_AUTHENTICATE) continue;
    found = true;
    EXPECT_EQ(record.decision(), hub::v1::AUDIT_DENIED);
    EXPECT_EQ(record.principal_identity(), std::string(kPrefix) + "stranger/agency");
    EXPECT_THAT(record.reason(), ::testing::HasSubstr("is not a principal"));
  }
  EXPECT_TRUE(found) << "the refused caller is not in the audit";
}

TEST_F(AuditTrailTest, EverySubscriptionAnswersWhoReceivedACase) {
  // Probation follows the whole log, no case filter: the main disclosure
  // channel, which the audit must attribute to each case it carried.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = Events("probation-agency")->Subscribe(&context, hub::v1::SubscribeRequest());
  hub::v1::SubscribeResponse item;
  do {
    ASSERT_TRUE(stream->Read(&item));
  } while (!item.has_caught_up());
  Publish("police-agency", "C-Y", "a0000000-0000-4000-8000-0000000000c1");
  ASSERT_TRUE(stream->Read(&item));
  ASSERT_EQ(item.event().case_id(), "C-Y");
  context.TryCancel();

  const std::string command =
      absl::StrCat(HUBCTL_PATH, " --hub=", hub_->address(), " --certs_dir=", pki_.dir(),
                   " --as=governance-auditor --json audit disclosures C-Y 2>&1");
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  for (size_t n = 0; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("\"principal\":\"" + std::string(kPrefix) +
                                           "probation/agency\",\"how\":\"deliver\""));
  EXPECT_THAT(output, ::testing::HasSubstr("\"event_types\":[\"referral_received\"]"));
  EXPECT_THAT(output, ::testing::HasSubstr("\"data_classes\":[\"RISK\"]"));

  bool found = false;
  for (const hub::v1::AuditRecord& record : AuditRecords()) {
    if (record.action() != hub::v1::AUDIT_DELIVER || !record.case_id().empty() ||
        record.principal_identity() != std::string(kPrefix) + "probation/agency") {
      continue;
    }
    for (const std::string& disclosed : record.disclosed_case_ids()) {
      if (disclosed != "C-Y") continue;
      found = true;
      EXPECT_FALSE(record.rules().empty());
      EXPECT_FALSE(record.event_types().empty());
      EXPECT_FALSE(record.event_purposes().empty());
    }
  }
  EXPECT_TRUE(found) << "no delivery record names the case it disclosed";
}

TEST_F(AuditTrailTest, ReadingTheProtocolAndOversizedRefusalsAreAudited) {
  {
    grpc::ClientContext context;
    hub::v1::GetProtocolResponse response;
    ASSERT_TRUE(hub::v1::PolicyService::NewStub(pki_.Channel(hub_->address(), "housing-agency"))
                    ->GetProtocol(&context, hub::v1::GetProtocolRequest(), &response)
                    .ok());
  }
  // A refused read whose case id alone is nearly as large as an audit
  // record may be.
  const std::string huge(60000, 'x');
  EXPECT_EQ(Read("governance-auditor", huge).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  bool protocol_read = false;
  bool huge_refusal = false;
  for (const hub::v1::AuditRecord& record : AuditRecords()) {
    protocol_read |= record.action() == hub::v1::AUDIT_READ_PROTOCOL &&
                     record.principal_identity() == std::string(kPrefix) + "housing/agency" &&
                     !record.protocol_version().empty();
    if (record.action() == hub::v1::AUDIT_READ_CASE && record.decision() == hub::v1::AUDIT_DENIED &&
        record.case_id().find("(60000 bytes)") != std::string::npos) {
      huge_refusal = true;
      EXPECT_LT(record.ByteSizeLong(), 8192u);
    }
  }
  EXPECT_TRUE(protocol_read) << "GetProtocol is not audited";
  EXPECT_TRUE(huge_refusal) << "the refusal of an oversized read escaped the audit";
}

auth::TreeHead HeadOf(const hub::v1::SignedTreeHead& sth) {
  auth::TreeHead head;
  head.tree_size = sth.tree_size();
  std::copy(sth.root_hash().begin(), sth.root_hash().end(), head.root_hash.begin());
  head.timestamp_ms = sth.timestamp_ms();
  return head;
}

storage::Sha256Digest Digest(const std::string& bytes) {
  storage::Sha256Digest digest{};
  std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

std::vector<storage::Sha256Digest> Path(
    const google::protobuf::RepeatedPtrField<std::string>& path) {
  std::vector<storage::Sha256Digest> nodes;
  for (const std::string& node : path) nodes.push_back(Digest(node));
  return nodes;
}

TEST_F(AuditTrailTest, TheAuditorQueriesAndProvesTheAuditOverGrpc) {
  Publish("police-agency", "C-Q", "b0000000-0000-4000-8000-000000000001");
  ASSERT_TRUE(Read("drive-agency", "C-Q").ok());
  auto audit = hub::v1::AuditService::NewStub(pki_.Channel(hub_->address(), "governance-auditor"));

  // Only the auditor reads the audit, and the refusal is itself recorded.
  {
    grpc::ClientContext context;
    hub::v1::QueryAuditResponse response;
    EXPECT_EQ(hub::v1::AuditService::NewStub(pki_.Channel(hub_->address(), "police-agency"))
                  ->QueryAudit(&context, hub::v1::QueryAuditRequest(), &response)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  hub::v1::QueryAuditRequest query;
  query.set_case_id("C-Q");
  hub::v1::QueryAuditResponse found;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(audit->QueryAudit(&context, query, &found).ok());
  }
  // The referral that opened the case, the risk assessment, the read.
  ASSERT_EQ(found.entries_size(), 3);
  found.mutable_entries()->DeleteSubrange(0, 1);
  EXPECT_EQ(found.entries(0).record().action(), hub::v1::AUDIT_PUBLISH);
  EXPECT_EQ(found.entries(1).record().action(), hub::v1::AUDIT_READ_CASE);
  EXPECT_EQ(found.entries(1).record().agency(), "drive");

  // A signed head that the exported public key verifies, and a proof that
  // the read record is in it.
  hub::v1::SignedTreeHead first;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(audit->GetSignedTreeHead(&context, {}, &first).ok());
  }
  std::ifstream key_file(dir_.Sub("data-keys") + "/audit-key.pem.pub");
  std::string exported((std::istreambuf_iterator<char>(key_file)),
                       std::istreambuf_iterator<char>());
  EXPECT_EQ(exported, first.public_key_pem());
  EXPECT_TRUE(auth::VerifyTreeHead(exported, HeadOf(first), first.signature()));
  hub::v1::GetInclusionProofRequest inclusion_request;
  inclusion_request.set_index(found.entries(1).index());
  inclusion_request.set_tree_size(first.tree_size());
  hub::v1::InclusionProof inclusion;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(audit->GetInclusionProof(&context, inclusion_request, &inclusion).ok());
  }
  EXPECT_TRUE(storage::VerifyMerkleInclusion(storage::MerkleLeafHash(found.entries(1).raw()),
                                             found.entries(1).index(), first.tree_size(),
                                             Path(inclusion.path()), Digest(first.root_hash())));

  // More activity; the later head is consistent with the earlier one.
  Publish("probation-agency", "C-Q", "b0000000-0000-4000-8000-000000000002");
  hub::v1::SignedTreeHead second;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(audit->GetSignedTreeHead(&context, {}, &second).ok());
  }
  ASSERT_GT(second.tree_size(), first.tree_size());
  hub::v1::GetConsistencyProofRequest consistency_request;
  consistency_request.set_first_size(first.tree_size());
  consistency_request.set_second_size(second.tree_size());
  hub::v1::ConsistencyProof consistency;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(audit->GetConsistencyProof(&context, consistency_request, &consistency).ok());
  }
  EXPECT_TRUE(storage::VerifyMerkleConsistency(first.tree_size(), second.tree_size(),
                                               Path(consistency.path()), Digest(first.root_hash()),
                                               Digest(second.root_hash())));

  // The auditor's own queries are in the audit too.
  hub::v1::QueryAuditRequest own;
  own.set_action(hub::v1::AUDIT_QUERY);
  own.set_newest_first(true);
  hub::v1::QueryAuditResponse queries;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(audit->QueryAudit(&context, own, &queries).ok());
  }
  ASSERT_GE(queries.entries_size(), 5);
  EXPECT_EQ(queries.entries(0).record().principal_identity(),
            std::string(kPrefix) + "governance/auditor");
  EXPECT_EQ(queries.entries(queries.entries_size() - 1).record().decision(), hub::v1::AUDIT_DENIED);
}

}  // namespace
}  // namespace hub::testing
