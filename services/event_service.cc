#include "services/event_service.h"

#include <atomic>
#include <deque>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

#include "auth/redactor.h"
#include "proto/status_macros.h"
#include "services/audit_trail.h"
#include "services/envelope.h"
#include "services/grpc_status.h"
#include "services/metrics.h"
#include "services/request_validation.h"
#include "services/server_log.h"
#include "services/shared_view_reads.h"
#include "services/timeline.h"
#include "services/view_access.h"

namespace hub::services {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Events a subscription reads from the log at a time: its whole buffer.
constexpr size_t kSubscriptionBatch = 128;
// Reads of a batch one wake-up may make while everything is filtered out.
constexpr int kSubscriptionReads = 32;
// Deliveries of other cases a case-filtered subscription passes over in one
// read (by the index alone).
constexpr size_t kCaseSubscriptionScan = 16384;
// What one subscription holds in memory at most (beyond one event): a
// stalled reader costs the hub this, whatever the events' sizes.
constexpr size_t kSubscriptionBufferBytes = 1 << 20;

// Page tokens are opaque to clients: the case and the next version, so that a
// token cannot be replayed against another case.
// Page tokens hold the next version in the reader's view (never the case's
// own count, which would tell how many events it does not see) and the view
// generation it is numbered in.
std::string PageToken(const std::string& case_id, uint32_t generation, uint64_t next_version) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("v2\n", case_id, "\n", generation, "\n", next_version));
}

struct PagePlace {
  uint32_t generation = 0;
  uint64_t next_version = 0;
};

absl::StatusOr<PagePlace> PagePlaceFromToken(const std::string& token, const std::string& case_id) {
  std::string decoded;
  const std::vector<std::string> parts =
      absl::WebSafeBase64Unescape(token, &decoded)
          ? std::vector<std::string>(absl::StrSplit(decoded, '\n'))
          : std::vector<std::string>();
  PagePlace place;
  if (parts.size() != 4 || parts[0] != "v2" || !absl::SimpleAtoi(parts[2], &place.generation) ||
      !absl::SimpleAtoi(parts[3], &place.next_version)) {
    return absl::InvalidArgumentError("page_token is not one this hub issued");
  }
  if (parts[1] != case_id) {
    return absl::InvalidArgumentError("page_token belongs to another case");
  }
  return place;
}

// The field numbers of the event types a subscription asks for (names that
// are not event types are refused before this, by ValidateEventTypeNames).
absl::flat_hash_set<int> EventTypeFieldNumbers(const hub::v1::SubscribeRequest& request) {
  absl::flat_hash_set<int> numbers;
  for (const std::string& name : request.event_types()) {
    const google::protobuf::FieldDescriptor* field =
        hub::v1::EventEnvelope::descriptor()->FindFieldByName(name);
    if (field != nullptr) numbers.insert(field->number());
  }
  return numbers;
}

// One message of a subscription, already serialized (see SerializedDelivery).
struct Outgoing {
  grpc::ByteBuffer message;
  // The event's global position (0: not an event but caught_up).
  uint64_t position = 0;
  // What the event was shared as, for the rule the audit cites.
  hub::v1::DataClass classification = hub::v1::DATA_CLASS_UNSPECIFIED;
  hub::v1::Purpose purpose = hub::v1::PURPOSE_UNSPECIFIED;
  // Which case it belongs to and its type, for the disclosure audit.
  std::string case_id;
  int event_type_field = 0;
};

grpc::ByteBuffer AsByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// Streams the log to one subscriber: reads a bounded batch, writes it one
// message at a time (gRPC's flow control holds back a slow reader, and the
// next batch is read only when this one is written), then waits for the log
// to grow.
class SubscribeReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                               public SubscriptionHub::Subscriber {
 public:
  // `catch_up_target`: the log position acknowledged when the subscription
  // began; caught_up is sent once everything up to it has been delivered.
  // `after_log_position`: where the delivery at request.after_position was
  // made in the log (Views::LogPositionOf).
  SubscribeReactor(storage::EventLog* log, const Views* views, SubscriptionHub* hub,
                   SharedViewReads* shared_reads, Metrics* metrics,
                   const Authenticator* authenticator,
                   std::optional<Authenticator::Credential> credential,
                   hub::v1::Principal principal, uint64_t catch_up_target,
                   const hub::v1::SubscribeRequest& request, uint64_t after_log_position)
      : authenticator_(authenticator),
        credential_(std::move(credential)),
        log_(log),
        views_(views),
        hub_(hub),
        shared_reads_(shared_reads),
        metrics_(metrics),
        principal_(std::move(principal)),
        principal_label_(Metrics::PrincipalLabel(&principal_)),
        identity_(principal_.identity()),
        catch_up_target_(catch_up_target),
        last_reader_position_(request.after_position()),
        generation_(static_cast<uint32_t>(request.after_position() / kGenerationStride)),
        after_view_position_(request.after_position() % kGenerationStride),
        next_position_seen_(after_log_position + 1),
        case_id_(request.case_id()),
        purpose_(request.purpose()),
        event_types_(EventTypeFieldNumbers(request)) {}

