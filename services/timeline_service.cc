#include "services/timeline_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/time_util.h"

#include "auth/data_classes.h"
#include "auth/redactor.h"
#include "proto/status_macros.h"
#include "services/audit_trail.h"
#include "services/envelope.h"
#include "services/grpc_status.h"
#include "services/request_validation.h"
#include "services/timeline.h"
#include "services/view_access.h"

namespace hub::services {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// A timeline is ordered from the case's entries alone (when each event
// happened, 24 bytes each), then only a page's events are read. A Drive
// case has hundreds of events; one with more than this is read with
// EventService.ReadCase instead.
constexpr size_t kMaxTimelineEvents = 200000;
// Events read at once while filling a page (filters may skip some).
constexpr size_t kPageReadChunk = 128;
// Case summaries examined by one ListCases call, so that a selective filter
// over many cases cannot hold a thread for long; the page token resumes.
constexpr size_t kMaxCasesExamined = 5000;
constexpr size_t kSummaryChunk = 500;

absl::Status ValidateTime(const google::protobuf::Timestamp& time, const std::string& field) {
  using google::protobuf::util::TimeUtil;
  if (time.seconds() < TimeUtil::kTimestampMinSeconds ||
      time.seconds() > TimeUtil::kTimestampMaxSeconds || time.nanos() < 0 ||
      time.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not a valid timestamp"));
  }
  return absl::OkStatus();
}

std::string ListToken(const std::string& last_case) {
  return absl::WebSafeBase64Escape(absl::StrCat("l1\n", last_case));
}

absl::StatusOr<std::string> CaseAfterToken(const std::string& token) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded) || !absl::StartsWith(decoded, "l1\n")) {
    return absl::InvalidArgumentError("page_token is not a case-list token this hub issued");
  }
  return decoded.substr(3);
}

}  // namespace

