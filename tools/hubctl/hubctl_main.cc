// hubctl: the hub's command-line tool, for every role.
//
// Online commands connect to a running hub over mutual TLS with a client
// certificate; offline commands open a stopped hub's data folder.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"

#include "auth/data_keys.h"
#include "auth/field_sealing.h"
#include "auth/key_encryption.h"
#include "auth/key_files.h"
#include "auth/openssl_process.h"
#include "auth/tree_head_signer.h"
#include "proto/version.h"
#include "services/views.h"
#include "services/views_check.h"
#include "storage/event_log.h"
#include "storage/view_store.h"

#include "hub/v1/identity_service.grpc.pb.h"
#include "hub/v1/policy_service.grpc.pb.h"
#include "tools/hubctl/admin_commands.h"
#include "tools/hubctl/audit_commands.h"
#include "tools/hubctl/checkpoint_check.h"
#include "tools/hubctl/cli.h"
#include "tools/hubctl/connection.h"
#include "tools/hubctl/demo_command.h"
#include "tools/hubctl/event_commands.h"
#include "tools/hubctl/protocol_check.h"
#include "tools/hubctl/report_commands.h"
#include "tools/hubctl/timeline_commands.h"

ABSL_FLAG(std::string, hub, "localhost:7443", "The hub's address (host:port).");
ABSL_FLAG(std::string, certs_dir, "data/certs",
          "Folder with ca.crt and clients/<name>.{crt,key} (as deploy/certs.sh makes it).");
ABSL_FLAG(std::string, as, "operator-admin",
          "Which client certificate in <certs_dir>/clients to use, e.g. police-agency.");
ABSL_FLAG(std::string, ca_cert, "", "Overrides <certs_dir>/ca.crt.");
ABSL_FLAG(std::string, cert, "", "Overrides <certs_dir>/clients/<as>.crt.");
ABSL_FLAG(std::string, key, "", "Overrides <certs_dir>/clients/<as>.key.");
ABSL_FLAG(int, timeout_ms, 10000, "Deadline of each call.");
ABSL_FLAG(std::string, data_dir, "./data", "The hub's data folder (offline commands).");
ABSL_FLAG(std::string, subject_id, "",
          "erase, restrict: the subject whose personal data is meant.");
ABSL_FLAG(std::string, reason, "", "erase, restrict: why (required, recorded).");
ABSL_FLAG(std::string, data_class, "",
          "erase: only this class of the subject's or case's content, e.g. VICTIM_LOCATION "
          "(default: all of it).");
ABSL_FLAG(std::string, reference, "",
          "erase, restrict, subject-access: the request's reference (required, recorded).");
ABSL_FLAG(bool, repair, false,
          "views verify: replace damaged views with the ones derived again from the log.");
ABSL_FLAG(std::string, keys_dir, "",
          "keys, views verify: the hub's keys folder (keys_dir; default <data_dir>-keys, as "
          "hubd's).");
ABSL_FLAG(uint64_t, from, 1, "log read: first global position.");
ABSL_FLAG(uint64_t, limit, 20, "log read: how many events at most.");
ABSL_FLAG(bool, json, false, "Print JSON, one object per line, for scripts.");
ABSL_FLAG(uint64_t, after, 0, "tail: start after this global position.");
ABSL_FLAG(std::string, case_id, "", "tail: only this case.");
ABSL_FLAG(bool, until_caught_up, false, "tail: stop once caught up instead of following.");
ABSL_FLAG(std::string, agency, "",
          "audit query: only this agency; timeline: only these agencies, comma-separated.");
ABSL_FLAG(bool, plaintext, false,
          "health: ask --hub, hubd's plain-text health port (health.listen_address), without a "
          "certificate.");
ABSL_FLAG(std::string, principal, "",
          "audit query: only this principal identity; protocol check: only the principal "
          "whose identity ends with this (e.g. police/agency).");
ABSL_FLAG(bool, newest_first, false, "audit query: newest records first.");
ABSL_FLAG(uint64_t, first_record, 0, "audit export: the first record index to export.");
ABSL_FLAG(std::optional<uint64_t>, last_record, std::nullopt,
          "audit export: the last record index to export, inclusive (default the head's last).");
ABSL_FLAG(absl::Time, since, absl::InfinitePast(),
          "audit export, timeline: from this RFC 3339 time (e.g. 2026-07-01T00:00:00Z).");
ABSL_FLAG(absl::Time, until, absl::InfiniteFuture(),
          "audit export, timeline: up to this RFC 3339 time.");
ABSL_FLAG(std::string, purpose, "",
          "read, tail, timeline, cases: why you read, for the audit: safeguarding|disruption|"
          "case_management|panel|evaluation.");
ABSL_FLAG(std::string, html, "",
          "timeline, subject-access, report: write a printable HTML page to this file "
          "(owner-only).");
ABSL_FLAG(std::string, pdf, "",
          "report: print the page to this A4 PDF with Debian's headless chromium (owner-only).");
ABSL_FLAG(std::string, csv, "", "extract: write the extract as CSV to this file (owner-only).");
ABSL_FLAG(std::string, dictionary, "",
          "extract: write the extract's data dictionary (CSV) to this file.");