  // Takes ownership of itself until gRPC calls OnDone, and starts streaming,
  // or ends the stream at once with `refusal`.
  void Begin(std::shared_ptr<SubscribeReactor> self, const absl::Status& refusal) {
    self_ = std::move(self);
    if (!refusal.ok()) {
      EndStream(refusal);
      return;
    }
    absl::Status registered = hub_->Register(self_, identity_);
    if (!registered.ok()) {
      EndStream(registered);
      return;
    }
    Pump();
  }

  void OnLogAdvanced() override { Pump(); }

  void Recheck(absl::Time now) override {
    if (!credential_.has_value() || refused_.load(std::memory_order_relaxed)) return;
    absl::Status allowed = authenticator_->Recheck(*credential_, now);
    if (allowed.ok()) return;
    refused_.store(true, std::memory_order_relaxed);
    EndStream(allowed);
  }

  bool Backlogged() const override { return backlogged_.load(std::memory_order_relaxed); }

  uint64_t NextPosition() const override {
    return next_position_seen_.load(std::memory_order_relaxed);
  }

  void EndStream(const absl::Status& status) override {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      finishing_ = true;
      final_status_ = ToGrpcStatus(status);
      finish_now = !writing_;
    }
    if (finish_now) Finish(final_status_);
  }

  void OnWriteDone(bool ok) override {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok && !finishing_) {
        finishing_ = true;
        final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the subscriber went away");
      }
      finish_now = finishing_;
    }
    if (finish_now) {
      Finish(final_status_);
      return;
    }
    Pump();
  }

  void OnCancel() override { EndStream(absl::CancelledError("the subscriber cancelled")); }

  void OnDone() override {
    hub_->Unregister(this);
    self_.reset();  // may delete this: nothing after it
  }

 private:
  // Starts the next write if none is in flight, reading from the log when the
  // buffer is empty.
  void Pump() {
    std::optional<absl::Status> failure;
    std::optional<hub::v1::AuditRecord> audit;
    std::shared_ptr<SubscribeReactor> self;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finishing_) return;
      if (buffer_.empty()) {
        absl::StatusOr<std::optional<hub::v1::AuditRecord>> filled = Fill();
        if (filled.ok()) {
          audit = *std::move(filled);
        } else {
          failure = filled.status();
        }
      }
      if (!failure.has_value()) {
        if (buffer_.empty()) return;  // caught up: OnLogAdvanced resumes
        // Held until the write (or the audit before it) completes.
        writing_ = true;
        if (audit.has_value()) {
          self = self_;
        } else {
          current_ = std::move(buffer_.front().message);
          buffer_.pop_front();
        }
      }
    }
    if (failure.has_value()) {
      EndStream(*failure);
      return;
    }
    if (audit.has_value()) {
      AuditThenWrite(std::move(self), *audit);
      return;
    }
    StartWrite(&current_);
  }

  // Every delivered event is in the audit before it leaves. The stream waits
  // for the audit's group commit without holding a thread: the watcher that
  // wakes every subscriber must not wait for one fsync per subscriber.
  void AuditThenWrite(std::shared_ptr<SubscribeReactor> self, const hub::v1::AuditRecord& record) {
    log_->AuditAsync({record.SerializeAsString()},
                     [this, self = std::move(self)](absl::StatusOr<uint64_t> stored) {
                       bool finish_now = false;
                       {
                         absl::MutexLock lock(&mu_);
                         if (!stored.ok()) {
                           buffer_.clear();
                           if (!finishing_) {
                             finishing_ = true;
                             final_status_ = ToGrpcStatus(absl::UnavailableError(
                                 absl::StrCat("the delivery could not be audited (",
                                              stored.status().message(), "), so it was refused")));
                           }
                         }
                         if (finishing_) {
                           writing_ = false;
                           finish_now = true;
                         } else {
                           size_t events = 0;
                           for (const Outgoing& item : buffer_) events += item.position != 0;
                           if (metrics_ != nullptr)
                             metrics_->CountDelivered(principal_label_, events);
                           current_ = std::move(buffer_.front().message);
                           buffer_.pop_front();
                         }
                       }
                       if (finish_now) {
                         Finish(final_status_);
                         return;
                       }
                       StartWrite(&current_);
                     });
  }

  // Reads the next events into the buffer; returns the audit record that must
  // be durable before they are sent, if any.
  absl::StatusOr<std::optional<hub::v1::AuditRecord>> Fill() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // The active view is looked up for every batch: after a protocol change
    // the stream continues, from the same position, under the new protocol.
    absl::StatusOr<Views::Handle> view = views_->For(identity_);
    if (!view.ok()) return view.status();
    if (view->generation != generation_) {
      // A new generation numbers every view afresh: the stream goes on
      // after the deliveries made up to where it was in the log (what the
      // new protocol shows of earlier events is in reads, not re-sent).
      uint64_t after_view_position = 0;
      if (generation_ != 0 && after_view_position_ != 0) {
        absl::StatusOr<uint64_t> at =
            views_->LogPositionOf(identity_, ReaderPosition(generation_, after_view_position_));
        if (!at.ok()) return at.status();
        absl::StatusOr<uint64_t> after =
            views_->store().ViewPositionAt(view->generation, view->principal, *at);
        if (!after.ok()) return after.status();
        after_view_position = *after;
      }
      generation_ = view->generation;
      after_view_position_ = after_view_position;
    }
    // Skipping filtered-out events may take several reads; each is bounded,
    // and a subscriber that runs out of reads is woken again at once
    // (Backlogged), not left waiting for the log to grow.
    backlogged_.store(false, std::memory_order_relaxed);
    // A declared purpose binds: only what the caller's rules for it allow.
    const auth::ClassMask purpose_classes = views_->ClassesFor(identity_, purpose_);
    const bool narrowed = purpose_ != hub::v1::PURPOSE_UNSPECIFIED;
    int reads = 0;
    size_t buffered_bytes = 0;
    DisclosureDigest disclosed;
    bool full = false;
    // Whether the view has nothing more to deliver (as far as projected).
    bool at_end = false;
    const uint64_t projected_before = views_->Projected();
    for (; reads < kSubscriptionReads && buffer_.empty() && !full; ++reads) {
      // A case-filtered subscription skips other cases' deliveries by the
      // index alone, never fetching their events.
      storage::ViewStore::CasePage page;
      // What is delivered: the page read, or a read shared with another
      // subscription of the principal.
      const std::vector<storage::ViewEvent>* events = &page.events;
      SharedViewReads::Events shared;
      if (case_id_.empty()) {
        const SharedViewReads::Read read{view->generation,     view->principal,
                                         after_view_position_, kSubscriptionBatch,
                                         views_->Projected(),  views_->Edition()};
        shared = shared_reads_->Find(read);
        if (shared == nullptr) {
          absl::StatusOr<std::vector<storage::ViewEvent>> fetched = views_->store().ReadFrom(
              view->generation, view->principal, after_view_position_, kSubscriptionBatch);
          if (!fetched.ok()) return fetched.status();
          shared = std::make_shared<const std::vector<storage::ViewEvent>>(*std::move(fetched));
          shared_reads_->Remember(read, shared);
        }
        events = shared.get();
        page.read_through = events->empty() ? after_view_position_ : events->back().view_position;
        at_end = events->size() < kSubscriptionBatch;
      } else {
        absl::StatusOr<storage::ViewStore::CasePage> read = views_->store().ReadCaseDeliveries(
            view->generation, view->principal, case_id_, after_view_position_, kSubscriptionBatch,
            kCaseSubscriptionScan);
        if (!read.ok()) return read.status();
        page = *std::move(read);
        at_end = page.events.size() < kSubscriptionBatch &&
                 page.read_through - after_view_position_ < kCaseSubscriptionScan;
      }
      for (const storage::ViewEvent& event : *events) {
        if (buffered_bytes >= kSubscriptionBufferBytes) {
          full = true;  // The rest is read again once this is written.
          at_end = false;
          break;
        }
        after_view_position_ = event.view_position;
        next_position_seen_.store(
            std::max(next_position_seen_.load(std::memory_order_relaxed), event.position + 1),
            std::memory_order_relaxed);
        last_reader_position_ = ReaderPosition(view->generation, event.view_position);
        absl::StatusOr<EnvelopeHeader> header = ReadEnvelopeHeader(event.payload);
        if (!header.ok()) return header.status();
        if (!event_types_.empty() && !event_types_.contains(header->event_type_field)) continue;
        std::optional<storage::ViewEvent> narrowed_event;
        if (narrowed) {
          hub::v1::EventEnvelope envelope;
          if (!envelope.ParseFromString(event.payload)) {
            return absl::DataLossError("an event of a view does not parse");
          }
          if (!auth::Redact(purpose_classes, &envelope)) continue;
          narrowed_event = event;
          narrowed_event->payload = envelope.SerializeAsString();
        }
        const std::string delivery =
            SerializedDelivery(narrowed ? *narrowed_event : event, view->generation);
        disclosed.Add(delivery);
        buffer_.push_back({AsByteBuffer(delivery), event.position, header->classification,
                           header->purpose, event.case_id, header->event_type_field});
        buffered_bytes += event.payload.size();
      }
      if (!full) after_view_position_ = std::max(after_view_position_, page.read_through);
      if (at_end) break;
    }
    if (reads == kSubscriptionReads && buffer_.empty()) {
      backlogged_.store(true, std::memory_order_relaxed);
    }
    // One audit record for the batch about to be written.
    std::optional<hub::v1::AuditRecord> audit;
    if (!buffer_.empty()) {
      hub::v1::AuditRecord& record = audit.emplace();
      record = AuditRecordFor(principal_, hub::v1::AUDIT_DELIVER, hub::v1::AUDIT_ALLOWED);
      record.set_first_position(buffer_.front().position);
      record.set_last_position(buffer_.back().position);
      record.set_event_count(buffer_.size());
      record.set_case_id(case_id_);
      record.set_purpose(purpose_);
      record.set_protocol_version(view->protocol_version);
      record.set_disclosed_digest(disclosed.Finish());
      // "Who received case X" is answered for every subscription, filtered
      // by case or not.
      for (const Outgoing& item : buffer_) {
        CiteRule(*views_, identity_, item.classification, item.purpose, &record);
        AddDistinct(item.case_id, record.mutable_disclosed_case_ids());
        if (const google::protobuf::FieldDescriptor* type =
                hub::v1::EventEnvelope::descriptor()->FindFieldByNumber(item.event_type_field);
            type != nullptr) {
          AddDistinct(type->name(), record.mutable_event_types());
        }
      }
    }
    if (at_end) {
      next_position_seen_.store(
          std::max(next_position_seen_.load(std::memory_order_relaxed), projected_before + 1),
          std::memory_order_relaxed);
    }
    // The views may lag the log: caught up means everything acknowledged
    // before the subscription began has been delivered, not merely that the
    // views have nothing more yet.
    if (buffer_.empty() && !sent_caught_up_ && at_end && projected_before >= catch_up_target_) {
      sent_caught_up_ = true;
      hub::v1::SubscribeResponse response;
      response.mutable_caught_up()->set_position(last_reader_position_);
      Outgoing marker;
      marker.message = AsByteBuffer(response.SerializeAsString());
      buffer_.push_back(std::move(marker));
    }
    return audit;
  }

  const Authenticator* const authenticator_;
  // What admitted the caller, checked again while the stream runs.
  const std::optional<Authenticator::Credential> credential_;
  std::atomic<bool> refused_{false};
  std::atomic<bool> backlogged_{false};
  storage::EventLog* const log_;
  const Views* const views_;
  SubscriptionHub* const hub_;
  SharedViewReads* const shared_reads_;
  Metrics* const metrics_;
  const hub::v1::Principal principal_;
  const std::string principal_label_;
  const std::string identity_;
  const uint64_t catch_up_target_;
  std::shared_ptr<SubscribeReactor> self_;

  absl::Mutex mu_;
  // The reader position of the last event read for this stream.
  uint64_t last_reader_position_ ABSL_GUARDED_BY(mu_);
  // Where the stream is: a view generation (0: none yet) and the last view
  // position of it delivered or passed over (the log's numbers stay inside
  // the hub: readers are told their own view's, see ReaderPosition).
  uint32_t generation_ ABSL_GUARDED_BY(mu_);
  uint64_t after_view_position_ ABSL_GUARDED_BY(mu_);
  // About the next log position to deliver, for the metrics.
  std::atomic<uint64_t> next_position_seen_{0};
  const std::string case_id_;
  const hub::v1::Purpose purpose_;
  // Field numbers of the event types asked for (empty: all).
  const absl::flat_hash_set<int> event_types_;
  std::deque<Outgoing> buffer_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer current_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_caught_up_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_;
};

