#include "services/projector.h"

#include <algorithm>
#include <array>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"

#include "auth/data_classes.h"
#include "auth/redactor.h"
#include "proto/status_macros.h"
#include "proto/thread_name.h"
#include "services/case_summary.h"
#include "services/envelope.h"
#include "services/report_facts.h"
#include "services/server_log.h"

namespace hub::services {
namespace {

constexpr size_t kBatchEvents = 4096;
// How long a failing projection waits before trying again.
constexpr absl::Duration kRetryInterval = absl::Seconds(1);
// Bytes of stored events a batch reads. Each event is held several times
// while its batch is in hand (as read, opened, one copy per distinct shape,
// serialized into the write) and three batches are (read ahead, prepared,
// written): at 16 MiB, a rebuild over a log of 8 KiB free-text events took
// hubd past 512 MiB resident. Ordinary events fill 4,096 in well under this.
constexpr size_t kBatchBytes = 4 << 20;
// Batches smaller than this (the steady trickle of live publishes) are
// shaped on the projecting thread alone: a second thread would cost more
// than it saves.
constexpr size_t kParallelShapingFrom = 64;
// Parts a large batch is shaped in (by case), taken by two threads in turn.
constexpr size_t kShapingParts = 8;
// Earlier events a part of a batch may disclose (beyond its first
// disclosure, which it always makes): each is shaped again and written
// with the batch. Unbounded, a rebuild's batch that tasked housing into
// tens of long cases held their whole histories at once, and hubd's
// resident memory peaked there.
constexpr size_t kDisclosedHistoryPerPart = kBatchEvents / kShapingParts;
// Memory for case summaries kept parsed after they are written, so that the
// next batch touching the case need not read and parse them again. In
// bytes, not cases: a case's summaries are one per principal, each with its
// open actions, and 4,096 cases of 20 open actions held 360 MiB.
constexpr size_t kRememberedSummaryBytes = 32 << 20;

// A case's summaries in memory, near enough to budget by: parsed messages
// take about three times their serialized size (each was just serialized,
// so its size is cached).
size_t EstimatedBytes(const std::vector<std::optional<hub::v1::CaseSummary>>& summaries) {
  size_t bytes = 512;
  for (const std::optional<hub::v1::CaseSummary>& summary : summaries) {
    if (summary.has_value()) bytes += 64 + 3 * static_cast<size_t>(summary->GetCachedSize());
  }
  return bytes;
}
// Once caught up, the projector lets the live trickle gather this long
// before projecting it: a batch costs an index entry per principal and a
// summary record per case whatever its size, and one event per batch made
// the views' writes a seventh of hubd's CPU under 6,000 publishes/s. At
// 2 ms, live delivery's p99 (target 20 ms) was 18-31 ms in twelve runs; at
// 1 ms 16-32 ms, mostly under 20, with hubd's CPU per publish unchanged.
constexpr absl::Duration kLiveGathering = absl::Milliseconds(1);

// Notes in `batch` the (data key, case) of every sealed part of the first
// `count` of `events`, once each: the index an erasure finds its cases by.
absl::Status NoteSealedParts(const std::vector<storage::StoredEvent>& events, size_t count,
                             storage::ProjectionBatch* batch) {
  std::set<std::pair<std::string, std::string>> noted;
  for (size_t i = 0; i < count && i < events.size(); ++i) {
    if (!auth::FieldSealer::IsSealed(events[i].payload)) continue;
    HUB_ASSIGN_OR_RETURN(std::vector<auth::FieldSealer::PartKey> parts,
                         auth::FieldSealer::PartsOf(events[i].payload));
    for (auth::FieldSealer::PartKey& part : parts) {
      auto [it, added] = noted.emplace(std::move(part.key_id), events[i].case_id);
      if (added) batch->sealed_under.push_back(*it);
    }
  }
  return absl::OkStatus();
}

// Opens `event` onto `arena` into `*envelope`, and what decides its
// subjects and relationships into `*routing`: its routing facts where it is
// sealed (subjects by pseudonym, so that erasing one leaves the relations
// as they were), the envelope itself where it is plain (it names no one).
absl::Status OpenOnArena(const storage::StoredEvent& event, google::protobuf::Arena* arena,
                         const auth::FieldSealer* sealer, const auth::WithheldKeys* withheld,
                         hub::v1::EventEnvelope** envelope,
                         const hub::v1::EventEnvelope** routing) {
  *envelope = google::protobuf::Arena::CreateMessage<hub::v1::EventEnvelope>(arena);
  hub::v1::EventEnvelope* routed = nullptr;
  if (sealer != nullptr && auth::FieldSealer::IsSealed(event.payload)) {
    routed = google::protobuf::Arena::CreateMessage<hub::v1::EventEnvelope>(arena);
  }
  HUB_RETURN_IF_ERROR(ParseEnvelope(event, *envelope, sealer, withheld, routed));
  *routing = routed != nullptr ? routed : *envelope;
  return absl::OkStatus();
}

}  // namespace

// What each principal may see per purpose: the classes its rules allow
// without any relationship, and those each relationship adds. Declared in
// projector.h (Allowances), for the signatures of private members.
struct PrincipalAllowance {
  std::array<auth::ClassMask, hub::v1::Purpose_ARRAYSIZE> base;
  std::array<std::array<auth::ClassMask, hub::v1::CaseRelation_ARRAYSIZE>,
             hub::v1::Purpose_ARRAYSIZE>
      by_relation;
};
struct Allowances {
  std::vector<PrincipalAllowance> principals;
  // Whether any rule needs a relationship (else the relations are ignored).
  bool relational = false;
};

namespace {

// What a principal may see for `purpose` holding the relationships `held`.
auth::ClassMask AllowedUnder(const PrincipalAllowance& allowance, int purpose,
                             const auth::RelationMask& held) {
  auth::ClassMask allowed = allowance.base[purpose];
  for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
    if (held[relation]) allowed |= allowance.by_relation[purpose][relation];
  }
  return allowed;
}

}  // namespace

// Declared in projector.h, for the signatures of private members.
struct ShapedEvent {
  storage::ProjectionBatch::Shaped stored;
  // Each variant parsed, for folding into the case summaries; the first may
  // be the unshaped event itself.
  std::vector<const hub::v1::EventEnvelope*> parsed;
  // The event as stored; it and the redacted variants live on the batch's
  // arena (freeing thousands of messages one by one cost more than shaping).
  hub::v1::EventEnvelope* envelope = nullptr;
  // Per variant: whether it leaves nothing of the event's content (kept
  // only when shaping with keep_emptied).
  std::vector<bool> emptied;
};

