#include "services/views.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

#include "proto/absl_compat.h"
#include "proto/error_details.h"
#include "proto/status_macros.h"
#include "proto/thread_name.h"
#include "services/envelope.h"
#include "services/restrictions.h"
#include "services/retention.h"
#include "services/server_log.h"
#include "storage/hash_chain.h"

namespace hub::services {

std::string ProtocolDigest(const hub::v1::SharingProtocol& protocol) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    protocol.SerializeToCodedStream(&coded);
  }
  return storage::DigestToHex(storage::Sha256(bytes));
}

namespace {

// Views hold what the projector derives (case summaries, shapes), so a
// projector that derives something new must not resume views built by an
// older one. Raise this whenever projection changes what it stores; a
// generation built under another number is rebuilt on start.
constexpr int kProjectionFormat = 11;

}  // namespace

namespace {

std::string GenerationDigestOf(const hub::v1::SharingProtocol& protocol, uint64_t erasures,
                               uint64_t restrictions) {
  return absl::StrCat(ProtocolDigest(protocol), "/projection-", kProjectionFormat, "/erasures-",
                      erasures, "/restrictions-", restrictions);
}

}  // namespace

absl::StatusOr<std::string> GenerationDigest(const hub::v1::SharingProtocol& protocol,
                                             const storage::EventLog& log) {
  HUB_ASSIGN_OR_RETURN(uint64_t erasures, log.CaseVersion(kErasureCase));
  HUB_ASSIGN_OR_RETURN(uint64_t restrictions, log.CaseVersion(kRestrictionsCase));
  return GenerationDigestOf(protocol, erasures, restrictions);
}

absl::StatusOr<storage::ViewStoreOptions> EncryptedViews(auth::DataKeyStore& keys) {
  storage::ViewStoreOptions options;
  HUB_ASSIGN_OR_RETURN(options.encryption_key, keys.GetOrCreate(keys.KeyId("hub", "views")));
  return options;
}

absl::StatusOr<std::unique_ptr<Views>> Views::Open(storage::EventLog* log,
                                                   const std::string& directory,
                                                   const auth::FieldSealer* sealer,
                                                   std::shared_ptr<storage::StorageMemory> memory) {
  storage::ViewStoreOptions options;
  if (sealer != nullptr) {
    HUB_ASSIGN_OR_RETURN(options, EncryptedViews(sealer->keys()));
  }
  options.memory = std::move(memory);
  absl::StatusOr<std::unique_ptr<storage::ViewStore>> store =
      storage::ViewStore::Open(directory, options);
  if (!store.ok() && storage::ViewStore::WrittenUnderAnotherKey(store.status())) {
    // Derived data that cannot be read: what it held is in the log.
    LogInfo("the views were not written under the views key; building them again from the log",
            {{"views", directory}, {"error", std::string(store.status().message())}});
    std::error_code error;
    std::filesystem::remove_all(directory, error);
    if (error) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the views in ", directory, " cannot be read with the views key and cannot be removed (",
          error.message(), "); remove them, and hubd builds them again from the log"));
    }
    store = storage::ViewStore::Open(directory, options);
  }
  if (!store.ok()) return store.status();
  return std::unique_ptr<Views>(new Views(log, *std::move(store), sealer));
}

absl::Status Views::Start(const hub::v1::SharingProtocol& protocol) {
  if (active() != nullptr) return absl::FailedPreconditionError("the views are already started");
  const std::optional<storage::GenerationInfo> active = store_->Active();
  HUB_ASSIGN_OR_RETURN(const std::string digest, GenerationDigest(protocol, *log_));
  if (active.has_value() && active->protocol_digest == digest) {
    auto policy = std::make_shared<const auth::SharingPolicy>(protocol);
    HUB_ASSIGN_OR_RETURN(auth::WithheldKeys withheld, RestrictionsOf(*log_));
    auto projector = std::make_unique<Projector>(
        log_, store_.get(), *active, policy, sealer_,
        std::make_shared<const auth::WithheldKeys>(std::move(withheld)));
    HUB_RETURN_IF_ERROR(projector->Start());
    absl::MutexLock lock(&mu_);
    active_ = std::move(projector);
    return absl::OkStatus();
  }
  LogInfo("building the views for the sharing protocol",
          {{"protocol_version", protocol.version()},
           {"log_last_position", std::to_string(log_->LastPosition())}});
  HUB_ASSIGN_OR_RETURN(std::unique_ptr<Projector> projector,
                       Build(protocol, std::chrono::hours(24)));
  HUB_RETURN_IF_ERROR(store_->Activate(projector->generation().generation));
  absl::MutexLock lock(&mu_);
  active_ = std::move(projector);
  return absl::OkStatus();
}

