#include "services/case_summary.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

#include "services/request_validation.h"

namespace hub::services {
namespace {

// `text` cut to at most `max_bytes` at a UTF-8 boundary, marked as cut.
std::string Abbreviated(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  static constexpr absl::string_view kEllipsis = "\u2026";
  const size_t cut = Utf8PrefixLength(text, max_bytes - kEllipsis.size());
  return absl::StrCat(absl::string_view(text.data(), cut), kEllipsis);
}

bool IsFinal(hub::v1::ActionStatus status) {
  return status == hub::v1::ACTION_COMPLETED || status == hub::v1::ACTION_NOT_DONE_AGENCY_FAILED ||
         status == hub::v1::ACTION_NOT_DONE_CIRCUMSTANCES_CHANGED ||
         status == hub::v1::ACTION_CANCELLED;
}

hub::v1::OpenAction* FindAction(hub::v1::CaseSummary* summary, const std::string& action_id) {
  for (hub::v1::OpenAction& action : *summary->mutable_open_actions()) {
    if (action.action_id() == action_id) return &action;
  }
  return nullptr;
}

void RemoveAction(hub::v1::CaseSummary* summary, const std::string& action_id) {
  auto* actions = summary->mutable_open_actions();
  actions->erase(std::remove_if(actions->begin(), actions->end(),
                                [&](const hub::v1::OpenAction& action) {
                                  return action.action_id() == action_id;
                                }),
                 actions->end());
}

}  // namespace

void ApplyToSummary(const hub::v1::EventEnvelope& visible, hub::v1::CaseSummary* summary) {
  summary->set_case_id(visible.case_id());
  summary->set_last_position(visible.global_position());
  summary->set_visible_events(summary->visible_events() + 1);
  // Last activity is when the latest thing happened, not when an agency
  // got round to recording it (events may arrive late or out of order).
  const google::protobuf::Timestamp& happened =
      visible.has_occurred_time() ? visible.occurred_time() : visible.recorded_time();
  if (std::make_pair(happened.seconds(), happened.nanos()) >
      std::make_pair(summary->last_activity().seconds(), summary->last_activity().nanos())) {
    *summary->mutable_last_activity() = happened;
  }
  switch (visible.event_case()) {
    case hub::v1::EventEnvelope::kReferralReceived:
      if (visible.referral_received().route() != hub::v1::REFERRAL_ROUTE_UNSPECIFIED) {
        summary->set_referral_route(visible.referral_received().route());
      }
      if (visible.referral_received().has_referred_on()) {
        *summary->mutable_referred_on() = visible.referral_received().referred_on();
      }
      break;
    case hub::v1::EventEnvelope::kRiskAssessed:
      if (visible.risk_assessed().risk_level() != hub::v1::RISK_LEVEL_UNSPECIFIED) {
        summary->set_risk_level(visible.risk_assessed().risk_level());
      }
      break;
    case hub::v1::EventEnvelope::kCaseAllocated:
      summary->set_case_manager_id(visible.case_allocated().case_manager_id());
      break;
    case hub::v1::EventEnvelope::kActionTasked: {
      const hub::v1::ActionTasked& tasked = visible.action_tasked();
      if (tasked.action_id().empty()) break;
      hub::v1::OpenAction* action = FindAction(summary, tasked.action_id());
      if (action == nullptr) action = summary->add_open_actions();
      action->set_action_id(tasked.action_id());
      action->set_owner_agency(tasked.owner_agency());
      *action->mutable_due_on() = tasked.due_on();
      action->set_description(Abbreviated(tasked.description(), kSummaryDescriptionBytes));
      action->set_status(hub::v1::ACTION_OPEN);
      break;
    }
    case hub::v1::EventEnvelope::kActionUpdated: {
      const hub::v1::ActionUpdated& updated = visible.action_updated();
      if (IsFinal(updated.status())) {
        RemoveAction(summary, updated.action_id());
      } else if (hub::v1::OpenAction* action = FindAction(summary, updated.action_id())) {
        if (updated.status() != hub::v1::ACTION_STATUS_UNSPECIFIED) {
          action->set_status(updated.status());
        }
        if (updated.has_due_on()) *action->mutable_due_on() = updated.due_on();
      }
      break;
    }
    case hub::v1::EventEnvelope::kActionCompleted:
      RemoveAction(summary, visible.action_completed().action_id());
      break;
    case hub::v1::EventEnvelope::kCaseClosed:
      summary->set_closed(true);
      summary->set_closure_reason(visible.case_closed().reason());
      break;
    case hub::v1::EventEnvelope::kCaseReopened:
      summary->set_closed(false);
      summary->clear_closure_reason();
      break;
    default:
      break;
  }
}

}  // namespace hub::services
