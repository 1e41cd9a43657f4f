#include "services/refusal_auditor.h"

#include <vector>

#include "absl/strings/str_cat.h"

#include "proto/thread_name.h"
#include "services/audit_trail.h"
#include "services/server_log.h"

namespace hub::services {

RefusalAuditor::RefusalAuditor(storage::EventLog* log, size_t max_pending)
    : log_(log), max_pending_(max_pending), thread_([this] {
        NameThisThread("refusal-audit");
        Loop();
      }) {}

RefusalAuditor::~RefusalAuditor() { Stop(); }

void RefusalAuditor::Record(const std::string& identity, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  if (pending_.size() >= max_pending_) {
    ++dropped_;
  } else {
    pending_.emplace_back(identity, reason);
  }
  wake_.Signal();
}

void RefusalAuditor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
}

void RefusalAuditor::Loop() {
  for (;;) {
    std::deque<std::pair<std::string, std::string>> batch;
    uint64_t dropped = 0;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      while (pending_.empty() && dropped_ == 0 && !stopping_) wake_.Wait(&mu_);
      batch.swap(pending_);
      std::swap(dropped, dropped_);
      stopping = stopping_;
    }
    std::vector<std::string> records;
    hub::v1::Principal unknown;
    for (const auto& [identity, reason] : batch) {
      unknown.set_identity(identity);
      hub::v1::AuditRecord record =
          AuditRecordFor(unknown, hub::v1::AUDIT_AUTHENTICATE, hub::v1::AUDIT_DENIED);
      record.set_reason(reason);
      records.push_back(record.SerializeAsString());
    }
    if (dropped > 0) {
      unknown.set_identity("");
      hub::v1::AuditRecord record =
          AuditRecordFor(unknown, hub::v1::AUDIT_AUTHENTICATE, hub::v1::AUDIT_DENIED);
      record.set_reason(absl::StrCat(dropped, " further refusals in a burst, not itemised"));
      records.push_back(record.SerializeAsString());
    }
    if (!records.empty()) {
      absl::StatusOr<uint64_t> stored = log_->Audit(std::move(records));
      if (!stored.ok()) {
        LogError("refused callers could not be audited", {{"error", stored.status().ToString()}});
      }
    }
    if (stopping) return;
  }
}

}  // namespace hub::services
