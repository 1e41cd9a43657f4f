#include "tools/demo/demo_site.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

#include "storage/hash_chain.h"

namespace hub::tools {
namespace {

using absl::CivilDay;
using hub::v1::EventEnvelope;

// Who publishes what: client certificate names from deploy/certs.sh dev
// (housing and health publish nothing in the demonstration site).
constexpr char kPolice[] = "police-agency";
constexpr char kProbation[] = "probation-agency";
constexpr char kChildrens[] = "childrens-services-agency";
constexpr char kIdva[] = "idva-agency";
constexpr char kDrive[] = "drive-agency";
constexpr char kCoordinator[] = "dapp-coordinator";

constexpr char kLawEnforcement[] = "DPA 2018 Part 3 s35 (law enforcement processing)";
constexpr char kSafeguarding[] =
    "UK GDPR Art 6(1)(e) and Art 9(2)(g); DPA 2018 Sch 1 para 18 (safeguarding)";
constexpr char kPublicTask[] = "UK GDPR Art 6(1)(e); DPA 2018 s8";

constexpr int kCaseManagers = 4;
constexpr size_t kMaxEventsPerPublish = 64;

// Deterministic across platforms: only the engine's raw output is used
// (the standard fixes mt19937_64's sequence; its distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Below(uint64_t n) { return engine_() % n; }
  int Between(int low, int high) { return low + static_cast<int>(Below(high - low + 1)); }
  bool Chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  std::mt19937_64 engine_;
};

hub::v1::CalendarDate DateOf(CivilDay day) {
  hub::v1::CalendarDate date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

CivilDay DayOf(const hub::v1::CalendarDate& date) {
  return CivilDay(date.year(), date.month(), date.day());
}

std::string UuidFrom(const std::string& seed) {
  const std::string hex = storage::DigestToHex(storage::Sha256(seed));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-4", hex.substr(13, 3), "-8",
                      hex.substr(17, 3), "-", hex.substr(20, 12));
}

std::string SubjectId(char kind, Rng& rng) {
  return absl::StrFormat("%c-%06X", kind, static_cast<unsigned>(rng.Below(0x1000000)));
}

const std::vector<std::string>& ActionsFor(const std::string& agency) {
  static const auto* kActions = new std::map<std::string, std::vector<std::string>>{
      {"police",
       {"Flag the victim's address for an urgent response", "Review bail conditions with CPS",
        "Apply for a Domestic Abuse Protection Order",
        "Serve the DVPN and arrange the DVPO hearing", "Complete a welfare visit with the IDVA"}},
      {"probation",
       {"Add domestic abuse licence conditions",
        "Refer to the Building Better Relationships "
        "programme",
        "Share the perpetrator's reporting schedule with Drive",
        "Review the risk management plan"}},
      {"childrens-services",
       {"Hold a strategy discussion for the children", "Complete a child and family assessment",
        "Convene an initial child protection conference", "Share the school's safeguarding lead"}},
      {"housing",
       {"Review the tenancy and consider a management transfer",
        "Fit sanctuary scheme target hardening", "Assess the perpetrator for alternative housing",
        "Flag the household on the housing system"}},
      {"health",
       {"Offer a mental health assessment", "Refer to community alcohol services",
        "Inform the GP of the MARAC outcome", "Review medication with the substance misuse team"}},
  };
  return kActions->at(agency);
}

// Builds one case's events in any order, then sorts them by time and groups
// them into publishes.
class CaseBuilder {
 public:
  CaseBuilder(std::string case_id, uint64_t seed, CivilDay end)
      : case_id_(std::move(case_id)), seed_(seed), end_(end) {}

  // Adds an event on `day` at `hour`:`minute`; events on or after the end
  // date are left out (they have not happened yet). The pointer stays
  // valid until Finish().
  EventEnvelope* Add(CivilDay day, int hour, int minute, const std::string& publisher,
                     hub::v1::Purpose purpose, const std::string& lawful_basis) {
    Pending pending;
    pending.happened = day < end_;
    pending.when = absl::CivilSecond(day.year(), day.month(), day.day(), hour, minute, 0);
    pending.order = pending_.size();
    pending.publisher = publisher;
    pending.envelope.set_purpose(purpose);
    pending.envelope.set_lawful_basis(lawful_basis);
    pending_.push_back(std::move(pending));
    return &pending_.back().envelope;
  }

  // Adds a correction of `target` (an event added before, happening
  // earlier); its corrected_event_id is filled in once ids are given.
  EventEnvelope* AddCorrection(CivilDay day, int hour, int minute, const std::string& publisher,
                               hub::v1::Purpose purpose, const std::string& lawful_basis,
                               const EventEnvelope* target) {
    size_t target_order = 0;
    for (const Pending& pending : pending_) {
      if (&pending.envelope == target) target_order = pending.order;
    }
    EventEnvelope* correction = Add(day, hour, minute, publisher, purpose, lawful_basis);
    pending_.back().corrects = target_order;
    return correction;
  }