Views::~Views() { Stop(); }

void Views::Stop() {
  {
    absl::MutexLock lock(&purge_mu_);
    purges_stopped_ = true;
  }
  store_->CancelCompactions();
  if (purger_.joinable()) purger_.join();
  absl::MutexLock lock(&mu_);
  if (active_ != nullptr) active_->Stop();
}

void Views::SchedulePurge(Purge purge) {
  absl::MutexLock lock(&purge_mu_);
  if (purges_stopped_) return;
  purges_.push_back(std::move(purge));
  if (!purger_.joinable()) purger_ = std::thread([this] { PurgeLoop(); });
}

void Views::PurgeLoop() {
  NameThisThread("views-purge");
  for (;;) {
    Purge purge;
    {
      absl::MutexLock lock(&purge_mu_);
      purge_mu_.Await(absl::Condition(
          +[](Views* views) { return views->purges_stopped_ || !views->purges_.empty(); }, this));
      if (purges_stopped_) return;
      purge = std::move(purges_.front());
      purges_.erase(purges_.begin());
    }
    const absl::Time started = absl::Now();
    const Projector::Reshaped& reshaped = purge.reshaped;
    const absl::Status compacted = store_->CompactReshaped(
        purge.generation, reshaped.first_position, reshaped.last_position, reshaped.case_ids);
    if (compacted.ok()) {
      LogInfo("what erased content replaced in the views is compacted away",
              {{"generation", std::to_string(purge.generation)},
               {"cases", std::to_string(reshaped.case_ids.size())},
               {"ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() - started))}});
    } else if (!absl::IsCancelled(compacted)) {
      // Read by no one, and gone at RocksDB's next compaction of those
      // files, or when the views are next built.
      LogError("what erased content replaced in the views could not be compacted away yet",
               {{"generation", std::to_string(purge.generation)}, {"error", compacted.ToString()}});
    }
  }
}

std::shared_ptr<Projector> Views::active() const {
  absl::MutexLock lock(&mu_);
  return active_;
}

absl::StatusOr<std::unique_ptr<Projector>> Views::Build(const hub::v1::SharingProtocol& protocol,
                                                        std::chrono::milliseconds timeout) {
  // Leftovers of an interrupted build are of no use.
  HUB_ASSIGN_OR_RETURN(std::vector<storage::GenerationInfo> generations, store_->Generations());
  const std::optional<storage::GenerationInfo> current = store_->Active();
  for (const storage::GenerationInfo& info : generations) {
    if (!current.has_value() || info.generation != current->generation) {
      HUB_RETURN_IF_ERROR(store_->Drop(info.generation));
    }
  }
  std::vector<std::string> principals;
  for (const hub::v1::Principal& principal : protocol.principals()) {
    principals.push_back(principal.identity());
  }
  // Restrictions read before the digest: a restriction recorded between
  // the two makes the next start build again rather than miss it.
  HUB_ASSIGN_OR_RETURN(auth::WithheldKeys withheld, RestrictionsOf(*log_));
  HUB_ASSIGN_OR_RETURN(const std::string digest, GenerationDigest(protocol, *log_));
  // Numbered so that no reader's position is read in another numbering:
  // the number the log recorded when the same views were built before (they
  // were lost, and are derived again: positions keep their meaning), else
  // one above it.
  HUB_ASSIGN_OR_RETURN(const std::optional<storage::EventLog::ViewGeneration> recorded,
                       log_->LatestViewGeneration());
  uint32_t at_least = 1;
  if (recorded.has_value()) {
    at_least = recorded->digest == digest ? recorded->generation : recorded->generation + 1;
  }
  HUB_ASSIGN_OR_RETURN(
      storage::GenerationInfo generation,
      store_->CreateGeneration(protocol.version(), digest, std::move(principals), at_least));
  HUB_RETURN_IF_ERROR(log_->RecordViewGeneration({generation.generation, digest}));
  auto projector = std::make_unique<Projector>(
      log_, store_.get(), generation, std::make_shared<const auth::SharingPolicy>(protocol),
      sealer_, std::make_shared<const auth::WithheldKeys>(std::move(withheld)));
  HUB_RETURN_IF_ERROR(projector->Start());
  const absl::Time started = absl::Now();
  const absl::Time deadline = started + absl::FromChrono(timeout);
  while (projector->checkpoint() < log_->LastPosition()) {
    HUB_RETURN_IF_ERROR(projector->health());
    if (absl::Now() > deadline) {
      projector->Stop();
      (void)store_->Drop(generation.generation);
      return absl::DeadlineExceededError(absl::StrCat("the views for protocol ", protocol.version(),
                                                      " did not catch up with the log in time"));
    }
    projector->WaitForCheckpointAfter(projector->checkpoint(), std::chrono::milliseconds(200));
  }
  LogInfo("views built",
          {{"protocol_version", protocol.version()},
           {"generation", std::to_string(generation.generation)},
           {"position", std::to_string(projector->checkpoint())},
           {"ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() - started))}});
  return projector;
}

absl::StatusOr<std::unique_ptr<Projector>> Views::BuildNext(
    const hub::v1::SharingProtocol& protocol, std::chrono::milliseconds timeout) {
  // Start() builds the first views itself; a second build alongside it
  // would drop the generation it is writing.
  if (active() == nullptr) {
    return absl::UnavailableError("the hub is starting: its views are still being built");
  }
  return Build(protocol, timeout);
}

absl::Status Views::Activate(std::unique_ptr<Projector> next) {
  std::shared_ptr<Projector> previous;
  {
    absl::MutexLock lock(&mu_);
    // The old projector stops before its generation is dropped, so it never
    // writes into deleted ranges; readers keep the old views until the swap.
    if (active_ != nullptr) active_->Stop();
    // Catch up the few events that arrived since Build() returned.
    while (next->checkpoint() < log_->LastPosition()) {
      next->WaitForCheckpointAfter(next->checkpoint(), std::chrono::milliseconds(200));
      HUB_RETURN_IF_ERROR(next->health());
    }
    HUB_RETURN_IF_ERROR(store_->Activate(next->generation().generation));
    previous = std::move(active_);
    active_ = std::move(next);
  }
  NotifyChanged();
  return absl::OkStatus();
}

int Views::NotifyOnChange(std::function<void()> listener) const {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.emplace(next_listener_, std::move(listener));
  return next_listener_++;
}

void Views::StopNotifying(int token) const {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(token);
}

void Views::NotifyChanged() const {
  absl::MutexLock lock(&listeners_mu_);
  for (const auto& [token, listener] : listeners_) listener();
}

absl::StatusOr<uint64_t> Views::LogPositionOf(std::string_view identity,
                                              uint64_t reader_position) const {
  if (reader_position == 0) return 0;
  const uint64_t generation = reader_position / kGenerationStride;
  const uint64_t view_position = reader_position % kGenerationStride;
  const std::optional<storage::GenerationInfo> active = store_->Active();
  if (!active.has_value()) {
    return absl::UnavailableError(
        "the hub is starting: its views are still being built; retry shortly");
  }
  std::optional<storage::GenerationInfo> named;
  if (generation == active->generation) {
    named = active;
  } else {
    HUB_ASSIGN_OR_RETURN(std::vector<storage::GenerationInfo> retired,
                         store_->RetiredGenerations());
    for (storage::GenerationInfo& info : retired) {
      if (info.generation == generation) named = std::move(info);
    }
  }
  const std::string not_given =
      absl::StrCat("position ", reader_position,
                   " is not one the hub gave you: positions are those of the events delivered to "
                   "you (0: from the start)");
  if (!named.has_value()) {
    if (generation > active->generation || generation == 0) {
      return absl::InvalidArgumentError(not_given);
    }
    return WithErrorInfo(
        absl::FailedPreconditionError(absl::StrCat(
            "position ", reader_position, " was given under view generation ", generation,
            ", which the hub no longer keeps (it keeps the last ", storage::ViewStore::kRetiredKept,
            " replaced by protocol changes); subscribe again from 0 and skip the event ids you "
            "already hold")),
        "VIEW_GENERATION_FORGOTTEN", {{"generation", std::to_string(generation)}});
  }
  const auto principal = std::find(named->principals.begin(), named->principals.end(), identity);
  if (principal == named->principals.end()) return absl::InvalidArgumentError(not_given);
  absl::StatusOr<uint64_t> position = store_->LogPositionOf(
      named->generation, static_cast<uint16_t>(principal - named->principals.begin()),
      view_position);
  if (absl::IsNotFound(position.status())) return absl::InvalidArgumentError(not_given);
  return position;
}

absl::StatusOr<Views::Handle> Views::For(std::string_view identity) const {
  const std::optional<storage::GenerationInfo> generation = store_->Active();
  std::shared_ptr<Projector> projector = active();
  if (!generation.has_value() || projector == nullptr) {
    return absl::UnavailableError(
        "the hub is starting: its views are still being built; retry shortly");
  }
  HUB_RETURN_IF_ERROR(projector->health());
  for (size_t i = 0; i < generation->principals.size(); ++i) {
    if (generation->principals[i] == identity) {
      return Handle{generation->generation, static_cast<uint16_t>(i), generation->protocol_version};
    }
  }
  return WithErrorInfo(
      absl::PermissionDeniedError(absl::StrCat(AsAbsl(identity),
                                               " is not a principal of sharing protocol ",
                                               generation->protocol_version, ", so has no view")),
      "NOT_A_PRINCIPAL",
      {{"principal", std::string(identity)}, {"protocol_version", generation->protocol_version}});
}

auth::Decision Views::Decide(std::string_view identity, hub::v1::DataClass data_class,
                             hub::v1::Purpose purpose) const {
  std::shared_ptr<Projector> projector = active();
  if (projector == nullptr) return auth::Decision();
  return projector->policy().Decide(identity, data_class, purpose, auth::kEveryRelation);
}

auth::ClassMask Views::ClassesFor(std::string_view identity, hub::v1::Purpose purpose) const {
  if (purpose == hub::v1::PURPOSE_UNSPECIFIED) return auth::ClassMask().set();
  std::shared_ptr<Projector> projector = active();
  if (projector == nullptr) return auth::ClassMask();
  auth::ClassMask classes = projector->policy().Allowed(identity, purpose, auth::kEveryRelation);
  classes.set(hub::v1::CASE_ADMINISTRATION);
  return classes;
}

absl::Status Views::ReadReportFacts(
    const std::function<void(const Projector::FactsByCase& facts, uint64_t projected,
                             const std::string& protocol_version)>& read) const {
  std::shared_ptr<Projector> projector = active();
  if (projector == nullptr) {
    return absl::UnavailableError(
        "the hub is starting: its views are still being built; retry shortly");
  }
  HUB_RETURN_IF_ERROR(projector->health());
  return projector->ReadFacts([&](const Projector::FactsByCase& facts, uint64_t projected) {
    read(facts, projected, projector->generation().protocol_version);
  });
}

absl::StatusOr<bool> Views::ForgetInPlace(const hub::v1::SharingProtocol& protocol,
                                          const std::set<std::string>& key_ids,
                                          uint64_t erasures_before, const std::string& why) {
  HUB_ASSIGN_OR_RETURN(const uint64_t restrictions, log_->CaseVersion(kRestrictionsCase));
  return TakeInPlace(
      GenerationDigestOf(protocol, erasures_before, restrictions), protocol,
      [&key_ids](Projector& projector, const std::string& digest) {
        return projector.ForgetInPlace(key_ids, digest);
      },
      "erased content taken out of the views where they stand", why);
}

absl::StatusOr<bool> Views::RestrictInPlace(const hub::v1::SharingProtocol& protocol,
                                            uint64_t restrictions_before, const std::string& why) {
  HUB_ASSIGN_OR_RETURN(const uint64_t erasures, log_->CaseVersion(kErasureCase));
  HUB_ASSIGN_OR_RETURN(auth::WithheldKeys withheld, RestrictionsOf(*log_));
  auto now_withheld = std::make_shared<const auth::WithheldKeys>(std::move(withheld));
  return TakeInPlace(
      GenerationDigestOf(protocol, erasures, restrictions_before), protocol,
      [&now_withheld](Projector& projector, const std::string& digest) {
        return projector.RestrictInPlace(now_withheld, digest);
      },
      "restrictions taken into the views where they stand", why);
}

absl::StatusOr<bool> Views::TakeInPlace(
    const std::string& digest_before, const hub::v1::SharingProtocol& protocol,
    const std::function<absl::StatusOr<bool>(Projector&, const std::string&)>& take,
    const char* what, const std::string& why) {
  std::shared_ptr<Projector> projector = active();
  const std::optional<storage::GenerationInfo> generation = store_->Active();
  if (projector == nullptr || !generation.has_value() ||
      generation->generation != projector->generation().generation || !projector->health().ok()) {
    return false;
  }
  // The views must be those the log gave just before the change: of this
  // protocol, having taken every erasure and restriction before it.
  if (generation->protocol_digest != digest_before) return false;
  HUB_ASSIGN_OR_RETURN(const std::string digest, GenerationDigest(protocol, *log_));
  const absl::Time started = absl::Now();
  HUB_ASSIGN_OR_RETURN(const bool reshaped, take(*projector, digest));
  if (!reshaped) return false;
  NotifyChanged();
  SchedulePurge({generation->generation, projector->last_reshaped()});
  // Views lost later and derived again are these: readers' positions keep
  // their meaning under the same generation number.
  if (absl::Status recorded = log_->RecordViewGeneration({generation->generation, digest});
      !recorded.ok()) {
    // The views are right; only views lost and built again later would be
    // numbered anew, and their readers told to subscribe again.
    LogError("the view generation's new digest could not be recorded in the log",
             {{"error", recorded.ToString()}});
  }
  LogInfo(what, {{"why", why},
                 {"generation", std::to_string(generation->generation)},
                 {"cases", std::to_string(projector->last_reshaped().case_ids.size())},
                 {"ms", std::to_string(absl::ToInt64Milliseconds(absl::Now() - started))},
                 {"through_position", std::to_string(projector->checkpoint())}});
  return true;
}

uint64_t Views::Edition() const {
  std::shared_ptr<Projector> projector = active();
  return projector == nullptr ? 0 : projector->edition();
}

uint64_t Views::Projected() const {
  std::shared_ptr<Projector> projector = active();
  return projector == nullptr ? 0 : projector->checkpoint();
}

uint64_t Views::WaitProjected(uint64_t position, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::shared_ptr<Projector> projector = active();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (projector == nullptr) {
      // Before the first views are built: wait for them rather than return
      // at once (a caller waiting in a loop would spin on a core while the
      // views are being built).
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(
          absl::Condition(
              +[](const std::shared_ptr<Projector>* active) { return *active != nullptr; },
              &active_),
          absl::FromChrono(std::max(left, std::chrono::milliseconds(0))));
      if (active_ == nullptr) return 0;
      continue;
    }
    const uint64_t projected = projector->checkpoint();
    if (projected >= position || left.count() <= 0) return projected;
    if (!projector->health().ok()) {
      // Projecting is failing; it retries on its own. Waiting here keeps a
      // caller's loop from spinning meanwhile.
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(200)));
      return projector->checkpoint();
    }
    projector->WaitForCheckpointAfter(projected, std::min(left, std::chrono::milliseconds(200)));
  }
}

}  // namespace hub::services