ABSL_FLAG(std::string, jsonl, "", "extract: write the extract as JSON lines to this file.");
ABSL_FLAG(std::string, month, "", "report: the month, YYYY-MM (default the current one, UTC).");
ABSL_FLAG(bool, for_publication, false,
          "report: withhold small numbers (below the hub's report.suppression_threshold).");
ABSL_FLAG(std::string, event_type, "",
          "timeline: only these event types, comma-separated (e.g. risk_assessed,panel_outcome).");
ABSL_FLAG(std::string, min_risk, "", "cases: only this risk level or above: standard|medium|high.");
ABSL_FLAG(bool, overdue, false, "cases: only cases with overdue actions.");
ABSL_FLAG(std::string, referred_since, "", "cases: only cases referred on or after YYYY-MM-DD.");
ABSL_FLAG(std::string, route, "", "cases: only this referral route: marac|dapp|matac|mash|police.");
ABSL_FLAG(std::string, case_manager, "", "cases: only cases allocated to this case manager.");
ABSL_FLAG(bool, include_closed, false, "cases: include closed cases.");
ABSL_FLAG(std::string, as_of, "", "cases: judge overdue actions as of YYYY-MM-DD (default today).");
ABSL_FLAG(bool, lift, false, "restrict: end the restriction instead.");
ABSL_FLAG(bool, dry_run, false, "retention run: say what would go; destroy nothing.");
ABSL_FLAG(std::string, retention_as_of, "",
          "retention run: apply the rules as of YYYY-MM-DD (default now; a future date only "
          "with --dry_run, or on a hub configured with retention.allow_simulated_clock).");
ABSL_FLAG(uint64_t, seed, 2026, "demo: the seed the site is generated from.");
ABSL_FLAG(double, scale, 1.0, "demo: size of the site (1: about 175 perpetrators).");
ABSL_FLAG(std::string, end_date, "2026-11-20", "demo: the site's last day, YYYY-MM-DD.");
ABSL_FLAG(int, parallel, 8, "demo: cases published at once.");
ABSL_FLAG(std::string, checkpoints, "",
          "log verify, audit verify, restore: a file of signed checkpoints collected earlier "
          "(e.g. copies of <data_dir>/audit/checkpoints.txt); the log (or the audit) must "
          "extend every one");
ABSL_FLAG(std::string, public_key, "data-keys/audit-key.pem.pub",
          "audit verify: the hub's exported audit public key.");

