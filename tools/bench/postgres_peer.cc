#include "tools/bench/postgres_peer.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hub::bench {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

// The agencies' roles are their certificates' common names, so that the
// TLS handshake is the authentication (pg_hba "cert"), as in the hub.
constexpr const char* kSchema = R"sql(
CREATE ROLE "police-agency" LOGIN;
CREATE ROLE "idva-agency" LOGIN;
CREATE ROLE "dapp-coordinator" LOGIN;

CREATE TABLE cases (
  case_id text PRIMARY KEY,
  version integer NOT NULL DEFAULT 0
);
CREATE TABLE events (
  position bigserial PRIMARY KEY,
  case_id text NOT NULL REFERENCES cases,
  stream_version integer NOT NULL,
  event_id uuid NOT NULL UNIQUE,
  agency text NOT NULL DEFAULT current_user,
  event_type text NOT NULL,
  purpose text NOT NULL,
  lawful_basis text NOT NULL,
  occurred_time timestamptz NOT NULL,
  recorded_time timestamptz NOT NULL DEFAULT now(),
  body jsonb NOT NULL,
  UNIQUE (case_id, stream_version)
);
CREATE TABLE audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  agency text NOT NULL DEFAULT current_user,
  action text NOT NULL,
  case_id text,
  detail text
);

-- The sharing protocol as data. Default deny: what no row allows, no
-- agency records or reads.
CREATE TABLE write_rules (
  agency text,
  event_type text,
  PRIMARY KEY (agency, event_type)
);
CREATE TABLE read_rules (
  agency text,
  event_type text,
  all_cases boolean NOT NULL,  -- or only the cases of case_agencies
  fields text[] NOT NULL,      -- the body fields it may see
  PRIMARY KEY (agency, event_type)
);
CREATE TABLE case_agencies (
  case_id text,
  agency text,
  PRIMARY KEY (case_id, agency)
);

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_by_agency ON events FOR SELECT USING (
  EXISTS (SELECT 1 FROM read_rules r
          WHERE r.agency = current_user AND r.event_type = events.event_type
            AND (r.all_cases OR EXISTS (SELECT 1 FROM case_agencies c
                                        WHERE c.case_id = events.case_id
                                          AND c.agency = current_user))));
CREATE POLICY write_by_agency ON events FOR INSERT WITH CHECK (
  agency = current_user
  AND EXISTS (SELECT 1 FROM write_rules w
              WHERE w.agency = current_user AND w.event_type = events.event_type));

-- One transaction per publish: the case's next version (the row lock
-- orders a case's events), the event, its audit row.
CREATE FUNCTION publish(p_case text, p_event_id uuid, p_type text, p_purpose text,
                        p_basis text, p_occurred timestamptz, p_body jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  next_version integer;
BEGIN
  IF p_type = 'referral_received' THEN
    INSERT INTO cases (case_id) VALUES (p_case) ON CONFLICT DO NOTHING;
  END IF;
  UPDATE cases SET version = version + 1 WHERE case_id = p_case
    RETURNING version INTO next_version;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'case % has not been referred', p_case USING ERRCODE = 'P0002';
  END IF;
  INSERT INTO events (case_id, stream_version, event_id, event_type, purpose, lawful_basis,
                      occurred_time, body)
    VALUES (p_case, next_version, p_event_id, p_type, p_purpose, p_basis, p_occurred, p_body);
  INSERT INTO audit (action, case_id, detail) VALUES ('publish', p_case, p_event_id::text);
  RETURN currval('events_position_seq');
END $$;

-- A case's events as the caller may see them (rows by the policy above,
-- fields by its read rule), and the read's audit row, in one transaction.
CREATE FUNCTION timeline(p_case text, p_limit integer)
RETURNS TABLE (at_position bigint, at_version integer, by_agency text, kind text,
               occurred timestamptz, recorded timestamptz, shown jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  answered integer;
BEGIN
  RETURN QUERY
    SELECT e.position, e.stream_version, e.agency, e.event_type, e.occurred_time,
           e.recorded_time,
           e.body - ARRAY(SELECT k FROM jsonb_object_keys(e.body) AS k
                          WHERE NOT k = ANY (r.fields))
      FROM events e
      JOIN read_rules r ON r.agency = current_user AND r.event_type = e.event_type
     WHERE e.case_id = p_case
     ORDER BY e.stream_version
     LIMIT p_limit;
  GET DIAGNOSTICS answered = ROW_COUNT;
  INSERT INTO audit (action, case_id, detail) VALUES ('timeline', p_case, answered::text);
END $$;

GRANT SELECT, INSERT, UPDATE ON cases TO "police-agency", "idva-agency", "dapp-coordinator";
GRANT SELECT, INSERT ON events TO "police-agency", "idva-agency", "dapp-coordinator";
GRANT INSERT ON audit TO "police-agency", "idva-agency", "dapp-coordinator";
GRANT SELECT ON write_rules, read_rules, case_agencies
  TO "police-agency", "idva-agency", "dapp-coordinator";
GRANT USAGE ON SEQUENCE events_position_seq, audit_id_seq
  TO "police-agency", "idva-agency", "dapp-coordinator";
)sql";

