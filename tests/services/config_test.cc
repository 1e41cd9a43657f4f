#include "services/config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace hub::services {
namespace {

using ::hub::testing::StatusIs;
using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* file : {"ca.crt", "server/hubd.crt", "server/hubd.key"}) {
      std::filesystem::create_directories(dir_.Sub("data/certs/server"));
      std::ofstream(dir_.Sub(std::string("data/certs/") + file)) << "x";
    }
    std::filesystem::create_directories(dir_.Sub("data/certs/crl"));
    std::ofstream(dir_.Sub("protocol.textproto")) << "";
  }

  absl::StatusOr<hub::v1::HubConfig> Load(const std::string& text) {
    const std::string path = dir_.Sub("hubd.textproto");
    std::ofstream(path) << "data_dir: \"" << dir_.Sub("data") << "\"\nsharing_protocol_path: \""
                        << dir_.Sub("protocol.textproto") << "\"\n"
                        << text;
    return LoadHubConfig(path, ConfigOverrides());
  }

  hub::testing::TempDir dir_;
};

TEST_F(ConfigTest, DefaultsFillEveryAbsentField) {
  auto config = Load("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen_address(), "127.0.0.1:7443");
  EXPECT_EQ(config->tls().ca_cert_path(), dir_.Sub("data") + "/certs/ca.crt");
  EXPECT_EQ(config->tls().crl_dir(), dir_.Sub("data") + "/certs/crl");
  EXPECT_EQ(config->tls().reload_interval_seconds(), 30u);
  EXPECT_EQ(config->limits().max_event_bytes(), 65536u);
  EXPECT_EQ(config->limits().max_events_per_append(), 256u);
}

TEST_F(ConfigTest, OverridesWin) {
  ConfigOverrides overrides;
  overrides.listen_address = "0.0.0.0:9000";
  const std::string path = dir_.Sub("hubd.textproto");
  std::ofstream(path) << "listen_address: \"127.0.0.1:1\"\ndata_dir: \"" << dir_.Sub("data")
                      << "\"\nsharing_protocol_path: \"" << dir_.Sub("protocol.textproto")
                      << "\"\n";
  auto config = LoadHubConfig(path, overrides);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen_address(), "0.0.0.0:9000");
}

TEST_F(ConfigTest, ErrorsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"listen_address: \"nowhere\"", "listen_address: \"nowhere\" is not host:port"},
      {"listen_address: \"h:99999\"", "listen_address"},
      {"tls { ca_cert_path: \"/missing/ca.crt\" }", "tls.ca_cert_path: cannot read /missing"},
      {"tls { crl_dir: \"/missing\" }", "tls.crl_dir: /missing is not a folder"},
      {"tls { allow_no_crl: true crl_dir: \"/x\" }", "tls.allow_no_crl"},
      {"limits { max_event_bytes: 99999999 }", "limits.max_event_bytes"},
      {"limits { max_events_per_append: 20000 }", "limits.max_events_per_append"},
      {"limits { max_case_id_bytes: 1000 }", "limits.max_case_id_bytes"},
      {"keepalive { time_seconds: 100000 }", "keepalive.time_seconds"},
      {"limits { max_text_bytes: 9000 }", "limits.max_text_bytes"},
      {"no_such_option: 1", "hubd.textproto:3:15: Message type \"hub.v1.HubConfig\" has no field"},
  };
  for (const auto& [text, message] : cases) {
    EXPECT_THAT(Load(text), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << text;
  }
}

TEST_F(ConfigTest, AMissingFileIsNotFound) {
  EXPECT_THAT(LoadHubConfig(dir_.Sub("absent.textproto"), ConfigOverrides()),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace hub::services
