// `hubctl demo`: publishes the demonstration site through the real API,
// each event as the agency that would record it (with that agency's client
// certificate), several cases at a time.
#ifndef HUB_TOOLS_HUBCTL_DEMO_COMMAND_H_
#define HUB_TOOLS_HUBCTL_DEMO_COMMAND_H_

#include <string>

#include "tools/demo/demo_site.h"
#include "tools/hubctl/event_commands.h"

namespace hub::tools {

struct DemoLoad {
  DemoOptions site;
  std::string hub_address;
  // Holds ca.crt and clients/<name>.{crt,key} for every publishing agency.
  std::string certs_dir;
  // Cases published at once.
  int parallel = 8;
};

int LoadDemoSite(const DemoLoad& load, const OutputOptions& output);

}  // namespace hub::tools

#endif  // HUB_TOOLS_HUBCTL_DEMO_COMMAND_H_