absl::StatusOr<hub::v1::AuditRecord> TimelineService::Timeline(
    const hub::v1::Principal& principal, const hub::v1::GetCaseTimelineRequest& request,
    hub::v1::GetCaseTimelineResponse* response) const {
  if (request.case_id().empty()) return absl::InvalidArgumentError("case_id is required");
  HUB_ASSIGN_OR_RETURN(const size_t page_size,
                       ServedPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize));
  HUB_RETURN_IF_ERROR(ValidateEventTypeNames(request.event_types()));
  if (request.has_from_time()) HUB_RETURN_IF_ERROR(ValidateTime(request.from_time(), "from_time"));
  if (request.has_to_time()) HUB_RETURN_IF_ERROR(ValidateTime(request.to_time(), "to_time"));
  std::optional<TimelinePlace> after;
  if (!request.page_token().empty()) {
    HUB_ASSIGN_OR_RETURN(after, TimelinePlaceFromToken(request.page_token(), request.case_id()));
  }

  HUB_RETURN_IF_ERROR(AwaitViews(*log_, *views_));
  HUB_ASSIGN_OR_RETURN(Views::Handle view, views_->For(principal.identity()));
  // The order first, from the case's entries (no content): memory grows
  // with the case's length by a few bytes an event, not by its events.
  absl::StatusOr<std::vector<storage::CaseEntry>> listed = views_->store().CaseEntries(
      view.generation, view.principal, request.case_id(), kMaxTimelineEvents);
  if (absl::IsResourceExhausted(listed.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("case ", request.case_id(), " has more than ", kMaxTimelineEvents,
                     " events in your view; read it in pages with EventService.ReadCase"));
  }
  HUB_RETURN_IF_ERROR(listed.status());
  std::vector<storage::CaseEntry>& entries = *listed;
  const auto place_of = [](const storage::CaseEntry& entry) {
    return TimelinePlace{entry.happened_seconds, entry.happened_nanos, entry.view_version};
  };
  std::sort(entries.begin(), entries.end(),
            [&](const storage::CaseEntry& a, const storage::CaseEntry& b) {
              return place_of(a) < place_of(b);
            });
  response->set_case_id(request.case_id());
  response->set_visible_events(entries.size());
  response->set_protocol_version(view.protocol_version);
  // A declared purpose binds: only what the caller's rules for it allow.
  const auth::ClassMask purpose_classes =
      views_->ClassesFor(principal.identity(), request.purpose());
  std::optional<TimelinePlace> last_returned;
  // The log positions disclosed, for the audit (readers see their own).
  uint64_t first = 0;
  uint64_t last = 0;
  size_t next = 0;
  while (next < entries.size() && after.has_value() && !(*after < place_of(entries[next]))) ++next;
  bool page_full = false;
  // Each event is parsed where the answer lives (its arena, when gRPC gave
  // one) and handed to its entry without a copy; one a filter skips is
  // parsed over by the next, so skipping costs no memory.
  google::protobuf::Arena* const arena = response->GetArena();
  std::unique_ptr<hub::v1::EventEnvelope> owned_scratch;
  hub::v1::EventEnvelope* scratch = nullptr;
  const auto fresh_event = [&]() -> hub::v1::EventEnvelope* {
    if (scratch != nullptr) return scratch;
    if (arena != nullptr) {
      scratch = google::protobuf::Arena::CreateMessage<hub::v1::EventEnvelope>(arena);
    } else {
      owned_scratch = std::make_unique<hub::v1::EventEnvelope>();
      scratch = owned_scratch.get();
    }
    return scratch;
  };
  while (next < entries.size() && !page_full) {
    std::vector<uint64_t> positions;
    for (size_t i = next; i < entries.size() && positions.size() < kPageReadChunk; ++i) {
      positions.push_back(entries[i].position);
    }
    HUB_ASSIGN_OR_RETURN(std::vector<storage::ViewEvent> chunk,
                         views_->store().ReadEvents(view.generation, view.principal, positions));
    for (storage::ViewEvent& stored : chunk) {
      const storage::CaseEntry& listed_entry = entries[next++];
      if (stored.view_version != listed_entry.view_version) {
        return absl::DataLossError("a case entry of the views disagrees with its event");
      }
      hub::v1::EventEnvelope& event = *fresh_event();
      HUB_RETURN_IF_ERROR(ParseViewEvent(stored, view.generation, &event));
      if (request.purpose() != hub::v1::PURPOSE_UNSPECIFIED &&
          !auth::Redact(purpose_classes, &event)) {
        continue;
      }
      if (!InTimeline(request, event)) continue;
      if (static_cast<size_t>(response->entries_size()) == page_size) {
        response->set_next_page_token(TimelinePageToken(request.case_id(), *last_returned));
        page_full = true;
        break;
      }
      hub::v1::TimelineEntry* entry = response->add_entries();
      *entry->mutable_occurred_time() =
          event.has_occurred_time() ? event.occurred_time() : event.recorded_time();
      *entry->mutable_recorded_time() = event.recorded_time();
      entry->set_agency(event.producing_agency());
      entry->set_producer_identity(event.producer_identity());
      entry->set_kind(auth::EventTypeName(event));
      entry->set_summary(DescribeEvent(event) + DescribeCorrections(event) +
                         DescribeErasures(event));
      entry->set_global_position(event.global_position());
      entry->set_stream_version(event.stream_version());
      last_returned = place_of(listed_entry);
      owned_scratch.release();  // the entry owns it now
      entry->set_allocated_event(scratch);
      scratch = nullptr;
      first = first == 0 ? stored.position : std::min(first, stored.position);
      last = std::max(last, stored.position);
    }
  }

  // The read is in the audit before the data leaves.
  hub::v1::AuditRecord record =
      AuditRecordFor(principal, hub::v1::AUDIT_READ_TIMELINE, hub::v1::AUDIT_ALLOWED);
  record.set_case_id(request.case_id());
  record.set_purpose(request.purpose());
  record.set_event_count(response->entries_size());
  record.set_protocol_version(view.protocol_version);
  DisclosureDigest disclosed;
  ReadCitations citations(*views_, principal.identity(), &record);
  for (const hub::v1::TimelineEntry& entry : response->entries()) {
    citations.Cite(entry.event());
    disclosed.Add(entry.event().SerializeAsString());
  }
  record.set_disclosed_digest(disclosed.Finish());
  record.set_first_position(first);
  record.set_last_position(last);
  return record;
}

