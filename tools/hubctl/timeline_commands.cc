#include "tools/hubctl/timeline_commands.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"

#include "hub/v1/timeline_service.grpc.pb.h"
#include "tools/hubctl/cli.h"
#include "tools/hubctl/connection.h"
#include "tools/hubctl/timeline_view.h"

namespace hub::tools {
namespace {

std::string FiltersInWords(const hub::v1::GetCaseTimelineRequest& request) {
  std::vector<std::string> parts;
  if (!request.agencies().empty()) {
    parts.push_back(absl::StrCat("agency ", absl::StrJoin(request.agencies(), "/")));
  }
  if (!request.event_types().empty()) {
    parts.push_back(absl::StrCat("type ", absl::StrJoin(request.event_types(), "/")));
  }
  if (request.has_from_time()) parts.push_back("a start time");
  if (request.has_to_time()) parts.push_back("an end time");
  return absl::StrJoin(parts, ", ");
}

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json);
  return json;
}

}  // namespace

int ShowTimeline(const std::shared_ptr<grpc::Channel>& channel,
                 hub::v1::GetCaseTimelineRequest request, const std::string& html_path,
                 const OutputOptions& output) {
  auto stub = hub::v1::TimelineService::NewStub(channel);
  CaseTimeline timeline;
  timeline.case_id = request.case_id();
  timeline.filters = FiltersInWords(request);
  timeline.generated_at = absl::Now();
  do {
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    hub::v1::GetCaseTimelineResponse response;
    grpc::Status status = stub->GetCaseTimeline(&context, request, &response);
    if (!status.ok()) return Fail(Describe(status));
    for (hub::v1::TimelineEntry& entry : *response.mutable_entries()) {
      if (output.json && html_path.empty()) {
        std::printf("%s\n", Json(entry).c_str());
        continue;
      }
      timeline.entries.push_back(std::move(entry));
    }
    timeline.visible_events = response.visible_events();
    timeline.protocol_version = response.protocol_version();
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (output.json && html_path.empty()) return 0;

  {
    hub::v1::ListCasesRequest overview_request;
    overview_request.add_case_ids(request.case_id());
    overview_request.set_include_closed(true);
    overview_request.set_purpose(request.purpose());
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    hub::v1::ListCasesResponse response;
    grpc::Status status = stub->ListCases(&context, overview_request, &response);
    if (!status.ok()) return Fail(Describe(status));
    if (response.cases_size() == 1) timeline.overview = response.cases(0);
    timeline.as_of = response.as_of();
  }
  if (html_path.empty()) {
    std::printf("%s", TimelineTable(timeline).c_str());
    return 0;
  }
  absl::StatusOr<std::string> prepared_for = PreparedFor(channel, output.timeout_ms);
  if (!prepared_for.ok()) return Fail(std::string(prepared_for.status().message()));
  timeline.prepared_for = *std::move(prepared_for);
  if (!WriteOwnerOnlyFile(html_path, TimelineHtml(timeline))) {
    return Fail("cannot write " + html_path);
  }
  std::printf("wrote the timeline of %s (%zu events) to %s\n", timeline.case_id.c_str(),
              timeline.entries.size(), html_path.c_str());
  return 0;
}

int ShowCases(const std::shared_ptr<grpc::Channel>& channel, hub::v1::ListCasesRequest request,
              const OutputOptions& output) {
  auto stub = hub::v1::TimelineService::NewStub(channel);
  hub::v1::ListCasesResponse all;
  do {
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    hub::v1::ListCasesResponse response;
    grpc::Status status = stub->ListCases(&context, request, &response);
    if (!status.ok()) return Fail(Describe(status));
    for (hub::v1::CaseOverview& overview : *response.mutable_cases()) {
      if (output.json) {
        std::printf("%s\n", Json(overview).c_str());
      } else {
        *all.add_cases() = std::move(overview);
      }
    }
    *all.mutable_as_of() = response.as_of();
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (!output.json) {
    std::printf("%s%d cases; overdue as of %04d-%02d-%02d\n", CasesTable(all).c_str(),
                all.cases_size(), all.as_of().year(), all.as_of().month(), all.as_of().day());
  }
  return 0;
}

}  // namespace hub::tools