namespace {

using hub::tools::Describe;
using hub::tools::Fail;
using hub::tools::SetDeadline;

constexpr char kUsage[] =
    "The multi-agency hub's command-line tool.\n\n"
    "Online (needs a running hub and a client certificate, see --certs_dir and --as):\n"
    "  hubctl whoami                        how the hub sees your certificate\n"
    "  hubctl health [--plaintext]          the hub's gRPC health status (--plaintext: from its\n"
    "                                       health-only port, health.listen_address)\n"
    "  hubctl publish FILE                  publish a hub.v1.PublishRequest (text format or "
    ".json)\n"
    "  hubctl read CASE_ID [--purpose=P]    a case's events in your view (reads take an\n"
    "                                       optional --purpose, recorded in the audit)\n"
    "  hubctl tail [--after=N] [--case_id=C] [--until_caught_up]\n"
    "                                       follow your view of the log\n"
    "  hubctl timeline CASE_ID [--html=FILE] [--agency=A,B] [--event_type=T,U] [--since=T]\n"
    "                  [--until=T]          a case's events across agencies in time order, as\n"
    "                                       a table, JSON or a printable HTML panel page\n"
    "  hubctl cases [--min_risk=high] [--overdue] [--referred_since=YYYY-MM-DD] [--route=R]\n"
    "               [--case_manager=ID] [--include_closed] [--as_of=YYYY-MM-DD]\n"
    "                                       the cases you can see, for panel preparation\n"
    "  hubctl audit query [--case_id=C] [--agency=A] [--principal=ID] [--newest_first]\n"
    "                                       the access audit (auditor certificate)\n"
    "  hubctl audit disclosures CASE_ID [--json]\n"
    "                                       who received what of a case: every read, timeline,\n"
    "                                       case list and delivery, with classes, rules, purpose\n"
    "  hubctl audit head                    the current signed tree head of the audit\n"
    "  hubctl audit checkpoints             signed checkpoints of the log and the audit now (any\n"
    "                                       principal), to append to a witness's file, after\n"
    "                                       the audit key's rotations\n"
    "  hubctl audit export FILE [--first_record=I] [--last_record=J] [--since=T] [--until=T]\n"
    "                                       a signed head and the chosen records (default all),\n"
    "                                       each with its proof; times are RFC 3339\n"
    "  hubctl demo [--seed=N] [--scale=F] [--end_date=YYYY-MM-DD] [--parallel=N]\n"
    "                                       publish the demonstration Drive site, each event as\n"
    "                                       its agency (uses every client in --certs_dir)\n"
    "  hubctl backup                        a consistent backup while the hub serves (operator)\n"
    "  hubctl erase (--subject_id=S | --case_id=C) [--data_class=CLASS] --reason=R\n"
    "      --reference=REF\n"
    "                                       erase personal data on request by destroying its\n"
    "                                       data key (operator; recorded; cannot be undone)\n"
    "  hubctl restrict (--subject_id=S | --case_id=C) --reason=R --reference=REF [--lift]\n"
    "                                       restrict processing: keep the data but show it to\n"
    "                                       no one until lifted (operator; recorded)\n"
    "  hubctl subject-access SUBJECT_ID --reference=REF [--html=FILE] [--json]\n"
    "                                       everything the hub holds about a subject and who\n"
    "                                       received it, each value marked as theirs, for\n"
    "                                       review, or withheld (operator; recorded)\n"
    "  hubctl report [--month=YYYY-MM] [--for_publication] [--html=FILE] [--pdf=FILE] [--json]\n"
    "                                       the governance group's monthly report: programme\n"
    "                                       and information-governance figures, aggregates\n"
    "                                       only (auditor or coordinator; recorded)\n"
    "  hubctl extract [--csv=FILE] [--dictionary=FILE] [--jsonl=FILE] [--json]\n"
    "                                       the evaluators' pseudonymised per-case extract\n"
    "                                       (evaluator certificate; recorded)\n"
    "  hubctl retention run [--dry_run] [--retention_as_of=YYYY-MM-DD]\n"
    "                                       apply the protocol's retention rules now: destroy\n"
    "                                       the data keys of content whose time has run out\n"
    "                                       (operator; recorded; --dry_run only lists them)\n"
    "  hubctl protocol show                 the sharing protocol in force (text format)\n"
    "  hubctl protocol apply FILE           validate, rebuild the views under, and put in force\n"
    "                                       a new sharing protocol (operator certificate)\n\n"
    "Offline (hubd must be stopped):\n"
    "  hubctl restore BACKUP --data_dir=NEW [--checkpoints=FILE --public_key=PEM]\n"
    "                                       copy a backup into a new data folder and verify it\n"
    "                                       (and that it extends checkpoints collected earlier)\n"
    "  hubctl log verify [--data_dir=DIR] [--checkpoints=FILE --public_key=PEM]\n"
    "                                       verify the event log's hash chain and indexes, and\n"
    "                                       that it extends signed checkpoints collected earlier\n"
    "  hubctl protocol check FILE [--principal=AGENCY/ROLE]\n"
    "                                       validate a sharing protocol and explain what each\n"
    "                                       principal may record and read\n"
    "  hubctl audit verify FILE [--public_key=PEM] [--checkpoints=FILE]\n"
    "                                       check an audit export offline; names every missing\n"
    "                                       or altered record\n"
    "  hubctl views verify [--data_dir=DIR] [--keys_dir=DIR] [--repair]\n"
    "                                       derive the views again from the log and compare them\n"
    "                                       with the stored ones (--repair: replace them if\n"
    "                                       damaged)\n"
    "  hubctl keys add [--keys_dir=DIR]    a new key-encryption key (in <keys_dir>/kek), which\n"
    "                                       wraps new data keys from hubd's next start\n"
    "  hubctl keys rewrap [--keys_dir=DIR] [--data_dir=DIR]\n"
    "                                       wrap every data key under the newest key-encryption\n"
    "                                       key, after which older ones can be removed\n"
    "  hubctl keys rotate [--keys_dir=DIR] prepare a new audit signing key; hubd announces it at\n"
    "                                       its next start in a checkpoint signed by both keys,\n"
    "                                       then destroys the old private key\n"
    "  hubctl log read [--data_dir=DIR] [--from=N] [--limit=N]\n"
    "                                       list events (position, case, version, id, size)\n\n"
    "Exit status: 0 on success, 1 when the hub or the data says no, 2 on bad usage.\n";

// --keys_dir, or hubd's default for --data_dir.
std::string KeysDir() {
  if (std::string keys_dir = absl::GetFlag(FLAGS_keys_dir); !keys_dir.empty()) return keys_dir;
  std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  return data_dir + "-keys";
}

int KeysAdd() {
  const std::string folder = KeysDir() + "/kek";
  if (absl::Status ensured =
          hub::auth::EnsureSecretKeyFolder(folder, absl::GetFlag(FLAGS_data_dir));
      !ensured.ok()) {
    return Fail(std::string(ensured.message()));
  }
  absl::StatusOr<std::string> id = hub::auth::KeyFolder::AddKey(folder, absl::Now());
  if (!id.ok()) return Fail(std::string(id.status().message()));
  std::printf(
      "added key-encryption key %s/%s.kek; restart hubd to wrap new data keys with it, then run "
      "`hubctl keys rewrap` before removing an older one\n",
      folder.c_str(), id->c_str());
  return 0;
}

int KeysRewrap() {
  const std::string keys_dir = KeysDir();
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  auto keks = hub::auth::KeyFolder::Open(keys_dir + "/kek", data_dir);
  if (!keks.ok()) return Fail(keks.status().ToString());
  const std::string active = (*keks)->ActiveKeyId();
  auto data_keys =
      hub::auth::DataKeyStore::Open(keys_dir + "/data-keys", data_dir,
                                    std::shared_ptr<const hub::auth::KeyFolder>(*std::move(keks)));
  if (!data_keys.ok()) return Fail(data_keys.status().ToString());
  absl::StatusOr<size_t> rewrapped = (*data_keys)->Rewrap();
  if (!rewrapped.ok()) return Fail(rewrapped.status().ToString());
  std::printf(
      "%zu data keys wrapped again under key-encryption key %s; older ones wrap nothing now\n",
      *rewrapped, active.c_str());
  return 0;
}

int KeysRotate() {
  const std::string dir = KeysDir();
  if (absl::Status folder = hub::auth::CheckSecretKeyFolder(dir, absl::GetFlag(FLAGS_data_dir));
      !folder.ok()) {
    return Fail(std::string(folder.message()));
  }
  const std::string next = dir + "/audit-key.next.pem";
  if (std::filesystem::exists(next)) {
    return Fail(
        absl::StrCat("a rotation is already prepared (", next, "); restart hubd to announce it"));
  }
  absl::StatusOr<std::unique_ptr<hub::auth::TreeHeadSigner>> key =
      hub::auth::TreeHeadSigner::LoadOrCreate(next);
  if (!key.ok()) return Fail(std::string(key.status().message()));
  std::printf(
      "prepared the next audit key %s\n"
      "hubd announces it at its next start, in a checkpoint signed by the current key and this "
      "one, then destroys the current private key. Witnesses keep trusting the key they hold: "
      "hubctl log/audit verify --checkpoints follow the rotation.\n",
      next.c_str());
  return 0;
}

std::string Or(const std::string& value, const std::string& fallback) {
  return value.empty() ? fallback : value;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectFromFlags() {
  const std::string certs = absl::GetFlag(FLAGS_certs_dir);
  const std::string name = absl::GetFlag(FLAGS_as);
  hub::tools::ConnectionOptions options;
  options.hub_address = absl::GetFlag(FLAGS_hub);
  options.ca_cert_path = Or(absl::GetFlag(FLAGS_ca_cert), certs + "/ca.crt");
  options.cert_path = Or(absl::GetFlag(FLAGS_cert), certs + "/clients/" + name + ".crt");
  options.key_path = Or(absl::GetFlag(FLAGS_key), certs + "/clients/" + name + ".key");
  return hub::tools::Connect(options);
}

int WhoAmI() {
  auto channel = ConnectFromFlags();
  if (!channel.ok()) return Fail(channel.status().ToString());
  auto stub = hub::v1::IdentityService::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context, absl::GetFlag(FLAGS_timeout_ms));
  hub::v1::WhoAmIResponse response;
  grpc::Status status = stub->WhoAmI(&context, hub::v1::WhoAmIRequest(), &response);
  if (!status.ok()) return Fail(Describe(status));
  std::printf(
      "identity:     %s\nagency:       %s (%s)\nrole:         %s\nname:         %s\n"
      "partnership:  %s (sharing protocol %s)\n",
      response.principal().identity().c_str(), response.principal().agency().c_str(),
      hub::v1::AgencyKind_Name(response.principal().agency_kind()).c_str(),
      hub::v1::Role_Name(response.principal().role()).c_str(),
      response.principal().display_name().c_str(), response.partnership().c_str(),
      response.protocol_version().c_str());
  return 0;
}

int Health() {
  // --plaintext: hubd's health-only port (health.listen_address), which
  // needs no certificate and answers nothing else.
  auto channel = absl::GetFlag(FLAGS_plaintext)
                     ? absl::StatusOr<std::shared_ptr<grpc::Channel>>(grpc::CreateChannel(
                           absl::GetFlag(FLAGS_hub), grpc::InsecureChannelCredentials()))
                     : ConnectFromFlags();
  if (!channel.ok()) return Fail(channel.status().ToString());
  grpc::ClientContext context;
  SetDeadline(&context, absl::GetFlag(FLAGS_timeout_ms));
  // grpc.health.v1 through the generic stub: an empty request asks about the
  // server as a whole, and the response's field 1 is the status enum.
  const grpc::Slice empty_request("", 0);
  grpc::ByteBuffer request(&empty_request, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub stub(*channel);
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status result) {
                   status = std::move(result);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return Fail(Describe(status));
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  const bool serving = bytes.size() == 2 && bytes[0] == 0x08 && bytes[1] == 1;
  std::printf("%s\n", serving ? "SERVING" : "NOT_SERVING");
  return serving ? 0 : 1;
}

int ProtocolShow() {
  auto channel = ConnectFromFlags();
  if (!channel.ok()) return Fail(channel.status().ToString());
  grpc::ClientContext context;
  SetDeadline(&context, absl::GetFlag(FLAGS_timeout_ms));
  hub::v1::GetProtocolResponse response;
  grpc::Status status = hub::v1::PolicyService::NewStub(*channel)->GetProtocol(
      &context, hub::v1::GetProtocolRequest(), &response);
  if (!status.ok()) return Fail(Describe(status));
  std::printf("# version %s, digest %s, recorded at log position %llu\n%s",
              response.protocol().version().c_str(), response.digest().c_str(),
              static_cast<unsigned long long>(response.recorded_at_position()),
              response.protocol_text().c_str());
  return 0;
}

int ProtocolApply(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Fail("cannot read " + path);
  std::stringstream text;
  text << file.rdbuf();
  auto channel = ConnectFromFlags();
  if (!channel.ok()) return Fail(channel.status().ToString());
  grpc::ClientContext context;
  // Rebuilding every view of a large log takes a while.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  hub::v1::ApplyProtocolRequest request;
  request.set_protocol_text(text.str());
  hub::v1::ApplyProtocolResponse response;
  grpc::Status status =
      hub::v1::PolicyService::NewStub(*channel)->ApplyProtocol(&context, request, &response);
  if (!status.ok()) return Fail(Describe(status));
  for (const std::string& warning : response.warnings()) {
    std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  std::printf(
      "protocol %s in force (was %s); recorded at log position %llu; views rebuilt "
      "through position %llu in %lld ms\n",
      response.version().c_str(), response.previous_version().c_str(),
      static_cast<unsigned long long>(response.recorded_at_position()),
      static_cast<unsigned long long>(response.rebuilt_through_position()),
      static_cast<long long>(response.rebuild_milliseconds()));
  return 0;
}

absl::StatusOr<std::unique_ptr<hub::storage::EventLog>> OpenExistingLog() {
  hub::storage::EventLogOptions options;
  options.create_if_missing = false;
  options.verify_on_open = false;  // verification is what `log verify` reports
  return hub::storage::EventLog::Open(absl::GetFlag(FLAGS_data_dir) + "/events", options);
}

// The whole of a file, or nullopt if it cannot be read.
std::optional<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int CheckLogCheckpoints(const hub::storage::EventLog& log, const std::string& file) {
  const std::optional<std::string> text = ReadTextFile(file);
  if (!text.has_value()) return Fail(absl::StrCat("cannot read checkpoints file ", file));
  const std::string key_path = absl::GetFlag(FLAGS_public_key);
  const std::optional<std::string> key = ReadTextFile(key_path);
  if (!key.has_value()) return Fail(absl::StrCat("cannot read the audit public key ", key_path));
  absl::StatusOr<hub::tools::CheckpointsChecked> checked =
      hub::tools::CheckLogExtendsCheckpoints(log, *text, *key);
  if (!checked.ok()) return Fail(std::string(checked.status().message()));
  std::printf("consistent with %zu signed log checkpoints (the largest at %llu events)\n",
              checked->count, static_cast<unsigned long long>(checked->largest_size));
  return 0;
}

int ViewsVerify() {
  auto log = OpenExistingLog();
  if (!log.ok()) return Fail(log.status().ToString());
  const std::string views_dir = absl::GetFlag(FLAGS_data_dir) + "/views";
  const std::string scratch = views_dir + ".rederived";
  absl::StatusOr<hub::services::ViewsCheck> check;
  {
    if (!std::filesystem::exists(views_dir + "/CURRENT")) {
      return Fail(
          absl::StrCat("there are no views in ", views_dir, ": hubd builds them when it starts"));
    }
    // The log's personal fields are sealed, and the views encrypted: both
    // are opened with the hub's data keys, as hubd does.
    const std::string keys_dir = KeysDir();
    auto keks = hub::auth::KeyFolder::Open(keys_dir + "/kek", absl::GetFlag(FLAGS_data_dir));
    if (!keks.ok()) return Fail(absl::StrCat("the hub's keys: ", keks.status().ToString()));
    auto data_keys = hub::auth::DataKeyStore::Open(
        keys_dir + "/data-keys", absl::GetFlag(FLAGS_data_dir),
        std::shared_ptr<const hub::auth::KeyFolder>(*std::move(keks)));
    if (!data_keys.ok()) return Fail(data_keys.status().ToString());
    const hub::auth::FieldSealer sealer(data_keys->get());
    auto views_key = hub::services::EncryptedViews(**data_keys);
    if (!views_key.ok()) return Fail(views_key.status().ToString());
    auto stored = hub::storage::ViewStore::Open(views_dir, *views_key);
    if (!stored.ok()) return Fail(stored.status().ToString());
    check = hub::services::CheckViews(log->get(), **stored, scratch, &sealer);
  }
  if (!check.ok()) {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    return Fail(check.status().ToString());
  }
  check->rebuilt.reset();  // closed, so that it can be moved
  std::printf(
      "derived the views again from log positions 1 to %llu under protocol %s: %zu principals, "
      "%llu view events, %llu cases compared\n",
      static_cast<unsigned long long>(check->checkpoint), check->protocol_version.c_str(),
      check->principals, static_cast<unsigned long long>(check->events),
      static_cast<unsigned long long>(check->cases));
  std::error_code error;
  if (check->damage.empty()) {
    std::filesystem::remove_all(scratch, error);
    std::printf("views verified: they are what the log and the protocol in force derive\n");
    return 0;
  }
  for (const std::string& damage : check->damage) {
    std::fprintf(stderr, "hubctl: %s\n", damage.c_str());
  }
  if (!absl::GetFlag(FLAGS_repair)) {
    std::filesystem::remove_all(scratch, error);
    return Fail(absl::StrCat("the views do NOT verify (", check->damage.size(),
                             " damaged); run again with --repair, or remove ", views_dir,
                             " and hubd rebuilds them"));
  }
  // The damaged views go (they are derived data, and hold case content).
  const std::string damaged = views_dir + ".damaged";
  std::filesystem::rename(views_dir, damaged, error);
  if (!error) std::filesystem::rename(scratch, views_dir, error);
  if (error) return Fail(absl::StrCat("cannot put the rebuilt views in place: ", error.message()));
  std::filesystem::remove_all(damaged, error);
  std::printf("views repaired: the damaged views were replaced by the ones derived from the log\n");
  return 0;
}

int LogVerify() {
  auto log = OpenExistingLog();
  if (!log.ok()) return Fail(log.status().ToString());
  auto verified = (*log)->Verify();
  if (!verified.ok()) {
    return Fail(absl::StrCat("the event log does NOT verify: ", verified.status().ToString()));
  }
  std::printf("event log verified: %llu events, head %s\n",
              static_cast<unsigned long long>(verified->last_position),
              hub::storage::DigestToHex(verified->head_digest).c_str());
  if (const std::string checkpoints = absl::GetFlag(FLAGS_checkpoints); !checkpoints.empty()) {
    return CheckLogCheckpoints(**log, checkpoints);
  }
  return 0;
}

int LogRead() {
  auto log = OpenExistingLog();
  if (!log.ok()) return Fail(log.status().ToString());
  auto events = (*log)->ReadFrom(absl::GetFlag(FLAGS_from), absl::GetFlag(FLAGS_limit), 8 << 20);
  if (!events.ok()) return Fail(events.status().ToString());
  std::printf("%10s  %-20s %8s  %-38s %8s\n", "position", "case", "version", "event id", "bytes");
  for (const hub::storage::StoredEvent& event : *events) {
    std::printf("%10llu  %-20s %8llu  %-38s %8zu\n",
                static_cast<unsigned long long>(event.position), event.case_id.c_str(),
                static_cast<unsigned long long>(event.stream_version), event.event_id.c_str(),
                event.payload.size());
  }
  return 0;
}

// The --purpose flag as the contract's enum (unspecified if empty).
absl::StatusOr<hub::v1::Purpose> PurposeFlag() {
  const std::string value = absl::GetFlag(FLAGS_purpose);
  hub::v1::Purpose purpose = hub::v1::PURPOSE_UNSPECIFIED;
  if (!value.empty() &&
      !hub::v1::Purpose_Parse("PURPOSE_" + absl::AsciiStrToUpper(value), &purpose)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--purpose=", value,
                     " is not a purpose; use safeguarding, disruption, case_management, panel "
                     "or evaluation"));
  }
  return purpose;
}

// A YYYY-MM-DD flag value as a CalendarDate (unset if empty).
absl::StatusOr<hub::v1::CalendarDate> DateFlag(const std::string& name, const std::string& value) {
  hub::v1::CalendarDate date;
  if (value.empty()) return date;
  absl::CivilDay day;
  if (!absl::ParseCivilTime(value, &day)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, "=", value, " is not a date; use YYYY-MM-DD"));
  }
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