absl::Status Shell(const std::string& command) {
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("failed: ", command));
  }
  return absl::OkStatus();
}

// initdb and postgres refuse to run as root.
std::string AsServerAccount(const std::string& command) {
  return geteuid() == 0 ? absl::StrCat("runuser -u postgres -- ", command) : command;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

absl::Status ResultStatus(PGconn* connection, PGresult* result, ExecStatusType wanted) {
  const ExecStatusType got = PQresultStatus(result);
  if (got == wanted) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("PostgreSQL: ", result != nullptr
                                                              ? PQresultErrorMessage(result)
                                                              : PQerrorMessage(connection)));
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> Open(const std::string& parameters) {
  PGconn* connection = PQconnectdb(parameters.c_str());
  if (PQstatus(connection) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(connection);
    PQfinish(connection);
    return absl::UnavailableError(absl::StrCat("connecting to PostgreSQL: ", message));
  }
  return std::make_unique<PostgresConnection>(connection);
}

}  // namespace

PostgresConnection::~PostgresConnection() { PQfinish(connection_); }

absl::Status PostgresConnection::Execute(const std::string& sql) {
  PGresult* result = PQexec(connection_, sql.c_str());
  absl::Status status = ResultStatus(connection_, result, PGRES_COMMAND_OK);
  if (!status.ok() && PQresultStatus(result) == PGRES_TUPLES_OK) status = absl::OkStatus();
  PQclear(result);
  return status;
}

absl::Status PostgresConnection::Prepare(const std::string& name, const std::string& sql) {
  PGresult* result = PQprepare(connection_, name.c_str(), sql.c_str(), 0, nullptr);
  absl::Status status = ResultStatus(connection_, result, PGRES_COMMAND_OK);
  PQclear(result);
  return status;
}

absl::StatusOr<int> PostgresConnection::Run(const std::string& name,
                                            const std::vector<std::string>& parameters) {
  std::vector<const char*> values;
  values.reserve(parameters.size());
  for (const std::string& parameter : parameters) values.push_back(parameter.c_str());
  PGresult* result = PQexecPrepared(connection_, name.c_str(), static_cast<int>(values.size()),
                                    values.data(), nullptr, nullptr, 0);
  const absl::Status status = ResultStatus(connection_, result, PGRES_TUPLES_OK);
  const int rows = PQntuples(result);
  PQclear(result);
  if (!status.ok()) return status;
  return rows;
}

absl::Status PostgresConnection::Copy(const std::string& sql, const std::string& rows) {
  PGresult* result = PQexec(connection_, sql.c_str());
  absl::Status status = ResultStatus(connection_, result, PGRES_COPY_IN);
  PQclear(result);
  if (!status.ok()) return status;
  if (PQputCopyData(connection_, rows.data(), static_cast<int>(rows.size())) != 1 ||
      PQputCopyEnd(connection_, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("COPY: ", PQerrorMessage(connection_)));
  }
  result = PQgetResult(connection_);
  status = ResultStatus(connection_, result, PGRES_COMMAND_OK);
  PQclear(result);
  while ((result = PQgetResult(connection_)) != nullptr) PQclear(result);
  return status;
}