absl::Status ChangedWhilePublishing(const std::string& case_id) {
  return absl::AbortedError(absl::StrCat(
      "case ", case_id,
      " changed while this conditional publish was judged; nothing was stored; read the case "
      "again and retry with the version you then see"));
}

// Tells the operator when the log cannot store (a full disk, a failing
// device): once, then at most every 30 s while it lasts, not once per call.
void LogStorageTrouble(const absl::Status& status) {
  const absl::StatusCode code = status.code();
  if (code != absl::StatusCode::kResourceExhausted && code != absl::StatusCode::kUnavailable &&
      code != absl::StatusCode::kDataLoss && code != absl::StatusCode::kInternal) {
    return;
  }
  static std::atomic<int64_t> next_log_ms{0};
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t due = next_log_ms.load();
  if (now_ms < due || !next_log_ms.compare_exchange_strong(due, now_ms + 30000)) return;
  LogError("the event log cannot store publishes", {{"error", status.ToString()}});
}

}  // namespace

absl::Status EventService::CheckVersionInView(const hub::v1::Principal& principal,
                                              const hub::v1::PublishRequest& request,
                                              storage::AppendRequest* append) const {
  // The case's own version first: the views then hold at least that much,
  // and anything published since makes the append conflict (never pass).
  HUB_ASSIGN_OR_RETURN(const uint64_t case_version, log_->CaseVersion(request.case_id()));
  HUB_RETURN_IF_ERROR(AwaitViews(*log_, *views_));
  HUB_ASSIGN_OR_RETURN(const Views::Handle view, views_->For(principal.identity()));
  HUB_ASSIGN_OR_RETURN(std::optional<std::string> summary,
                       views_->store().Summary(view.generation, view.principal, request.case_id()));
  uint64_t seen = 0;
  if (summary.has_value()) {
    hub::v1::CaseSummary parsed;
    if (!parsed.ParseFromString(*summary)) {
      return absl::DataLossError("a case summary of the views does not parse");
    }
    seen = parsed.visible_events();
  }
  if (seen != request.expected_version()) {
    return storage::VersionConflictError(request.case_id(), seen, request.expected_version());
  }
  append->expected_version = case_version;
  return absl::OkStatus();
}

