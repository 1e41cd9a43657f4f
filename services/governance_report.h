// The governance group's monthly report: programme figures aggregated from
// every case's facts (kept by the projector), information-governance
// figures folded from the access audit, and suppression of small numbers
// for publication. Aggregates only: no case id, subject or content leaves.
#ifndef HUB_SERVICES_GOVERNANCE_REPORT_H_
#define HUB_SERVICES_GOVERNANCE_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "storage/event_log.h"

#include "hub/v1/audit.pb.h"
#include "hub/v1/report_service.pb.h"
#include "hub/v1/views.pb.h"

namespace hub::services {

// A calendar month: its name ("2026-10") and first and last day (days
// since 1970-01-01).
struct ReportPeriod {
  std::string month;
  int year = 0;
  int month_of_year = 0;
  int32_t first_day = 0;
  int32_t last_day = 0;
};
// "YYYY-MM" (INVALID_ARGUMENT otherwise); empty: the month of `now` (UTC).
absl::StatusOr<ReportPeriod> MonthPeriod(std::string_view month, absl::Time now);

// When a case was open: from its first allocation (or a reopening) to the
// day it closed, [from, to); to is INT32_MAX while it is open.
struct OpenSpan {
  int32_t from = 0;
  int32_t to = 0;
};
std::vector<OpenSpan> OpenSpansOf(const hub::v1::CaseFacts& facts);

// Repeat referrals: a perpetrator referred again (in any case) within 365
// days of an earlier referral. Knows every referral of every perpetrator.
class RepeatReferrals {
 public:
  explicit RepeatReferrals(const std::vector<const hub::v1::CaseFacts*>& cases);
  // Whether a referral on `day` of the case with `facts` follows another
  // referral of one of its perpetrators in the 365 days before it.
  bool IsRepeat(const hub::v1::CaseFacts& facts, int32_t day) const;

 private:
  std::map<std::string, std::vector<int32_t>> referral_days_;
};

// The programme figures of `period` over every case's facts.
hub::v1::ProgrammeFigures ProgrammeFiguresOf(const std::vector<const hub::v1::CaseFacts*>& cases,
                                             const ReportPeriod& period, uint32_t caseload_target);

// Adds to `figures` the sharings of victim information in `period` by the
// victim's consent, and the grounds for sharing without it.
void AddConsentFigures(const std::vector<const hub::v1::CaseFacts*>& cases,
                       const ReportPeriod& period, hub::v1::InformationGovernanceFigures* figures);

// The information-governance figures, folded from the access audit as it
// grows: each record counts in the month (UTC) it was made.
class AuditFigures {
 public:
  explicit AuditFigures(const storage::EventLog* log) : log_(log) {}
  // Folds the records stored since the last call.
  absl::Status CatchUp();
  // The figures of the month, and how many audit records they reflect.
  std::pair<hub::v1::InformationGovernanceFigures, uint64_t> For(const ReportPeriod& period) const;
  // Folds one record (CatchUp does this for each).
  static void Count(const hub::v1::AuditRecord& record,
                    std::map<std::string, std::map<std::string, uint64_t>>* month);

 private:
  const storage::EventLog* const log_;
  // Serializes CatchUp (the background thread and reports).
  absl::Mutex catch_up_mu_;
  mutable absl::Mutex mu_;
  uint64_t folded_ ABSL_GUARDED_BY(mu_) = 0;
  // Per month (year * 12 + month - 1): figure (a field of
  // InformationGovernanceFigures) -> label -> count.
  std::map<int, std::map<std::string, std::map<std::string, uint64_t>>> months_
      ABSL_GUARDED_BY(mu_);
};

// Fills `figures` (a message of Tally fields, repeated or single) from
// figure name -> label -> count: repeated fields get one Tally per label in
// label order, single ones the count of the empty label.
void FillTallies(const std::map<std::string, std::map<std::string, uint64_t>>& counts,
                 google::protobuf::Message* figures);

// Withholds, for publication, every count from 1 to below `threshold` and
// every day figure over fewer cases than that.
void SuppressSmallNumbers(uint32_t threshold, google::protobuf::Message* report);

}  // namespace hub::services

#endif  // HUB_SERVICES_GOVERNANCE_REPORT_H_
