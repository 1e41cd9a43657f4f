// StatusIs(code) / StatusIs(code, message_matcher) for absl::Status and
// absl::StatusOr<T>; Debian's Abseil 20220623 ships no such matcher.
#ifndef HUB_TESTS_TESTING_STATUS_MATCHERS_H_
#define HUB_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace hub::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER_P2(StatusIsImpl, code, message_matcher, "") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

template <typename MessageMatcher>
auto StatusIs(absl::StatusCode code, MessageMatcher message) {
  return StatusIsImpl(code, ::testing::Matcher<std::string>(message));
}

inline auto StatusIs(absl::StatusCode code) { return StatusIsImpl(code, ::testing::_); }

inline auto IsOk() { return StatusIsImpl(absl::StatusCode::kOk, ::testing::_); }

MATCHER_P(IsOkAndHolds, value_matcher, "") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status().ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace hub::testing

#define HUB_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  HUB_ASSERT_OK_AND_ASSIGN_IMPL_(HUB_TEST_CONCAT_(hub_test_statusor_, __LINE__), lhs, expr)
#define HUB_TEST_CONCAT_INNER_(a, b) a##b
#define HUB_TEST_CONCAT_(a, b) HUB_TEST_CONCAT_INNER_(a, b)
#define HUB_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)   \
  auto statusor = (expr);                                     \
  ASSERT_TRUE(statusor.ok()) << statusor.status().ToString(); \
  lhs = std::move(statusor).value()

#endif  // HUB_TESTS_TESTING_STATUS_MATCHERS_H_
