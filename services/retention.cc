#include "services/retention.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#include "auth/data_classes.h"
#include "proto/status_macros.h"
#include "proto/thread_name.h"
#include "services/audit_trail.h"
#include "services/envelope.h"
#include "services/protocol_records.h"
#include "services/server_log.h"

namespace hub::services {
namespace {

// Erasure records per append: well under the log's limit per append.
constexpr size_t kRecordsPerAppend = 128;
constexpr size_t kReadBatchEvents = 1024;
constexpr size_t kReadBatchBytes = 8 << 20;

absl::Time RecordedTime(const hub::v1::EventEnvelope& envelope) {
  return absl::FromUnixSeconds(envelope.recorded_time().seconds());
}

}  // namespace

RetentionFacts::RetentionFacts(const hub::v1::SharingProtocol& protocol) : protocol_(protocol) {
  closing_.insert(protocol.case_lifecycle().closed_by().begin(),
                  protocol.case_lifecycle().closed_by().end());
  reopening_.insert(protocol.case_lifecycle().reopened_by().begin(),
                    protocol.case_lifecycle().reopened_by().end());
}

void RetentionFacts::Add(const hub::v1::EventEnvelope& envelope) {
  CaseFacts& facts = cases_[envelope.case_id()];
  const std::string type = auth::EventTypeName(envelope);
  const absl::Time recorded = RecordedTime(envelope);
  absl::Time& latest = facts.latest.try_emplace(type, recorded).first->second;
  latest = std::max(latest, recorded);
  if (reopening_.count(type) > 0) facts.reopened = std::max(facts.reopened, recorded);
  for (const hub::v1::DataClass data_class : auth::PersonalClassesIn(envelope)) {
    const auth::KeyOwner owner = auth::KeyOwnerOf(envelope, data_class);
    if (owner.scope == "case") {
      facts.case_classes.insert(data_class);
    } else {
      subjects_[owner.name].classes.insert(data_class);
    }
  }
  for (const std::string& subject : auth::SubjectsOf(envelope)) {
    subjects_[subject].cases.insert(envelope.case_id());
  }
}

std::optional<absl::Time> RetentionFacts::Start(const hub::v1::RetentionRule& rule,
                                                const CaseFacts& facts) const {
  const auto found = facts.latest.find(rule.after());
  if (found == facts.latest.end()) return std::nullopt;
  if (closing_.count(rule.after()) > 0 && facts.reopened > found->second) return std::nullopt;
  return found->second;
}

std::vector<DueErasure> RetentionFacts::Due(absl::Time as_of) const {
  std::vector<DueErasure> due;
  for (const hub::v1::RetentionRule& rule : protocol_.retention()) {
    const absl::Duration keep = absl::Hours(24) * static_cast<int64_t>(rule.keep_days());
    for (const int number : rule.data_classes()) {
      const auto data_class = static_cast<hub::v1::DataClass>(number);
      for (const auto& [case_id, facts] : cases_) {
        if (facts.case_classes.count(data_class) == 0) continue;
        const std::optional<absl::Time> start = Start(rule, facts);
        if (start.has_value() && *start + keep <= as_of) {
          due.push_back({&rule, {"case", case_id}, data_class, *start + keep});
        }
      }
      for (const auto& [subject, facts] : subjects_) {
        if (facts.classes.count(data_class) == 0 || facts.cases.empty()) continue;
        // Kept while any case that names the subject still needs it.
        absl::Time when = absl::InfinitePast();
        bool run_out = true;
        for (const std::string& case_id : facts.cases) {
          const auto found = cases_.find(case_id);
          const std::optional<absl::Time> start =
              found == cases_.end() ? std::nullopt : Start(rule, found->second);
          if (!start.has_value()) {
            run_out = false;
            break;
          }
          when = std::max(when, *start + keep);
        }
        if (run_out && when <= as_of) {
          due.push_back({&rule, {"subject", subject}, data_class, when});
        }
      }
    }
  }
  return due;
}

absl::Mutex& ErasureMutex() {
  ABSL_CONST_INIT static absl::Mutex mutex(absl::kConstInit);
  return mutex;
}

Retention::Retention(storage::EventLog* log, auth::DataKeyStore* keys,
                     const auth::FieldSealer* sealer, ForgetErased forget_erased)
    : log_(log), keys_(keys), sealer_(sealer), forget_erased_(std::move(forget_erased)) {}

Retention::~Retention() {
  stop_.Notify();
  if (schedule_.joinable()) schedule_.join();
}

void Retention::StartSchedule(absl::Duration interval) {
  schedule_ = std::thread([this, interval] {
    NameThisThread("retention");
    hub::v1::Principal hub;
    hub.set_identity("hub:retention-schedule");
    hub.set_agency("hub");
    while (!stop_.WaitForNotificationWithTimeout(interval)) {
      absl::StatusOr<hub::v1::RunRetentionResponse> ran = Run(absl::Now(), false, hub);
      if (!ran.ok()) {
        LogError("applying the retention rules failed; they are tried again at the next interval",
                 {{"error", ran.status().ToString()}});
      } else if (!ran->erasures().empty()) {
        LogInfo("retention rules applied",
                {{"erased_keys", std::to_string(ran->erasures_size())},
                 {"first_position", std::to_string(ran->first_position())}});
      }
    }
  });
}

absl::StatusOr<hub::v1::RunRetentionResponse> Retention::Run(absl::Time as_of, bool dry_run,
                                                             const hub::v1::Principal& by) {
  absl::MutexLock lock(&run_mu_);
  hub::v1::RunRetentionResponse response;
  *response.mutable_as_of() = ToTimestamp(as_of);
  HUB_ASSIGN_OR_RETURN(std::optional<RecordedProtocol> recorded, LatestRecordedProtocol(*log_));
  if (!recorded.has_value() || recorded->protocol.retention().empty()) return response;

  RetentionFacts facts(recorded->protocol);
  const uint64_t last = log_->LastPosition();
  for (uint64_t next = 1; next <= last;) {
    HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> events,
                         log_->ReadFrom(next, kReadBatchEvents, kReadBatchBytes));
    if (events.empty()) break;
    for (const storage::StoredEvent& event : events) {
      if (event.position > last) break;
      HUB_ASSIGN_OR_RETURN(hub::v1::EventEnvelope envelope, EnvelopeOf(event, sealer_));
      facts.Add(envelope);
    }
    next = events.back().position + 1;
  }

