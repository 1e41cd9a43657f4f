// A realistic Drive site for demonstrations and benchmarks: perpetrators
// referred over months through MARAC, the DAPP and MATAC, their victims and
// children, risk assessments, panels, allocations to four case managers,
// intervention plans with disruption and support strands, actions tasked
// to the partner agencies (some left overdue), IDVA safety updates,
// children's services updates, disclosure decisions and closures - each
// event as the agency that would record it publishes it.
//
// Deterministic: the same options give the same site, event ids included,
// so loading it twice is an idempotent retry. Nothing in it is real:
// subjects are pseudonymous ids, addresses are on "Example" streets and
// phone numbers are in Ofcom's range reserved for drama (07700 900xxx).
#ifndef HUB_TOOLS_DEMO_DEMO_SITE_H_
#define HUB_TOOLS_DEMO_DEMO_SITE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hub/v1/event_service.pb.h"
#include "hub/v1/sharing_protocol.pb.h"

namespace hub::tools {

struct DemoOptions {
  uint64_t seed = 2026;
  // 1.0: about 175 perpetrators, 174 victims and 211 children; 10 and 100
  // for benchmarks.
  double scale = 1.0;
  // Referrals arrive over `months` months up to `end_date`; no event is
  // after it. The default is fixed so the site is the same on every run.
  hub::v1::CalendarDate end_date = DefaultEndDate();
  int months = 21;

  static hub::v1::CalendarDate DefaultEndDate() {
    hub::v1::CalendarDate date;
    date.set_year(2026);
    date.set_month(11);
    date.set_day(20);
    return date;
  }
};

// One publish: which principal sends it (its client certificate's name as
// deploy/certs.sh makes it, e.g. "police-agency") and what.
struct DemoPublish {
  std::string publisher;
  hub::v1::PublishRequest request;
};

struct DemoCase {
  std::string case_id;
  // In order: each case's publishes must be sent one after another.
  std::vector<DemoPublish> publishes;
};

struct DemoSite {
  std::vector<DemoCase> cases;
  // Perpetrators referred, one per case (a repeat referral counts again).
  uint64_t perpetrators = 0;
  // Cases of a perpetrator referred in another case in the year before.
  uint64_t repeat_referrals = 0;
  uint64_t victims = 0;
  uint64_t children = 0;
  uint64_t events = 0;
  uint64_t actions = 0;
  // Actions still open after their due date at end_date.
  uint64_t overdue_actions = 0;
  uint64_t closed_cases = 0;
};

DemoSite GenerateDemoSite(const DemoOptions& options);

// A protocol's principals by the names deploy/certs.sh gives their client
// certificates ("<agency>-<role>", e.g. "police-agency"): the names
// DemoPublish::publisher uses.
std::map<std::string, hub::v1::Principal> PrincipalsByCertificateName(
    const hub::v1::SharingProtocol& protocol);

}  // namespace hub::tools

#endif  // HUB_TOOLS_DEMO_DEMO_SITE_H_