namespace {

// The shapes of one event and who sees which. Principals that would lose
// the same fields (the same `allowed & present`) share one shape, and one
// that would lose nothing sees the event as stored, without redacting.
// The event is first folded into its case's `relations`, so that the event
// that makes a principal related is one it may see.
// A shape that left nothing of the event's content: not shown at all.
constexpr uint8_t kEmptied = 255;
// In a case's visibility (ViewStore::CaseVisibility): sees none of the event.
constexpr uint8_t kSeesNone = 0xff;

// The class of field `name` of the event type a correction holds
// (unspecified if it has none).
hub::v1::DataClass CorrectedFieldClass(const hub::v1::RecordCorrected& correction,
                                       const std::string& name) {
  const google::protobuf::FieldDescriptor* member = auth::CorrectedTypeOf(correction);
  const google::protobuf::FieldDescriptor* field =
      member == nullptr ? nullptr : member->message_type()->FindFieldByName(name);
  return field == nullptr ? hub::v1::DATA_CLASS_UNSPECIFIED : auth::FieldClass(*field);
}

bool InMask(const auth::ClassMask& mask, hub::v1::DataClass data_class) {
  return data_class > 0 && data_class < hub::v1::DataClass_ARRAYSIZE && mask[data_class];
}

// `parsed`: the event opened (and corrected) on `arena`; `routing`: what
// decides its subjects and relationships (OpenOnArena). `keep_emptied`: an
// event a principal saw before a correction stays in its view even if the
// correction emptied its shape.
absl::StatusOr<ShapedEvent> ShapeEvent(
    const storage::StoredEvent& event, const auth::SharingPolicy& policy,
    const std::vector<std::string>& principals, const Allowances& allowances,
    hub::v1::CaseRelations* relations, google::protobuf::Arena* arena,
    hub::v1::EventEnvelope* parsed, const hub::v1::EventEnvelope* routing,
    bool keep_emptied = false) {
  ShapedEvent shaped;
  shaped.envelope = parsed;
  shaped.stored.position = event.position;
  shaped.stored.stream_version = event.stream_version;
  shaped.stored.case_id = event.case_id;
  const google::protobuf::Timestamp& happened = shaped.envelope->has_occurred_time()
                                                    ? shaped.envelope->occurred_time()
                                                    : shaped.envelope->recorded_time();
  shaped.stored.happened_seconds = happened.seconds();
  shaped.stored.happened_nanos = happened.nanos();
  if (allowances.relational) policy.ApplyToRelations(*routing, relations);
  const int purpose = shaped.envelope->purpose();
  if (purpose < 0 || purpose >= hub::v1::Purpose_ARRAYSIZE) return shaped;
  const google::protobuf::Message* event_message = auth::EventOf(*shaped.envelope);
  if (event_message == nullptr) return shaped;
  const hub::v1::DataClass event_class = auth::EventClass(*event_message->GetDescriptor());
  if (event_class == hub::v1::DATA_CLASS_UNSPECIFIED) return shaped;
  bool unknown_fields = false;
  auth::ClassMask present = auth::ClassesPresent(*shaped.envelope, &unknown_fields);
  // A field this build no longer knows has no class: never shared (the
  // redactor drops them too, and the unshaped variant must not keep them).
  if (unknown_fields) {
    shaped.envelope->DiscardUnknownFields();
    present = auth::ClassesPresent(*shaped.envelope);
  }
  // Classes of content erased from the event: each principal is told of
  // those it could have seen, and only of those.
  auth::ClassMask erased_classes;
  for (const hub::v1::ErasedContent& erased : shaped.envelope->erased()) {
    if (erased.erased_class() > 0 && erased.erased_class() < hub::v1::DataClass_ARRAYSIZE) {
      erased_classes.set(erased.erased_class());
    }
  }
  // Classes of fields a correction replaced: each principal is told of the
  // correction if it may see one of them.
  auth::ClassMask corrected_classes;
  for (const hub::v1::CorrectionNote& note : shaped.envelope->corrections()) {
    for (const hub::v1::CorrectedField& field : note.fields()) {
      if (field.field_class() > 0 && field.field_class() < hub::v1::DataClass_ARRAYSIZE) {
        corrected_classes.set(field.field_class());
      }
    }
  }
  // A correction names the fields it replaced: each principal is given the
  // names of those it may see, and nothing of the others.
  auth::ClassMask named_classes;
  if (shaped.envelope->has_record_corrected()) {
    const hub::v1::RecordCorrected& correction = shaped.envelope->record_corrected();
    for (const std::string& name : correction.fields()) {
      const hub::v1::DataClass data_class = CorrectedFieldClass(correction, name);
      if (data_class > 0 && data_class < hub::v1::DataClass_ARRAYSIZE)
        named_classes.set(data_class);
    }
  }
  const bool had_content = event_message->ByteSizeLong() > 0 || erased_classes.any();
  // The event's subjects, found once for every principal.
  const std::vector<std::string> subjects = allowances.relational && !relations->subjects().empty()
                                                ? auth::SharingPolicy::SubjectsOf(*routing)
                                                : std::vector<std::string>();
  // `allowed & present` -> variant index.
  absl::flat_hash_map<unsigned long, uint8_t> variant_of;
  for (size_t p = 0; p < allowances.principals.size(); ++p) {
    const PrincipalAllowance& allowance = allowances.principals[p];
    const auth::ClassMask allowed =
        allowances.relational
            ? AllowedUnder(allowance, purpose,
                           policy.RelationsOf(principals[p], *relations, subjects))
            : allowance.base[purpose];
    const auth::ClassMask seen =
        allowed & (present | erased_classes | corrected_classes | named_classes);
    if (!seen[event_class]) continue;
    auto [it, inserted] = variant_of.try_emplace(seen.to_ulong(), 0);
    if (inserted) {
      if (shaped.parsed.size() >= 254) {
        return absl::InternalError("more than 254 distinct shapes of one event");
      }
      const hub::v1::EventEnvelope* variant = shaped.envelope;
      const bool redacted = (seen & present) != present;
      const bool erasures_hidden = (erased_classes & ~seen).any();
      const bool corrections_hidden = (corrected_classes & ~seen).any();
      const bool names_hidden = (named_classes & ~seen).any();
      if (redacted || erasures_hidden || corrections_hidden || names_hidden) {
        auto* copy = google::protobuf::Arena::CreateMessage<hub::v1::EventEnvelope>(arena);
        copy->CopyFrom(*shaped.envelope);
        if (redacted) auth::Redact(seen, copy);
        if (erasures_hidden) {
          auto* erased = copy->mutable_erased();
          erased->erase(std::remove_if(erased->begin(), erased->end(),
                                       [&seen](const hub::v1::ErasedContent& entry) {
                                         return entry.erased_class() <= 0 ||
                                                entry.erased_class() >=
                                                    hub::v1::DataClass_ARRAYSIZE ||
                                                !seen[entry.erased_class()];
                                       }),
                        erased->end());
        }
        if (names_hidden) {
          hub::v1::RecordCorrected* correction = copy->mutable_record_corrected();
          auto* names = correction->mutable_fields();
          names->erase(std::remove_if(names->begin(), names->end(),
                                      [&](const std::string& name) {
                                        return !InMask(seen,
                                                       CorrectedFieldClass(*correction, name));
                                      }),
                       names->end());
        }
        if (corrections_hidden) {
          const auto unseen = [&seen](const hub::v1::CorrectedField& field) {
            return !InMask(seen, field.field_class());
          };
          auto* notes = copy->mutable_corrections();
          for (hub::v1::CorrectionNote& note : *notes) {
            auto* fields = note.mutable_fields();
            fields->erase(std::remove_if(fields->begin(), fields->end(), unseen), fields->end());
          }
          notes->erase(std::remove_if(notes->begin(), notes->end(),
                                      [](const hub::v1::CorrectionNote& note) {
                                        return note.fields().empty();
                                      }),
                       notes->end());
        }
        variant = copy;
      }
      // An event whose every field of content is redacted away would still
      // say that something happened (a victim linked, a child), which is
      // itself what the principal may not know: it is not in the view. The
      // same holds once content is erased, unless the principal is told of
      // the erasure (it could have seen what went).
      const google::protobuf::Message* content = auth::EventOf(*variant);
      const bool emptied = had_content && (content == nullptr || content->ByteSizeLong() == 0) &&
                           variant->erased_size() == 0;
      if (!keep_emptied && emptied) {
        it->second = kEmptied;
        continue;
      }
      it->second = static_cast<uint8_t>(shaped.parsed.size());
      shaped.emptied.push_back(emptied);
      shaped.parsed.push_back(variant);
      shaped.stored.variants.push_back(variant->SerializeAsString());
    }
    if (it->second == kEmptied) continue;
    storage::ProjectionBatch::Shaped::Sight& sight = shaped.stored.visible_to.emplace_back();
    sight.principal = static_cast<uint16_t>(p);
    sight.variant = it->second;
  }
  return shaped;
}

Allowances AllowancesOf(const auth::SharingPolicy& policy,
                        const std::vector<std::string>& principals) {
  Allowances allowances;
  allowances.relational = policy.has_relation_rules();
  allowances.principals.resize(principals.size());
  for (size_t p = 0; p < principals.size(); ++p) {
    for (int purpose = 0; purpose < hub::v1::Purpose_ARRAYSIZE; ++purpose) {
      const auto as_purpose = static_cast<hub::v1::Purpose>(purpose);
      PrincipalAllowance& allowance = allowances.principals[p];
      allowance.base[purpose] = policy.Allowed(principals[p], as_purpose, auth::kNoRelation);
      for (int relation = 1; relation < hub::v1::CaseRelation_ARRAYSIZE; ++relation) {
        auth::RelationMask only;
        only.set(relation);
        allowance.by_relation[purpose][relation] = policy.Allowed(principals[p], as_purpose, only);
      }
    }
  }
  return allowances;
}

// Whether a case's relationships, grown from `before` to `after` by one
// event, let some principal see more of the case's events than they did.
// Relationships only ever grow, and the allowance of most of them adds
// nothing (the police see every case whatever they record in it), so this
// is rarely true.
bool ShowsMore(const auth::SharingPolicy& policy, const std::vector<std::string>& principals,
               const Allowances& allowances, const hub::v1::CaseRelations& before,
               const hub::v1::CaseRelations& after) {
  auth::RelationMask supports_subject;
  supports_subject.set(hub::v1::SUPPORTS_SUBJECT);
  const std::vector<std::string> no_subjects;
  for (size_t p = 0; p < principals.size(); ++p) {
    const auth::RelationMask had = policy.RelationsOf(principals[p], before, no_subjects);
    const auth::RelationMask has = policy.RelationsOf(principals[p], after, no_subjects);
    // A subject the principal's agency has begun to support.
    bool supports_more = false;
    for (const hub::v1::CaseRelations::SubjectSupport& subject : after.subjects()) {
      const std::vector<std::string> only = {subject.subject_id()};
      if (policy.RelationsOf(principals[p], after, only)[hub::v1::SUPPORTS_SUBJECT] &&
          !policy.RelationsOf(principals[p], before, only)[hub::v1::SUPPORTS_SUBJECT]) {
        supports_more = true;
        break;
      }
    }
    if (had == has && !supports_more) continue;
    const PrincipalAllowance& allowance = allowances.principals[p];
    for (int purpose = 0; purpose < hub::v1::Purpose_ARRAYSIZE; ++purpose) {
      const auth::ClassMask now = AllowedUnder(allowance, purpose, has);
      const auth::ClassMask now_supporting =
          AllowedUnder(allowance, purpose, has | supports_subject);
      if (now != AllowedUnder(allowance, purpose, had) ||
          now_supporting != AllowedUnder(allowance, purpose, had | supports_subject) ||
          (supports_more && now_supporting != now)) {
        return true;
      }
    }
  }
  return false;
}

// Puts `correction` (an opened record_corrected event) into `target`: the
// named fields take the corrected values (cleared where the correction
// leaves them unset), and the target notes who corrected which fields when.
void ApplyCorrection(const hub::v1::EventEnvelope& correction, hub::v1::EventEnvelope* target) {
  const hub::v1::RecordCorrected& corrected = correction.record_corrected();
  const google::protobuf::FieldDescriptor* member = auth::CorrectedTypeOf(corrected);
  google::protobuf::Message* event = auth::MutableEventOf(target);
  if (member == nullptr || event == nullptr || auth::EventTypeName(*target) != member->name()) {
    return;
  }
  const google::protobuf::Message& values =
      corrected.GetReflection()->GetMessage(corrected, member);
  const google::protobuf::Reflection* reflection = event->GetReflection();
  hub::v1::CorrectionNote* note = target->add_corrections();
  *note->mutable_corrected_at() = correction.recorded_time();
  note->set_corrected_by(correction.producing_agency());
  note->set_correction_event_id(correction.event_id());
  google::protobuf::FieldMask mask;
  for (const std::string& name : corrected.fields()) {
    const google::protobuf::FieldDescriptor* field = event->GetDescriptor()->FindFieldByName(name);
    if (field == nullptr) continue;
    reflection->ClearField(event, field);
    mask.add_paths(name);
    hub::v1::CorrectedField* noted = note->add_fields();
    noted->set_field(name);
    noted->set_field_class(auth::FieldClass(*field));
  }
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(values, mask, options, event);
}

}  // namespace

