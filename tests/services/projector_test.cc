// The projector's catching-up loop (batches of up to a thousand events,
// shaped on two threads, each written while the next is prepared) must
// leave exactly the views that projecting one event at a time leaves: the
// same shapes, the same case entries and the same case summaries for every
// principal.
#include "services/projector.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "auth/data_keys.h"
#include "auth/field_sealing.h"
#include "auth/key_encryption.h"
#include "auth/sharing_policy.h"
#include "auth/sharing_protocol.h"
#include "services/case_summary.h"
#include "services/config.h"
#include "services/envelope.h"
#include "services/restrictions.h"
#include "services/retention.h"
#include "services/views.h"
#include "storage/event_log.h"
#include "storage/view_store.h"
#include "tests/testing/example_protocol.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

#include "hub/storage/v1/sealed.pb.h"
#include "tools/demo/demo_site.h"

namespace hub::services {
namespace {

// The log, except that reading a case fails (UNAVAILABLE, as a failing
// device reads) while `failing_case_reads` is above zero, each failure
// counting it down.
class CaseReadsFailingLog final : public storage::EventLog {
 public:
  explicit CaseReadsFailingLog(storage::EventLog* log) : EventLog(log->limits()), log_(log) {}

  mutable std::atomic<int> failing_case_reads{0};
  mutable std::atomic<int> failed_case_reads{0};

  absl::StatusOr<std::vector<storage::StoredEvent>> ReadCase(std::string_view case_id,
                                                             uint64_t from_version,
                                                             size_t max_events) const override {
    if (failing_case_reads.load() > 0) {
      --failing_case_reads;
      ++failed_case_reads;
      return absl::UnavailableError("reading the case index: I/O error (injected)");
    }
    return log_->ReadCase(case_id, from_version, max_events);
  }

  absl::StatusOr<storage::AppendResult> Append(const storage::AppendRequest& request) override {
    return log_->Append(request);
  }
  void AppendAsync(storage::AppendRequest request,
                   std::function<void(absl::StatusOr<storage::AppendResult>)> done) override {
    log_->AppendAsync(std::move(request), std::move(done));
  }
  absl::StatusOr<std::vector<storage::StoredEvent>> ReadFrom(uint64_t from_position,
                                                             size_t max_events,
                                                             size_t max_bytes) const override {
    return log_->ReadFrom(from_position, max_events, max_bytes);
  }
  absl::StatusOr<std::optional<storage::StoredEvent>> FindEvent(
      std::string_view event_id) const override {
    return log_->FindEvent(event_id);
  }
  absl::StatusOr<uint64_t> CaseVersion(std::string_view case_id) const override {
    return log_->CaseVersion(case_id);
  }
  uint64_t LastPosition() const override { return log_->LastPosition(); }
  uint64_t WaitForPositionAfter(uint64_t after_position,
                                std::chrono::milliseconds timeout) const override {
    return log_->WaitForPositionAfter(after_position, timeout);
  }
  absl::StatusOr<storage::VerifiedLog> Verify() const override { return log_->Verify(); }
  absl::StatusOr<storage::Sha256Digest> ChainDigestAt(uint64_t position) const override {
    return log_->ChainDigestAt(position);
  }
  storage::EventLogStats Stats() const override { return log_->Stats(); }
  absl::StatusOr<uint64_t> Audit(std::vector<std::string> records) override {
    return log_->Audit(std::move(records));
  }
  void AuditAsync(std::vector<std::string> records,
                  std::function<void(absl::StatusOr<uint64_t>)> done) override {
    log_->AuditAsync(std::move(records), std::move(done));
  }
  uint64_t AuditSize() const override { return log_->AuditSize(); }
  absl::StatusOr<std::vector<std::string>> ReadAudit(uint64_t from_index,
                                                     size_t max_records) const override {
    return log_->ReadAudit(from_index, max_records);
  }
  const storage::MerkleHashSource& AuditTree() const override { return log_->AuditTree(); }
  absl::StatusOr<uint64_t> VerifyAudit() const override { return log_->VerifyAudit(); }
  absl::StatusOr<std::optional<storage::EventLog::ViewGeneration>> LatestViewGeneration()
      const override {
    return log_->LatestViewGeneration();
  }
  absl::Status RecordViewGeneration(const storage::EventLog::ViewGeneration& generation) override {
    return log_->RecordViewGeneration(generation);
  }
  absl::StatusOr<storage::EventLog::CheckpointInfo> Checkpoint(
      const std::string& directory) override {
    return log_->Checkpoint(directory);
  }
  void Close() override { log_->Close(); }

 private:
  storage::EventLog* const log_;
};

class ProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    protocol_ = ::hub::testing::LoadExampleProtocol();
    ASSERT_FALSE(HasFailure());
    policy_ = std::make_shared<const auth::SharingPolicy>(protocol_);
    auto log = storage::EventLog::Open(dir_.Sub("events"), storage::EventLogOptions());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(log).value();
    auto views = storage::ViewStore::Open(dir_.Sub("views"));
    ASSERT_TRUE(views.ok()) << views.status();
    views_ = std::move(views).value();
    for (const hub::v1::Principal& principal : protocol_.principals()) {
      principals_.push_back(principal.identity());
    }
    by_certificate_name_ = tools::PrincipalsByCertificateName(protocol_);
    hub::v1::HubConfig config;
    ApplyConfigDefaults(&config);
    limits_ = config.limits();
  }

  // Stores `request` as hubd does once the principal whose certificate is
  // `as` has published it (at a fixed time): with `sealer`, its personal
  // fields sealed; `without_routing`, each sealed event as before routing
  // parts existed (an older hubd's log).
  void AppendPublished(const std::string& as, const hub::v1::PublishRequest& request,
                       const auth::FieldSealer* sealer = nullptr, bool without_routing = false) {
    std::vector<hub::v1::EventEnvelope> envelopes;
    auto append = PrepareAppend(by_certificate_name_.at(as), request,
                                absl::FromUnixSeconds(1800000000), limits_, &envelopes);
    ASSERT_TRUE(append.ok()) << append.status();
    for (size_t i = 0; sealer != nullptr && i < envelopes.size(); ++i) {
      auto sealed = sealer->Seal(envelopes[i]);
      ASSERT_TRUE(sealed.ok()) << sealed.status();
      append->events[i].payload = *std::move(sealed);
      hub::storage::v1::SealedEnvelope stored;
      if (without_routing && auth::FieldSealer::IsSealed(append->events[i].payload)) {
        ASSERT_TRUE(stored.ParseFromString(append->events[i].payload.substr(1)));
        stored.clear_routing();
        append->events[i].payload = std::string(1, '\0') + stored.SerializeAsString();
      }
    }
    ASSERT_TRUE(log_->Append(*append).ok());
  }

