#include "services/report_facts.h"

#include <algorithm>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace hub::services {
namespace {

const absl::CivilDay kEpochDay(1970, 1, 1);

// The event's own date if it gives one, else the day it occurred (or was
// recorded).
int32_t DayOf(const hub::v1::EventEnvelope& event, const hub::v1::CalendarDate& own) {
  if (const int32_t day = DayNumber(own); day != 0) return day;
  return DayNumber(event.has_occurred_time() ? event.occurred_time() : event.recorded_time());
}

void AddDistinct(const std::string& id, google::protobuf::RepeatedPtrField<std::string>* ids) {
  // Erased subject ids are absent, not empty; an empty one counts no one.
  if (id.empty() || std::find(ids->begin(), ids->end(), id) != ids->end()) return;
  ids->Add(std::string(id));
}

hub::v1::CaseFacts::Action* ActionOf(const std::string& action_id, hub::v1::CaseFacts* facts) {
  for (hub::v1::CaseFacts::Action& action : *facts->mutable_actions()) {
    if (action.action_id() == action_id) return &action;
  }
  return nullptr;
}

bool IsFinal(hub::v1::ActionStatus status) {
  switch (status) {
    case hub::v1::ACTION_COMPLETED:
    case hub::v1::ACTION_NOT_DONE_AGENCY_FAILED:
    case hub::v1::ACTION_NOT_DONE_CIRCUMSTANCES_CHANGED:
    case hub::v1::ACTION_CANCELLED:
      return true;
    default:
      return false;
  }
}

// A sharing of victim information (a risk assessment, a safety update) and
// the victim's consent to it, when recorded.
template <typename Event>
void AddConsent(const hub::v1::EventEnvelope& event, const Event& shared,
                hub::v1::CaseFacts* facts) {
  if (!shared.has_consent() ||
      shared.consent().decision() == hub::v1::CONSENT_DECISION_UNSPECIFIED) {
    return;
  }
  hub::v1::CaseFacts::Consent* fact = facts->add_consents();
  fact->set_day(DayOf(event, hub::v1::CalendarDate()));
  fact->set_decision(shared.consent().decision());
  fact->set_ground(shared.consent().ground());
}

}  // namespace

int32_t DayNumber(const hub::v1::CalendarDate& date) {
  if (date.year() == 0 || date.month() < 1 || date.month() > 12 || date.day() < 1 ||
      date.day() > 31) {
    return 0;
  }
  return static_cast<int32_t>(absl::CivilDay(date.year(), date.month(), date.day()) - kEpochDay);
}

int32_t DayNumber(const google::protobuf::Timestamp& time) {
  const absl::CivilDay day =
      absl::ToCivilDay(absl::FromUnixSeconds(time.seconds()), absl::UTCTimeZone());
  return static_cast<int32_t>(day - kEpochDay);
}

