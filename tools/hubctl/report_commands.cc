#include "tools/hubctl/report_commands.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"

#include "hub/v1/report_service.grpc.pb.h"
#include "tools/hubctl/cli.h"
#include "tools/hubctl/connection.h"
#include "tools/hubctl/report_view.h"

extern char** environ;

namespace hub::tools {

absl::Status PrintToPdf(const std::string& html_path, const std::string& pdf_path) {
  std::error_code error;
  const std::filesystem::path page = std::filesystem::absolute(html_path, error);
  const std::filesystem::path pdf = std::filesystem::absolute(pdf_path, error);
  if (error) return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", html_path));
  // Chromium's own profile, thrown away after: nothing of the page stays
  // in a shared browser profile.
  char profile_template[] = "/tmp/hubctl-chromium-XXXXXX";
  const char* profile = mkdtemp(profile_template);
  if (profile == nullptr) return absl::InternalError("cannot make a folder for Chromium's profile");
  std::vector<std::string> args = {
      "chromium", "--headless=new", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
      // The page needs nothing from elsewhere; Chromium gets no network.
      "--proxy-server=127.0.0.1:9", "--disable-background-networking",
      absl::StrCat("--user-data-dir=", profile), "--no-pdf-header-footer",
      absl::StrCat("--print-to-pdf=", pdf.string()), absl::StrCat("file://", page.string())};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // Chromium is chatty on stderr even when all is well.
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "chromium", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  absl::Status result;
  if (spawned != 0) {
    result = absl::FailedPreconditionError(
        "cannot run chromium: install Debian's chromium package (deploy/setup.sh chromium "
        "fonts-dejavu-core) to print PDFs, or open the --html page and print it");
  } else {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    struct stat written {};
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      result = absl::InternalError(absl::StrCat("chromium failed printing ", html_path));
    } else if (stat(pdf.c_str(), &written) != 0 || written.st_size == 0) {
      result = absl::InternalError(absl::StrCat("chromium wrote no PDF at ", pdf_path));
    } else {
      chmod(pdf.c_str(), 0600);
    }
  }
  std::filesystem::remove_all(profile, error);
  return result;
}

std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

namespace {

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    line += CsvField(fields[i]);
  }
  return line + "\r\n";
}

}  // namespace

int ShowExtract(const std::shared_ptr<grpc::Channel>& channel, const ExtractOutput& files,
                const OutputOptions& output) {
  hub::v1::GetEvaluationExtractResponse extract;
  {
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    grpc::Status status = hub::v1::ReportService::NewStub(channel)->GetEvaluationExtract(
        &context, hub::v1::GetEvaluationExtractRequest(), &extract);
    if (!status.ok()) return Fail(Describe(status));
  }
  std::vector<std::string> names;
  for (const hub::v1::ExtractColumn& column : extract.columns()) names.push_back(column.name());
  std::string csv = CsvLine(names);
  std::string jsonl;
  for (const hub::v1::ExtractRow& row : extract.rows()) {
    csv += CsvLine({row.values().begin(), row.values().end()});
    google::protobuf::Struct object;
    for (int i = 0; i < row.values_size() && i < extract.columns_size(); ++i) {
      (*object.mutable_fields())[extract.columns(i).name()].set_string_value(row.values(i));
    }
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(object, &json);
    jsonl += json + "\n";
  }
  std::string dictionary =
      CsvLine({"column", "type", "data_class", "in_extract", "meaning", "source"});
  auto describe = [&](const hub::v1::ExtractColumn& column, bool included) {
    dictionary +=
        CsvLine({column.name(), column.type(), hub::v1::DataClass_Name(column.data_class()),
                 included ? "yes" : "withheld: no evaluation rule allows this class",
                 column.meaning(), column.source()});
  };
  for (const auto& column : extract.columns()) describe(column, true);
  for (const auto& column : extract.withheld_columns()) describe(column, false);
  if (files.csv_path.empty() && files.dictionary_path.empty() && files.jsonl_path.empty()) {
    std::printf("%s", output.json ? jsonl.c_str() : csv.c_str());
    return 0;
  }
  for (const auto& [path, contents] : std::vector<std::pair<std::string, std::string>>{
           {files.csv_path, csv}, {files.dictionary_path, dictionary}, {files.jsonl_path, jsonl}}) {
    if (path.empty()) continue;
    if (!WriteOwnerOnlyFile(path, contents)) return Fail("cannot write " + path);
    std::printf("wrote %s\n", path.c_str());
  }
  std::printf("%d cases, %d columns (%d withheld), evaluation key %s\n", extract.rows_size(),
              extract.columns_size(), extract.withheld_columns_size(), extract.key_id().c_str());
  return 0;
}

int ShowReport(const std::shared_ptr<grpc::Channel>& channel, const std::string& month,
               bool for_publication, const ReportOutput& files, const OutputOptions& output) {
  hub::v1::GetGovernanceReportRequest request;
  request.set_month(month);
  request.set_for_publication(for_publication);
  hub::v1::GetGovernanceReportResponse report;
  {
    grpc::ClientContext context;
    SetDeadline(&context, output.timeout_ms);
    grpc::Status status =
        hub::v1::ReportService::NewStub(channel)->GetGovernanceReport(&context, request, &report);
    if (!status.ok()) return Fail(Describe(status));
  }
  if (files.html_path.empty() && files.pdf_path.empty()) {
    if (output.json) {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(report, &json);
      std::printf("%s\n", json.c_str());
    } else {
      std::printf("%s", ReportText(report).c_str());
    }
    return 0;
  }
  absl::StatusOr<std::string> prepared_for = PreparedFor(channel, output.timeout_ms);
  if (!prepared_for.ok()) return Fail(std::string(prepared_for.status().message()));
  const std::string page = ReportHtml(report, *prepared_for);
  // A PDF alone is printed from a page beside it, removed after.
  const std::string html_path =
      files.html_path.empty() ? files.pdf_path + ".html" : files.html_path;
  if (!WriteOwnerOnlyFile(html_path, page)) return Fail("cannot write " + html_path);
  if (!files.html_path.empty()) {
    std::printf("wrote the governance report for %s to %s\n", report.month().c_str(),
                html_path.c_str());
  }
  if (!files.pdf_path.empty()) {
    absl::Status printed = PrintToPdf(html_path, files.pdf_path);
    if (files.html_path.empty()) std::remove(html_path.c_str());
    if (!printed.ok()) return Fail(std::string(printed.message()));
    std::printf("printed the governance report for %s to %s\n", report.month().c_str(),
                files.pdf_path.c_str());
  }
  return 0;
}

}  // namespace hub::tools