  // A publish of one event to `case_id`, for `purpose`, filled by `fill`;
  // the n-th of a test's publishes has id `id_prefix` + n (12 hex digits)
  // and occurred n seconds after the others' start.
  static hub::v1::PublishRequest OneEvent(
      const std::string& case_id, const std::string& id_prefix, int n, hub::v1::Purpose purpose,
      const std::function<void(hub::v1::EventEnvelope*)>& fill) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(absl::StrCat(id_prefix, absl::StrFormat("%012x", n)));
    event->mutable_occurred_time()->set_seconds(1795000000 + n);
    event->set_purpose(purpose);
    event->set_lawful_basis("UK GDPR Art 6(1)(e); DPA 2018 Sch 1 para 18");
    fill(event);
    return request;
  }

  // The demonstration site, its cases' publishes interleaved so that every
  // batch holds events of many cases and most cases span several batches;
  // with `sealer`, stored as hubd stores them, personal fields sealed.
  // `without_routing`: each sealed event stored as before routing parts
  // existed (an older hubd's log).
  void AppendDemoSite(double scale, const auth::FieldSealer* sealer = nullptr,
                      bool without_routing = false) {
    tools::DemoOptions options;
    options.scale = scale;
    const tools::DemoSite site = tools::GenerateDemoSite(options);
    for (size_t round = 0;; ++round) {
      bool any = false;
      for (const tools::DemoCase& demo_case : site.cases) {
        if (round >= demo_case.publishes.size()) continue;
        any = true;
        const tools::DemoPublish& publish = demo_case.publishes[round];
        ASSERT_NO_FATAL_FAILURE(
            AppendPublished(publish.publisher, publish.request, sealer, without_routing));
      }
      if (!any) break;
    }
  }

  storage::GenerationInfo NewGeneration() {
    auto generation =
        views_->CreateGeneration(protocol_.version(), ProtocolDigest(protocol_), principals_);
    EXPECT_TRUE(generation.ok()) << generation.status();
    return *generation;
  }

  // Projects the whole log into `generation` on this thread, in batches of
  // at most `max_events`; `first_batch`, if given, receives how many log
  // positions the first batch covered.
  void ProjectInBatchesOf(size_t max_events, const storage::GenerationInfo& generation,
                          uint64_t* first_batch = nullptr,
                          const auth::FieldSealer* sealer = nullptr,
                          std::shared_ptr<const auth::WithheldKeys> withheld = nullptr) {
    Projector projector(log_.get(), views_.get(), generation, policy_, sealer, std::move(withheld));
    for (bool first = true;; first = false) {
      auto projected = projector.ProjectOnce(max_events);
      ASSERT_TRUE(projected.ok()) << projected.status();
      if (first && first_batch != nullptr) *first_batch = *projected;
      if (*projected == 0) break;
    }
    ASSERT_EQ(projector.checkpoint(), log_->LastPosition());
  }

  // Everything one principal can read of a generation, as text to compare.
  std::vector<std::string> Everything(uint32_t generation, uint16_t principal) {
    std::vector<std::string> seen;
    auto events = views_->ReadFrom(generation, principal, 0, 1000000);
    EXPECT_TRUE(events.ok()) << events.status();
    // The events of each case delivered (an event is delivered again when
    // a relationship shows the principal more of it).
    std::map<std::string, std::set<uint64_t>> cases;
    for (const storage::ViewEvent& event : *events) {
      seen.push_back(absl::StrCat(event.position, " ", event.case_id, " ", event.stream_version,
                                  " ", event.view_version, event.disclosed ? " disclosed " : " ",
                                  event.payload));
      cases[event.case_id].insert(event.position);
      // Numbered in the principal's own view: 1, 2, 3, ... whatever it
      // does not see in between.
      EXPECT_EQ(event.view_position, static_cast<uint64_t>(seen.size()));
    }
    for (const auto& [case_id, positions] : cases) {
      auto case_events = views_->ReadCase(generation, principal, case_id, 1, 1000000);
      EXPECT_TRUE(case_events.ok());
      // Every event delivered, once, in case order, numbered 1, 2, 3, ...
      EXPECT_EQ(case_events->size(), positions.size()) << case_id;
      uint64_t version = 0;
      uint64_t previous = 0;
      for (const storage::ViewEvent& event : *case_events) {
        EXPECT_EQ(event.view_version, ++version) << case_id;
        EXPECT_GT(event.position, previous) << case_id;
        EXPECT_EQ(positions.count(event.position), 1u) << case_id;
        previous = event.position;
        seen.push_back(absl::StrCat("case ", event.position, " ", event.payload));
      }
    }
    auto summaries = views_->Summaries(generation, principal, "", 1000000);
    EXPECT_TRUE(summaries.ok());
    EXPECT_EQ(summaries->size(), cases.size());
    for (const auto& [case_id, summary] : *summaries) {
      seen.push_back(absl::StrCat("summary ", case_id, " ", summary));
      // Independently: the summary is the fold of the case as this
      // principal sees it.
      hub::v1::CaseSummary folded;
      auto case_events = views_->ReadCase(generation, principal, case_id, 1, 1000000);
      EXPECT_TRUE(case_events.ok());
      for (const storage::ViewEvent& event : *case_events) {
        auto envelope = EnvelopeOf(event, generation);
        EXPECT_TRUE(envelope.ok());
        if (!envelope.ok()) continue;
        // The projector folds the event as the log numbers it.
        envelope->set_global_position(event.position);
        envelope->set_stream_version(event.stream_version);
        ApplyToSummary(*envelope, &folded);
      }
      hub::v1::CaseSummary stored;
      EXPECT_TRUE(stored.ParseFromString(summary));
      EXPECT_EQ(stored.SerializeAsString(), folded.SerializeAsString()) << case_id;
    }
    return seen;
  }

  hub::testing::TempDir dir_;
  hub::v1::SharingProtocol protocol_;
  std::shared_ptr<const auth::SharingPolicy> policy_;
  std::unique_ptr<storage::EventLog> log_;
  std::unique_ptr<storage::ViewStore> views_;
  std::vector<std::string> principals_;
  std::map<std::string, hub::v1::Principal> by_certificate_name_;
  hub::v1::LimitsConfig limits_;
};

TEST_F(ProjectorTest, CatchingUpInLargeBatchesGivesTheViewsOfOneEventAtATime) {
  AppendDemoSite(0.3);
  const uint64_t last = log_->LastPosition();
  ASSERT_GT(last, 2000u);

  const storage::GenerationInfo one_by_one = NewGeneration();
  ASSERT_NO_FATAL_FAILURE(ProjectInBatchesOf(1, one_by_one));

  const storage::GenerationInfo caught_up = NewGeneration();
  Projector projector(log_.get(), views_.get(), caught_up, policy_);
  ASSERT_TRUE(projector.Start().ok());
  EXPECT_EQ(projector.WaitForCheckpointAfter(last - 1, std::chrono::seconds(60)), last);
  ASSERT_TRUE(projector.health().ok()) << projector.health();
  projector.Stop();

  size_t compared = 0;
  for (uint16_t p = 0; p < principals_.size(); ++p) {
    const std::vector<std::string> expected = Everything(one_by_one.generation, p);
    EXPECT_EQ(Everything(caught_up.generation, p), expected) << principals_[p];
    compared += expected.size();
  }
  EXPECT_GT(compared, 10000u);

  // The governance report's facts of every case, too.
  auto reference_facts = views_->AllCaseFacts(one_by_one.generation);
  ASSERT_TRUE(reference_facts.ok()) << reference_facts.status();
  EXPECT_GT(reference_facts->size(), 50u);
  EXPECT_THAT(views_->AllCaseFacts(caught_up.generation),
              ::hub::testing::IsOkAndHolds(*reference_facts));
}

