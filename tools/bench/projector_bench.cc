// How fast the projector builds every principal's view from the log, the
// work a protocol change or a first start does. Prints events projected per
// second for all principals of the example protocol, next to the rate of
// just reading and parsing the same log in the same run (the baseline a
// projector cannot beat), and the ratio.
//
// Usage: projector_bench [--events=100000] [--dir=bench-data] [--json=FILE]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

#include "auth/data_keys.h"
#include "auth/field_sealing.h"
#include "auth/key_encryption.h"
#include "auth/sharing_policy.h"
#include "auth/sharing_protocol.h"
#include "services/envelope.h"
#include "services/governance_report.h"
#include "services/projector.h"
#include "services/report_facts.h"
#include "services/views.h"
#include "storage/event_log.h"
#include "storage/view_store.h"

ABSL_FLAG(uint64_t, events, 100000, "Events in the log to project.");
ABSL_FLAG(std::string, dir, "bench-data", "Scratch folder (emptied).");
ABSL_FLAG(std::string, protocol, "deploy/examples/sharing_protocol.textproto",
          "Sharing protocol to project with.");
ABSL_FLAG(std::string, json, "", "Also write the results to this JSON file.");

namespace {

using Clock = std::chrono::steady_clock;

// A mix of the Drive events a site produces, with their usual purposes.
hub::v1::EventEnvelope SampleEvent(uint64_t i) {
  hub::v1::EventEnvelope envelope;
  envelope.set_event_id(absl::StrFormat("%08x-0000-4000-8000-%012x", i >> 32, i));
  envelope.set_case_id(absl::StrCat("C-", i % 1750));
  envelope.set_producing_agency("police");
  envelope.mutable_recorded_time()->set_seconds(1795000000 + i);
  envelope.mutable_occurred_time()->set_seconds(1795000000 + i);
  envelope.set_lawful_basis("UK GDPR Art 6(1)(e)");
  switch (i % 6) {
    case 0:
      envelope.set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
      envelope.mutable_victim_safety_information()->set_victim_subject_id("V-1");
      envelope.mutable_victim_safety_information()->set_risk_change(hub::v1::REDUCED);
      envelope.mutable_victim_safety_information()->set_current_address("1 Any Street");
      envelope.mutable_victim_safety_information()->set_disclosure_notes(std::string(200, 'n'));
      break;
    case 1:
      envelope.set_purpose(hub::v1::PURPOSE_DISRUPTION);
      envelope.mutable_disruption_recorded()->set_kind(hub::v1::DVPO);
      envelope.mutable_disruption_recorded()->set_conditions(std::string(120, 'c'));
      envelope.mutable_disruption_recorded()->set_exclusion_zone("Any Street area");
      break;
    case 2:
      envelope.set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
      envelope.mutable_engagement_recorded()->set_kind(hub::v1::SESSION_ATTENDED);
      envelope.mutable_engagement_recorded()->set_case_manager_notes(std::string(300, 'e'));
      break;
    case 3:
      envelope.set_purpose(hub::v1::PURPOSE_PANEL);
      envelope.mutable_action_tasked()->set_action_id(absl::StrCat("A-", i));
      envelope.mutable_action_tasked()->set_owner_agency("housing");
      envelope.mutable_action_tasked()->set_description(std::string(80, 'a'));
      break;
    case 4:
      envelope.set_purpose(hub::v1::PURPOSE_SAFEGUARDING);
      envelope.mutable_risk_assessed()->set_tool(hub::v1::DASH);
      envelope.mutable_risk_assessed()->set_dash_yes_count(15);
      envelope.mutable_risk_assessed()->set_risk_level(hub::v1::RISK_HIGH);
      envelope.mutable_risk_assessed()->set_assessor_notes(std::string(200, 'r'));
      break;
    default:
      envelope.set_purpose(hub::v1::PURPOSE_CASE_MANAGEMENT);
      envelope.mutable_support_referral_made()->set_service(hub::v1::SUBSTANCE_MISUSE);
      envelope.mutable_support_referral_made()->set_clinical_notes(std::string(150, 'h'));
      break;
  }
  return envelope;
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void Check(const absl::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::exit(1);
  }
}

struct Figures {
  double read_rate = 0;
  double project_rate = 0;
  uint64_t projected = 0;
  double project_seconds = 0;
  // CPU time of the whole process meanwhile (RocksDB's flushes and
  // compactions included), over project_seconds: the cores it kept busy.
  double project_cores = 0;
  size_t principals = 0;
  // The governance report's programme figures for a month, over every
  // case's facts: the first read of the facts from the views, then each
  // report after it.
  size_t report_cases = 0;
  // Folding the events into the report's case facts alone (its share of
  // projecting), timed around the fold only.
  double facts_fold_rate = 0;
  double report_load_ms = 0;
  double report_p50_ms = 0;
  double report_p99_ms = 0;
};

// Produces the month's programme figures `rounds` times from the
// projector's facts, as ReportService does.
void MeasureReports(const hub::services::Projector& projector, Figures* figures) {
  auto period = hub::services::MonthPeriod("2026-11", absl::Now());
  Check(period.status());
  Clock::time_point start = Clock::now();
  Check(projector.ReadFacts([&](const hub::services::Projector::FactsByCase& facts, uint64_t) {
    figures->report_cases = facts.size();
  }));
  figures->report_load_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::vector<double> took;
  for (int round = 0; round < 200; ++round) {
    start = Clock::now();
    Check(projector.ReadFacts([&](const hub::services::Projector::FactsByCase& facts, uint64_t) {
      std::vector<const hub::v1::CaseFacts*> cases;
      cases.reserve(facts.size());
      for (const auto& [case_id, case_facts] : facts) cases.push_back(case_facts.get());
      const hub::v1::ProgrammeFigures programme =
          hub::services::ProgrammeFiguresOf(cases, *period, 12);
      if (programme.engagement_by_kind().empty()) Check(absl::InternalError("an empty report"));
    }));
    took.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(took.begin(), took.end());
  figures->report_p50_ms = took[took.size() / 2];
  figures->report_p99_ms = took[took.size() * 99 / 100];
}

// Appends `count` events to a fresh log in `dir` (sealed with `sealer` when
// given, as hubd stores them), then reads and parses it once and projects
// every principal's views from it (into views encrypted at rest with
// `encrypted_views`, as hubd keeps them).
Figures Measure(const hub::auth::LoadedProtocol& protocol, const std::string& dir, uint64_t count,
                const hub::auth::FieldSealer* sealer, bool encrypted_views = false) {
  std::filesystem::remove_all(dir);
  auto log = hub::storage::EventLog::Open(dir + "/events", hub::storage::EventLogOptions());
  Check(log.status());
  for (uint64_t i = 0; i < count;) {
    hub::storage::AppendRequest request;
    request.case_id = absl::StrCat("C-", (i / 256) % 1750);
    for (uint64_t j = 0; j < 256 && i < count; ++j, ++i) {
      hub::v1::EventEnvelope envelope = SampleEvent(i);
      envelope.set_case_id(request.case_id);
      std::string payload = envelope.SerializeAsString();
      if (sealer != nullptr) {
        absl::StatusOr<std::string> sealed = sealer->Seal(envelope);
        Check(sealed.status());
        payload = *std::move(sealed);
      }
      request.events.push_back({envelope.event_id(), std::move(payload)});
    }
    Check((*log)->Append(request).status());
  }

  Figures figures;
  // Baseline: read and parse (and open) the whole log once.
  Clock::time_point start = Clock::now();
  uint64_t parsed = 0;
  std::map<std::string, hub::v1::CaseFacts> facts;
  Clock::duration folding{};
  for (uint64_t next = 1; next <= (*log)->LastPosition();) {
    auto events = (*log)->ReadFrom(next, 1024, 8 << 20);
    Check(events.status());
    for (const auto& event : *events) {
      auto envelope = hub::services::EnvelopeOf(event, sealer);
      Check(envelope.status());
      ++parsed;
      if (encrypted_views) {
        const Clock::time_point fold_start = Clock::now();
        hub::services::ApplyToFacts(*envelope, &facts[event.case_id]);
        folding += Clock::now() - fold_start;
      }
    }
    next += events->size();
  }
  const double read_seconds = std::chrono::duration<double>(Clock::now() - start - folding).count();
  if (encrypted_views) {
    figures.facts_fold_rate =
        static_cast<double>(parsed) / std::chrono::duration<double>(folding).count();
  }

  hub::storage::ViewStoreOptions view_options;
  if (encrypted_views) {
    auto encrypted = hub::services::EncryptedViews(sealer->keys());
    Check(encrypted.status());
    view_options = *std::move(encrypted);
  }
  auto views = hub::storage::ViewStore::Open(dir + "/views", view_options);
  Check(views.status());
  std::vector<std::string> principals;
  for (const auto& principal : protocol.protocol.principals()) {
    principals.push_back(principal.identity());
  }
  auto generation = (*views)->CreateGeneration(
      protocol.protocol.version(), hub::services::ProtocolDigest(protocol.protocol), principals);
  Check(generation.status());
  hub::services::Projector projector(
      log->get(), views->get(), *generation,
      std::make_shared<const hub::auth::SharingPolicy>(protocol.protocol), sealer);
  // The projector's own loop, as a protocol change or a first start runs it.
  start = Clock::now();
  const double cpu_start = ProcessCpuSeconds();
  Check(projector.Start());
  const uint64_t last = (*log)->LastPosition();
  while (projector.WaitForCheckpointAfter(last - 1, std::chrono::seconds(1)) < last) {
    Check(projector.health());
  }
  figures.projected = projector.checkpoint();
  figures.project_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  figures.project_cores = (ProcessCpuSeconds() - cpu_start) / figures.project_seconds;
  projector.Stop();
  if (encrypted_views) MeasureReports(projector, &figures);
  std::filesystem::remove_all(dir);
  figures.read_rate = static_cast<double>(parsed) / read_seconds;
  figures.project_rate = static_cast<double>(figures.projected) / figures.project_seconds;
  figures.principals = principals.size();
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // As in hubd: Abseil's lock-order graph (on in Debian's build) would cost
  // every lock of every mutex a graph lookup, here and in the baselines.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const uint64_t count = absl::GetFlag(FLAGS_events);
  auto protocol = hub::auth::LoadSharingProtocolFile(absl::GetFlag(FLAGS_protocol));
  Check(protocol.status());

  const Figures clear = Measure(*protocol, dir + "/clear", count, nullptr);
  // Sealed as hubd stores events: personal fields under per-subject and
  // per-case data keys, wrapped by a KEK in a folder beside the data.
  std::filesystem::remove_all(dir + "/keys");
  std::filesystem::create_directories(dir + "/keys");
  Check(hub::auth::KeyFolder::AddKey(dir + "/keys/kek", absl::Now()).status());
  auto keks = hub::auth::KeyFolder::Open(dir + "/keys/kek", dir + "/sealed");
  Check(keks.status());
  auto data_keys =
      hub::auth::DataKeyStore::Open(dir + "/keys/data-keys", dir + "/sealed",
                                    std::shared_ptr<const hub::auth::KeyFolder>(*std::move(keks)));
  Check(data_keys.status());
  const hub::auth::FieldSealer sealer(data_keys->get());
  // The first sealed run makes the data keys; the two compared both find
  // them made, so that the ratio between them is the views' encryption.
  Measure(*protocol, dir + "/sealed", count, &sealer);
  const Figures encrypted = Measure(*protocol, dir + "/sealed", count, &sealer, true);
  const Figures sealed = Measure(*protocol, dir + "/sealed", count, &sealer);
  std::filesystem::remove_all(dir);

  std::printf("%-40s %12s %10s\n", "figure", "events/s", "ratio");
  std::printf("%-40s %12.0f %10.2f\n", "read+parse log (baseline)", clear.read_rate, 1.0);
  std::printf("%-40s %12.0f %10.3f\n",
              absl::StrCat("project, ", clear.principals, " principals").c_str(),
              clear.project_rate, clear.project_rate / clear.read_rate);
  std::printf("%-40s %12.0f %10.2f\n", "read+parse+open sealed log", sealed.read_rate,
              sealed.read_rate / clear.read_rate);
  std::printf("%-40s %12.0f %10.3f\n",
              absl::StrCat("project sealed, ", sealed.principals, " principals").c_str(),
              sealed.project_rate, sealed.project_rate / clear.read_rate);
  std::printf("%-40s %12.0f %10.3f\n", "project sealed into encrypted views (hubd)",
              encrypted.project_rate, encrypted.project_rate / clear.read_rate);
  std::printf("\nsealed / clear projection: %.2f\n", sealed.project_rate / clear.project_rate);
  std::printf("encrypted / clear views, both from the sealed log: %.2f\n",
              encrypted.project_rate / sealed.project_rate);
  std::printf(
      "%llu events; projecting the sealed log into encrypted views, as hubd does, took %.2f s "
      "keeping %.2f cores busy (target for rebuilds: >= 100k events/s)\n",
      static_cast<unsigned long long>(encrypted.projected), encrypted.project_seconds,
      encrypted.project_cores);
  std::printf("folding the report's case facts alone: %.0f events/s, %.1f%% of projecting's time\n",
              encrypted.facts_fold_rate,
              100.0 * encrypted.project_rate / encrypted.facts_fold_rate);
  std::printf(
      "governance report over %zu cases' facts: first read of the facts %.1f ms; a month's "
      "programme figures p50 %.2f ms, p99 %.2f ms (200 reports; target p99 < 50 ms)\n",
      encrypted.report_cases, encrypted.report_load_ms, encrypted.report_p50_ms,
      encrypted.report_p99_ms);
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    std::ofstream(json_path) << absl::StrFormat(
        "{\"events\": %d, \"principals\": %d, \"read_parse_per_second\": %.1f, "
        "\"project_per_second\": %.1f, \"ratio\": %.4f, \"project_sealed_per_second\": %.1f, "
        "\"sealed_over_clear\": %.4f, \"project_encrypted_views_per_second\": %.1f, "
        "\"report_p50_ms\": %.3f, \"report_p99_ms\": %.3f}\n",
        clear.projected, clear.principals, clear.read_rate, clear.project_rate,
        clear.project_rate / clear.read_rate, sealed.project_rate,
        sealed.project_rate / clear.project_rate, encrypted.project_rate, encrypted.report_p50_ms,
        encrypted.report_p99_ms);
  }
  return 0;
}
