// hubctl report: the governance group's monthly report as text, JSON, a
// printable HTML page or a PDF printed from that page by headless Chromium.
#ifndef HUB_TOOLS_HUBCTL_REPORT_COMMANDS_H_
#define HUB_TOOLS_HUBCTL_REPORT_COMMANDS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/channel.h"

#include "tools/hubctl/event_commands.h"

namespace hub::tools {

struct ReportOutput {
  std::string html_path;
  std::string pdf_path;
};

// Prints the report of `month` ("YYYY-MM", empty for the current one), or
// writes it as a page and/or a PDF (owner-only files).
int ShowReport(const std::shared_ptr<grpc::Channel>& channel, const std::string& month,
               bool for_publication, const ReportOutput& files, const OutputOptions& output);

struct ExtractOutput {
  std::string csv_path;
  std::string dictionary_path;
  std::string jsonl_path;
};

// Fetches the evaluation extract and writes it as CSV (to stdout when no
// file is named), its data dictionary (CSV) and JSON lines (owner-only
// files).
int ShowExtract(const std::shared_ptr<grpc::Channel>& channel, const ExtractOutput& files,
                const OutputOptions& output);

// A CSV field, quoted when it must be (RFC 4180).
std::string CsvField(const std::string& value);

// Prints `html_path` to an A4 PDF at `pdf_path` with Debian's headless
// Chromium, which loads nothing but the file. An error names what failed.
absl::Status PrintToPdf(const std::string& html_path, const std::string& pdf_path);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_REPORT_COMMANDS_H_
