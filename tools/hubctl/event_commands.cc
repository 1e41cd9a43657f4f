#include "tools/hubctl/event_commands.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"

#include "storage/hash_chain.h"

#include "hub/v1/event_service.grpc.pb.h"
#include "tools/hubctl/cli.h"

namespace hub::tools {
namespace {

// A UUID (version 4 layout) from the SHA-256 of `seed`.
std::string UuidFrom(const std::string& seed) {
  const std::string hex = storage::DigestToHex(storage::Sha256(seed));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-4", hex.substr(13, 3), "-8",
                      hex.substr(17, 3), "-", hex.substr(20, 12));
}

std::string EventType(const hub::v1::EventEnvelope& envelope) {
  const auto* oneof = hub::v1::EventEnvelope::descriptor()->FindOneofByName("event");
  const auto* field = envelope.GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return field == nullptr ? "?" : field->name();
}

void Print(const hub::v1::EventEnvelope& envelope, const OutputOptions& output) {
  if (output.json) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(envelope, &json);
    std::printf("%s\n", json.c_str());
    return;
  }
  std::printf("%14llu  %-16s %5llu  %-30s %-20s %s\n",
              static_cast<unsigned long long>(envelope.global_position()),
              envelope.case_id().c_str(),
              static_cast<unsigned long long>(envelope.stream_version()),
              EventType(envelope).c_str(), envelope.producing_agency().c_str(),
              google::protobuf::util::TimeUtil::ToString(envelope.recorded_time()).c_str());
}

void PrintHeader(const OutputOptions& output) {
  if (!output.json) {
    std::printf("%10s  %-16s %5s  %-30s %-20s %s\n", "position", "case", "ver", "event",
                "recorded by", "recorded at");
  }
}

}  // namespace

int PublishFromFile(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                    const OutputOptions& output) {
  std::ifstream file(path);
  if (!file) return Fail("cannot read " + path);
  std::stringstream text;
  text << file.rdbuf();
  hub::v1::PublishRequest request;
  if (absl::EndsWith(path, ".json")) {
    const auto parsed = google::protobuf::util::JsonStringToMessage(text.str(), &request);
    if (!parsed.ok()) return Fail(absl::StrCat(path, ": ", parsed.ToString()));
  } else if (!google::protobuf::TextFormat::ParseFromString(text.str(), &request)) {
    return Fail(path + " is not a hub.v1.PublishRequest in text format");
  }
  for (int i = 0; i < request.events_size(); ++i) {
    hub::v1::EventEnvelope* event = request.mutable_events(i);
    if (event->event_id().empty()) {
      event->set_event_id(
          UuidFrom(absl::StrCat(request.case_id(), "/", i, "/", event->SerializeAsString())));
    }
  }
  grpc::ClientContext context;
  SetDeadline(&context, output.timeout_ms);
  hub::v1::PublishResponse response;
  grpc::Status status =
      hub::v1::EventService::NewStub(channel)->Publish(&context, request, &response);
  if (!status.ok()) return Fail(Describe(status));
  if (output.json) {
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(response, &json);
    std::printf("%s\n", json.c_str());
  } else {
    // Where they went is each reader's own (hubctl read or tail shows it).
    std::printf("%s %d event(s) of case %s\n",
                response.already_stored() ? "already stored: nothing written for" : "stored",
                request.events_size(), request.case_id().c_str());
  }
  return 0;
}

int ReadCase(const std::shared_ptr<grpc::Channel>& channel, hub::v1::ReadCaseRequest request,
             const OutputOptions& output) {
  auto stub = hub::v1::EventService::NewStub(channel);
  request.set_page_size(1000);
  PrintHeader(output);
  do {
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    hub::v1::ReadCaseResponse response;
    grpc::Status status = stub->ReadCase(&context, request, &response);
    if (!status.ok()) return Fail(Describe(status));
    for (const hub::v1::EventEnvelope& envelope : response.events()) Print(envelope, output);
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return 0;
}

int Tail(const std::shared_ptr<grpc::Channel>& channel, const hub::v1::SubscribeRequest& request,
         bool until_caught_up, const OutputOptions& output) {
  grpc::ClientContext context;
  auto stream = hub::v1::EventService::NewStub(channel)->Subscribe(&context, request);
  PrintHeader(output);
  hub::v1::SubscribeResponse item;
  while (stream->Read(&item)) {
    if (item.has_event()) {
      Print(item.event(), output);
      std::fflush(stdout);
    } else if (item.has_caught_up()) {
      if (!output.json) {
        std::fprintf(stderr, "-- caught up at position %llu%s --\n",
                     static_cast<unsigned long long>(item.caught_up().position()),
                     until_caught_up ? "" : "; following live events");
      }
      if (until_caught_up) {
        context.TryCancel();
        return 0;
      }
    }
  }
  grpc::Status status = stream->Finish();
  return status.ok() ? 0 : Fail(Describe(status));
}

}  // namespace hub::tools