// A batch that would disclose the long histories of many cases at once
// (housing tasked into each) ends early, so that the earlier events it
// shapes again stay bounded, and the views are those of one event at a
// time.
TEST_F(ProjectorTest, ABatchDisclosingManyLongHistoriesEndsEarlyWithTheSameViews) {
  int published = 0;
  const auto publish = [&](const std::string& as, const std::string& case_id,
                           hub::v1::Purpose purpose,
                           const std::function<void(hub::v1::EventEnvelope*)>& fill) {
    AppendPublished(as, OneEvent(case_id, "7e57a000-0000-4000-8000-", ++published, purpose, fill));
  };
  // Ten cases of 400 safety updates, interleaved, then housing tasked into
  // each: one batch of the log, where at least two of the disclosures fall
  // to the same part of it.
  constexpr int kCases = 10;
  constexpr int kHistory = 400;
  for (int update = 0; update < kHistory; ++update) {
    for (int c = 0; c < kCases; ++c) {
      ASSERT_NO_FATAL_FAILURE(publish(
          "idva-agency", absl::StrCat("C-", c), hub::v1::PURPOSE_SAFEGUARDING,
          [&](hub::v1::EventEnvelope* e) {
            hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
            safety->set_victim_subject_id(absl::StrCat("V-", c));
            safety->set_risk_change(update % 2 == 0 ? hub::v1::REDUCED : hub::v1::INCREASED);
            safety->set_current_address(absl::StrCat("Flat ", update, ", Refuge Road"));
          }));
    }
  }
  for (int c = 0; c < kCases; ++c) {
    ASSERT_NO_FATAL_FAILURE(publish("dapp-coordinator", absl::StrCat("C-", c),
                                    hub::v1::PURPOSE_PANEL, [](hub::v1::EventEnvelope* e) {
                                      e->mutable_action_tasked()->set_action_id("A-1");
                                      e->mutable_action_tasked()->set_owner_agency("housing");
                                    }));
  }
  const uint64_t last = log_->LastPosition();
  ASSERT_EQ(last, static_cast<uint64_t>(kCases * (kHistory + 1)));

  const storage::GenerationInfo one_by_one = NewGeneration();
  ASSERT_NO_FATAL_FAILURE(ProjectInBatchesOf(1, one_by_one));

  const storage::GenerationInfo batched = NewGeneration();
  uint64_t first = 0;
  ASSERT_NO_FATAL_FAILURE(ProjectInBatchesOf(last, batched, &first));
  EXPECT_GT(first, static_cast<uint64_t>(kCases * kHistory));
  EXPECT_LT(first, last);

  const auto housing = std::find(principals_.begin(), principals_.end(),
                                 "spiffe://drive.example-county.gov.uk/agency/housing/agency");
  ASSERT_NE(housing, principals_.end());
  for (uint16_t p = 0; p < principals_.size(); ++p) {
    const std::vector<std::string> expected = Everything(one_by_one.generation, p);
    EXPECT_EQ(Everything(batched.generation, p), expected) << principals_[p];
    // Housing was given every case's history.
    if (p == housing - principals_.begin()) {
      EXPECT_GE(expected.size(), static_cast<size_t>(kCases * kHistory));
    }
  }
}

// A disclosure reads its case's history from the log. If that read fails
// (a failing device), the batch is written not at all: the projector
// reports itself unhealthy, tries again, and once the log reads again
// leaves exactly the views of one event at a time.
TEST_F(ProjectorTest, AFailedReadOfADisclosedHistoryWritesNothingAndIsRetried) {
  AppendDemoSite(0.3);
  const uint64_t last = log_->LastPosition();
  const storage::GenerationInfo one_by_one = NewGeneration();
  ASSERT_NO_FATAL_FAILURE(ProjectInBatchesOf(1, one_by_one));

  CaseReadsFailingLog failing(log_.get());
  failing.failing_case_reads = 3;
  const storage::GenerationInfo retried = NewGeneration();
  Projector projector(&failing, views_.get(), retried, policy_);
  // On this thread: the batch holding the first disclosure fails whole.
  for (;;) {
    const uint64_t before = projector.checkpoint();
    auto projected = projector.ProjectOnce(last);
    if (!projected.ok()) {
      EXPECT_EQ(projected.status().code(), absl::StatusCode::kUnavailable) << projected.status();
      EXPECT_EQ(projector.checkpoint(), before);
      auto stored = views_->Checkpoint(retried.generation);
      ASSERT_TRUE(stored.ok()) << stored.status();
      EXPECT_EQ(*stored, before) << "a failed batch was written in part";
      break;
    }
    ASSERT_NE(*projected, 0u) << "the demo site holds no disclosure";
  }
  // The projecting thread meets the remaining failures, and goes on.
  ASSERT_TRUE(projector.Start().ok());
  EXPECT_EQ(projector.WaitForCheckpointAfter(last - 1, std::chrono::seconds(60)), last);
  EXPECT_TRUE(projector.health().ok()) << projector.health();
  projector.Stop();
  EXPECT_EQ(failing.failing_case_reads.load(), 0);
  EXPECT_EQ(failing.failed_case_reads.load(), 3);

  for (uint16_t p = 0; p < principals_.size(); ++p) {
    EXPECT_EQ(Everything(retried.generation, p), Everything(one_by_one.generation, p))
        << principals_[p];
  }
}

