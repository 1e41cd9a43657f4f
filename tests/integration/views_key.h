// Test helper: the key hubd's views are encrypted under, taken from its
// keys folder as an insider holding that folder could take it.
#ifndef HUB_TESTS_INTEGRATION_VIEWS_KEY_H_
#define HUB_TESTS_INTEGRATION_VIEWS_KEY_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"

#include "auth/data_keys.h"
#include "auth/key_encryption.h"

namespace hub::testing {

// `keys_dir`: the hub's keys folder (its kek/ and data-keys/).
inline absl::StatusOr<std::string> ViewsKeyOf(const std::string& keys_dir,
                                              const std::string& data_dir) {
  auto keks = auth::KeyFolder::Open(keys_dir + "/kek", data_dir);
  if (!keks.ok()) return keks.status();
  auto data_keys = auth::DataKeyStore::Open(
      keys_dir + "/data-keys", data_dir, std::shared_ptr<const auth::KeyFolder>(*std::move(keks)));
  if (!data_keys.ok()) return data_keys.status();
  return (*data_keys)->Get((*data_keys)->KeyId("hub", "views"));
}

}  // namespace hub::testing

#endif  // HUB_TESTS_INTEGRATION_VIEWS_KEY_H_
