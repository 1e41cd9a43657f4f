#include "services/views_check.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

#include "auth/sharing_policy.h"
#include "proto/status_macros.h"
#include "services/projector.h"
#include "services/protocol_records.h"
#include "services/restrictions.h"
#include "services/views.h"

namespace hub::services {
namespace {

constexpr size_t kPage = 1000;

bool SameEvent(const storage::ViewEvent& a, const storage::ViewEvent& b) {
  return a.position == b.position && a.stream_version == b.stream_version &&
         a.view_position == b.view_position && a.view_version == b.view_version &&
         a.case_id == b.case_id && a.payload == b.payload;
}

// The first difference between two runs of view events (deliveries in view
// order, or a case's events in version order), or "" if none.
std::string FirstDifference(const std::vector<storage::ViewEvent>& stored,
                            const std::vector<storage::ViewEvent>& derived) {
  for (size_t i = 0; i < std::max(stored.size(), derived.size()); ++i) {
    if (i >= stored.size()) {
      return absl::StrCat("the event at position ", derived[i].position, " (case ",
                          derived[i].case_id, ") is missing");
    }
    if (i >= derived.size()) {
      return absl::StrCat("it holds an event at position ", stored[i].position, " (case ",
                          stored[i].case_id, ") that the log does not give it");
    }
    if (stored[i].position != derived[i].position) {
      if (i + 1 < derived.size() && derived[i + 1].position == stored[i].position) {
        return absl::StrCat("the event at position ", derived[i].position, " (case ",
                            derived[i].case_id, ") is missing");
      }
      if (i + 1 < stored.size() && stored[i + 1].position == derived[i].position) {
        return absl::StrCat("it holds an event at position ", stored[i].position, " (case ",
                            stored[i].case_id, ") that the log does not give it");
      }
      return absl::StrCat("it holds an event at position ", stored[i].position, " (case ",
                          stored[i].case_id, ") where the log gives it the event at position ",
                          derived[i].position, " (case ", derived[i].case_id, ")");
    }
    if (stored[i].disclosed != derived[i].disclosed) {
      return absl::StrCat("its delivery of the event at position ", stored[i].position, " (case ",
                          stored[i].case_id, ") is marked ",
                          stored[i].disclosed ? "a disclosure of an earlier event" : "a new event",
                          " where the log makes it ",
                          derived[i].disclosed ? "a disclosure" : "a new event");
    }
    if (!SameEvent(stored[i], derived[i])) {
      return absl::StrCat("the event at position ", stored[i].position, " (case ",
                          stored[i].case_id, ") was altered");
    }
  }
  return "";
}

// Compares one principal's views; the cases it has summaries of go into
// `cases`.
absl::StatusOr<std::string> ComparePrincipal(const storage::ViewStore& stored, uint32_t stored_gen,
                                             const storage::ViewStore& derived,
                                             uint32_t derived_gen, uint16_t principal,
                                             uint64_t* events, std::set<std::string>* cases) {
  // Both views deliver the same events in the same order: compared page
  // by page, from the same view position.
  for (uint64_t after = 0;;) {
    absl::StatusOr<std::vector<storage::ViewEvent>> read =
        stored.ReadFrom(stored_gen, principal, after, kPage);
    if (!read.ok()) {
      return absl::StrCat("its events after view position ", after,
                          " cannot be read: ", read.status().message());
    }
    const std::vector<storage::ViewEvent>& mine = *read;
    HUB_ASSIGN_OR_RETURN(std::vector<storage::ViewEvent> expected,
                         derived.ReadFrom(derived_gen, principal, after, kPage));
    if (std::string difference = FirstDifference(mine, expected); !difference.empty()) {
      return difference;
    }
    if (mine.empty()) break;
    *events += mine.size();
    after = mine.back().view_position;
  }
  for (std::string after;;) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> read =
        stored.Summaries(stored_gen, principal, after, kPage);
    if (!read.ok()) {
      return absl::StrCat("its case summaries cannot be read: ", read.status().message());
    }
    const auto& mine = *read;
    HUB_ASSIGN_OR_RETURN(auto expected, derived.Summaries(derived_gen, principal, after, kPage));
    for (size_t i = 0; i < std::max(mine.size(), expected.size()); ++i) {
      if (i >= mine.size())
        return absl::StrCat("its summary of case ", expected[i].first, " is missing");
      if (i >= expected.size() || mine[i].first != expected[i].first) {
        return absl::StrCat("it holds a summary of case ", mine[i].first,
                            " that the log does not give it");
      }
      if (mine[i].second != expected[i].second) {
        return absl::StrCat("its summary of case ", mine[i].first, " was altered");
      }
      cases->insert(mine[i].first);
    }
    if (mine.size() < kPage) break;
    after = mine.back().first;
  }
  for (const std::string& case_id : *cases) {
    for (uint64_t from = 0;;) {
      absl::StatusOr<std::vector<storage::ViewEvent>> read =
          stored.ReadCase(stored_gen, principal, case_id, from, kPage);
      if (!read.ok()) {
        return absl::StrCat("case ", case_id, " cannot be read: ", read.status().message());
      }
      const std::vector<storage::ViewEvent>& mine = *read;
      HUB_ASSIGN_OR_RETURN(auto expected,
                           derived.ReadCase(derived_gen, principal, case_id, from, kPage));
      if (std::string difference = FirstDifference(mine, expected); !difference.empty()) {
        return absl::StrCat("reading case ", case_id, " by version: ", difference);
      }
      if (mine.size() < kPage) break;
      from = mine.back().view_version + 1;
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<ViewsCheck> CheckViews(storage::EventLog* log, const storage::ViewStore& stored,
                                      const std::string& scratch_directory,
                                      const auth::FieldSealer* sealer) {
  const std::optional<storage::GenerationInfo> active = stored.Active();
  if (!active.has_value()) {
    return absl::FailedPreconditionError(
        "there are no views to check: hubd builds them when it starts");
  }
  HUB_ASSIGN_OR_RETURN(std::optional<RecordedProtocol> recorded, LatestRecordedProtocol(*log));
  if (!recorded.has_value()) {
    return absl::FailedPreconditionError("the log records no sharing protocol to derive views by");
  }
  HUB_ASSIGN_OR_RETURN(const std::string digest, GenerationDigest(recorded->protocol, *log));
  HUB_ASSIGN_OR_RETURN(auth::WithheldKeys withheld, RestrictionsOf(*log));
  if (active->protocol_digest != digest) {
    return absl::FailedPreconditionError(
        absl::StrCat("the views were built for protocol ", active->protocol_version,
                     ", not for the one in force (", recorded->protocol.version(),
                     ") or by another release, or before the latest erasure or restriction: "
                     "hubd rebuilds them when it starts"));
  }
  std::error_code error;
  if (std::filesystem::exists(scratch_directory, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat(scratch_directory, " exists: remove what an earlier check left"));
  }
  ViewsCheck check;
  check.protocol_version = recorded->protocol.version();
  HUB_ASSIGN_OR_RETURN(check.checkpoint, stored.Checkpoint(active->generation));
  // Encrypted like the views it checks: the scratch copy holds the same.
  storage::ViewStoreOptions options;
  if (sealer != nullptr) {
    HUB_ASSIGN_OR_RETURN(options, EncryptedViews(sealer->keys()));
  }
  HUB_ASSIGN_OR_RETURN(check.rebuilt, storage::ViewStore::Open(scratch_directory, options));
  HUB_ASSIGN_OR_RETURN(storage::GenerationInfo generation,
                       check.rebuilt->CreateGeneration(active->protocol_version,
                                                       active->protocol_digest, active->principals,
                                                       // A repair keeps readers' positions.
                                                       active->generation));
  {
    Projector projector(log, check.rebuilt.get(), generation,
                        std::make_shared<const auth::SharingPolicy>(recorded->protocol), sealer,
                        std::make_shared<const auth::WithheldKeys>(std::move(withheld)));
    while (projector.checkpoint() < check.checkpoint) {
      HUB_ASSIGN_OR_RETURN(uint64_t covered,
                           projector.ProjectOnce(check.checkpoint - projector.checkpoint()));
      if (covered == 0) {
        return absl::DataLossError(absl::StrCat("the views were projected up to position ",
                                                check.checkpoint, " but the log ends at ",
                                                log->LastPosition()));
      }
    }
  }
  HUB_RETURN_IF_ERROR(check.rebuilt->Activate(generation.generation));

  std::set<std::string> all_cases;
  check.principals = active->principals.size();
  for (size_t p = 0; p < active->principals.size(); ++p) {
    std::set<std::string> cases;
    HUB_ASSIGN_OR_RETURN(
        std::string difference,
        ComparePrincipal(stored, active->generation, *check.rebuilt, generation.generation,
                         static_cast<uint16_t>(p), &check.events, &cases));
    if (!difference.empty()) {
      check.damage.push_back(
          absl::StrCat("the view of ", active->principals[p], " is damaged: ", difference));
    }
    all_cases.merge(cases);
  }
  for (const std::string& case_id : all_cases) {
    absl::StatusOr<storage::StoredCase> mine = stored.CaseSummaries(active->generation, case_id);
    HUB_ASSIGN_OR_RETURN(storage::StoredCase expected,
                         check.rebuilt->CaseSummaries(generation.generation, case_id));
    if (!mine.ok() || mine->relations != expected.relations) {
      check.damage.push_back(absl::StrCat("who is related to case ", case_id,
                                          " was altered (it decides need-to-know)"));
    }
  }
  // Which cases hold content under which data key: an erasure reshapes
  // the cases this names, so an entry taken out would leave erased content
  // in the views.
  HUB_ASSIGN_OR_RETURN(const auto stored_index, stored.SealedUnder(active->generation));
  HUB_ASSIGN_OR_RETURN(const auto derived_index, check.rebuilt->SealedUnder(generation.generation));
  if (stored_index != derived_index) {
    std::vector<std::pair<std::string, std::string>> missing;
    std::set_difference(derived_index.begin(), derived_index.end(), stored_index.begin(),
                        stored_index.end(), std::back_inserter(missing));
    check.damage.push_back(
        missing.empty()
            ? std::string("the index of sealed content names cases the log does not")
            : absl::StrCat("the index of sealed content lost case ", missing.front().second,
                           " under data key ", missing.front().first,
                           " (an erasure of that key would leave the case's content in the "
                           "views)"));
  }
  check.cases = all_cases.size();
  return check;
}

}  // namespace hub::services