Projector::Projector(storage::EventLog* log, storage::ViewStore* views,
                     storage::GenerationInfo generation,
                     std::shared_ptr<const auth::SharingPolicy> policy,
                     const auth::FieldSealer* sealer,
                     std::shared_ptr<const auth::WithheldKeys> withheld)
    : log_(log),
      views_(views),
      generation_(std::move(generation)),
      policy_(std::move(policy)),
      sealer_(sealer),
      withheld_(std::move(withheld)) {}

Projector::~Projector() { Stop(); }

absl::Status Projector::Start() {
  HUB_ASSIGN_OR_RETURN(uint64_t checkpoint, views_->Checkpoint(generation_.generation));
  checkpoint_.store(checkpoint, std::memory_order_release);
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  thread_ = std::thread([this] {
    NameThisThread("projector");
    Loop();
  });
  return absl::OkStatus();
}

void Projector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    advanced_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status Projector::health() const {
  absl::MutexLock lock(&mu_);
  return health_;
}

uint64_t Projector::WaitForCheckpointAfter(uint64_t after,
                                           std::chrono::milliseconds timeout) const {
  const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  absl::MutexLock lock(&mu_);
  while (checkpoint() <= after && !stopping_ && health_.ok()) {
    if (advanced_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return checkpoint();
}

absl::StatusOr<uint64_t> Projector::ProjectOnce(size_t max_events) {
  const uint64_t from = checkpoint() + 1;
  if (from > log_->LastPosition()) return 0;
  HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> stored, ReadBatch(from, max_events));
  HUB_ASSIGN_OR_RETURN(const size_t correction, FirstCorrection(stored));
  Prepared prepared;
  if (correction == 0) {
    HUB_ASSIGN_OR_RETURN(prepared, PrepareCaseAgain(stored.front()));
  } else {
    stored.resize(correction);
    HUB_ASSIGN_OR_RETURN(prepared, Prepare(stored, nullptr, [] { return absl::OkStatus(); }));
  }
  if (absl::Status applied = views_->Apply(generation_.generation, prepared.batch); !applied.ok()) {
    ForgetUnwritten();
    return applied;
  }
  RememberFacts(prepared.summaries);
  Publish(prepared.batch.checkpoint);
  RememberWritten(std::move(prepared.summaries));
  return prepared.covered;
}

void Projector::RememberWritten(SummariesByCase summaries) {
  // Bounded by forgetting everything at once: simple, and a rebuild moves
  // through the cases roughly in time order anyway.
  size_t incoming = 0;
  for (const auto& [case_id, state] : summaries) incoming += EstimatedBytes(state.summaries);
  if (written_bytes_ + incoming > kRememberedSummaryBytes) {
    written_summaries_.clear();
    written_bytes_ = 0;
  }
  for (auto& [case_id, state] : summaries) {
    if (state.summaries.empty()) continue;
    auto [it, added] = written_summaries_.try_emplace(case_id);
    // A batch took the summaries it replaces (moving them out leaves their
    // count behind).
    if (!added) written_bytes_ -= std::min(written_bytes_, it->second.remembered_bytes);
    it->second = std::move(state);
    it->second.remembered_bytes = EstimatedBytes(it->second.summaries);
    written_bytes_ += it->second.remembered_bytes;
  }
}

void Projector::RememberFacts(const SummariesByCase& summaries) {
  absl::MutexLock lock(&facts_mu_);
  if (!facts_loaded_) return;
  for (const auto& [case_id, state] : summaries) {
    if (state.summaries.empty() || state.facts.ByteSizeLong() == 0) continue;
    state.facts.SerializeToString(&facts_[case_id]);
  }
}

absl::Status Projector::ReadFacts(
    const std::function<void(const FactsByCase& facts, uint64_t projected)>& read) const {
  // Copied under the lock, parsed outside it: the projector publishes its
  // next batch meanwhile.
  std::map<std::string, std::string> serialized;
  uint64_t projected = 0;
  {
    absl::MutexLock lock(&facts_mu_);
    if (!facts_loaded_) {
      // Batches written meanwhile are remembered once this is loaded; one
      // that the store held before it is remembered again, the same.
      HUB_ASSIGN_OR_RETURN(auto stored, views_->AllCaseFacts(generation_.generation));
      std::map<std::string, std::string> loaded;
      for (auto& [case_id, bytes] : stored) {
        loaded.emplace_hint(loaded.end(), std::move(case_id), std::move(bytes));
      }
      facts_ = std::move(loaded);
      facts_loaded_ = true;
    }
    serialized = facts_;
    // Batches remember their facts before they publish their checkpoint.
    projected = checkpoint();
  }
  google::protobuf::Arena arena;
  FactsByCase facts;
  for (auto& [case_id, bytes] : serialized) {
    hub::v1::CaseFacts* parsed = google::protobuf::Arena::CreateMessage<hub::v1::CaseFacts>(&arena);
    if (!parsed->ParseFromString(bytes)) {
      return absl::DataLossError(
          absl::StrCat("the report facts of case ", case_id, " do not parse; rebuild the views"));
    }
    // Not owned: the arena frees them all after the call.
    facts.emplace_hint(facts.end(), case_id,
                       std::shared_ptr<const hub::v1::CaseFacts>(std::shared_ptr<void>(), parsed));
  }
  read(facts, projected);
  return absl::OkStatus();
}

void Projector::ForgetUnwritten() {
  written_summaries_.clear();
  written_bytes_ = 0;
  view_positions_known_ = false;
}

void Projector::Publish(uint64_t checkpoint) {
  absl::MutexLock lock(&mu_);
  checkpoint_.store(checkpoint, std::memory_order_release);
  advanced_.SignalAll();
  if (!health_.ok()) {
    LogInfo("projecting the views again", {{"generation", std::to_string(generation_.generation)}});
    health_ = absl::OkStatus();
  }
}

absl::StatusOr<Projector::CaseState*> Projector::SummariesFor(const std::string& case_id,
                                                              SummariesByCase* in_flight,
                                                              SummariesByCase* batch) {
  if (auto found = batch->find(case_id); found != batch->end()) return &found->second;
  // The batch being written, which the store may not hold yet; then what
  // was last written; then the store. Taken, not copied (copying every
  // summary of every case a batch touches was a large part of a rebuild):
  // what is left empty is never remembered, and this batch remembers it
  // once written.
  if (in_flight != nullptr) {
    if (auto found = in_flight->find(case_id);
        found != in_flight->end() && !found->second.summaries.empty()) {
      return &batch->emplace(case_id, std::move(found->second)).first->second;
    }
  }
  if (auto found = written_summaries_.find(case_id);
      found != written_summaries_.end() && !found->second.summaries.empty()) {
    return &batch->emplace(case_id, std::move(found->second)).first->second;
  }
  HUB_ASSIGN_OR_RETURN(storage::StoredCase stored,
                       views_->CaseSummaries(generation_.generation, case_id));
  CaseState loaded;
  loaded.summaries.resize(generation_.principals.size());
  for (size_t p = 0; p < stored.by_principal.size() && p < loaded.summaries.size(); ++p) {
    if (!stored.by_principal[p].has_value()) continue;
    if (!loaded.summaries[p].emplace().ParseFromString(*stored.by_principal[p])) {
      return absl::DataLossError(absl::StrCat("a case summary of ", case_id, " does not parse"));
    }
  }
  if (!loaded.relations.ParseFromString(stored.relations)) {
    return absl::DataLossError(absl::StrCat("the relations of case ", case_id, " do not parse"));
  }
  if (!loaded.facts.ParseFromString(stored.facts)) {
    return absl::DataLossError(absl::StrCat("the report facts of case ", case_id, " do not parse"));
  }
  return &batch->emplace(case_id, std::move(loaded)).first->second;
}

absl::StatusOr<std::vector<storage::StoredEvent>> Projector::ReadBatch(uint64_t from,
                                                                       size_t max_events) const {
  HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> stored,
                       log_->ReadFrom(from, std::min(max_events, kBatchEvents), kBatchBytes));
  if (stored.empty()) return absl::InternalError("the log has no events where it should");
  return stored;
}