absl::StatusOr<hub::v1::AuditRecord> TimelineService::List(
    const hub::v1::Principal& principal, const hub::v1::ListCasesRequest& request,
    hub::v1::ListCasesResponse* response) const {
  HUB_ASSIGN_OR_RETURN(const size_t page_size,
                       ServedPageSize(request.page_size(), kDefaultPageSize, kMaxPageSize));
  HUB_RETURN_IF_ERROR(ValidateDate(request.as_of(), "as_of"));
  HUB_RETURN_IF_ERROR(ValidateDate(request.referred_on_or_after(), "referred_on_or_after"));
  std::string after_case;
  if (!request.page_token().empty()) {
    HUB_ASSIGN_OR_RETURN(after_case, CaseAfterToken(request.page_token()));
  }
  const hub::v1::CalendarDate as_of =
      request.as_of().year() != 0 ? request.as_of() : DateOf(absl::Now());

  if (request.case_ids_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("case_ids names ", request.case_ids_size(), " cases; at most ", kMaxPageSize));
  }
  if (!request.case_ids().empty() && !request.page_token().empty()) {
    return absl::InvalidArgumentError("a list of named case_ids has one page; drop page_token");
  }

  HUB_RETURN_IF_ERROR(AwaitViews(*log_, *views_));
  HUB_ASSIGN_OR_RETURN(Views::Handle view, views_->For(principal.identity()));
  *response->mutable_as_of() = as_of;
  response->set_protocol_version(view.protocol_version);
  auto add_if_matching = [&](const std::string& case_id, const std::string& bytes) {
    hub::v1::CaseSummary summary;
    if (!summary.ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat("the view's summary of case ", case_id,
                                              " does not parse; rebuild the views"));
    }
    hub::v1::CaseOverview overview = OverviewOf(summary, as_of);
    if (MatchesFilters(request, overview)) *response->add_cases() = std::move(overview);
    return absl::OkStatus();
  };
  if (!request.case_ids().empty()) {
    // Named cases: looked up directly, in case-id order; a case the caller
    // cannot see is simply not listed (the same answer as for no such case).
    std::vector<std::string> case_ids(request.case_ids().begin(), request.case_ids().end());
    std::sort(case_ids.begin(), case_ids.end());
    case_ids.erase(std::unique(case_ids.begin(), case_ids.end()), case_ids.end());
    for (const std::string& case_id : case_ids) {
      if (absl::StartsWith(case_id, kReservedCasePrefix)) continue;
      HUB_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                           views_->store().Summary(view.generation, view.principal, case_id));
      if (bytes.has_value()) HUB_RETURN_IF_ERROR(add_if_matching(case_id, *bytes));
    }
    return ListRecord(principal, request.purpose(), view, *response);
  }
  size_t examined = 0;
  bool complete = false;
  auto full = [&] {
    return static_cast<size_t>(response->cases_size()) == page_size ||
           examined == kMaxCasesExamined;
  };
  while (!complete && !full()) {
    HUB_ASSIGN_OR_RETURN(auto summaries, views_->store().Summaries(view.generation, view.principal,
                                                                   after_case, kSummaryChunk));
    complete = summaries.size() < kSummaryChunk;
    for (size_t i = 0; i < summaries.size(); ++i) {
      if (full()) {
        complete = false;
        break;
      }
      const auto& [case_id, bytes] = summaries[i];
      ++examined;
      after_case = case_id;
      // The hub's own records (the protocol history) are not cases.
      if (absl::StartsWith(case_id, kReservedCasePrefix)) continue;
      HUB_RETURN_IF_ERROR(add_if_matching(case_id, bytes));
    }
  }
  if (!complete) response->set_next_page_token(ListToken(after_case));

  return ListRecord(principal, request.purpose(), view, *response);
}