// The facts a report reads follow the log batch by batch once read, and a
// correction changes them as it changes the views.
TEST_F(ProjectorTest, TheReportFactsFollowEveryBatchAndEveryCorrection) {
  AppendDemoSite(0.05);
  const storage::GenerationInfo generation = NewGeneration();
  Projector projector(log_.get(), views_.get(), generation, policy_);
  ASSERT_TRUE(projector.Start().ok());
  ASSERT_EQ(projector.WaitForCheckpointAfter(log_->LastPosition() - 1, std::chrono::seconds(60)),
            log_->LastPosition());
  std::string case_id;
  ASSERT_TRUE(projector
                  .ReadFacts([&](const Projector::FactsByCase& facts, uint64_t) {
                    for (const auto& [id, case_facts] : facts) {
                      if (case_facts->assessments_size() > 0 && case_id.empty()) case_id = id;
                    }
                  })
                  .ok());
  ASSERT_FALSE(case_id.empty());
  auto assessments = [&] {
    std::vector<hub::v1::RiskLevel> levels;
    EXPECT_TRUE(projector
                    .ReadFacts([&](const Projector::FactsByCase& facts, uint64_t) {
                      auto found = facts.find(case_id);
                      if (found == facts.end()) return;
                      for (const auto& assessment : found->second->assessments()) {
                        levels.push_back(assessment.level());
                      }
                    })
                    .ok());
    return levels;
  };
  const std::vector<hub::v1::RiskLevel> before = assessments();
  ASSERT_FALSE(before.empty());

  auto publish = [&](const std::string& event_id, auto fill) {
    hub::v1::PublishRequest request;
    request.set_case_id(case_id);
    hub::v1::EventEnvelope* event = request.add_events();
    event->set_event_id(event_id);
    event->set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
    event->set_lawful_basis("DPA 2018 s35");
    event->mutable_occurred_time()->set_seconds(1790000000);
    fill(event);
    ASSERT_NO_FATAL_FAILURE(AppendPublished("police-agency", request));
    ASSERT_EQ(projector.WaitForCheckpointAfter(log_->LastPosition() - 1, std::chrono::seconds(30)),
              log_->LastPosition());
  };
  publish("6f6f6f6f-0000-4000-8000-000000000001", [](hub::v1::EventEnvelope* e) {
    e->mutable_risk_assessed()->set_tool(hub::v1::PROFESSIONAL_ASSESSMENT);
    e->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_STANDARD);
  });
  std::vector<hub::v1::RiskLevel> expected = before;
  expected.push_back(hub::v1::RISK_STANDARD);
  EXPECT_EQ(assessments(), expected);

  publish("6f6f6f6f-0000-4000-8000-000000000002", [](hub::v1::EventEnvelope* e) {
    hub::v1::RecordCorrected* correction = e->mutable_record_corrected();
    correction->set_corrected_event_id("6f6f6f6f-0000-4000-8000-000000000001");
    correction->add_fields("risk_level");
    correction->set_reason("The level was entered wrongly.");
    correction->mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
  });
  expected.back() = hub::v1::RISK_HIGH;
  EXPECT_EQ(assessments(), expected);
  projector.Stop();
  // And the store holds what the projector remembers.
  auto stored = views_->CaseSummaries(generation.generation, case_id);
  ASSERT_TRUE(stored.ok());
  hub::v1::CaseFacts facts;
  ASSERT_TRUE(facts.ParseFromString(stored->facts));
  ASSERT_EQ(facts.assessments_size(), static_cast<int>(expected.size()));
  EXPECT_EQ(facts.assessments().rbegin()->level(), hub::v1::RISK_HIGH);
}

// The report's facts are kept serialized and parsed again for each report:
// facts damaged in the views are refused (DATA_LOSS naming the case), never
// reported as if the case had none.
TEST_F(ProjectorTest, DamagedReportFactsAreRefusedNotReported) {
  const storage::GenerationInfo generation = NewGeneration();
  storage::ProjectionBatch batch;
  storage::ProjectionBatch::CaseSummaries damaged;
  damaged.case_id = "C-DAMAGED";
  damaged.by_principal.resize(generation.principals.size());
  // Field 1 (referrals) with a length running past the end.
  damaged.facts = std::string("\x0a\xff\xff\x03", 4);
  batch.summaries.push_back(damaged);
  ASSERT_TRUE(views_->Apply(generation.generation, batch).ok());
  Projector projector(log_.get(), views_.get(), generation, policy_);
  bool reported = false;
  EXPECT_THAT(
      projector.ReadFacts([&](const Projector::FactsByCase&, uint64_t) { reported = true; }),
      hub::testing::StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("C-DAMAGED")));
  EXPECT_FALSE(reported);
}

// Erasing content by destroying its keys, with the views taken along where
// they stand rather than built again.
class ErasureInPlaceTest : public ProjectorTest {
 protected:
  void SetUp() override {
    ProjectorTest::SetUp();
    const absl::Time now = absl::FromUnixSeconds(1800000000);
    ASSERT_TRUE(auth::KeyFolder::AddKey(dir_.Sub("keks"), now).ok());
    auto keks = auth::KeyFolder::Open(dir_.Sub("keks"), dir_.Sub("data"));
    ASSERT_TRUE(keks.ok()) << keks.status();
    auto keys = auth::DataKeyStore::Open(dir_.Sub("data-keys"), dir_.Sub("data"),
                                         std::shared_ptr<const auth::KeyFolder>(*std::move(keks)));
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
    sealer_ = std::make_unique<auth::FieldSealer>(keys_.get());
    AppendDemoSite(Scale(), sealer_.get(), /*without_routing=*/!RoutingParts());
    generation_ = NewGeneration();
    ProjectInBatchesOf(1000, generation_, nullptr, sealer_.get());
  }

  virtual double Scale() const { return 0.1; }
  virtual bool RoutingParts() const { return true; }

  // Every key of the victim whose identity `key_id` (of VICTIM_IDENTITY)
  // seals, found by opening an event sealed under it.
  std::set<std::string> KeysOfVictimSealedUnder(const std::string& key_id,
                                                std::string* subject_id) {
    ForEachStoredPart(
        [&](const storage::StoredEvent& event, const auth::FieldSealer::PartKey& part) {
          if (part.key_id != key_id || !subject_id->empty()) return;
          auto opened = sealer_->Open(event.payload);
          EXPECT_TRUE(opened.ok()) << opened.status();
          const std::vector<std::string> subjects = auth::SubjectsOf(*opened);
          EXPECT_EQ(subjects.size(), 1u);
          if (!subjects.empty()) *subject_id = subjects.front();
        });
    if (subject_id->empty()) {
      ADD_FAILURE() << "no event is sealed under " << key_id;
      return {};
    }
    const std::vector<std::string> ids = auth::AllDataKeyIdsOf(*keys_, {"subject", *subject_id});
    return std::set<std::string>(ids.begin(), ids.end());
  }

  // The cases of the busiest victim identity relate her, in the views, by
  // her pseudonym in each case and never by her id.
  void ExpectCasesRelateTheVictimByPseudonym() {
    const auto [identity_key, cases] = BusiestKeyOf(hub::v1::VICTIM_IDENTITY);
    ASSERT_FALSE(cases.empty());
    std::string subject_id;
    KeysOfVictimSealedUnder(identity_key, &subject_id);
    ASSERT_FALSE(subject_id.empty());
    for (const std::string& case_id : cases) {
      auto stored = views_->CaseSummaries(generation_.generation, case_id);
      ASSERT_TRUE(stored.ok()) << stored.status();
      hub::v1::CaseRelations relations;
      ASSERT_TRUE(relations.ParseFromString(stored->relations));
      const absl::StatusOr<std::string> pseudonym = sealer_->PseudonymOf(case_id, subject_id);
      ASSERT_TRUE(pseudonym.ok()) << pseudonym.status();
      std::vector<std::string> related;
      for (const auto& subject : relations.subjects()) related.push_back(subject.subject_id());
      EXPECT_THAT(related, ::testing::Contains(*pseudonym)) << case_id;
      EXPECT_THAT(related, ::testing::Not(::testing::Contains(subject_id))) << case_id;
      EXPECT_THAT(relations.DebugString(), ::testing::Not(::testing::HasSubstr(subject_id)));
    }
  }

  // How many deliveries of the active views tell their principal that
  // content of `data_class` was erased on request.
  int ToldOfErasureOnRequest(hub::v1::DataClass data_class) {
    int told = 0;
    for (size_t p = 0; p < principals_.size(); ++p) {
      auto events = views_->ReadFrom(generation_.generation, static_cast<uint16_t>(p), 0, 1000000);
      EXPECT_TRUE(events.ok()) << events.status();
      if (!events.ok()) return 0;
      for (const storage::ViewEvent& event : *events) {
        hub::v1::EventEnvelope envelope;
        EXPECT_TRUE(envelope.ParseFromString(event.payload));
        for (const hub::v1::ErasedContent& erased : envelope.erased()) {
          told += erased.erased_class() == data_class && erased.rule() == "request" ? 1 : 0;
        }
      }
    }
    return told;
  }