absl::StatusOr<Projector::Prepared> Projector::Prepare(
    const std::vector<storage::StoredEvent>& stored, SummariesByCase* in_flight,
    const std::function<absl::Status()>& store_ready) {
  const std::vector<std::string>& principals = generation_.principals;
  // What each principal may see, per purpose and relationship: decided once
  // per batch, not once per event.
  const Allowances allowances = AllowancesOf(*policy_, principals);

  // Events of different cases are independent: a large batch is split by
  // case into parts, each shaped and folded into its cases' summaries (in
  // log order) with its own arena. Opening and parsing, two fifths of the
  // work, depend on no case: they are split by slices of the batch first.
  // Two threads take slices, then parts, as they come free: with one part
  // per thread, a batch of few cases (a bulk import, a long case's history)
  // left one thread idle while the other finished, and the rebuild kept
  // 1.55 of the machine's two cores busy.
  std::vector<ShapedEvent> shaped(stored.size());
  const bool parallel = stored.size() >= kParallelShapingFrom;
  struct Part {
    google::protobuf::Arena arena;
    SummariesByCase summaries;
    std::vector<storage::ProjectionBatch::CaseSummaries> serialized;
  };
  std::array<Part, kShapingParts> parts;
  std::vector<uint8_t> part_of(stored.size(), 0);
  if (parallel) {
    const std::hash<std::string> hash;
    for (size_t i = 0; i < stored.size(); ++i) {
      part_of[i] = static_cast<uint8_t>(hash(stored[i].case_id) % parts.size());
    }
  }
  // Runs `units` units of work on this thread and a helper (one unit, or
  // a small batch: this thread alone), each unit once.
  const auto on_two_threads = [parallel](size_t units,
                                         const std::function<absl::Status(size_t)>& run) {
    std::vector<absl::Status> statuses(units);
    std::atomic<size_t> next{0};
    const auto work = [&] {
      for (size_t unit = next++; unit < units; unit = next++) statuses[unit] = run(unit);
    };
    std::thread helper;
    if (parallel && units > 1) helper = std::thread(work);
    work();
    if (helper.joinable()) helper.join();
    for (absl::Status& status : statuses) {
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  };
  // Each event opened onto the arena of the part that shapes it (arenas
  // take allocations from any thread).
  std::vector<hub::v1::EventEnvelope*> opened(stored.size());
  std::vector<const hub::v1::EventEnvelope*> routing(stored.size());
  const size_t slices = parallel ? kShapingParts : 1;
  HUB_RETURN_IF_ERROR(on_two_threads(slices, [&](size_t slice) -> absl::Status {
    const size_t end = (slice + 1) * stored.size() / slices;
    for (size_t i = slice * stored.size() / slices; i < end; ++i) {
      HUB_RETURN_IF_ERROR(OpenOnArena(stored[i], &parts[part_of[i]].arena, sealer_, withheld_.get(),
                                      &opened[i], &routing[i]));
    }
    return absl::OkStatus();
  }));
  // The events that let a principal see more of their case's earlier
  // events (disclosures): each is projected with its case's history. The
  // batch ends before a case's second one, which the next batch projects
  // against the views this one leaves, and before a disclosure that would
  // take a part past its share of disclosed history.
  size_t limit = stored.size();
  std::vector<bool> disclosing(stored.size());
  if (allowances.relational) {
    std::array<size_t, kShapingParts> second_disclosure;
    second_disclosure.fill(stored.size());
    HUB_RETURN_IF_ERROR(
        on_two_threads(parallel ? kShapingParts : 1, [&](size_t index) -> absl::Status {
          Part& part = parts[index];
          // Each case's relationships as this batch grows them, as they
          // were before the last event that changed them, and whether the
          // batch discloses any of it.
          struct Growth {
            hub::v1::CaseRelations grown;
            hub::v1::CaseRelations previous;
            bool disclosed = false;
          };
          absl::flat_hash_map<std::string, Growth> relations;
          size_t disclosed_history = 0;
          for (size_t i = 0; i < stored.size(); ++i) {
            if (part_of[i] != index) continue;
            auto [found, added] = relations.try_emplace(stored[i].case_id);
            Growth& growth = found->second;
            if (added) {
              HUB_ASSIGN_OR_RETURN(CaseState * case_state,
                                   SummariesFor(stored[i].case_id, in_flight, &part.summaries));
              growth.grown = case_state->relations;
              growth.previous = growth.grown;
            }
            if (!policy_->ApplyToRelations(*routing[i], &growth.grown)) continue;
            if (stored[i].stream_version > 1 &&
                ShowsMore(*policy_, principals, allowances, growth.previous, growth.grown)) {
              const size_t history = stored[i].stream_version - 1;
              if (growth.disclosed || (disclosed_history > 0 &&
                                       disclosed_history + history > kDisclosedHistoryPerPart)) {
                second_disclosure[index] = i;
                break;
              }
              disclosed_history += history;
              growth.disclosed = true;
              disclosing[i] = true;
            }
            growth.previous = growth.grown;
          }
          return absl::OkStatus();
        }));
    limit = *std::min_element(second_disclosure.begin(), second_disclosure.end());
  }
  // Shaping a case's stored history reads the views: the batch being
  // written goes first.
  absl::once_flag store_waited;
  absl::Status store_status;
  const auto await_store = [&]() -> absl::Status {
    absl::call_once(store_waited, [&] { store_status = store_ready(); });
    return store_status;
  };
  // The stored events of a case a disclosure delivers, just before it.
  std::vector<std::vector<storage::ProjectionBatch::Reshaped>> disclosed(stored.size());
  const auto run_part = [&](size_t index) -> absl::Status {
    Part& part = parts[index];
    // The events of each case this part has shaped, in log order.
    absl::flat_hash_map<std::string, std::vector<size_t>> shaped_of_case;
    for (size_t i = 0; i < limit; ++i) {
      if (part_of[i] != index) continue;
      // The case's state is needed before shaping only if relationships
      // matter: otherwise only for the principals that see the event.
      CaseState* case_state = nullptr;
      if (allowances.relational) {
        HUB_ASSIGN_OR_RETURN(case_state,
                             SummariesFor(stored[i].case_id, in_flight, &part.summaries));
      }
      std::vector<size_t>& case_events = shaped_of_case[stored[i].case_id];
      if (disclosing[i]) {
        HUB_RETURN_IF_ERROR(await_store());
        HUB_RETURN_IF_ERROR(DiscloseInBatch(stored, opened, routing, i, case_events, allowances,
                                            case_state, shaped, &disclosed[i]));
      }
      case_events.push_back(i);
      hub::v1::CaseRelations unused;
      HUB_ASSIGN_OR_RETURN(shaped[i],
                           ShapeEvent(stored[i], *policy_, principals, allowances,
                                      case_state != nullptr ? &case_state->relations : &unused,
                                      &part.arena, opened[i], routing[i]));
      ShapedEvent& event = shaped[i];
      if (case_state == nullptr) {
        HUB_ASSIGN_OR_RETURN(case_state,
                             SummariesFor(event.stored.case_id, in_flight, &part.summaries));
      }
      // Counted whoever sees it.
      ApplyToFacts(*event.envelope, &case_state->facts);
      for (storage::ProjectionBatch::Shaped::Sight& sight : event.stored.visible_to) {
        std::optional<hub::v1::CaseSummary>& summary = case_state->summaries[sight.principal];
        if (!summary.has_value()) summary.emplace();
        ApplyToSummary(*event.parsed[sight.variant], &*summary);
        // The principal's count of the case's events is the event's
        // version in its view.
        sight.view_version = summary->visible_events();
      }
    }
    for (auto& [case_id, state] : part.summaries) {
      part.serialized.push_back(SerializedSummaries(case_id, state));
    }
    return absl::OkStatus();
  };
  HUB_RETURN_IF_ERROR(on_two_threads(parallel ? kShapingParts : 1, run_part));

  // Each principal's view positions continue from the last batch's, in
  // log order.
  HUB_RETURN_IF_ERROR(KnowViewPositions());
  Prepared prepared;
  prepared.covered = limit;
  storage::ProjectionBatch& batch = prepared.batch;
  batch.checkpoint = stored[limit - 1].position;
  HUB_RETURN_IF_ERROR(NoteSealedParts(stored, limit, &batch));
  for (size_t i = 0; i < limit; ++i) {
    if (!disclosed[i].empty()) {
      NumberDeliveries(&disclosed[i]);
      std::move(disclosed[i].begin(), disclosed[i].end(), std::back_inserter(batch.reshaped));
    }
    ShapedEvent& event = shaped[i];
    if (event.stored.visible_to.empty()) continue;
    for (storage::ProjectionBatch::Shaped::Sight& sight : event.stored.visible_to) {
      sight.view_position = ++last_view_positions_[sight.principal];
    }
    batch.events.push_back(std::move(event.stored));
  }
  for (Part& part : parts) {
    prepared.summaries.merge(part.summaries);
    std::move(part.serialized.begin(), part.serialized.end(), std::back_inserter(batch.summaries));
  }
  return prepared;
}

absl::Status Projector::DiscloseInBatch(
    const std::vector<storage::StoredEvent>& stored,
    const std::vector<hub::v1::EventEnvelope*>& opened,
    const std::vector<const hub::v1::EventEnvelope*>& routing, size_t index,
    const std::vector<size_t>& earlier_in_batch, const Allowances& allowances, CaseState* state,
    const std::vector<ShapedEvent>& shaped,
    std::vector<storage::ProjectionBatch::Reshaped>* disclosed) const {
  const std::string& case_id = stored[index].case_id;
  hub::v1::CaseRelations after = state->relations;
  policy_->ApplyToRelations(*routing[index], &after);
  // The case's events before this batch, as the views hold them, then
  // those earlier in it (no correction among them: one ends a batch). The
  // history and its shapes live only as long as this call: on the batch's
  // arena, a rebuild's batch of many disclosures of long cases took hubd
  // past 700 MiB resident.
  google::protobuf::Arena arena;
  OpenedCase history;
  if (stored.front().position > 1) {
    HUB_ASSIGN_OR_RETURN(history, OpenCase(case_id, stored.front().position - 1, &arena));
  }
  std::vector<std::pair<uint64_t, std::string>> in_batch;
  for (size_t j : earlier_in_batch) {
    history.events.push_back(stored[j]);
    history.original.push_back(opened[j]);
    history.corrected.push_back(opened[j]);
    history.routing.push_back(routing[j]);
    history.target.emplace_back();
    std::string& visibility = in_batch.emplace_back(stored[j].position, "").second;
    for (const auto& sight : shaped[j].stored.visible_to) {
      visibility.resize(std::max<size_t>(visibility.size(), sight.principal + size_t{1}),
                        static_cast<char>(kSeesNone));
      visibility[sight.principal] = static_cast<char>(sight.variant);
    }
  }
  CaseAgain again;
  if (history.events.empty()) {
    again.summaries.assign(generation_.principals.size(), std::nullopt);
  } else {
    HUB_RETURN_IF_ERROR(ShapeStoredAgain(history, history.events.size(), allowances,
                                         state->relations, after,
                                         /*disclosure=*/true, &arena, &again, in_batch));
  }
  state->summaries = std::move(again.summaries);
  *disclosed = std::move(again.reshaped);
  return absl::OkStatus();
}

absl::Status Projector::KnowViewPositions() {
  if (view_positions_known_) return absl::OkStatus();
  HUB_ASSIGN_OR_RETURN(last_view_positions_, views_->LastViewPositions(generation_.generation));
  last_view_positions_.resize(generation_.principals.size(), 0);
  view_positions_known_ = true;
  return absl::OkStatus();
}

storage::ProjectionBatch::CaseSummaries Projector::SerializedSummaries(const std::string& case_id,
                                                                       const CaseState& state) {
  storage::ProjectionBatch::CaseSummaries serialized;
  serialized.case_id = case_id;
  serialized.by_principal.reserve(state.summaries.size());
  for (const std::optional<hub::v1::CaseSummary>& summary : state.summaries) {
    serialized.by_principal.push_back(summary.has_value()
                                          ? std::optional<std::string>(summary->SerializeAsString())
                                          : std::nullopt);
  }
  if (state.relations.ByteSizeLong() > 0) {
    serialized.relations = state.relations.SerializeAsString();
  }
  if (state.facts.ByteSizeLong() > 0) serialized.facts = state.facts.SerializeAsString();
  return serialized;
}

absl::StatusOr<size_t> Projector::FirstCorrection(const std::vector<storage::StoredEvent>& stored) {
  for (size_t i = 0; i < stored.size(); ++i) {
    HUB_ASSIGN_OR_RETURN(const bool correction, IsStoredCorrection(stored[i].payload));
    if (correction) return i;
  }
  return stored.size();
}

absl::StatusOr<std::vector<storage::StoredEvent>> Projector::CaseEventsThrough(
    const std::string& case_id, uint64_t through_position) const {
  std::vector<storage::StoredEvent> events;
  for (uint64_t version = 1;;) {
    HUB_ASSIGN_OR_RETURN(std::vector<storage::StoredEvent> read,
                         log_->ReadCase(case_id, version, kBatchEvents));
    if (read.empty()) break;
    version = read.back().stream_version + 1;
    for (storage::StoredEvent& event : read) {
      if (event.position > through_position) return events;
      events.push_back(std::move(event));
    }
  }
  return events;
}

absl::StatusOr<Projector::OpenedCase> Projector::OpenCase(const std::string& case_id,
                                                          uint64_t through_position,
                                                          google::protobuf::Arena* arena) const {
  OpenedCase opened;
  HUB_ASSIGN_OR_RETURN(opened.events, CaseEventsThrough(case_id, through_position));
  const size_t count = opened.events.size();
  opened.original.resize(count);
  opened.corrected.resize(count);
  opened.routing.resize(count);
  opened.target.resize(count);
  absl::flat_hash_map<std::string, size_t> index_of;
  for (size_t i = 0; i < count; ++i) {
    HUB_RETURN_IF_ERROR(OpenOnArena(opened.events[i], arena, sealer_, withheld_.get(),
                                    &opened.original[i], &opened.routing[i]));
    opened.corrected[i] = google::protobuf::Arena::CreateMessage<hub::v1::EventEnvelope>(arena);
    opened.corrected[i]->CopyFrom(*opened.original[i]);
    index_of.emplace(opened.original[i]->event_id(), i);
  }
  // The target of each correction, if the case holds it before it.
  for (size_t i = 0; i < count; ++i) {
    if (!opened.original[i]->has_record_corrected()) continue;
    auto found = index_of.find(opened.original[i]->record_corrected().corrected_event_id());
    if (found == index_of.end() || found->second >= i) continue;
    opened.target[i] = found->second;
    ApplyCorrection(*opened.original[i], opened.corrected[found->second]);
  }
  return opened;
}

absl::Status Projector::ShapeStoredAgain(
    const OpenedCase& opened, size_t count, const Allowances& allowances,
    const hub::v1::CaseRelations& before, const hub::v1::CaseRelations& after, bool disclosure,
    google::protobuf::Arena* arena, CaseAgain* again,
    const std::vector<std::pair<uint64_t, std::string>>& in_batch) const {
  const std::vector<std::string>& principals = generation_.principals;
  // Who sees each stored event, as the views hold it.
  const std::string& case_id = opened.events.front().case_id;
  HUB_ASSIGN_OR_RETURN(const auto stored_visibility,
                       views_->CaseVisibility(generation_.generation, case_id));
  absl::flat_hash_map<uint64_t, const std::string*> visibility_at;
  for (const auto& [position, visibility] : stored_visibility) {
    visibility_at.emplace(position, &visibility);
  }
  for (const auto& [position, visibility] : in_batch) visibility_at.emplace(position, &visibility);
  // Whether `principal` saw event `i` before this shaping.
  const auto saw = [&visibility_at, &opened](size_t i, uint16_t principal) {
    auto found = visibility_at.find(opened.events[i].position);
    return found != visibility_at.end() && principal < found->second->size() &&
           static_cast<uint8_t>((*found->second)[principal]) != kSeesNone;
  };
  again->saw.assign(opened.events.size(), std::vector<bool>(principals.size()));
  for (size_t i = 0; i < opened.events.size(); ++i) {
    for (size_t p = 0; p < principals.size(); ++p) {
      again->saw[i][p] = saw(i, static_cast<uint16_t>(p));
    }
  }
  again->sees.assign(opened.events.size(), std::vector<bool>(principals.size()));
  again->summaries.assign(principals.size(), std::nullopt);
  for (size_t i = 0; i < count; ++i) {
    // Folding an event into relationships that hold it already changes
    // nothing.
    hub::v1::CaseRelations relations = after;
    HUB_ASSIGN_OR_RETURN(ShapedEvent shaped,
                         ShapeEvent(opened.events[i], *policy_, principals, allowances, &relations,
                                    arena, opened.corrected[i], opened.routing[i],
                                    /*keep_emptied=*/true));
    // As the relationships before showed it: a principal shown more of an
    // event it saw is given it again.
    std::optional<ShapedEvent> narrower;
    if (disclosure) {
      relations = before;
      HUB_ASSIGN_OR_RETURN(narrower, ShapeEvent(opened.events[i], *policy_, principals, allowances,
                                                &relations, arena, opened.corrected[i],
                                                opened.routing[i], /*keep_emptied=*/true));
    }
    if (again->fold_facts) ApplyToFacts(*opened.corrected[i], &again->facts);
    auto& sights = shaped.stored.visible_to;
    for (const auto& sight : sights) {
      const uint16_t p = sight.principal;
      bool shown = !shaped.emptied[sight.variant];
      if (opened.original[i]->has_record_corrected()) {
        const std::optional<size_t>& target = opened.target[i];
        shown = shown && target.has_value() && again->sees[*target][p] &&
                again->told[{*target, p}].count(opened.original[i]->event_id()) > 0;
      }
      again->sees[i][p] = saw(i, p) || (disclosure && shown);
    }
    sights.erase(
        std::remove_if(sights.begin(), sights.end(),
                       [&](const auto& sight) { return !again->sees[i][sight.principal]; }),
        sights.end());
    if (sights.empty()) continue;
    storage::ProjectionBatch::Reshaped& reshaped = again->reshaped.emplace_back();
    reshaped.position = opened.events[i].position;
    for (auto& sight : sights) {
      for (const hub::v1::CorrectionNote& note : shaped.parsed[sight.variant]->corrections()) {
        again->told[{i, sight.principal}].insert(note.correction_event_id());
      }
      std::optional<hub::v1::CaseSummary>& summary = again->summaries[sight.principal];
      if (!summary.has_value()) summary.emplace();
      ApplyToSummary(*shaped.parsed[sight.variant], &*summary);
      // Numbered in case order: a disclosure renumbers what follows.
      sight.view_version = summary->visible_events();
      bool deliver = !saw(i, sight.principal);
      if (!deliver && narrower.has_value()) {
        const auto& was = narrower->stored.visible_to;
        auto found = std::find_if(was.begin(), was.end(), [&](const auto& earlier) {
          return earlier.principal == sight.principal;
        });
        deliver = found == was.end() || narrower->stored.variants[found->variant] !=
                                            shaped.stored.variants[sight.variant];
      }
      sight.view_position = deliver ? kToDeliver : 0;
      reshaped.visible_to.push_back(sight);
    }
    reshaped.variants = std::move(shaped.stored.variants);
  }
  return absl::OkStatus();
}

void Projector::NumberDeliveries(std::vector<storage::ProjectionBatch::Reshaped>* reshaped) {
  for (storage::ProjectionBatch::Reshaped& event : *reshaped) {
    for (auto& sight : event.visible_to) {
      if (sight.view_position == kToDeliver) {
        sight.view_position = ++last_view_positions_[sight.principal];
      }
    }
  }
}

absl::StatusOr<Projector::Prepared> Projector::PrepareCaseAgain(const storage::StoredEvent& last) {
  const std::vector<std::string>& principals = generation_.principals;
  const Allowances allowances = AllowancesOf(*policy_, principals);
  google::protobuf::Arena arena;
  HUB_ASSIGN_OR_RETURN(OpenedCase opened, OpenCase(last.case_id, last.position, &arena));
  if (opened.events.empty() || opened.events.back().position != last.position) {
    return absl::InternalError(absl::StrCat(
        "case ", last.case_id, " does not hold its event at log position ", last.position));
  }
  const size_t n = opened.events.size() - 1;
  // The case's relationships before `last` and with it. Every event is
  // shaped under the latter: relationships only grow, and each time they
  // let a principal see more (a disclosure), the case is shaped again.
  hub::v1::CaseRelations before;
  for (size_t i = 0; i < n; ++i) policy_->ApplyToRelations(*opened.routing[i], &before);
  hub::v1::CaseRelations after = before;
  policy_->ApplyToRelations(*opened.routing[n], &after);
  const bool disclosure =
      allowances.relational && ShowsMore(*policy_, principals, allowances, before, after);
  CaseAgain again;
  again.fold_facts = true;
  HUB_RETURN_IF_ERROR(
      ShapeStoredAgain(opened, n, allowances, before, after, disclosure, &arena, &again));

  HUB_RETURN_IF_ERROR(KnowViewPositions());
  Prepared prepared;
  prepared.covered = 1;
  storage::ProjectionBatch& batch = prepared.batch;
  batch.checkpoint = last.position;
  HUB_RETURN_IF_ERROR(NoteSealedParts({last}, 1, &batch));
  CaseState state;
  state.summaries = std::move(again.summaries);
  state.relations = after;
  state.facts = std::move(again.facts);
  // `last` itself: a correction is shown to those who see what it
  // corrects and may see a field it replaced (are told of it).
  hub::v1::CaseRelations relations = after;
  HUB_ASSIGN_OR_RETURN(ShapedEvent shaped,
                       ShapeEvent(opened.events[n], *policy_, principals, allowances, &relations,
                                  &arena, opened.corrected[n], opened.routing[n]));
  ApplyToFacts(*opened.corrected[n], &state.facts);
  auto& sights = shaped.stored.visible_to;
  if (opened.original[n]->has_record_corrected()) {
    const std::optional<size_t>& target = opened.target[n];
    sights.erase(std::remove_if(sights.begin(), sights.end(),
                                [&](const auto& sight) {
                                  return !target.has_value() ||
                                         !again.sees[*target][sight.principal] ||
                                         again.told[{*target, sight.principal}].count(
                                             opened.original[n]->event_id()) == 0;
                                }),
                 sights.end());
  }
  for (auto& sight : sights) {
    std::optional<hub::v1::CaseSummary>& summary = state.summaries[sight.principal];
    if (!summary.has_value()) summary.emplace();
    ApplyToSummary(*shaped.parsed[sight.variant], &*summary);
    sight.view_version = summary->visible_events();
  }
  // The earlier events delivered come just before it.
  NumberDeliveries(&again.reshaped);
  batch.reshaped = std::move(again.reshaped);
  if (!sights.empty()) {
    for (auto& sight : sights) sight.view_position = ++last_view_positions_[sight.principal];
    batch.events.push_back(std::move(shaped.stored));
  }
  batch.summaries.push_back(SerializedSummaries(last.case_id, state));
  prepared.summaries.emplace(last.case_id, std::move(state));
  return prepared;
}

struct Projector::InPlaceRequest {
  const std::set<std::string>* key_ids = nullptr;
  const std::string* generation_digest = nullptr;
  // A restriction: every key withheld from now on (key_ids unset).
  std::shared_ptr<const auth::WithheldKeys> withheld;
  std::promise<absl::StatusOr<bool>> done;
};

absl::StatusOr<bool> Projector::ForgetInPlace(const std::set<std::string>& key_ids,
                                              const std::string& generation_digest) {
  InPlaceRequest request;
  request.key_ids = &key_ids;
  request.generation_digest = &generation_digest;
  return TakeInPlace(&request);
}

absl::StatusOr<bool> Projector::RestrictInPlace(std::shared_ptr<const auth::WithheldKeys> withheld,
                                                const std::string& generation_digest) {
  InPlaceRequest request;
  request.generation_digest = &generation_digest;
  request.withheld =
      withheld != nullptr ? std::move(withheld) : std::make_shared<const auth::WithheldKeys>();
  return TakeInPlace(&request);
}

absl::StatusOr<bool> Projector::TakeInPlace(InPlaceRequest* in_place) {
  InPlaceRequest& request = *in_place;
  std::future<absl::StatusOr<bool>> done = request.done.get_future();
  bool started = false;
  {
    absl::MutexLock lock(&mu_);
    started = started_;
  }
  if (!started) return ReshapeInPlace(request);
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Projector* self) { return self->stopping_ || !self->in_place_busy_; }, this));
    // A generation no longer projected is no longer read either.
    if (stopping_ || loop_ended_) {
      return absl::UnavailableError("these views are no longer projected");
    }
    in_place_busy_ = true;
    in_place_ = &request;
    advanced_.SignalAll();
  }
  absl::StatusOr<bool> result = done.get();
  absl::MutexLock lock(&mu_);
  in_place_busy_ = false;
  return result;
}