int Timeline(const std::shared_ptr<grpc::Channel>& channel, const std::string& case_id) {
  auto purpose = PurposeFlag();
  if (!purpose.ok()) return Fail(std::string(purpose.status().message()));
  hub::v1::GetCaseTimelineRequest request;
  request.set_case_id(case_id);
  request.set_purpose(*purpose);
  for (absl::string_view agency :
       absl::StrSplit(absl::GetFlag(FLAGS_agency), ',', absl::SkipEmpty())) {
    request.add_agencies(std::string(agency));
  }
  for (absl::string_view type :
       absl::StrSplit(absl::GetFlag(FLAGS_event_type), ',', absl::SkipEmpty())) {
    request.add_event_types(std::string(type));
  }
  if (absl::GetFlag(FLAGS_since) != absl::InfinitePast()) {
    *request.mutable_from_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        absl::ToUnixNanos(absl::GetFlag(FLAGS_since)));
  }
  if (absl::GetFlag(FLAGS_until) != absl::InfiniteFuture()) {
    *request.mutable_to_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        absl::ToUnixNanos(absl::GetFlag(FLAGS_until)));
  }
  return hub::tools::ShowTimeline(channel, request, absl::GetFlag(FLAGS_html),
                                  {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
}

int Cases(const std::shared_ptr<grpc::Channel>& channel) {
  auto purpose = PurposeFlag();
  if (!purpose.ok()) return Fail(std::string(purpose.status().message()));
  hub::v1::ListCasesRequest request;
  request.set_purpose(*purpose);
  const std::string risk = absl::GetFlag(FLAGS_min_risk);
  if (!risk.empty()) {
    hub::v1::RiskLevel level;
    if (!hub::v1::RiskLevel_Parse("RISK_" + absl::AsciiStrToUpper(risk), &level)) {
      return Fail("--min_risk=" + risk + " is not a risk level; use standard, medium or high");
    }
    request.set_min_risk_level(level);
  }
  const std::string route = absl::GetFlag(FLAGS_route);
  if (!route.empty()) {
    hub::v1::ReferralRoute parsed;
    if (!hub::v1::ReferralRoute_Parse("ROUTE_" + absl::AsciiStrToUpper(route), &parsed)) {
      return Fail("--route=" + route +
                  " is not a referral route; use marac, dapp, matac, mash, "
                  "police or other");
    }
    request.set_referral_route(parsed);
  }
  auto referred = DateFlag("referred_since", absl::GetFlag(FLAGS_referred_since));
  if (!referred.ok()) return Fail(std::string(referred.status().message()));
  auto as_of = DateFlag("as_of", absl::GetFlag(FLAGS_as_of));
  if (!as_of.ok()) return Fail(std::string(as_of.status().message()));
  if (referred->year() != 0) *request.mutable_referred_on_or_after() = *referred;
  if (as_of->year() != 0) *request.mutable_as_of() = *as_of;
  request.set_with_overdue_actions(absl::GetFlag(FLAGS_overdue));
  request.set_case_manager_id(absl::GetFlag(FLAGS_case_manager));
  request.set_include_closed(absl::GetFlag(FLAGS_include_closed));
  return hub::tools::ShowCases(channel, request,
                               {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
}

}  // namespace

int main(int argc, char** argv) {
  hub::auth::KeepOpenSslUntilExit();
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.version_string = [] {
    return absl::StrCat("hubctl ", hub::kVersion, " (commit ", hub::kGitCommit, ")\n");
  };
  absl::SetFlagsUsageConfig(usage);
  // "--dry-run" as people type it is --dry_run.
  std::string dry_run_flag = "--dry_run";
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--dry-run") argv[i] = dry_run_flag.data();
  }
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::vector<std::string> command(args.begin() + 1, args.end());
  using Command = std::vector<std::string>;
  if (command == Command{"whoami"}) return WhoAmI();
  if (command == Command{"health"}) return Health();
  if (command == Command{"protocol", "show"}) return ProtocolShow();
  if (command.size() == 2 && (command[0] == "publish" || command[0] == "read")) {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    const hub::tools::OutputOptions output{absl::GetFlag(FLAGS_json),
                                           absl::GetFlag(FLAGS_timeout_ms)};
    if (command[0] == "publish") return hub::tools::PublishFromFile(*channel, command[1], output);
    auto purpose = PurposeFlag();
    if (!purpose.ok()) return Fail(std::string(purpose.status().message()));
    hub::v1::ReadCaseRequest request;
    request.set_case_id(command[1]);
    request.set_purpose(*purpose);
    return hub::tools::ReadCase(*channel, request, output);
  }
  if (command.size() == 3 && command[0] == "audit" && command[1] == "verify") {
    return hub::tools::AuditVerifyFile(command[2], absl::GetFlag(FLAGS_public_key),
                                       absl::GetFlag(FLAGS_checkpoints));
  }
  if (!command.empty() && command[0] == "audit") {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    const hub::tools::OutputOptions output{absl::GetFlag(FLAGS_json),
                                           absl::GetFlag(FLAGS_timeout_ms)};
    if (command == Command{"audit", "query"}) {
      hub::v1::QueryAuditRequest query;
      query.set_case_id(absl::GetFlag(FLAGS_case_id));
      query.set_agency(absl::GetFlag(FLAGS_agency));
      query.set_principal_identity(absl::GetFlag(FLAGS_principal));
      query.set_newest_first(absl::GetFlag(FLAGS_newest_first));
      return hub::tools::AuditQuery(*channel, query, output);
    }
    if (command == Command{"audit", "head"}) return hub::tools::AuditHead(*channel, output);
    if (command == Command{"audit", "checkpoints"}) {
      return hub::tools::AuditCheckpoints(*channel, output);
    }
    if (command.size() == 3 && command[1] == "disclosures") {
      return hub::tools::AuditDisclosures(*channel, command[2], output);
    }
    if (command.size() == 3 && command[1] == "export") {
      hub::tools::AuditExportRange range;
      range.first_record = absl::GetFlag(FLAGS_first_record);
      range.last_record = absl::GetFlag(FLAGS_last_record);
      range.since = absl::GetFlag(FLAGS_since);
      range.until = absl::GetFlag(FLAGS_until);
      return hub::tools::AuditExportToFile(*channel, command[2], range, output);
    }
  }
  if ((command.size() == 2 && command[0] == "timeline") || command == Command{"cases"}) {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return command[0] == "timeline" ? Timeline(*channel, command[1]) : Cases(*channel);
  }
  if (command == Command{"demo"}) {
    hub::tools::DemoLoad load;
    load.site.seed = absl::GetFlag(FLAGS_seed);
    load.site.scale = absl::GetFlag(FLAGS_scale);
    auto end = DateFlag("end_date", absl::GetFlag(FLAGS_end_date));
    if (!end.ok()) return Fail(std::string(end.status().message()));
    if (end->year() == 0) return Fail("--end_date is required");
    load.site.end_date = *end;
    load.hub_address = absl::GetFlag(FLAGS_hub);
    load.certs_dir = absl::GetFlag(FLAGS_certs_dir);
    load.parallel = absl::GetFlag(FLAGS_parallel);
    return hub::tools::LoadDemoSite(load,
                                    {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command == Command{"tail"}) {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    auto purpose = PurposeFlag();
    if (!purpose.ok()) return Fail(std::string(purpose.status().message()));
    hub::v1::SubscribeRequest request;
    request.set_after_position(absl::GetFlag(FLAGS_after));
    request.set_case_id(absl::GetFlag(FLAGS_case_id));
    request.set_purpose(*purpose);
    return hub::tools::Tail(*channel, request, absl::GetFlag(FLAGS_until_caught_up),
                            {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command.size() == 3 && command[0] == "protocol" && command[1] == "check") {
    return hub::tools::CheckProtocolFile(command[2], absl::GetFlag(FLAGS_principal),
                                         absl::GetFlag(FLAGS_json));
  }
  if (command.size() == 3 && command[0] == "protocol" && command[1] == "apply") {
    return ProtocolApply(command[2]);
  }
  if (command == Command{"backup"}) {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return hub::tools::Backup(*channel,
                              {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command == Command{"restrict"}) {
    const std::string subject = absl::GetFlag(FLAGS_subject_id);
    const std::string case_id = absl::GetFlag(FLAGS_case_id);
    if (subject.empty() == case_id.empty()) {
      std::fprintf(stderr, "hubctl: restrict takes one of --subject_id or --case_id\n");
      return 2;
    }
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return hub::tools::Restrict(*channel, subject.empty() ? case_id : subject, subject.empty(),
                                absl::GetFlag(FLAGS_lift), absl::GetFlag(FLAGS_reason),
                                absl::GetFlag(FLAGS_reference),
                                {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command == Command{"retention", "run"}) {
    std::optional<absl::Time> as_of;
    if (const std::string day_text = absl::GetFlag(FLAGS_retention_as_of); !day_text.empty()) {
      absl::CivilDay day;
      if (!absl::ParseCivilTime(day_text, &day)) {
        return Fail(absl::StrCat("--retention_as_of=", day_text, " is not a date; use YYYY-MM-DD"));
      }
      as_of = absl::FromCivil(day, absl::UTCTimeZone());
    }
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return hub::tools::RunRetention(*channel, absl::GetFlag(FLAGS_dry_run), as_of,
                                    {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command == Command{"erase"}) {
    const std::string subject = absl::GetFlag(FLAGS_subject_id);
    const std::string case_id = absl::GetFlag(FLAGS_case_id);
    if (subject.empty() == case_id.empty()) {
      std::fprintf(stderr, "hubctl: erase takes one of --subject_id or --case_id\n");
      return 2;
    }
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return hub::tools::Erase(*channel, subject.empty() ? case_id : subject, subject.empty(),
                             absl::GetFlag(FLAGS_data_class), absl::GetFlag(FLAGS_reason),
                             absl::GetFlag(FLAGS_reference),
                             {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command == Command{"extract"}) {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return hub::tools::ShowExtract(
        *channel,
        {absl::GetFlag(FLAGS_csv), absl::GetFlag(FLAGS_dictionary), absl::GetFlag(FLAGS_jsonl)},
        {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command == Command{"report"}) {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return hub::tools::ShowReport(*channel, absl::GetFlag(FLAGS_month),
                                  absl::GetFlag(FLAGS_for_publication),
                                  {absl::GetFlag(FLAGS_html), absl::GetFlag(FLAGS_pdf)},
                                  {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command.size() == 2 && command[0] == "subject-access") {
    auto channel = ConnectFromFlags();
    if (!channel.ok()) return Fail(channel.status().ToString());
    return hub::tools::SubjectAccess(*channel, command[1], absl::GetFlag(FLAGS_reference),
                                     absl::GetFlag(FLAGS_html),
                                     {absl::GetFlag(FLAGS_json), absl::GetFlag(FLAGS_timeout_ms)});
  }
  if (command.size() == 2 && command[0] == "restore") {
    std::string checkpoints;
    std::string public_key;
    if (const std::string file = absl::GetFlag(FLAGS_checkpoints); !file.empty()) {
      const std::optional<std::string> text = ReadTextFile(file);
      if (!text.has_value()) return Fail(absl::StrCat("cannot read checkpoints file ", file));
      const std::optional<std::string> key = ReadTextFile(absl::GetFlag(FLAGS_public_key));
      if (!key.has_value()) {
        return Fail(
            absl::StrCat("cannot read the audit public key ", absl::GetFlag(FLAGS_public_key)));
      }
      checkpoints = *text;
      public_key = *key;
    }
    return hub::tools::Restore(command[1], absl::GetFlag(FLAGS_data_dir), checkpoints, public_key);
  }
  if (command == Command{"keys", "rotate"}) return KeysRotate();
  if (command == Command{"keys", "add"}) return KeysAdd();
  if (command == Command{"keys", "rewrap"}) return KeysRewrap();
  if (command == Command{"views", "verify"}) return ViewsVerify();
  if (command == Command{"log", "verify"}) return LogVerify();
  if (command == Command{"log", "read"}) return LogRead();
  if (!command.empty()) {
    std::fprintf(stderr, "hubctl: unknown command \"%s\"\n\n", command[0].c_str());
  }
  std::fprintf(stderr, "%s", kUsage);
  return 2;
}