  // The victim whose identity key seals the most events: her id, her
  // cases, and every key of hers.
  std::set<std::string> BusiestVictim(std::string* subject_id, std::set<std::string>* cases) {
    const auto [identity_key, identity_cases] = BusiestKeyOf(hub::v1::VICTIM_IDENTITY);
    EXPECT_FALSE(identity_cases.empty());
    *cases = identity_cases;
    return KeysOfVictimSealedUnder(identity_key, subject_id);
  }

  // How many events of `views` (EveryView) hold `text` anywhere.
  static int EventsNaming(const std::vector<std::vector<std::string>>& views,
                          const std::string& text) {
    int naming = 0;
    for (const auto& view : views) {
      for (const std::string& event : view) naming += event.find(text) != std::string::npos ? 1 : 0;
    }
    return naming;
  }

  void EraseAll(const std::set<std::string>& key_ids, const std::string& reference) {
    for (const std::string& key_id : key_ids) {
      ASSERT_TRUE(
          keys_->Erase(key_id, {absl::FromUnixSeconds(1800000100), "request", reference}).ok());
    }
  }

  // Calls `visit` with each sealed part of each event of the log, in log
  // order (parts read off the wire, none opened).
  void ForEachStoredPart(const std::function<void(const storage::StoredEvent&,
                                                  const auth::FieldSealer::PartKey&)>& visit) {
    auto events = log_->ReadFrom(1, 1000000, 1 << 30);
    EXPECT_TRUE(events.ok()) << events.status();
    if (!events.ok()) return;
    for (const storage::StoredEvent& event : *events) {
      auto parts = auth::FieldSealer::PartsOf(event.payload);
      EXPECT_TRUE(parts.ok()) << parts.status();
      if (!parts.ok()) continue;
      for (const auth::FieldSealer::PartKey& part : *parts) visit(event, part);
    }
  }

  // Per key of `data_class` some stored event has a part under: how many
  // such events, and their cases.
  struct KeyUse {
    int events = 0;
    std::set<std::string> cases;
  };
  std::map<std::string, KeyUse> KeysOf(hub::v1::DataClass data_class) {
    std::map<std::string, KeyUse> keys;
    ForEachStoredPart(
        [&](const storage::StoredEvent& event, const auth::FieldSealer::PartKey& part) {
          if (part.data_class != data_class) return;
          KeyUse& use = keys[part.key_id];
          ++use.events;
          use.cases.insert(event.case_id);
        });
    return keys;
  }

  std::set<std::string> EveryKeyOf(hub::v1::DataClass data_class) {
    std::set<std::string> keys;
    for (const auto& [key_id, use] : KeysOf(data_class)) keys.insert(key_id);
    return keys;
  }

  // The key of `data_class` that seals the most stored events, and the
  // cases holding a part under it.
  std::pair<std::string, std::set<std::string>> BusiestKeyOf(hub::v1::DataClass data_class) {
    const std::map<std::string, KeyUse> keys = KeysOf(data_class);
    auto busiest = keys.end();
    for (auto it = keys.begin(); it != keys.end(); ++it) {
      if (busiest == keys.end() || it->second.events > busiest->second.events) busiest = it;
    }
    EXPECT_NE(busiest, keys.end()) << hub::v1::DataClass_Name(data_class);
    if (busiest == keys.end()) return {};
    return {busiest->first, busiest->second.cases};
  }

  std::vector<std::vector<std::string>> EveryView(uint32_t generation) {
    std::vector<std::vector<std::string>> views;
    for (size_t p = 0; p < principals_.size(); ++p) {
      views.push_back(Everything(generation, static_cast<uint16_t>(p)));
    }
    return views;
  }

  std::string DigestOf(uint32_t generation) {
    auto generations = views_->Generations();
    EXPECT_TRUE(generations.ok());
    for (const storage::GenerationInfo& info : *generations) {
      if (info.generation == generation) return info.protocol_digest;
    }
    return "";
  }

  std::unique_ptr<auth::DataKeyStore> keys_;
  std::unique_ptr<auth::FieldSealer> sealer_;
  storage::GenerationInfo generation_;
};

// A victim's whereabouts decide no relationship and name no subject: once
// their key is destroyed, the views taken along where they stand are
// exactly the views a projection from scratch gives, for every principal
// (every delivery, case history and case summary), and say what went.
TEST_F(ErasureInPlaceTest, ErasedWhereaboutsLeaveTheViewsOfAProjectionFromScratch) {
  const auto [key_id, cases] = BusiestKeyOf(hub::v1::VICTIM_LOCATION);
  ASSERT_FALSE(cases.empty());
  const auto before = EveryView(generation_.generation);
  ASSERT_TRUE(keys_->Erase(key_id, {absl::FromUnixSeconds(1800000100), "request", "DPO-1"}).ok());

  Projector projector(log_.get(), views_.get(), generation_, policy_, sealer_.get());
  EXPECT_THAT(projector.ForgetInPlace({key_id}, "digest after the erasure"),
              hub::testing::IsOkAndHolds(true));
  EXPECT_EQ(projector.edition(), 1u);
  // The views' index of sealed parts found every case the log holds them in.
  const Projector::Reshaped reshaped_cases = projector.last_reshaped();
  EXPECT_EQ(std::set<std::string>(reshaped_cases.case_ids.begin(), reshaped_cases.case_ids.end()),
            cases);
  EXPECT_GT(reshaped_cases.first_position, 0u);
  EXPECT_GE(reshaped_cases.last_position, reshaped_cases.first_position);
  EXPECT_EQ(DigestOf(generation_.generation), "digest after the erasure");

  const auto reshaped = EveryView(generation_.generation);
  EXPECT_NE(reshaped, before) << "nothing was erased from the views";
  const storage::GenerationInfo fresh = NewGeneration();
  ProjectInBatchesOf(1000, fresh, nullptr, sealer_.get());
  EXPECT_EQ(reshaped, EveryView(fresh.generation));
  // Those who saw the whereabouts are told they went, and why.
  EXPECT_GT(ToldOfErasureOnRequest(hub::v1::VICTIM_LOCATION), 0);
}