absl::StatusOr<bool> Projector::ReshapeInPlace(const InPlaceRequest& request) {
  const std::string& generation_digest = *request.generation_digest;
  // A restriction placed or lifted: the keys whose content is now shown
  // otherwise (withheld since another time included), shaped under the new
  // restrictions. Refused or failed, the projector goes on under the ones
  // its views hold.
  std::set<std::string> changed;
  const std::shared_ptr<const auth::WithheldKeys> previous = withheld_;
  bool taken = false;
  absl::Cleanup restore = [&] {
    if (!taken) withheld_ = previous;
  };
  if (request.withheld != nullptr) {
    const auth::WithheldKeys none;
    const auth::WithheldKeys& before = previous != nullptr ? *previous : none;
    for (const auto& [key_id, since] : *request.withheld) {
      auto found = before.find(key_id);
      if (found == before.end() || found->second != since) changed.insert(key_id);
    }
    for (const auto& [key_id, since] : before) {
      if (request.withheld->count(key_id) == 0) changed.insert(key_id);
    }
    withheld_ = request.withheld;
  }
  const std::set<std::string>& key_ids = request.withheld != nullptr ? changed : *request.key_ids;
  const std::vector<std::string>& principals = generation_.principals;
  const Allowances allowances = AllowancesOf(*policy_, principals);
  const auth::ClassMask routing = auth::SharingPolicy::RoutingClasses();
  // What the views hold (the projecting thread has written everything it
  // prepared; before Start(), checkpoint() is not yet read).
  HUB_ASSIGN_OR_RETURN(const uint64_t through, views_->Checkpoint(generation_.generation));
  // Every case an event projected so far holds the content in.
  HUB_ASSIGN_OR_RETURN(const std::set<std::string> case_ids,
                       views_->CasesSealedUnder(generation_.generation, key_ids));
  // First, reading only the parts' keys and classes: content that decides
  // relationships or names subjects is refused before anything is written,
  // unless its event's routing part keeps them (subjects by pseudonym).
  for (const std::string& case_id : case_ids) {
    HUB_ASSIGN_OR_RETURN(const std::vector<storage::StoredEvent> events,
                         CaseEventsThrough(case_id, through));
    for (const storage::StoredEvent& event : events) {
      HUB_ASSIGN_OR_RETURN(const std::vector<auth::FieldSealer::PartKey> parts,
                           auth::FieldSealer::PartsOf(event.payload));
      const auto routed =
          std::find_if(parts.begin(), parts.end(), [](const auto& part) { return part.routing; });
      const bool routing_kept = routed != parts.end() && key_ids.count(routed->key_id) == 0 &&
                                !sealer_->keys().Erased(routed->key_id).has_value() &&
                                (withheld_ == nullptr || withheld_->count(routed->key_id) == 0);
      for (const auth::FieldSealer::PartKey& part : parts) {
        if (key_ids.count(part.key_id) == 0) continue;
        if (part.routing || (InMask(routing, part.data_class) && !routing_kept)) return false;
      }
    }
  }
  Reshaped reshaped_now;
  reshaped_now.case_ids.assign(case_ids.begin(), case_ids.end());
  // Written in batches as large as the projector's own: a retention run
  // may take thousands of cases at once. Only the last moves the digest; a
  // crash before it leaves the views to be built again.
  Prepared prepared;
  size_t batch_bytes = 0;
  const auto write = [&](bool last) -> absl::Status {
    prepared.batch.checkpoint = through;
    if (last) prepared.batch.generation_digest = generation_digest;
    if (absl::Status applied = views_->Apply(generation_.generation, prepared.batch);
        !applied.ok()) {
      ForgetUnwritten();
      return applied;
    }
    RememberFacts(prepared.summaries);
    RememberWritten(std::move(prepared.summaries));
    edition_.fetch_add(1, std::memory_order_acq_rel);
    prepared = Prepared();
    batch_bytes = 0;
    return absl::OkStatus();
  };
  for (const std::string& case_id : case_ids) {
    google::protobuf::Arena arena;
    HUB_ASSIGN_OR_RETURN(OpenedCase opened, OpenCase(case_id, through, &arena));
    // Not projected yet: it will be, without the content.
    if (opened.events.empty()) continue;
    HUB_ASSIGN_OR_RETURN(CaseState * state, SummariesFor(case_id, nullptr, &prepared.summaries));
    // What follows holds whenever the content decides no relationship
    // (FieldSealingTest.ErasingAnyClassButTheRoutingOnesLeavesRelationshipsAndSubjects);
    // checked all the same, it ends the reshaping before this case, and the
    // caller builds the views again.
    // Folded afresh from what can still be opened, the relationships must
    // be the ones the views were projected under.
    hub::v1::CaseRelations relations;
    for (const hub::v1::EventEnvelope* routing : opened.routing) {
      policy_->ApplyToRelations(*routing, &relations);
    }
    if (relations.SerializeAsString() != state->relations.SerializeAsString()) return false;
    CaseAgain again;
    again.fold_facts = true;
    HUB_RETURN_IF_ERROR(ShapeStoredAgain(opened, opened.events.size(), allowances, relations,
                                         relations, /*disclosure=*/false, &arena, &again));
    // Each event seen by exactly the principals that saw it, none of them
    // given it again.
    if (again.saw != again.sees) return false;
    for (const storage::ProjectionBatch::Reshaped& reshaped : again.reshaped) {
      for (const auto& sight : reshaped.visible_to) {
        if (sight.view_position != 0) return false;
      }
    }
    for (storage::ProjectionBatch::Reshaped& reshaped : again.reshaped) {
      if (reshaped_now.first_position == 0 || reshaped.position < reshaped_now.first_position) {
        reshaped_now.first_position = reshaped.position;
      }
      reshaped_now.last_position = std::max(reshaped_now.last_position, reshaped.position);
      for (const std::string& variant : reshaped.variants) batch_bytes += variant.size();
      prepared.batch.reshaped.push_back(std::move(reshaped));
    }
    state->summaries = std::move(again.summaries);
    state->facts = std::move(again.facts);
    prepared.batch.summaries.push_back(SerializedSummaries(case_id, *state));
    if (prepared.batch.reshaped.size() >= kBatchEvents || batch_bytes >= kBatchBytes) {
      HUB_RETURN_IF_ERROR(write(/*last=*/false));
    }
  }
  HUB_RETURN_IF_ERROR(write(/*last=*/true));
  taken = true;
  absl::MutexLock lock(&mu_);
  last_reshaped_ = std::move(reshaped_now);
  return true;
}

