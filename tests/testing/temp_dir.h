// A fresh directory under the test's temporary folder, removed afterwards.
#ifndef HUB_TESTS_TESTING_TEMP_DIR_H_
#define HUB_TESTS_TESTING_TEMP_DIR_H_

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace hub::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/hub-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror(("cannot create a temporary directory " + pattern).c_str());
      std::abort();
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace hub::testing

#endif  // HUB_TESTS_TESTING_TEMP_DIR_H_