void ApplyToFacts(const hub::v1::EventEnvelope& event, hub::v1::CaseFacts* facts) {
  const hub::v1::CalendarDate none;
  switch (event.event_case()) {
    case hub::v1::EventEnvelope::kReferralReceived: {
      const hub::v1::ReferralReceived& referral = event.referral_received();
      hub::v1::CaseFacts::Referral* fact = facts->add_referrals();
      fact->set_day(DayOf(event, referral.referred_on()));
      fact->set_route(referral.route());
      fact->set_criterion(referral.marac_criterion());
      fact->set_eligibility(referral.eligibility());
      fact->set_decline_category(referral.decline_category());
      fact->set_serial_perpetrator(referral.serial_perpetrator());
      fact->set_repeat_perpetrator(referral.repeat_perpetrator());
      fact->set_police_incidents_prior_six_months(referral.police_incidents_prior_six_months());
      break;
    }
    case hub::v1::EventEnvelope::kSubjectLinked: {
      const hub::v1::SubjectLinked& linked = event.subject_linked();
      if (linked.has_perpetrator()) {
        AddDistinct(linked.perpetrator().subject_id(), facts->mutable_perpetrator_ids());
      } else if (linked.has_victim()) {
        AddDistinct(linked.victim().subject_id(), facts->mutable_victim_ids());
      } else if (linked.has_child()) {
        AddDistinct(linked.child().subject_id(), facts->mutable_child_ids());
      }
      break;
    }
    case hub::v1::EventEnvelope::kRiskAssessed: {
      AddConsent(event, event.risk_assessed(), facts);
      if (event.risk_assessed().risk_level() == hub::v1::RISK_LEVEL_UNSPECIFIED) break;
      hub::v1::CaseFacts::Assessment* fact = facts->add_assessments();
      fact->set_day(DayOf(event, none));
      fact->set_level(event.risk_assessed().risk_level());
      *fact->mutable_abuse_types() = event.risk_assessed().abuse_types();
      break;
    }
    case hub::v1::EventEnvelope::kCaseAllocated: {
      hub::v1::CaseFacts::Allocation* fact = facts->add_allocations();
      fact->set_day(DayOf(event, event.case_allocated().allocated_on()));
      fact->set_case_manager_id(event.case_allocated().case_manager_id());
      break;
    }
    case hub::v1::EventEnvelope::kEngagementRecorded: {
      hub::v1::CaseFacts::Dated* fact = facts->add_engagements();
      fact->set_day(DayOf(event, event.engagement_recorded().session_date()));
      fact->set_kind(event.engagement_recorded().kind());
      break;
    }
    case hub::v1::EventEnvelope::kInterventionPlanAgreed:
      facts->add_plan_days(DayOf(event, none));
      if (!event.intervention_plan_agreed().abuse_types_at_start().empty()) {
        *facts->mutable_abuse_types_at_start() =
            event.intervention_plan_agreed().abuse_types_at_start();
      }
      break;
    case hub::v1::EventEnvelope::kActionTasked: {
      const hub::v1::ActionTasked& tasked = event.action_tasked();
      hub::v1::CaseFacts::Action* action = ActionOf(tasked.action_id(), facts);
      if (action == nullptr) {
        action = facts->add_actions();
        action->set_action_id(tasked.action_id());
      }
      action->set_owner_agency(tasked.owner_agency());
      action->set_tasked_day(DayOf(event, none));
      action->set_due_day(DayNumber(tasked.due_on()));
      break;
    }
    case hub::v1::EventEnvelope::kActionUpdated: {
      const hub::v1::ActionUpdated& updated = event.action_updated();
      hub::v1::CaseFacts::Action* action = ActionOf(updated.action_id(), facts);
      if (action == nullptr) break;
      if (const int32_t due = DayNumber(updated.due_on()); due != 0) action->set_due_day(due);
      if (IsFinal(updated.status()) && action->finished_day() == 0) {
        action->set_finished_day(DayOf(event, none));
        action->set_final_status(updated.status());
      }
      break;
    }
    case hub::v1::EventEnvelope::kActionCompleted: {
      const hub::v1::ActionCompleted& completed = event.action_completed();
      hub::v1::CaseFacts::Action* action = ActionOf(completed.action_id(), facts);
      if (action == nullptr) break;
      action->set_finished_day(DayOf(event, completed.completed_on()));
      action->set_final_status(completed.final_status());
      break;
    }
    case hub::v1::EventEnvelope::kDisruptionRecorded: {
      hub::v1::CaseFacts::Dated* fact = facts->add_disruptions();
      fact->set_day(DayOf(event, event.disruption_recorded().effective_on()));
      fact->set_kind(event.disruption_recorded().kind());
      break;
    }
    case hub::v1::EventEnvelope::kSupportReferralMade: {
      hub::v1::CaseFacts::SupportReferral* fact = facts->add_support_referrals();
      fact->set_day(DayOf(event, none));
      fact->set_service(event.support_referral_made().service());
      fact->set_accepted(event.support_referral_made().accepted());
      break;
    }
    case hub::v1::EventEnvelope::kVictimSafetyInformation: {
      AddConsent(event, event.victim_safety_information(), facts);
      const hub::v1::RiskChange change = event.victim_safety_information().risk_change();
      if (change == hub::v1::RISK_CHANGE_UNSPECIFIED) break;
      hub::v1::CaseFacts::Dated* fact = facts->add_victim_risk_changes();
      fact->set_day(DayOf(event, none));
      fact->set_kind(change);
      break;
    }
    case hub::v1::EventEnvelope::kCaseClosed: {
      const hub::v1::CaseClosed& closed = event.case_closed();
      hub::v1::CaseFacts::Closure* fact = facts->add_closures();
      fact->set_day(DayOf(event, closed.closed_on()));
      fact->set_reason(closed.reason());
      fact->set_idva_reported_risk_change(closed.idva_reported_risk_change());
      *fact->mutable_abuse_types_at_exit() = closed.abuse_types_at_exit();
      fact->set_police_incidents_following_six_months(
          closed.police_incidents_following_six_months());
      break;
    }
    case hub::v1::EventEnvelope::kCaseReopened:
      facts->add_reopened_days(DayOf(event, event.case_reopened().reopened_on()));
      break;
    case hub::v1::EventEnvelope::kNeedsAssessed: {
      const int32_t day = DayOf(event, event.needs_assessed().assessed_on());
      facts->add_needs_assessment_days(day);
      for (int need : event.needs_assessed().needs()) {
        hub::v1::CaseFacts::Dated* fact = facts->add_needs();
        fact->set_day(day);
        fact->set_kind(need);
      }
      break;
    }
    case hub::v1::EventEnvelope::kVictimSupportReferred: {
      const hub::v1::VictimSupportReferred& support = event.victim_support_referred();
      hub::v1::CaseFacts::VictimSupport* fact = facts->add_victim_support();
      fact->set_day(DayOf(event, support.referred_on()));
      fact->set_service(support.service());
      fact->set_outcome(support.outcome());
      break;
    }
    case hub::v1::EventEnvelope::kChildWorkerContact: {
      hub::v1::CaseFacts::Dated* fact = facts->add_child_contacts();
      fact->set_day(DayOf(event, event.child_worker_contact().contact_on()));
      fact->set_kind(event.child_worker_contact().kind());
      break;
    }
    case hub::v1::EventEnvelope::kPanelOutcome: {
      const hub::v1::PanelOutcome& outcome = event.panel_outcome();
      hub::v1::CaseFacts::Panel* fact = facts->add_panels();
      fact->set_day(DayOf(event, outcome.held_on()));
      fact->set_panel(outcome.panel());
      *fact->mutable_agencies_present() = outcome.agencies_present();
      break;
    }
    case hub::v1::EventEnvelope::kFollowUpChecked: {
      const hub::v1::FollowUpChecked& check = event.follow_up_checked();
      hub::v1::CaseFacts::FollowUp* fact = facts->add_follow_ups();
      fact->set_day(DayOf(event, check.checked_on()));
      fact->set_months_after_closure(check.months_after_closure());
      fact->set_police_incidents(check.police_incidents_since_closure());
      fact->set_repeat_referral(check.repeat_referral());
      break;
    }
    default:
      // Disclosure decisions, children's services' updates and the hub's
      // own records are not counted; corrections arrive already applied.
      break;
  }
}

}  // namespace hub::services