Projector::Reshaped Projector::last_reshaped() const {
  absl::MutexLock lock(&mu_);
  return last_reshaped_;
}

void Projector::Loop() {
  ProjectUntilStopped();
  absl::MutexLock lock(&mu_);
  loop_ended_ = true;
  if (in_place_ != nullptr) {
    in_place_->done.set_value(absl::UnavailableError("these views are no longer projected"));
    in_place_ = nullptr;
  }
}

void Projector::ProjectUntilStopped() {
  // While catching up, batch N is written on another thread while N+1 is
  // prepared; the live trickle is written on this one.
  struct InFlight {
    Prepared prepared;
    std::shared_future<absl::Status> written;
  };
  std::optional<InFlight> in_flight;
  // ... and the batch after N+1 is read from the log meanwhile.
  struct ReadAhead {
    uint64_t from = 0;
    std::future<absl::StatusOr<std::vector<storage::StoredEvent>>> events;
  };
  std::optional<ReadAhead> read_ahead;
  for (;;) {
    InPlaceRequest* in_place = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      in_place = in_place_;
      in_place_ = nullptr;
    }
    if (in_place != nullptr) {
      // Between two batches: the one being written goes first, so that
      // what it shaped before the keys went is shaped again.
      absl::Status written = absl::OkStatus();
      if (in_flight.has_value()) {
        written = in_flight->written.get();
        if (written.ok()) {
          RememberFacts(in_flight->prepared.summaries);
          Publish(in_flight->prepared.batch.checkpoint);
          RememberWritten(std::move(in_flight->prepared.summaries));
        } else {
          ForgetUnwritten();
        }
        in_flight.reset();
      }
      in_place->done.set_value(written.ok() ? ReshapeInPlace(*in_place)
                                            : absl::StatusOr<bool>(written));
      continue;
    }
    const uint64_t next =
        in_flight.has_value() ? in_flight->prepared.batch.checkpoint + 1 : checkpoint() + 1;
    absl::Status status;
    std::optional<Prepared> prepared;
    if (next <= log_->LastPosition()) {
      absl::StatusOr<std::vector<storage::StoredEvent>> stored =
          read_ahead.has_value() && read_ahead->from == next ? read_ahead->events.get()
                                                             : ReadBatch(next, kBatchEvents);
      read_ahead.reset();
      if (stored.ok() && stored->size() >= kParallelShapingFrom &&
          stored->back().position < log_->LastPosition()) {
        const uint64_t after = stored->back().position + 1;
        read_ahead = ReadAhead{after, std::async(std::launch::async, [this, after] {
                                 return ReadBatch(after, kBatchEvents);
                               })};
      }
      // A correction is projected on its own, against the views as stored:
      // the batch being written goes first, and a correction waits for it.
      std::optional<absl::StatusOr<Prepared>> attempt;
      if (!stored.ok()) {
        attempt = stored.status();
      } else if (absl::StatusOr<size_t> correction = FirstCorrection(*stored); !correction.ok()) {
        attempt = correction.status();
      } else if (*correction == 0) {
        if (!in_flight.has_value()) attempt = PrepareCaseAgain(stored->front());
      } else {
        stored->resize(*correction);
        // A disclosure reads the views: the batch being written goes first.
        std::shared_future<absl::Status> written;
        if (in_flight.has_value()) written = in_flight->written;
        attempt = Prepare(*stored, in_flight.has_value() ? &in_flight->prepared.summaries : nullptr,
                          [written]() -> absl::Status {
                            if (!written.valid()) return absl::OkStatus();
                            return written.get();
                          });
      }
      if (attempt.has_value() && attempt->ok()) {
        prepared = *std::move(*attempt);
      } else if (attempt.has_value()) {
        status = attempt->status();
      }
    }
    if (in_flight.has_value()) {
      absl::Status written = in_flight->written.get();
      if (written.ok()) {
        RememberFacts(in_flight->prepared.summaries);
        Publish(in_flight->prepared.batch.checkpoint);
        RememberWritten(std::move(in_flight->prepared.summaries));
      } else {
        // What was prepared on top of it is discarded with it.
        status = written;
        prepared.reset();
        ForgetUnwritten();
      }
      in_flight.reset();
    }
    if (status.ok() && prepared.has_value()) {
      if (prepared->covered < kParallelShapingFrom) {
        status = views_->Apply(generation_.generation, prepared->batch);
        if (status.ok()) {
          RememberFacts(prepared->summaries);
          Publish(prepared->batch.checkpoint);
          RememberWritten(std::move(prepared->summaries));
        } else {
          ForgetUnwritten();
        }
      } else {
        in_flight.emplace();
        in_flight->prepared = std::move(*prepared);
        const storage::ProjectionBatch* batch = &in_flight->prepared.batch;
        in_flight->written = std::async(std::launch::async, [this, batch] {
          return views_->Apply(generation_.generation, *batch);
        });
      }
      if (status.ok()) continue;
    }
    if (status.ok()) {
      if (!in_flight.has_value() && checkpoint() >= log_->LastPosition()) {
        // Short, so that Stop() (a protocol switch) and an erasure waiting
        // to be taken in place (ForgetInPlace: 50 ms of its 52 at 50) are
        // not kept waiting; a new event ends it at once anyway.
        const uint64_t projected = checkpoint();
        if (log_->WaitForPositionAfter(projected, std::chrono::milliseconds(10)) > projected) {
          absl::MutexLock lock(&mu_);
          mu_.AwaitWithTimeout(absl::Condition(&stopping_), kLiveGathering);
        }
      }
      continue;
    }
    // A full disk or a failing device may pass: each batch is written with
    // its checkpoint in one atomic write, so projecting again from the
    // checkpoint is safe. Anything else (a record that does not parse)
    // will not pass by waiting.
    const absl::StatusCode code = status.code();
    const bool transient =
        code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kUnavailable;
    absl::MutexLock lock(&mu_);
    if (health_.ok() || !transient) {
      LogError(
          transient ? "projecting the views is failing; reads are refused until it recovers"
                    : "projecting the views stopped; reads of this view generation are "
                      "refused",
          {{"generation", std::to_string(generation_.generation)}, {"error", status.ToString()}});
    }
    health_ = status;
    advanced_.SignalAll();
    if (!transient) return;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), kRetryInterval);
    if (stopping_) return;
    mu_.Unlock();
    views_->Resume().IgnoreError();  // the next attempt reports what still fails
    mu_.Lock();
  }
  if (in_flight.has_value() && in_flight->written.get().ok()) {
    RememberFacts(in_flight->prepared.summaries);
    Publish(in_flight->prepared.batch.checkpoint);
  }
}

}  // namespace hub::services