// A victim erased as a whole: her identity, whereabouts, disclosures and
// risk, and the key of her pseudonyms. Who she was decided who is related
// to her cases and whom each event is about; each sealed event keeps that
// under its case's key with her named by a pseudonym nobody can trace back
// once her keys are gone. So the views are taken along where they stand,
// are exactly the views a projection from scratch gives, tell those who
// could have seen her identity that it went, and hold her id nowhere.
TEST_F(ErasureInPlaceTest, AnErasedVictimLeavesTheViewsOfAProjectionFromScratch) {
  std::string subject_id;
  std::set<std::string> cases;
  const std::set<std::string> key_ids = BusiestVictim(&subject_id, &cases);
  ASSERT_FALSE(subject_id.empty());
  const auto before = EveryView(generation_.generation);
  ASSERT_GT(EventsNaming(before, subject_id), 0) << "before the erasure";
  EraseAll(key_ids, "DPO-2");

  Projector projector(log_.get(), views_.get(), generation_, policy_, sealer_.get());
  EXPECT_THAT(projector.ForgetInPlace(key_ids, "digest after the erasure"),
              hub::testing::IsOkAndHolds(true));
  EXPECT_EQ(projector.edition(), 1u);
  const Projector::Reshaped reshaped_cases = projector.last_reshaped();
  EXPECT_EQ(std::set<std::string>(reshaped_cases.case_ids.begin(), reshaped_cases.case_ids.end()),
            cases);
  EXPECT_EQ(DigestOf(generation_.generation), "digest after the erasure");

  const auto reshaped = EveryView(generation_.generation);
  EXPECT_NE(reshaped, before);
  EXPECT_EQ(EventsNaming(reshaped, subject_id), 0);
  EXPECT_GT(ToldOfErasureOnRequest(hub::v1::VICTIM_IDENTITY), 0);
  const storage::GenerationInfo fresh = NewGeneration();
  ProjectInBatchesOf(1000, fresh, nullptr, sealer_.get());
  EXPECT_EQ(reshaped, EveryView(fresh.generation));
}

// A partner who somehow learned a victim's pseudonym in a case links a
// "subject" whose id is that pseudonym, supported by its own agency, hoping
// to be related to her events. Ids are always hashed into pseudonyms, never
// taken as them: the forged link names another pseudonym, and the partner
// sees nothing of her whereabouts. A genuine link (the control) does.
TEST_F(ErasureInPlaceTest, AnIdThatIsAnotherSubjectsPseudonymRelatesNoOneToHer) {
  int published = 0;
  const auto publish = [&](const std::string& as, const std::string& case_id,
                           const std::function<void(hub::v1::EventEnvelope*)>& fill) {
    AppendPublished(as,
                    OneEvent(case_id, "f0a9ed00-0000-4000-8000-", ++published,
                             hub::v1::PURPOSE_SAFEGUARDING, fill),
                    sealer_.get());
  };
  const auto link = [&](const std::string& case_id, const std::string& subject_id,
                        const std::string& supporter) {
    publish("police-agency", case_id, [&](hub::v1::EventEnvelope* e) {
      hub::v1::VictimSubject* victim = e->mutable_subject_linked()->mutable_victim();
      victim->set_subject_id(subject_id);
      victim->add_supporting_agencies(supporter);
    });
  };
  const auto whereabouts = [&](const std::string& case_id, const std::string& address) {
    publish("police-agency", case_id, [&](hub::v1::EventEnvelope* e) {
      hub::v1::VictimSafetyInformation* safety = e->mutable_victim_safety_information();
      safety->set_victim_subject_id("V-TARGET");
      safety->set_current_address(address);
    });
  };
  // The forged case: she is supported by the police only.
  ASSERT_NO_FATAL_FAILURE(link("C-FORGED", "V-TARGET", "police"));
  ASSERT_NO_FATAL_FAILURE(whereabouts("C-FORGED", "CANARY-FORGED-ADDRESS"));
  const absl::StatusOr<std::string> pseudonym = sealer_->PseudonymOf("C-FORGED", "V-TARGET");
  ASSERT_TRUE(pseudonym.ok()) << pseudonym.status();
  ASSERT_NO_FATAL_FAILURE(link("C-FORGED", *pseudonym, "idva"));
  // The control: her advocate genuinely supports her.
  ASSERT_NO_FATAL_FAILURE(link("C-CONTROL", "V-TARGET", "idva"));
  ASSERT_NO_FATAL_FAILURE(whereabouts("C-CONTROL", "CANARY-CONTROL-ADDRESS"));
  const storage::GenerationInfo projected = NewGeneration();
  ASSERT_NO_FATAL_FAILURE(ProjectInBatchesOf(1000, projected, nullptr, sealer_.get()));

  const auto idva = std::find(principals_.begin(), principals_.end(),
                              "spiffe://drive.example-county.gov.uk/agency/idva/agency");
  ASSERT_NE(idva, principals_.end());
  bool control_seen = false;
  for (const std::string& event :
       Everything(projected.generation, static_cast<uint16_t>(idva - principals_.begin()))) {
    EXPECT_EQ(event.find("CANARY-FORGED-ADDRESS"), std::string::npos);
    control_seen |= event.find("CANARY-CONTROL-ADDRESS") != std::string::npos;
  }
  EXPECT_TRUE(control_seen)
      << "the control: her advocate sees her whereabouts where it supports her";
  auto stored = views_->CaseSummaries(projected.generation, "C-FORGED");
  ASSERT_TRUE(stored.ok()) << stored.status();
  hub::v1::CaseRelations relations;
  ASSERT_TRUE(relations.ParseFromString(stored->relations));
  ASSERT_EQ(relations.subjects_size(), 2) << relations.DebugString();
  EXPECT_NE(relations.subjects(0).subject_id(), relations.subjects(1).subject_id());
}

// A log written before routing parts existed: its events name subjects
// only by id. Without her identity, a projection from scratch relates
// agencies to the case differently and numbers their views differently;
// taking the erasure in place would leave views no rebuild gives. It is
// refused, and nothing changes (the caller builds the views again).
class ErasureInPlaceOfAnOlderLogTest : public ErasureInPlaceTest {
 protected:
  bool RoutingParts() const override { return false; }
};

TEST_F(ErasureInPlaceOfAnOlderLogTest, AnErasedIdentityIsRefusedInPlaceAndChangesNothing) {
  const auto [key_id, cases] = BusiestKeyOf(hub::v1::VICTIM_IDENTITY);
  ASSERT_FALSE(cases.empty());
  const auto before = EveryView(generation_.generation);
  const std::string digest = DigestOf(generation_.generation);
  ASSERT_TRUE(keys_->Erase(key_id, {absl::FromUnixSeconds(1800000100), "request", "DPO-2"}).ok());

  Projector projector(log_.get(), views_.get(), generation_, policy_, sealer_.get());
  EXPECT_THAT(projector.ForgetInPlace({key_id}, "digest after the erasure"),
              hub::testing::IsOkAndHolds(false));
  EXPECT_EQ(projector.edition(), 0u);
  EXPECT_EQ(DigestOf(generation_.generation), digest);
  EXPECT_EQ(EveryView(generation_.generation), before);
}

// Its events' subjects are given pseudonyms as they are opened, while the
// subjects' keys are held: the same pseudonyms a newer hub seals into each
// event, so that a case written partly by each relates the same agencies.
TEST_F(ErasureInPlaceOfAnOlderLogTest, ItsSubjectsAreRelatedByTheSamePseudonymsAsANewerLogs) {
  ExpectCasesRelateTheVictimByPseudonym();
}

TEST_F(ErasureInPlaceTest, TheCasesRelateTheirSubjectsByPseudonymOnly) {
  ExpectCasesRelateTheVictimByPseudonym();
}