  struct Planned {
    DueErasure due;
    std::string key_id;
  };
  std::vector<Planned> planned;
  for (DueErasure& due : facts.Due(as_of)) {
    std::string key_id = auth::DataKeyIdOf(*keys_, due.owner, due.data_class);
    if (keys_->Erased(key_id).has_value()) continue;
    hub::v1::RetentionErasure* entry = response.add_erasures();
    entry->set_rule(due.rule->name());
    entry->set_scope(due.owner.scope);
    entry->set_owner(due.owner.name);
    entry->set_data_class(due.data_class);
    *entry->mutable_due() = ToTimestamp(due.due);
    entry->set_key_id(key_id);
    planned.push_back({std::move(due), std::move(key_id)});
  }
  if (dry_run || planned.empty()) return response;
  absl::MutexLock erasing(&ErasureMutex());
  HUB_ASSIGN_OR_RETURN(const uint64_t erasures_before, log_->CaseVersion(kErasureCase));

  // Recorded before any key goes: a key destroyed without a record would be
  // a silent loss. Each record's event id is its key's, so a run that
  // stopped between the two finds its records and finishes the erasures.
  const absl::Time now = absl::Now();
  for (size_t from = 0; from < planned.size(); from += kRecordsPerAppend) {
    const size_t to = std::min(planned.size(), from + kRecordsPerAppend);
    storage::AppendRequest append;
    append.case_id = kErasureCase;
    std::set<std::string> rules;
    for (size_t i = from; i < to; ++i) {
      const Planned& erasure = planned[i];
      hub::v1::EventEnvelope envelope =
          HubRecord(absl::StrCat("erasure-", erasure.key_id), kErasureCase, by.identity(), now,
                    "UK GDPR Art 5(1)(e) (storage limitation); DPA 2018 s39");
      // It occurred when the period ran out.
      *envelope.mutable_occurred_time() = ToTimestamp(erasure.due.due);
      hub::v1::DataErased* erased = envelope.mutable_data_erased();
      erased->set_key_id(erasure.key_id);
      erased->set_scope(erasure.due.owner.scope);
      erased->set_rule(erasure.due.rule->name());
      erased->set_reason(erasure.due.rule->reason());
      erased->set_reference(absl::StrCat("retention as of ", absl::FormatTime(as_of)));
      erased->set_erased_class(erasure.due.data_class);
      append.events.push_back({envelope.event_id(), envelope.SerializeAsString()});
      rules.insert(erasure.due.rule->name());
    }
    hub::v1::AuditRecord record = AuditRecordFor(by, hub::v1::AUDIT_ERASE, hub::v1::AUDIT_ALLOWED);
    record.set_purpose(hub::v1::PURPOSE_GOVERNANCE);
    record.set_reason(absl::StrCat("retention: erased ", to - from, " data keys under rule(s) ",
                                   absl::StrJoin(rules, ", "), " as of ", absl::FormatTime(as_of)));
    AuditAppend(std::move(record), &append);
    HUB_ASSIGN_OR_RETURN(storage::AppendResult stored, log_->Append(append));
    if (response.first_position() == 0) response.set_first_position(stored.first_position);
    response.set_last_position(stored.last_position);
  }
  for (const Planned& erasure : planned) {
    if (absl::Status destroyed = keys_->Erase(
            erasure.key_id, {now, erasure.due.rule->name(), erasure.due.rule->reason()});
        !destroyed.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the erasures are recorded (positions ", response.first_position(), "-",
          response.last_position(), ") but key ", erasure.key_id, " could not be destroyed yet (",
          destroyed.message(), "); run retention again"));
    }
  }
  if (forget_erased_) {
    std::set<std::string> key_ids;
    for (const Planned& erasure : planned) key_ids.insert(erasure.key_id);
    absl::StatusOr<ViewsAfterErasure> views = forget_erased_(
        absl::StrCat("retention: ", planned.size(), " data keys erased"), key_ids, erasures_before);
    if (!views.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the data keys are destroyed and the erasures recorded, but the views could not be "
          "rebuilt (",
          views.status().message(), "); they are rebuilt at the next start of hubd"));
    }
    response.set_views_rebuilt_through(views->rebuilt_through);
    response.set_views_reshaped_through(views->reshaped_through);
  }
  return response;
}

}  // namespace hub::services