absl::Status EventService::SealPayloads(const std::vector<hub::v1::EventEnvelope>& stamped,
                                        storage::AppendRequest* append) const {
  if (sealer_ == nullptr) return absl::OkStatus();
  for (size_t i = 0; i < stamped.size(); ++i) {
    absl::StatusOr<std::string> sealed = sealer_->Seal(stamped[i]);
    if (!sealed.ok()) {
      if (absl::IsFailedPrecondition(sealed.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("events[", i,
                         "] is about a subject or case whose personal data was erased; nothing "
                         "more is recorded about them, and nothing of this publish was stored"));
      }
      return sealed.status();
    }
    append->events[i].payload = *std::move(sealed);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventService::Publish(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* serialized_request,
                                                grpc::ByteBuffer* serialized_response) {
  CountedCall call(metrics_, "Publish");
  absl::StatusOr<hub::v1::Principal> principal =
      authenticator_->PrincipalOf(*context->auth_context());
  if (!principal.ok()) return FinishUnary(context, call.Record(principal.status()));
  call.SetPrincipal(*principal);
  // Parsed here rather than by gRPC, which answers bytes it cannot parse
  // with UNIMPLEMENTED and no message, as if the method did not exist.
  auto request = std::make_unique<hub::v1::PublishRequest>();
  grpc::ByteBuffer request_bytes(*serialized_request);
  if (!grpc::SerializationTraits<hub::v1::PublishRequest>::Deserialize(&request_bytes,
                                                                       request.get())
           .ok()) {
    return FinishUnary(
        context,
        call.Record(AuditDenial(
            log_, *principal, hub::v1::AUDIT_PUBLISH, "",
            absl::InvalidArgumentError(
                "the request is not a well-formed hub.v1.PublishRequest (bytes that are not a "
                "protobuf of that message, or a string field that is not valid UTF-8); nothing "
                "was stored"))));
  }
  const absl::Time now = absl::Now();
  std::vector<hub::v1::EventEnvelope> stamped;
  absl::StatusOr<storage::AppendRequest> append =
      PrepareAppend(*principal, *request, now, limits_, &stamped);
  if (!append.ok()) {
    if (append.status().code() == absl::StatusCode::kPermissionDenied) {
      AuditDenial(log_, *principal, hub::v1::AUDIT_PUBLISH, request->case_id(), append.status())
          .IgnoreError();
    }
    return FinishUnary(context, call.Record(append.status()));
  }
  // A conditional publish is judged on the case as the caller sees it: the
  // case's own count would tell it how many events it does not see.
  const bool caller_expected_version = request->has_expected_version();
  if (caller_expected_version) {
    absl::Status in_view = CheckVersionInView(*principal, *request, &*append);
    if (!in_view.ok()) {
      if (storage::IsVersionConflict(in_view)) {
        AuditDenial(log_, *principal, hub::v1::AUDIT_PUBLISH, request->case_id(), in_view,
                    stamped.front().purpose())
            .IgnoreError();
      }
      return FinishUnary(context, call.Record(in_view));
    }
  }
  // The protocol's recording rules and the case's history decide; every
  // refusal is in the audit (attempted writes are the governance group's
  // business as much as reads).
  absl::StatusOr<RecordingGate::Admission> admission = gate_->Admit(*principal, stamped, &*append);
  if (!admission.ok() && storage::IsVersionConflict(admission.status())) {
    // The case changed between the caller's view and the gate (its own
    // version is not the caller's business).
    admission = ChangedWhilePublishing(request->case_id());
  }
  if (!admission.ok()) {
    const absl::StatusCode code = admission.status().code();
    if (code == absl::StatusCode::kPermissionDenied || code == absl::StatusCode::kAlreadyExists ||
        code == absl::StatusCode::kNotFound || code == absl::StatusCode::kFailedPrecondition ||
        code == absl::StatusCode::kInvalidArgument ||
        // A case at the protocol's limit of an entity.
        code == absl::StatusCode::kResourceExhausted) {
      AuditDenial(log_, *principal, hub::v1::AUDIT_PUBLISH, request->case_id(), admission.status(),
                  stamped.empty() ? hub::v1::PURPOSE_UNSPECIFIED : stamped.front().purpose())
          .IgnoreError();
    }
    return FinishUnary(context, call.Record(admission.status()));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string case_id = request->case_id();
  // Sealed only once admitted: a refused publish makes no data key. An
  // admitted one about an erased subject is refused here, audited, and
  // still handed to the gate's order (every admission is submitted once).
  if (absl::Status sealed = SealPayloads(stamped, &*append); !sealed.ok()) {
    if (absl::IsFailedPrecondition(sealed)) {
      AuditDenial(log_, *principal, hub::v1::AUDIT_PUBLISH, case_id, sealed,
                  stamped.front().purpose())
          .IgnoreError();
    }
    gate_->Submit(case_id, *admission,
                  [gate = gate_, reactor, call, case_id, admission = *admission, sealed]() mutable {
                    gate->Finished(case_id, admission, /*stored=*/false);
                    reactor->Finish(ToGrpcStatus(call.Record(sealed)));
                  });
    return reactor;
  }
  // The publish and its audit record are one atomic write.
  AuditPublish(*principal, authenticator_->directory()->protocol_version(), *request,
               admission->rules, &*append);
  // The call finishes from the log's thread once the append is durable: no
  // gRPC thread waits for the fsync, so as many publishes can be in flight
  // as the group commit can take in one group. The log receives the case's
  // publishes in the order the gate judged them.
  gate_->Submit(
      case_id, *admission,
      [this, context, now, reactor, serialized_response, call, case_id, caller_expected_version,
       admission = *admission, append = *std::move(append)]() mutable {
        // A caller that has already given up must not get a write it never sees.
        if (absl::FromChrono(context->deadline()) <= now || context->IsCancelled()) {
          gate_->Finished(case_id, admission, /*stored=*/false);
          reactor->Finish(ToGrpcStatus(call.Record(absl::DeadlineExceededError(
              "the call's deadline passed before the events were written; nothing was stored"))));
          return;
        }
        log_->AppendAsync(
            std::move(append),
            [reactor, serialized_response, call, gate = gate_, case_id, caller_expected_version,
             admission](absl::StatusOr<storage::AppendResult> result) mutable {
              gate->Finished(case_id, admission, result.ok());
              if (!result.ok()) {
                absl::Status status = result.status();
                if (storage::IsVersionConflict(status)) {
                  // Either the version was the hub's choice (a publish
                  // admitted before this one failed) or the case changed
                  // since the caller's view was checked; never the case's
                  // own version, which is not the caller's business.
                  status = caller_expected_version
                               ? ChangedWhilePublishing(case_id)
                               : absl::AbortedError(absl::StrCat(
                                     "a concurrent publish to case ", case_id,
                                     " failed before this one was written; nothing of this one "
                                     "was stored; retry with the same event ids"));
                }
                LogStorageTrouble(status);
                reactor->Finish(ToGrpcStatus(call.Record(status)));
                return;
              }
              // No positions or versions: the log's would count events
              // the caller does not see (readers are told their own).
              hub::v1::PublishResponse response;
              response.set_already_stored(result->already_stored);
              bool own_buffer = false;
              (void)grpc::SerializationTraits<hub::v1::PublishResponse>::Serialize(
                  response, serialized_response, &own_buffer);
              reactor->Finish(ToGrpcStatus(call.Record(absl::OkStatus())));
            });
      });
  return reactor;
}

grpc::ServerUnaryReactor* EventService::ReadCase(grpc::CallbackServerContext* context,
                                                 const hub::v1::ReadCaseRequest* request,
                                                 hub::v1::ReadCaseResponse* response) {
  CountedCall call(metrics_, "ReadCase");
  if (auto caller = authenticator_->PrincipalOf(*context->auth_context()); caller.ok()) {
    call.SetPrincipal(*caller);
  }
  absl::StatusOr<hub::v1::Principal> principal = CaseContentReader(
      *authenticator_, *context, log_, hub::v1::AUDIT_READ_CASE, request->case_id());
  if (!principal.ok()) return FinishUnary(context, call.Record(principal.status()));
  if (absl::Status known = CheckKnownEnums(*request, ""); !known.ok()) {
    return FinishUnary(context, call.Record(known));
  }
  absl::Status declared = CheckDeclaredPurpose(*views_, *principal, request->purpose(), log_,
                                               hub::v1::AUDIT_READ_CASE, request->case_id());
  if (!declared.ok()) return FinishUnary(context, call.Record(declared));
  if (request->case_id().empty()) {
    return FinishUnary(context, call.Record(absl::InvalidArgumentError("case_id is required")));
  }
  absl::StatusOr<size_t> served_page_size =
      ServedPageSize(request->page_size(), kDefaultPageSize, kMaxPageSize);
  if (!served_page_size.ok()) return FinishUnary(context, call.Record(served_page_size.status()));
  const size_t page_size = *served_page_size;
  uint64_t from_version = std::max<uint64_t>(request->from_version(), 1);
  std::optional<PagePlace> page;
  if (!request->page_token().empty()) {
    absl::StatusOr<PagePlace> place = PagePlaceFromToken(request->page_token(), request->case_id());
    if (!place.ok()) return FinishUnary(context, call.Record(place.status()));
    page = *place;
    from_version = place->next_version;
  }
  absl::Status current = AwaitViews(*log_, *views_);
  if (!current.ok()) return FinishUnary(context, call.Record(current));
  absl::StatusOr<Views::Handle> view = views_->For(principal->identity());
  if (!view.ok()) return FinishUnary(context, call.Record(view.status()));
  if (page.has_value() && page->generation != view->generation) {
    return FinishUnary(
        context, call.Record(absl::AbortedError(
                     "the sharing protocol changed since the previous page, and with it the "
                     "versions of your view of the case; read the case again from version 1")));
  }
  // One more than the page tells whether another page follows.
  absl::StatusOr<std::vector<storage::ViewEvent>> events = views_->store().ReadCase(
      view->generation, view->principal, request->case_id(), from_version, page_size + 1);
  if (!events.ok()) return FinishUnary(context, call.Record(events.status()));
  // A declared purpose binds: only what the caller's rules for it allow.
  const auth::ClassMask purpose_classes =
      views_->ClassesFor(principal->identity(), request->purpose());
  // The log positions disclosed, for the audit (readers see their own).
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  for (size_t i = 0; i < events->size() && i < page_size; ++i) {
    absl::StatusOr<hub::v1::EventEnvelope> envelope = EnvelopeOf((*events)[i], view->generation);
    if (!envelope.ok()) return FinishUnary(context, call.Record(envelope.status()));
    if (request->purpose() != hub::v1::PURPOSE_UNSPECIFIED &&
        !auth::Redact(purpose_classes, &*envelope)) {
      continue;
    }
    if (first_position == 0) first_position = (*events)[i].position;
    last_position = (*events)[i].position;
    *response->add_events() = *std::move(envelope);
  }
  if (events->size() > page_size) {
    response->set_next_page_token(
        PageToken(request->case_id(), view->generation, (*events)[page_size].view_version));
  }
  // The read is in the audit before the data leaves.
  hub::v1::AuditRecord record =
      AuditRecordFor(*principal, hub::v1::AUDIT_READ_CASE, hub::v1::AUDIT_ALLOWED);
  record.set_case_id(request->case_id());
  record.set_purpose(request->purpose());
  record.set_event_count(response->events_size());
  if (response->events_size() > 0) {
    record.set_first_position(first_position);
    record.set_last_position(last_position);
  }
  record.set_protocol_version(view->protocol_version);
  DisclosureDigest disclosed;
  ReadCitations citations(*views_, principal->identity(), &record);
  for (const hub::v1::EventEnvelope& event : response->events()) {
    citations.Cite(event);
    disclosed.Add(event.SerializeAsString());
  }
  record.set_disclosed_digest(disclosed.Finish());
  absl::Status audited = StoreAudit(log_, record);
  if (!audited.ok()) {
    response->Clear();
    return FinishUnary(context, call.Record(audited));
  }
  return FinishUnary(context, call.Record(absl::OkStatus()));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventService::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* serialized_request) {
  hub::v1::SubscribeRequest request;
  grpc::ByteBuffer request_bytes(*serialized_request);
  const bool parses =
      grpc::SerializationTraits<hub::v1::SubscribeRequest>::Deserialize(&request_bytes, &request)
          .ok();
  absl::StatusOr<hub::v1::Principal> principal =
      CaseContentReader(*authenticator_, *context, log_, hub::v1::AUDIT_DELIVER, request.case_id());
  absl::StatusOr<Authenticator::Credential> credential =
      authenticator_->CredentialOf(*context->auth_context());
  const uint64_t catch_up_target = log_->LastPosition();
  absl::Status valid =
      parses ? principal.status()
             : absl::InvalidArgumentError("the request is not a serialized SubscribeRequest");
  if (valid.ok()) valid = CheckKnownEnums(request, "");
  if (valid.ok()) {
    valid = CheckDeclaredPurpose(*views_, *principal, request.purpose(), log_,
                                 hub::v1::AUDIT_DELIVER, request.case_id());
  }
  if (valid.ok()) valid = ValidateEventTypeNames(request.event_types());
  uint64_t after_log_position = 0;
  if (valid.ok()) {
    absl::StatusOr<uint64_t> after =
        views_->LogPositionOf(principal->identity(), request.after_position());
    if (after.ok()) {
      after_log_position = *after;
    } else {
      valid = after.status();
    }
  }
  auto reactor = std::make_shared<SubscribeReactor>(
      log_, views_, subscriptions_, &shared_reads_, metrics_, authenticator_.get(),
      credential.ok() ? std::optional<Authenticator::Credential>(*std::move(credential))
                      : std::nullopt,
      principal.ok() ? *principal : hub::v1::Principal(), catch_up_target, request,
      after_log_position);
  CountedCall call(metrics_, "Subscribe");
  if (auto caller = authenticator_->PrincipalOf(*context->auth_context()); caller.ok()) {
    call.SetPrincipal(*caller);
  }
  call.Record(valid);
  SubscribeReactor* raw = reactor.get();
  raw->Begin(std::move(reactor), valid);
  return raw;
}

}  // namespace hub::services