absl::StatusOr<std::unique_ptr<PostgresPeer>> PostgresPeer::Start(const std::string& dir,
                                                                  const std::string& certs) {
  if (!fs::exists(absl::StrCat(kBin, "/postgres"))) {
    return absl::FailedPreconditionError(
        "PostgreSQL 15 is not installed (tools/bench/run.sh installs it)");
  }
  const int port = FreePort();
  if (port == 0) return absl::InternalError("no free port for PostgreSQL");
  std::unique_ptr<PostgresPeer> peer(new PostgresPeer(fs::absolute(dir).string(), certs, port));
  const std::string data = peer->dir_ + "/data";
  fs::remove_all(peer->dir_);
  fs::create_directories(peer->dir_);
  if (geteuid() == 0) {
    if (absl::Status chowned = Shell(absl::StrCat("chown postgres: '", peer->dir_, "'"));
        !chowned.ok()) {
      return chowned;
    }
  }
  if (absl::Status made = Shell(AsServerAccount(
          absl::StrCat(kBin, "/initdb -D '", data, "' -U hub_owner --auth=trust -E UTF8 ",
                       "--locale=C.UTF-8 >'", peer->dir_, "/initdb.log' 2>&1")));
      !made.ok()) {
    return made;
  }
  // The server's key and certificate, owned by the account that runs it.
  for (const char* file : {"hubd.crt", "hubd.key"}) {
    fs::copy_file(certs + "/server/" + file, data + "/" + file,
                  fs::copy_options::overwrite_existing);
  }
  fs::copy_file(certs + "/ca.crt", data + "/ca.crt", fs::copy_options::overwrite_existing);
  fs::permissions(data + "/hubd.key", fs::perms::owner_read | fs::perms::owner_write);
  if (geteuid() == 0) {
    if (absl::Status chowned = Shell(absl::StrCat("chown -R postgres: '", data, "'"));
        !chowned.ok()) {
      return chowned;
    }
  }
  // Durable as PostgreSQL ships (fsync, synchronous_commit on); memory as
  // a small server would be given.
  std::ofstream(data + "/postgresql.conf", std::ios::app)
      << "listen_addresses = '127.0.0.1'\nport = " << port << "\nunix_socket_directories = '"
      << peer->dir_ << "'\nssl = on\nssl_cert_file = 'hubd.crt'\nssl_key_file = 'hubd.key'\n"
      << "ssl_ca_file = 'ca.crt'\nfsync = on\nsynchronous_commit = on\n"
      << "shared_buffers = '512MB'\nmax_connections = 200\n";
  // Owner over the local socket (loading); agencies over TLS only, each
  // authenticated by its client certificate.
  std::ofstream(data + "/pg_hba.conf")
      << "local all hub_owner trust\nhostssl all all 127.0.0.1/32 cert\n";
  if (absl::Status started =
          Shell(AsServerAccount(absl::StrCat(kBin, "/pg_ctl -D '", data, "' -w -l '", peer->dir_,
                                             "/server.log' start >/dev/null 2>&1")));
      !started.ok()) {
    return started;
  }
  peer->started_ = true;
  absl::StatusOr<std::unique_ptr<PostgresConnection>> owner = peer->ConnectAsOwner();
  if (!owner.ok()) return owner.status();
  if (absl::Status created = (*owner)->Execute(kSchema); !created.ok()) return created;
  return peer;
}

PostgresPeer::~PostgresPeer() {
  if (!started_) return;
  (void)Shell(AsServerAccount(
      absl::StrCat(kBin, "/pg_ctl -D '", dir_, "/data' -m fast stop >/dev/null 2>&1")));
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresPeer::Connect(
    const std::string& client) const {
  return Open(absl::StrCat(
      "host=localhost hostaddr=127.0.0.1 port=", port_, " dbname=postgres user=", client,
      " sslmode=verify-full sslrootcert=", certs_, "/ca.crt sslcert=", certs_, "/clients/", client,
      ".crt sslkey=", certs_, "/clients/", client, ".key"));
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresPeer::ConnectAsOwner() const {
  return Open(absl::StrCat("host=", dir_, " port=", port_, " dbname=postgres user=hub_owner"));
}

}  // namespace hub::bench