// A read of the log failing under an erasure (a failing device) ends it
// before anything is written: the views, their digest and their edition
// are as they were, the caller is told (and builds the views again), and
// the same erasure taken again succeeds.
TEST_F(ErasureInPlaceTest, AFailedReadChangesNothingAndTheErasureIsTakenAgain) {
  const auto [key_id, cases] = BusiestKeyOf(hub::v1::VICTIM_LOCATION);
  ASSERT_FALSE(cases.empty());
  const auto before = EveryView(generation_.generation);
  const std::string digest = DigestOf(generation_.generation);
  ASSERT_TRUE(keys_->Erase(key_id, {absl::FromUnixSeconds(1800000100), "request", "DPO-7"}).ok());
  CaseReadsFailingLog failing(log_.get());
  Projector projector(&failing, views_.get(), generation_, policy_, sealer_.get());
  failing.failing_case_reads = 1;
  EXPECT_THAT(projector.ForgetInPlace({key_id}, "digest after the erasure"),
              hub::testing::StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(failing.failed_case_reads.load(), 1);
  EXPECT_EQ(projector.edition(), 0u);
  EXPECT_EQ(DigestOf(generation_.generation), digest);
  EXPECT_EQ(EveryView(generation_.generation), before);

  EXPECT_THAT(projector.ForgetInPlace({key_id}, "digest after the erasure"),
              hub::testing::IsOkAndHolds(true));
  const storage::GenerationInfo fresh = NewGeneration();
  ProjectInBatchesOf(1000, fresh, nullptr, sealer_.get());
  EXPECT_EQ(EveryView(generation_.generation), EveryView(fresh.generation));
}

// Served by the projecting thread while it follows the log: what a batch
// shaped before the key went is shaped again, and the views then match a
// projection from scratch.
TEST_F(ErasureInPlaceTest, ARunningProjectorTakesTheErasureBetweenTwoBatches) {
  const auto [key_id, cases] = BusiestKeyOf(hub::v1::VICTIM_LOCATION);
  Projector projector(log_.get(), views_.get(), generation_, policy_, sealer_.get());
  ASSERT_TRUE(projector.Start().ok());
  ASSERT_GT(cases.size(), 0u);
  ASSERT_TRUE(keys_->Erase(key_id, {absl::FromUnixSeconds(1800000100), "request", "DPO-3"}).ok());
  EXPECT_THAT(projector.ForgetInPlace({key_id}, "digest after the erasure"),
              hub::testing::IsOkAndHolds(true));
  projector.Stop();
  // Stopped, it takes nothing more.
  EXPECT_THAT(projector.ForgetInPlace({key_id}, "another"),
              hub::testing::StatusIs(absl::StatusCode::kUnavailable));
  const storage::GenerationInfo fresh = NewGeneration();
  ProjectInBatchesOf(1000, fresh, nullptr, sealer_.get());
  EXPECT_EQ(EveryView(generation_.generation), EveryView(fresh.generation));
}

// The views tell whoever keeps what it read of them (subscriptions sharing
// a read) when they change under it: an erasure taken where they stand, or
// another generation made active. Kept, such a read would hold erased
// content in hubd's memory until someone next read.
TEST_F(ErasureInPlaceTest, TheViewsTellTheirReadersWhenAnErasureChangesThem) {
  auto views = Views::Open(log_.get(), dir_.Sub("hub-views"), sealer_.get());
  ASSERT_TRUE(views.ok()) << views.status();
  ASSERT_TRUE((*views)->Start(protocol_).ok());
  int told = 0;
  const int listener = (*views)->NotifyOnChange([&told] { ++told; });

  const auto [location_key, location_cases] = BusiestKeyOf(hub::v1::VICTIM_LOCATION);
  ASSERT_FALSE(location_cases.empty());
  ASSERT_TRUE(
      keys_->Erase(location_key, {absl::FromUnixSeconds(1800000100), "request", "DPO-5"}).ok());
  EXPECT_THAT((*views)->ForgetInPlace(protocol_, {location_key}, /*erasures_before=*/0),
              hub::testing::IsOkAndHolds(true));
  EXPECT_EQ(told, 1);
  EXPECT_EQ((*views)->Edition(), 1u);

  // Refused in place, nothing changed: nobody is told. A case's routing
  // key goes only with the case as a whole.
  const auto [identity_key, identity_cases] = BusiestKeyOf(hub::v1::VICTIM_IDENTITY);
  ASSERT_FALSE(identity_cases.empty());
  const std::string routing_key = auth::RoutingKeyIdOf(*keys_, {"case", *identity_cases.begin()});
  ASSERT_TRUE(
      keys_->Erase(routing_key, {absl::FromUnixSeconds(1800000200), "request", "DPO-6"}).ok());
  EXPECT_THAT((*views)->ForgetInPlace(protocol_, {routing_key}, /*erasures_before=*/0),
              hub::testing::IsOkAndHolds(false));
  EXPECT_EQ(told, 1);

  // Built again instead, as an erasure of what decides relationships is.
  auto next = (*views)->BuildNext(protocol_, std::chrono::minutes(2));
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE((*views)->Activate(*std::move(next)).ok());
  EXPECT_EQ(told, 2);
  EXPECT_EQ((*views)->Edition(), 0u) << "a new generation starts its own editions";
  (*views)->StopNotifying(listener);
  (*views)->Stop();
}

// An erasure recorded earlier whose views were never built (its rebuild
// failed; hubd was to build them at its next start) must not be counted by
// a later erasure taken in place: the earlier one's content would then stay
// in the views for good. The later one is refused in place, changing
// nothing, and the caller builds the views again.
TEST_F(ErasureInPlaceTest, AnEarlierErasureTheViewsMissedIsNeverCountedByALaterOne) {
  auto views = Views::Open(log_.get(), dir_.Sub("hub-views"), sealer_.get());
  ASSERT_TRUE(views.ok()) << views.status();
  ASSERT_TRUE((*views)->Start(protocol_).ok());
  const auto record_erasure = [this](const std::string& key_id) {
    ASSERT_TRUE(keys_->Erase(key_id, {absl::FromUnixSeconds(1800000100), "request", "DPO-8"}).ok());
    hub::v1::EventEnvelope record =
        HubRecord(absl::StrCat("erasure-", key_id), kErasureCase, "operator",
                  absl::FromUnixSeconds(1800000100), "UK GDPR Art 17");
    record.mutable_data_erased()->set_key_id(key_id);
    storage::AppendRequest append;
    append.case_id = kErasureCase;
    append.events.push_back({record.event_id(), record.SerializeAsString()});
    ASSERT_TRUE(log_->Append(append).ok());
  };
  const auto [missed_key, missed_cases] = BusiestKeyOf(hub::v1::VICTIM_DISCLOSURE);
  ASSERT_FALSE(missed_cases.empty());
  record_erasure(missed_key);
  const auto [location_key, location_cases] = BusiestKeyOf(hub::v1::VICTIM_LOCATION);
  ASSERT_FALSE(location_cases.empty());
  record_erasure(location_key);
  EXPECT_THAT((*views)->ForgetInPlace(protocol_, {location_key}, /*erasures_before=*/1),
              hub::testing::IsOkAndHolds(false));
  EXPECT_EQ((*views)->Edition(), 0u);
  // Built again, the views have taken both; the next erasure is taken where
  // they stand.
  auto next = (*views)->BuildNext(protocol_, std::chrono::minutes(2));
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE((*views)->Activate(*std::move(next)).ok());
  const auto [health_key, health_cases] = BusiestKeyOf(hub::v1::VICTIM_RISK_SUMMARY);
  ASSERT_FALSE(health_cases.empty());
  record_erasure(health_key);
  EXPECT_THAT((*views)->ForgetInPlace(protocol_, {health_key}, /*erasures_before=*/2),
              hub::testing::IsOkAndHolds(true));
  EXPECT_EQ((*views)->Edition(), 1u);
  (*views)->Stop();
}

// The same for restrictions: a restriction recorded earlier whose views
// were never built must not be counted by a later one taken in place, or
// content meant to be withheld would stay shown. Refused in place; built
// again, the views take the next one where they stand.
TEST_F(ErasureInPlaceTest, AnEarlierRestrictionTheViewsMissedIsNeverCountedByALaterOne) {
  auto views = Views::Open(log_.get(), dir_.Sub("hub-views"), sealer_.get());
  ASSERT_TRUE(views.ok()) << views.status();
  ASSERT_TRUE((*views)->Start(protocol_).ok());
  int recorded = 0;
  const auto record_restriction = [&](const std::set<std::string>& key_ids, bool lifted) {
    ++recorded;
    hub::v1::EventEnvelope record =
        HubRecord(absl::StrCat("restrict-", recorded), kRestrictionsCase, "operator",
                  absl::FromUnixSeconds(1800000100 + recorded), "UK GDPR Art 18");
    hub::v1::ProcessingRestricted* restricted = record.mutable_processing_restricted();
    for (const std::string& key_id : key_ids) restricted->add_key_ids(key_id);
    restricted->set_scope("subject");
    restricted->set_lifted(lifted);
    storage::AppendRequest append;
    append.case_id = kRestrictionsCase;
    append.events.push_back({record.event_id(), record.SerializeAsString()});
    ASSERT_TRUE(log_->Append(append).ok());
  };
  std::string subject_id;
  std::set<std::string> cases;
  const std::set<std::string> key_ids = BusiestVictim(&subject_id, &cases);
  ASSERT_FALSE(subject_id.empty());
  // Missed: recorded, the views never told. Then lifted, and taken in
  // place as if the views had it.
  ASSERT_NO_FATAL_FAILURE(record_restriction(key_ids, /*lifted=*/false));
  ASSERT_NO_FATAL_FAILURE(record_restriction(key_ids, /*lifted=*/true));
  EXPECT_THAT((*views)->RestrictInPlace(protocol_, /*restrictions_before=*/1),
              hub::testing::IsOkAndHolds(false));
  EXPECT_EQ((*views)->Edition(), 0u);
  auto next = (*views)->BuildNext(protocol_, std::chrono::minutes(2));
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE((*views)->Activate(*std::move(next)).ok());
  ASSERT_NO_FATAL_FAILURE(record_restriction(key_ids, /*lifted=*/false));
  EXPECT_THAT((*views)->RestrictInPlace(protocol_, /*restrictions_before=*/2),
              hub::testing::IsOkAndHolds(true));
  EXPECT_EQ((*views)->Edition(), 1u);
  (*views)->Stop();
}

// A restriction of processing withholds a subject's content, never who is
// related to her cases: placed, the views take it where they stand and are
// exactly those a projection from scratch under it gives; lifted, they are
// again what they were. A case's own restriction withholds its routing
// part too: refused in place, and the projector goes on as it was.
TEST_F(ErasureInPlaceTest, ARestrictionPlacedAndLiftedLeavesTheViewsOfAProjectionFromScratch) {
  std::string subject_id;
  std::set<std::string> cases;
  const std::set<std::string> key_ids = BusiestVictim(&subject_id, &cases);
  ASSERT_FALSE(subject_id.empty());
  const auto before = EveryView(generation_.generation);
  auto withheld = std::make_shared<auth::WithheldKeys>();
  for (const std::string& key_id : key_ids)
    withheld->emplace(key_id, absl::FromUnixSeconds(1800000200));

  Projector projector(log_.get(), views_.get(), generation_, policy_, sealer_.get());
  EXPECT_THAT(projector.RestrictInPlace(withheld, "digest while restricted"),
              hub::testing::IsOkAndHolds(true));
  EXPECT_EQ(projector.edition(), 1u);
  EXPECT_EQ(DigestOf(generation_.generation), "digest while restricted");
  const auto restricted = EveryView(generation_.generation);
  EXPECT_NE(restricted, before);
  EXPECT_EQ(EventsNaming(restricted, subject_id), 0);
  const storage::GenerationInfo fresh = NewGeneration();
  ProjectInBatchesOf(1000, fresh, nullptr, sealer_.get(), withheld);
  EXPECT_EQ(restricted, EveryView(fresh.generation));

  // Her case restricted as a whole as well: its routing key is withheld.
  auto with_case = std::make_shared<auth::WithheldKeys>(*withheld);
  for (const std::string& key_id : auth::AllDataKeyIdsOf(*keys_, {"case", *cases.begin()})) {
    with_case->emplace(key_id, absl::FromUnixSeconds(1800000300));
  }
  EXPECT_THAT(projector.RestrictInPlace(with_case, "digest with the case restricted"),
              hub::testing::IsOkAndHolds(false));
  EXPECT_EQ(DigestOf(generation_.generation), "digest while restricted");
  EXPECT_EQ(EveryView(generation_.generation), restricted);

  // Lifted: what the views held before, under the projector's own
  // restrictions (the refused ones never taken).
  EXPECT_THAT(projector.RestrictInPlace(nullptr, "digest lifted"),
              hub::testing::IsOkAndHolds(true));
  EXPECT_EQ(EveryView(generation_.generation), before);
}

// A retention run can take every victim's whereabouts and disclosures at
// once: the reshaping is written in batches of the projector's size (its
// memory bounded as the projector's is), the digest moving with the last,
// and the views are still exactly a projection from scratch.
class LargeErasureInPlaceTest : public ErasureInPlaceTest {
 protected:
  double Scale() const override { return 0.5; }
};

TEST_F(LargeErasureInPlaceTest, ManyCasesAreReshapedInBatchesWithTheViewsOfAFreshProjection) {
  std::set<std::string> keys = EveryKeyOf(hub::v1::VICTIM_LOCATION);
  keys.merge(EveryKeyOf(hub::v1::VICTIM_DISCLOSURE));
  ASSERT_GT(keys.size(), 10u);
  for (const std::string& key_id : keys) {
    ASSERT_TRUE(keys_->Erase(key_id, {absl::FromUnixSeconds(1800000100), "retention", "1y"}).ok());
  }
  Projector projector(log_.get(), views_.get(), generation_, policy_, sealer_.get());
  EXPECT_THAT(projector.ForgetInPlace(keys, "digest after the retention run"),
              hub::testing::IsOkAndHolds(true));
  EXPECT_GT(projector.edition(), 1u) << "written in one batch: nothing bounded it";
  EXPECT_EQ(DigestOf(generation_.generation), "digest after the retention run");
  const storage::GenerationInfo fresh = NewGeneration();
  ProjectInBatchesOf(4096, fresh, nullptr, sealer_.get());
  EXPECT_EQ(EveryView(generation_.generation), EveryView(fresh.generation));
}

}  // namespace
}  // namespace hub::services
