// What a council's IT team would build instead of the hub, as hub_bench's
// peer: PostgreSQL 15 with an events table and an audit table, the sharing
// protocol as rule tables, row-level security by agency, field redaction in
// SQL, an audit row written in the same transaction as every publish and
// every read, synchronous commit, and mutual TLS in which the client
// certificate's common name is the agency's database role (the same
// development certificates hubd uses).
//
// A benchmark dependency only: tools/bench/run.sh installs PostgreSQL 15
// and libpq; neither hubd nor the tests need them.
#ifndef HUB_TOOLS_BENCH_POSTGRES_PEER_H_
#define HUB_TOOLS_BENCH_POSTGRES_PEER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

typedef struct pg_conn PGconn;

namespace hub::bench {

// One open connection; closed when this goes away.
class PostgresConnection {
 public:
  explicit PostgresConnection(PGconn* connection) : connection_(connection) {}
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;
  ~PostgresConnection();

  // Runs statements that return no rows (several may be separated by ';').
  absl::Status Execute(const std::string& sql);
  // Prepares `sql` under `name` for Run.
  absl::Status Prepare(const std::string& name, const std::string& sql);
  // Runs a prepared statement with text parameters; returns how many rows
  // it answered with (the values are fetched into libpq's result, as a
  // client reading them would have them).
  absl::StatusOr<int> Run(const std::string& name, const std::vector<std::string>& parameters);
  // COPY ... FROM STDIN with `rows` as its data.
  absl::Status Copy(const std::string& sql, const std::string& rows);

 private:
  PGconn* connection_;
};

// A PostgreSQL 15 cluster in a scratch folder, stopped when this goes away.
class PostgresPeer {
 public:
  // initdb in `dir` (run as the postgres account when this runs as root,
  // as initdb refuses root), TLS with certs/server/hubd.{crt,key} and
  // client certificates from certs/ca.crt required, the schema created.
  static absl::StatusOr<std::unique_ptr<PostgresPeer>> Start(const std::string& dir,
                                                             const std::string& certs);
  PostgresPeer(const PostgresPeer&) = delete;
  PostgresPeer& operator=(const PostgresPeer&) = delete;
  ~PostgresPeer();

  // Over TCP and mutual TLS as `client` (certs/clients/<client>.crt: its
  // common name is the role).
  absl::StatusOr<std::unique_ptr<PostgresConnection>> Connect(const std::string& client) const;
  // Over the cluster's local socket as its owner, for loading and rules.
  absl::StatusOr<std::unique_ptr<PostgresConnection>> ConnectAsOwner() const;

  // The statements the workloads prepare on each agency connection.
  static constexpr const char* kPublish =
      "SELECT publish($1, $2::uuid, $3, $4, $5, $6::timestamptz, $7::jsonb)";
  static constexpr const char* kTimeline = "SELECT * FROM timeline($1, $2::integer)";

 private:
  PostgresPeer(std::string dir, std::string certs, int port)
      : dir_(std::move(dir)), certs_(std::move(certs)), port_(port) {}

  std::string dir_;
  std::string certs_;
  int port_;
  bool started_ = false;
};

}  // namespace hub::bench

#endif  // HUB_TOOLS_BENCH_POSTGRES_PEER_H_