  DemoCase Finish(uint64_t* events) {
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [](const Pending& pending) { return !pending.happened; }),
                   pending_.end());
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Pending& a, const Pending& b) { return a.when < b.when; });
    DemoCase result;
    result.case_id = case_id_;
    std::map<size_t, std::string> id_of_order;
    for (size_t i = 0; i < pending_.size(); ++i) {
      Pending& pending = pending_[i];
      const absl::Time time = absl::FromCivil(pending.when, absl::UTCTimeZone());
      pending.envelope.mutable_occurred_time()->set_seconds(absl::ToUnixSeconds(time));
      pending.envelope.set_event_id(UuidFrom(absl::StrCat("demo/", seed_, "/", case_id_, "/", i)));
      id_of_order[pending.order] = pending.envelope.event_id();
      if (pending.corrects.has_value()) {
        pending.envelope.mutable_record_corrected()->set_corrected_event_id(
            id_of_order[*pending.corrects]);
      }
      if (result.publishes.empty() || result.publishes.back().publisher != pending.publisher ||
          static_cast<size_t>(result.publishes.back().request.events_size()) >=
              kMaxEventsPerPublish) {
        result.publishes.push_back(DemoPublish{pending.publisher, {}});
        result.publishes.back().request.set_case_id(case_id_);
      }
      *result.publishes.back().request.add_events() = std::move(pending.envelope);
      ++*events;
    }
    return result;
  }

 private:
  struct Pending {
    absl::CivilSecond when;
    // False for an event after the end date: built, then left out.
    bool happened = true;
    size_t order = 0;
    std::string publisher;
    EventEnvelope envelope;
    // For a correction: the order of the event it corrects.
    std::optional<size_t> corrects;
  };
  const std::string case_id_;
  const uint64_t seed_;
  const CivilDay end_;
  // A deque: Add's pointers stay valid while more events are added.
  std::deque<Pending> pending_;
};

struct CasePlan {
  CivilDay referred;
  int victims = 0;
  int children = 0;
};

class CaseGenerator {
 public:
  CaseGenerator(const DemoOptions& options, DemoSite* site) : options_(options), site_(site) {}