hub::v1::AuditRecord TimelineService::ListRecord(const hub::v1::Principal& principal,
                                                 hub::v1::Purpose purpose,
                                                 const Views::Handle& view,
                                                 const hub::v1::ListCasesResponse& response) {
  hub::v1::AuditRecord record =
      AuditRecordFor(principal, hub::v1::AUDIT_LIST_CASES, hub::v1::AUDIT_ALLOWED);
  record.set_protocol_version(view.protocol_version);
  record.set_purpose(purpose);
  record.set_event_count(response.cases_size());
  for (const hub::v1::CaseOverview& overview : response.cases()) {
    record.add_listed_case_ids(overview.case_id());
  }
  return record;
}

namespace {

// Finishes the call once `record` is durable: what the response holds is
// in the audit before it leaves. No gRPC thread waits for the audit's
// fsync meanwhile (it finishes from the log's thread), so concurrent reads
// share one synced write; if the record cannot be stored the response is
// emptied and the read refused.
template <typename Response>
grpc::ServerUnaryReactor* FinishAfterAudit(grpc::CallbackServerContext* context,
                                           storage::EventLog* log,
                                           const hub::v1::AuditRecord& record, CountedCall call,
                                           Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  StoreAuditAsync(log, record, [reactor, call, response](absl::Status audited) mutable {
    if (!audited.ok()) response->Clear();
    reactor->Finish(ToGrpcStatus(call.Record(audited)));
  });
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* TimelineService::GetCaseTimeline(
    grpc::CallbackServerContext* context, const hub::v1::GetCaseTimelineRequest* request,
    hub::v1::GetCaseTimelineResponse* response) {
  CountedCall call(metrics_, "GetCaseTimeline");
  if (auto caller = authenticator_->PrincipalOf(*context->auth_context()); caller.ok()) {
    call.SetPrincipal(*caller);
  }
  absl::StatusOr<hub::v1::Principal> principal = CaseContentReader(
      *authenticator_, *context, log_, hub::v1::AUDIT_READ_TIMELINE, request->case_id());
  if (!principal.ok()) return FinishUnary(context, call.Record(principal.status()));
  if (absl::Status known = CheckKnownEnums(*request, ""); !known.ok()) {
    return FinishUnary(context, call.Record(known));
  }
  absl::Status declared = CheckDeclaredPurpose(*views_, *principal, request->purpose(), log_,
                                               hub::v1::AUDIT_READ_TIMELINE, request->case_id());
  if (!declared.ok()) return FinishUnary(context, call.Record(declared));
  absl::StatusOr<hub::v1::AuditRecord> read = Timeline(*principal, *request, response);
  if (!read.ok()) return FinishUnary(context, call.Record(read.status()));
  return FinishAfterAudit(context, log_, *read, call, response);
}

grpc::ServerUnaryReactor* TimelineService::ListCases(grpc::CallbackServerContext* context,
                                                     const hub::v1::ListCasesRequest* request,
                                                     hub::v1::ListCasesResponse* response) {
  CountedCall call(metrics_, "ListCases");
  if (auto caller = authenticator_->PrincipalOf(*context->auth_context()); caller.ok()) {
    call.SetPrincipal(*caller);
  }
  absl::StatusOr<hub::v1::Principal> principal =
      CaseContentReader(*authenticator_, *context, log_, hub::v1::AUDIT_LIST_CASES, "");
  if (!principal.ok()) return FinishUnary(context, call.Record(principal.status()));
  if (absl::Status known = CheckKnownEnums(*request, ""); !known.ok()) {
    return FinishUnary(context, call.Record(known));
  }
  absl::Status declared = CheckDeclaredPurpose(*views_, *principal, request->purpose(), log_,
                                               hub::v1::AUDIT_LIST_CASES, "");
  if (!declared.ok()) return FinishUnary(context, call.Record(declared));
  absl::StatusOr<hub::v1::AuditRecord> listed = List(*principal, *request, response);
  if (!listed.ok()) return FinishUnary(context, call.Record(listed.status()));
  return FinishAfterAudit(context, log_, *listed, call, response);
}

}  // namespace hub::services