  DemoCase Generate(const std::string& case_id, uint64_t index, const CasePlan& plan) {
    Rng rng(options_.seed * 0x9E3779B97F4A7C15ULL + index);
    // The facts added for the governance report and the evaluation (needs,
    // consent, attendance, victims' and children's support, follow-ups)
    // draw from their own generator, so that the rest of the site is as it
    // was.
    Rng more(options_.seed * 0x9FB21C651E98DF25ULL + index);
    auto consent = [&more](bool asked_by_idva) {
      hub::v1::SharingConsent given;
      const uint64_t roll = more.Below(100);
      if (roll < (asked_by_idva ? 75u : 55u)) {
        given.set_decision(hub::v1::CONSENT_GIVEN);
      } else if (roll < 85) {
        given.set_decision(hub::v1::CONSENT_REFUSED_OVERRIDDEN);
        given.set_ground(more.Chance(0.7) ? hub::v1::RISK_OF_SERIOUS_HARM
                                          : hub::v1::CHILD_PROTECTION);
      } else {
        given.set_decision(hub::v1::CONSENT_NOT_SOUGHT_UNSAFE);
        given.set_ground(hub::v1::RISK_OF_SERIOUS_HARM);
      }
      return given;
    };
    const CivilDay end = DayOf(options_.end_date);
    CaseBuilder c(case_id, options_.seed, end);
    const CivilDay r = plan.referred;

    // Referral and subjects.
    const uint64_t route_roll = rng.Below(100);
    const hub::v1::ReferralRoute route = route_roll < 55   ? hub::v1::ROUTE_MARAC
                                         : route_roll < 85 ? hub::v1::ROUTE_DAPP
                                                           : hub::v1::ROUTE_MATAC;
    std::string referrer = kPolice;
    if (route == hub::v1::ROUTE_MARAC) {
      referrer = rng.Pick(std::vector<std::string>{kPolice, kPolice, kPolice, kIdva, kChildrens});
    } else if (route == hub::v1::ROUTE_DAPP) {
      referrer = rng.Chance(0.5) ? kPolice : kProbation;
    }
    const std::string referring_agency = referrer.substr(0, referrer.rfind('-'));
    const bool accepted = rng.Chance(0.92);
    {
      auto* e = c.Add(r, 9, 30, referrer, hub::v1::PURPOSE_CASE_MANAGEMENT,
                      referrer == kPolice ? kLawEnforcement : kPublicTask);
      auto* referral = e->mutable_referral_received();
      referral->set_route(route);
      referral->set_referring_agency(referring_agency);
      *referral->mutable_referred_on() = DateOf(r);
      if (route == hub::v1::ROUTE_MARAC) {
        const uint64_t roll = rng.Below(100);
        referral->set_marac_criterion(roll < 60   ? hub::v1::VISIBLE_HIGH_RISK
                                      : roll < 80 ? hub::v1::PROFESSIONAL_JUDGEMENT
                                      : roll < 95 ? hub::v1::POTENTIAL_ESCALATION
                                                  : hub::v1::REPEAT_MARAC);
      } else {
        referral->set_marac_criterion(hub::v1::NOT_A_MARAC_REFERRAL);
      }
      referral->set_eligibility(accepted ? hub::v1::ACCEPTED : hub::v1::DECLINED);
      if (!accepted) {
        const std::vector<std::pair<std::string, hub::v1::DeclineReason>> reasons = {
            {"Already engaged with an accredited behaviour change programme",
             hub::v1::ALREADY_IN_A_PROGRAMME},
            {"Moved out of the area before allocation", hub::v1::OUT_OF_AREA},
            {"Below the threshold for a high-harm intervention", hub::v1::BELOW_THRESHOLD}};
        const auto& [reason, category] = rng.Pick(reasons);
        referral->set_decline_reason(reason);
        referral->set_decline_category(category);
      }
      referral->set_serial_perpetrator(rng.Chance(0.3) || route == hub::v1::ROUTE_MATAC);
      referral->set_repeat_perpetrator(rng.Chance(0.6));
      referral->set_police_incidents_prior_six_months(rng.Between(0, 8));
      std::string perpetrator = SubjectId('P', rng);
      // Now and then a perpetrator referred in the year before is referred
      // again, in a case of its own.
      if (more.Chance(0.1)) {
        for (auto earlier = referred_.rbegin(); earlier != referred_.rend(); ++earlier) {
          if (earlier->first < r - 20 && earlier->first >= r - 365) {
            perpetrator = earlier->second;
            ++site_->repeat_referrals;
            break;
          }
        }
      }
      referred_.emplace_back(r, perpetrator);
      c.Add(r, 9, 31, referrer, hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
          ->mutable_subject_linked()
          ->mutable_perpetrator()
          ->set_subject_id(perpetrator);
    }
    std::vector<std::string> victims;
    for (int v = 0; v < plan.victims; ++v) {
      victims.push_back(SubjectId('V', rng));
      auto* victim = c.Add(r, 9, 32, route == hub::v1::ROUTE_MARAC ? kIdva : referrer,
                           hub::v1::PURPOSE_SAFEGUARDING, kSafeguarding)
                         ->mutable_subject_linked()
                         ->mutable_victim();
      victim->set_subject_id(victims.back());
      victim->set_relationship_to_perpetrator(
          v == 0 ? (rng.Chance(0.55) ? hub::v1::CURRENT_PARTNER : hub::v1::EX_PARTNER)
                 : rng.Pick(std::vector<hub::v1::Relationship>{hub::v1::EX_PARTNER,
                                                               hub::v1::FAMILY_MEMBER}));
      if (rng.Chance(0.8)) victim->add_supporting_agencies("idva");
    }
    std::vector<std::string> children;
    for (int k = 0; k < plan.children; ++k) {
      children.push_back(SubjectId('K', rng));
      auto* child = c.Add(r + 1, 11, k, kChildrens, hub::v1::PURPOSE_SAFEGUARDING, kSafeguarding)
                        ->mutable_subject_linked()
                        ->mutable_child();
      child->set_subject_id(children.back());
      child->set_relationship(rng.Pick(std::vector<hub::v1::Relationship>{
          hub::v1::CHILD_OF_BOTH, hub::v1::CHILD_OF_BOTH, hub::v1::CHILD_OF_VICTIM,
          hub::v1::CHILD_OF_PERPETRATOR}));
      child->set_age_years(rng.Between(0, 16));
      child->add_supporting_agencies("childrens-services");
    }

    // Initial risk assessment.
    hub::v1::RiskLevel risk = hub::v1::RISK_HIGH;
    {
      const bool by_idva = route == hub::v1::ROUTE_MARAC && !victims.empty() && rng.Chance(0.5);
      auto* e = c.Add(r + rng.Between(0, 2), 14, 0, by_idva ? kIdva : kPolice,
                      hub::v1::PURPOSE_SAFEGUARDING, by_idva ? kSafeguarding : kLawEnforcement);
      auto* assessed = e->mutable_risk_assessed();
      if (!victims.empty()) assessed->set_victim_subject_id(victims[0]);
      if (route == hub::v1::ROUTE_MATAC) {
        assessed->set_tool(hub::v1::RFG);
        assessed->set_rfg_score(rng.Between(45, 98));
      } else if (route == hub::v1::ROUTE_MARAC) {
        assessed->set_tool(hub::v1::DASH);
        const bool judgement = rng.Chance(0.25);
        assessed->set_dash_yes_count(judgement ? rng.Between(9, 13) : rng.Between(14, 22));
        assessed->set_raised_by_professional_judgement(judgement);
      } else {
        assessed->set_tool(hub::v1::PROFESSIONAL_ASSESSMENT);
        risk = rng.Chance(0.6) ? hub::v1::RISK_HIGH : hub::v1::RISK_MEDIUM;
      }
      assessed->set_risk_level(risk);
      if (!victims.empty()) *assessed->mutable_consent() = consent(by_idva);
      assessed->add_abuse_types(hub::v1::PHYSICAL);
      if (rng.Chance(0.7)) assessed->add_abuse_types(hub::v1::JEALOUS_CONTROLLING);
      if (rng.Chance(0.3)) assessed->add_abuse_types(hub::v1::HARASSMENT_STALKING);
      if (rng.Chance(0.15)) assessed->add_abuse_types(hub::v1::SEXUAL);
      if (!victims.empty()) {
        assessed->set_assessor_notes(rng.Pick(std::vector<std::string>{
            "Victim describes escalating control of money and phone; fears separation.",
            "Strangulation disclosed in the last incident; pregnant.",
            "Threats to kill made in front of the children; victim wants to stay in the home."}));
      }
    }
    if (!accepted) {
      auto* closed = c.Add(r + rng.Between(3, 10), 16, 0, kCoordinator,
                           hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
                         ->mutable_case_closed();
      closed->set_reason(hub::v1::NOT_ELIGIBLE);
      ++site_->closed_cases;
      return c.Finish(&site_->events);
    }

    // The panel, and the actions it agrees.
    const CivilDay panel_day = r + rng.Between(5, 20);
    const hub::v1::PanelType panel_type = route == hub::v1::ROUTE_MARAC  ? hub::v1::MARAC_PANEL
                                          : route == hub::v1::ROUTE_DAPP ? hub::v1::DAPP_PANEL
                                                                         : hub::v1::MATAC_PANEL;
    const std::string panel_id = absl::StrCat(panel_type == hub::v1::MARAC_PANEL  ? "MARAC"
                                              : panel_type == hub::v1::DAPP_PANEL ? "DAPP"
                                                                                  : "MATAC",
                                              "-", absl::FormatCivilTime(panel_day));
    const int actions = rng.Between(2, 5);
    {
      auto* outcome = c.Add(panel_day, 10, 0, kCoordinator, hub::v1::PURPOSE_PANEL, kPublicTask)
                          ->mutable_panel_outcome();
      outcome->set_panel(panel_type);
      outcome->set_panel_id(panel_id);
      *outcome->mutable_held_on() = DateOf(panel_day);
      outcome->set_summary(
          "Case heard. Safety planning for the victim and a coordinated disruption and support "
          "plan for the perpetrator agreed.");
      outcome->set_actions_agreed(actions);
      *outcome->mutable_next_review_on() = DateOf(panel_day + 182);
      outcome->set_repeat_referral(rng.Chance(0.1));
      for (const char* agency :
           {"police", "idva", "probation", "childrens-services", "housing", "health", "drive"}) {
        if (more.Chance(std::string(agency) == "police" ? 0.97 : 0.8)) {
          outcome->add_agencies_present(agency);
        }
      }
    }
    std::vector<std::string> owners = {"police", "probation", "housing", "health"};
    if (!children.empty()) owners.push_back("childrens-services");
    for (int a = 0; a < actions; ++a) {
      const std::string owner = rng.Pick(owners);
      const std::string owner_publisher = owner + "-agency";
      const std::string action_id = absl::StrCat(case_id, "-A", a + 1);
      CivilDay due = panel_day + rng.Between(14, 56);
      auto* tasked = c.Add(panel_day, 10, 10 + a, kCoordinator, hub::v1::PURPOSE_PANEL, kPublicTask)
                         ->mutable_action_tasked();
      tasked->set_action_id(action_id);
      tasked->set_owner_agency(owner);
      tasked->set_description(rng.Pick(ActionsFor(owner)));
      *tasked->mutable_due_on() = DateOf(due);
      tasked->set_panel_id(panel_id);
      if (panel_day < end) ++site_->actions;
      const uint64_t roll = rng.Below(100);
      bool open = true;
      if (roll < 80) {
        const CivilDay done = std::max(panel_day + 3, due + rng.Between(-10, 7));
        auto* completed = c.Add(done, 15, a, owner_publisher, hub::v1::PURPOSE_CASE_MANAGEMENT,
                                owner == "police" ? kLawEnforcement : kPublicTask)
                              ->mutable_action_completed();
        completed->set_action_id(action_id);
        completed->set_final_status(rng.Chance(0.9)
                                        ? hub::v1::ACTION_COMPLETED
                                        : hub::v1::ACTION_NOT_DONE_CIRCUMSTANCES_CHANGED);
        *completed->mutable_completed_on() = DateOf(done);
        completed->set_outcome("Done and recorded on the agency's own system.");
        open = done >= end;
      } else if (roll < 92) {
        auto* updated = c.Add(panel_day + 7, 12, a, owner_publisher,
                              hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
                            ->mutable_action_updated();
        updated->set_action_id(action_id);
        updated->set_status(hub::v1::ACTION_IN_PROGRESS);
        updated->set_note("Started; waiting on a partner agency.");
        if (rng.Chance(0.5)) {
          due = due + 14;
          *updated->mutable_due_on() = DateOf(due);
        }
        if (panel_day + 7 >= end) due = DayOf(tasked->due_on());  // the update is yet to come
      }
      if (open && panel_day < end && due < end) ++site_->overdue_actions;
    }

    // Allocation, the plan and the work with the perpetrator.
    const CivilDay allocated = panel_day + rng.Between(1, 7);
    {
      auto* allocation =
          c.Add(allocated, 11, 0, kDrive, hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
              ->mutable_case_allocated();
      allocation->set_case_manager_id(absl::StrCat("CM-0", 1 + index % kCaseManagers));
      *allocation->mutable_allocated_on() = DateOf(allocated);
    }
    {
      const CivilDay assessed_on = allocated + more.Between(2, 10);
      auto* needs = c.Add(assessed_on, 12, 0, kDrive, hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
                        ->mutable_needs_assessed();
      *needs->mutable_assessed_on() = DateOf(assessed_on);
      needs->add_needs(hub::v1::NEED_ATTITUDES_TO_ABUSE);
      for (hub::v1::PerpetratorNeed need :
           {hub::v1::NEED_SUBSTANCE_MISUSE, hub::v1::NEED_MENTAL_HEALTH, hub::v1::NEED_HOUSING,
            hub::v1::NEED_EMPLOYMENT, hub::v1::NEED_FINANCES, hub::v1::NEED_PARENTING}) {
        if (more.Chance(0.35)) needs->add_needs(need);
      }
      needs->set_notes("Drinks most days; low mood since the separation; no stable address.");
    }
    {
      auto* plan_agreed = c.Add(allocated + rng.Between(7, 14), 13, 0, kDrive,
                                hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
                              ->mutable_intervention_plan_agreed();
      plan_agreed->add_disruption_goals("Coordinate bail and order conditions with the police");
      if (rng.Chance(0.5))
        plan_agreed->add_disruption_goals("Pursue a DAPO with positive requirements");
      plan_agreed->add_support_goals(hub::v1::BEHAVIOUR_CHANGE_PROGRAMME);
      if (rng.Chance(0.4)) plan_agreed->add_support_goals(hub::v1::SUBSTANCE_MISUSE);
      if (rng.Chance(0.3)) plan_agreed->add_support_goals(hub::v1::HOUSING_SUPPORT);
      if (rng.Chance(0.3)) plan_agreed->add_support_goals(hub::v1::MENTAL_HEALTH);
      *plan_agreed->mutable_review_on() = DateOf(allocated + 90);
      plan_agreed->add_abuse_types_at_start(hub::v1::PHYSICAL);
      plan_agreed->add_abuse_types_at_start(hub::v1::JEALOUS_CONTROLLING);
    }
    const CivilDay closes = allocated + rng.Between(180, 420);
    const bool closing = closes < end && rng.Chance(0.8);
    const CivilDay last = closing ? closes : end;
    for (CivilDay day = allocated + 3; day < last; day += rng.Between(10, 21)) {
      const uint64_t roll = rng.Below(100);
      auto* engagement = c.Add(day, 14, 30, kDrive, hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
                             ->mutable_engagement_recorded();
      engagement->set_kind(roll < 65   ? hub::v1::SESSION_ATTENDED
                           : roll < 85 ? hub::v1::SESSION_MISSED
                           : roll < 95 ? hub::v1::UNABLE_TO_CONTACT
                                       : hub::v1::CONTACT_REFUSED);
      *engagement->mutable_session_date() = DateOf(day);
      engagement->set_case_manager_notes(rng.Pick(std::vector<std::string>{
          "Worked on the impact of his behaviour on the children.",
          "Discussed compliance with bail conditions; minimised the last incident.",
          "Practical support with benefits; more open than last session."}));
    }
    const int disruptions = rng.Between(1, 3);
    for (int d = 0; d < disruptions; ++d) {
      const CivilDay day = r + static_cast<int>(rng.Below(std::max<int64_t>(1, last - r)));
      const bool by_police = rng.Chance(0.75);
      auto* disruption = c.Add(day, 18, d, by_police ? kPolice : kProbation,
                               hub::v1::PURPOSE_DISRUPTION, kLawEnforcement)
                             ->mutable_disruption_recorded();
      const hub::v1::DisruptionKind kind =
          by_police ? rng.Pick(std::vector<hub::v1::DisruptionKind>{
                          hub::v1::ARREST, hub::v1::CHARGE, hub::v1::BAIL_CONDITIONS, hub::v1::DVPN,
                          hub::v1::DVPO, hub::v1::DAPO, hub::v1::BREACH})
                    : rng.Pick(std::vector<hub::v1::DisruptionKind>{hub::v1::RECALL,
                                                                    hub::v1::BAIL_CONDITIONS});
      disruption->set_kind(kind);
      *disruption->mutable_effective_on() = DateOf(day);
      if (kind == hub::v1::DVPO) *disruption->mutable_expires_on() = DateOf(day + 28);
      if (kind == hub::v1::DAPO) *disruption->mutable_expires_on() = DateOf(day + 365);
      if (kind == hub::v1::DVPO || kind == hub::v1::DAPO || kind == hub::v1::BAIL_CONDITIONS) {
        disruption->set_conditions("Not to contact the victim directly or indirectly.");
        for (const std::string& victim : victims) disruption->add_protected_subject_ids(victim);
        if (!victims.empty()) {
          disruption->set_exclusion_zone(absl::StrCat("No entry to ", rng.Between(1, 99),
                                                      " Example Road, Exampletown, or within "
                                                      "100 m of it"));
        }
        disruption->set_electronic_monitoring(kind == hub::v1::DAPO && rng.Chance(0.3));
      }
    }
    const int supports = rng.Between(1, 2);
    for (int s = 0; s < supports; ++s) {
      const CivilDay day = allocated + rng.Between(14, 60);
      if (day >= last) continue;
      const bool health = rng.Chance(0.6);
      auto* support = c.Add(day, 12, s, kDrive, hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
                          ->mutable_support_referral_made();
      if (health) {
        support->set_service(rng.Chance(0.5) ? hub::v1::SUBSTANCE_MISUSE : hub::v1::MENTAL_HEALTH);
        support->set_provider_agency("health");
        support->set_clinical_notes(
            "Alcohol use daily; referred for assessment by the community alcohol team.");
      } else {
        support->set_service(hub::v1::HOUSING_SUPPORT);
        support->set_provider_agency("housing");
        support->set_housing_notes("Sofa-surfing since the DVPO; needs a single-person tenancy.");
      }
      support->set_accepted(rng.Chance(0.8));
    }

    // The IDVA's and children's services' updates. Corrections draw from
    // their own generator, so that the rest of the site is as it was.
    Rng fixes(options_.seed * 0x2545F4914F6CDD1DULL + index);
    for (size_t v = 0; v < victims.size(); ++v) {
      for (CivilDay day = r + rng.Between(3, 10); day < last; day += rng.Between(30, 60)) {
        EventEnvelope* update = c.Add(day, 16, static_cast<int>(v), kIdva,
                                      hub::v1::PURPOSE_SAFEGUARDING, kSafeguarding);
        auto* safety = update->mutable_victim_safety_information();
        safety->set_victim_subject_id(victims[v]);
        safety->set_risk_change(rng.Pick(
            std::vector<hub::v1::RiskChange>{hub::v1::UNCHANGED, hub::v1::REDUCED, hub::v1::REDUCED,
                                             hub::v1::SIGNIFICANTLY_REDUCED, hub::v1::INCREASED}));
        safety->set_safety_plan_in_place(rng.Chance(0.85));
        *safety->mutable_consent() = consent(true);
        if (rng.Chance(0.2)) {
          safety->set_in_refuge(true);
          safety->set_current_address("Refuge (address held by the IDVA service)");
        } else {
          safety->set_current_address(
              absl::StrFormat("Flat %d, %d Example Street, Exampletown "
                              "EX1 %dAB",
                              rng.Between(1, 12), rng.Between(1, 120), rng.Between(1, 9)));
          // A wrong house number, put right by the IDVA a few days later.
          if (fixes.Chance(0.1)) {
            auto* correction =
                c.AddCorrection(day + fixes.Between(2, 6), 9, static_cast<int>(v), kIdva,
                                hub::v1::PURPOSE_SAFEGUARDING, kSafeguarding, update)
                    ->mutable_record_corrected();
            correction->add_fields("current_address");
            correction->set_reason(
                "The house number was recorded wrongly; corrected from the tenancy agreement.");
            auto* values = correction->mutable_victim_safety_information();
            values->set_victim_subject_id(victims[v]);
            values->set_current_address(
                absl::StrFormat("Flat %d, %d Example Street, Exampletown EX1 %dAB",
                                fixes.Between(1, 12), fixes.Between(1, 120), fixes.Between(1, 9)));
          }
        }
        safety->set_safe_phone_number(absl::StrFormat("07700 900%03d", rng.Between(0, 999)));
        safety->set_disclosure_notes(rng.Pick(std::vector<std::string>{
            "Feels safer since the order; still receiving messages through a friend.",
            "Disclosed a new assault not reported to the police; does not want it shared.",
            "Worried about contact arrangements for the children."}));
      }
    }
    for (size_t v = 0; v < victims.size(); ++v) {
      if (!more.Chance(0.6)) continue;
      const CivilDay day = r + more.Between(7, 60);
      auto* support =
          c.Add(day, 15, static_cast<int>(v), kIdva, hub::v1::PURPOSE_SAFEGUARDING, kSafeguarding)
              ->mutable_victim_support_referred();
      support->set_victim_subject_id(victims[v]);
      support->set_service(more.Pick(std::vector<hub::v1::VictimSupportService>{
          hub::v1::FAMILY_JUSTICE_CENTRE, hub::v1::FAMILY_JUSTICE_CENTRE, hub::v1::REFUGE,
          hub::v1::SPECIALIST_DOMESTIC_ABUSE_SERVICE, hub::v1::SANCTUARY_SCHEME,
          hub::v1::COUNSELLING}));
      support->set_outcome(more.Pick(std::vector<hub::v1::SupportOutcome>{
          hub::v1::SUPPORT_TAKEN_UP, hub::v1::SUPPORT_TAKEN_UP, hub::v1::SUPPORT_TAKEN_UP,
          hub::v1::SUPPORT_OFFERED, hub::v1::SUPPORT_DECLINED, hub::v1::SUPPORT_NOT_AVAILABLE}));
      *support->mutable_referred_on() = DateOf(day);
      support->set_notes("Wants help with the children's school move; agreed to a safety visit.");
    }
    for (size_t k = 0; k < children.size(); ++k) {
      for (CivilDay day = r + more.Between(10, 30); day < last; day += more.Between(21, 45)) {
        auto* contact = c.Add(day, 15, 30 + static_cast<int>(k), kChildrens,
                              hub::v1::PURPOSE_SAFEGUARDING, kSafeguarding)
                            ->mutable_child_worker_contact();
        contact->set_child_subject_id(children[k]);
        contact->set_kind(more.Pick(std::vector<hub::v1::ChildContactKind>{
            hub::v1::CHILD_SESSION, hub::v1::CHILD_SESSION, hub::v1::CHILD_GROUP_SESSION,
            hub::v1::CHILD_CONTACT_ATTEMPTED}));
        *contact->mutable_contact_on() = DateOf(day);
        contact->set_worker_notes("Talked about feeling safe at home; drew the family.");
      }
    }
    for (size_t k = 0; k < children.size(); ++k) {
      for (CivilDay day = r + rng.Between(7, 21); day < last; day += rng.Between(60, 120)) {
        auto* child = c.Add(day, 10, static_cast<int>(k), kChildrens, hub::v1::PURPOSE_SAFEGUARDING,
                            kSafeguarding)
                          ->mutable_child_safeguarding_information();
        child->set_child_subject_id(children[k]);
        child->set_plan_status(rng.Pick(std::vector<hub::v1::ChildPlanStatus>{
            hub::v1::CHILD_IN_NEED, hub::v1::CHILD_PROTECTION_PLAN, hub::v1::NO_PLAN}));
        child->set_school("Example Primary School, Exampletown");
        child->set_social_worker_notes("Seen alone at school; says home is calmer.");
      }
    }
    if (rng.Chance(0.15)) {
      const CivilDay day = r + rng.Between(20, 120);
      auto* decision = c.Add(day, 15, 0, kPolice, hub::v1::PURPOSE_SAFEGUARDING, kLawEnforcement)
                           ->mutable_disclosure_scheme_decision();
      decision->set_route(rng.Chance(0.6) ? hub::v1::RIGHT_TO_KNOW : hub::v1::RIGHT_TO_ASK);
      decision->set_disclosed(rng.Chance(0.7));
      *decision->mutable_decided_on() = DateOf(day);
      decision->set_recipient_subject_id(SubjectId('V', rng));
    }
    // A reassessment half-way through.
    if (!victims.empty() && allocated + 90 < last) {
      auto* reassessed =
          c.Add(allocated + 90, 14, 0, kIdva, hub::v1::PURPOSE_SAFEGUARDING, kSafeguarding)
              ->mutable_risk_assessed();
      reassessed->set_tool(hub::v1::DASH);
      reassessed->set_victim_subject_id(victims[0]);
      const int yes = rng.Between(5, 16);
      reassessed->set_dash_yes_count(yes);
      reassessed->set_risk_level(yes >= 14  ? hub::v1::RISK_HIGH
                                 : yes >= 9 ? hub::v1::RISK_MEDIUM
                                            : hub::v1::RISK_STANDARD);
    }
    if (closing) {
      auto* closed = c.Add(closes, 17, 0, kDrive, hub::v1::PURPOSE_CASE_MANAGEMENT, kPublicTask)
                         ->mutable_case_closed();
      const uint64_t roll = rng.Below(100);
      closed->set_reason(roll < 45   ? hub::v1::INTERVENTION_COMPLETED
                         : roll < 65 ? hub::v1::RISK_REDUCED
                         : roll < 80 ? hub::v1::PERPETRATOR_DISENGAGED
                         : roll < 90 ? hub::v1::IN_CUSTODY
                                     : hub::v1::MOVED_OUT_OF_AREA);
      *closed->mutable_closed_on() = DateOf(closes);
      closed->add_abuse_types_at_exit(hub::v1::JEALOUS_CONTROLLING);
      closed->set_idva_reported_risk_change(rng.Chance(0.7) ? hub::v1::SIGNIFICANTLY_REDUCED
                                                            : hub::v1::UNCHANGED);
      if (closes + 182 < end) closed->set_police_incidents_following_six_months(rng.Between(0, 2));
      ++site_->closed_cases;
      // Follow-up checks; those after the site's end are dropped with
      // everything else that has not happened yet.
      for (const int months : {6, 12}) {
        const CivilDay checked = closes + (months == 6 ? 183 : 366);
        auto* check =
            c.Add(checked, 11, months, kPolice, hub::v1::PURPOSE_CASE_MANAGEMENT, kLawEnforcement)
                ->mutable_follow_up_checked();
        check->set_months_after_closure(months);
        *check->mutable_checked_on() = DateOf(checked);
        check->set_police_incidents_since_closure(more.Between(0, months == 6 ? 2 : 3));
        check->set_repeat_referral(more.Chance(0.12));
      }
    }
    return c.Finish(&site_->events);
  }

 private:
  const DemoOptions& options_;
  DemoSite* const site_;
  // Each case's referral so far, in order: (day, perpetrator).
  std::vector<std::pair<CivilDay, std::string>> referred_;
};

}  // namespace

DemoSite GenerateDemoSite(const DemoOptions& options) {
  DemoSite site;
  const auto count = [&](double base) {
    return static_cast<int64_t>(std::llround(base * std::max(options.scale, 0.0)));
  };
  const int64_t perpetrators = std::max<int64_t>(count(175), 1);
  const int64_t victims = count(174);
  const int64_t children = count(211);
  Rng rng(options.seed);

  // Who has how many victims and children: exact totals, realistic spread.
  std::vector<CasePlan> plans(perpetrators);
  const CivilDay end = DayOf(options.end_date);
  const CivilDay start = CivilDay(end.year(), end.month() - options.months, end.day());
  const int64_t window = std::max<int64_t>(1, (end - 14) - start);
  for (CasePlan& plan : plans) plan.referred = start + static_cast<int64_t>(rng.Below(window));
  std::sort(plans.begin(), plans.end(),
            [](const CasePlan& a, const CasePlan& b) { return a.referred < b.referred; });
  for (int64_t v = 0; v < victims; ++v) {
    // Most have one victim; serial perpetrators have more.
    CasePlan& plan =
        v < perpetrators ? plans[v] : plans[rng.Below(static_cast<uint64_t>(perpetrators))];
    ++plan.victims;
  }
  for (int64_t moved = 0; moved < perpetrators / 12; ++moved) {
    CasePlan& from = plans[rng.Below(perpetrators)];
    CasePlan& to = plans[rng.Below(perpetrators)];
    if (from.victims > 0 && to.victims < 3) {
      --from.victims;
      ++to.victims;
    }
  }
  for (int64_t k = 0; k < children; ++k) {
    for (;;) {
      CasePlan& plan = plans[rng.Below(perpetrators)];
      if (plan.children < 4) {
        ++plan.children;
        break;
      }
    }
  }

  CaseGenerator generator(options, &site);
  for (int64_t i = 0; i < perpetrators; ++i) {
    const std::string case_id =
        absl::StrFormat("C-%04d-%05d", plans[i].referred.year(), static_cast<int>(i + 1));
    site.cases.push_back(generator.Generate(case_id, i, plans[i]));
    site.victims += plans[i].victims;
    site.children += plans[i].children;
  }
  site.perpetrators = perpetrators;
  return site;
}

std::map<std::string, hub::v1::Principal> PrincipalsByCertificateName(
    const hub::v1::SharingProtocol& protocol) {
  std::map<std::string, hub::v1::Principal> by_name;
  for (const hub::v1::Principal& principal : protocol.principals()) {
    std::string role = hub::v1::Role_Name(principal.role());
    for (char& c : role) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    by_name[principal.agency() + "-" + role] = principal;
  }
  return by_name;
}

}  // namespace hub::tools
